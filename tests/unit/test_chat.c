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

#include "pchat_chat.h"

/* ------------------------------------------------------------------ fake store */

#define GUID_LOBBY "11111111-1111-1111-1111-111111111111"
#define GUID_OFF "22222222-2222-2222-2222-222222222222"
#define ROOM_LOBBY "ma-chan://chat.test/" GUID_LOBBY

typedef struct fake {
	int down;             /* the store is unreachable */
	int fail_commit;
	uint64_t seq;         /* last sequence of the lobby */
	int stored;           /* committed posts */
	char last_author[64];
	char last_content[256];
	char log[512];        /* order of post steps */
	int history_n;        /* posts the store has for backchat */
	/* live */
	int members;          /* sessions in the lobby */
	pchat_sref_t member[8];
	char member_user[8][64];
	int ready[8];
	/* out */
	int replies;
	char reply[16][20000];
	int notices;
	char notice[8][1024];
	char notice_except[8][64];
	int fanouts;
	int updates;
	char fanout[1024];
	uint64_t envid;
} fake_t;

static fake_t F;

static void step(const char *what)
{
	strcat(F.log, what);
	strcat(F.log, " ");
}

static int room_for(void *h, const char *guid, const char *user, pchat_room_t *room)
{
	(void)h;
	if (F.down)
		return PCHAT_STORE_DOWN;
	memset(room, 0, sizeof(*room));
	room->access.allowed = 1;
	room->logged = 1;
	if (strcmp(user, "sip:carol@chat.test") == 0)
		room->access.roles = PCHAT_ROLE_MANAGER;
	if (strcmp(guid, GUID_LOBBY) == 0) {
		room->id = 1;
		strcpy(room->name, "Lobby & <friends>");
		strcpy(room->topic, "hi");
	} else if (strcmp(guid, GUID_OFF) == 0) {
		room->id = 2;
		room->disabled = 1;
	} else {
		return PCHAT_NOT_FOUND;
	}
	strcpy(room->guid, guid);
	return 0;
}

static int post_begin(void *h, uint64_t room_id, const char *author, const char *ts,
		const char *content, uint64_t *seq)
{
	(void)h;
	(void)ts;
	assert_int_equal(room_id, 1);
	if (F.down)
		return PCHAT_STORE_DOWN;
	step("begin");
	*seq = F.seq + 1;
	snprintf(F.last_author, sizeof(F.last_author), "%s", author);
	snprintf(F.last_content, sizeof(F.last_content), "%s", content);
	return 0;
}

static int post_commit(void *h)
{
	(void)h;
	step("commit");
	if (F.fail_commit)
		return PCHAT_STORE_DOWN;
	F.seq++;
	F.stored++;
	return 0;
}

static void post_abort(void *h)
{
	(void)h;
	step("abort");
}

/* Post i (from 0) of the lobby's history: seq i + 1. */
static int stored_post(int i, pchat_post_f cb, void *ctx)
{
	char ts[32], content[64];
	pchat_post_t p = {(uint64_t)i + 1, "sip:bob@chat.test", ts, content};

	snprintf(ts, sizeof(ts), "2026-01-01 00:00:%02d.000000", i % 60);
	snprintf(content, sizeof(content), "<chat>message %03d</chat>", i);
	return cb(ctx, &p);
}

static int history(void *h, uint64_t room_id, int n, pchat_post_f cb, void *ctx)
{
	int i, first = F.history_n > n ? F.history_n - n : 0;

	(void)h;
	(void)room_id;
	for (i = first; i < F.history_n; i++)
		stored_post(i, cb, ctx);
	return 0;
}

static int posts_between(void *h, uint64_t room_id, uint64_t after, uint64_t before, int limit,
		pchat_post_f cb, void *ctx)
{
	int i, n = 0;

	(void)h;
	(void)room_id;
	for (i = (int)after; i < F.history_n && (uint64_t)i + 1 < before && n < limit; i++, n++)
		stored_post(i, cb, ctx);
	return n;
}

static int search(void *h, const char *user, pchat_search_kind_t kind, const char *text,
		int limit, pchat_room_f cb, void *ctx)
{
	pchat_room_summary_t r = {1, GUID_LOBBY, "Lobby", "the lobby", PCHAT_OPEN, 1, 0, 1};

	(void)h;
	(void)user;
	(void)limit;
	if (kind == PCHAT_SEARCH_NAME && strstr("Lobby", text))
		cb(ctx, &r);
	return 0;
}

static int associations(void *h, const char *user, enum pchat_role role, int limit,
		pchat_room_f cb, void *ctx)
{
	pchat_room_summary_t r = {1, GUID_LOBBY, "Lobby", "the lobby", PCHAT_OPEN, 1, 0, 1};

	(void)h;
	(void)limit;
	if (role == PCHAT_ROLE_MANAGER && strcmp(user, "sip:carol@chat.test") == 0)
		cb(ctx, &r);
	return 0;
}

static int invitations(void *h, const char *user, uint64_t after, int limit,
		pchat_invitation_f cb, void *ctx)
{
	pchat_invitation_t inv = {5, "2026-01-02 03:04:05.000000", "sip:carol@chat.test",
		{1, GUID_LOBBY, "Lobby", "the lobby", PCHAT_OPEN, 1, 1, 1}};

	(void)h;
	(void)user;
	(void)limit;
	if (after < inv.id)
		cb(ctx, &inv);
	return 0;
}

static char pref_content[64];
static uint64_t pref_seq;

static int pref_get(void *h, const char *user, const char *label, pchat_pref_t *pref)
{
	(void)h;
	(void)user;
	(void)label;
	pref->seqid = pref_seq;
	pref->content = pref_seq ? strdup(pref_content) : NULL;
	return 0;
}

static int pref_set(void *h, const char *user, const char *label, const char *content, int max,
		uint64_t *seqid)
{
	(void)h;
	(void)user;
	(void)label;
	(void)max;
	snprintf(pref_content, sizeof(pref_content), "%s", content);
	*seqid = ++pref_seq;
	return 0;
}

static int is_creator(void *h, const char *user)
{
	(void)h;
	return strcmp(user, "sip:carol@chat.test") == 0;
}

static int policy_enabled(void *h, const char *user)
{
	(void)h;
	(void)user;
	return 1;
}

static const pchat_store_ops_t store = {room_for, post_begin, post_commit, post_abort,
	history, posts_between, search, associations, invitations, pref_get, pref_set, is_creator,
	.policy_enabled = policy_enabled};

/* ------------------------------------------------------------------ fake live state */

static int find(pchat_sref_t ref)
{
	int i;

	for (i = 0; i < F.members; i++)
		if (F.member[i].slot == ref.slot)
			return i;
	return -1;
}

static int user_there(const char *user, int skip)
{
	int i;

	for (i = 0; i < F.members; i++)
		if (i != skip && strcmp(F.member_user[i], user) == 0)
			return 1;
	return 0;
}

static int live_join(void *h, const pchat_caller_t *c, const pchat_room_t *room, int can_post)
{
	int first;

	(void)h;
	(void)can_post;
	assert_int_equal(room->id, 1);
	if (find(c->session) >= 0)
		return 0;
	first = !user_there(c->user, -1);
	F.member[F.members] = c->session;
	strcpy(F.member_user[F.members], c->user);
	F.ready[F.members++] = 0;
	return first;
}

static void live_ready(void *h, const pchat_caller_t *c, uint64_t room_id)
{
	(void)h;
	(void)room_id;
	F.ready[find(c->session)] = 1;
}

static int live_part(void *h, const pchat_caller_t *c, uint64_t room_id)
{
	int i = find(c->session), last;

	(void)h;
	(void)room_id;
	if (i < 0)
		return -1;
	last = !user_there(c->user, i);
	F.members--;
	if (i != F.members) {
		F.member[i] = F.member[F.members];
		strcpy(F.member_user[i], F.member_user[F.members]);
	}
	return last;
}

static uint64_t live_joined(void *h, const pchat_caller_t *c, const char *guid, int *can_post)
{
	(void)h;
	if (can_post)
		*can_post = 1;
	return find(c->session) >= 0 && strcmp(guid, GUID_LOBBY) == 0 ? 1 : 0;
}

static int live_participants(void *h, uint64_t room_id, int max, pchat_user_f cb, void *ctx)
{
	int i, n = 0;

	(void)h;
	(void)room_id;
	for (i = 0; i < F.members; i++) {
		if (user_there(F.member_user[i], -1) && i > 0) {
			int j, dup = 0;

			for (j = 0; j < i; j++)
				dup |= strcmp(F.member_user[j], F.member_user[i]) == 0;
			if (dup)
				continue;
		}
		if (n++ < max && cb)
			cb(ctx, F.member_user[i],
					strcmp(F.member_user[i], "sip:carol@chat.test") ? 0 : PCHAT_ROLE_MANAGER);
	}
	return n;
}

static void live_counts(void *h, const uint64_t *rooms, int n, int *counts)
{
	int i;

	for (i = 0; i < n; i++)
		counts[i] = rooms[i] == 1 ? live_participants(h, 1, 0, NULL, NULL) : 0;
}

static int live_rooms_of(void *h, const pchat_caller_t *c, pchat_room_ref_t **rooms)
{
	(void)h;
	*rooms = NULL;
	if (find(c->session) < 0)
		return 0;
	*rooms = calloc(1, sizeof(**rooms));
	(*rooms)[0].id = 1;
	strcpy((*rooms)[0].guid, GUID_LOBBY);
	return 1;
}

static int live_members(void *h, uint64_t room_id, char *guid, pchat_member_t **out)
{
	int i;

	(void)h;
	(void)room_id;
	*out = calloc(F.members ? F.members : 1, sizeof(**out));
	strcpy(guid, GUID_LOBBY);
	for (i = 0; i < F.members; i++) {
		(*out)[i].session = F.member[i];
		strcpy((*out)[i].user, F.member_user[i]);
	}
	return F.members;
}

static void live_update(void *h, const pchat_caller_t *c, uint64_t room_id, unsigned roles,
		int can_post)
{
	(void)h;
	(void)c;
	(void)room_id;
	(void)roles;
	(void)can_post;
	F.updates++;
}

static void live_categorize(void *h, uint64_t room_id, uint64_t category_id)
{
	(void)h;
	(void)room_id;
	(void)category_id;
}

static const pchat_live_ops_t live = {live_join, live_ready, live_part, live_joined,
	live_participants, live_counts, live_rooms_of, live_members, live_update, live_categorize};

/* ------------------------------------------------------------------ fake output */

static uint64_t next_envid(void *h)
{
	(void)h;
	return ++F.envid;
}

static int out_reply(void *h, const pchat_caller_t *c, const char *body, size_t len)
{
	(void)h;
	(void)c;
	assert_true(len < sizeof(F.reply[0]));
	assert_int_equal(strlen(body), len);
	strcpy(F.reply[F.replies++ % 16], body);
	return 0;
}

static int out_notice(void *h, uint64_t room_id, const char *except, const char *body,
		size_t len)
{
	(void)h;
	(void)room_id;
	(void)len;
	strcpy(F.notice[F.notices % 8], body);
	strcpy(F.notice_except[F.notices++ % 8], except);
	return 0;
}

static void post_lock(void *h, uint64_t room_id)
{
	(void)h;
	(void)room_id;
	step("lock");
}

static int post_fanout(void *h, uint64_t room_id, uint64_t seq, const char *body, size_t len)
{
	(void)h;
	(void)room_id;
	(void)len;
	assert_int_equal(seq, F.seq);
	step("fanout");
	F.fanouts++;
	snprintf(F.fanout, sizeof(F.fanout), "%s", body);
	return 0;
}

static void post_unlock(void *h, uint64_t room_id)
{
	(void)h;
	(void)room_id;
	step("unlock");
}

static const pchat_out_ops_t out = {next_envid, out_reply, out_notice, post_lock, post_fanout,
	post_unlock};

static pchat_settings_t settings = {
	.default_history = 3, .max_file_size = 100, .message_size_limit = 10, .backchat_limit = 5,
	.participant_update_limit = 2, .search_limit = 500, .story_size_limit = 8192,
	.reply_size = 60000, .max_post_size = 30000, .max_preferences = 64,
	.max_preference_size = 16384};
static const pchat_chat_t chat = {&store, NULL, &live, NULL, &out, NULL, &settings,
	"chat.test", "sip:pchat@chat.test"};

static const pchat_caller_t alice = {{1, 1}, "sip:alice@chat.test"};
static const pchat_caller_t bob = {{2, 1}, "sip:bob@chat.test"};
static const pchat_caller_t bob2 = {{3, 1}, "sip:bob@chat.test"};
static const pchat_caller_t carol = {{4, 1}, "sip:carol@chat.test"};

/* ------------------------------------------------------------------ helpers */

static int reset(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	settings.reply_size = 60000;
	return 0;
}

static void run(const pchat_caller_t *c, const char *cmd)
{
	char body[2048];
	pchat_env_t env;
	char err[128];

	snprintf(body, sizeof(body), "<xccos ver=\"1\" envid=\"77\" xmlns=\"urn:parlano:xml:ns:xccos\">"
			"%s</xccos>", cmd);
	assert_int_equal(pchat_xccos_parse(body, strlen(body), 65536, &env, err, sizeof(err)),
			PCHAT_XCCOS_OK);
	pchat_chat_command(&chat, c, &env);
	pchat_xccos_free(&env);
}

static int post(const pchat_caller_t *c, const char *attrs, const char *content)
{
	char body[2048];
	pchat_env_t env;
	char err[128];
	int code;

	snprintf(body, sizeof(body), "<xccos ver=\"1\" envid=\"78\" xmlns=\"" PCHAT_XCCOS_NS "\">"
			"<grpchat id=\"grpchat\" %s>%s"
			"</grpchat></xccos>", attrs, content);
	assert_int_equal(pchat_xccos_parse(body, strlen(body), 65536, &env, err, sizeof(err)),
			PCHAT_XCCOS_OK);
	code = pchat_chat_post(&chat, c, &env);
	pchat_xccos_free(&env);
	return code;
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
	pref_seq = 0;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(join_lists_participants_and_notifies_others, reset),
		cmocka_unit_test_setup(above_the_update_limit_lists_are_capped_and_notices_stop, reset),
		cmocka_unit_test_setup(join_refusals_are_explained, reset),
		cmocka_unit_test_setup(bjoin_reports_each_failure, reset),
		cmocka_unit_test_setup(post_is_stored_before_it_is_fanned_out_in_order, reset),
		cmocka_unit_test_setup(posts_that_must_not_be_stored, reset),
		cmocka_unit_test_setup(backchat_is_split_below_the_reply_size, reset),
		cmocka_unit_test_setup(unknown_commands_are_answered, reset),
		cmocka_unit_test_setup(search_and_requri, reset),
		cmocka_unit_test_setup(session_end_parts_with_notice, reset),
		cmocka_unit_test_setup(stored_post_element_matches_the_live_one, reset),
		cmocka_unit_test_setup(associations_invitations_preferences, reset),
		cmocka_unit_test_setup(refresh_updates_rights_and_puts_out_the_unwelcome, reset),
	};

	pchat_xccos_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
