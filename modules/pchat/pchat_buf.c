/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pchat_alloc.h"
#include "pchat_buf.h"

void pchat_buf_init(pchat_buf_t *b)
{
	memset(b, 0, sizeof(*b));
}

void pchat_buf_init_on(pchat_buf_t *b, char *storage, size_t size)
{
	pchat_buf_init(b);
	b->s = storage;
	b->cap = size;
	b->fixed = 1;
	b->failed = size == 0;
	if (size)
		storage[0] = '\0';
}

void pchat_buf_free(pchat_buf_t *b)
{
	if (!b->fixed)
		pchat_free(b->s);
	pchat_buf_init(b);
}

void pchat_buf_reset(pchat_buf_t *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->s)
		b->s[0] = '\0';
}

void pchat_buf_truncate(pchat_buf_t *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->s[len] = '\0';
	}
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
	if (b->fixed) {
		b->failed = 1;
		return 0;
	}
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	s = pchat_realloc(b->s, cap);
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
	if (!reserve(b, n) || n == 0)
		return;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void pchat_buf_adds(pchat_buf_t *b, const char *s)
{
	pchat_buf_add(b, s, strlen(s));
}

/* Formats straight into the free space when the text fits there: one pass of vsnprintf, not
 * one to measure and one to write (replies are built from many small pieces). */
void pchat_buf_addf(pchat_buf_t *b, const char *fmt, ...)
{
	size_t room = b->failed || !b->s ? 0 : b->cap - b->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? b->s + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < room) {
		b->len += (size_t)n;
		return;
	}
	if (room)
		b->s[b->len] = '\0'; /* what did not fit is not kept */
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void pchat_buf_add_uint(pchat_buf_t *b, unsigned long long v)
{
	char digits[24];
	size_t i = sizeof(digits);

	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	pchat_buf_add(b, digits + i, sizeof(digits) - i);
}

size_t pchat_utf8_next(const unsigned char *s, size_t n, long *cp)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t need, i;
	long c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		need = 1;
		c = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		need = 2;
		c = s[0] & 0x0F;
		lo = s[0] == 0xE0 ? 0xA0 : 0x80; /* overlong */
		hi = s[0] == 0xED ? 0x9F : 0xBF; /* surrogates */
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		need = 3;
		c = s[0] & 0x07;
		lo = s[0] == 0xF0 ? 0x90 : 0x80; /* overlong */
		hi = s[0] == 0xF4 ? 0x8F : 0xBF; /* above U+10FFFF */
	} else {
		*cp = PCHAT_NOT_A_CHAR;
		return 1;
	}
	for (i = 1; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*cp = PCHAT_NOT_A_CHAR;
			return i;
		}
		c = (c << 6) | (s[i] & 0x3F);
		lo = 0x80;
		hi = 0xBF;
	}
	*cp = c;
	return need + 1;
}

int pchat_xml_char(long cp)
{
	if (cp < 0x20)
		return cp == 0x09 || cp == 0x0A || cp == 0x0D;
	return cp != 0xFFFE && cp != 0xFFFF;
}

/* The length of the valid UTF-8 sequence of a character XML 1.0 allows that starts at s (at
 * most n bytes, s[0] >= 0x80), 0 when there is none: a broken sequence, a surrogate, U+FFFE or
 * U+FFFF. */
static size_t xml_char_len(const unsigned char *s, size_t n)
{
	long cp;
	size_t len = pchat_utf8_next(s, n, &cp);

	return cp != PCHAT_NOT_A_CHAR && pchat_xml_char(cp) ? len : 0;
}

/* Where escaped text goes, piece by piece: a buffer, or a count of its bytes. */
typedef struct xml_sink {
	pchat_buf_t *b;  /* NULL: only count */
	size_t len;
} xml_sink_t;

static void emit(xml_sink_t *out, const char *s, size_t n)
{
	if (out->b)
		pchat_buf_add(out->b, s, n);
	out->len += n;
}

static void escape_xml(xml_sink_t *out, const char *s, size_t n)
{
	size_t i, start = 0, len;
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
				if (c >= 0x20 && c < 0x80)
					continue;
				if (c >= 0x80 && (len = xml_char_len((const unsigned char *)s + i, n - i))) {
					i += len - 1;
					continue;
				}
				rep = ""; /* not a character XML 1.0 allows, or not UTF-8 */
		}
		emit(out, s + start, i - start);
		emit(out, rep, strlen(rep));
		start = i + 1;
	}
	emit(out, s + start, n - start);
}

void pchat_buf_add_xml(pchat_buf_t *b, const char *s, size_t n)
{
	xml_sink_t out = {b, 0};

	escape_xml(&out, s, n);
}

int pchat_utf8_valid(const char *s, size_t n)
{
	size_t i, len;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80) {
			if (!(len = xml_char_len((const unsigned char *)s + i, n - i)))
				return 0;
			i += len - 1;
		}
	}
	return 1;
}

void pchat_buf_adds_xml(pchat_buf_t *b, const char *s)
{
	pchat_buf_add_xml(b, s, strlen(s));
}

size_t pchat_buf_xml_size(const char *s)
{
	xml_sink_t out = {NULL, 0};

	escape_xml(&out, s, strlen(s));
	return out.len;
}

const char *pchat_json_escape(long cp, char buf[8])
{
	switch (cp) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\b': return "\\b";
	case '\f': return "\\f";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	}
	if (cp == PCHAT_NOT_A_CHAR)
		return PCHAT_REPLACEMENT_CHAR;
	if (cp < 0x20) {
		snprintf(buf, 8, "\\u%04x", (unsigned)cp & 0x1Fu); /* cp < 0x20 */
		return buf;
	}
	return NULL;
}

void pchat_buf_adds_json(pchat_buf_t *b, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, run = 0, len;
	const char *esc;
	char buf[8];
	long cp;

	while (i < n) {
		len = pchat_utf8_next(u + i, n - i, &cp);
		if ((esc = pchat_json_escape(cp, buf)) != NULL) {
			pchat_buf_add(b, s + run, i - run);
			pchat_buf_adds(b, esc);
			run = i + len;
		}
		i += len;
	}
	pchat_buf_add(b, s + run, n - run);
}
