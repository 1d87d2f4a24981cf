/*
 * The chat logic when memory runs out: every scenario (a command, a post, the end of a session,
 * a room change) is run again and again with allocation 1, 2, 3, ... failing, until it runs
 * through without reaching the failing one. Each run must end without a crash or a leak (the
 * sanitizers watch) and in a sensible state: the command answered (its normal reply or a server
 * error), no session in a room it was not told it joined, no post fanned out that was not
 * answered 200, no transaction or post lock left open.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fakes.h"
#include "pchat_log.h"

#define GUID(n) "10000000-0000-4000-8000-0000000000" #n
#define CHANID(key, n) \
	"<chanid key=\"" #key "\" domain=\"" FAKE_RICH_DOMAIN "\" value=\"" GUID(n) "\"/>"
#define CMD(name, data) "<cmd id=\"cmd:" name "\" seqid=\"1\"><data>" data "</data></cmd>"
#define CHANIB(n) "<chanib uri=\"ma-chan://" FAKE_RICH_DOMAIN "/" GUID(n) "\"/>"

/* Room 1: the open lobby with history and others in it; room 2: closed, alice is in it when the
 * world starts; room 4: secret, alice is a member; room 3: closed, not for alice. */
#define LOBBY 1
#define ALICE_S_ROOM 2

void fake_fail(const char *file, int line, const char *what)
{
	print_error("%s\n", what);
	_fail(file, line);
	abort(); /* cmocka's _fail does not say it never returns */
}

static const pchat_settings_t settings = {
	.default_history = 30, .max_file_size = 20000, .message_size_limit = 8000,
	.backchat_limit = 100, .participant_update_limit = 75, .search_limit = 500,
	.story_size_limit = 8192, .reply_size = 8000, .max_post_size = 30000,
	.max_preferences = 64, .max_preference_size = 16384, .file_token_lifetime = 1800};
static const int recording = 1; /* the compliance events' paths are walked too */
static const pchat_chat_t chat = {&fake_store_ops, NULL, &fake_live_ops, NULL, &fake_out_ops,
	NULL, &settings, FAKE_RICH_DOMAIN, "sip:pchat@" FAKE_RICH_DOMAIN, &recording, NULL,
	"https://files." FAKE_RICH_DOMAIN, "https://files." FAKE_RICH_DOMAIN "/PersistentChat/RM/"};
static const pchat_caller_t alice = {{1, 1}, FAKE_RICH_USER};

/* ------------------------------------------------------------------ helpers */

static void quiet(enum pchat_log_level level, const char *func, const char *fmt, va_list ap)
{
	(void)level;
	(void)func;
	(void)fmt;
	(void)ap;
}

static void parse(const char *cmd_or_post, pchat_env_t *env)
{
	char body[4096], err[128];

	snprintf(body, sizeof(body), "<xccos ver=\"1\" envid=\"77\" xmlns=\"" PCHAT_XCCOS_NS "\">%s"
			"</xccos>", cmd_or_post);
	assert_int_equal(pchat_xccos_parse(body, strlen(body), 65536, env, err, sizeof(err)),
			PCHAT_OK);
}

/* The code of a reply. */
static int reply_code(const char *reply)
{
	const char *resp = strstr(reply, "<resp code=\"");

	assert_non_null(resp);
	return atoi(resp + strlen("<resp code=\""));
}

/* Alice's entry in a room: 0 none, 1 joined, 2 joined and receiving its posts. */
static int in_room(uint64_t room_id)
{
	int i;

	for (i = 0; i < F.members; i++)
		if (F.member[i].slot == alice.session.slot && F.member[i].gen == alice.session.gen
				&& F.member_room[i] == room_id)
			return 1 + F.ready[i];
	return 0;
}

static void join_lobby(void)
{
	pchat_env_t env;

	parse(CMD("join", CHANID(0, 01)), &env);
	pchat_chat_command(&chat, &alice, &env);
	pchat_xccos_free(&env);
	assert_int_equal(in_room(LOBBY), 2);
}

/* The allocation that fails in this run, and whether the run reached it. */
static int armed_at;
static int reached;

static void arm(void)
{
	fake_alloc_fail_at(armed_at);
}

static void disarm(void)
{
	reached |= fake_alloc_failed();
	fake_alloc_fail_at(0);
}

/* Runs a scenario with each allocation failing in turn, until one run reaches none. */
static void exhaust(void (*before)(void), void (*scenario)(const void *), const void *arg)
{
	for (armed_at = 1;; armed_at++) {
		reached = 0;
		fake_reset(fake_world_rich());
		if (before)
			before();
		scenario(arg);
		assert_false(F.in_tx);
		assert_false(F.locked);
		fake_clear();
		if (!reached)
			break;
	}
	/* a scenario that allocates nothing would pass without testing anything */
	assert_true(armed_at > 1);
}

/* ------------------------------------------------------------------ commands */

typedef struct command_case {
	const char *body;
	/* what must hold after the command, given its first reply and its last reply's code */
	void (*check)(int first_reply, int code);
} command_case_t;

/* Joined exactly when told so, and then receiving the room's posts. */
static void joined_when_told(int first_reply, int code)
{
	(void)first_reply;
	assert_int_equal(in_room(LOBBY), code == 200 ? 2 : 0);
}

static int listed(const char *reply, const char *guid)
{
	char uri[128];

	snprintf(uri, sizeof(uri), "<chanib uri=\"ma-chan://%s/%s\"", FAKE_RICH_DOMAIN, guid);
	return strstr(reply, uri) != NULL;
}

/* Each room of the batch is joined exactly when the reply lists it; the room alice was in
 * before stays hers whatever happens. */
static void batch_joined_when_listed(int first_reply, int code)
{
	const char *reply = F.reply[first_reply % FAKE_REPLIES];

	assert_int_equal(in_room(1), code == 200 && listed(reply, GUID(01)) ? 2 : 0);
	assert_int_equal(in_room(4), code == 200 && listed(reply, GUID(04)) ? 2 : 0);
	assert_int_equal(in_room(3), 0);
	assert_int_not_equal(in_room(ALICE_S_ROOM), 0);
}

static void parted(int first_reply, int code)
{
	(void)first_reply;
	(void)code;
	assert_int_equal(in_room(ALICE_S_ROOM), 0);
}

/* Backchat split over several replies: when all say 200, no message is missing. */
static void history_whole_when_200(int first_reply, int code)
{
	const char *p;
	int i, msgs = 0;

	for (i = first_reply; i < F.replies; i++) {
		if (reply_code(F.reply[i % FAKE_REPLIES]) != 200)
			return;
		for (p = F.reply[i % FAKE_REPLIES]; (p = strstr(p, "<msg ")) != NULL; p++)
			msgs++;
	}
	assert_int_equal(code, 200);
	assert_int_equal(msgs, 100);
}

static const command_case_t commands[] = {
	{CMD("join", CHANID(0, 01)), joined_when_told},
	{CMD("bjoin", CHANID(0, 01) CHANID(1, 02) CHANID(2, 03) CHANID(3, 04)),
		batch_joined_when_listed},
	{CMD("part", CHANIB(02)), parted},
	{CMD("bccontext", CHANIB(01) "<bcq><last cnt=\"100\"/></bcq>"), history_whole_when_200},
	{CMD("chansrch", "<qib qtype=\"BYNAME\" criteria=\"\"/>"), NULL},
	{CMD("chansrch", "<qib qtype=\"BYMEMBER\" criteria=\"sip:alice@chat.test\"/>"), NULL},
	{CMD("getassociations", "<qib qtype=\"MEMBER\"/>"), NULL},
	{CMD("getinv", "<inv inviteId=\"0\"/>"), NULL},
	{CMD("getpref", "<pref label=\"GroupChannels\"/>"), NULL},
	{CMD("getpref", "<pref label=\"a new one\" createdefault=\"true\"/>"), NULL},
	{CMD("setpref", "<pref label=\"GroupChannels\" content=\"&lt;x&gt; &amp; y\"/>"), NULL},
	{CMD("requri", ""), NULL},
	{CMD("getserverinfo", "<sib infoType=\"123\"/>"), NULL},
};

/* The command is answered: every reply is its normal one (which may say 404) or a server
 * error; then what the case checks holds. */
static void command(const void *arg)
{
	const command_case_t *cc = arg;
	int first = F.replies, code = 0, i;
	pchat_env_t env;

	parse(cc->body, &env);
	arm();
	pchat_chat_command(&chat, &alice, &env);
	disarm();
	pchat_xccos_free(&env);
	if (F.replies == first)
		fail_msg("no reply with allocation %d failing", armed_at);
	for (i = first; i < F.replies; i++) {
		code = reply_code(F.reply[i % FAKE_REPLIES]);
		assert_true(code == 200 || code == 404 || code == 501 || code == 500);
		assert_true(i == first || code == 200 || code == 500);
	}
	if (cc->check)
		cc->check(first, code);
}

static void commands_without_memory(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		exhaust(NULL, command, &commands[i]);
	}
}

/* ------------------------------------------------------------------ the rest */

/* Stored and handed to the sender exactly when answered 200. */
static void post(const void *arg)
{
	int stored = F.stored, fanouts = F.fanouts, status;
	pchat_env_t env;

	(void)arg;
	parse("<grpchat id=\"grpchat\" seqid=\"1\" chanUri=\"ma-chan://" FAKE_RICH_DOMAIN "/"
			GUID(02) "\"><chat>hello &amp; <b>you</b></chat></grpchat>", &env);
	arm();
	status = pchat_rc_sip(pchat_chat_post(&chat, &alice, &env));
	disarm();
	pchat_xccos_free(&env);
	assert_true(status == 200 || status == 500);
	assert_int_equal(F.stored, stored + (status == 200));
	assert_int_equal(F.fanouts, fanouts + (status == 200));
}

/* Out of every room, unless the rooms could not even be listed. */
static void session_end(const void *arg)
{
	(void)arg;
	arm();
	pchat_chat_session_end(&chat, &alice);
	disarm();
	assert_true((in_room(LOBBY) == 0 && in_room(ALICE_S_ROOM) == 0)
			|| (in_room(LOBBY) && in_room(ALICE_S_ROOM)));
}

static void refresh_room(const void *arg)
{
	(void)arg;
	arm();
	pchat_chat_refresh_room(&chat, LOBBY);
	disarm();
}

static void user_left(const void *arg)
{
	(void)arg;
	arm();
	pchat_chat_user_left(&chat, LOBBY, GUID(01), "sip:bob@" FAKE_RICH_DOMAIN,
			PCHAT_LEFT_SESSION_END);
	disarm();
}

/* A failure leaves the buffer marked, never half a post that looks whole. */
static void post_element(const void *arg)
{
	pchat_post_t p = {7, "sip:bob@" FAKE_RICH_DOMAIN, "2026-02-01 10:00:00.250000",
		"<chat>hi</chat>"};
	pchat_buf_t b;

	(void)arg;
	pchat_buf_init(&b);
	arm();
	pchat_chat_post_element(&chat, GUID(01), &p, &b);
	disarm();
	assert_true(!pchat_buf_ok(&b) || strstr(b.s, "</grpchat>") != NULL);
	pchat_buf_free(&b);
}

static void post_without_memory(void **state)
{
	(void)state;
	exhaust(NULL, post, NULL);
}

static void session_end_without_memory(void **state)
{
	(void)state;
	exhaust(join_lobby, session_end, NULL);
}

static void refresh_room_without_memory(void **state)
{
	(void)state;
	exhaust(join_lobby, refresh_room, NULL);
}

static void user_left_without_memory(void **state)
{
	(void)state;
	exhaust(NULL, user_left, NULL);
}

static void post_element_without_memory(void **state)
{
	(void)state;
	exhaust(NULL, post_element, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(commands_without_memory),
		cmocka_unit_test(post_without_memory),
		cmocka_unit_test(session_end_without_memory),
		cmocka_unit_test(refresh_room_without_memory),
		cmocka_unit_test(user_left_without_memory),
		cmocka_unit_test(post_element_without_memory),
	};

	pchat_xccos_init();
	pchat_log_set_sink(quiet);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
