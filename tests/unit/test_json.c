/* The JSON reader (pchat_json_parse) refuses all that is not strict RFC 8259 JSON with a reason
 * and a place, within its depth bound and whatever the bytes; the writer (pchat_jw_*) writes
 * exact, HTML-safe JSON and fails for good on bad nesting; what it writes reads back the same. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pchat_alloc.h"
#include "pchat_json.h"

static char err[256];

/* Parses the NUL-terminated s (the NUL not included) from an allocation of exactly its size,
 * so that AddressSanitizer sees any read past the end. */
static pchat_json_t *parse_n(const char *s, size_t len, int max_depth)
{
	char *copy = malloc(len ? len : 1);
	pchat_json_t *j;

	assert_non_null(copy);
	memcpy(copy, s, len);
	j = pchat_json_parse(copy, len, max_depth, err, sizeof(err));
	free(copy);
	if (j)
		assert_string_equal(err, "");
	else
		assert_true(err[0] != '\0');
	return j;
}

static pchat_json_t *parse(const char *s)
{
	return parse_n(s, strlen(s), 16);
}

/* Asserts that s is refused with exactly the error want. */
static void refused(const char *s, const char *want)
{
	pchat_json_t *j = parse(s);

	if (j)
		fail_msg("accepted: %s", s);
	if (strcmp(err, want) != 0)
		fail_msg("%s\n  refused with: %s\n  expected:     %s", s, err, want);
}

/* ------------------------------------------------------------------ reading */

static void reads_a_nested_document(void **state)
{
	pchat_json_t *j = parse(" {\"name\": \"lobby\", \"tags\": [\"a\", [], {}, null, true, false],\n"
			"\t\"room\": {\"version\": 7, \"may\": {\"edit\": true}}, \"e\": {}}\r\n");
	const pchat_json_t *tags, *t, *room;

	(void)state;
	assert_non_null(j);
	assert_int_equal(j->type, PCHAT_JSON_OBJECT);
	assert_null(j->key);
	assert_null(j->next);
	assert_int_equal(j->len, 4);
	assert_string_equal(pchat_json_str(j, "name"), "lobby");
	assert_int_equal(pchat_json_get(j, "name")->len, 5);
	assert_string_equal(j->child->key, "name");
	tags = pchat_json_get(j, "tags");
	assert_int_equal(tags->type, PCHAT_JSON_ARRAY);
	assert_int_equal(tags->len, 6);
	t = tags->child;
	assert_int_equal(t->type, PCHAT_JSON_STRING);
	assert_null(t->key);
	assert_string_equal(t->s, "a");
	t = t->next;
	assert_int_equal(t->type, PCHAT_JSON_ARRAY);
	assert_int_equal(t->len, 0);
	assert_null(t->child);
	t = t->next;
	assert_int_equal(t->type, PCHAT_JSON_OBJECT);
	assert_int_equal(t->len, 0);
	t = t->next;
	assert_int_equal(t->type, PCHAT_JSON_NULL);
	t = t->next;
	assert_int_equal(t->type, PCHAT_JSON_BOOL);
	assert_int_equal(t->b, 1);
	t = t->next;
	assert_int_equal(t->type, PCHAT_JSON_BOOL);
	assert_int_equal(t->b, 0);
	assert_null(t->next);
	room = pchat_json_get(j, "room");
	assert_int_equal(pchat_json_get(room, "version")->i, 7);
	assert_int_equal(pchat_json_get(pchat_json_get(room, "may"), "edit")->b, 1);
	assert_string_equal(pchat_json_get(j, "e")->key, "e");
	assert_null(pchat_json_get(j, "nope"));
	assert_null(pchat_json_str(j, "room")); /* not a string */
	assert_null(pchat_json_str(j, "nope"));
	assert_null(pchat_json_get(tags, "a")); /* not an object */
	assert_null(pchat_json_get(NULL, "a"));
	assert_null(pchat_json_str(NULL, "a"));
	pchat_json_free(j);
	pchat_json_free(NULL);
}

static void reads_top_level_scalars(void **state)
{
	pchat_json_t *j;

	(void)state;
	assert_non_null(j = parse("null"));
	assert_int_equal(j->type, PCHAT_JSON_NULL);
	pchat_json_free(j);
	assert_non_null(j = parse(" \"x\" "));
	assert_string_equal(j->s, "x");
	pchat_json_free(j);
	assert_non_null(j = parse("false"));
	assert_int_equal(j->type, PCHAT_JSON_BOOL);
	assert_int_equal(j->b, 0);
	pchat_json_free(j);
	assert_non_null(j = parse("\"\""));
	assert_string_equal(j->s, "");
	assert_int_equal(j->len, 0);
	pchat_json_free(j);
	/* the text need not end where len does, nor be NUL-terminated */
	assert_non_null(j = pchat_json_parse("[1,2]garbage", 5, 16, err, sizeof(err)));
	assert_int_equal(j->len, 2);
	pchat_json_free(j);
	assert_non_null(j = pchat_json_parse("12345", 2, 16, err, sizeof(err)));
	assert_int_equal(j->i, 12);
	pchat_json_free(j);
}

static void reads_escapes_and_unicode(void **state)
{
	pchat_json_t *j = parse("[\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\", \"\\u00e9\\u20AC\\uD83D\\uDE00\","
			" \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", \"a\\u0001b\", \"\\uffff\\uFFFE\","
			" \"\xef\xbf\xbf\", \"\\udbff\\udfff\", \"\\u0800\\u007f\\u0080\\u07ff\"]");
	const pchat_json_t *s;

	(void)state;
	assert_non_null(j);
	s = j->child;
	assert_string_equal(s->s, "\" \\ / \b \f \n \r \t");
	assert_int_equal(s->len, 15);
	s = s->next;
	assert_string_equal(s->s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"); /* é € 😀 */
	assert_int_equal(s->len, 9);
	s = s->next;
	assert_string_equal(s->s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"); /* the same, raw */
	s = s->next;
	assert_string_equal(s->s, "a\x01" "b");
	s = s->next;
	assert_string_equal(s->s, "\xef\xbf\xbf\xef\xbf\xbe"); /* noncharacters are characters */
	s = s->next;
	assert_string_equal(s->s, "\xef\xbf\xbf");
	s = s->next;
	assert_string_equal(s->s, "\xf4\x8f\xbf\xbf"); /* U+10FFFF, the last */
	s = s->next;
	assert_string_equal(s->s, "\xe0\xa0\x80\x7f\xc2\x80\xdf\xbf");
	pchat_json_free(j);

	/* names are unescaped too */
	assert_non_null(j = parse("{\"\\u00e9t\\u00e9\": 1, \"a\\nb\": 2}"));
	assert_string_equal(j->child->key, "\xc3\xa9t\xc3\xa9");
	assert_int_equal(pchat_json_get(j, "\xc3\xa9t\xc3\xa9")->i, 1);
	assert_int_equal(pchat_json_get(j, "a\nb")->i, 2);
	pchat_json_free(j);
}

/* One number alone: is_int, i and n as given. */
static void number_is(const char *text, int is_int, long long i, double n)
{
	pchat_json_t *j = parse(text);

	if (!j)
		fail_msg("%s refused: %s", text, err);
	assert_int_equal(j->type, PCHAT_JSON_NUMBER);
	if (j->is_int != is_int || (is_int && j->i != i) || j->n != n)
		fail_msg("%s: is_int %d, i %lld, n %.17g", text, j->is_int, j->i, j->n);
	pchat_json_free(j);
}

static void reads_numbers(void **state)
{
	pchat_json_t *j;

	(void)state;
	number_is("0", 1, 0, 0);
	number_is("-0", 1, 0, 0);
	number_is("42", 1, 42, 42);
	number_is("-42", 1, -42, -42);
	number_is("9223372036854775807", 1, 9223372036854775807LL, 9223372036854775807.0);
	number_is("-9223372036854775808", 1, -9223372036854775807LL - 1, -9223372036854775808.0);
	/* integers beyond long long: numbers all the same, not is_int */
	number_is("9223372036854775808", 0, 0, 9223372036854775808.0);
	number_is("-9223372036854775809", 0, 0, -9223372036854775809.0);
	number_is("18446744073709551616", 0, 0, 18446744073709551616.0);
	number_is("123456789012345678901234567890", 0, 0, 123456789012345678901234567890.0);
	number_is("1.5", 0, 0, 1.5);
	number_is("-0.25", 0, 0, -0.25);
	number_is("0.1", 0, 0, 0.1);
	number_is("1.0", 0, 0, 1);
	number_is("1e3", 0, 0, 1000);
	number_is("1E+2", 0, 0, 100);
	number_is("-2.5e-3", 0, 0, -0.0025);
	number_is("0e0", 0, 0, 0);
	number_is("1e-400", 0, 0, 0); /* an underflow reads as 0 */
	number_is("1.7976931348623157e308", 0, 0, 1.7976931348623157e308);
	assert_non_null(j = parse("-0.0"));
	assert_true(signbit(j->n));
	pchat_json_free(j);
	assert_non_null(j = parse("[1,-1,0.5]"));
	assert_int_equal(j->child->next->i, -1);
	assert_true(j->child->next->next->n == 0.5);
	pchat_json_free(j);
}

static void refuses_with_a_reason(void **state)
{
	static const char *const cases[][2] = {
		{"", "line 1, column 1: unexpected end of input, expected a value"},
		{" \n ", "line 2, column 2: unexpected end of input, expected a value"},
		/* comments */
		{"/* c */ 1", "line 1, column 1: unexpected character '/', expected a value"},
		{"[1] // c", "line 1, column 5: unexpected character '/', expected the end of the document"},
		/* trailing commas, missing and extra punctuation */
		{"[1,]", "line 1, column 4: trailing comma"},
		{"{\"a\":1 , }", "line 1, column 10: trailing comma"},
		{"[1,,2]", "line 1, column 4: unexpected character ',', expected a value"},
		{"[,]", "line 1, column 2: unexpected character ',', expected a value"},
		{"{,}", "line 1, column 2: unexpected character ',', expected a member name (a string)"},
		{"[1 2]", "line 1, column 4: unexpected character '2', expected ',' or ']'"},
		{"{\"a\" 1}", "line 1, column 6: unexpected character '1', expected ':' after the member name"},
		{"{\"a\":1 \"b\":2}", "line 1, column 8: unexpected character '\"', expected ',' or '}'"},
		{"{a:1}", "line 1, column 2: unexpected character 'a', expected a member name (a string)"},
		{"{'a':1}", "line 1, column 2: unexpected character ''', expected a member name (a string)"},
		{"{\"a\":}", "line 1, column 6: unexpected character '}', expected a value"},
		{"[1]]", "line 1, column 4: unexpected character ']', expected the end of the document"},
		{"1 2", "line 1, column 3: unexpected character '2', expected the end of the document"},
		{"{} x", "line 1, column 4: unexpected character 'x', expected the end of the document"},
		{"[}", "line 1, column 2: unexpected character '}', expected a value"},
		{"{]", "line 1, column 2: unexpected character ']', expected a member name (a string)"},
		/* numbers */
		{"01", "line 1, column 1: invalid number (leading zero)"},
		{"-01", "line 1, column 1: invalid number (leading zero)"},
		{"[00]", "line 1, column 2: invalid number (leading zero)"},
		{"-", "line 1, column 1: invalid number"},
		{"-a", "line 1, column 1: invalid number"},
		{"1.", "line 1, column 1: invalid number (a digit must follow '.')"},
		{"1.e3", "line 1, column 1: invalid number (a digit must follow '.')"},
		{".5", "line 1, column 1: unexpected character '.', expected a value"},
		{"+1", "line 1, column 1: unexpected character '+', expected a value"},
		{"1e", "line 1, column 1: invalid number (the exponent has no digits)"},
		{"1e+", "line 1, column 1: invalid number (the exponent has no digits)"},
		{"0x10", "line 1, column 2: unexpected character 'x', expected the end of the document"},
		{"1e400", "line 1, column 1: number out of range"},
		{"[-1e309]", "line 1, column 2: number out of range"},
		{"NaN", "line 1, column 1: unexpected character 'N', expected a value"},
		{"Infinity", "line 1, column 1: unexpected character 'I', expected a value"},
		{"-Infinity", "line 1, column 1: invalid number"},
		/* literals */
		{"tru", "line 1, column 1: invalid literal (true, false or null?)"},
		{"True", "line 1, column 1: unexpected character 'T', expected a value"},
		{"nul", "line 1, column 1: invalid literal (true, false or null?)"},
		{"[falsy]", "line 1, column 2: invalid literal (true, false or null?)"},
		{"truex", "line 1, column 5: unexpected character 'x', expected the end of the document"},
		/* strings */
		{"\"abc", "line 1, column 1: unterminated string"},
		{"[\"abc\\\"]", "line 1, column 2: unterminated string"},
		{"\"a\\", "line 1, column 1: unterminated string"},
		{"\"a\\u0000b\"", "line 1, column 3: \\u0000 is not allowed"},
		{"{\"\\u0000\":1}", "line 1, column 3: \\u0000 is not allowed"},
		{"\"\\uD800\"", "line 1, column 2: lone surrogate \\uD800 (a high half without a low half)"},
		{"\"\\uDBFFx\"", "line 1, column 2: lone surrogate \\uDBFF (a high half without a low half)"},
		{"\"\\uD800\\u0041\"", "line 1, column 2: lone surrogate \\uD800 (a high half without a low half)"},
		{"\"\\uD800\\uD800\"", "line 1, column 2: lone surrogate \\uD800 (a high half without a low half)"},
		{"\"\\uD800\\n\"", "line 1, column 2: lone surrogate \\uD800 (a high half without a low half)"},
		{"\"\\uD800\\uDC0\"", "line 1, column 2: lone surrogate \\uD800 (a high half without a low half)"},
		{"\"\\uDC00\"", "line 1, column 2: lone surrogate \\uDC00 (a low half without a high half)"},
		{"\"\\uDE00\\uD83D\"", "line 1, column 2: lone surrogate \\uDE00 (a low half without a high half)"},
		{"\"\\x41\"", "line 1, column 2: invalid escape"},
		{"\"\\U0041\"", "line 1, column 2: invalid escape"},
		{"\"\\'\"", "line 1, column 2: invalid escape"},
		{"\"\\u12G4\"", "line 1, column 2: invalid \\u escape (four hex digits must follow)"},
		{"\"\\u12\"", "line 1, column 2: invalid \\u escape (four hex digits must follow)"},
		{"\"a\tb\"", "line 1, column 3: control character in a string (it must be escaped)"},
		{"\"a\nb\"", "line 1, column 3: control character in a string (it must be escaped)"},
		{"\"\x1f\"", "line 1, column 2: control character in a string (it must be escaped)"},
		{"'a'", "line 1, column 1: unexpected character ''', expected a value"},
		/* duplicate member names, compared unescaped */
		{"{\"a\":1,\"a\":2}", "line 1, column 13: duplicate member name \"a\" in the object that ends here"},
		{"{\"a\":1,\"\\u0061\":2}", "line 1, column 18: duplicate member name \"a\" in the object that ends here"},
		{"{\"x\":{\"b\":[],\"c\":0,\"b\":{}}}", "line 1, column 26: duplicate member name \"b\" in the object that ends here"},
		{"{\"a b\":1,\"a b\":2}", "line 1, column 17: duplicate member name in the object that ends here"},
		{"{\"\":1,\"\":2}", "line 1, column 11: duplicate member name \"\" in the object that ends here"},
		/* no byte order mark, no other whitespace */
		{"\xef\xbb\xbf{}", "line 1, column 1: unexpected byte 0xEF, expected a value"},
		{"\f1", "line 1, column 1: unexpected byte 0x0C, expected a value"},
		{"[1,\xc2\xa0" "2]", "line 1, column 4: unexpected byte 0xC2, expected a value"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		refused(cases[i][0], cases[i][1]);
}

static void places_errors_by_line_and_column(void **state)
{
	(void)state;
	refused("{\n  \"a\": tru\n}", "line 2, column 8: invalid literal (true, false or null?)");
	refused("[\r\n1,\r\n2,\r\n]", "line 4, column 1: trailing comma");
	/* columns count bytes: é is two */
	refused("[\"\xc3\xa9\", x]", "line 1, column 8: unexpected character 'x', expected a value");
}

static void refuses_invalid_utf8(void **state)
{
	static const char *const bad[] = {
		"\"\xc3\"",             /* cut two-byte sequence */
		"\"\xc3x\"",
		"\"\xe2\x82\"",         /* cut three-byte sequence before the quote */
		"\"\xc0\xaf\"",         /* overlong '/' */
		"\"\xe0\x80\xaf\"",     /* overlong, three bytes */
		"\"\xf0\x80\x80\xaf\"", /* overlong, four bytes */
		"\"\xed\xa0\x80\"",     /* a surrogate in UTF-8 */
		"\"\xed\xbf\xbf\"",
		"\"\xf4\x90\x80\x80\"", /* beyond U+10FFFF */
		"\"\xf5\x80\x80\x80\"",
		"\"\xfe\"",
		"\"\xff\"",
		"\"\x80\"",             /* a lone continuation byte */
		"\"a\xbf\"",
	};
	size_t i;
	char want[64];
	pchat_json_t *j;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want), "line 1, column %d: invalid UTF-8",
				bad[i][1] == 'a' ? 3 : 2);
		refused(bad[i], want);
	}
	refused("{\"\xc3\":1}", "line 1, column 3: invalid UTF-8"); /* in a name too */
	/* outside strings only ASCII belongs */
	refused("\xc3\xa9", "line 1, column 1: unexpected byte 0xC3, expected a value");
	/* the longest valid forms pass */
	assert_non_null(j = parse("\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80\""));
	assert_int_equal(j->len, 14);
	pchat_json_free(j);
}

static void refuses_nul_bytes_in_the_input(void **state)
{
	pchat_json_t *j;

	(void)state;
	assert_null(parse_n("\"a\0b\"", 5, 16));
	assert_string_equal(err, "line 1, column 3: control character in a string (it must be escaped)");
	assert_null(parse_n("[1]\0", 4, 16));
	assert_string_equal(err, "line 1, column 4: unexpected byte 0x00, expected the end of the document");
	assert_null(parse_n("\0", 1, 16));
	assert_string_equal(err, "line 1, column 1: unexpected byte 0x00, expected a value");
	assert_null(parse_n("{\"a\0\":1}", 8, 16));
	assert_string_equal(err, "line 1, column 4: control character in a string (it must be escaped)");
	assert_null(parse_n("[1,\0]", 5, 16));
	assert_string_equal(err, "line 1, column 4: unexpected byte 0x00, expected a value");
	/* what stops at len is not seen */
	assert_non_null(j = parse_n("[1]\0", 3, 16));
	pchat_json_free(j);
}

/* "[[...[0]...]]" (or with objects) nested depth times. */
static char *nested(int depth, int objects)
{
	size_t per = objects ? 5 : 1, len = (size_t)depth * per * 2 + 1, i;
	char *s = malloc(len + 1), *p = s;

	assert_non_null(s);
	for (i = 0; i < (size_t)depth; i++) {
		memcpy(p, objects ? "{\"k\":" : "[", per);
		p += per;
	}
	*p++ = '0';
	for (i = 0; i < (size_t)depth; i++) {
		memcpy(p, objects ? "}    " : "]", 1);
		p++;
	}
	*p = '\0';
	return s;
}

static void bounds_the_depth(void **state)
{
	char *s;
	pchat_json_t *j;
	const pchat_json_t *c;
	char want[96];
	int d, objects;

	(void)state;
	for (objects = 0; objects <= 1; objects++) {
		for (d = 1; d <= 20; d++) {
			s = nested(d, objects);
			/* exactly at the bound */
			assert_non_null(j = parse_n(s, strlen(s), d));
			for (c = j; c->type != PCHAT_JSON_NUMBER; c = c->child)
				assert_int_equal(c->len, 1);
			pchat_json_free(j);
			/* one beyond */
			assert_null(parse_n(s, strlen(s), d - 1));
			snprintf(want, sizeof(want), "line 1, column %d: nested deeper than %d arrays and "
					"objects", objects ? 5 * (d - 1) + 1 : d, d - 1);
			assert_string_equal(err, want);
			free(s);
		}
	}
	/* 0: a scalar only; negative reads as 0 */
	assert_non_null(j = parse_n("1", 1, 0));
	pchat_json_free(j);
	assert_null(parse_n("[]", 2, 0));
	assert_string_equal(err, "line 1, column 1: nested deeper than 0 arrays and objects");
	assert_null(parse_n("{}", 2, -5));
	assert_string_equal(err, "line 1, column 1: nested deeper than 0 arrays and objects");
	/* siblings do not add up: depth is nesting */
	assert_non_null(j = parse_n("[[],[[]],{\"a\":[]},[[]]]", 23, 3));
	assert_int_equal(j->len, 4);
	pchat_json_free(j);
	/* the reader does not recurse: a huge bound costs no stack */
	s = nested(200000, 0);
	assert_non_null(j = parse_n(s, strlen(s), 1000000));
	pchat_json_free(j);
	assert_null(parse_n(s, strlen(s), 16));
	assert_string_equal(err, "line 1, column 17: nested deeper than 16 arrays and objects");
	s[100000] = 'x';
	assert_null(parse_n(s, strlen(s), 1000000));
	assert_string_equal(err, "line 1, column 100001: unexpected character 'x', expected a value");
	free(s);
}

static void refuses_duplicates_in_large_objects(void **state)
{
	char *s = malloc(64 * 1024), *p;
	pchat_json_t *j;
	int i, n = 2000;

	(void)state;
	assert_non_null(s);
	p = s + sprintf(s, "{");
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s\"k%d\":%d", i ? "," : "", i, i);
	sprintf(p, "}");
	assert_non_null(j = parse_n(s, strlen(s), 16));
	assert_int_equal(j->len, (size_t)n);
	assert_int_equal(pchat_json_get(j, "k1999")->i, 1999);
	pchat_json_free(j);
	/* the same with "k7" again at the end */
	sprintf(p, ",\"k\\u0037\":0}");
	assert_null(parse_n(s, strlen(s), 16));
	assert_non_null(strstr(err, ": duplicate member name \"k7\" in the object that ends here"));
	/* the same name in different objects is fine */
	assert_non_null(j = parse("[{\"a\":1},{\"a\":2,\"b\":{\"a\":3}}]"));
	pchat_json_free(j);
	free(s);
}

static void refuses_every_prefix_of_a_document(void **state)
{
	static const char doc[] = "{\"name\":\"l\\u00e9\\ud83d\\ude00 \xc3\xa9\",\"n\":[-12.5e+3,0,"
		"true,false,null,{\"\":[]}],\"x\":\"\\n\\\"\"}";
	size_t len = sizeof(doc) - 1, i;
	pchat_json_t *j;

	(void)state;
	assert_non_null(j = parse_n(doc, len, 16));
	pchat_json_free(j);
	for (i = 0; i < len; i++) {
		j = parse_n(doc, i, 16);
		if (j)
			fail_msg("the prefix of %zu bytes was accepted", i);
		assert_non_null(strstr(err, "line 1, column "));
	}
}

static void errors_fit_any_buffer(void **state)
{
	char small[12];
	pchat_json_t *j;

	(void)state;
	assert_null(pchat_json_parse("[1,]", 4, 16, NULL, 0));
	assert_null(pchat_json_parse("[1,]", 4, 16, small, sizeof(small)));
	assert_string_equal(small, "line 1, col");
	assert_null(pchat_json_parse("[1,]", 4, 16, small, 1));
	assert_string_equal(small, "");
	assert_non_null(j = pchat_json_parse("[1]", 3, 16, NULL, 0));
	pchat_json_free(j);
}

/* ------------------------------------------------------------------ memory */

static long alloc_budget = -1; /* allocations left before they fail; -1: no limit */
static long allocations;

static void *budget_malloc(size_t size)
{
	allocations++;
	if (alloc_budget == 0)
		return NULL;
	if (alloc_budget > 0)
		alloc_budget--;
	return malloc(size);
}

static void *budget_realloc(void *ptr, size_t size)
{
	allocations++;
	if (alloc_budget == 0)
		return NULL;
	if (alloc_budget > 0)
		alloc_budget--;
	return realloc(ptr, size);
}

static const pchat_allocator_t budget_allocator = {budget_malloc, budget_realloc, free};

static void survives_running_out_of_memory(void **state)
{
	char *s = malloc(40000), *p;
	pchat_json_t *j;
	long needed, k;
	int i;

	(void)state;
	assert_non_null(s);
	/* a document of many nodes, a long string and a large object: several blocks */
	p = s + sprintf(s, "{\"a\":[");
	for (i = 0; i < 3000; i++)
		p += sprintf(p, "%s%d", i ? "," : "", i);
	p += sprintf(p, "],\"s\":\"");
	memset(p, 'x', 10000);
	p += 10000;
	p += sprintf(p, "\",\"o\":{");
	for (i = 0; i < 200; i++)
		p += sprintf(p, "%s\"m%d\":%d.5", i ? "," : "", i, i);
	sprintf(p, "}}");
	pchat_set_allocator(&budget_allocator);
	allocations = 0;
	alloc_budget = -1;
	assert_non_null(j = parse_n(s, strlen(s), 16));
	needed = allocations;
	assert_true(needed >= 2);  /* more than one block was needed... */
	assert_true(needed <= 8);  /* ...but only a few */
	assert_int_equal(pchat_json_get(j, "a")->len, 3000);
	assert_int_equal(pchat_json_get(j, "s")->len, 10000);
	assert_true(pchat_json_get(pchat_json_get(j, "o"), "m199")->n == 199.5);
	pchat_json_free(j);
	for (k = 0; k < needed; k++) {
		alloc_budget = k;
		assert_null(pchat_json_parse(s, strlen(s), 16, err, sizeof(err)));
		assert_string_equal(err, "out of memory");
	}
	alloc_budget = -1;
	pchat_set_allocator(NULL);
	free(s);
}

/* ------------------------------------------------------------------ writing */

static void writes_exact_json(void **state)
{
	pchat_buf_t b;
	pchat_jw_t w;

	(void)state;
	pchat_buf_init(&b);
	pchat_jw_init(&w, &b);
	pchat_jw_object(&w, NULL);
	pchat_jw_str(&w, "error", "invalid");
	pchat_jw_str(&w, "message", "say \"hi\"\\\n\t\x01\x1f");
	pchat_jw_int(&w, "n", -9223372036854775807LL - 1);
	pchat_jw_int(&w, "z", 0);
	pchat_jw_bool(&w, "t", 1);
	pchat_jw_bool(&w, "f", 0);
	pchat_jw_null(&w, "x");
	pchat_jw_str(&w, "y", NULL);
	pchat_jw_array(&w, "list");
	pchat_jw_str(&w, NULL, "\xc3\xa9\xf0\x9f\x98\x80");
	pchat_jw_array(&w, NULL);
	pchat_jw_end(&w);
	pchat_jw_object(&w, NULL);
	pchat_jw_end(&w);
	pchat_jw_object(&w, NULL);
	pchat_jw_int(&w, "k", 1);
	pchat_jw_end(&w);
	pchat_jw_end(&w);
	pchat_jw_object(&w, "empty");
	pchat_jw_end(&w);
	assert_true(pchat_jw_ok(&w));
	assert_false(pchat_jw_done(&w));
	pchat_jw_end(&w);
	assert_true(pchat_jw_ok(&w));
	assert_true(pchat_jw_done(&w));
	assert_true(pchat_buf_ok(&b));
	assert_string_equal(b.s, "{\"error\":\"invalid\",\"message\":\"say \\\"hi\\\"\\\\\\n\\t\\u0001\\u001f\","
			"\"n\":-9223372036854775808,\"z\":0,\"t\":true,\"f\":false,\"x\":null,\"y\":null,"
			"\"list\":[\"\xc3\xa9\xf0\x9f\x98\x80\",[],{},{\"k\":1}],\"empty\":{}}");
	pchat_buf_free(&b);

	/* a scalar is a document too */
	pchat_buf_init(&b);
	pchat_jw_init(&w, &b);
	pchat_jw_str(&w, NULL, "");
	assert_true(pchat_jw_done(&w));
	assert_string_equal(b.s, "\"\"");
	pchat_buf_free(&b);
}

static void writes_html_safe_strings(void **state)
{
	pchat_buf_t b;
	pchat_jw_t w;

	(void)state;
	pchat_buf_init(&b);
	pchat_jw_init(&w, &b);
	pchat_jw_object(&w, NULL);
	pchat_jw_str(&w, "</script><b>", "a<b>&amp;</script>");
	pchat_jw_str(&w, "ls", "\xe2\x80\xa8|\xe2\x80\xa9|\xe2\x80\xaa"); /* U+2028, U+2029, U+202A */
	/* what is not UTF-8 becomes U+FFFD: the output stays valid JSON */
	pchat_jw_str(&w, "bad", "a\xff" "b\xc3(\xed\xa0\x80");
	pchat_jw_end(&w);
	assert_true(pchat_jw_done(&w));
	assert_string_equal(b.s, "{\"\\u003c/script\\u003e\\u003cb\\u003e\":"
			"\"a\\u003cb\\u003e\\u0026amp;\\u003c/script\\u003e\","
			"\"ls\":\"\\u2028|\\u2029|\xe2\x80\xaa\","
			"\"bad\":\"a\xef\xbf\xbd" "b\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}");
	assert_null(strpbrk(b.s, "<>&"));
	pchat_buf_free(&b);

	/* pchat_buf_adds_json, which the compliance export and the file service use, is unchanged */
	pchat_buf_init(&b);
	pchat_buf_adds_json(&b, "<a&b>");
	assert_string_equal(b.s, "<a&b>");
	pchat_buf_free(&b);
}

/* Writes v as the only value and returns the text (freed by the caller). */
static char *write_double(double v)
{
	pchat_buf_t b;
	pchat_jw_t w;

	pchat_buf_init(&b);
	pchat_jw_init(&w, &b);
	pchat_jw_double(&w, NULL, v);
	assert_true(pchat_jw_done(&w));
	return b.s;
}

static void writes_doubles_that_read_back(void **state)
{
	static const struct {
		double v;
		const char *text;
	} cases[] = {
		{0.1, "0.1"}, {5.0, "5.0"}, {-0.0, "-0.0"}, {1e20, "1e+20"}, {-2.5e-3, "-0.0025"},
		{1.0 / 3, "0.3333333333333333"}, {123456789012345.0, "123456789012345.0"},
		{1.7976931348623157e308, "1.7976931348623157e+308"}, {5e-324, "4.94065645841247e-324"},
		{9007199254740993.0, "9007199254740992.0"},
	};
	size_t i;
	char *text;
	pchat_json_t *j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		text = write_double(cases[i].v);
		assert_string_equal(text, cases[i].text);
		assert_non_null(j = parse(text));
		assert_int_equal(j->is_int, 0);
		assert_memory_equal(&j->n, &cases[i].v, sizeof(double));
		pchat_json_free(j);
		pchat_free(text);
	}
	text = write_double(NAN);
	assert_string_equal(text, "null");
	pchat_free(text);
	text = write_double(-INFINITY);
	assert_string_equal(text, "null");
	pchat_free(text);
}

/* Runs steps on a fresh writer: it must fail, the buffer too, and nothing written after the
 * failure shows. */
static void writer_fails(void (*steps)(pchat_jw_t *), const char *before)
{
	pchat_buf_t b;
	pchat_jw_t w;

	pchat_buf_init(&b);
	pchat_jw_init(&w, &b);
	steps(&w);
	assert_false(pchat_jw_ok(&w));
	assert_false(pchat_jw_done(&w));
	assert_false(pchat_buf_ok(&b));
	assert_true(w.failed);
	assert_string_equal(b.s ? b.s : "", before);
	pchat_buf_free(&b);
}

static void key_in_array(pchat_jw_t *w)
{
	pchat_jw_array(w, NULL);
	pchat_jw_int(w, NULL, 1);
	pchat_jw_int(w, "k", 2);
	pchat_jw_end(w);
	pchat_jw_int(w, NULL, 3);
}

static void no_key_in_object(pchat_jw_t *w)
{
	pchat_jw_object(w, NULL);
	pchat_jw_str(w, NULL, "v");
	pchat_jw_end(w);
}

static void key_at_top(pchat_jw_t *w)
{
	pchat_jw_object(w, "k");
}

static void two_top_values(pchat_jw_t *w)
{
	pchat_jw_object(w, NULL);
	pchat_jw_end(w);
	pchat_jw_array(w, NULL);
	pchat_jw_end(w);
}

static void end_of_nothing(pchat_jw_t *w)
{
	pchat_jw_array(w, NULL);
	pchat_jw_end(w);
	pchat_jw_end(w);
}

static void seventeen_deep(pchat_jw_t *w)
{
	int i;

	for (i = 0; i < 17; i++)
		pchat_jw_array(w, NULL);
	for (i = 0; i < 17; i++)
		pchat_jw_end(w);
}

static void object_in_array_named(pchat_jw_t *w)
{
	pchat_jw_object(w, NULL);
	pchat_jw_array(w, "a");
	pchat_jw_object(w, "o");
	pchat_jw_end(w);
}

static void writer_fails_on_bad_nesting(void **state)
{
	pchat_buf_t b;
	pchat_jw_t w;
	int i;

	(void)state;
	writer_fails(key_in_array, "[1");
	writer_fails(no_key_in_object, "{");
	writer_fails(key_at_top, "");
	writer_fails(two_top_values, "{}");
	writer_fails(end_of_nothing, "[]");
	writer_fails(seventeen_deep, "[[[[[[[[[[[[[[[[");
	writer_fails(object_in_array_named, "{\"a\":[");

	/* sixteen is the bound, and it holds */
	pchat_buf_init(&b);
	pchat_jw_init(&w, &b);
	for (i = 0; i < PCHAT_JW_MAX_DEPTH; i++)
		pchat_jw_object(&w, i ? "k" : NULL);
	for (i = 0; i < PCHAT_JW_MAX_DEPTH; i++)
		pchat_jw_end(&w);
	assert_true(pchat_jw_done(&w));
	assert_int_equal(b.len, 16 * 2 + 15 * 4);
	pchat_buf_free(&b);

	/* a buffer that runs out of room fails the writer */
	{
		char small[8];

		pchat_buf_init_on(&b, small, sizeof(small));
		pchat_jw_init(&w, &b);
		pchat_jw_array(&w, NULL);
		assert_true(pchat_jw_ok(&w));
		pchat_jw_str(&w, NULL, "too long for eight bytes");
		assert_false(pchat_jw_ok(&w));
		pchat_jw_end(&w);
		assert_false(pchat_jw_done(&w));
	}
}

static void round_trips(void **state)
{
	pchat_buf_t b, b2;
	pchat_jw_t w;
	pchat_json_t *j, *j2;
	const pchat_json_t *a;

	(void)state;
	pchat_buf_init(&b);
	pchat_jw_init(&w, &b);
	pchat_jw_object(&w, NULL);
	pchat_jw_str(&w, "html", "<script>alert(\"&\")</script>");
	pchat_jw_str(&w, "ctl", "\x01\x7f\n\xe2\x80\xa8");
	pchat_jw_str(&w, "emoji \xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");
	pchat_jw_int(&w, "max", 9223372036854775807LL);
	pchat_jw_double(&w, "d", 0.30000000000000004);
	pchat_jw_array(&w, "a");
	pchat_jw_bool(&w, NULL, 1);
	pchat_jw_null(&w, NULL);
	pchat_jw_object(&w, NULL);
	pchat_jw_end(&w);
	pchat_jw_end(&w);
	pchat_jw_end(&w);
	assert_true(pchat_jw_done(&w));

	assert_non_null(j = parse_n(b.s, b.len, 16));
	assert_string_equal(pchat_json_str(j, "html"), "<script>alert(\"&\")</script>");
	assert_string_equal(pchat_json_str(j, "ctl"), "\x01\x7f\n\xe2\x80\xa8");
	assert_string_equal(pchat_json_str(j, "emoji \xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
	assert_true(pchat_json_get(j, "max")->is_int);
	assert_true(pchat_json_get(j, "max")->i == 9223372036854775807LL);
	assert_false(pchat_json_get(j, "d")->is_int);
	assert_true(pchat_json_get(j, "d")->n == 0.30000000000000004);
	a = pchat_json_get(j, "a");
	assert_int_equal(a->len, 3);
	assert_int_equal(a->child->next->next->type, PCHAT_JSON_OBJECT);

	/* the parsed tree written again is the same text, and reads back the same */
	pchat_buf_init(&b2);
	pchat_jw_init(&w, &b2);
	pchat_jw_value(&w, NULL, j);
	assert_true(pchat_jw_done(&w));
	assert_string_equal(b2.s, b.s);
	assert_non_null(j2 = parse_n(b2.s, b2.len, 16));
	assert_true(pchat_json_equal(j, j2));
	pchat_json_free(j2);
	pchat_buf_free(&b2);
	pchat_json_free(j);
	pchat_buf_free(&b);

	/* a parsed document with every kind of number, written back canonically */
	assert_non_null(j = parse(" [ 1E2 , -0 , 1.50 , 12345678901234567890 , {\"k\" : \"\\u00e9\"} ] "));
	pchat_buf_init(&b);
	pchat_jw_init(&w, &b);
	pchat_jw_value(&w, NULL, j);
	assert_true(pchat_jw_done(&w));
	assert_string_equal(b.s, "[100.0,0,1.5,1.2345678901234567e+19,{\"k\":\"\xc3\xa9\"}]");
	assert_non_null(j2 = parse_n(b.s, b.len, 16));
	assert_true(pchat_json_equal(j, j2));
	pchat_json_free(j2);
	pchat_json_free(j);
	pchat_buf_free(&b);

	/* a tree deeper than the writer allows fails it, without writing on */
	{
		char *deep = nested(17, 0);

		assert_non_null(j = parse_n(deep, strlen(deep), 17));
		pchat_buf_init(&b);
		pchat_jw_init(&w, &b);
		pchat_jw_value(&w, NULL, j);
		assert_false(pchat_jw_ok(&w));
		assert_string_equal(b.s, "[[[[[[[[[[[[[[[[");
		pchat_buf_free(&b);
		pchat_json_free(j);
		free(deep);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_a_nested_document),
		cmocka_unit_test(reads_top_level_scalars),
		cmocka_unit_test(reads_escapes_and_unicode),
		cmocka_unit_test(reads_numbers),
		cmocka_unit_test(refuses_with_a_reason),
		cmocka_unit_test(places_errors_by_line_and_column),
		cmocka_unit_test(refuses_invalid_utf8),
		cmocka_unit_test(refuses_nul_bytes_in_the_input),
		cmocka_unit_test(bounds_the_depth),
		cmocka_unit_test(refuses_duplicates_in_large_objects),
		cmocka_unit_test(refuses_every_prefix_of_a_document),
		cmocka_unit_test(errors_fit_any_buffer),
		cmocka_unit_test(survives_running_out_of_memory),
		cmocka_unit_test(writes_exact_json),
		cmocka_unit_test(writes_html_safe_strings),
		cmocka_unit_test(writes_doubles_that_read_back),
		cmocka_unit_test(writer_fails_on_bad_nesting),
		cmocka_unit_test(round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
