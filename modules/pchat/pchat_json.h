/*
 * JSON for the HTTPS service's API (doc/webapi.md): a strict, bounded reader of request bodies and
 * a writer of answers onto a pchat_buf_t.
 *
 * Every byte read comes from the network. The reader accepts RFC 8259 JSON and nothing more, and
 * refuses a little of what RFC 8259 allows but our C strings and our rules cannot carry: \u0000,
 * lone surrogates, duplicate member names, nesting deeper than the caller's bound, numbers beyond
 * double. It never recurses (the depth bound costs no stack) and needs about 40 bytes of memory
 * per byte of input at worst ("[0,0,0,...]"): callers bound the input (64 KB for the API).
 *
 * The writer's strings are safe inside HTML too: '<', '>' and '&' are written as \u003c, \u003e
 * and \u0026, U+2028 and U+2029 as \u2028 and \u2029 (JavaScript before ES2019 ends a line there).
 *
 * Depends on pchat_alloc and pchat_buf only.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_JSON_H
#define PCHAT_JSON_H

#include <stddef.h>

#include "pchat_buf.h"

typedef enum pchat_json_type {
	PCHAT_JSON_NULL,
	PCHAT_JSON_BOOL,
	PCHAT_JSON_NUMBER,
	PCHAT_JSON_STRING,
	PCHAT_JSON_ARRAY,
	PCHAT_JSON_OBJECT,
} pchat_json_type_t;

typedef struct pchat_json pchat_json_t;
struct pchat_json {
	pchat_json_type_t type;
	const char *key;     /* the member's name inside an object (NUL-terminated, unescaped), else NULL */
	const char *s;       /* STRING: the unescaped UTF-8 text, NUL-terminated */
	size_t len;          /* STRING: its length in bytes; ARRAY/OBJECT: the number of children */
	int b;               /* BOOL */
	double n;            /* NUMBER (always finite) */
	int is_int;          /* NUMBER: an integer (no fraction/exponent) that fits long long */
	long long i;         /* NUMBER when is_int */
	pchat_json_t *child; /* ARRAY/OBJECT: first child */
	pchat_json_t *next;  /* next sibling */
};

/* Parses one JSON text (RFC 8259) of len bytes (not necessarily NUL-terminated). Strict: UTF-8
 * validated, no comments, no trailing commas, no leading zeros, no NaN/Infinity, \u0000 refused
 * (our strings are C strings), lone surrogates refused, duplicate member names in one object
 * refused (compared unescaped: "a" and "\u0061" are the same name), nesting at most max_depth
 * (arrays and objects; 0: a scalar only), trailing non-whitespace refused, a number whose
 * magnitude is beyond double refused (an underflow reads as 0). No byte order mark.
 * The whole tree lives in a few allocations (pchat_malloc) freed by pchat_json_free. Returns NULL
 * on any error, with a short human reason in err ("line 1, column 7: ..."; the column counts
 * bytes from 1; "out of memory" without a place). err may be NULL when errlen is 0. */
pchat_json_t *pchat_json_parse(const char *text, size_t len, int max_depth, char *err,
		size_t errlen);
/* Frees a tree pchat_json_parse returned (the root only, never a node inside). Accepts NULL. */
void pchat_json_free(pchat_json_t *root);

/* Object lookup: the member named key, or NULL (obj NULL or not an object: NULL). */
const pchat_json_t *pchat_json_get(const pchat_json_t *obj, const char *key);
/* The member's string, NULL when absent or not a string. */
const char *pchat_json_str(const pchat_json_t *obj, const char *key);

#define PCHAT_JW_MAX_DEPTH 16

/* A writer onto a pchat_buf_t that takes care of commas and nesting (depth at most
 * PCHAT_JW_MAX_DEPTH). key is NULL inside arrays and at the top level, a member name inside
 * objects. It writes compact JSON (no spaces) and one value at the top level. Strings and names
 * are escaped like pchat_buf_adds_json, and '<', '>', '&', U+2028 and U+2029 too (see above);
 * bytes that are not UTF-8 become U+FFFD. Failure (no memory, bad nesting: a key where none
 * belongs or none where one must be, a second top-level value, too deep, an end with nothing
 * open) is sticky and seen by pchat_jw_ok and by the buffer's failed flag (pchat_buf_ok). */
typedef struct pchat_jw {
	pchat_buf_t *b;
	int depth;                /* open arrays and objects */
	unsigned char first[16];  /* per open level: flags (empty so far, object; top value written) */
	int failed;
} pchat_jw_t;

void pchat_jw_init(pchat_jw_t *w, pchat_buf_t *b);
void pchat_jw_object(pchat_jw_t *w, const char *key); /* opens { */
void pchat_jw_array(pchat_jw_t *w, const char *key);  /* opens [ */
void pchat_jw_end(pchat_jw_t *w);                     /* closes the innermost */
void pchat_jw_str(pchat_jw_t *w, const char *key, const char *v); /* v NULL: null */
void pchat_jw_int(pchat_jw_t *w, const char *key, long long v);
void pchat_jw_bool(pchat_jw_t *w, const char *key, int v);
void pchat_jw_null(pchat_jw_t *w, const char *key);
/* A double in the shortest form that reads back as the same double, with ".0" when it would
 * otherwise read as an integer (so is_int is 0 again); not finite: null (as JavaScript does). */
void pchat_jw_double(pchat_jw_t *w, const char *key, double v);
/* A parsed value and everything in it (its own key is ignored: key is used). A tree deeper than
 * the writer allows fails. */
void pchat_jw_value(pchat_jw_t *w, const char *key, const pchat_json_t *v);
/* 1: everything written, all closed or still open validly. */
int pchat_jw_ok(const pchat_jw_t *w);
/* 1: pchat_jw_ok, one top-level value written and everything closed: a complete JSON text. */
int pchat_jw_done(const pchat_jw_t *w);

/* 1 when the trees are the same: types, names, order, values (numbers by value). Recurses as
 * deep as the trees nest (the parse's max_depth bounds it): for tests and checks. */
int pchat_json_equal(const pchat_json_t *a, const pchat_json_t *b);

#endif
