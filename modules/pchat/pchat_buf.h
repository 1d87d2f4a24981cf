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
	int failed;  /* an allocation failed */
} pchat_buf_t;

void pchat_buf_init(pchat_buf_t *b);
void pchat_buf_free(pchat_buf_t *b);
void pchat_buf_reset(pchat_buf_t *b);
int pchat_buf_ok(const pchat_buf_t *b);

void pchat_buf_add(pchat_buf_t *b, const char *s, size_t n);
void pchat_buf_adds(pchat_buf_t *b, const char *s);
void pchat_buf_addf(pchat_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s escaped for XML text and attribute values (& < > " '). Control characters that XML
 * 1.0 forbids are dropped. */
void pchat_buf_add_xml(pchat_buf_t *b, const char *s, size_t n);
void pchat_buf_adds_xml(pchat_buf_t *b, const char *s);

#endif
