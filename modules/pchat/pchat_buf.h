/*
 * A growing text buffer for building XML and SQL-free text, with XML escaping. Allocation
 * failures are sticky: the buffer is marked and later appends do nothing, so a builder checks
 * once at the end (pchat_buf_ok) instead of after every append.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_BUF_H
#define PCHAT_BUF_H

#include <stddef.h>

typedef struct pchat_buf {
	char *s;     /* NUL-terminated when ok */
	size_t len;
	size_t cap;
	int failed;  /* an allocation failed (or a buffer on fixed storage is full) */
	int fixed;   /* on the caller's storage: never allocates, never freed */
} pchat_buf_t;

void pchat_buf_init(pchat_buf_t *b);
/* A buffer on the caller's storage of size bytes, for small texts that must be built even when
 * memory is short: it fails instead of growing. */
void pchat_buf_init_on(pchat_buf_t *b, char *storage, size_t size);
void pchat_buf_free(pchat_buf_t *b);
void pchat_buf_reset(pchat_buf_t *b);
/* Cuts the text back to its first len bytes (len <= b->len): undoes what was added since. */
void pchat_buf_truncate(pchat_buf_t *b, size_t len);
int pchat_buf_ok(const pchat_buf_t *b);

void pchat_buf_add(pchat_buf_t *b, const char *s, size_t n);
void pchat_buf_adds(pchat_buf_t *b, const char *s);
void pchat_buf_addf(pchat_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends v in decimal, as "%llu" would, without the cost of a format. */
void pchat_buf_add_uint(pchat_buf_t *b, unsigned long long v);

/* Appends s escaped for XML text and attribute values (& < > " '). What XML 1.0 does not allow
 * is dropped - control characters, bytes that are not UTF-8, surrogates, U+FFFE and U+FFFF -
 * so whatever the data (a room name written by hand in the database, an identity from a SIP
 * header), what the server builds stays well-formed. */
void pchat_buf_add_xml(pchat_buf_t *b, const char *s, size_t n);
void pchat_buf_adds_xml(pchat_buf_t *b, const char *s);
/* The bytes pchat_buf_adds_xml would add for s (counted, nothing is allocated). */
size_t pchat_buf_xml_size(const char *s);

/* 1 when the n bytes are UTF-8 of characters XML 1.0 allows (above the controls). */
int pchat_utf8_valid(const char *s, size_t n);

#define PCHAT_NOT_A_CHAR (-1L)

/* Decodes the character at s (n >= 1 bytes left) and returns its length in bytes, with *cp its
 * code point; or, when the bytes are not well-formed UTF-8 (Unicode's table 3-7: no overlong
 * forms, no surrogates, nothing above U+10FFFF), returns the length of the maximal ill-formed
 * subpart (at least 1) with *cp = PCHAT_NOT_A_CHAR: one replacement per maximal subpart is
 * Unicode's recommended practice (what browsers and Python's "replace" do). */
size_t pchat_utf8_next(const unsigned char *s, size_t n, long *cp);

/* 1 when XML 1.0 can carry code point cp: not U+0000-U+001F but tab, LF and CR, not U+FFFE
 * or U+FFFF (production [2] Char; surrogates do not decode from UTF-8 at all). */
int pchat_xml_char(long cp);

/* U+FFFD in UTF-8: what stands for what cannot be written. */
#define PCHAT_REPLACEMENT_CHAR "\xEF\xBF\xBD"

/* How a character must be written inside a JSON string (RFC 8259, 7), or NULL when as it is;
 * buf receives the \uXXXX form of the other control characters, and what is not UTF-8 becomes
 * U+FFFD. */
const char *pchat_json_escape(long cp, char buf[8]);

/* Appends s escaped for the inside of a JSON string. */
void pchat_buf_adds_json(pchat_buf_t *b, const char *s);

#endif
