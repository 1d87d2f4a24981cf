/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pchat_chat.h"
#include "pchat_log.h"

/* aib keys of Lync's participant lists: ordinary participant, room manager (operator). */
#define AIB_PARTICIPANT "3984"
#define AIB_MANAGER "12276"

#define TXT_OK "SUCCESS_OK"
#define TXT_NO_ROOM "no such room"
#define TXT_BAD_ROOM "invalid room identifier"
#define TXT_UNAVAILABLE "the chat service is temporarily unavailable, try again later"
#define TXT_SERVER_ERROR "server error"

void pchat_now_datetime(char *out, size_t outlen)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, outlen, "%04d-%02d-%02d %02d:%02d:%02d.%06ld", tm.tm_year + 1900,
			tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
}

/* ------------------------------------------------------------------ replies */

static void send_reply(const pchat_chat_t *chat, const pchat_caller_t *c, pchat_buf_t *b)
{
	if (!pchat_buf_ok(b)) {
		PLOG_ERR("out of memory building a reply for %s\n", c->user);
		return;
	}
	chat->out->reply(chat->out_h, c, b->s, b->len);
}

/* A reply with an empty <data/>: failures, and commands that return nothing. */
static void reply_status(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env, int code, const char *text)
{
	pchat_buf_t b;

	pchat_buf_init(&b);
	pchat_xccos_open(&b, chat->out->next_envid(chat->out_h));
	pchat_xccos_rpl_open(&b, env, env->name, code, text);
	pchat_xccos_rpl_close(&b);
	pchat_xccos_close(&b);
	send_reply(chat, c, &b);
	pchat_buf_free(&b);
}

static int store_code(int rc)
{
	return rc == PCHAT_STORE_DOWN ? PCHAT_RESP_UNAVAILABLE : PCHAT_RESP_SERVER_ERROR;
}

static const char *store_text(int rc)
{
	return rc == PCHAT_STORE_DOWN ? TXT_UNAVAILABLE : TXT_SERVER_ERROR;
}

/* ------------------------------------------------------------------ rooms */

/* The GUID of a <chanid domain="D" value="GUID"/>; the domain must be ours. */
static int chanid_guid(const pchat_chat_t *chat, xmlNodePtr chanid, char *guid)
{
	char domain[256], value[64];

	if (pchat_xml_attr(chanid, "domain", domain, sizeof(domain)) < 0
			|| pchat_xml_attr(chanid, "value", value, sizeof(value)) < 0
			|| strcasecmp(domain, chat->domain) != 0)
		return -1;
	return pchat_guid_normalize(value, guid);
}

/* The GUID of an element with a room URI attribute (chanib uri=, grpchat chanUri=). */
static int uri_attr_guid(const pchat_chat_t *chat, xmlNodePtr node, const char *attr,
		char *guid)
{
	char uri[PCHAT_ROOM_URI_MAX];

	if (pchat_xml_attr(node, attr, uri, sizeof(uri)) < 0)
		return -1;
	return pchat_room_uri_guid(uri, chat->domain, guid);
}

static void room_uri(const pchat_chat_t *chat, const char *guid, char *out, size_t len)
{
	pchat_room_uri(chat->domain, guid, out, len);
}

typedef struct join_failure {
	int code;
	const char *text;
} join_failure_t;

/* Looks a room up for the caller to enter and read (join, backchat). 1 when allowed, 0 with
 * why filled. A secret room the caller may not see does not exist for the caller. */
static int readable_room(const pchat_chat_t *chat, const pchat_caller_t *c, const char *guid,
		pchat_room_t *room, join_failure_t *why)
{
	int rc = chat->store->room_for(chat->store_h, guid, c->user, room);
	pchat_verdict_t v;

	if (rc == PCHAT_NOT_FOUND) {
		*why = (join_failure_t){PCHAT_RESP_NOT_FOUND, TXT_NO_ROOM};
		return 0;
	}
	if (rc != 0) {
		*why = (join_failure_t){store_code(rc), store_text(rc)};
		return 0;
	}
	v = pchat_may_join(room->privacy, room->disabled, &room->access);
	if (v == PCHAT_ALLOW)
		return 1;
	if (pchat_may_see(room->privacy, room->disabled, &room->access) != PCHAT_ALLOW
			&& room->privacy == PCHAT_SECRET)
		*why = (join_failure_t){PCHAT_RESP_NOT_FOUND, TXT_NO_ROOM};
	else
		*why = (join_failure_t){PCHAT_RESP_FORBIDDEN, pchat_verdict_text(v)};
	return 0;
}

/* ------------------------------------------------------------------ participant lists */

typedef struct user_list {
	char (*users)[PCHAT_USER_MAX];
	unsigned *roles;
	int n;
	int max;
} user_list_t;

static int user_index(const user_list_t *l, const char *user)
{
	int i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->users[i], user) == 0)
			return i;
	return -1;
}

static int user_add(user_list_t *l, const char *user, unsigned roles)
{
	int i = user_index(l, user);

	if (i >= 0 || l->n >= l->max)
		return i;
	snprintf(l->users[l->n], PCHAT_USER_MAX, "%s", user);
	l->roles[l->n] = roles;
	return l->n++;
}

static void collect_user(void *ctx, const char *user, unsigned roles)
{
	user_add(ctx, user, roles);
}

static int new_user_list(user_list_t *users, int max)
{
	users->n = 0;
	users->max = max > 0 ? max : 1;
	users->users = calloc(users->max, PCHAT_USER_MAX);
	users->roles = calloc(users->max, sizeof(*users->roles));
	return users->users && users->roles ? 0 : -1;
}

static void free_user_list(user_list_t *users)
{
	free(users->users);
	free(users->roles);
	users->users = NULL;
	users->roles = NULL;
}

/* ------------------------------------------------------------------ join / bjoin */

typedef struct joined_room {
	pchat_room_t room;
	int first;  /* the user's first session in the room: others get a join notice */
	int *ids;   /* positions of the room's users in the reply's user list */
	int nids;
} joined_room_t;

/* Resolves and joins one room. Returns 0, or fills why. */
static int join_room(const pchat_chat_t *chat, const pchat_caller_t *c, const char *guid,
		joined_room_t *jr, join_failure_t *why)
{
	int can_post;

	if (!readable_room(chat, c, guid, &jr->room, why))
		return -1;
	can_post = pchat_may_post(jr->room.privacy, jr->room.type, jr->room.disabled,
					   &jr->room.access) == PCHAT_ALLOW;
	jr->first = chat->live->join(chat->live_h, c, &jr->room, can_post);
	if (jr->first < 0) {
		*why = (join_failure_t){PCHAT_RESP_SERVER_ERROR, TXT_SERVER_ERROR};
		return -1;
	}
	return 0;
}

/* Lists the room's users (the joining user first) into the shared user list. */
static void list_participants(const pchat_chat_t *chat, const pchat_caller_t *c,
		joined_room_t *jr, user_list_t *users)
{
	user_list_t room_users;
	int i;

	if (new_user_list(&room_users, chat->settings->participant_update_limit) < 0
			|| !(jr->ids = calloc(room_users.max, sizeof(int)))) {
		free_user_list(&room_users);
		return;
	}
	user_add(&room_users, c->user, jr->room.access.roles);
	chat->live->participants(chat->live_h, jr->room.id, room_users.max, collect_user,
			&room_users);
	/* a user already listed for an earlier room of a batch keeps its position */
	for (i = 0; i < room_users.n; i++) {
		int idx = user_add(users, room_users.users[i], room_users.roles[i]);

		if (idx >= 0)
			jr->ids[jr->nids++] = idx;
	}
	free_user_list(&room_users);
}

/* <aib key="KEY" value="ids"/> for the room's users that are (or are not) managers. */
static void add_aib(pchat_buf_t *b, const joined_room_t *jr, const user_list_t *users,
		int managers)
{
	int i, n = 0;

	for (i = 0; i < jr->nids; i++) {
		if (((users->roles[jr->ids[i]] & PCHAT_ROLE_MANAGER) != 0) != managers)
			continue;
		pchat_buf_adds(b, n++ ? "," : (managers ? "<aib key=\"" AIB_MANAGER "\" value=\""
												: "<aib key=\"" AIB_PARTICIPANT "\" value=\""));
		pchat_buf_addf(b, "%d", jr->ids[i]);
	}
	if (n)
		pchat_buf_adds(b, "\"/>");
}

static void add_chanib(pchat_buf_t *b, const pchat_chat_t *chat, const joined_room_t *jr,
		const user_list_t *users)
{
	char uri[PCHAT_ROOM_URI_MAX];

	room_uri(chat, jr->room.guid, uri, sizeof(uri));
	pchat_buf_adds(b, "<chanib uri=\"");
	pchat_buf_adds_xml(b, uri);
	pchat_buf_adds(b, "\" name=\"");
	pchat_buf_adds_xml(b, jr->room.name);
	pchat_buf_adds(b, "\" description=\"");
	pchat_buf_adds_xml(b, jr->room.description);
	pchat_buf_adds(b, "\" topic=\"");
	pchat_buf_adds_xml(b, jr->room.topic);
	pchat_buf_adds(b, "\">");
	add_aib(b, jr, users, 0);
	add_aib(b, jr, users, 1);
	pchat_buf_adds(b, "</chanib>");
}

static void add_uibs(pchat_buf_t *b, const user_list_t *users)
{
	int i;

	for (i = 0; i < users->n; i++) {
		pchat_buf_addf(b, "<uib id=\"%d\" uri=\"", i);
		pchat_buf_adds_xml(b, users->users[i]);
		pchat_buf_adds(b, "\"/>");
	}
}

/* After the reply is out: the session starts receiving posts, and the others learn of the
 * user unless the room is over the participant update limit. */
static void after_join(const pchat_chat_t *chat, const pchat_caller_t *c,
		const joined_room_t *jr, const char *notice_name)
{
	int count;
	pchat_buf_t b;

	chat->live->ready(chat->live_h, c, jr->room.id);
	if (!jr->first)
		return;
	count = chat->live->participants(chat->live_h, jr->room.id, 0, NULL, NULL);
	if (count > chat->settings->participant_update_limit)
		return;
	pchat_buf_init(&b);
	pchat_xccos_ntc_open(&b, notice_name);
	pchat_buf_adds(&b, "<uib uri=\"");
	pchat_buf_adds_xml(&b, c->user);
	pchat_buf_addf(&b, "\"><aib key=\"%s\" domain=\"",
			jr->room.access.roles & PCHAT_ROLE_MANAGER ? AIB_MANAGER : AIB_PARTICIPANT);
	pchat_buf_adds_xml(&b, chat->domain);
	pchat_buf_addf(&b, "\" value=\"%s\"/></uib>", jr->room.guid);
	pchat_xccos_ntc_close(&b);
	if (pchat_buf_ok(&b))
		chat->out->notice(chat->out_h, jr->room.id, c->user, b.s, b.len);
	pchat_buf_free(&b);
}

static void cmd_join(const pchat_chat_t *chat, const pchat_caller_t *c, const pchat_env_t *env)
{
	xmlNodePtr chanid = pchat_xml_child(env->data, "chanid");
	char guid[PCHAT_GUID_LEN + 1];
	joined_room_t *jr;
	join_failure_t why;
	user_list_t users;
	pchat_buf_t b;

	if (!chanid || chanid_guid(chat, chanid, guid) < 0) {
		reply_status(chat, c, env, PCHAT_RESP_BAD_REQUEST, TXT_BAD_ROOM);
		return;
	}
	jr = calloc(1, sizeof(*jr));
	if (!jr || new_user_list(&users, chat->settings->participant_update_limit + 1) < 0) {
		free_user_list(&users);
		free(jr);
		reply_status(chat, c, env, PCHAT_RESP_SERVER_ERROR, TXT_SERVER_ERROR);
		return;
	}
	if (join_room(chat, c, guid, jr, &why) < 0) {
		reply_status(chat, c, env, why.code, why.text);
	} else {
		list_participants(chat, c, jr, &users);
		pchat_buf_init(&b);
		pchat_xccos_open(&b, chat->out->next_envid(chat->out_h));
		pchat_xccos_rpl_open(&b, env, "join", PCHAT_RESP_OK, TXT_OK);
		add_uibs(&b, &users);
		add_chanib(&b, chat, jr, &users);
		pchat_xccos_rpl_close(&b);
		pchat_xccos_close(&b);
		send_reply(chat, c, &b);
		pchat_buf_free(&b);
		after_join(chat, c, jr, "join");
	}
	free_user_list(&users);
	free(jr->ids);
	free(jr);
}

/* Rooms of one batch join; more are refused as a failure of the whole command. */
#define BJOIN_MAX 100

static void cmd_bjoin(const pchat_chat_t *chat, const pchat_caller_t *c, const pchat_env_t *env)
{
	joined_room_t *rooms = calloc(BJOIN_MAX, sizeof(*rooms));
	int nrooms = 0, nchanid = 0, i;
	user_list_t users;
	pchat_buf_t fibs, b;
	xmlNodePtr chanid;

	if (!rooms || new_user_list(&users, BJOIN_MAX * (chat->settings->participant_update_limit
											+ 1)) < 0) {
		free_user_list(&users);
		free(rooms);
		reply_status(chat, c, env, PCHAT_RESP_SERVER_ERROR, TXT_SERVER_ERROR);
		return;
	}
	pchat_buf_init(&fibs);
	for (chanid = pchat_xml_child(env->data, "chanid"); chanid;
			chanid = pchat_xml_next(chanid, "chanid")) {
		char guid[PCHAT_GUID_LEN + 1], value[64] = "", domain[256] = "";
		join_failure_t why;

		if (++nchanid > BJOIN_MAX)
			break;
		if (chanid_guid(chat, chanid, guid) == 0 && join_room(chat, c, guid, &rooms[nrooms],
					&why) == 0) {
			list_participants(chat, c, &rooms[nrooms], &users);
			nrooms++;
			continue;
		}
		/* The failed room is named as the client named it. */
		pchat_xml_attr(chanid, "value", value, sizeof(value));
		pchat_xml_attr(chanid, "domain", domain, sizeof(domain));
		pchat_buf_adds(&fibs, "<fib key=\"OPERATION_FAILED\" value=\"");
		pchat_buf_adds_xml(&fibs, value);
		pchat_buf_adds(&fibs, "\" domain=\"");
		pchat_buf_adds_xml(&fibs, domain);
		pchat_buf_adds(&fibs, "\"/>");
	}
	pchat_buf_init(&b);
	pchat_xccos_open(&b, chat->out->next_envid(chat->out_h));
	if (nchanid > BJOIN_MAX) {
		pchat_xccos_rpl_open(&b, env, "bjoin", PCHAT_RESP_BAD_REQUEST,
				"too many rooms in one batch join");
	} else {
		pchat_xccos_rpl_open(&b, env, "bjoin", PCHAT_RESP_OK, TXT_OK);
		add_uibs(&b, &users);
		for (i = 0; i < nrooms; i++)
			add_chanib(&b, chat, &rooms[i], &users);
		if (fibs.len)
			pchat_buf_add(&b, fibs.s, fibs.len);
	}
	pchat_xccos_rpl_close(&b);
	pchat_xccos_close(&b);
	send_reply(chat, c, &b);
	/* an over-long batch joined nothing it reports: undo what was done */
	for (i = 0; i < nrooms; i++) {
		if (nchanid > BJOIN_MAX)
			chat->live->part(chat->live_h, c, rooms[i].room.id);
		else
			after_join(chat, c, &rooms[i], "bjoin");
	}
	pchat_buf_free(&b);
	pchat_buf_free(&fibs);
	for (i = 0; i < nrooms; i++)
		free(rooms[i].ids);
	free_user_list(&users);
	free(rooms);
}

/* ------------------------------------------------------------------ part */

/* <ntc id="ntc:part"> telling that user left the room. */
static void part_element(const pchat_chat_t *chat, const char *guid, const char *user,
		pchat_buf_t *b)
{
	char uri[PCHAT_ROOM_URI_MAX];

	room_uri(chat, guid, uri, sizeof(uri));
	pchat_xccos_ntc_open(b, "part");
	pchat_buf_adds(b, "<chanib uri=\"");
	pchat_buf_adds_xml(b, uri);
	pchat_buf_adds(b, "\"><uib uri=\"");
	pchat_buf_adds_xml(b, user);
	pchat_buf_adds(b, "\"/></chanib>");
	pchat_xccos_ntc_close(b);
}

void pchat_chat_user_left(const pchat_chat_t *chat, uint64_t room_id, const char *guid,
		const char *user)
{
	pchat_buf_t b;

	if (chat->live->participants(chat->live_h, room_id, 0, NULL, NULL)
			> chat->settings->participant_update_limit)
		return;
	pchat_buf_init(&b);
	part_element(chat, guid, user, &b);
	if (pchat_buf_ok(&b))
		chat->out->notice(chat->out_h, room_id, user, b.s, b.len);
	pchat_buf_free(&b);
}

/* Leaving is idempotent: a room the session is not in is reported as left, so a client whose
 * view of its rooms is stale (after a server restart) can always close its window. */
static void cmd_part(const pchat_chat_t *chat, const pchat_caller_t *c, const pchat_env_t *env)
{
	xmlNodePtr chanib = pchat_xml_child(env->data, "chanib");
	char guid[PCHAT_GUID_LEN + 1], uri[PCHAT_ROOM_URI_MAX];
	uint64_t room_id;
	pchat_buf_t b;

	if (!chanib || uri_attr_guid(chat, chanib, "uri", guid) < 0) {
		reply_status(chat, c, env, PCHAT_RESP_BAD_REQUEST, TXT_BAD_ROOM);
		return;
	}
	room_id = chat->live->joined(chat->live_h, c, guid, NULL);
	if (room_id && chat->live->part(chat->live_h, c, room_id) == 1)
		pchat_chat_user_left(chat, room_id, guid, c->user);
	room_uri(chat, guid, uri, sizeof(uri));
	pchat_buf_init(&b);
	pchat_xccos_open(&b, chat->out->next_envid(chat->out_h));
	pchat_xccos_rpl_open(&b, env, "part", PCHAT_RESP_OK, TXT_OK);
	pchat_buf_adds(&b, "<chanib uri=\"");
	pchat_buf_adds_xml(&b, uri);
	pchat_buf_adds(&b, "\"/>");
	pchat_xccos_rpl_close(&b);
	pchat_xccos_close(&b);
	send_reply(chat, c, &b);
	pchat_buf_free(&b);
}

/* ------------------------------------------------------------------ bccontext */

typedef struct history_reply {
	const pchat_chat_t *chat;
	const pchat_caller_t *c;
	const pchat_env_t *env;
	char uri[PCHAT_ROOM_URI_MAX];
	pchat_buf_t msgs; /* <msg> elements not sent yet */
	int sent;         /* replies sent so far */
} history_reply_t;

/* Sends the collected messages as one rpl:bccontext (backchat is the one reply that may take
 * several INFOs: each is complete, in order, and below the reply size). */
static void flush_history(history_reply_t *h)
{
	pchat_buf_t b;

	pchat_buf_init(&b);
	pchat_xccos_open(&b, h->chat->out->next_envid(h->chat->out_h));
	pchat_xccos_rpl_open(&b, h->env, "bccontext", PCHAT_RESP_OK, TXT_OK);
	pchat_buf_adds(&b, "<chanib uri=\"");
	pchat_buf_adds_xml(&b, h->uri);
	pchat_buf_adds(&b, "\">");
	if (h->msgs.len)
		pchat_buf_add(&b, h->msgs.s, h->msgs.len);
	pchat_buf_adds(&b, "</chanib>");
	pchat_xccos_rpl_close(&b);
	pchat_xccos_close(&b);
	send_reply(h->chat, h->c, &b);
	pchat_buf_free(&b);
	pchat_buf_reset(&h->msgs);
	h->sent++;
}

/* Room for the envelope around the messages of one reply. */
#define HISTORY_ENVELOPE 768

static int add_history_msg(void *ctx, const pchat_post_t *post)
{
	history_reply_t *h = ctx;
	size_t before = h->msgs.len;
	char ts[32];

	pchat_xccos_time(post->ts, ts, sizeof(ts));
	pchat_xccos_post(&h->msgs, "msg", h->uri, post->author, ts, post->content);
	if (before > 0 && h->msgs.len + HISTORY_ENVELOPE > h->chat->settings->reply_size) {
		/* this message starts the next reply */
		pchat_buf_t next;

		pchat_buf_init(&next);
		pchat_buf_add(&next, h->msgs.s + before, h->msgs.len - before);
		h->msgs.len = before;
		h->msgs.s[before] = '\0';
		flush_history(h);
		pchat_buf_free(&h->msgs);
		h->msgs = next;
	}
	return 0;
}

static void cmd_bccontext(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env)
{
	xmlNodePtr chanib = pchat_xml_child(env->data, "chanib");
	xmlNodePtr last = pchat_xml_child(pchat_xml_child(env->data, "bcq"), "last");
	char guid[PCHAT_GUID_LEN + 1];
	history_reply_t h;
	join_failure_t why;
	pchat_room_t *room;
	long long cnt;
	int rc;

	if (!chanib || uri_attr_guid(chat, chanib, "uri", guid) < 0) {
		reply_status(chat, c, env, PCHAT_RESP_BAD_REQUEST, TXT_BAD_ROOM);
		return;
	}
	/* without a count, the service's default history (Lync's DefaultChatHistory) */
	cnt = last ? pchat_xml_attr_num(last, "cnt") : chat->settings->default_history;
	if (cnt < 0) {
		reply_status(chat, c, env, PCHAT_RESP_BAD_REQUEST, "invalid backchat count");
		return;
	}
	if (cnt > chat->settings->backchat_limit)
		cnt = chat->settings->backchat_limit;
	room = malloc(sizeof(*room));
	if (!room || !readable_room(chat, c, guid, room, &why)) {
		if (!room)
			why = (join_failure_t){PCHAT_RESP_SERVER_ERROR, TXT_SERVER_ERROR};
		reply_status(chat, c, env, why.code, why.text);
		free(room);
		return;
	}
	memset(&h, 0, sizeof(h));
	h.chat = chat;
	h.c = c;
	h.env = env;
	room_uri(chat, guid, h.uri, sizeof(h.uri));
	pchat_buf_init(&h.msgs);
	/* a category whose chat history is off keeps the posts (compliance) but shows none */
	rc = cnt > 0 && room->logged
			? chat->store->history(chat->store_h, room->id, (int)cnt, add_history_msg, &h) : 0;
	if (rc < 0 && h.sent == 0)
		reply_status(chat, c, env, store_code(rc), store_text(rc));
	else if (h.msgs.len || h.sent == 0)
		flush_history(&h);
	pchat_buf_free(&h.msgs);
	free(room);
}

/* ------------------------------------------------------------------ small commands */

/* OCS 2007 R2's lookup step: the chat service is this same URI. */
static void cmd_requri(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env)
{
	pchat_buf_t b;

	pchat_buf_init(&b);
	pchat_xccos_open(&b, chat->out->next_envid(chat->out_h));
	pchat_xccos_rpl_open(&b, env, "requri", PCHAT_RESP_OK, TXT_OK);
	pchat_buf_adds(&b, "<uib uri=\"");
	pchat_buf_adds_xml(&b, chat->pool_uri);
	pchat_buf_adds(&b, "\"/>");
	pchat_xccos_rpl_close(&b);
	pchat_xccos_close(&b);
	send_reply(chat, c, &b);
	pchat_buf_free(&b);
}

/* A stable GUID for the root category, derived from the domain (FNV-1a), so every node of a
 * pool announces the same one. */
static void root_category_guid(const char *domain, char *out)
{
	uint64_t h1 = 1469598103934665603ULL, h2 = 1099511628211ULL;
	const char *p;

	for (p = domain; *p; p++) {
		h1 = (h1 ^ (unsigned char)*p) * 1099511628211ULL;
		h2 = (h2 ^ (unsigned char)*p) * 1469598103934665603ULL;
	}
	snprintf(out, PCHAT_GUID_LEN + 1, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(h1 >> 32),
			(unsigned)(h1 >> 16) & 0xffff, (unsigned)h1 & 0xffff, (unsigned)(h2 >> 48),
			(unsigned long long)(h2 & 0xffffffffffffULL));
}

static void cmd_getserverinfo(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env)
{
	char now[32], ts[32], guid[PCHAT_GUID_LEN + 1], root[PCHAT_ROOM_URI_MAX];
	char info_type[16] = "123";
	pchat_buf_t b;

	pchat_xml_attr(pchat_xml_child(env->data, "sib"), "infoType", info_type, sizeof(info_type));
	pchat_now_datetime(now, sizeof(now));
	pchat_xccos_time(now, ts, sizeof(ts));
	root_category_guid(chat->domain, guid);
	pchat_category_uri(chat->domain, guid, root, sizeof(root));
	pchat_buf_init(&b);
	pchat_xccos_open(&b, chat->out->next_envid(chat->out_h));
	pchat_xccos_rpl_open(&b, env, "getserverinfo", PCHAT_RESP_OK, TXT_OK);
	pchat_buf_adds(&b, "<sib infoType=\"");
	pchat_buf_adds_xml(&b, info_type);
	pchat_buf_addf(&b, "\" serverTime=\"%s\" searchLimit=\"%d\" messageSizeLimit=\"%d\" "
			"storySizeLimit=\"%d\" rootUri=\"", ts, chat->settings->search_limit,
			chat->settings->message_size_limit, chat->settings->story_size_limit);
	pchat_buf_adds_xml(&b, root);
	pchat_buf_adds(&b, "\"/>");
	pchat_xccos_rpl_close(&b);
	pchat_xccos_close(&b);
	send_reply(chat, c, &b);
	pchat_buf_free(&b);
}

/* ------------------------------------------------------------------ chansrch */

/* ------------------------------------------------------------------ room lists */

/* Room-list facts, with the URN spellings clients match (visibilty sic). */
#define URN_UCNT "urn:parlano:ma:info:ucnt"
#define URN_VISIBILITY "urn:parlano:ma:info:visibilty"
#define URN_FILEPOST "urn:parlano:ma:prop:filepost"
#define URN_INVITE "urn:parlano:ma:prop:invite"
#define URN_LOGGED "urn:parlano:ma:prop:logged"

/* A reply that lists rooms (chansrch, getassociations, getinv). It is one INFO - clients close
 * a room list after the first reply - so entries stop when the next would not fit. */
typedef struct room_list {
	const pchat_chat_t *chat;
	pchat_buf_t b;
	size_t limit;
	/* the rooms listed and where their user counts go: the counts are asked for all at once
	 * when the list is complete (one round trip to the pool's presence, not one per room) */
	uint64_t *rooms;
	size_t *count_at;
	int n;
	int cap;
} room_list_t;

/* Room for a user count of each entry, which is filled in at the end. */
#define COUNT_WIDTH 8

/* The most rooms worth asking the store for: search_limit, and no more than one reply holds
 * (an entry takes about 300 bytes). */
static int room_list_limit(const pchat_chat_t *chat)
{
	int fit = (int)(chat->settings->reply_size / 256);

	return chat->settings->search_limit < fit ? chat->settings->search_limit : fit;
}

static const char *tf(int v)
{
	return v ? "true" : "false";
}

static void room_list_open(room_list_t *l, const pchat_chat_t *chat, const pchat_env_t *env)
{
	memset(l, 0, sizeof(*l));
	l->chat = chat;
	l->limit = chat->settings->reply_size - 64;
	pchat_buf_init(&l->b);
	pchat_xccos_open(&l->b, chat->out->next_envid(chat->out_h));
	pchat_xccos_rpl_open(&l->b, env, env->name, PCHAT_RESP_OK, TXT_OK);
}

/* Remembers where the room's user count goes; -1 when out of memory. */
static int note_count(room_list_t *l, uint64_t room_id)
{
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 64;
		uint64_t *rooms = realloc(l->rooms, cap * sizeof(*rooms));
		size_t *at;

		if (rooms)
			l->rooms = rooms;
		at = rooms ? realloc(l->count_at, cap * sizeof(*at)) : NULL;
		if (!at)
			return -1;
		l->count_at = at;
		l->cap = cap;
	}
	l->rooms[l->n] = room_id;
	l->count_at[l->n++] = l->b.len;
	return 0;
}

static void add_room_entry(room_list_t *l, const pchat_room_summary_t *r)
{
	char uri[PCHAT_ROOM_URI_MAX];
	pchat_buf_t *b = &l->b;

	room_uri(l->chat, r->guid, uri, sizeof(uri));
	pchat_buf_adds(b, "<chanib name=\"");
	pchat_buf_adds_xml(b, r->name);
	pchat_buf_adds(b, "\" description=\"");
	pchat_buf_adds_xml(b, r->description);
	pchat_buf_adds(b, "\" uri=\"");
	pchat_buf_adds_xml(b, uri);
	pchat_buf_adds(b, "\"><info id=\"" URN_UCNT "\">");
	if (note_count(l, r->id) < 0)
		b->failed = 1;
	pchat_buf_addf(b, "</info><info id=\"" URN_VISIBILITY "\">%s</info><prop id=\""
			URN_FILEPOST "\">%s</prop><prop id=\"" URN_INVITE "\">%s</prop><prop id=\""
			URN_LOGGED "\">%s</prop></chanib>", r->privacy == PCHAT_OPEN ? "public" : "private",
			tf(r->file_post), tf(r->invite), tf(r->logged));
}

/* Undoes the entry that began at before when the list (with its counts) outgrew its reply;
 * 1 then. */
static int room_list_overflow(room_list_t *l, size_t before)
{
	if (l->b.len + (size_t)l->n * COUNT_WIDTH <= l->limit)
		return 0;
	l->b.len = before;
	l->b.s[before] = '\0';
	while (l->n && l->count_at[l->n - 1] > before)
		l->n--;
	return 1;
}

/* The list with every room's user count in its place. */
static void fill_counts(room_list_t *l, pchat_buf_t *out)
{
	int *counts = calloc(l->n ? l->n : 1, sizeof(*counts));
	size_t from = 0;
	int i;

	if (!counts) {
		out->failed = 1;
		return;
	}
	if (l->n)
		l->chat->live->counts(l->chat->live_h, l->rooms, l->n, counts);
	for (i = 0; i < l->n; i++) {
		pchat_buf_add(out, l->b.s + from, l->count_at[i] - from);
		pchat_buf_addf(out, "%d", counts[i]);
		from = l->count_at[i];
	}
	pchat_buf_add(out, l->b.s + from, l->b.len - from);
	free(counts);
}

static int add_listed_room(void *ctx, const pchat_room_summary_t *r)
{
	room_list_t *l = ctx;
	size_t before = l->b.len;

	add_room_entry(l, r);
	return room_list_overflow(l, before);
}

/* Sends the list, or the store's failure instead. */
static void room_list_finish(room_list_t *l, const pchat_caller_t *c, const pchat_env_t *env,
		int rc)
{
	pchat_buf_t out;

	if (rc < 0) {
		reply_status(l->chat, c, env, store_code(rc), store_text(rc));
	} else {
		pchat_buf_init(&out);
		fill_counts(l, &out);
		pchat_xccos_rpl_close(&out);
		pchat_xccos_close(&out);
		send_reply(l->chat, c, &out);
		pchat_buf_free(&out);
	}
	pchat_buf_free(&l->b);
	free(l->rooms);
	free(l->count_at);
}

/* Query types of chansrch. Clients seen send BYNAME; the others are this module's names. */
static const struct {
	const char *qtype;
	pchat_search_kind_t kind;
} search_kinds[] = {
	{"BYNAME", PCHAT_SEARCH_NAME},
	{"BYDESCRIPTION", PCHAT_SEARCH_DESCRIPTION},
	{"BYDESC", PCHAT_SEARCH_DESCRIPTION},
	{"BYMEMBER", PCHAT_SEARCH_MEMBER},
	{"BYMANAGER", PCHAT_SEARCH_MANAGER},
};

static void cmd_chansrch(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env)
{
	xmlNodePtr qib = pchat_xml_child(env->data, "qib");
	char qtype[32] = "BYNAME", criteria[PCHAT_NAME_MAX] = "", principal[PCHAT_USER_MAX];
	const char *text = criteria;
	room_list_t l;
	size_t i;
	int kind = -1;

	if (!qib) {
		reply_status(chat, c, env, PCHAT_RESP_BAD_REQUEST, "search needs a qib query");
		return;
	}
	pchat_xml_attr(qib, "qtype", qtype, sizeof(qtype));
	if (pchat_xml_attr(qib, "criteria", criteria, sizeof(criteria)) == -2) {
		reply_status(chat, c, env, PCHAT_RESP_BAD_REQUEST, "search text too long");
		return;
	}
	for (i = 0; i < sizeof(search_kinds) / sizeof(search_kinds[0]); i++)
		if (strcasecmp(qtype, search_kinds[i].qtype) == 0)
			kind = search_kinds[i].kind;
	if (kind < 0) {
		reply_status(chat, c, env, PCHAT_RESP_NOT_SUPPORTED, "search type not supported");
		return;
	}
	if (kind == PCHAT_SEARCH_MEMBER || kind == PCHAT_SEARCH_MANAGER) {
		if (pchat_principal_normalize(criteria, principal, sizeof(principal)) < 0) {
			reply_status(chat, c, env, PCHAT_RESP_BAD_REQUEST,
					"criteria must be a SIP URI or a domain");
			return;
		}
		text = principal;
	}
	room_list_open(&l, chat, env);
	room_list_finish(&l, c, env, chat->store->search(chat->store_h, c->user, kind, text,
			room_list_limit(chat), add_listed_room, &l));
}

/* The rooms the user is a member of (default) or manages: data/qib@qtype MEMBER or MANAGER.
 * Lync asks for each list in turn at login. */
static void cmd_getassociations(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env)
{
	char qtype[16] = "MEMBER";
	enum pchat_role role;
	room_list_t l;

	pchat_xml_attr(pchat_xml_child(env->data, "qib"), "qtype", qtype, sizeof(qtype));
	if (strcasecmp(qtype, "MEMBER") == 0) {
		role = PCHAT_ROLE_MEMBER;
	} else if (strcasecmp(qtype, "MANAGER") == 0) {
		role = PCHAT_ROLE_MANAGER;
	} else {
		reply_status(chat, c, env, PCHAT_RESP_BAD_REQUEST, "qtype must be MEMBER or MANAGER");
		return;
	}
	room_list_open(&l, chat, env);
	room_list_finish(&l, c, env, chat->store->associations(chat->store_h, c->user, role,
			room_list_limit(chat), add_listed_room, &l));
}

static int add_invitation(void *ctx, const pchat_invitation_t *inv)
{
	room_list_t *l = ctx;
	size_t before = l->b.len;
	char ts[32];

	pchat_xccos_time(inv->created, ts, sizeof(ts));
	pchat_buf_addf(&l->b, "<inv inviteId=\"%llu\" domain=\"", (unsigned long long)inv->id);
	pchat_buf_adds_xml(&l->b, l->chat->domain);
	pchat_buf_addf(&l->b, "\" created=\"%s\" inviter=\"", ts);
	pchat_buf_adds_xml(&l->b, inv->inviter);
	pchat_buf_adds(&l->b, "\">");
	add_room_entry(l, &inv->room);
	pchat_buf_adds(&l->b, "</inv>");
	return room_list_overflow(l, before);
}

/* Invitations newer than data/inv@inviteId, oldest first: one <inv> each, whose inviteId the
 * client remembers for its next query. */
static void cmd_getinv(const pchat_chat_t *chat, const pchat_caller_t *c, const pchat_env_t *env)
{
	xmlNodePtr inv = pchat_xml_child(env->data, "inv");
	long long after = inv ? pchat_xml_attr_num(inv, "inviteId") : 0;
	room_list_t l;

	if (after < 0) {
		reply_status(chat, c, env, PCHAT_RESP_BAD_REQUEST, "invalid inviteId");
		return;
	}
	room_list_open(&l, chat, env);
	room_list_finish(&l, c, env, chat->store->invitations(chat->store_h, c->user,
			(uint64_t)after, room_list_limit(chat), add_invitation, &l));
}

/* ------------------------------------------------------------------ preferences */

#define PREF_LABEL_MAX 256

static void reply_pref(const pchat_chat_t *chat, const pchat_caller_t *c, const pchat_env_t *env,
		const char *label, uint64_t seqid, const char *content)
{
	pchat_buf_t b;

	pchat_buf_init(&b);
	pchat_xccos_open(&b, chat->out->next_envid(chat->out_h));
	pchat_xccos_rpl_open(&b, env, env->name, PCHAT_RESP_OK, TXT_OK);
	pchat_buf_adds(&b, "<pref label=\"");
	pchat_buf_adds_xml(&b, label);
	pchat_buf_addf(&b, "\" seqid=\"%llu\" content=\"", (unsigned long long)seqid);
	pchat_buf_adds_xml(&b, content);
	pchat_buf_adds(&b, "\"/>");
	pchat_xccos_rpl_close(&b);
	pchat_xccos_close(&b);
	send_reply(chat, c, &b);
	pchat_buf_free(&b);
}

/* data/pref@label; createdefault="true" makes an empty bundle when there is none. */
static void cmd_getpref(const pchat_chat_t *chat, const pchat_caller_t *c, const pchat_env_t *env)
{
	xmlNodePtr pref = pchat_xml_child(env->data, "pref");
	char label[PREF_LABEL_MAX], create[8] = "false";
	pchat_pref_t p = {0, NULL};
	int rc;

	if (pchat_xml_attr(pref, "label", label, sizeof(label)) <= 0) {
		reply_status(chat, c, env, PCHAT_RESP_BAD_REQUEST, "preference needs a label");
		return;
	}
	pchat_xml_attr(pref, "createdefault", create, sizeof(create));
	rc = chat->store->pref_get(chat->store_h, c->user, label, &p);
	if (rc == 0 && p.seqid == 0 && strcasecmp(create, "true") == 0)
		rc = chat->store->pref_set(chat->store_h, c->user, label, "", &p.seqid);
	if (rc < 0)
		reply_status(chat, c, env, store_code(rc), store_text(rc));
	else if (p.seqid == 0)
		reply_status(chat, c, env, PCHAT_RESP_NOT_FOUND, "no such preference");
	else
		reply_pref(chat, c, env, label, p.seqid, p.content ? p.content : "");
	free(p.content);
}

/* data/pref@label,@content: stores the bundle; the reply carries its new revision. */
static void cmd_setpref(const pchat_chat_t *chat, const pchat_caller_t *c, const pchat_env_t *env)
{
	xmlNodePtr pref = pchat_xml_child(env->data, "pref");
	char label[PREF_LABEL_MAX];
	xmlChar *content;
	uint64_t seqid = 0;
	int rc;

	if (pchat_xml_attr(pref, "label", label, sizeof(label)) <= 0) {
		reply_status(chat, c, env, PCHAT_RESP_BAD_REQUEST, "preference needs a label");
		return;
	}
	content = xmlGetNoNsProp(pref, (const xmlChar *)"content");
	rc = chat->store->pref_set(chat->store_h, c->user, label,
			content ? (const char *)content : "", &seqid);
	if (rc < 0)
		reply_status(chat, c, env, store_code(rc), store_text(rc));
	else
		reply_pref(chat, c, env, label, seqid, content ? (const char *)content : "");
	xmlFree(content);
}

/* "May I create rooms?": 200 when the user is a creator in some category, 403 otherwise. */
static void cmd_nodespermcreatechild(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env)
{
	int rc = chat->store->is_creator(chat->store_h, c->user);

	if (rc < 0)
		reply_status(chat, c, env, store_code(rc), store_text(rc));
	else if (rc == 0)
		reply_status(chat, c, env, PCHAT_RESP_FORBIDDEN, "you may not create rooms");
	else
		reply_status(chat, c, env, PCHAT_RESP_OK, TXT_OK);
}

typedef void (*command_f)(const pchat_chat_t *, const pchat_caller_t *, const pchat_env_t *);

static const struct {
	const char *name;
	command_f run;
} commands[] = {
	{"requri", cmd_requri},
	{"getserverinfo", cmd_getserverinfo},
	{"join", cmd_join},
	{"bjoin", cmd_bjoin},
	{"part", cmd_part},
	{"bccontext", cmd_bccontext},
	{"chansrch", cmd_chansrch},
	{"getassociations", cmd_getassociations},
	{"getinv", cmd_getinv},
	{"getpref", cmd_getpref},
	{"setpref", cmd_setpref},
	{"nodespermcreatechild", cmd_nodespermcreatechild},
};

void pchat_chat_command(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(env->name, commands[i].name) == 0) {
			commands[i].run(chat, c, env);
			return;
		}
	}
	PLOG_INFO("command %s from %s is not supported\n", env->name, c->user);
	reply_status(chat, c, env, PCHAT_RESP_NOT_SUPPORTED, "command not supported");
}

/* ------------------------------------------------------------------ posts */

int pchat_chat_post(const pchat_chat_t *chat, const pchat_caller_t *c, const pchat_env_t *env)
{
	char guid[PCHAT_GUID_LEN + 1], uri[PCHAT_ROOM_URI_MAX], now[32], ts[32];
	xmlNodePtr chat_el = pchat_xml_child(env->node, "chat");
	pchat_buf_t text, content, body;
	uint64_t room_id, seq = 0;
	int status = 200, rc, can_post = 0;

	if (uri_attr_guid(chat, env->node, "chanUri", guid) < 0 || !chat_el)
		return 400;
	room_id = chat->live->joined(chat->live_h, c, guid, &can_post);
	if (!room_id || !can_post)
		return 403;
	pchat_buf_init(&text);
	pchat_buf_init(&content);
	pchat_buf_init(&body);
	pchat_xml_text(chat_el, &text);
	pchat_xml_inner(env->node, &content);
	if (!pchat_buf_ok(&text) || !pchat_buf_ok(&content)) {
		status = 500;
		goto done;
	}
	if (text.len == 0) {
		status = 400;
		goto done;
	}
	if (pchat_utf8_chars(text.s, text.len) > (size_t)chat->settings->message_size_limit) {
		status = 413;
		goto done;
	}
	/* author and ts are the server's, whatever the post says */
	pchat_now_datetime(now, sizeof(now));
	pchat_xccos_time(now, ts, sizeof(ts));
	room_uri(chat, guid, uri, sizeof(uri));
	pchat_xccos_post(&body, "grpchat", uri, c->user, ts, content.s);
	if (!pchat_buf_ok(&body)) {
		status = 500;
		goto done;
	}
	rc = chat->store->post_begin(chat->store_h, room_id, c->user, now, content.s, &seq);
	if (rc != 0) {
		status = rc == PCHAT_STORE_DOWN ? 503 : 500;
		goto done;
	}
	chat->out->post_lock(chat->out_h, room_id);
	rc = chat->store->post_commit(chat->store_h);
	if (rc == 0)
		chat->out->post_fanout(chat->out_h, room_id, seq, body.s, body.len);
	chat->out->post_unlock(chat->out_h, room_id);
	if (rc != 0)
		status = rc == PCHAT_STORE_DOWN ? 503 : 500;
done:
	pchat_buf_free(&text);
	pchat_buf_free(&content);
	pchat_buf_free(&body);
	return status;
}

void pchat_chat_post_element(const pchat_chat_t *chat, const char *guid,
		const pchat_post_t *post, pchat_buf_t *out)
{
	char uri[PCHAT_ROOM_URI_MAX], ts[32];

	room_uri(chat, guid, uri, sizeof(uri));
	pchat_xccos_time(post->ts, ts, sizeof(ts));
	pchat_xccos_post(out, "grpchat", uri, post->author, ts, post->content);
}

/* ------------------------------------------------------------------ end of a session */

#define SESSION_ROOMS_MAX 1024

void pchat_chat_session_end(const pchat_chat_t *chat, const pchat_caller_t *c)
{
	pchat_room_ref_t *rooms = malloc(SESSION_ROOMS_MAX * sizeof(*rooms));
	int n, i;

	if (!rooms)
		return;
	n = chat->live->rooms_of(chat->live_h, c, rooms, SESSION_ROOMS_MAX);
	for (i = 0; i < n; i++)
		if (chat->live->part(chat->live_h, c, rooms[i].id) == 1)
			pchat_chat_user_left(chat, rooms[i].id, rooms[i].guid, c->user);
	free(rooms);
}

/* ------------------------------------------------------------------ room changes */

/* Tells the session it is out of the room, takes it out, and tells the others. */
static void put_out(const pchat_chat_t *chat, const pchat_caller_t *c, uint64_t room_id,
		const char *guid)
{
	pchat_buf_t b;

	pchat_buf_init(&b);
	pchat_xccos_open(&b, chat->out->next_envid(chat->out_h));
	part_element(chat, guid, c->user, &b);
	pchat_xccos_close(&b);
	send_reply(chat, c, &b);
	pchat_buf_free(&b);
	if (chat->live->part(chat->live_h, c, room_id) == 1)
		pchat_chat_user_left(chat, room_id, guid, c->user);
}

void pchat_chat_refresh_room(const pchat_chat_t *chat, uint64_t room_id)
{
	char guid[PCHAT_GUID_LEN + 1];
	pchat_member_t *members = NULL;
	pchat_room_t *room = malloc(sizeof(*room));
	int n, i, j, rc = 0, join = 0, post = 0;

	n = room ? chat->live->members(chat->live_h, room_id, guid, &members) : -1;
	for (i = 0; i < n; i++) {
		pchat_caller_t c = {members[i].session, members[i].user};

		/* one lookup per user: sessions of the same user follow each other's verdict */
		for (j = 0; j < i && strcmp(members[j].user, members[i].user) != 0; j++)
			;
		if (j == i) {
			rc = chat->store->room_for(chat->store_h, guid, c.user, room);
			join = rc == 0 && pchat_may_join(room->privacy, room->disabled, &room->access)
									  == PCHAT_ALLOW;
			post = rc == 0 && pchat_may_post(room->privacy, room->type, room->disabled,
									  &room->access) == PCHAT_ALLOW;
		}
		if (rc < 0)
			continue; /* the store cannot tell now: nothing changes */
		if (join)
			chat->live->update(chat->live_h, &c, room_id, room->access.roles, post);
		else
			put_out(chat, &c, room_id, guid);
	}
	free(members);
	free(room);
}
