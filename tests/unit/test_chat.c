/*
 * The chat logic against fakes of its store, live state and output: what each command answers,
 * what a post must pass before it is stored, and that a stored post reaches the sender in
 * commit order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fakes.h"
#include "pchat_archive.h"

/* ------------------------------------------------------------------ the fakes' world */

#define GUID_LOBBY "11111111-1111-1111-1111-111111111111"
#define GUID_OFF "22222222-2222-2222-2222-222222222222"
#define GUID_ANNEX "44444444-4444-4444-4444-444444444444"
#define ROOM_LOBBY "ma-chan://chat.test/" GUID_LOBBY

/* The lobby (open), a disabled room, the annex (open, files may be posted); carol manages every room and may create
 * rooms, dave manages the lobby only. */
static const fake_room_t rooms[] = {
	{1, GUID_LOBBY, "Lobby & <friends>", "", "hi", PCHAT_OPEN, PCHAT_NORMAL, 0, 0, 0, 1, 0, NULL,
		0, 0, 0, 0},
	{2, GUID_OFF, "", "", "", PCHAT_OPEN, PCHAT_NORMAL, 1, 0, 0, 1, 0, NULL, 0, 0, 0, 0},
	{3, GUID_ANNEX, "Annex", "", "", PCHAT_OPEN, PCHAT_NORMAL, 0, 1, 0, 1, 0, NULL, 0, 0, 0, 0},
};
static const fake_grant_t grants[] = {{"sip:carol@chat.test", NULL, PCHAT_ROLE_MANAGER, 0, 0},
	{"sip:dave@chat.test", GUID_LOBBY, PCHAT_ROLE_MANAGER, 0, 0}};
#define LOBBY_SUMMARY(invite) {1, GUID_LOBBY, "Lobby", "the lobby", PCHAT_OPEN, 1, invite, 1}
static const fake_listing_t listings[] = {{NULL, NULL, NULL, LOBBY_SUMMARY(0)}};
static const fake_association_t associations[] = {
	{"sip:carol@chat.test", PCHAT_ROLE_MANAGER, LOBBY_SUMMARY(0)}};
static const fake_invitation_t invitations[] = {
	{NULL, {5, "2026-01-02 03:04:05.000000", "sip:carol@chat.test", LOBBY_SUMMARY(1)}}};
static const char *const creators[] = {"sip:carol@chat.test"};

/* Generated history (F.history_n posts): seq i + 1 says "message i". */
static void filler(uint64_t room_id, int i, char *content, size_t len, const char **author)
{
	(void)room_id;
	(void)author;
	snprintf(content, len, "<chat>message %03d</chat>", i);
}

static const fake_world_t world = {rooms, 3, grants, 2, listings, 1, associations, 1,
	invitations, 1, NULL, 0, creators, 1, NULL, 0, filler};

/* The same world after the lobby was deleted from the store: the store no longer finds it,
 * while the live state still holds its sessions. */
static const fake_room_t rooms_after_removal[] = {
	{1, GUID_LOBBY, "Lobby & <friends>", "", "hi", PCHAT_OPEN, PCHAT_NORMAL, 0, 0, 0, 1, 0, NULL,
		0, PCHAT_ERR_NOT_FOUND, 0, 0},
	{2, GUID_OFF, "", "", "", PCHAT_OPEN, PCHAT_NORMAL, 1, 0, 0, 1, 0, NULL, 0, 0, 0, 0},
};
static const fake_world_t world_after_removal = {rooms_after_removal, 2, grants, 2, listings, 1,
	associations, 1, invitations, 1, NULL, 0, creators, 1, NULL, 0, filler};

void fake_fail(const char *file, int line, const char *what)
{
	print_error("%s\n", what);
	_fail(file, line);
	abort(); /* not reached: _fail() leaves the test (cmocka does not declare it noreturn) */
}

static pchat_settings_t settings = {
	.default_history = 3, .max_file_size = 100, .message_size_limit = 10, .backchat_limit = 5,
	.participant_update_limit = 2, .search_limit = 500, .story_size_limit = 8192,
	.reply_size = 60000, .max_post_size = 30000, .max_preferences = 64,
	.max_preference_size = 16384, .file_token_lifetime = 1800};
static int recording_on;
static uint64_t recorded;
static const pchat_chat_t chat = {&fake_store_ops, NULL, &fake_live_ops, NULL, &fake_out_ops,
	NULL, &settings, "chat.test", "sip:pchat@chat.test", &recording_on, &recorded, NULL, NULL};

/* The same node with its file service */
static const pchat_chat_t chat_files = {&fake_store_ops, NULL, &fake_live_ops, NULL,
	&fake_out_ops, NULL, &settings, "chat.test", "sip:pchat@chat.test", &recording_on,
	&recorded, "https://files.chat.test", "https://files.chat.test/PersistentChat/RM/"};

static const pchat_caller_t alice = {{1, 1}, "sip:alice@chat.test"};
static const pchat_caller_t bob = {{2, 1}, "sip:bob@chat.test"};
static const pchat_caller_t bob2 = {{3, 1}, "sip:bob@chat.test"};
static const pchat_caller_t carol = {{4, 1}, "sip:carol@chat.test"};
static const pchat_caller_t dave = {{5, 1}, "sip:dave@chat.test"};

/* ------------------------------------------------------------------ helpers */

static int reset(void **state)
{
	(void)state;
	fake_reset(&world);
	settings.reply_size = 60000;
	settings.message_size_limit = 10;
	recording_on = 0;
	recorded = 0;
	return 0;
}

static void run_on(const pchat_chat_t *on, const pchat_caller_t *c, const char *cmd)
{
	char body[2048];
	pchat_env_t env;
	char err[128];

	snprintf(body, sizeof(body), "<xccos ver=\"1\" envid=\"77\" xmlns=\"urn:parlano:xml:ns:xccos\">"
			"%s</xccos>", cmd);
	assert_int_equal(pchat_xccos_parse(body, strlen(body), 65536, &env, err, sizeof(err)),
			PCHAT_OK);
	pchat_chat_command(on, c, &env);
	pchat_xccos_free(&env);
}

static void run(const pchat_caller_t *c, const char *cmd)
{
	run_on(&chat, c, cmd);
}

static int post_on(const pchat_chat_t *on, const pchat_caller_t *c, const char *attrs,
		const char *content)
{
	char body[2048];
	pchat_env_t env;
	char err[128];
	int code;

	snprintf(body, sizeof(body), "<xccos ver=\"1\" envid=\"78\" xmlns=\"" PCHAT_XCCOS_NS "\">"
			"<grpchat id=\"grpchat\" %s>%s"
			"</grpchat></xccos>", attrs, content);
	assert_int_equal(pchat_xccos_parse(body, strlen(body), 65536, &env, err, sizeof(err)),
			PCHAT_OK);
	code = pchat_rc_sip(pchat_chat_post(on, c, &env)); /* the SIP status it is answered with */
	pchat_xccos_free(&env);
	return code;
}

static int post(const pchat_caller_t *c, const char *attrs, const char *content)
{
	return post_on(&chat, c, attrs, content);
}

#define JOIN_LOBBY "<cmd id=\"cmd:join\" seqid=\"1\"><data><chanid key=\"0\" " \
				   "domain=\"chat.test\" value=\"" GUID_LOBBY "\"/></data></cmd>"
#define LAST_REPLY F.reply[(F.replies - 1) % 16]
#define IN_LOBBY "chanUri=\"" ROOM_LOBBY "\""

/* ------------------------------------------------------------------ tests */

static void join_lists_participants_and_notifies_others(void **state)
{
	(void)state;
	run(&alice, JOIN_LOBBY);
	assert_non_null(strstr(LAST_REPLY, "<rpl id=\"rpl:join\" seqid=\"1\"><commandid seqid=\"1\" "
			"envid=\"77\"/><resp code=\"200\">SUCCESS_OK</resp>"));
	assert_non_null(strstr(LAST_REPLY, "<uib id=\"0\" uri=\"sip:alice@chat.test\"/>"));
	assert_non_null(strstr(LAST_REPLY, "name=\"Lobby &amp; &lt;friends&gt;\""));
	assert_int_equal(F.ready[0], 1);
	assert_int_equal(F.notices, 1); /* alice was first: the (empty) room hears of her */
	run(&bob, JOIN_LOBBY);
	assert_non_null(strstr(LAST_REPLY, "<uib id=\"0\" uri=\"sip:bob@chat.test\"/>"
			"<uib id=\"1\" uri=\"sip:alice@chat.test\"/>"));
	assert_non_null(strstr(LAST_REPLY, "<aib key=\"3984\" value=\"0,1\"/>"));
	assert_int_equal(F.notices, 2);
	assert_non_null(strstr(F.notice[1], "<ntc id=\"ntc:join\"><data><uib uri=\"sip:bob@chat.test\">"
			"<aib key=\"3984\" domain=\"chat.test\" value=\"" GUID_LOBBY "\"/>"));
	assert_string_equal(F.notice_except[1], "sip:bob@chat.test");
	run(&bob2, JOIN_LOBBY); /* bob's second session: no news for the others */
	assert_int_equal(F.notices, 2);
}

static void above_the_update_limit_lists_are_capped_and_notices_stop(void **state)
{
	(void)state;
	run(&alice, JOIN_LOBBY);
	run(&bob, JOIN_LOBBY);
	run(&carol, JOIN_LOBBY); /* three users, limit two; carol manages the room */
	assert_int_equal(F.notices, 2);
	assert_non_null(strstr(LAST_REPLY, "<aib key=\"3984\" value=\"1\"/>"
			"<aib key=\"12276\" value=\"0\"/>"));
	assert_null(strstr(LAST_REPLY, "<uib id=\"2\""));
}

static void join_refusals_are_explained(void **state)
{
	(void)state;
	run(&alice, "<cmd id=\"cmd:join\" seqid=\"1\"><data><chanid domain=\"chat.test\" value=\""
			"33333333-3333-3333-3333-333333333333\"/></data></cmd>");
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"404\">no such room</resp>"));
	run(&alice, "<cmd id=\"cmd:join\" seqid=\"1\"><data><chanid domain=\"chat.test\" value=\""
			GUID_OFF "\"/></data></cmd>");
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"403\">the room is disabled</resp>"));
	run(&alice, "<cmd id=\"cmd:join\" seqid=\"1\"><data><chanid domain=\"evil.test\" value=\""
			GUID_LOBBY "\"/></data></cmd>");
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"400\">invalid room identifier</resp>"));
	F.down = 1;
	run(&alice, JOIN_LOBBY);
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"503\">"));
	assert_int_equal(F.members, 0);
}

static void bjoin_reports_each_failure(void **state)
{
	(void)state;
	run(&alice, "<cmd id=\"cmd:bjoin\" seqid=\"1\"><data>"
			"<chanid key=\"0\" domain=\"chat.test\" value=\"" GUID_LOBBY "\"/>"
			"<chanid key=\"1\" domain=\"chat.test\" value=\"" GUID_OFF "\"/>"
			"<chanid key=\"2\" domain=\"chat.test\" value=\"junk\"/></data></cmd>");
	assert_non_null(strstr(LAST_REPLY, "rpl:bjoin"));
	assert_non_null(strstr(LAST_REPLY, "<chanib uri=\"" ROOM_LOBBY "\""));
	assert_non_null(strstr(LAST_REPLY, "<fib key=\"OPERATION_FAILED\" value=\"" GUID_OFF));
	assert_non_null(strstr(LAST_REPLY, "<fib key=\"OPERATION_FAILED\" value=\"junk\""));
	assert_int_equal(F.members, 1);
	assert_non_null(strstr(F.notice[0], "ntc:bjoin"));
	/* the three rooms were looked up in one query */
	assert_int_equal(F.batch_lookups, 1);
}

/* Rooms named twice are joined once; a store that cannot answer fails every room of the batch,
 * and a batch longer than one query's rooms takes a query for each part. */
static void bjoin_looks_rooms_up_in_batches(void **state)
{
	char cmd[4096];
	int i, n = 0;

	(void)state;
	run(&alice, "<cmd id=\"cmd:bjoin\" seqid=\"1\"><data>"
			"<chanid key=\"0\" domain=\"chat.test\" value=\"" GUID_LOBBY "\"/>"
			"<chanid key=\"1\" domain=\"chat.test\" value=\"" GUID_LOBBY "\"/></data></cmd>");
	assert_int_equal(F.members, 1);
	assert_null(strstr(LAST_REPLY, "<fib "));
	n = snprintf(cmd, sizeof(cmd), "<cmd id=\"cmd:bjoin\" seqid=\"1\"><data>");
	for (i = 0; i < PCHAT_ROOMS_BATCH + 1; i++)
		n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, "<chanid key=\"%d\" domain=\"chat.test"
				"\" value=\"%s\"/>", i, i % 2 ? GUID_ANNEX : GUID_LOBBY);
	snprintf(cmd + n, sizeof(cmd) - (size_t)n, "</data></cmd>");
	F.batch_lookups = 0;
	run(&bob, cmd);
	assert_int_equal(F.batch_lookups, 2);
	assert_int_equal(F.members, 3);
	F.down = 1;
	run(&carol, cmd);
	assert_non_null(strstr(LAST_REPLY, "rpl:bjoin"));
	assert_null(strstr(LAST_REPLY, "<chanib "));
	assert_int_equal(F.members, 3);
}

/* One reply lists each user once, but a user's roles are those of each room. */
static void bjoin_lists_each_room_with_its_own_roles(void **state)
{
	(void)state;
	run(&dave, "<cmd id=\"cmd:bjoin\" seqid=\"1\"><data>"
			"<chanid key=\"0\" domain=\"chat.test\" value=\"" GUID_LOBBY "\"/>"
			"<chanid key=\"1\" domain=\"chat.test\" value=\"" GUID_ANNEX "\"/></data></cmd>");
	assert_int_equal(F.members, 2);
	assert_non_null(strstr(LAST_REPLY, "<uib id=\"0\" uri=\"sip:dave@chat.test\"/><chanib "));
	assert_non_null(strstr(LAST_REPLY, "topic=\"hi\"><aib key=\"12276\" value=\"0\"/></chanib>"));
	assert_non_null(strstr(LAST_REPLY, "name=\"Annex\" description=\"\" topic=\"\">"
			"<aib key=\"3984\" value=\"0\"/></chanib>"));
}

/* The pool's presence lists a joined room's users with the join itself: the reply's list and
 * the count that decides the join notice come from that answer, and only a session that was
 * in the room already asks for them apart. */
static void a_join_asks_for_the_participants_once_per_room(void **state)
{
	(void)state;
	run(&bob, JOIN_LOBBY);
	F.participant_queries = 0;
	run(&alice, JOIN_LOBBY);
	assert_int_equal(F.participant_queries, 0);
	assert_int_equal(F.notices, 2); /* bob heard of alice */
	assert_non_null(strstr(LAST_REPLY, "uri=\"sip:alice@chat.test\"/><uib id=\"1\" "
			"uri=\"sip:bob@chat.test\"/>"));
	run(&carol, "<cmd id=\"cmd:bjoin\" seqid=\"1\"><data>"
			"<chanid key=\"0\" domain=\"chat.test\" value=\"" GUID_LOBBY "\"/>"
			"<chanid key=\"1\" domain=\"chat.test\" value=\"" GUID_ANNEX "\"/></data></cmd>");
	assert_int_equal(F.participant_queries, 0);
	assert_int_equal(F.notices, 3); /* the lobby is over the limit now; the annex hears of carol */
	run(&carol, JOIN_LOBBY); /* in the lobby already: its users are asked for */
	assert_int_equal(F.participant_queries, 1);
	assert_non_null(strstr(LAST_REPLY, "sip:bob@chat.test"));
}

static void post_is_stored_before_it_is_fanned_out_in_order(void **state)
{
	(void)state;
	run(&alice, JOIN_LOBBY);
	assert_int_equal(post(&alice, IN_LOBBY " author=\"sip:ceo@chat.test\" ts=\"1999-01-01\"",
			"<chat>a &amp; b</chat>"), 200);
	assert_string_equal(F.log, "begin lock commit fanout unlock ");
	assert_string_equal(F.last_author, "sip:alice@chat.test");
	assert_string_equal(F.last_content, "<chat>a &amp; b</chat>");
	/* the element alone: each node's sender puts it in an envelope of its own */
	assert_true(strncmp(F.fanout, "<grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"" ROOM_LOBBY
			"\" author=\"sip:alice@chat.test\" ts=\"", 60) == 0);
	assert_null(strstr(F.fanout, "1999"));
	assert_null(strstr(F.fanout, "ceo"));
}

/* A post the store fills into a gap reads as the live copy did. */
static void stored_post_element_matches_the_live_one(void **state)
{
	pchat_post_t p = {7, "sip:bob@chat.test", "2026-01-02 03:04:05.250000", "<chat>hi</chat>"};
	pchat_buf_t b;

	(void)state;
	pchat_buf_init(&b);
	pchat_chat_post_element(&chat, GUID_LOBBY, &p, &b);
	assert_true(pchat_buf_ok(&b));
	assert_string_equal(b.s, "<grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"" ROOM_LOBBY
			"\" author=\"sip:bob@chat.test\" ts=\"2026-01-02T03:04:05.2500000Z\">"
			"<chat>hi</chat></grpchat>");
	pchat_buf_free(&b);
}

static void posts_that_must_not_be_stored(void **state)
{
	(void)state;
	assert_int_equal(post(&alice, IN_LOBBY, "<chat>not joined</chat>"), 403);
	run(&alice, JOIN_LOBBY);
	assert_int_equal(post(&alice, IN_LOBBY, "<chat>\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9</chat>"), 200); /* 10 characters */
	assert_int_equal(post(&alice, IN_LOBBY, "<chat>eleven char</chat>"), 413);
	assert_int_equal(post(&alice, IN_LOBBY, "<chat></chat>"), 400);
	assert_int_equal(post(&alice, IN_LOBBY, "<html>no chat</html>"), 400);
	assert_int_equal(post(&alice, "chanUri=\"ma-chan://other.test/" GUID_LOBBY "\"",
			"<chat>x</chat>"), 400);
	assert_int_equal(F.stored, 1);
	F.down = 1;
	assert_int_equal(post(&alice, IN_LOBBY, "<chat>db down</chat>"), 503);
	F.down = 0;
	F.fail_commit = 1;
	assert_int_equal(post(&alice, IN_LOBBY, "<chat>lost</chat>"), 503);
	assert_int_equal(F.fanouts, 1); /* nothing unstored went out */
}

static void backchat_is_split_below_the_reply_size(void **state)
{
	char *all = calloc(1, 200000);
	int i, parts;

	(void)state;
	F.history_n = 40;
	settings.backchat_limit = 30;
	settings.reply_size = 1500;
	run(&alice, "<cmd id=\"cmd:bccontext\" seqid=\"1\"><data><chanib uri=\"" ROOM_LOBBY
			"\"/><bcq><last cnt=\"100\"/></bcq></data></cmd>");
	parts = F.replies;
	assert_true(parts > 2 && parts <= 16);
	for (i = 0; i < parts; i++) {
		assert_true(strlen(F.reply[i]) <= 1500);
		assert_non_null(strstr(F.reply[i], "rpl:bccontext"));
		strcat(all, F.reply[i]);
	}
	/* oldest first across the parts: 10..39 */
	assert_non_null(strstr(all, "message 010"));
	assert_null(strstr(all, "message 009"));
	assert_true(strstr(all, "message 010") < strstr(all, "message 011"));
	settings.backchat_limit = 5;
	free(all);
}

static void unknown_commands_are_answered(void **state)
{
	(void)state;
	run(&alice, "<cmd id=\"cmd:teleport\" seqid=\"4\"><data/></cmd>");
	assert_non_null(strstr(LAST_REPLY, "<rpl id=\"rpl:teleport\" seqid=\"4\">"));
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"501\">command not supported</resp>"));
}

static void search_and_requri(void **state)
{
	(void)state;
	run(&alice, JOIN_LOBBY);
	run(&bob, JOIN_LOBBY);
	run(&alice, "<cmd id=\"cmd:chansrch\" seqid=\"1\"><data><qib qtype=\"BYNAME\" criteria=\"\" "
			"extended=\"false\"/></data></cmd>");
	/* the user count, asked for once the list is complete, lands in its entry */
	assert_non_null(strstr(LAST_REPLY, "<chanib name=\"Lobby\" description=\"the lobby\" uri=\""
			ROOM_LOBBY "\"><info id=\"urn:parlano:ma:info:ucnt\">2</info>"
			"<info id=\"urn:parlano:ma:info:visibilty\">public</info>"));
	assert_non_null(strstr(LAST_REPLY, "<prop id=\"urn:parlano:ma:prop:invite\">false</prop>"));
	run(&alice, "<cmd id=\"cmd:requri\" seqid=\"1\"><data/></cmd>");
	assert_non_null(strstr(LAST_REPLY, "<uib uri=\"sip:pchat@chat.test\"/>"));
}

static void session_end_parts_with_notice(void **state)
{
	(void)state;
	run(&alice, JOIN_LOBBY);
	run(&bob, JOIN_LOBBY);
	F.notices = 0;
	pchat_chat_session_end(&chat, &bob);
	assert_int_equal(F.members, 1);
	assert_int_equal(F.notices, 1);
	assert_string_equal(F.notice[0], "<ntc id=\"ntc:part\"><data><chanib uri=\"" ROOM_LOBBY
			"\"><uib uri=\"sip:bob@chat.test\"/></chanib></data></ntc>");
	run(&alice, "<cmd id=\"cmd:part\" seqid=\"1\"><data><chanib uri=\"" ROOM_LOBBY
			"\"/></data></cmd>");
	assert_non_null(strstr(LAST_REPLY, "<data><chanib uri=\"" ROOM_LOBBY "\"/></data>"));
	assert_int_equal(F.members, 0);
}

static void associations_invitations_preferences(void **state)
{
	(void)state;
	run(&carol, "<cmd id=\"cmd:getassociations\" seqid=\"1\"><data><qib qtype=\"MANAGER\"/>"
			"</data></cmd>");
	assert_non_null(strstr(LAST_REPLY, "rpl:getassociations"));
	assert_non_null(strstr(LAST_REPLY, "<chanib name=\"Lobby\""));
	run(&alice, "<cmd id=\"cmd:getassociations\" seqid=\"1\"><data/></cmd>");
	assert_null(strstr(LAST_REPLY, "<chanib"));
	run(&alice, "<cmd id=\"cmd:getinv\" seqid=\"1\"><data><inv inviteId=\"1\" "
			"domain=\"chat.test\"/></data></cmd>");
	assert_non_null(strstr(LAST_REPLY, "<inv inviteId=\"5\" domain=\"chat.test\" "
			"created=\"2026-01-02T03:04:05.0000000Z\" inviter=\"sip:carol@chat.test\"><chanib"));
	run(&alice, "<cmd id=\"cmd:getinv\" seqid=\"1\"><data><inv inviteId=\"5\"/></data></cmd>");
	assert_null(strstr(LAST_REPLY, "<inv "));
	run(&alice, "<cmd id=\"cmd:getpref\" seqid=\"1\"><data><pref label=\"x.GroupChannels\" "
			"createdefault=\"false\"/></data></cmd>");
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"404\">no such preference</resp>"));
	run(&alice, "<cmd id=\"cmd:setpref\" seqid=\"1\"><data><pref label=\"x.GroupChannels\" "
			"content=\"aGVsbG8=\"/></data></cmd>");
	assert_non_null(strstr(LAST_REPLY, "<pref label=\"x.GroupChannels\" seqid=\"1\" "
			"content=\"aGVsbG8=\"/>"));
	run(&alice, "<cmd id=\"cmd:getpref\" seqid=\"1\"><data><pref label=\"x.GroupChannels\"/>"
			"</data></cmd>");
	assert_non_null(strstr(LAST_REPLY, "seqid=\"1\" content=\"aGVsbG8=\""));
	run(&carol, "<cmd id=\"cmd:nodespermcreatechild\" seqid=\"1\"><data/></cmd>");
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"200\">"));
	run(&alice, "<cmd id=\"cmd:nodespermcreatechild\" seqid=\"1\"><data/></cmd>");
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"403\">you may not create rooms</resp>"));
}

static void refresh_updates_rights_and_puts_out_the_unwelcome(void **state)
{
	(void)state;
	run(&alice, JOIN_LOBBY);
	run(&bob, JOIN_LOBBY);
	pchat_chat_refresh_room(&chat, 1);
	assert_int_equal(F.updates, 2);
	assert_int_equal(F.members, 2);
	F.down = 1; /* the store cannot tell: nobody is put out */
	pchat_chat_refresh_room(&chat, 1);
	assert_int_equal(F.members, 2);
}

static void refresh_of_a_removed_room_puts_everyone_out(void **state)
{
	(void)state;
	run(&alice, JOIN_LOBBY);
	run(&bob, JOIN_LOBBY);
	F.replies = 0;
	F.notices = 0;
	F.world = &world_after_removal;
	pchat_chat_refresh_room(&chat, 1);
	assert_int_equal(F.members, 0);
	/* each session is told it is out, and the ones still there hear of it */
	assert_int_equal(F.replies, 2);
	assert_non_null(strstr(F.reply[0], "<ntc id=\"ntc:part\"><data><chanib uri=\"" ROOM_LOBBY
			"\"><uib uri=\"sip:alice@chat.test\"/>"));
	assert_non_null(strstr(F.reply[1], "<ntc id=\"ntc:part\"><data><chanib uri=\"" ROOM_LOBBY
			"\"><uib uri=\"sip:bob@chat.test\"/>"));
	assert_int_equal(F.notices, 2);
	assert_non_null(strstr(F.notice[0], "ntc:part"));
}

/* ------------------------------------------------------------------ compliance */

#define BACKCHAT_2 "<cmd id=\"cmd:bccontext\" seqid=\"1\"><data><chanib uri=\"" ROOM_LOBBY \
				   "\"/><bcq><last cnt=\"2\"/></bcq></data></cmd>"

static void not_recording_records_nothing(void **state)
{
	(void)state;
	run(&alice, JOIN_LOBBY);
	assert_int_equal(post(&alice, IN_LOBBY, "<chat>hi</chat>"), 200);
	run(&alice, BACKCHAT_2);
	pchat_chat_session_end(&chat, &alice);
	assert_int_equal(F.nevents, 0);
}

static void a_users_joins_posts_reads_and_parts_are_recorded(void **state)
{
	(void)state;
	recording_on = 1;
	F.history_n = 5;
	run(&alice, JOIN_LOBBY);
	run(&bob, JOIN_LOBBY);
	run(&bob2, JOIN_LOBBY); /* bob is in the room already: no second JOIN */
	assert_int_equal(F.nevents, 2);
	assert_int_equal(F.events[0].kind, PCHAT_EV_JOIN);
	assert_string_equal(F.events[0].user, "sip:alice@chat.test");
	assert_int_equal(F.events[0].room, 1);
	assert_string_equal(F.events[1].user, "sip:bob@chat.test");
	assert_int_equal(post(&alice, IN_LOBBY, "<chat>a&lt;b</chat>"), 200);
	assert_int_equal(F.nevents, 3);
	assert_int_equal(F.events[2].kind, PCHAT_EV_CHAT);
	assert_int_equal(F.events[2].msg_id, 6); /* the post's number in the room */
	assert_string_equal(F.events[2].content, "a<b"); /* its text, not its markup */
	assert_non_null(strstr(F.log, "begin record lock commit"));
	run(&bob, BACKCHAT_2);
	assert_int_equal(F.events[3].kind, PCHAT_EV_BACKCHAT);
	assert_string_equal(F.events[3].content, "5-6");
	assert_string_equal(F.events[3].detail, "{\"requested\":2,\"first\":5,\"last\":6}");
	assert_non_null(strstr(LAST_REPLY, "message 004")); /* seq 5 */
	assert_null(strstr(LAST_REPLY, "message 003"));
	pchat_chat_session_end(&chat, &bob2); /* bob stays with his other session */
	assert_int_equal(F.nevents, 4);
	pchat_chat_session_end(&chat, &bob);
	run(&alice, "<cmd id=\"cmd:part\" seqid=\"1\"><data><chanib uri=\"" ROOM_LOBBY
			"\"/></data></cmd>");
	assert_int_equal(F.nevents, 6);
	assert_int_equal(F.events[4].kind, PCHAT_EV_PART);
	assert_string_equal(F.events[4].user, "sip:bob@chat.test");
	assert_string_equal(F.events[4].detail, "{\"cause\":\"session-end\"}");
	assert_string_equal(F.events[5].detail, "{\"cause\":\"part\"}");
	assert_int_equal(recorded, 6); /* the statistic compliance_recorded counts them */
}

static void what_cannot_be_recorded_does_not_happen(void **state)
{
	(void)state;
	recording_on = 1;
	F.history_n = 5;
	F.record_result = PCHAT_ERR_DOWN;
	run(&alice, JOIN_LOBBY);
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"503\">"));
	assert_int_equal(F.members, 0);
	F.record_result = 0;
	run(&alice, JOIN_LOBBY);
	assert_int_equal(F.members, 1);
	F.record_result = PCHAT_ERR_FAILED;
	F.log[0] = '\0';
	assert_int_equal(post(&alice, IN_LOBBY, "<chat>unrecorded</chat>"), 500);
	assert_string_equal(F.log, "begin abort ");
	assert_int_equal(F.stored, 0);
	assert_int_equal(F.fanouts, 0); /* nothing unstored went out */
	F.replies = 0;
	run(&alice, BACKCHAT_2);
	assert_int_equal(F.replies, 1);
	assert_null(strstr(LAST_REPLY, "message 00"));
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"500\">"));
	F.record_result = 0;
	F.fail_commit = 1;
	F.log[0] = '\0';
	assert_int_equal(post(&alice, IN_LOBBY, "<chat>lost</chat>"), 503);
	assert_string_equal(F.log, "begin record lock commit unlock ");
	assert_int_equal(F.nevents, 1); /* the JOIN; the post's event went with the post */
}

static void assert_part(int i, const char *user, const char *cause)
{
	char detail[64];

	snprintf(detail, sizeof(detail), "{\"cause\":\"%s\"}", cause);
	assert_int_equal(F.events[i].kind, PCHAT_EV_PART);
	assert_string_equal(F.events[i].user, user);
	assert_string_equal(F.events[i].detail, detail);
}

static void a_room_change_and_a_dead_node_record_the_part(void **state)
{
	(void)state;
	recording_on = 1;
	run(&alice, JOIN_LOBBY);
	F.world = &world_after_removal; /* the room is gone: alice is put out */
	pchat_chat_refresh_room(&chat, 1);
	assert_int_equal(F.members, 0);
	assert_int_equal(F.nevents, 2);
	assert_part(1, "sip:alice@chat.test", PCHAT_LEFT_REMOVED);
	pchat_chat_user_left(&chat, 1, GUID_LOBBY, "sip:zed@chat.test", PCHAT_LEFT_NODE_DOWN);
	assert_int_equal(F.nevents, 3);
	assert_part(2, "sip:zed@chat.test", PCHAT_LEFT_NODE_DOWN);
}

/* A join whose reply cannot be built (out of memory) is undone: whenever its JOIN was recorded
 * and the session is not in the room after all, a PART says so. Every allocation of the join
 * fails in turn. */
static void an_undone_join_records_the_part(void **state)
{
	int n, failed, undone = 0;

	(void)state;
	for (n = 1; n < 500; n++) {
		fake_reset(&world);
		recording_on = 1;
		fake_alloc_fail_at(n);
		run(&bob, JOIN_LOBBY);
		failed = fake_alloc_failed();
		fake_alloc_fail_at(0);
		if (!failed)
			break; /* the join allocates fewer: every one has failed once */
		if (F.nevents == 0 || F.members == 1)
			continue; /* refused before its JOIN, or joined */
		assert_int_equal(F.events[0].kind, PCHAT_EV_JOIN);
		assert_int_equal(F.nevents, 2);
		assert_part(1, "sip:bob@chat.test", PCHAT_LEFT_JOIN_UNDONE);
		undone++;
	}
	assert_true(n < 500);
	assert_true(undone > 0);
}

/* ------------------------------------------------------------------ files */

#define ROOM_ANNEX "ma-chan://chat.test/" GUID_ANNEX
#define FTOK(cmd, room, name) "<cmd id=\"cmd:" cmd "\" seqid=\"6\"><data><ftdb channelUri=\"" \
	room "\" fileUrl=\"" name "\"/></data></cmd>"
#define FILE_NAME "9b2c0d14-7d1e-4a51-9f7e-0b7a5c2d8e11.txt"

static void file_tokens_go_to_those_who_may_post_or_read(void **state)
{
	(void)state;
	/* upload where files may be posted: a token and the web service's address */
	run_on(&chat_files, &alice, FTOK("getfutok", ROOM_ANNEX, "C:\\tmp\\notes.txt"));
	assert_non_null(strstr(LAST_REPLY, "<rpl id=\"rpl:getftok\" seqid=\"6\">"));
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"200\">"));
	assert_non_null(strstr(LAST_REPLY, "<data><token token=\"00000000-0000-4000-8000-000000000001\" "
			"serveruri=\"https://files.chat.test/PersistentChat/MGCWebService.asmx\"/></data>"));
	assert_true(F.tokens == 1 && F.token_upload == 1 && F.token_room == 3);
	assert_string_equal(F.token_name, "C:\\tmp\\notes.txt");
	/* the category does not allow files in the lobby */
	run_on(&chat_files, &alice, FTOK("getfutok", ROOM_LOBBY, "notes.txt"));
	assert_non_null(strstr(LAST_REPLY, "<rpl id=\"rpl:getftok\" seqid=\"6\">"));
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"403\">files may not be posted in this "
			"room</resp>"));
	/* a disabled room: neither way */
	run_on(&chat_files, &alice, FTOK("getfdtok", "ma-chan://chat.test/" GUID_OFF, FILE_NAME));
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"403\">"));
	/* download: only a file the room has */
	run_on(&chat_files, &alice, FTOK("getfdtok", ROOM_ANNEX, FILE_NAME));
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"404\">no such file in this room</resp>"));
	F.file_room = 3;
	snprintf(F.file_name, sizeof(F.file_name), FILE_NAME);
	run_on(&chat_files, &alice, FTOK("getfdtok", ROOM_ANNEX, FILE_NAME));
	assert_non_null(strstr(LAST_REPLY, "<token token=\"00000000-0000-4000-8000-000000000002\""));
	assert_true(F.tokens == 2 && F.token_upload == 0);
	/* malformed requests */
	run_on(&chat_files, &alice, FTOK("getfutok", "ma-chan://other.test/" GUID_ANNEX, "a.txt"));
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"400\">"));
	run_on(&chat_files, &alice, FTOK("getfutok", ROOM_ANNEX, ""));
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"400\">invalid file name</resp>"));
	/* the store down */
	F.down = 1;
	run_on(&chat_files, &alice, FTOK("getfdtok", ROOM_ANNEX, FILE_NAME));
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"503\">"));
	assert_int_equal(F.tokens, 2);
}

static void without_a_file_service_no_token_and_no_filepost(void **state)
{
	(void)state;
	run(&alice, FTOK("getfutok", ROOM_ANNEX, "notes.txt"));
	assert_non_null(strstr(LAST_REPLY, "<rpl id=\"rpl:getftok\" seqid=\"6\">"));
	assert_non_null(strstr(LAST_REPLY, "<resp code=\"501\">file posting is not available"));
	assert_int_equal(F.tokens, 0);
	/* listings tell the truth: the lobby's category allows files, this node cannot take them */
	run(&alice, "<cmd id=\"cmd:chansrch\" seqid=\"2\"><data><qib qtype=\"BYNAME\" "
				"criteria=\"\" extended=\"false\"/></data></cmd>");
	assert_non_null(strstr(LAST_REPLY, "<prop id=\"urn:parlano:ma:prop:filepost\">false</prop>"));
	run_on(&chat_files, &alice, "<cmd id=\"cmd:chansrch\" seqid=\"2\"><data><qib "
								"qtype=\"BYNAME\" criteria=\"\" extended=\"false\"/></data></cmd>");
	assert_non_null(strstr(LAST_REPLY, "<prop id=\"urn:parlano:ma:prop:filepost\">true</prop>"));
}

static void a_post_links_only_files_of_its_room_that_exist(void **state)
{
	(void)state;
	run_on(&chat_files, &alice, "<cmd id=\"cmd:join\" seqid=\"1\"><data><chanid key=\"0\" "
								"domain=\"chat.test\" value=\"" GUID_ANNEX "\"/></data></cmd>");
	F.file_room = 3;
	snprintf(F.file_name, sizeof(F.file_name), FILE_NAME);
	settings.message_size_limit = 200; /* the links are long */
	assert_int_equal(post_on(&chat_files, &alice, "chanUri=\"" ROOM_ANNEX "\"",
			"<chat>see ma-filelink://chat.test/" GUID_ANNEX "/" FILE_NAME "</chat>"), 200);
	assert_int_equal(F.stored, 1);
	/* a file the room does not have */
	assert_int_equal(post_on(&chat_files, &alice, "chanUri=\"" ROOM_ANNEX "\"",
			"<chat>ma-filelink://chat.test/" GUID_ANNEX "/"
			"00000000-7d1e-4a51-9f7e-0b7a5c2d8e11.txt</chat>"), 404);
	/* another room's file */
	assert_int_equal(post_on(&chat_files, &alice, "chanUri=\"" ROOM_ANNEX "\"",
			"<chat>ma-filelink://chat.test/" GUID_LOBBY "/" FILE_NAME "</chat>"), 403);
	/* a link that is not one of ours */
	assert_int_equal(post_on(&chat_files, &alice, "chanUri=\"" ROOM_ANNEX "\"",
			"<chat>ma-filelink://chat.test/" GUID_ANNEX "/../../etc/passwd</chat>"), 400);
	assert_int_equal(F.stored, 1);
	/* each checked inside its transaction, the refused ones undone */
	assert_string_equal(F.log, "begin lock commit fanout unlock begin abort begin abort begin "
							   "abort ");
}

int main(void)
{
	int failed;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(file_tokens_go_to_those_who_may_post_or_read, reset),
		cmocka_unit_test_setup(without_a_file_service_no_token_and_no_filepost, reset),
		cmocka_unit_test_setup(a_post_links_only_files_of_its_room_that_exist, reset),
		cmocka_unit_test_setup(join_lists_participants_and_notifies_others, reset),
		cmocka_unit_test_setup(above_the_update_limit_lists_are_capped_and_notices_stop, reset),
		cmocka_unit_test_setup(join_refusals_are_explained, reset),
		cmocka_unit_test_setup(bjoin_reports_each_failure, reset),
		cmocka_unit_test_setup(bjoin_looks_rooms_up_in_batches, reset),
		cmocka_unit_test_setup(bjoin_lists_each_room_with_its_own_roles, reset),
		cmocka_unit_test_setup(a_join_asks_for_the_participants_once_per_room, reset),
		cmocka_unit_test_setup(post_is_stored_before_it_is_fanned_out_in_order, reset),
		cmocka_unit_test_setup(posts_that_must_not_be_stored, reset),
		cmocka_unit_test_setup(backchat_is_split_below_the_reply_size, reset),
		cmocka_unit_test_setup(unknown_commands_are_answered, reset),
		cmocka_unit_test_setup(search_and_requri, reset),
		cmocka_unit_test_setup(session_end_parts_with_notice, reset),
		cmocka_unit_test_setup(stored_post_element_matches_the_live_one, reset),
		cmocka_unit_test_setup(associations_invitations_preferences, reset),
		cmocka_unit_test_setup(refresh_updates_rights_and_puts_out_the_unwelcome, reset),
		cmocka_unit_test_setup(refresh_of_a_removed_room_puts_everyone_out, reset),
		cmocka_unit_test_setup(not_recording_records_nothing, reset),
		cmocka_unit_test_setup(a_users_joins_posts_reads_and_parts_are_recorded, reset),
		cmocka_unit_test_setup(what_cannot_be_recorded_does_not_happen, reset),
		cmocka_unit_test_setup(a_room_change_and_a_dead_node_record_the_part, reset),
		cmocka_unit_test_setup(an_undone_join_records_the_part, reset),
	};

	pchat_xccos_init();
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	fake_clear();
	return failed;
}
