/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strtod_l */
#endif
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pchat_alloc.h"
#include "pchat_buf.h"
#include "pchat_json.h"

/* ------------------------------------------------------------------ numbers and the C locale */

/* The "C" locale for numbers, made once per process, NULL when it cannot be made. JSON's decimal
 * point is '.', whatever locale a library may have set in the process. */
static locale_t c_numeric(void)
{
	static locale_t c;

	if (!c)
		c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	return c;
}

/* The double that the NUL-terminated JSON number s stands for (correctly rounded by the C
 * library; HUGE_VAL beyond double). */
static double read_double(const char *s)
{
	locale_t c = c_numeric();

	return c ? strtod_l(s, NULL, c) : strtod(s, NULL);
}

/* v (finite) as the shortest %g text that reads back as v, with ".0" added when the text would
 * read back as an integer; out has at least 32 bytes. */
static void format_double(double v, char *out, size_t size)
{
	locale_t c = c_numeric(), old = c ? uselocale(c) : (locale_t)0;
	int prec;

	for (prec = 15;; prec++) {
		snprintf(out, size, "%.*g", prec, v);
		if (prec == 17 || strtod(out, NULL) == v) /* 17 digits always read back the same */
			break;
	}
	if (c)
		uselocale(old);
	if (!strpbrk(out, ".e"))
		strcat(out, ".0");
}

/* ------------------------------------------------------------------ the arena of a tree */

/* A tree's nodes and strings live in a list of blocks, each at least twice the one before, so a
 * tree costs a few allocations whatever its shape. The root is the first thing put in the first
 * block: pchat_json_free finds the list from it. */
typedef struct arena_block arena_block_t;
struct arena_block {
	arena_block_t *next;
	size_t size; /* bytes of data */
	size_t used;
	max_align_t data[];
};

typedef struct arena {
	arena_block_t *first, *last;
	size_t next_size; /* the data size of the next block, at least */
} arena_t;

#define ARENA_FIRST_MIN 1024

/* Room for size bytes aligned to align (a power of two) at the end of the last block, in a new
 * block when it has none left. The room is not taken (arena_take does), so a caller may use it
 * as scratch space and give it back by not taking it. NULL when out of memory. */
static char *arena_room(arena_t *a, size_t size, size_t align)
{
	arena_block_t *b = a->last;
	size_t at, want;

	if (b) {
		at = (b->used + align - 1) & ~(align - 1);
		if (at <= b->size && size <= b->size - at)
			return (char *)b->data + at;
	}
	want = a->next_size > size ? a->next_size : size;
	if (want > SIZE_MAX / 2 - sizeof(*b))
		return NULL;
	b = pchat_malloc(sizeof(*b) + want);
	if (!b)
		return NULL;
	b->next = NULL;
	b->size = want;
	b->used = 0;
	if (a->last)
		a->last->next = b;
	else
		a->first = b;
	a->last = b;
	a->next_size = want * 2;
	return (char *)b->data;
}

/* Takes size bytes from p, which arena_room just returned. */
static void arena_take(arena_t *a, const char *p, size_t size)
{
	a->last->used = (size_t)(p - (char *)a->last->data) + size;
}

static void arena_free(arena_block_t *b)
{
	arena_block_t *next;

	for (; b; b = next) {
		next = b->next;
		pchat_free(b);
	}
}

/* A zeroed node; NULL when out of memory. */
static pchat_json_t *arena_node(arena_t *a)
{
	pchat_json_t *n = (pchat_json_t *)arena_room(a, sizeof(*n), alignof(pchat_json_t));

	if (n) {
		arena_take(a, (const char *)n, sizeof(*n));
		memset(n, 0, sizeof(*n));
	}
	return n;
}

/* ------------------------------------------------------------------ the reader */

typedef struct parser {
	const unsigned char *start, *p, *end;
	arena_t arena;
	char *err;
	size_t errlen;
} parser_t;

/* Reports an error at the byte at (start <= at <= end): "line L, column C: " and the reason.
 * Only called once per parse, so counting the lines from the start costs nothing in the normal
 * case. */
__attribute__((format(printf, 3, 4)))
static void fail_at(parser_t *ps, const unsigned char *at, const char *fmt, ...)
{
	const unsigned char *q;
	size_t line = 1, col = 1;
	int n;
	va_list ap;

	if (!ps->errlen)
		return;
	for (q = ps->start; q < at; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	n = snprintf(ps->err, ps->errlen, "line %zu, column %zu: ", line, col);
	if (n < 0 || (size_t)n >= ps->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static void fail_memory(parser_t *ps)
{
	if (ps->errlen)
		snprintf(ps->err, ps->errlen, "out of memory");
}

/* Reports what stands at ps->p where something else was expected (want: what). */
static void unexpected(parser_t *ps, const char *want)
{
	unsigned char c;

	if (ps->p >= ps->end) {
		fail_at(ps, ps->p, "unexpected end of input, expected %s", want);
		return;
	}
	c = *ps->p;
	/* printable ASCII is shown; anything else (a NUL, a control, a byte of a UTF-8 sequence) as
	 * its value, so the message stays one line of ASCII */
	if (c > 0x20 && c < 0x7F)
		fail_at(ps, ps->p, "unexpected character '%c', expected %s", c, want);
	else
		fail_at(ps, ps->p, "unexpected byte 0x%02X, expected %s", c, want);
}

static void skip_ws(parser_t *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n'
			|| *ps->p == '\r'))
		ps->p++;
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* The value of the four hex digits at s (before end), or -1. */
static long hex4(const unsigned char *s, const unsigned char *end)
{
	long v = 0;
	int i;

	if (end - s < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		unsigned char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* Writes code point cp (a Unicode scalar value) as UTF-8 at o; returns the bytes written. */
static size_t put_utf8(char *o, long cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Reads the \uXXXX escape (with its low half when it is a high surrogate) at p, the backslash,
 * before q, the closing quote. Returns the code point and sets *after; -1 on an error
 * (reported). */
static long read_u_escape(parser_t *ps, const unsigned char *p, const unsigned char *q,
		const unsigned char **after)
{
	long cp = hex4(p + 2, q), lo = 0;

	if (cp < 0) {
		fail_at(ps, p, "invalid \\u escape (four hex digits must follow)");
		return -1;
	}
	if (cp == 0) {
		/* our strings are C strings: a NUL would cut them where a check did not look */
		fail_at(ps, p, "\\u0000 is not allowed");
		return -1;
	}
	if (cp >= 0xDC00 && cp <= 0xDFFF) {
		fail_at(ps, p, "lone surrogate \\u%04lX (a low half without a high half)", cp);
		return -1;
	}
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (q - p < 12 || p[6] != '\\' || p[7] != 'u' || (lo = hex4(p + 8, q)) < 0xDC00
				|| lo > 0xDFFF) {
			fail_at(ps, p, "lone surrogate \\u%04lX (a high half without a low half)", cp);
			return -1;
		}
		*after = p + 12;
		return 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	*after = p + 6;
	return cp;
}

/* Reads the string whose opening quote is at ps->p into the arena, unescaped, UTF-8 checked and
 * NUL-terminated, with its length in *len. Returns the text and moves ps->p past the closing
 * quote; NULL on an error (reported). */
static char *parse_string(parser_t *ps, size_t *len)
{
	const unsigned char *p = ps->p + 1, *q, *end = ps->end;
	char *out, *o;
	size_t n;
	long cp;

	/* the closing quote first: the unescaped text is never longer than the escaped one, so its
	 * room is known before a byte is written */
	for (q = p; q < end && *q != '"'; q++)
		if (*q == '\\' && ++q == end)
			break;
	if (q >= end) {
		fail_at(ps, ps->p, "unterminated string");
		return NULL;
	}
	if (!(o = out = arena_room(&ps->arena, (size_t)(q - p) + 1, 1))) {
		fail_memory(ps);
		return NULL;
	}
	while (p < q) {
		unsigned char c = *p;

		if (c == '\\') {
			/* q was found skipping escaped bytes: p[1] is before q */
			switch (p[1]) {
			case '"': case '\\': case '/': *o++ = (char)p[1]; break;
			case 'b': *o++ = '\b'; break;
			case 'f': *o++ = '\f'; break;
			case 'n': *o++ = '\n'; break;
			case 'r': *o++ = '\r'; break;
			case 't': *o++ = '\t'; break;
			case 'u':
				if ((cp = read_u_escape(ps, p, q, &p)) < 0)
					return NULL;
				o += put_utf8(o, cp);
				continue;
			default:
				fail_at(ps, p, "invalid escape");
				return NULL;
			}
			p += 2;
		} else if (c < 0x20) {
			fail_at(ps, p, "control character in a string (it must be escaped)");
			return NULL;
		} else if (c < 0x80) {
			*o++ = (char)c;
			p++;
		} else {
			/* the ill-formed sequences of Unicode's table 3-7: overlong forms, surrogates,
			 * beyond U+10FFFF, cut sequences (a '"' is never a continuation byte) */
			n = pchat_utf8_next(p, (size_t)(q - p), &cp);
			if (cp == PCHAT_NOT_A_CHAR) {
				fail_at(ps, p, "invalid UTF-8");
				return NULL;
			}
			memcpy(o, p, n);
			o += n;
			p += n;
		}
	}
	*o++ = '\0';
	arena_take(&ps->arena, out, (size_t)(o - out));
	*len = (size_t)(o - out) - 1;
	ps->p = q + 1;
	return out;
}

/* Reads the number at ps->p into node (RFC 8259, 6: -? int frac? exp?). 0, or -1 on an error
 * (reported). */
static int parse_number(parser_t *ps, pchat_json_t *node)
{
	const unsigned char *s = ps->p, *p = s, *end = ps->end;
	unsigned long long mag = 0, limit;
	int neg = 0, integral = 1, overflow = 0;
	char *copy;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (p == end || !is_digit(*p)) {
		fail_at(ps, s, "invalid number");
		return -1;
	}
	if (*p == '0') {
		if (++p < end && is_digit(*p)) {
			fail_at(ps, s, "invalid number (leading zero)");
			return -1;
		}
	} else {
		for (; p < end && is_digit(*p); p++) {
			unsigned d = *p - '0';

			if (mag > (ULLONG_MAX - d) / 10)
				overflow = 1;
			else
				mag = mag * 10 + d;
		}
	}
	if (p < end && *p == '.') {
		integral = 0;
		if (++p == end || !is_digit(*p)) {
			fail_at(ps, s, "invalid number (a digit must follow '.')");
			return -1;
		}
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		integral = 0;
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !is_digit(*p)) {
			fail_at(ps, s, "invalid number (the exponent has no digits)");
			return -1;
		}
		while (p < end && is_digit(*p))
			p++;
	}
	/* strtod wants a NUL after the number, and the text need not have one: a copy in scratch
	 * room of the arena (not taken, so given back) */
	if (!(copy = arena_room(&ps->arena, (size_t)(p - s) + 1, 1))) {
		fail_memory(ps);
		return -1;
	}
	memcpy(copy, s, (size_t)(p - s));
	copy[p - s] = '\0';
	node->type = PCHAT_JSON_NUMBER;
	node->n = read_double(copy);
	if (!isfinite(node->n)) {
		fail_at(ps, s, "number out of range");
		return -1;
	}
	limit = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
	if (integral && !overflow && mag <= limit) {
		node->is_int = 1;
		if (neg)
			node->i = mag == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)mag;
		else
			node->i = (long long)mag;
	}
	ps->p = p;
	return 0;
}

/* Reads the literal word at ps->p. 0, or -1 (reported). */
static int parse_literal(parser_t *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
		fail_at(ps, ps->p, "invalid literal (true, false or null?)");
		return -1;
	}
	ps->p += n;
	return 0;
}

static int compare_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Objects up to this many members are checked pair by pair; larger ones are sorted, so a
 * hostile object of thousands of members costs n log n comparisons, not n squared. */
#define SMALL_OBJECT 8

/* Refuses obj, whose '}' is at ps->p, when two of its members have the same name. 0, or -1
 * (reported). */
static int check_duplicates(parser_t *ps, const pchat_json_t *obj)
{
	const pchat_json_t *a, *b;
	const char **keys, *dup = NULL, *k;
	size_t i;

	if (obj->len <= SMALL_OBJECT) {
		for (a = obj->child; a && !dup; a = a->next)
			for (b = a->next; b && !dup; b = b->next)
				if (strcmp(a->key, b->key) == 0)
					dup = a->key;
	} else {
		/* scratch room, not taken: given back */
		keys = (const char **)arena_room(&ps->arena, obj->len * sizeof(*keys),
				alignof(const char *));
		if (!keys) {
			fail_memory(ps);
			return -1;
		}
		for (i = 0, a = obj->child; a; a = a->next)
			keys[i++] = a->key;
		qsort(keys, obj->len, sizeof(*keys), compare_keys);
		for (i = 1; i < obj->len && !dup; i++)
			if (strcmp(keys[i - 1], keys[i]) == 0)
				dup = keys[i];
	}
	if (!dup)
		return 0;
	/* the name only when it is short printable ASCII: the message stays one safe line */
	for (k = dup; *k > 0x20 && *k < 0x7F && *k != '"' && *k != '\\'; k++)
		;
	if (*k == '\0' && k - dup <= 40)
		fail_at(ps, ps->p, "duplicate member name \"%s\" in the object that ends here", dup);
	else
		fail_at(ps, ps->p, "duplicate member name in the object that ends here");
	return -1;
}

/* The parser does not recurse: an open array or object keeps its parent in its next field until
 * it is closed (its next sibling can only come after that), and the last child of the
 * innermost open one is kept aside. The depth bound therefore costs no stack. */
pchat_json_t *pchat_json_parse(const char *text, size_t len, int max_depth, char *err,
		size_t errlen)
{
	parser_t ps;
	pchat_json_t *root = NULL, *cur = NULL, *last = NULL, *node, *parent;
	const char *key;
	size_t klen;
	unsigned char close;
	int depth = 0;

	memset(&ps, 0, sizeof(ps));
	ps.start = ps.p = (const unsigned char *)text;
	ps.end = ps.start + len;
	ps.err = err;
	ps.errlen = err ? errlen : 0;
	if (ps.errlen)
		err[0] = '\0';
	/* most texts fit the first block: about a node per 20 bytes, and the strings */
	ps.arena.next_size = len < ((size_t)1 << 18) ? ARENA_FIRST_MIN + 4 * len : (size_t)1 << 20;
	if (max_depth < 0)
		max_depth = 0;

	for (;;) {
		/* a value comes here: the document, an element or a member */
		skip_ws(&ps);
		key = NULL;
		if (cur && cur->type == PCHAT_JSON_OBJECT) {
			if (ps.p == ps.end || *ps.p != '"') {
				unexpected(&ps, "a member name (a string)");
				goto fail;
			}
			if (!(key = parse_string(&ps, &klen)))
				goto fail;
			skip_ws(&ps);
			if (ps.p == ps.end || *ps.p != ':') {
				unexpected(&ps, "':' after the member name");
				goto fail;
			}
			ps.p++;
			skip_ws(&ps);
		}
		if (ps.p == ps.end) {
			unexpected(&ps, "a value");
			goto fail;
		}
		/* the root is the first node of the arena, where pchat_json_free looks for it */
		if (!(node = arena_node(&ps.arena))) {
			fail_memory(&ps);
			goto fail;
		}
		node->key = key;
		if (!cur) {
			root = node;
		} else {
			if (last)
				last->next = node;
			else
				cur->child = node;
			cur->len++;
		}
		last = node;
		switch (*ps.p) {
		case '{':
		case '[':
			if (depth >= max_depth) {
				fail_at(&ps, ps.p, "nested deeper than %d arrays and objects", max_depth);
				goto fail;
			}
			node->type = *ps.p == '{' ? PCHAT_JSON_OBJECT : PCHAT_JSON_ARRAY;
			ps.p++;
			depth++;
			node->next = cur;
			cur = node;
			last = NULL;
			skip_ws(&ps);
			if (ps.p < ps.end && *ps.p == (cur->type == PCHAT_JSON_OBJECT ? '}' : ']'))
				break; /* empty: closed below */
			continue;
		case '"':
			node->type = PCHAT_JSON_STRING;
			if (!(node->s = parse_string(&ps, &node->len)))
				goto fail;
			break;
		case 't':
		case 'f':
			node->type = PCHAT_JSON_BOOL;
			node->b = *ps.p == 't';
			if (parse_literal(&ps, node->b ? "true" : "false") < 0)
				goto fail;
			break;
		case 'n':
			node->type = PCHAT_JSON_NULL;
			if (parse_literal(&ps, "null") < 0)
				goto fail;
			break;
		default:
			if (*ps.p != '-' && !is_digit(*ps.p)) {
				unexpected(&ps, "a value");
				goto fail;
			}
			if (parse_number(&ps, node) < 0)
				goto fail;
		}
		/* after a value (or in an array or object just opened empty): close what ends here,
		 * or go on to the next value after a comma */
		for (;;) {
			if (!cur)
				goto done;
			skip_ws(&ps);
			close = cur->type == PCHAT_JSON_OBJECT ? '}' : ']';
			if (ps.p < ps.end && *ps.p == close) {
				if (cur->type == PCHAT_JSON_OBJECT && check_duplicates(&ps, cur) < 0)
					goto fail;
				ps.p++;
				depth--;
				parent = cur->next;
				cur->next = NULL;
				last = cur;
				cur = parent;
				continue;
			}
			if (ps.p < ps.end && *ps.p == ',') {
				ps.p++;
				skip_ws(&ps);
				if (ps.p < ps.end && *ps.p == close) {
					fail_at(&ps, ps.p, "trailing comma");
					goto fail;
				}
				break;
			}
			unexpected(&ps, close == '}' ? "',' or '}'" : "',' or ']'");
			goto fail;
		}
	}
done:
	skip_ws(&ps);
	if (ps.p != ps.end) {
		unexpected(&ps, "the end of the document");
		goto fail;
	}
	return root;
fail:
	arena_free(ps.arena.first);
	return NULL;
}

void pchat_json_free(pchat_json_t *root)
{
	if (root)
		arena_free((arena_block_t *)((char *)root - offsetof(arena_block_t, data)));
}

const pchat_json_t *pchat_json_get(const pchat_json_t *obj, const char *key)
{
	const pchat_json_t *c;

	if (!obj || obj->type != PCHAT_JSON_OBJECT || !key)
		return NULL;
	for (c = obj->child; c; c = c->next)
		if (strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

const char *pchat_json_str(const pchat_json_t *obj, const char *key)
{
	const pchat_json_t *v = pchat_json_get(obj, key);

	return v && v->type == PCHAT_JSON_STRING ? v->s : NULL;
}

/* ------------------------------------------------------------------ the writer */

/* The flags of first[]: first[d] belongs to the array or object open at level d + 1; JW_TOP, in
 * first[0] only, says that the top-level value has been started (a JSON text holds one). */
enum {
	JW_EMPTY = 1,  /* nothing written in it yet: no comma before the next value */
	JW_OBJECT = 2, /* an object: values need a name */
	JW_TOP = 4,
};

_Static_assert(PCHAT_JW_MAX_DEPTH <= sizeof(((pchat_jw_t *)0)->first),
		"first[] holds a level per open array or object");

void pchat_jw_init(pchat_jw_t *w, pchat_buf_t *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

/* Bad nesting: the writer and its buffer are failed for good, so a caller that only looks at
 * the buffer sees it too. */
static void jw_fail(pchat_jw_t *w)
{
	w->failed = 1;
	w->b->failed = 1;
}

/* The code points written escaped although JSON allows them as they are: '<', '>' and '&' so
 * that no JSON we write makes HTML wherever it is embedded (a <script> block, a page that
 * shows it), U+2028 and U+2029 that end a line in older JavaScript. NULL for the others. */
static const char *html_safe_escape(long cp)
{
	switch (cp) {
	case '<': return "\\u003c";
	case '>': return "\\u003e";
	case '&': return "\\u0026";
	case 0x2028: return "\\u2028";
	case 0x2029: return "\\u2029";
	}
	return NULL;
}

/* Appends s as a JSON string with its quotes: pchat_buf_adds_json's escaping (controls, quote,
 * backslash; U+FFFD for what is not UTF-8) and html_safe_escape's. Kept here rather than in
 * pchat_buf_adds_json, whose callers' output (the compliance export's JSON Lines, the file
 * service's messages) must stay as it is. */
static void jw_string(pchat_buf_t *b, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, run = 0, len;
	const char *esc;
	char buf[8];
	long cp;

	pchat_buf_add(b, "\"", 1);
	while (i < n) {
		len = pchat_utf8_next(u + i, n - i, &cp);
		if ((esc = html_safe_escape(cp)) != NULL || (esc = pchat_json_escape(cp, buf)) != NULL) {
			pchat_buf_add(b, s + run, i - run);
			pchat_buf_adds(b, esc);
			run = i + len;
		}
		i += len;
	}
	pchat_buf_add(b, s + run, n - run);
	pchat_buf_add(b, "\"", 1);
}

/* Starts a value where the writer is: checks that key belongs (a name inside an object, none
 * elsewhere) and that the top level gets one value, then writes the comma and the name. 1 to go
 * on writing the value, 0 when the writer failed (now or before). */
static int jw_begin(pchat_jw_t *w, const char *key)
{
	unsigned char *f;

	if (w->failed)
		return 0;
	if (w->depth == 0) {
		if (key || (w->first[0] & JW_TOP)) {
			jw_fail(w);
			return 0;
		}
		w->first[0] |= JW_TOP;
		return 1;
	}
	f = &w->first[w->depth - 1];
	if (!(*f & JW_OBJECT) != !key) {
		jw_fail(w);
		return 0;
	}
	if (!(*f & JW_EMPTY))
		pchat_buf_add(w->b, ",", 1);
	*f &= (unsigned char)~JW_EMPTY;
	if (key) {
		jw_string(w->b, key);
		pchat_buf_add(w->b, ":", 1);
	}
	return 1;
}

/* Opens an array or an object named key; too deep: fails without writing. */
static void jw_open(pchat_jw_t *w, const char *key, int object)
{
	unsigned char *f;

	if (!w->failed && w->depth >= PCHAT_JW_MAX_DEPTH)
		jw_fail(w);
	if (!jw_begin(w, key))
		return;
	pchat_buf_add(w->b, object ? "{" : "[", 1);
	f = &w->first[w->depth];
	*f = (unsigned char)((*f & JW_TOP) | JW_EMPTY | (object ? JW_OBJECT : 0));
	w->depth++;
}

void pchat_jw_object(pchat_jw_t *w, const char *key)
{
	jw_open(w, key, 1);
}

void pchat_jw_array(pchat_jw_t *w, const char *key)
{
	jw_open(w, key, 0);
}

void pchat_jw_end(pchat_jw_t *w)
{
	if (w->failed)
		return;
	if (w->depth == 0) {
		jw_fail(w);
		return;
	}
	w->depth--;
	pchat_buf_add(w->b, (w->first[w->depth] & JW_OBJECT) ? "}" : "]", 1);
}

void pchat_jw_str(pchat_jw_t *w, const char *key, const char *v)
{
	if (!v) {
		pchat_jw_null(w, key);
		return;
	}
	if (jw_begin(w, key))
		jw_string(w->b, v);
}

void pchat_jw_int(pchat_jw_t *w, const char *key, long long v)
{
	if (jw_begin(w, key))
		pchat_buf_addf(w->b, "%lld", v);
}

void pchat_jw_bool(pchat_jw_t *w, const char *key, int v)
{
	if (jw_begin(w, key))
		pchat_buf_adds(w->b, v ? "true" : "false");
}

void pchat_jw_null(pchat_jw_t *w, const char *key)
{
	if (jw_begin(w, key))
		pchat_buf_add(w->b, "null", 4);
}

void pchat_jw_double(pchat_jw_t *w, const char *key, double v)
{
	char text[48];

	if (!isfinite(v)) {
		pchat_jw_null(w, key);
		return;
	}
	if (!jw_begin(w, key))
		return;
	format_double(v, text, sizeof(text));
	pchat_buf_adds(w->b, text);
}

/* Recursion is bounded by the writer: an array or object beyond PCHAT_JW_MAX_DEPTH fails the
 * writer, and a failed writer stops the walk. */
void pchat_jw_value(pchat_jw_t *w, const char *key, const pchat_json_t *v)
{
	const pchat_json_t *c;
	int object;

	if (!v) {
		pchat_jw_null(w, key);
		return;
	}
	switch (v->type) {
	case PCHAT_JSON_NULL:
		pchat_jw_null(w, key);
		break;
	case PCHAT_JSON_BOOL:
		pchat_jw_bool(w, key, v->b);
		break;
	case PCHAT_JSON_NUMBER:
		if (v->is_int)
			pchat_jw_int(w, key, v->i);
		else
			pchat_jw_double(w, key, v->n);
		break;
	case PCHAT_JSON_STRING:
		pchat_jw_str(w, key, v->s);
		break;
	case PCHAT_JSON_ARRAY:
	case PCHAT_JSON_OBJECT:
		object = v->type == PCHAT_JSON_OBJECT;
		jw_open(w, key, object);
		for (c = v->child; c && !w->failed; c = c->next)
			pchat_jw_value(w, object ? c->key : NULL, c);
		pchat_jw_end(w);
		break;
	default:
		jw_fail(w);
	}
}

int pchat_jw_ok(const pchat_jw_t *w)
{
	return !w->failed && !w->b->failed;
}

int pchat_jw_done(const pchat_jw_t *w)
{
	return pchat_jw_ok(w) && w->depth == 0 && (w->first[0] & JW_TOP);
}

int pchat_json_equal(const pchat_json_t *a, const pchat_json_t *b)
{
	const pchat_json_t *x, *y;

	if (a->type != b->type || !a->key != !b->key || (a->key && strcmp(a->key, b->key) != 0)
			|| a->len != b->len)
		return 0;
	switch (a->type) {
	case PCHAT_JSON_BOOL: return a->b == b->b;
	case PCHAT_JSON_NUMBER:
		return a->is_int == b->is_int && a->n == b->n && (!a->is_int || a->i == b->i);
	case PCHAT_JSON_STRING: return memcmp(a->s, b->s, a->len + 1) == 0;
	case PCHAT_JSON_ARRAY:
	case PCHAT_JSON_OBJECT:
		for (x = a->child, y = b->child; x && y; x = x->next, y = y->next)
			if (!pchat_json_equal(x, y))
				return 0;
		return !x && !y;
	default: return 1;
	}
}
