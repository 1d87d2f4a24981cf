/*
 * Just enough SIP for a load generator: find the headers it needs in a datagram and answer a
 * request. Compact header names (i, f, t, v, m, l) are understood.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "load.h"

const char *mem_find(const char *hay, int len, const char *needle, int n)
{
	return n <= len ? memmem(hay, (size_t)len, needle, (size_t)n) : NULL;
}

static int is_header(const char *line, int len, const char *name, char compact)
{
	int n = (int)strlen(name);

	if (len > n && line[n] == ':' && strncasecmp(line, name, (size_t)n) == 0)
		return n + 1;
	if (compact && len > 1 && (line[0] == compact || line[0] == compact - 32) && line[1] == ':')
		return 2;
	return 0;
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* The tag parameter of a From/To value. */
static void find_tag(const char *v, int len, const char **tag, int *tag_len)
{
	const char *t = mem_find(v, len, ";tag=", 5), *end = v + len;

	*tag = NULL;
	*tag_len = 0;
	if (!t)
		return;
	t += 5;
	*tag = t;
	while (t < end && *t != ';' && *t != '>' && *t != ' ')
		t++;
	*tag_len = (int)(t - *tag);
}

static void take_header(sip_msg_t *m, const char *line, int len)
{
	const char *end = line + len, *v;
	int n;

	if ((n = is_header(line, len, "Call-ID", 'i'))) {
		m->call_id = skip_ws(line + n, end);
		m->call_id_len = (int)(end - m->call_id);
		m->call_id_line = line;
		m->call_id_line_len = len;
	} else if ((n = is_header(line, len, "CSeq", 0))) {
		char *stop;

		v = skip_ws(line + n, end);
		m->cseq = (uint32_t)strtoul(v, &stop, 10);
		m->cseq_method = skip_ws(stop, end);
		m->cseq_method_len = (int)(end - m->cseq_method);
		m->cseq_line = line;
		m->cseq_line_len = len;
	} else if ((n = is_header(line, len, "Via", 'v'))) {
		if (m->nvia < SIP_MAX_VIA) {
			m->via[m->nvia] = line;
			m->via_len[m->nvia++] = len;
		}
	} else if ((n = is_header(line, len, "From", 'f'))) {
		m->from = line;
		m->from_len = len;
		find_tag(line + n, len - n, &m->from_tag, &m->from_tag_len);
	} else if ((n = is_header(line, len, "To", 't'))) {
		m->to = line;
		m->to_len = len;
		find_tag(line + n, len - n, &m->to_tag, &m->to_tag_len);
	} else if ((n = is_header(line, len, "Record-Route", 0))) {
		if (m->nrr < SIP_MAX_RR) {
			m->rr[m->nrr] = skip_ws(line + n, end);
			m->rr_len[m->nrr] = (int)(end - m->rr[m->nrr]);
			m->nrr++;
		}
	} else if ((n = is_header(line, len, "Contact", 'm'))) {
		const char *lt = memchr(line + n, '<', (size_t)(len - n)), *gt;

		if (lt && (gt = memchr(lt, '>', (size_t)(end - lt))) != NULL) {
			m->contact = lt + 1;
			m->contact_len = (int)(gt - lt - 1);
		}
	}
}

int sip_parse(const char *buf, int len, sip_msg_t *m)
{
	const char *p = buf, *end = buf + len, *eol, *sp;

	memset(m, 0, sizeof(*m));
	eol = mem_find(p, len, "\r\n", 2);
	if (!eol)
		return -1;
	if (len > 8 && memcmp(p, "SIP/2.0 ", 8) == 0) {
		m->status = atoi(p + 8);
	} else {
		sp = memchr(p, ' ', (size_t)(eol - p));
		if (!sp)
			return -1;
		m->is_request = 1;
		m->method = p;
		m->method_len = (int)(sp - p);
		m->ruri = sp + 1;
		sp = memchr(m->ruri, ' ', (size_t)(eol - m->ruri));
		m->ruri_len = sp ? (int)(sp - m->ruri) : (int)(eol - m->ruri);
	}
	for (p = eol + 2; p < end; p = eol + 2) {
		eol = mem_find(p, (int)(end - p), "\r\n", 2);
		if (!eol)
			return -1;
		if (eol == p) {
			m->body = eol + 2;
			m->body_len = (int)(end - m->body);
			break;
		}
		take_header(m, p, (int)(eol - p));
	}
	return m->call_id && m->cseq_line && m->from && m->to && m->nvia ? 0 : -1;
}

int sip_response(const sip_msg_t *m, int status, const char *to_tag, char *out, int size)
{
	int n, i;

	n = snprintf(out, (size_t)size, "SIP/2.0 %d %s\r\n", status, status == 200 ? "OK" : "Error");
	for (i = 0; i < m->nvia && n < size; i++)
		n += snprintf(out + n, (size_t)(size - n), "%.*s\r\n", m->via_len[i], m->via[i]);
	if (n < size)
		n += snprintf(out + n, (size_t)(size - n), "%.*s\r\n%.*s%s%s\r\n%.*s\r\n%.*s\r\n"
				"Content-Length: 0\r\n\r\n", m->from_len, m->from, m->to_len, m->to,
				m->to_tag || !to_tag ? "" : ";tag=", m->to_tag || !to_tag ? "" : to_tag,
				m->call_id_line_len, m->call_id_line, m->cseq_line_len, m->cseq_line);
	return n < size ? n : 0;
}

int xml_attr(const char *p, const char *end, const char *name, const char **val, int *len)
{
	char pat[64];
	const char *v, *q;
	int n = snprintf(pat, sizeof(pat), " %s=\"", name);

	v = mem_find(p, (int)(end - p), pat, n);
	if (!v)
		return -1;
	v += n;
	q = memchr(v, '"', (size_t)(end - v));
	if (!q)
		return -1;
	*val = v;
	*len = (int)(q - v);
	return 0;
}
