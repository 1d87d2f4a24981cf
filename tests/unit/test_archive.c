/*
 * The compliance archive's output (pchat_archive.c): the three forms of Lync's times, the XML of
 * Lync's compliance adapter (parsed back with libxml2 and validated against
 * tests/compliance/lync-compliance.xsd), JSON Lines, write failures, the sandboxed XSLT and the
 * atomic publication of a file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <libxslt/xslt.h>
#include <libxslt/xsltutils.h>

#include "pchat_alloc.h"
#include "pchat_archive.h"

#ifndef PCHAT_COMPLIANCE_XSD
#define PCHAT_COMPLIANCE_XSD "../compliance/lync-compliance.xsd"
#endif

/* 2008-06-04T20:15:40.953548Z, the microsecond-aligned form of SERVICES.md's sample instant */
#define SAMPLE_US 1212610540953548LL

/* ------------------------------------------------------------------ time */

static void assert_forms(int64_t unix_us, long long since1970, long long ticks, const char *iso)
{
	pchat_time_forms_t f;

	pchat_time_forms(unix_us, &f);
	assert_int_equal(f.since1970, since1970);
	assert_int_equal(f.ticks, ticks);
	assert_string_equal(f.iso, iso);
}

static void time_forms_of_lyncs_sample_instant(void **state)
{
	(void)state;
	/* Lync's sample 2008-06-04T20:15:40.9535482Z is ticks 633482073409535482: one more digit
	 * than microseconds carry, so the formula is checked on the microsecond below it */
	assert_forms(SAMPLE_US, 1212610540953LL, 633482073409535480LL,
			"2008-06-04T20:15:40.9535480Z");
}

/* the sample's ticks, as the formula gives them from the microsecond below */
_Static_assert(633482073409535482LL - 2 == SAMPLE_US * 10 + 621355968000000000LL,
		"SAMPLE_US is Lync's sample instant");

static void time_forms_of_the_epoch(void **state)
{
	(void)state;
	assert_forms(0, 0, 621355968000000000LL, "1970-01-01T00:00:00.0000000Z");
	assert_forms(999, 0, 621355968000009990LL, "1970-01-01T00:00:00.0009990Z");
}

static void time_forms_before_1970_round_down(void **state)
{
	(void)state;
	/* one microsecond before the epoch is in the millisecond -1, not 0 */
	assert_forms(-1, -1, 621355967999999990LL, "1969-12-31T23:59:59.9999990Z");
	assert_forms(-1000, -1, 621355967999990000LL, "1969-12-31T23:59:59.9990000Z");
	assert_forms(-1001, -2, 621355967999989990LL, "1969-12-31T23:59:59.9989990Z");
	/* 1969-07-20T20:17:40.000001Z */
	assert_forms(-14182939999999LL, -14182940000LL, 621214138600000010LL,
			"1969-07-20T20:17:40.0000010Z");
}

static void time_forms_of_a_leap_day(void **state)
{
	(void)state;
	assert_forms(1709251199999999LL, 1709251199999LL, 638448479999999990LL,
			"2024-02-29T23:59:59.9999990Z");
	/* the next microsecond is March 1st */
	assert_forms(1709251200000000LL, 1709251200000LL, 638448480000000000LL,
			"2024-03-01T00:00:00.0000000Z");
	/* 2000 is a leap year (divisible by 400), 1900 is not */
	assert_forms(951782400000000LL, 951782400000LL, 630873792000000000LL,
			"2000-02-29T00:00:00.0000000Z");
	assert_forms(-2203891200000000LL, -2203891200000LL, 599317056000000000LL,
			"1900-03-01T00:00:00.0000000Z");
}

static void time_forms_stay_in_dotnets_range(void **state)
{
	(void)state;
	assert_forms(253402300799999999LL, 253402300799999LL, 3155378975999999990LL,
			"9999-12-31T23:59:59.9999990Z");
	assert_forms(-62135596800000000LL, -62135596800000LL, 0, "0001-01-01T00:00:00.0000000Z");
	/* beyond: clamped, no overflow */
	assert_forms(INT64_MAX, 253402300799999LL, 3155378975999999990LL,
			"9999-12-31T23:59:59.9999990Z");
	assert_forms(INT64_MIN, -62135596800000LL, 0, "0001-01-01T00:00:00.0000000Z");
}

static void kind_names_round_trip(void **state)
{
	int k;

	(void)state;
	for (k = 0; k < PCHAT_EV_KINDS; k++)
		assert_int_equal(pchat_event_kind_of(pchat_event_kind_name(k)), k);
	assert_string_equal(pchat_event_kind_name(PCHAT_EV_FILEDOWNLOAD), "FILEDOWNLOAD");
	assert_null(pchat_event_kind_name(PCHAT_EV_KINDS));
	assert_null(pchat_event_kind_name((pchat_event_kind_t)-1));
	assert_int_equal(pchat_event_kind_of("join"), -1);
	assert_int_equal(pchat_event_kind_of(NULL), -1);
	assert_true(pchat_event_kind_in_xml(PCHAT_EV_JOIN));
	assert_true(pchat_event_kind_in_xml(PCHAT_EV_FILEDOWNLOAD));
	assert_false(pchat_event_kind_in_xml(PCHAT_EV_REPLACE));
	assert_false(pchat_event_kind_in_xml(PCHAT_EV_CLEAR));
	assert_false(pchat_event_kind_in_xml(PCHAT_EV_KINDS));
}

/* ------------------------------------------------------------------ events */

#define ROOM_A "ma-chan://example.com/6c3b0d6e-0e7d-4a6b-9f61-1c7c2d3e4f50"
#define ROOM_B "ma-chan://example.com/0b1c2d3e-4f50-4a6b-9f61-6c3b0d6e0e7d"
#define ROOM_C "ma-chan://example.com/99999999-4f50-4a6b-9f61-6c3b0d6e0e7d"

/* Everything XML must escape or replace: markup characters, quotes, line ends and tabs,
 * right-to-left Hebrew and Arabic, a 4-byte emoji, U+0001 and a byte that is not UTF-8. */
#define HARD_TEXT "a<b & \"c\" 'd'\nline\ttab \xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D " \
	"\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 \xF0\x9F\x98\x80 x\x01y\xFFz"
/* The same after a round trip through XML: U+0001 and 0xFF are each U+FFFD. */
#define HARD_TEXT_IN_XML "a<b & \"c\" 'd'\nline\ttab \xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D " \
	"\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 \xF0\x9F\x98\x80 x\xEF\xBF\xBDy\xEF\xBF\xBDz"

static pchat_event_t event(pchat_event_kind_t kind, int64_t t, uint64_t room, const char *user,
		long long user_id, uint64_t msg_id, const char *content)
{
	pchat_event_t ev = {0};

	ev.id = (uint64_t)t;
	ev.kind = kind;
	ev.unix_us = t;
	ev.room_id = room;
	ev.room_uri = room == 1 ? ROOM_A : room == 2 ? ROOM_B : ROOM_C;
	ev.room_name = room == 1 ? "Room <A> & co" : room == 2 ? "Room B" : "Room C";
	ev.room_logged = room != 2;
	ev.user = user;
	ev.user_id = user_id;
	ev.user_internal = -1;
	ev.msg_id = msg_id;
	ev.content = content;
	return ev;
}

#define T0 SAMPLE_US
#define SEC 1000000LL

/* Room A (seven events XML carries and a REPLACE), room C (moderation only), room B (two, then
 * a CLEAR). */
static size_t two_rooms(pchat_event_t *evs)
{
	size_t n = 0;

	evs[n++] = event(PCHAT_EV_JOIN, T0, 1, "sip:alice@example.com", 3, 0, "");
	evs[n++] = event(PCHAT_EV_CHAT, T0 + SEC, 1, "sip:alice@example.com", 3, 17, HARD_TEXT);
	evs[n++] = event(PCHAT_EV_REPLACE, T0 + 2 * SEC, 1, "admin@example.com", 9, 17, "edited");
	evs[n++] = event(PCHAT_EV_BACKCHAT, T0 + 3 * SEC, 1, "sip:bob@example.com", 4, 0, "12-41");
	evs[n++] = event(PCHAT_EV_FILEUPLOAD, T0 + 4 * SEC, 1, "sip:alice@example.com", 3, 0,
			"0988239a-bb66-4616-90a4-b07771a2097c.txt");
	evs[n++] = event(PCHAT_EV_FILEDOWNLOAD, T0 + 5 * SEC, 1, "sip:bob@example.com", 4, 0,
			"0988239a-bb66-4616-90a4-b07771a2097c.txt");
	evs[n++] = event(PCHAT_EV_CHAT, T0 + 6 * SEC, 1, "SIP:bob@example.com", 4, 18, "ok");
	evs[n++] = event(PCHAT_EV_PART, T0 + 7 * SEC, 1, "sip:alice@example.com", 3, 0, "");
	evs[n++] = event(PCHAT_EV_REPLACE, T0 + 8 * SEC, 3, "", 0, 5, "x");
	evs[n++] = event(PCHAT_EV_CLEAR, T0 + 9 * SEC, 3, "", 0, 0, "");
	evs[n++] = event(PCHAT_EV_JOIN, T0 + 10 * SEC, 2, "sip:carol@example.org", 5, 0, "");
	evs[n++] = event(PCHAT_EV_CHAT, T0 + 11 * SEC, 2, "sip:carol@example.org", 5, 1, "hi");
	evs[n++] = event(PCHAT_EV_CLEAR, T0 + 12 * SEC, 2, "", 0, 0, "");
	return n;
}

/* Writes the events with opts into a string (free()); *count is what pchat_archive_close
 * returned. Checks what each add returned: 1, or 0 for a kind the format skips. */
static char *write_events(const pchat_archive_opts_t *opts, const pchat_event_t *evs, size_t n,
		long long *count)
{
	char *text = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);
	pchat_archive_t *a;

	assert_non_null(f);
	a = pchat_archive_open(f, opts);
	assert_non_null(a);
	for (i = 0; i < n; i++) {
		int skipped = opts->format == PCHAT_ARCHIVE_XML && !pchat_event_kind_in_xml(evs[i].kind);

		assert_int_equal(pchat_archive_add(a, &evs[i]), skipped ? 0 : 1);
	}
	*count = pchat_archive_close(a);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* ------------------------------------------------------------------ reading XML back */

static xmlDocPtr parse_xml(const char *text)
{
	xmlDocPtr doc = xmlReadMemory(text, (int)strlen(text), "archive.xml", NULL, XML_PARSE_NONET);

	assert_non_null(doc);
	return doc;
}

static void assert_valid_against_xsd(xmlDocPtr doc)
{
	xmlSchemaParserCtxtPtr pctxt = xmlSchemaNewParserCtxt(PCHAT_COMPLIANCE_XSD);
	xmlSchemaPtr schema;
	xmlSchemaValidCtxtPtr vctxt;
	int r;

	assert_non_null(pctxt);
	schema = xmlSchemaParse(pctxt);
	assert_non_null(schema);
	vctxt = xmlSchemaNewValidCtxt(schema);
	assert_non_null(vctxt);
	r = xmlSchemaValidateDoc(vctxt, doc);
	xmlSchemaFreeValidCtxt(vctxt);
	xmlSchemaFree(schema);
	xmlSchemaFreeParserCtxt(pctxt);
	assert_int_equal(r, 0);
}

/* The i-th element child of parent named name (any name when NULL), or NULL. */
static xmlNodePtr child(xmlNodePtr parent, const char *name, int i)
{
	xmlNodePtr n;

	for (n = parent ? parent->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && (!name || strcmp((const char *)n->name, name) == 0)
				&& i-- == 0)
			return n;
	return NULL;
}

static int count_children(xmlNodePtr parent, const char *name)
{
	int n = 0;

	while (child(parent, name, n))
		n++;
	return n;
}

static void assert_attr(xmlNodePtr node, const char *name, const char *expected)
{
	xmlChar *v;

	assert_non_null(node);
	v = xmlGetNoNsProp(node, (const xmlChar *)name);
	if (!expected) {
		assert_null(v);
		return;
	}
	assert_non_null(v);
	assert_string_equal((const char *)v, expected);
	xmlFree(v);
}

/* Two elements with the same attributes in the same order and the same element children,
 * whatever the two elements' own names. */
static int same_content(xmlNodePtr a, xmlNodePtr b)
{
	xmlAttrPtr pa = a->properties, pb = b->properties;
	int i, equal;

	for (; pa && pb; pa = pa->next, pb = pb->next) {
		xmlChar *va = xmlNodeGetContent((xmlNodePtr)pa), *vb = xmlNodeGetContent((xmlNodePtr)pb);

		equal = strcmp((const char *)pa->name, (const char *)pb->name) == 0
			&& strcmp((const char *)va, (const char *)vb) == 0;
		xmlFree(va);
		xmlFree(vb);
		if (!equal)
			return 0;
	}
	if (pa || pb || count_children(a, NULL) != count_children(b, NULL))
		return 0;
	for (i = 0; child(a, NULL, i); i++)
		if (strcmp((const char *)child(a, NULL, i)->name, (const char *)child(b, NULL, i)->name)
				|| !same_content(child(a, NULL, i), child(b, NULL, i)))
			return 0;
	return 1;
}

static void assert_time(xmlNodePtr node, int64_t unix_us)
{
	pchat_time_forms_t f;
	char num[32];

	pchat_time_forms(unix_us, &f);
	snprintf(num, sizeof(num), "%lld", f.since1970);
	assert_attr(node, "since1970", num);
	assert_attr(node, "string", f.iso);
	snprintf(num, sizeof(num), "%lld", f.ticks);
	assert_attr(node, "long", num);
}

/* ------------------------------------------------------------------ XML */

static const pchat_archive_opts_t xml_opts = {PCHAT_ARCHIVE_XML, 0, 0};

static void xml_is_exactly_lyncs_shape(void **state)
{
	pchat_event_t evs[] = {
		event(PCHAT_EV_JOIN, 0, 2, "sip:alice@example.com", 3, 0, ""),
		event(PCHAT_EV_CHAT, SAMPLE_US, 2, "sip:alice@example.com", 3, 17, "hello <world>"),
	};
	long long count;
	char *text;

	(void)state;
	text = write_events(&xml_opts, evs, 2, &count);
	assert_int_equal(count, 2);
	assert_string_equal(text,
		"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		"<Conversations xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
		" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\n"
		"  <Conversation>\n"
		"    <Channel uri=\"" ROOM_B "\" name=\"Room B\" islogged=\"false\" />\n"
		"    <FirstMessage type=\"JOIN\" content=\"\" id=\"0\"><Sender id=\"3\""
		" uri=\"alice@example.com\" /><DateTimeUTC since1970=\"0\""
		" string=\"1970-01-01T00:00:00.0000000Z\" long=\"621355968000000000\" /></FirstMessage>\n"
		"    <Messages>\n"
		"      <Message type=\"JOIN\" content=\"\" id=\"0\"><Sender id=\"3\""
		" uri=\"alice@example.com\" /><DateTimeUTC since1970=\"0\""
		" string=\"1970-01-01T00:00:00.0000000Z\" long=\"621355968000000000\" /></Message>\n"
		"      <Message type=\"CHAT\" content=\"hello &lt;world&gt;\" id=\"17\"><Sender id=\"3\""
		" uri=\"alice@example.com\" /><DateTimeUTC since1970=\"1212610540953\""
		" string=\"2008-06-04T20:15:40.9535480Z\" long=\"633482073409535480\" /></Message>\n"
		"    </Messages>\n"
		"    <StartTimeUTC since1970=\"0\" string=\"1970-01-01T00:00:00.0000000Z\""
		" long=\"621355968000000000\" />\n"
		"    <EndTimeUTC since1970=\"1212610540953\" string=\"2008-06-04T20:15:40.9535480Z\""
		" long=\"633482073409535480\" />\n"
		"  </Conversation>\n"
		"</Conversations>\n");
	free(text);
}

static void check_room_a(xmlNodePtr conv)
{
	xmlNodePtr messages = child(conv, "Messages", 0), chat;

	assert_attr(child(conv, "Channel", 0), "uri", ROOM_A);
	assert_attr(child(conv, "Channel", 0), "name", "Room <A> & co");
	assert_attr(child(conv, "Channel", 0), "islogged", "true");
	/* seven events; the REPLACE is not among them */
	assert_int_equal(count_children(messages, "Message"), 7);
	assert_true(same_content(child(conv, "FirstMessage", 0), child(messages, "Message", 0)));
	assert_attr(child(messages, "Message", 0), "type", "JOIN");
	assert_attr(child(messages, "Message", 0), "id", "0");
	chat = child(messages, "Message", 1);
	assert_attr(chat, "type", "CHAT");
	assert_attr(chat, "id", "17");
	/* newline and tab survive the attribute's normalization; what XML cannot carry is U+FFFD */
	assert_attr(chat, "content", HARD_TEXT_IN_XML);
	assert_attr(child(chat, "Sender", 0), "uri", "alice@example.com");
	assert_attr(child(chat, "Sender", 0), "id", "3");
	assert_attr(child(chat, "Sender", 0), "internal", NULL);
	assert_attr(child(chat, "Sender", 0), "UserName", NULL);
	assert_time(child(chat, "DateTimeUTC", 0), T0 + SEC);
	assert_attr(child(messages, "Message", 2), "type", "BACKCHAT");
	assert_attr(child(messages, "Message", 2), "content", "12-41");
	assert_attr(child(messages, "Message", 2), "id", "0");
	assert_attr(child(messages, "Message", 3), "type", "FILEUPLOAD");
	assert_attr(child(messages, "Message", 3), "content",
			"0988239a-bb66-4616-90a4-b07771a2097c.txt");
	assert_attr(child(messages, "Message", 4), "type", "FILEDOWNLOAD");
	assert_attr(child(messages, "Message", 5), "id", "18");
	/* the scheme goes whatever its case */
	assert_attr(child(child(messages, "Message", 5), "Sender", 0), "uri", "bob@example.com");
	assert_attr(child(messages, "Message", 6), "type", "PART");
	assert_time(child(conv, "StartTimeUTC", 0), T0);
	assert_time(child(conv, "EndTimeUTC", 0), T0 + 7 * SEC);
}

static void check_room_b(xmlNodePtr conv)
{
	xmlNodePtr messages = child(conv, "Messages", 0);

	assert_attr(child(conv, "Channel", 0), "uri", ROOM_B);
	assert_attr(child(conv, "Channel", 0), "islogged", "false");
	assert_int_equal(count_children(messages, "Message"), 2);
	assert_true(same_content(child(conv, "FirstMessage", 0), child(messages, "Message", 0)));
	assert_attr(child(messages, "Message", 1), "content", "hi");
	assert_attr(child(messages, "Message", 1), "id", "1");
	assert_time(child(conv, "StartTimeUTC", 0), T0 + 10 * SEC);
	/* the last event written, not the CLEAR after it */
	assert_time(child(conv, "EndTimeUTC", 0), T0 + 11 * SEC);
}

static void xml_has_a_conversation_per_room_and_matches_the_xsd(void **state)
{
	pchat_event_t evs[16];
	size_t n = two_rooms(evs);
	long long count;
	char *text;
	xmlDocPtr doc;
	xmlNodePtr root;

	(void)state;
	text = write_events(&xml_opts, evs, n, &count);
	assert_int_equal(count, 9);
	/* references, not raw characters an XML reader would normalize to spaces */
	assert_non_null(strstr(text, "&#10;line&#9;tab"));
	doc = parse_xml(text);
	root = xmlDocGetRootElement(doc);
	assert_string_equal((const char *)root->name, "Conversations");
	/* room C had only moderation: no Conversation */
	assert_int_equal(count_children(root, NULL), 2);
	assert_int_equal(count_children(root, "Conversation"), 2);
	check_room_a(child(root, "Conversation", 0));
	check_room_b(child(root, "Conversation", 1));
	assert_valid_against_xsd(doc);
	xmlFreeDoc(doc);
	free(text);
}

static void xml_sender_is_internal_or_not_with_user_details(void **state)
{
	pchat_archive_opts_t opts = {PCHAT_ARCHIVE_XML, 1, 1};
	pchat_event_t evs[3];
	long long count;
	char *text;
	xmlDocPtr doc;

	(void)state;
	evs[0] = event(PCHAT_EV_JOIN, T0, 1, "sip:alice@example.com", 3, 0, "");
	evs[0].user_internal = 1;
	evs[1] = event(PCHAT_EV_JOIN, T0, 1, "sip:dave@partner.example", 6, 0, "");
	evs[1].user_internal = 0;
	evs[2] = event(PCHAT_EV_JOIN, T0, 1, "sip:eve@example.com", 7, 0, "");
	text = write_events(&opts, evs, 3, &count);
	assert_int_equal(count, 3);
	assert_non_null(strstr(text, "<Sender id=\"3\" internal=\"true\" uri=\"alice@example.com\" />"));
	assert_non_null(strstr(text, "<Sender id=\"6\" internal=\"false\" uri=\"dave@partner.example\" />"));
	/* not known: left out */
	assert_non_null(strstr(text, "<Sender id=\"7\" uri=\"eve@example.com\" />"));
	doc = parse_xml(text);
	assert_valid_against_xsd(doc);
	xmlFreeDoc(doc);
	free(text);
}

static void xml_room_with_only_moderation_has_no_conversation(void **state)
{
	pchat_event_t evs[2];
	long long count;
	char *text;
	xmlDocPtr doc;

	(void)state;
	evs[0] = event(PCHAT_EV_REPLACE, T0, 3, "", 0, 5, "x");
	evs[1] = event(PCHAT_EV_CLEAR, T0, 3, "", 0, 0, "");
	text = write_events(&xml_opts, evs, 2, &count);
	assert_int_equal(count, 0);
	doc = parse_xml(text);
	assert_int_equal(count_children(xmlDocGetRootElement(doc), NULL), 0);
	assert_null(strstr(text, "Conversation>"));
	assert_valid_against_xsd(doc);
	xmlFreeDoc(doc);
	free(text);
}

static void xml_without_events_is_a_valid_document(void **state)
{
	long long count;
	char *text;
	xmlDocPtr doc;

	(void)state;
	text = write_events(&xml_opts, NULL, 0, &count);
	assert_int_equal(count, 0);
	doc = parse_xml(text);
	assert_string_equal((const char *)xmlDocGetRootElement(doc)->name, "Conversations");
	assert_valid_against_xsd(doc);
	xmlFreeDoc(doc);
	free(text);
}

static void xml_a_room_that_comes_back_is_a_second_conversation(void **state)
{
	pchat_event_t evs[3];
	long long count;
	char *text;
	xmlDocPtr doc;

	(void)state;
	evs[0] = event(PCHAT_EV_JOIN, T0, 1, "sip:alice@example.com", 3, 0, "");
	evs[1] = event(PCHAT_EV_JOIN, T0, 2, "sip:alice@example.com", 3, 0, "");
	evs[2] = event(PCHAT_EV_PART, T0, 1, "sip:alice@example.com", 3, 0, "");
	text = write_events(&xml_opts, evs, 3, &count);
	doc = parse_xml(text);
	assert_int_equal(count_children(xmlDocGetRootElement(doc), "Conversation"), 3);
	assert_valid_against_xsd(doc);
	xmlFreeDoc(doc);
	free(text);
}

#if LIBXML_VERSION >= 21200
static void ignore_error(void *ctx, const xmlError *e)
#else
static void ignore_error(void *ctx, xmlErrorPtr e)
#endif
{
	(void)ctx;
	(void)e;
}

static void xsd_refuses_what_lync_would_not_write(void **state)
{
	static const char *const invalid[] = {
		/* a moderation type */
		"<Conversations><Conversation><Channel uri=\"u\" name=\"n\" islogged=\"true\"/>"
		"<FirstMessage type=\"REPLACE\" content=\"\" id=\"0\"><Sender id=\"1\" uri=\"a\"/>"
		"<DateTimeUTC since1970=\"0\" string=\"s\" long=\"0\"/></FirstMessage><Messages>"
		"<Message type=\"REPLACE\" content=\"\" id=\"0\"><Sender id=\"1\" uri=\"a\"/>"
		"<DateTimeUTC since1970=\"0\" string=\"s\" long=\"0\"/></Message></Messages>"
		"<StartTimeUTC since1970=\"0\" string=\"s\" long=\"0\"/>"
		"<EndTimeUTC since1970=\"0\" string=\"s\" long=\"0\"/></Conversation></Conversations>",
		/* an attribute the schema does not have */
		"<Conversations><Conversation><Channel uri=\"u\" name=\"n\" islogged=\"true\" x=\"1\"/>"
		"<FirstMessage type=\"JOIN\" content=\"\" id=\"0\"><Sender id=\"1\" uri=\"a\"/>"
		"<DateTimeUTC since1970=\"0\" string=\"s\" long=\"0\"/></FirstMessage><Messages>"
		"<Message type=\"JOIN\" content=\"\" id=\"0\"><Sender id=\"1\" uri=\"a\"/>"
		"<DateTimeUTC since1970=\"0\" string=\"s\" long=\"0\"/></Message></Messages>"
		"<StartTimeUTC since1970=\"0\" string=\"s\" long=\"0\"/>"
		"<EndTimeUTC since1970=\"0\" string=\"s\" long=\"0\"/></Conversation></Conversations>",
		/* an id beyond xs:int */
		"<Conversations><Conversation><Channel uri=\"u\" name=\"n\" islogged=\"true\"/>"
		"<FirstMessage type=\"CHAT\" content=\"\" id=\"2147483648\"><Sender id=\"1\" uri=\"a\"/>"
		"<DateTimeUTC since1970=\"0\" string=\"s\" long=\"0\"/></FirstMessage><Messages>"
		"<Message type=\"CHAT\" content=\"\" id=\"2147483648\"><Sender id=\"1\" uri=\"a\"/>"
		"<DateTimeUTC since1970=\"0\" string=\"s\" long=\"0\"/></Message></Messages>"
		"<StartTimeUTC since1970=\"0\" string=\"s\" long=\"0\"/>"
		"<EndTimeUTC since1970=\"0\" string=\"s\" long=\"0\"/></Conversation></Conversations>",
		/* Messages empty */
		"<Conversations><Conversation><Channel uri=\"u\" name=\"n\" islogged=\"true\"/>"
		"<FirstMessage type=\"JOIN\" content=\"\" id=\"0\"><Sender id=\"1\" uri=\"a\"/>"
		"<DateTimeUTC since1970=\"0\" string=\"s\" long=\"0\"/></FirstMessage><Messages/>"
		"<StartTimeUTC since1970=\"0\" string=\"s\" long=\"0\"/>"
		"<EndTimeUTC since1970=\"0\" string=\"s\" long=\"0\"/></Conversation></Conversations>",
	};
	xmlSchemaParserCtxtPtr pctxt = xmlSchemaNewParserCtxt(PCHAT_COMPLIANCE_XSD);
	xmlSchemaPtr schema = xmlSchemaParse(pctxt);
	xmlSchemaValidCtxtPtr vctxt = xmlSchemaNewValidCtxt(schema);
	size_t i;

	(void)state;
	assert_non_null(schema); /* without one, the validator would refuse anything */
	assert_non_null(vctxt);
	/* the validator's messages are expected: keep them off the test's output */
	xmlSchemaSetValidStructuredErrors(vctxt, ignore_error, NULL);
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		xmlDocPtr doc = parse_xml(invalid[i]);

		assert_true(xmlSchemaValidateDoc(vctxt, doc) > 0); /* invalid, not an internal error */
		xmlFreeDoc(doc);
	}
	xmlSchemaFreeValidCtxt(vctxt);
	xmlSchemaFree(schema);
	xmlSchemaFreeParserCtxt(pctxt);
}

/* ------------------------------------------------------------------ JSON Lines */

static void jsonl_lines_are_exact(void **state)
{
	pchat_archive_opts_t opts = {PCHAT_ARCHIVE_JSONL, 1, 1};
	pchat_event_t evs[3];
	long long count;
	char *text;

	(void)state;
	evs[0] = event(PCHAT_EV_CHAT, SAMPLE_US, 1, "sip:alice@example.com", 3, 17,
			"a\"b\\c\n\x01\x1f\xC3\xA9\xF0\x9F\x98\x80\xFFz");
	evs[0].id = 42;
	evs[0].user_internal = 1;
	evs[0].detail = "{\"thread\":\"t\"}";
	evs[0].room_details = "{\"description\":\"d\",\n \"privacy\":\"open\"}";
	/* moderation has its line, with its detail; no room_details given */
	evs[1] = event(PCHAT_EV_CLEAR, 0, 2, "", 0, 0, "");
	evs[1].id = 43;
	evs[1].detail = "{\"before\":18,\"count\":5}";
	/* empty detail: no key; internal not known: no key */
	evs[2] = event(PCHAT_EV_JOIN, -1, 3, NULL, 5, 0, "");
	evs[2].id = 44;
	evs[2].detail = "";
	text = write_events(&opts, evs, 3, &count);
	assert_int_equal(count, 3);
	assert_string_equal(text,
		"{\"id\":42,\"type\":\"CHAT\",\"time\":\"2008-06-04T20:15:40.9535480Z\","
		"\"since1970\":1212610540953,\"ticks\":633482073409535480,"
		"\"room\":{\"uri\":\"" ROOM_A "\",\"name\":\"Room <A> & co\",\"logged\":true},"
		"\"user\":\"sip:alice@example.com\",\"user_id\":3,\"internal\":true,\"message_id\":17,"
		"\"content\":\"a\\\"b\\\\c\\n\\u0001\\u001f\xC3\xA9\xF0\x9F\x98\x80\xEF\xBF\xBDz\","
		"\"detail\":{\"thread\":\"t\"},"
		"\"room_details\":{\"description\":\"d\",  \"privacy\":\"open\"}}\n"
		"{\"id\":43,\"type\":\"CLEAR\",\"time\":\"1970-01-01T00:00:00.0000000Z\","
		"\"since1970\":0,\"ticks\":621355968000000000,"
		"\"room\":{\"uri\":\"" ROOM_B "\",\"name\":\"Room B\",\"logged\":false},"
		"\"user\":\"\",\"user_id\":0,\"message_id\":0,\"content\":\"\","
		"\"detail\":{\"before\":18,\"count\":5}}\n"
		"{\"id\":44,\"type\":\"JOIN\",\"time\":\"1969-12-31T23:59:59.9999990Z\","
		"\"since1970\":-1,\"ticks\":621355967999999990,"
		"\"room\":{\"uri\":\"" ROOM_C "\",\"name\":\"Room C\",\"logged\":true},"
		"\"user\":\"\",\"user_id\":5,\"message_id\":0,\"content\":\"\"}\n");
	free(text);
}

static void jsonl_has_every_event_one_a_line(void **state)
{
	pchat_archive_opts_t opts = {PCHAT_ARCHIVE_JSONL, 0, 0};
	pchat_event_t evs[16];
	size_t n = two_rooms(evs), lines = 0;
	long long count;
	char *text, *p;

	(void)state;
	evs[2].detail = "{\"previous\":\"old\\ntext\"}";
	text = write_events(&opts, evs, n, &count);
	assert_int_equal(count, (long long)n);
	for (p = text; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, n);
	assert_non_null(strstr(text, "\"type\":\"REPLACE\""));
	assert_non_null(strstr(text, "\"type\":\"CLEAR\""));
	assert_non_null(strstr(text, ",\"detail\":{\"previous\":\"old\\ntext\"}}\n"));
	/* the control character is kept, escaped */
	assert_non_null(strstr(text, "x\\u0001y\xEF\xBF\xBDz"));
	/* no room_details without the option */
	assert_null(strstr(text, "room_details"));
	free(text);
}

/* ------------------------------------------------------------------ memory */

static int allocations, frees;

static void *counting_malloc(size_t size)
{
	allocations++;
	return malloc(size);
}

static void *counting_realloc(void *ptr, size_t size)
{
	allocations++;
	return realloc(ptr, size);
}

static void counting_free(void *ptr)
{
	frees++;
	free(ptr);
}

static void writers_allocate_once_whatever_the_events(void **state)
{
	static const pchat_allocator_t counting = {counting_malloc, counting_realloc, counting_free};
	pchat_archive_opts_t opts[] = {{PCHAT_ARCHIVE_XML, 1, 1}, {PCHAT_ARCHIVE_JSONL, 1, 1}};
	pchat_event_t evs[16];
	size_t n = two_rooms(evs), i, k;
	FILE *f = fopen("/dev/null", "w");

	(void)state;
	assert_non_null(f);
	for (k = 0; k < 2; k++) {
		pchat_archive_t *a;

		pchat_set_allocator(&counting);
		allocations = frees = 0;
		a = pchat_archive_open(f, &opts[k]);
		/* streamed: a thousand batches of rooms cost what one event does */
		for (i = 0; i < 1000 * n; i++)
			assert_true(pchat_archive_add(a, &evs[i % n]) >= 0);
		assert_true(pchat_archive_close(a) > 0);
		pchat_set_allocator(NULL);
		assert_int_equal(allocations, 1);
		assert_int_equal(frees, 1);
	}
	fclose(f);
}

/* ------------------------------------------------------------------ write failures */

static void close_fails_when_writes_fail(void **state)
{
	pchat_event_t ev = event(PCHAT_EV_CHAT, T0, 1, "sip:alice@example.com", 3, 1, "hi");
	pchat_archive_opts_t jsonl = {PCHAT_ARCHIVE_JSONL, 0, 0};
	pchat_archive_t *a;
	FILE *f;

	(void)state;
	/* unbuffered: the first write fails, and every later call says so */
	f = fopen("/dev/full", "w");
	assert_non_null(f);
	setvbuf(f, NULL, _IONBF, 0);
	a = pchat_archive_open(f, &xml_opts);
	assert_non_null(a);
	assert_int_equal(pchat_archive_add(a, &ev), -1);
	assert_int_equal(pchat_archive_close(a), -1);
	fclose(f);
	/* buffered: the failure shows at the flush */
	f = fopen("/dev/full", "w");
	assert_non_null(f);
	a = pchat_archive_open(f, &jsonl);
	assert_int_equal(pchat_archive_add(a, &ev), 1);
	assert_int_equal(pchat_archive_close(a), -1);
	fclose(f);
	assert_int_equal(pchat_archive_close(NULL), -1);
}

static void an_event_of_no_kind_fails_the_output(void **state)
{
	pchat_event_t ev = event(PCHAT_EV_KINDS, T0, 1, "sip:alice@example.com", 3, 0, "");
	pchat_event_t ok = event(PCHAT_EV_JOIN, T0, 1, "sip:alice@example.com", 3, 0, "");
	pchat_archive_t *a;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	a = pchat_archive_open(f, &xml_opts);
	assert_int_equal(pchat_archive_add(a, &ev), -1);
	assert_int_equal(pchat_archive_add(a, &ok), -1);
	assert_int_equal(pchat_archive_add(a, NULL), -1);
	assert_int_equal(pchat_archive_close(a), -1);
	fclose(f);
	free(text);
	assert_null(pchat_archive_open(NULL, &xml_opts));
	assert_int_equal(pchat_archive_add(NULL, &ok), -1);
}

/* ------------------------------------------------------------------ files */

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_archive.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX];

	(void)state;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if (unlink(path) != 0)
				rmdir(path);
		}
	closedir(d);
	return rmdir(dir);
}

/* dir/name, in a static buffer per call site's needs: four at most alive at once */
static const char *in_dir(const char *name)
{
	static char paths[4][PATH_MAX];
	static int next;
	char *p = paths[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", dir, name);
	return p;
}

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(in_dir(name), "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* The file's content (free()), or NULL when it does not exist. */
static char *read_file(const char *name)
{
	FILE *f = fopen(in_dir(name), "r");
	char *text;
	long len;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return text;
}

static int exists(const char *name)
{
	struct stat st;

	return stat(in_dir(name), &st) == 0;
}

/* A small archive in dir/in.xml: alice joins room "Room <A> & co" and posts two lines. */
static void write_input(void)
{
	pchat_event_t evs[2];
	FILE *f = fopen(in_dir("in.xml"), "w");
	pchat_archive_t *a = pchat_archive_open(f, &xml_opts);

	evs[0] = event(PCHAT_EV_JOIN, T0, 1, "sip:alice@example.com", 3, 0, "");
	evs[1] = event(PCHAT_EV_CHAT, T0 + SEC, 1, "sip:alice@example.com", 3, 17, "hi\nthere");
	assert_int_equal(pchat_archive_add(a, &evs[0]), 1);
	assert_int_equal(pchat_archive_add(a, &evs[1]), 1);
	assert_int_equal(pchat_archive_close(a), 2);
	assert_int_equal(fclose(f), 0);
}

#define XSL_OPEN "<xsl:stylesheet version=\"1.0\"" \
	" xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\">\n"
#define XSL_CLOSE "</xsl:stylesheet>\n"

/* Runs the stylesheet text on dir/in.xml into dir/out.txt; the result, err in err. */
static int transform(const char *stylesheet, char *err, size_t errlen)
{
	write_input();
	write_file("style.xsl", stylesheet);
	return pchat_archive_transform(in_dir("style.xsl"), in_dir("in.xml"), in_dir("out.txt"),
			err, errlen);
}

/* The stylesheet is refused: the transform fails, says why (the text must appear in its
 * error) and writes no output. */
static void assert_refused(const char *stylesheet, const char *why)
{
	char err[512];

	assert_int_equal(transform(stylesheet, err, sizeof(err)), -1);
	if (!strstr(err, why))
		fail_msg("the error does not say '%s': %s", why, err);
	assert_false(exists("out.txt"));
}

static void transform_writes_what_the_stylesheet_says(void **state)
{
	char err[512] = "", *out;

	(void)state;
	assert_int_equal(transform(XSL_OPEN
		"<xsl:output method=\"text\" encoding=\"utf-8\"/>\n"
		"<xsl:template match=\"/\">"
		"<xsl:for-each select=\"Conversations/Conversation/Messages/Message\">"
		"<xsl:value-of select=\"concat(../../Channel/@name, '|', @type, '|', Sender/@uri, '|',"
		" @content, '|', DateTimeUTC/@string)\"/><xsl:text>&#10;</xsl:text>"
		"</xsl:for-each><![CDATA[end]]></xsl:template>\n" XSL_CLOSE, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	out = read_file("out.txt");
	assert_non_null(out);
	assert_string_equal(out,
		"Room <A> & co|JOIN|alice@example.com||2008-06-04T20:15:40.9535480Z\n"
		"Room <A> & co|CHAT|alice@example.com|hi\nthere|2008-06-04T20:15:41.9535480Z\n"
		"end");
	free(out);
}

static void transform_may_read_no_other_file(void **state)
{
	(void)state;
	assert_refused(XSL_OPEN "<xsl:template match=\"/\"><r>"
		"<xsl:value-of select=\"document('/etc/hostname')\"/></r></xsl:template>" XSL_CLOSE,
		"/etc/hostname");
	/* nor the network */
	assert_refused(XSL_OPEN "<xsl:template match=\"/\"><r>"
		"<xsl:copy-of select=\"document('http://127.0.0.1:9/x.xml')\"/></r></xsl:template>"
		XSL_CLOSE, "127.0.0.1");
}

static void transform_may_write_no_other_file(void **state)
{
	char err[512];

	(void)state;
	assert_int_equal(transform("<xsl:stylesheet version=\"1.1\""
		" xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\">"
		"<xsl:template match=\"/\"><xsl:document href=\"leak.txt\" method=\"text\">"
		"leaked</xsl:document><r/></xsl:template>" XSL_CLOSE, err, sizeof(err)), -1);
	assert_false(exists("leak.txt"));
	assert_non_null(strstr(err, "leak.txt"));
}

static void transform_refuses_import_and_include(void **state)
{
	(void)state;
	write_file("other.xsl", XSL_OPEN XSL_CLOSE);
	assert_refused(XSL_OPEN "<xsl:include href=\"other.xsl\"/>" XSL_CLOSE, "xsl:include");
	assert_refused(XSL_OPEN "<xsl:import href=\"other.xsl\"/>" XSL_CLOSE, "xsl:import");
	/* hidden in an entity (which libxslt does not follow today; refused all the same) */
	assert_refused("<!DOCTYPE xsl:stylesheet [<!ENTITY inc '<xsl:include"
		" xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" href=\"other.xsl\"/>'>]>\n"
		XSL_OPEN "&inc;" XSL_CLOSE, "xsl:include");
}

static void transform_reads_no_external_entity(void **state)
{
	char err[512];

	(void)state;
	write_file("secret.txt", "TOPSECRET");
	/* the entity is not loaded, so the stylesheet does not compile: refused, the file's
	 * content nowhere */
	assert_int_equal(transform("<!DOCTYPE xsl:stylesheet [<!ENTITY secret SYSTEM "
		"\"secret.txt\">]>\n" XSL_OPEN "<xsl:output method=\"text\"/><xsl:template match=\"/\">"
		"<xsl:text>[&secret;]</xsl:text></xsl:template>" XSL_CLOSE, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a valid XSLT stylesheet"));
	assert_null(strstr(err, "TOPSECRET"));
	assert_false(exists("out.txt"));
}

static void transform_fails_on_a_broken_stylesheet(void **state)
{
	char err[512];

	(void)state;
	/* not well-formed */
	assert_refused(XSL_OPEN "<xsl:template match=\"/\">" XSL_CLOSE, "style.xsl does not parse");
	/* well-formed, not a stylesheet */
	assert_refused("<nothing/>", "not a valid XSLT stylesheet");
	/* an XPath that does not compile */
	assert_refused(XSL_OPEN "<xsl:template match=\"/\"><xsl:value-of select=\"((\"/>"
		"</xsl:template>" XSL_CLOSE, "could not compile select expression");
	/* missing */
	assert_int_equal(pchat_archive_transform(in_dir("none.xsl"), in_dir("in.xml"),
			in_dir("out.txt"), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "none.xsl"));
	assert_false(exists("out.txt"));
}

static void transform_fails_when_the_stylesheet_stops(void **state)
{
	(void)state;
	assert_refused(XSL_OPEN "<xsl:template match=\"/\">"
		"<xsl:message terminate=\"yes\">no archive today</xsl:message></xsl:template>"
		XSL_CLOSE, "no archive today");
}

static void transform_fails_on_bad_input_or_output(void **state)
{
	char err[512];

	(void)state;
	write_file("style.xsl", XSL_OPEN "<xsl:template match=\"/\"><r/></xsl:template>" XSL_CLOSE);
	write_file("bad.xml", "<Conversations>");
	assert_int_equal(pchat_archive_transform(in_dir("style.xsl"), in_dir("bad.xml"),
			in_dir("out.txt"), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad.xml"));
	write_input();
	assert_int_equal(pchat_archive_transform(in_dir("style.xsl"), in_dir("in.xml"),
			in_dir("no/out.txt"), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot create"));
	assert_int_equal(pchat_archive_transform(in_dir("style.xsl"), in_dir("in.xml"),
			"/dev/full", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot write"));
}

static void xml_error_elsewhere(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static void transform_puts_the_error_handlers_back(void **state)
{
	char err[512];
	int marker;

	(void)state;
	xmlSetGenericErrorFunc(&marker, xml_error_elsewhere);
	xsltSetGenericErrorFunc(&marker, xml_error_elsewhere);
	assert_int_equal(transform("<broken", err, sizeof(err)), -1);
	assert_ptr_equal(xmlGenericError, xml_error_elsewhere);
	assert_ptr_equal(xmlGenericErrorContext, &marker);
	assert_ptr_equal(xsltGenericError, xml_error_elsewhere);
	assert_ptr_equal(xsltGenericErrorContext, &marker);
	assert_null(xmlStructuredError);
	xmlSetGenericErrorFunc(NULL, NULL);
	xsltSetGenericErrorFunc(NULL, NULL);
}

static void publish_renames_into_place(void **state)
{
	char err[256], *text;

	(void)state;
	write_file("batch.tmp", "first");
	assert_int_equal(pchat_archive_publish(dir, "batch.tmp", "batch.xml", err, sizeof(err)), 0);
	assert_false(exists("batch.tmp"));
	text = read_file("batch.xml");
	assert_string_equal(text, "first");
	free(text);
	/* a batch written again replaces itself */
	write_file("batch.tmp", "second");
	assert_int_equal(pchat_archive_publish(dir, "batch.tmp", "batch.xml", err, sizeof(err)), 0);
	text = read_file("batch.xml");
	assert_string_equal(text, "second");
	free(text);
}

static void publish_says_which_step_failed(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(pchat_archive_publish("/nonexistent/pchat", "a.tmp", "a.xml", err,
			sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open folder /nonexistent/pchat"));
	assert_non_null(strstr(err, strerror(ENOENT)));
	assert_int_equal(pchat_archive_publish(dir, "missing.tmp", "a.xml", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "missing.tmp"));
	assert_non_null(strstr(err, strerror(ENOENT)));
	write_file("a.tmp", "x");
	assert_int_equal(pchat_archive_publish(dir, "a.tmp", "sub/a.xml", err, sizeof(err)), -1);
	assert_int_equal(pchat_archive_publish(dir, "..", "a.xml", err, sizeof(err)), -1);
	assert_true(exists("a.tmp"));
	/* a folder in the way of the final name */
	assert_int_equal(mkdir(in_dir("a.xml"), 0700), 0);
	assert_int_equal(pchat_archive_publish(dir, "a.tmp", "a.xml", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot rename"));
	assert_non_null(strstr(err, strerror(EISDIR)));
	assert_true(exists("a.tmp"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(time_forms_of_lyncs_sample_instant),
		cmocka_unit_test(time_forms_of_the_epoch),
		cmocka_unit_test(time_forms_before_1970_round_down),
		cmocka_unit_test(time_forms_of_a_leap_day),
		cmocka_unit_test(time_forms_stay_in_dotnets_range),
		cmocka_unit_test(kind_names_round_trip),
		cmocka_unit_test(xml_is_exactly_lyncs_shape),
		cmocka_unit_test(xml_has_a_conversation_per_room_and_matches_the_xsd),
		cmocka_unit_test(xml_sender_is_internal_or_not_with_user_details),
		cmocka_unit_test(xml_room_with_only_moderation_has_no_conversation),
		cmocka_unit_test(xml_without_events_is_a_valid_document),
		cmocka_unit_test(xml_a_room_that_comes_back_is_a_second_conversation),
		cmocka_unit_test(xsd_refuses_what_lync_would_not_write),
		cmocka_unit_test(jsonl_lines_are_exact),
		cmocka_unit_test(jsonl_has_every_event_one_a_line),
		cmocka_unit_test(writers_allocate_once_whatever_the_events),
		cmocka_unit_test(close_fails_when_writes_fail),
		cmocka_unit_test(an_event_of_no_kind_fails_the_output),
		cmocka_unit_test_setup_teardown(transform_writes_what_the_stylesheet_says, make_dir,
				remove_dir),
		cmocka_unit_test_setup_teardown(transform_may_read_no_other_file, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(transform_may_write_no_other_file, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(transform_refuses_import_and_include, make_dir,
				remove_dir),
		cmocka_unit_test_setup_teardown(transform_reads_no_external_entity, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(transform_fails_on_a_broken_stylesheet, make_dir,
				remove_dir),
		cmocka_unit_test_setup_teardown(transform_fails_when_the_stylesheet_stops, make_dir,
				remove_dir),
		cmocka_unit_test_setup_teardown(transform_fails_on_bad_input_or_output, make_dir,
				remove_dir),
		cmocka_unit_test_setup_teardown(transform_puts_the_error_handlers_back, make_dir,
				remove_dir),
		cmocka_unit_test_setup_teardown(publish_renames_into_place, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(publish_says_which_step_failed, make_dir, remove_dir),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	/* libxml2's and libxslt's global state, so that the leak check sees only real leaks */
	xsltCleanupGlobals();
	xmlCleanupParser();
	return failed;
}
