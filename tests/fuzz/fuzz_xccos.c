/*
 * libFuzzer target: the XCCOS parser and the chat logic (every command handler, posts, the end of
 * a session) against the fakes of tests/unit in their rich world, with an oracle on everything
 * the server builds.
 *
 * Input: one INFO body, or several separated by BODY_SEPARATOR, run in order by one caller
 * (sip:alice@chat.test, one session) on the same fake state, so that join-then-post and
 * post-then-backchat paths are reached. Each body goes through pchat_xccos_parse with the
 * module's body limit; a command goes to pchat_chat_command, a post to pchat_chat_post. At the
 * end, the stored posts are built again as a gap fill delivers them (pchat_chat_post_element),
 * every room the session is in is checked again (pchat_chat_refresh_room) and the session ends
 * (pchat_chat_session_end).
 *
 * Oracle (abort() with a message, so libFuzzer keeps the input):
 *   - every reply body, and every notice and post element wrapped in an <xccos> envelope as the
 *     senders do, is well-formed and namespace-well-formed XML, valid UTF-8, without DOCTYPE,
 *     parsed by libxml2 without recovery;
 *   - a reply body is at most settings.reply_size bytes; a notice in its envelope too; a post
 *     element at most post_element_limit() bytes;
 *   - a reply is an <xccos> of the XCCOS namespace holding <rpl>/<ntc>; a command's reply is
 *     rpl:NAME (rpl:getftok for getfutok and getfdtok) and echoes the command's envid; every
 *     command gets a reply;
 *   - a post element is one <grpchat> of the room with the caller as author; a post's SIP status
 *     is 200, 400, 403, 404 (a link to a file the room lacks), 413, 500 or 503, and it is handed
 *     to the sender exactly when it is 200;
 *   - the content the store is asked to keep is namespace-well-formed inside a bare
 *     <grpchat xmlns="urn:parlano:xml:ns:xccos">, since it is re-embedded in every delivery and
 *     backchat;
 *   - the fakes' own interface rules (fakes.h: transactions, post lock, known rooms).
 * The same input also goes, whole, to the file service's readers (run_file_readers): the SOAP
 * parser, the Range parser and the post link reader.
 * FUZZ_XCCOS_TRACE=1 prints what each body did.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "fakes.h"
#include "pchat_files.h"
#include "pchat_log.h"
#include "pchat_soap.h"

#define BODY_SEPARATOR "<<>>"
#define MAX_BODIES 32

/* The module's defaults: max_body_size and the service settings (pchat_settings.h). */
#define MAX_BODY_SIZE PCHAT_DEFAULT_MAX_BODY_SIZE
static const pchat_settings_t settings = PCHAT_SETTINGS_DEFAULTS;

static const int recording = 1; /* the compliance service records: its paths are fuzzed too */
static const pchat_chat_t chat = {&fake_store_ops, NULL, &fake_live_ops, NULL, &fake_out_ops,
	NULL, &settings, FAKE_RICH_DOMAIN, "sip:pchat@" FAKE_RICH_DOMAIN, &recording, NULL,
	"https://files." FAKE_RICH_DOMAIN, "https://files." FAKE_RICH_DOMAIN "/PersistentChat/RM/"};
static const pchat_caller_t caller = {{1, 1}, FAKE_RICH_USER};

/* The largest <grpchat> element the server may hand to a room's sender: the module's post byte
 * limit, which leaves room for the envelope and SIP headers in one INFO (the module refuses a
 * max_post_size that would not). */
static size_t post_element_limit(const pchat_settings_t *s)
{
	return s->max_post_size;
}

#define ENVELOPE_OPEN "<xccos ver=\"1\" envid=\"1\" xmlns=\"" PCHAT_XCCOS_NS "\">"
#define ENVELOPE_CLOSE "</xccos>"

static int trace;
static const pchat_env_t *current_cmd; /* the command being run, NULL otherwise */

/* ------------------------------------------------------------------ oracle */

__attribute__((noreturn)) static void violation(const char *what, const char *detail,
		const char *xml, size_t len)
{
	fprintf(stderr, "\n==== ORACLE VIOLATION: %s%s%s\n", what, detail ? ": " : "",
			detail ? detail : "");
	if (xml)
		fprintf(stderr, "---- the XML (%zu bytes)%s:\n%.*s\n----\n", len,
				len > 4000 ? ", first 4000" : "", (int)(len > 4000 ? 4000 : len), xml);
	abort();
}

void fake_fail(const char *file, int line, const char *what)
{
	char where[256];

	snprintf(where, sizeof(where), "%s:%d", file, line);
	violation(what, where, NULL, 0);
}

/* Parses xml as the receiving clients would: a parser context, no recovery, UTF-8. Returns the
 * document; on any error (not well-formed, not namespace-well-formed, DOCTYPE) calls violation()
 * with what names the XML. */
static xmlDocPtr strict_parse(const char *what, const char *xml, size_t len)
{
	xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
	xmlDocPtr doc;
	char msg[512] = "";
	const xmlError *e;

	if (!ctxt)
		violation("out of memory", what, NULL, 0);
	doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, "UTF-8",
			XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	e = xmlCtxtGetLastError(ctxt);
	if (e && e->message)
		snprintf(msg, sizeof(msg), "line %d: %s", e->line, e->message);
	msg[strcspn(msg, "\n")] = '\0';
	if (!doc || !ctxt->wellFormed) {
		char head[640];

		snprintf(head, sizeof(head), "%s is not well-formed XML (or not UTF-8)", what);
		violation(head, msg, xml, len);
	}
	if (!ctxt->nsWellFormed) {
		char head[640];

		snprintf(head, sizeof(head), "%s is not namespace-well-formed", what);
		violation(head, msg, xml, len);
	}
	if (doc->intSubset || doc->extSubset) {
		char head[640];

		snprintf(head, sizeof(head), "%s has a DOCTYPE", what);
		violation(head, NULL, xml, len);
	}
	xmlFreeParserCtxt(ctxt);
	return doc;
}

static int is_xccos(xmlNodePtr n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0
			&& n->ns && strcmp((const char *)n->ns->href, PCHAT_XCCOS_NS) == 0;
}

static xmlNodePtr first_element(xmlNodePtr n)
{
	for (; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE)
			return n;
	return NULL;
}

static int attr_is(xmlNodePtr n, const char *name, const char *want)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	int same = v && strcmp((const char *)v, want) == 0;

	xmlFree(v);
	return same;
}

static int attr_starts(xmlNodePtr n, const char *name, const char *prefix)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	int same = v && strncmp((const char *)v, prefix, strlen(prefix)) == 0;

	xmlFree(v);
	return same;
}

/* The envelope around an element, as the room's sender builds it. */
static char *wrap(const char *open, const char *element, size_t len, const char *close,
		size_t *outlen)
{
	size_t lo = strlen(open), lc = strlen(close);
	char *s = malloc(lo + len + lc + 1);

	if (!s)
		violation("out of memory", NULL, NULL, 0);
	memcpy(s, open, lo);
	memcpy(s + lo, element, len);
	memcpy(s + lo + len, close, lc + 1);
	*outlen = lo + len + lc;
	return s;
}

static void check_reply(const pchat_caller_t *c, const char *body, size_t len)
{
	xmlDocPtr doc;
	xmlNodePtr root, n;
	char want[96], size[96];

	if (c->session.slot != caller.session.slot && current_cmd)
		violation("a reply to a command went to another session", c->user, body, len);
	if (len > settings.reply_size) {
		snprintf(size, sizeof(size), "%zu bytes, reply_size is %zu", len, settings.reply_size);
		violation("reply body over the reply size", size, body, len);
	}
	doc = strict_parse("reply body", body, len);
	root = xmlDocGetRootElement(doc);
	if (!is_xccos(root, "xccos"))
		violation("reply body is not an <xccos> of the XCCOS namespace", NULL, body, len);
	for (n = first_element(root->children); n; n = first_element(n->next))
		if (!is_xccos(n, "rpl") && !is_xccos(n, "ntc"))
			violation("reply body holds something else than <rpl> or <ntc>",
					(const char *)n->name, body, len);
	n = first_element(root->children);
	if (current_cmd) {
		/* getfutok and getfdtok share one reply, rpl:getftok (PROTOCOL.md 4.14) */
		snprintf(want, sizeof(want), "rpl:%s", strcmp(current_cmd->name, "getfutok") == 0
						|| strcmp(current_cmd->name, "getfdtok") == 0 ? "getftok"
																	  : current_cmd->name);
		if (!is_xccos(n, "rpl") || !attr_is(n, "id", want))
			violation("the reply to a command is not its rpl", want, body, len);
		snprintf(want, sizeof(want), "%llu", (unsigned long long)current_cmd->envid);
		if (!attr_is(first_element(n->children), "envid", want))
			violation("the reply does not echo the command's envid in commandid", want, body, len);
	}
	xmlFreeDoc(doc);
}

static void check_notice(uint64_t room_id, const char *except, const char *element, size_t len)
{
	size_t wlen;
	char *w = wrap(ENVELOPE_OPEN, element, len, ENVELOPE_CLOSE, &wlen);
	xmlDocPtr doc;
	xmlNodePtr n;

	(void)except;
	if (!fake_room(room_id))
		violation("notice for a room that does not exist", NULL, element, len);
	if (wlen > settings.reply_size)
		violation("notice in its envelope over the reply size", NULL, w, wlen);
	doc = strict_parse("notice element in its envelope", w, wlen);
	n = first_element(xmlDocGetRootElement(doc)->children);
	if (!is_xccos(n, "ntc") || !attr_starts(n, "id", "ntc:") || first_element(n->next))
		violation("a notice is not one <ntc id=\"ntc:...\">", NULL, w, wlen);
	xmlFreeDoc(doc);
	free(w);
}

static void check_post_element(uint64_t room_id, uint64_t seq, const char *element, size_t len)
{
	const fake_room_t *r = fake_room(room_id);
	size_t wlen;
	char *w, uri[PCHAT_ROOM_URI_MAX], size[96];
	xmlDocPtr doc;
	xmlNodePtr n;

	(void)seq;
	if (len > post_element_limit(&settings)) {
		snprintf(size, sizeof(size), "%zu bytes, limit %zu", len, post_element_limit(&settings));
		violation("post element over the post limit", size, element, len);
	}
	w = wrap(ENVELOPE_OPEN, element, len, ENVELOPE_CLOSE, &wlen);
	doc = strict_parse("post element in its envelope", w, wlen);
	n = first_element(xmlDocGetRootElement(doc)->children);
	pchat_room_uri(FAKE_RICH_DOMAIN, r ? r->guid : "?", uri, sizeof(uri));
	if (!is_xccos(n, "grpchat") || first_element(n->next))
		violation("a post element is not one <grpchat>", NULL, w, wlen);
	if (!attr_is(n, "chanUri", uri))
		violation("a post element does not name its room", uri, w, wlen);
	if (!attr_is(n, "author", caller.user))
		violation("a post element's author is not the poster", caller.user, w, wlen);
	xmlFreeDoc(doc);
	free(w);
}

static void check_stored(uint64_t room_id, const char *author, const char *content)
{
	size_t wlen;
	char *w = wrap("<grpchat xmlns=\"" PCHAT_XCCOS_NS "\">", content, strlen(content),
			"</grpchat>", &wlen);

	(void)room_id;
	if (strcmp(author, caller.user) != 0)
		violation("a post is stored with another author", author, NULL, 0);
	xmlFreeDoc(strict_parse("stored post content in a bare <grpchat>", w, wlen));
	free(w);
}

/* ------------------------------------------------------------------ running bodies */

static void quiet_log(enum pchat_log_level level, const char *func, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap); /* formats every message: its arguments are checked */
	if (trace)
		fprintf(stderr, "  log %d %s(): %s", (int)level, func, line);
}

static void run_body(const char *body, size_t len)
{
	pchat_env_t env;
	char err[256] = "";
	pchat_rc_t st = pchat_xccos_parse(body, len, MAX_BODY_SIZE, &env, err,
			sizeof(err));
	int replies = F.replies, fanouts = F.fanouts, status;

	if (st != PCHAT_OK) {
		if (env.doc)
			violation("a refused body keeps its document", pchat_rc_text(st), body,
					len);
		if (trace)
			fprintf(stderr, "body: %s (%s)\n", pchat_rc_text(st), err);
		return;
	}
	if (env.kind == PCHAT_ENV_CMD) {
		current_cmd = &env;
		pchat_chat_command(&chat, &caller, &env);
		current_cmd = NULL;
		if (F.replies == replies)
			violation("a command got no reply", env.name, body, len);
		if (trace)
			fprintf(stderr, "body: cmd:%s -> %d replies, last: %.300s\n", env.name,
					F.replies - replies, F.reply[(F.replies - 1) % FAKE_REPLIES]);
	} else {
		status = pchat_rc_sip(pchat_chat_post(&chat, &caller, &env));
		if (status != 200 && status != 400 && status != 403 && status != 404 && status != 413
				&& status != 500 && status != 503) {
			char s[16];

			snprintf(s, sizeof(s), "%d", status);
			violation("a post got a SIP status it may not return", s, body, len);
		}
		if ((status == 200) != (F.fanouts == fanouts + 1) || F.fanouts > fanouts + 1)
			violation("a post was handed to the sender but not answered 200, or the reverse",
					NULL, body, len);
		if (trace)
			fprintf(stderr, "body: post -> %d\n", status);
	}
	if (F.in_tx || F.locked)
		violation("a transaction or a post lock is left open", env.name, body, len);
	pchat_xccos_free(&env);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	trace = getenv("FUZZ_XCCOS_TRACE") != NULL;
	pchat_xccos_init();
	pchat_log_set_sink(quiet_log);
	fake_hooks.reply = check_reply;
	fake_hooks.notice = check_notice;
	fake_hooks.fanout = check_post_element;
	fake_hooks.store_post = check_stored;
	return 0;
}

/* The file service's readers on the same bytes: a SOAP request, a Range header, a post's
 * links. Oracle: no crash, no leak, and what they give back is in bounds. */
static int any_link(void *ctx, const char *guid, const char *name)
{
	(void)ctx;
	if (guid && (strlen(guid) != 36 || !pchat_file_name_valid(name)))
		violation("a link read back is not of our form", name, NULL, 0);
	return 0;
}

static void run_file_readers(const char *data, size_t size)
{
	char *text = malloc(size + 1), err[256];
	pchat_soap_req_t req;
	uint64_t from, len;

	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (pchat_soap_parse(data, size, &req, err, sizeof(err)) == PCHAT_OK) {
		if (req.chunk_len > size)
			violation("a SOAP chunk decoded larger than its request", NULL, data, size);
		pchat_soap_req_free(&req);
	}
	if (pchat_file_range(text, 1000, &from, &len) == 1 && (len == 0 || from + len > 1000))
		violation("a range outside the file", text, NULL, 0);
	pchat_file_links(text, FAKE_RICH_DOMAIN, any_link, NULL);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	pchat_room_ref_t *rooms = NULL;
	const fake_stored_t *post;
	int bodies = 0, n, i;

	run_file_readers(p, size);
	fake_reset(fake_world_rich());
	while (p <= end && bodies++ < MAX_BODIES) {
		const char *sep = memmem(p, (size_t)(end - p), BODY_SEPARATOR,
				sizeof(BODY_SEPARATOR) - 1);
		const char *stop = sep ? sep : end;

		run_body(p, (size_t)(stop - p));
		if (!sep)
			break;
		p = sep + sizeof(BODY_SEPARATOR) - 1;
	}
	/* the stored posts as a node fills a gap with them */
	for (post = F.posts; post; post = post->next) {
		pchat_post_t p = {post->seq, post->author, post->ts, post->content};
		const fake_room_t *r = fake_room(post->room_id);
		pchat_buf_t b;

		pchat_buf_init(&b);
		pchat_chat_post_element(&chat, r ? r->guid : "", &p, &b);
		if (!pchat_buf_ok(&b))
			violation("out of memory", "pchat_chat_post_element", NULL, 0);
		check_post_element(post->room_id, post->seq, b.s, b.len);
		pchat_buf_free(&b);
	}
	/* an administrator changed the rooms; then the dialog ends */
	n = fake_live_ops.rooms_of(NULL, &caller, &rooms);
	for (i = 0; i < n; i++)
		pchat_chat_refresh_room(&chat, rooms[i].id);
	free(rooms);
	pchat_chat_session_end(&chat, &caller);
	fake_clear();
	return 0;
}
