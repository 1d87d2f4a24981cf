/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pchat_buf.h"

void pchat_buf_init(pchat_buf_t *b)
{
	memset(b, 0, sizeof(*b));
}

void pchat_buf_free(pchat_buf_t *b)
{
	free(b->s);
	pchat_buf_init(b);
}

void pchat_buf_reset(pchat_buf_t *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->s)
		b->s[0] = '\0';
}

int pchat_buf_ok(const pchat_buf_t *b)
{
	return !b->failed && b->s != NULL;
}

static int reserve(pchat_buf_t *b, size_t extra)
{
	size_t need = b->len + extra + 1, cap;
	char *s;

	if (b->failed)
		return 0;
	if (need <= b->cap)
		return 1;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	s = realloc(b->s, cap);
	if (!s) {
		b->failed = 1;
		return 0;
	}
	b->s = s;
	b->cap = cap;
	return 1;
}

void pchat_buf_add(pchat_buf_t *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void pchat_buf_adds(pchat_buf_t *b, const char *s)
{
	pchat_buf_add(b, s, strlen(s));
}

void pchat_buf_addf(pchat_buf_t *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void pchat_buf_add_xml(pchat_buf_t *b, const char *s, size_t n)
{
	size_t i, start = 0;
	const char *rep;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
			case '&': rep = "&amp;"; break;
			case '<': rep = "&lt;"; break;
			case '>': rep = "&gt;"; break;
			case '"': rep = "&quot;"; break;
			case '\'': rep = "&apos;"; break;
			case '\t': case '\n': case '\r': continue;
			default:
				if (c >= 0x20)
					continue;
				rep = ""; /* not allowed in XML 1.0 */
		}
		pchat_buf_add(b, s + start, i - start);
		pchat_buf_adds(b, rep);
		start = i + 1;
	}
	pchat_buf_add(b, s + start, n - start);
}

void pchat_buf_adds_xml(pchat_buf_t *b, const char *s)
{
	pchat_buf_add_xml(b, s, strlen(s));
}
