/*
 * libFuzzer target: the JSON reader and writer of the HTTPS service's API (pchat_json.c) on
 * hostile bytes: the input is a request body, exactly as many bytes as libFuzzer gives (no NUL
 * after them, so AddressSanitizer sees any read past the end).
 *
 * Oracle (abort() with a message, so libFuzzer keeps the input):
 *   - the reader with the API's depth bound (PCHAT_JW_MAX_DEPTH) and with a large one agree:
 *     both accept with the same tree; or the bounded one refuses for depth; or both refuse with
 *     the same reason (the reader stops at the first error, and the bound was not reached);
 *   - a refusal's reason is one line of printable ASCII, "line L, column C: ..." with C within
 *     the input;
 *   - an accepted tree is well-formed: strings and names valid UTF-8 without NUL, len their
 *     strlen; names exactly on an object's members, none twice in one object; len of an array or
 *     object its number of children; numbers finite, an integer's i equal to n; pchat_json_get
 *     finds each member of a (small) object;
 *   - written back (pchat_jw_value), the tree is one complete JSON text without '<', '>', '&'
 *     and control characters, valid UTF-8; read again it is the same tree; written again it is
 *     the same text (the writer's form is a fixed point).
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pchat_buf.h"
#include "pchat_json.h"

/* The unbounded reader's bound: deep enough for anything libFuzzer's -max_len builds that is
 * worth seeing, shallow enough for the oracle's own recursion. */
#define DEEP 4096
/* Objects up to this many members are checked member by member with pchat_json_get. */
#define GET_CHECK_MAX 64

__attribute__((noreturn)) static void violation(const char *what, const char *detail,
		const char *text, size_t len)
{
	fprintf(stderr, "\n==== ORACLE VIOLATION: %s%s%s\n", what, detail ? ": " : "",
			detail ? detail : "");
	if (text)
		fprintf(stderr, "---- the text (%zu bytes)%s:\n%.*s\n----\n", len,
				len > 4000 ? ", first 4000" : "", (int)(len > 4000 ? 4000 : len), text);
	abort();
}

/* 1 when the n bytes are UTF-8 (Unicode's table 3-7). */
static int utf8_ok(const char *s, size_t n)
{
	size_t i = 0;
	long cp;

	while (i < n) {
		i += pchat_utf8_next((const unsigned char *)s + i, n - i, &cp);
		if (cp == PCHAT_NOT_A_CHAR)
			return 0;
	}
	return 1;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Checks the tree at v (named or not as in_object says), at nesting depth (open arrays and
 * objects above it). Returns the deepest nesting in it. */
static int check_tree(const pchat_json_t *v, int in_object, int depth, const char *in, size_t len)
{
	const pchat_json_t *c;
	const char **names;
	size_t n, i;
	int deepest = depth, d;

	if (in_object != (v->key != NULL))
		violation("a name where none belongs, or none on an object's member", v->key, in, len);
	if (v->key && !utf8_ok(v->key, strlen(v->key)))
		violation("a member name is not UTF-8", NULL, in, len);
	switch (v->type) {
	case PCHAT_JSON_NULL:
	case PCHAT_JSON_BOOL:
		if (v->type == PCHAT_JSON_BOOL && v->b != 0 && v->b != 1)
			violation("a bool is neither 0 nor 1", NULL, in, len);
		break;
	case PCHAT_JSON_NUMBER:
		if (!isfinite(v->n))
			violation("a number is not finite", NULL, in, len);
		if (v->is_int && (double)v->i != v->n)
			violation("an integer's i and n differ", NULL, in, len);
		break;
	case PCHAT_JSON_STRING:
		if (!v->s || strlen(v->s) != v->len || !utf8_ok(v->s, v->len))
			violation("a string is not len bytes of UTF-8 without NUL", NULL, in, len);
		break;
	case PCHAT_JSON_ARRAY:
	case PCHAT_JSON_OBJECT:
		deepest = depth + 1;
		for (n = 0, c = v->child; c; c = c->next, n++) {
			d = check_tree(c, v->type == PCHAT_JSON_OBJECT, depth + 1, in, len);
			if (d > deepest)
				deepest = d;
		}
		if (n != v->len)
			violation("len is not the number of children", NULL, in, len);
		if (v->type == PCHAT_JSON_OBJECT && n > 1) {
			if (!(names = malloc(n * sizeof(*names))))
				violation("out of memory", NULL, NULL, 0);
			for (i = 0, c = v->child; c; c = c->next)
				names[i++] = c->key;
			qsort(names, n, sizeof(*names), compare_names);
			for (i = 1; i < n; i++)
				if (strcmp(names[i - 1], names[i]) == 0)
					violation("a name twice in one object", names[i], in, len);
			free(names);
		}
		if (v->type == PCHAT_JSON_OBJECT && n <= GET_CHECK_MAX)
			for (c = v->child; c; c = c->next)
				if (pchat_json_get(v, c->key) != c
						|| (c->type == PCHAT_JSON_STRING) != (pchat_json_str(v, c->key) != NULL))
					violation("pchat_json_get does not find a member", c->key, in, len);
		break;
	default:
		violation("a node of no known type", NULL, in, len);
	}
	return deepest;
}

/* A refusal's reason: one line of printable ASCII, "out of memory" or "line L, column C: why"
 * with C at most one past the input. */
static void check_reason(const char *err, const char *in, size_t len)
{
	const char *p;
	unsigned long line, col;
	int used = 0;

	for (p = err; *p; p++)
		if (*p < 0x20 || *p > 0x7E)
			violation("a reason is not one line of printable ASCII", err, in, len);
	if (strcmp(err, "out of memory") == 0)
		return;
	if (sscanf(err, "line %lu, column %lu: %n", &line, &col, &used) != 2 || used == 0
			|| err[used] == '\0' || line == 0 || col == 0 || line > len + 1 || col > len + 1)
		violation("a reason without its place", err, in, len);
}

/* Writes tree with the writer into b; it must be one complete JSON text, HTML-safe, UTF-8. */
static void write_tree(const pchat_json_t *tree, pchat_buf_t *b, const char *in, size_t len)
{
	pchat_jw_t w;
	size_t i;

	pchat_buf_init(b);
	pchat_jw_init(&w, b);
	pchat_jw_value(&w, NULL, tree);
	if (!pchat_jw_done(&w) || !pchat_buf_ok(b))
		violation("the writer failed on a tree the reader gave", NULL, in, len);
	for (i = 0; i < b->len; i++)
		if ((unsigned char)b->s[i] < 0x20 || b->s[i] == '<' || b->s[i] == '>' || b->s[i] == '&')
			violation("the writer wrote a control character, '<', '>' or '&'", NULL, b->s,
					b->len);
	if (!utf8_ok(b->s, b->len))
		violation("the writer wrote bytes that are not UTF-8", NULL, b->s, b->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char err[256], err_deep[256];
	pchat_json_t *tree, *deep, *again;
	pchat_buf_t b, b2;

	tree = pchat_json_parse(in, size, PCHAT_JW_MAX_DEPTH, err, sizeof(err));
	deep = pchat_json_parse(in, size, DEEP, err_deep, sizeof(err_deep));
	if (!tree)
		check_reason(err, in, size);
	if (!deep)
		check_reason(err_deep, in, size);
	if (deep && check_tree(deep, 0, 0, in, size) > DEEP)
		violation("a tree deeper than the bound", NULL, in, size);
	if (tree) {
		if (!deep || !pchat_json_equal(tree, deep))
			violation("the bounded reader accepts what the unbounded one reads otherwise",
					deep ? NULL : err_deep, in, size);
		if (check_tree(tree, 0, 0, in, size) > PCHAT_JW_MAX_DEPTH)
			violation("a tree deeper than the bound", NULL, in, size);
	} else if (!strstr(err, ": nested deeper than ")) {
		if (deep || strcmp(err, err_deep) != 0)
			violation("the readers disagree on a refusal not for depth", err, in, size);
	}
	pchat_json_free(deep);
	if (!tree)
		return 0;

	/* written back, read again, written again */
	write_tree(tree, &b, in, size);
	again = pchat_json_parse(b.s, b.len, PCHAT_JW_MAX_DEPTH, err, sizeof(err));
	if (!again)
		violation("the reader refuses what the writer wrote", err, b.s, b.len);
	if (!pchat_json_equal(tree, again))
		violation("what the writer wrote reads back as another tree", NULL, b.s, b.len);
	write_tree(again, &b2, in, size);
	if (b.len != b2.len || memcmp(b.s, b2.s, b.len) != 0)
		violation("the writer's text written again differs", b2.s, b.s, b.len);
	pchat_buf_free(&b2);
	pchat_buf_free(&b);
	pchat_json_free(again);
	pchat_json_free(tree);
	return 0;
}
