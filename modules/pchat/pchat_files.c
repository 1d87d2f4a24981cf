/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strcasestr */
#endif
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pchat_files.h"
#include "pchat_uri.h"

static int alnum(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

void pchat_file_ext(const char *name, char *ext)
{
	const char *dot = name ? strrchr(name, '.') : NULL;
	const char *e = dot ? dot + 1 : name;
	size_t n, i;

	ext[0] = '\0';
	if (!e)
		return;
	n = strlen(e);
	if (n == 0 || n > PCHAT_FILE_EXT_MAX)
		return;
	for (i = 0; i < n; i++)
		if (!alnum((unsigned char)e[i]))
			return;
	for (i = 0; i < n; i++)
		ext[i] = (char)tolower((unsigned char)e[i]);
	ext[n] = '\0';
}

int pchat_file_new_name(const char *ext, char out[PCHAT_FILE_NAME_MAX])
{
	if (pchat_random_guid(out) < 0)
		return -1;
	if (ext && ext[0])
		snprintf(out + 36, PCHAT_FILE_NAME_MAX - 36, ".%.*s", PCHAT_FILE_EXT_MAX, ext);
	return 0;
}

int pchat_file_name_valid(const char *name)
{
	char guid[37], norm[37];
	const char *ext;
	size_t i, n;

	if (!name || strlen(name) < 36)
		return 0;
	memcpy(guid, name, 36);
	guid[36] = '\0';
	/* our own GUIDs are lower case already: the name must be exactly what we made */
	if (pchat_guid_normalize(guid, norm) < 0 || strcmp(guid, norm) != 0)
		return 0;
	ext = name + 36;
	if (*ext == '\0')
		return 1;
	if (*ext++ != '.')
		return 0;
	n = strlen(ext);
	if (n == 0 || n > PCHAT_FILE_EXT_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((ext[i] >= 'a' && ext[i] <= 'z') || (ext[i] >= '0' && ext[i] <= '9')))
			return 0;
	return 1;
}

/* Not a control character (C0, DEL, C1) nor one that reorders what follows it on screen (the
 * bidirectional marks, embeddings, overrides and isolates: "x\u202Efdp.exe" shows as a PDF). */
static int displayable(long cp)
{
	return cp != PCHAT_NOT_A_CHAR && cp >= 0x20 && !(cp >= 0x7f && cp <= 0x9f)
		   && !(cp >= 0x200e && cp <= 0x200f) && !(cp >= 0x202a && cp <= 0x202e)
		   && !(cp >= 0x2066 && cp <= 0x2069);
}

void pchat_file_original_name(const char *in, char *out)
{
	const unsigned char *s;
	const char *base = in ? in : "";
	size_t n, i = 0, o = 0, len;
	long cp;

	/* a Windows client may send its whole path */
	if (strrchr(base, '\\'))
		base = strrchr(base, '\\') + 1;
	if (strrchr(base, '/'))
		base = strrchr(base, '/') + 1;
	s = (const unsigned char *)base;
	n = strlen(base);
	while (i < n) {
		len = pchat_utf8_next(s + i, n - i, &cp);
		if (!displayable(cp)) {
			if (o + 1 > PCHAT_FILE_ORIGINAL_MAX)
				break;
			out[o++] = '_';
		} else {
			if (o + len > PCHAT_FILE_ORIGINAL_MAX)
				break;
			memcpy(out + o, s + i, len);
			o += len;
		}
		i += len;
	}
	out[o] = '\0';
	/* "." and ".." would read as folders to whoever saves the file */
	if (o == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
		strcpy(out, "file");
}

void pchat_file_link(pchat_buf_t *b, const char *domain, const char *room_guid,
		const char *name)
{
	pchat_buf_addf(b, PCHAT_FILE_LINK_SCHEME "%s/%s/%s", domain, room_guid, name);
}

/* A link runs to the first character that cannot be part of it; a sentence's full stop, colon
 * or comma after it is not part of it. */
static size_t link_len(const char *s)
{
	size_t n = 0;

	while (s[n] && (alnum((unsigned char)s[n]) || strchr("-._~/:%@", s[n])))
		n++;
	while (n > 0 && strchr(".:,", s[n - 1]))
		n--;
	return n;
}

static int check_link(const char *link, size_t len, const char *domain,
		pchat_file_link_f cb, void *ctx)
{
	size_t scheme = strlen(PCHAT_FILE_LINK_SCHEME), dlen = strlen(domain);
	char guid[37], norm[37], name[PCHAT_FILE_NAME_MAX];
	const char *p = link + scheme, *end = link + len;

	if ((size_t)(end - p) < dlen + 1 + 36 + 1 || strncasecmp(p, domain, dlen) != 0
			|| p[dlen] != '/')
		return cb(ctx, NULL, NULL);
	p += dlen + 1;
	memcpy(guid, p, 36);
	guid[36] = '\0';
	p += 36;
	if (*p != '/' || pchat_guid_normalize(guid, norm) < 0)
		return cb(ctx, NULL, NULL);
	p++;
	if ((size_t)(end - p) >= sizeof(name))
		return cb(ctx, NULL, NULL);
	memcpy(name, p, (size_t)(end - p));
	name[end - p] = '\0';
	if (!pchat_file_name_valid(name))
		return cb(ctx, NULL, NULL);
	return cb(ctx, norm, name);
}

int pchat_file_links(const char *text, const char *domain, pchat_file_link_f cb, void *ctx)
{
	size_t scheme = strlen(PCHAT_FILE_LINK_SCHEME), len;
	const char *p = text;
	int rc;

	while ((p = strcasestr(p, PCHAT_FILE_LINK_SCHEME)) != NULL) {
		len = scheme + link_len(p + scheme);
		if ((rc = check_link(p, len, domain, cb, ctx)) != 0)
			return rc;
		p += len;
	}
	return 0;
}

pchat_rc_t pchat_file_chunk_check(uint64_t size, uint64_t length, uint64_t offset,
		uint64_t chunk, uint64_t new_length, uint64_t max, const char **why)
{
	*why = "";
	if (length != UINT64_MAX && new_length != length) {
		*why = "the file's length differs from the one announced";
		return PCHAT_ERR_INVALID;
	}
	if (new_length > max) {
		*why = "the file is larger than the maximum file size";
		return PCHAT_ERR_TOO_LARGE;
	}
	if (offset < size) {
		*why = "the chunk overlaps bytes already received";
		return PCHAT_ERR_CONFLICT;
	}
	if (offset > size) {
		*why = "the chunk skips bytes not received yet";
		return PCHAT_ERR_CONFLICT;
	}
	if (chunk > new_length || offset > new_length - chunk) {
		*why = "the chunk goes past the file's length";
		return PCHAT_ERR_TOO_LARGE;
	}
	return PCHAT_OK;
}

/* Digits only, no sign, no overflow; the end in *end. */
static int parse_u64(const char *s, const char **end, uint64_t *v)
{
	uint64_t n = 0;
	const char *p = s;

	while (*p >= '0' && *p <= '9') {
		if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (p == s)
		return -1;
	*end = p;
	*v = n;
	return 0;
}

int pchat_file_range(const char *header, uint64_t size, uint64_t *from, uint64_t *len)
{
	const char *p;
	uint64_t a, b;

	if (!header || strncasecmp(header, "bytes=", 6) != 0 || strchr(header, ','))
		return 0;
	p = header + 6;
	if (*p == '-') {
		/* the last b bytes */
		if (parse_u64(p + 1, &p, &b) < 0 || *p)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*len = b < size ? b : size;
		*from = size - *len;
		return 1;
	}
	if (parse_u64(p, &p, &a) < 0 || *p++ != '-')
		return 0;
	if (*p == '\0')
		b = UINT64_MAX;
	else if (parse_u64(p, &p, &b) < 0 || *p || b < a)
		return 0;
	if (a >= size)
		return -1;
	if (b >= size)
		b = size - 1;
	*from = a;
	*len = b - a + 1;
	return 1;
}

void pchat_file_disposition(pchat_buf_t *b, const char *original)
{
	const unsigned char *s = (const unsigned char *)original;
	size_t i;
	char c;

	pchat_buf_adds(b, "attachment; filename=\"");
	for (i = 0; s[i]; i++) {
		c = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\' && s[i] != '%'
					? (char)s[i]
					: '_';
		pchat_buf_add(b, &c, 1);
	}
	pchat_buf_adds(b, "\"; filename*=UTF-8''");
	for (i = 0; s[i]; i++) {
		if (alnum(s[i]) || strchr("!#$&+-.^_`|~", s[i]))
			pchat_buf_add(b, (const char *)&s[i], 1);
		else
			pchat_buf_addf(b, "%%%02X", s[i]);
	}
}

static const struct {
	const char *ext;
	const char *type;
} types[] = {
		{"png", "image/png"}, {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"},
		{"gif", "image/gif"}, {"webp", "image/webp"}, {"pdf", "application/pdf"},
		{"txt", "text/plain"}, {"log", "text/plain"}, {"csv", "text/csv"},
		{"zip", "application/zip"}, {"gz", "application/gzip"}, {"mp3", "audio/mpeg"},
		{"mp4", "video/mp4"}, {"docx",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
};

const char *pchat_file_type_of(const char *ext)
{
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(ext, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

const char *pchat_file_served_type(const char *stored)
{
	size_t i;

	/* only the table's own types: HTML, SVG, XML or script never get a type a browser runs */
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(stored, types[i].type) == 0)
			return types[i].type;
	return "application/octet-stream";
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void pchat_base64_encode(pchat_buf_t *b, const unsigned char *d, size_t len)
{
	char q[4];
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		q[0] = b64[d[i] >> 2];
		q[1] = b64[((d[i] & 3) << 4) | (d[i + 1] >> 4)];
		q[2] = b64[((d[i + 1] & 15) << 2) | (d[i + 2] >> 6)];
		q[3] = b64[d[i + 2] & 63];
		pchat_buf_add(b, q, 4);
	}
	if (i < len) {
		q[0] = b64[d[i] >> 2];
		q[1] = b64[((d[i] & 3) << 4) | (i + 1 < len ? d[i + 1] >> 4 : 0)];
		q[2] = i + 1 < len ? b64[(d[i + 1] & 15) << 2] : '=';
		q[3] = '=';
		pchat_buf_add(b, q, 4);
	}
}

static int b64_value(int ch)
{
	const char *p = ch ? strchr(b64, ch) : NULL;

	return p ? (int)(p - b64) : -1;
}

long pchat_base64_decode(const char *in, size_t inlen, unsigned char *out)
{
	unsigned int acc = 0;
	int bits = 0, pad = 0, v;
	long n = 0;
	size_t i;

	for (i = 0; i < inlen; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		if (ch == '=') {
			pad++;
			continue;
		}
		if (pad || (v = b64_value(ch)) < 0)
			return -1; /* data after padding, or not base64 */
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* what is left must be padding's zero bits: 0, 2 or 4 of them */
	if (pad > 2 || bits >= 6 || acc != 0)
		return -1;
	return n;
}
