/* The XCCOS parser refuses hostile input and reads commands and posts; the builders escape. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "pchat_xccos.h"

#define NS "xmlns=\"urn:parlano:xml:ns:xccos\""

static pchat_rc_t parse(const char *body, pchat_env_t *env)
{
	char err[160];

	return pchat_xccos_parse(body, strlen(body), 16384, env, err, sizeof(err));
}

static void parses_a_command(void **state)
{
	pchat_env_t env;
	char buf[64];

	(void)state;
	assert_int_equal(parse("<xccos ver=\"1\" envid=\"18446744073709551\" " NS ">"
			"<cmd id=\"cmd:join\" seqid=\"7\"><data><chanid key=\"0\" domain=\"pchat.test\" "
			"value=\"abc\"/></data></cmd></xccos>", &env), PCHAT_OK);
	assert_int_equal(env.kind, PCHAT_ENV_CMD);
	assert_string_equal(env.name, "join");
	assert_string_equal(env.seqid, "7");
	assert_true(env.envid == 18446744073709551ULL);
	assert_non_null(env.data);
	assert_int_equal(pchat_xml_attr(pchat_xml_child(env.data, "chanid"), "value", buf,
			sizeof(buf)), 3);
	assert_string_equal(buf, "abc");
	assert_int_equal(pchat_xml_attr(pchat_xml_child(env.data, "chanid"), "value", buf, 3), -2);
	assert_int_equal(pchat_xml_attr(pchat_xml_child(env.data, "chanid"), "nope", buf, 9), -1);
	pchat_xccos_free(&env);
}

static void parses_a_post_and_keeps_its_content(void **state)
{
	pchat_env_t env;
	pchat_buf_t inner, text;

	(void)state;
	assert_int_equal(parse("<xccos ver=\"1\" envid=\"5\" " NS "><grpchat id=\"grpchat\" "
			"seqid=\"1\" chanUri=\"ma-chan://pchat.test/g\" author=\"sip:mallory@evil\" "
			"ts=\"2019-10-12T14:26:17Z\"><chat>a &amp; b &lt;c&gt; \xc3\xa9</chat>"
			"<x:rtf xmlns:x=\"urn:x\">r</x:rtf></grpchat></xccos>", &env), PCHAT_OK);
	assert_int_equal(env.kind, PCHAT_ENV_POST);
	pchat_buf_init(&inner);
	pchat_buf_init(&text);
	pchat_xml_inner(env.node, &inner);
	pchat_xml_text(pchat_xml_child(env.node, "chat"), &text);
	assert_string_equal(inner.s, "<chat>a &amp; b &lt;c&gt; \xc3\xa9</chat>"
			"<x:rtf xmlns:x=\"urn:x\">r</x:rtf>");
	assert_string_equal(text.s, "a & b <c> \xc3\xa9");
	assert_int_equal(pchat_utf8_chars(text.s, text.len), 11);
	pchat_buf_free(&inner);
	pchat_buf_free(&text);
	pchat_xccos_free(&env);
}

static void refuses_hostile_and_broken_input(void **state)
{
	static const struct {
		const char *body;
		pchat_rc_t want;
	} cases[] = {
		{"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]>"
		 "<xccos><cmd id=\"cmd:join\"><data>&b;</data></cmd></xccos>", PCHAT_ERR_UNSAFE},
		{"<!DOCTYPE xccos SYSTEM \"http://evil.example/x.dtd\"><xccos/>", PCHAT_ERR_UNSAFE},
		{"<xccos><cmd id=\"cmd:join\"><data>", PCHAT_ERR_MALFORMED},
		{"<xccos><cmd id=\"cmd:join\">\xff\xfe</cmd></xccos>", PCHAT_ERR_MALFORMED},
		{"<xccos><cmd id=\"cmd:join\">\xc3\x28</cmd></xccos>", PCHAT_ERR_MALFORMED},
		{"not xml at all", PCHAT_ERR_MALFORMED},
		{"", PCHAT_ERR_MALFORMED},
		{"<html><body/></html>", PCHAT_ERR_INVALID},
		{"<xccos " NS "><rpl id=\"rpl:join\"/></xccos>", PCHAT_ERR_INVALID},
		{"<xccos " NS "><cmd id=\"join\"/></xccos>", PCHAT_ERR_INVALID},
		{"<xccos " NS "><cmd id=\"cmd:jo in\"/></xccos>", PCHAT_ERR_INVALID},
		{"<xccos " NS "><cmd id=\"cmd:\"/></xccos>", PCHAT_ERR_INVALID},
	};
	pchat_env_t env;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].body, &env), cases[i].want);
		assert_null(env.doc);
	}
}

/* libxml2's malloc, which fails once when armed. */
static xmlMallocFunc xml_malloc;
static int xml_malloc_fails;

static void *failing_xml_malloc(size_t size)
{
	if (xml_malloc_fails) {
		xml_malloc_fails = 0;
		return NULL;
	}
	return xml_malloc(size);
}

/* A parser that cannot be had is a shortage of memory, not a body at fault. */
static void a_parser_without_memory_is_no_memory(void **state)
{
	xmlFreeFunc free_f;
	xmlReallocFunc realloc_f;
	xmlStrdupFunc strdup_f;
	pchat_env_t env;

	(void)state;
	xmlMemGet(&free_f, &xml_malloc, &realloc_f, &strdup_f);
	xmlMemSetup(free_f, failing_xml_malloc, realloc_f, strdup_f);
	xml_malloc_fails = 1; /* the parser's context is the first thing it allocates */
	assert_int_equal(parse("<xccos ver=\"1\" envid=\"1\" " NS "/>", &env), PCHAT_ERR_NO_MEMORY);
	assert_null(env.doc);
	xmlMemSetup(free_f, xml_malloc, realloc_f, strdup_f);
}

static void refuses_oversized_bodies(void **state)
{
	char err[64];
	pchat_env_t env;
	const char *body = "<xccos><cmd id=\"cmd:requri\"/></xccos>";

	(void)state;
	assert_int_equal(pchat_xccos_parse(body, strlen(body), 10, &env, err, sizeof(err)),
			PCHAT_ERR_TOO_LARGE);
}

static void missing_or_bad_numbers_are_defaults(void **state)
{
	pchat_env_t env;

	(void)state;
	assert_int_equal(parse("<xccos envid=\"-4\" " NS "><cmd id=\"cmd:requri\" seqid=\"x\"/></xccos>",
			&env), PCHAT_OK);
	assert_true(env.envid == 0);
	assert_string_equal(env.seqid, "1");
	assert_null(env.data);
	pchat_xccos_free(&env);
}

/* Every result has one SIP status, XCCOS code and RPC fault (the module docs list them);
 * a count is a success, an unknown failure a server error. */
static void results_map_to_one_code_each(void **state)
{
	static const struct {
		pchat_rc_t rc;
		int code;
	} expect[] = {
		{PCHAT_OK, 200}, {PCHAT_ERR_FAILED, 500}, {PCHAT_ERR_DOWN, 503},
		{PCHAT_ERR_DUPLICATE, 409}, {PCHAT_ERR_NOT_FOUND, 404}, {PCHAT_ERR_INVALID, 400},
		{PCHAT_ERR_MALFORMED, 400}, {PCHAT_ERR_UNSAFE, 400}, {PCHAT_ERR_FORBIDDEN, 403},
		{PCHAT_ERR_CONFLICT, 409}, {PCHAT_ERR_FULL, 403}, {PCHAT_ERR_TOO_LARGE, 413},
		{PCHAT_ERR_NO_MEMORY, 500}, {PCHAT_ERR_NOT_SUPPORTED, 501},
		{(pchat_rc_t)7, 200}, {(pchat_rc_t)-99, 500},
	};
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		assert_int_equal(pchat_rc_sip(expect[i].rc), expect[i].code);
		assert_int_equal(pchat_rc_xccos(expect[i].rc), expect[i].code);
		assert_int_equal(pchat_rc_rpc(expect[i].rc), expect[i].code);
		assert_non_null(pchat_rc_reason(expect[i].rc));
		assert_true(strlen(pchat_rc_text(expect[i].rc)) > 0);
	}
	assert_string_equal(pchat_rc_reason(PCHAT_ERR_TOO_LARGE), "Request Entity Too Large");
}

static void builds_escaped_replies(void **state)
{
	pchat_env_t cmd;
	pchat_buf_t b;

	(void)state;
	assert_int_equal(parse("<xccos envid=\"42\" " NS "><cmd id=\"cmd:join\" seqid=\"3\"/></xccos>",
			&cmd),
			PCHAT_OK);
	pchat_buf_init(&b);
	pchat_xccos_open(&b, 9);
	pchat_xccos_rpl_open(&b, &cmd, "join", PCHAT_ERR_FORBIDDEN, "room <closed> & \"locked\"");
	pchat_xccos_rpl_close(&b);
	pchat_xccos_close(&b);
	assert_true(pchat_buf_ok(&b));
	assert_string_equal(b.s, "<xccos ver=\"1\" envid=\"9\" xmlns=\"urn:parlano:xml:ns:xccos\">"
			"<rpl id=\"rpl:join\" seqid=\"3\"><commandid seqid=\"3\" envid=\"42\"/>"
			"<resp code=\"403\">room &lt;closed&gt; &amp; &quot;locked&quot;</resp><data></data>"
			"</rpl></xccos>");
	pchat_buf_free(&b);
	pchat_xccos_free(&cmd);
}

static void builds_posts_and_times(void **state)
{
	pchat_buf_t b;
	char ts[32];

	(void)state;
	pchat_xccos_time("2026-11-24 08:01:02.345678", ts, sizeof(ts));
	assert_string_equal(ts, "2026-11-24T08:01:02.3456780Z");
	pchat_xccos_time("2026-11-24 08:01:02", ts, sizeof(ts));
	assert_string_equal(ts, "2026-11-24T08:01:02.0000000Z");
	pchat_buf_init(&b);
	pchat_xccos_post(&b, "msg", "ma-chan://d/g", "sip:a\"b@d", ts, "<chat>x</chat>");
	assert_string_equal(b.s, "<msg id=\"grpchat\" seqid=\"1\" chanUri=\"ma-chan://d/g\" "
			"author=\"sip:a&quot;b@d\" ts=\"2026-11-24T08:01:02.0000000Z\"><chat>x</chat></msg>");
	pchat_buf_reset(&b);
	pchat_buf_adds_xml(&b, "a\x01\tb'");
	assert_string_equal(b.s, "a\tb&apos;");
	pchat_buf_free(&b);
}

/* Whatever a text holds (a name written into the database by hand, an identity from a SIP
 * header), escaping keeps only characters XML allows, so every reply stays well-formed. */
static void escaping_drops_what_xml_does_not_allow(void **state)
{
	pchat_buf_t b;

	(void)state;
	pchat_buf_init(&b);
	pchat_buf_adds_xml(&b, "a\x01" "b"       /* a control character */
			"\xff\xfe"                         /* not UTF-8 */
			"\xc3\xa9"                         /* e acute: kept */
			"\xed\xa0\x80"                     /* a surrogate */
			"\xef\xbf\xbe\xef\xbf\xbf"           /* U+FFFE, U+FFFF */
			"\xc0\xaf"                         /* overlong "/" */
			"\xf0\x9f\x98\x80"                 /* an emoji: kept */
			"\xe2\x82");                       /* cut short */
	assert_true(pchat_buf_ok(&b));
	assert_string_equal(b.s, "ab\xc3\xa9\xf0\x9f\x98\x80");
	assert_true(pchat_utf8_valid("\xc3\xa9\xf0\x9f\x98\x80", 6));
	assert_false(pchat_utf8_valid("\xef\xbf\xbf", 3));
	assert_false(pchat_utf8_valid("\xe2\x82", 2));
	pchat_buf_free(&b);
}

/* Builds with one builder into a fresh buffer and compares. */
#define ASSERT_BUILDS(expected, call) \
	do { \
		pchat_buf_t b_; \
		pchat_buf_init(&b_); \
		call(&b_); \
		assert_true(pchat_buf_ok(&b_)); \
		assert_string_equal(b_.s, expected); \
		pchat_buf_free(&b_); \
	} while (0)

#define ODD "<a&b \"c\" 'd'>"
#define ODD_ESCAPED "&lt;a&amp;b &quot;c&quot; &apos;d&apos;&gt;"

static const pchat_room_t odd_room = {.guid = "g", .name = ODD, .description = "d\x01",
	.topic = "t"};

static void build_join_parts(pchat_buf_t *b)
{
	static const int ids[] = {0, 2, 1};
	static const unsigned roles[] = {PCHAT_ROLE_MANAGER, PCHAT_ROLE_MEMBER, 0};

	pchat_xccos_uib(b, 0, "sip:" ODD "@d");
	pchat_xccos_chanib_open(b, "ma-chan://d/g", &odd_room);
	pchat_xccos_aibs(b, ids, roles, 3);
	pchat_xccos_chanib_close(b);
}

static void build_aibs_without_managers(pchat_buf_t *b)
{
	static const int ids[] = {1};
	static const unsigned roles[] = {PCHAT_ROLE_PRESENTER};

	pchat_xccos_aibs(b, ids, roles, 1);
	pchat_xccos_aibs(b, ids, roles, 0);
}

/* A join reply's users, its room (the room's texts escaped, what XML does not allow dropped)
 * and the participants' ids split into participants and managers. */
static void builds_join_replies(void **state)
{
	(void)state;
	ASSERT_BUILDS("<uib id=\"0\" uri=\"sip:" ODD_ESCAPED "@d\"/>"
			"<chanib uri=\"ma-chan://d/g\" name=\"" ODD_ESCAPED "\" description=\"d\" topic=\"t\">"
			"<aib key=\"3984\" value=\"2,1\"/><aib key=\"12276\" value=\"0\"/></chanib>",
			build_join_parts);
	ASSERT_BUILDS("<aib key=\"3984\" value=\"1\"/>", build_aibs_without_managers);
}

static char long_value[PCHAT_XCCOS_FIB_DOMAIN_MAX + 2];

static void build_fibs(pchat_buf_t *b)
{
	size_t before;

	pchat_xccos_fib(b, "v&", "d<");
	/* over their bounds once escaped: left empty */
	memset(long_value, '&', PCHAT_XCCOS_FIB_DOMAIN_MAX / 5 + 1);
	before = b->len;
	pchat_xccos_fib(b, long_value, long_value);
	assert_true(b->len - before <= PCHAT_XCCOS_FIB_MAX);
	/* at their bounds: echoed, and still within PCHAT_XCCOS_FIB_MAX */
	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[PCHAT_XCCOS_FIB_VALUE_MAX] = '\0';
	before = b->len;
	pchat_xccos_fib(b, long_value, "");
	assert_true(b->len - before <= PCHAT_XCCOS_FIB_MAX);
	assert_true(b->len - before > PCHAT_XCCOS_FIB_VALUE_MAX);
	pchat_buf_truncate(b, before);
}

/* A fib echoes what the client sent, escaped, and never more than its bounds. */
static void builds_bounded_fibs(void **state)
{
	(void)state;
	ASSERT_BUILDS("<fib key=\"OPERATION_FAILED\" value=\"v&amp;\" domain=\"d&lt;\"/>"
			"<fib key=\"OPERATION_FAILED\" value=\"\" domain=\"\"/>", build_fibs);
	assert_int_equal(pchat_buf_xml_size(ODD), strlen(ODD_ESCAPED));
	assert_int_equal(pchat_buf_xml_size("a\x01\xff"), 1);
	assert_int_equal(pchat_buf_xml_size(""), 0);
}

static void build_notices(pchat_buf_t *b)
{
	pchat_xccos_ntc_join(b, "bjoin", "sip:" ODD "@d", 1, "d&", "g");
	pchat_xccos_ntc_join(b, "join", "sip:u@d", 0, "d", "g");
	pchat_xccos_ntc_part(b, "ma-chan://d/g", "sip:" ODD "@d");
}

static void builds_join_and_part_notices(void **state)
{
	(void)state;
	ASSERT_BUILDS("<ntc id=\"ntc:bjoin\"><data><uib uri=\"sip:" ODD_ESCAPED "@d\">"
			"<aib key=\"12276\" domain=\"d&amp;\" value=\"g\"/></uib></data></ntc>"
			"<ntc id=\"ntc:join\"><data><uib uri=\"sip:u@d\">"
			"<aib key=\"3984\" domain=\"d\" value=\"g\"/></uib></data></ntc>"
			"<ntc id=\"ntc:part\"><data><chanib uri=\"ma-chan://d/g\"><uib uri=\"sip:"
			ODD_ESCAPED "@d\"/></chanib></data></ntc>", build_notices);
}

static void build_small_elements(pchat_buf_t *b)
{
	static const pchat_post_t post = {3, "sip:" ODD "@d", "2026-11-24 08:01:02.5", "<chat/>"};

	pchat_xccos_uib_uri(b, "sip:pchat@d&");
	pchat_xccos_chanib_ref(b, "ma-chan://d/g&");
	pchat_xccos_backchat(b, "ma-chan://d/g", "", 0);
	pchat_xccos_backchat(b, "ma-chan://d/g", "<msg/>x", 6);
	pchat_xccos_stored_post(b, "grpchat", "ma-chan://d/g", &post);
	pchat_xccos_sib(b, ODD, "T", 1, 2, 3, "ma-cat://d/" ODD, NULL);
	pchat_xccos_sib(b, "1", "T", 1, 2, 3, "r", "https://h/RM/?a=1&b=\"2\"");
	pchat_xccos_pref(b, ODD, 18446744073709551615ULL, "c\"\n");
}

static void builds_small_elements(void **state)
{
	(void)state;
	ASSERT_BUILDS("<uib uri=\"sip:pchat@d&amp;\"/>"
			"<chanib uri=\"ma-chan://d/g&amp;\"/>"
			"<chanib uri=\"ma-chan://d/g\"></chanib>"
			"<chanib uri=\"ma-chan://d/g\"><msg/></chanib>"
			"<grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"ma-chan://d/g\" author=\"sip:"
			ODD_ESCAPED "@d\" ts=\"2026-11-24T08:01:02.5000000Z\"><chat/></grpchat>"
			"<sib infoType=\"" ODD_ESCAPED "\" serverTime=\"T\" searchLimit=\"1\" "
			"messageSizeLimit=\"2\" storySizeLimit=\"3\" rootUri=\"ma-cat://d/" ODD_ESCAPED "\"/>"
			"<sib infoType=\"1\" serverTime=\"T\" searchLimit=\"1\" messageSizeLimit=\"2\" "
			"storySizeLimit=\"3\" rootUri=\"r\" roomManagementUrl=\"https://h/RM/?a=1&amp;b=&quot;2&quot;\"/>"
			"<pref label=\"" ODD_ESCAPED "\" seqid=\"18446744073709551615\" content=\"c&quot;\n\"/>",
			build_small_elements);
}

/* A room list's entry leaves its user count to be filled in where it says. */
static void builds_room_entries_and_invitations(void **state)
{
	static const pchat_invitation_t inv = {12, "2026-03-04 05:06:07.123456", "sip:" ODD "@d",
		{7, "g", ODD, "", PCHAT_CLOSED, 1, 0, 1}};
	pchat_buf_t b;
	size_t at;

	(void)state;
	pchat_buf_init(&b);
	pchat_xccos_inv_open(&b, &inv, "d&");
	pchat_xccos_room_entry(&b, "ma-chan://d/g", &inv.room, &at);
	pchat_xccos_inv_close(&b);
	assert_true(pchat_buf_ok(&b));
	assert_string_equal(b.s, "<inv inviteId=\"12\" domain=\"d&amp;\" "
			"created=\"2026-03-04T05:06:07.1234560Z\" inviter=\"sip:" ODD_ESCAPED "@d\">"
			"<chanib name=\"" ODD_ESCAPED "\" description=\"\" uri=\"ma-chan://d/g\">"
			"<info id=\"urn:parlano:ma:info:ucnt\"></info>"
			"<info id=\"urn:parlano:ma:info:visibilty\">private</info>"
			"<prop id=\"urn:parlano:ma:prop:filepost\">true</prop>"
			"<prop id=\"urn:parlano:ma:prop:invite\">false</prop>"
			"<prop id=\"urn:parlano:ma:prop:logged\">true</prop></chanib></inv>");
	assert_memory_equal(b.s + at - strlen("ucnt\">"), "ucnt\"></info>", 13);
	pchat_buf_free(&b);
}

/* A buffer on fixed storage fails instead of growing, and is not freed. */
static void fixed_buffers_fail_instead_of_growing(void **state)
{
	char storage[8];
	pchat_buf_t b;

	(void)state;
	pchat_buf_init_on(&b, storage, sizeof(storage));
	pchat_buf_adds(&b, "1234567");
	assert_true(pchat_buf_ok(&b));
	assert_string_equal(storage, "1234567");
	pchat_buf_adds(&b, "8");
	assert_false(pchat_buf_ok(&b));
	pchat_buf_free(&b);
}

/* Formatted text and numbers land whole, whether they fit in the free space, make the buffer
 * grow, or overflow fixed storage (which then keeps its text as it was). */
static void formats_and_numbers(void **state)
{
	char storage[12];
	pchat_buf_t b;
	int i;

	(void)state;
	pchat_buf_init(&b);
	for (i = 0; i < 100; i++)
		pchat_buf_addf(&b, "<%s %d/>", "x", i);
	assert_true(pchat_buf_ok(&b));
	assert_int_equal(b.len, 10 * 6 + 90 * 7);
	assert_memory_equal(b.s + b.len - 7, "<x 99/>", 8);
	pchat_buf_reset(&b);
	pchat_buf_add_uint(&b, 0);
	pchat_buf_adds(&b, ",");
	pchat_buf_add_uint(&b, 18446744073709551615ULL);
	assert_string_equal(b.s, "0,18446744073709551615");
	pchat_buf_free(&b);
	pchat_buf_init_on(&b, storage, sizeof(storage));
	pchat_buf_addf(&b, "%s", "abc");
	pchat_buf_addf(&b, "%d", 123456789);
	assert_false(pchat_buf_ok(&b));
	assert_string_equal(storage, "abc");
	pchat_buf_free(&b);
}

/* The text a moderation records as a message's previous one: what the post's CHAT event had. */
static void stored_text_is_the_chat_text(void **state)
{
	static const struct {
		const char *content, *text;
	} cases[] = {
		{"<chat>a &lt; b &amp; c &gt; d &quot;q&quot;</chat>", "a < b & c > d \"q\""},
		{"<chat>first line\nsecond line</chat>", "first line\nsecond line"},
		{"<chat>\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xf0\x9f\x98\x80</chat>",
			"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xf0\x9f\x98\x80"},
		{"<rtf>ignored</rtf><chat>rich <b>bold</b> text</chat>", "rich bold text"},
		{"<alert/>", ""},
		{"<chat>not closed", ""},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pchat_buf_t b;

		pchat_buf_init(&b);
		pchat_xccos_stored_text(cases[i].content, &b);
		assert_false(b.failed);
		assert_string_equal(b.s ? b.s : "", cases[i].text);
		pchat_buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_a_command),
		cmocka_unit_test(parses_a_post_and_keeps_its_content),
		cmocka_unit_test(refuses_hostile_and_broken_input),
		cmocka_unit_test(refuses_oversized_bodies),
		cmocka_unit_test(a_parser_without_memory_is_no_memory),
		cmocka_unit_test(missing_or_bad_numbers_are_defaults),
		cmocka_unit_test(results_map_to_one_code_each),
		cmocka_unit_test(builds_escaped_replies),
		cmocka_unit_test(builds_posts_and_times),
		cmocka_unit_test(escaping_drops_what_xml_does_not_allow),
		cmocka_unit_test(builds_join_replies),
		cmocka_unit_test(builds_bounded_fibs),
		cmocka_unit_test(builds_join_and_part_notices),
		cmocka_unit_test(builds_small_elements),
		cmocka_unit_test(builds_room_entries_and_invitations),
		cmocka_unit_test(fixed_buffers_fail_instead_of_growing),
		cmocka_unit_test(formats_and_numbers),
		cmocka_unit_test(stored_text_is_the_chat_text),
	};

	pchat_xccos_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
