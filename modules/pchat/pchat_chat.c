/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pchat_alloc.h"
#include "pchat_archive.h"
#include "pchat_chat.h"
#include "pchat_files.h"
#include "pchat_log.h"

#define TXT_OK "SUCCESS_OK"
#define TXT_NO_ROOM "no such room"
#define TXT_BAD_ROOM "invalid room identifier"
#define TXT_UNAVAILABLE "the chat service is temporarily unavailable, try again later"
#define TXT_SERVER_ERROR "server error"
#define TXT_TOO_MANY_ROOMS "you are in too many rooms; leave one first"
#define TXT_TOO_MANY_PREFS "too many preferences"

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

/* Sends what was built; -1 (logged) when building it ran out of memory. */
static int send_built(const pchat_chat_t *chat, const pchat_caller_t *c, const pchat_buf_t *b)
{
	if (!pchat_buf_ok(b)) {
		PLOG_ERR("out of memory building a reply for %s\n", c->user);
		return -1;
	}
	chat->out->reply(chat->out_h, c, b->s, b->len);
	return 0;
}

/* The most a status reply takes: its envelope, a command name and seqid of bounded size, and
 * one of this file's texts. */
#define STATUS_REPLY_MAX 1024

/* A reply with an empty <data/>: failures, and commands that return nothing. It is built
 * without allocating, so that a server error can be told when memory is short. */
/* A reply named name (rpl:NAME) with a status and no data. */
static void reply_status_as(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env, const char *name, pchat_rc_t rc, const char *text)
{
	char storage[STATUS_REPLY_MAX];
	pchat_buf_t b;

	pchat_buf_init_on(&b, storage, sizeof(storage));
	pchat_xccos_open(&b, chat->out->next_envid(chat->out_h));
	pchat_xccos_rpl_open(&b, env, name, rc, text);
	pchat_xccos_rpl_close(&b);
	pchat_xccos_close(&b);
	send_built(chat, c, &b);
	pchat_buf_free(&b);
}

static void reply_status(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env, pchat_rc_t rc, const char *text)
{
	reply_status_as(chat, c, env, env->name, rc, text);
}

/* Sends a command's reply; when it could not be built, a server error instead, which is
 * small: the client is not left waiting for an answer. */
static void send_reply(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env, const pchat_buf_t *b)
{
	if (send_built(chat, c, b) < 0)
		reply_status(chat, c, env, PCHAT_ERR_FAILED, TXT_SERVER_ERROR);
}

/* How a store failure is told: unreachable, or a server error. */
static pchat_rc_t store_code(int rc)
{
	return rc == PCHAT_ERR_DOWN ? PCHAT_ERR_DOWN : PCHAT_ERR_FAILED;
}

static const char *store_text(int rc)
{
	return rc == PCHAT_ERR_DOWN ? TXT_UNAVAILABLE : TXT_SERVER_ERROR;
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

/* The file service is there: its address is what getftok hands out. */
static int files_on(const pchat_chat_t *chat)
{
	return chat->files_url && chat->files_url[0];
}

/* ------------------------------------------------------------------ compliance */

static int recording(const pchat_chat_t *chat)
{
	return chat->recording && __atomic_load_n(chat->recording, __ATOMIC_RELAXED);
}

/* Writes a compliance event when the service records; ts NULL is now. PCHAT_OK when written
 * or not recording, else the store's error: what it records must not happen unrecorded. */
static int record(const pchat_chat_t *chat, pchat_event_kind_t kind, uint64_t room_id,
		const char *guid, const char *user, const char *ts, uint64_t msg_id, const char *content,
		const char *detail)
{
	char uri[PCHAT_ROOM_URI_MAX], now[32];
	pchat_record_t ev;
	int rc;

	if (!recording(chat))
		return PCHAT_OK;
	if (!ts) {
		pchat_now_datetime(now, sizeof(now));
		ts = now;
	}
	room_uri(chat, guid, uri, sizeof(uri));
	ev = (pchat_record_t){kind, room_id, uri, user, ts, msg_id, content, detail};
	rc = chat->store->record(chat->store_h, &ev);
	if (rc == PCHAT_OK && chat->recorded)
		__atomic_add_fetch(chat->recorded, 1, __ATOMIC_RELAXED);
	return rc;
}

/* A PART cannot be refused: one that cannot be written is logged with all it holds, for the
 * operator to add to the archive. */
static void record_part(const pchat_chat_t *chat, uint64_t room_id, const char *guid,
		const char *user, const char *cause)
{
	char detail[64], now[32];
	int rc;

	snprintf(detail, sizeof(detail), "{\"cause\":\"%s\"}", cause);
	pchat_now_datetime(now, sizeof(now));
	rc = record(chat, PCHAT_EV_PART, room_id, guid, user, now, 0, "", detail);
	if (rc < 0)
		PLOG_ERR("compliance: an event could not be recorded (%s): PART of %s from room %llu "
				"(ma-chan://%s/%s) at %s UTC, cause %s\n", pchat_rc_text(rc), user,
				(unsigned long long)room_id, chat->domain, guid, now, cause);
}

typedef struct join_failure {
	pchat_rc_t rc;
	const char *text;
} join_failure_t;

/* Whether the caller may enter and read a room the store looked up with result rc (join,
 * backchat). 1 when allowed, 0 with why filled. A secret room the caller may not see does not
 * exist for the caller. */
static int may_read(int rc, const pchat_room_t *room, join_failure_t *why)
{
	pchat_verdict_t v;

	if (rc == PCHAT_ERR_NOT_FOUND) {
		*why = (join_failure_t){PCHAT_ERR_NOT_FOUND, TXT_NO_ROOM};
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
		*why = (join_failure_t){PCHAT_ERR_NOT_FOUND, TXT_NO_ROOM};
	else
		*why = (join_failure_t){PCHAT_ERR_FORBIDDEN, pchat_verdict_text(v)};
	return 0;
}

/* Looks a room up and tells whether the caller may enter and read it (may_read). */
static int readable_room(const pchat_chat_t *chat, const pchat_caller_t *c, const char *guid,
		pchat_room_t *room, join_failure_t *why)
{
	return may_read(chat->store->room_for(chat->store_h, guid, c->user, room), room, why);
}

/* ------------------------------------------------------------------ participant lists */

/* The distinct users a join reply lists (<uib id="N">, N being the position), found through a
 * hash of the user so that a batch join of many rooms stays linear. */
typedef struct user_list {
	char (*users)[PCHAT_USER_MAX];
	unsigned *roles;
	int *index;  /* open addressing: position + 1 of a user, 0 for an empty slot */
	int nindex;  /* a power of two, more than twice max */
	int n;
	int max;
} user_list_t;

static uint32_t user_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The slot of user in the index: where it is, or the empty slot where it would go. */
static int *user_slot(const user_list_t *l, const char *user)
{
	uint32_t i = user_hash(user) & (uint32_t)(l->nindex - 1);

	while (l->index[i] && strcmp(l->users[l->index[i] - 1], user) != 0)
		i = (i + 1) & (uint32_t)(l->nindex - 1);
	return &l->index[i];
}

static int user_find(const user_list_t *l, const char *user)
{
	return *user_slot(l, user) - 1;
}

/* The user's position, added when new; -1 when the list is full. */
static int user_add(user_list_t *l, const char *user, unsigned roles)
{
	int *slot = user_slot(l, user);

	if (*slot)
		return *slot - 1;
	if (l->n >= l->max)
		return -1;
	snprintf(l->users[l->n], PCHAT_USER_MAX, "%s", user);
	l->roles[l->n] = roles;
	*slot = ++l->n;
	return l->n - 1;
}

static int new_user_list(user_list_t *users, int max)
{
	users->n = 0;
	users->max = max > 0 ? max : 1;
	for (users->nindex = 4; users->nindex <= 2 * users->max; users->nindex *= 2)
		;
	users->users = pchat_calloc(users->max, PCHAT_USER_MAX);
	users->roles = pchat_calloc(users->max, sizeof(*users->roles));
	users->index = pchat_calloc(users->nindex, sizeof(*users->index));
	return users->users && users->roles && users->index ? 0 : -1;
}

static void free_user_list(user_list_t *users)
{
	pchat_free(users->users);
	pchat_free(users->roles);
	pchat_free(users->index);
	memset(users, 0, sizeof(*users));
}

static void collect_user(void *ctx, const char *user, unsigned roles)
{
	user_add(ctx, user, roles);
}

/* ------------------------------------------------------------------ join / bjoin */

typedef struct joined_room {
	pchat_room_t room;
	int first;  /* the user's first session in the room: others get a join notice */
	int again;  /* the session was in the room before this command */
	int users;  /* the room's users as the reply lists them (the joining one included) */
	user_list_t listed; /* up to participant_update_limit of them, the joining one first */
} joined_room_t;

/* Joins the room in jr->room, which the store looked up with result found. Returns 0, or
 * fills why. */
static int join_room(const pchat_chat_t *chat, const pchat_caller_t *c, int found,
		joined_room_t *jr, join_failure_t *why)
{
	pchat_listing_t list;
	int can_post, rc;

	if (!may_read(found, &jr->room, why))
		return -1;
	if (new_user_list(&jr->listed, chat->settings->participant_update_limit) < 0) {
		free_user_list(&jr->listed);
		*why = (join_failure_t){PCHAT_ERR_FAILED, TXT_SERVER_ERROR};
		return -1;
	}
	user_add(&jr->listed, c->user, jr->room.access.roles);
	can_post = pchat_may_post(jr->room.privacy, jr->room.type, jr->room.disabled,
					   &jr->room.access) == PCHAT_ALLOW;
	/* the pool's users of the room come with the join: one round trip, not two */
	list = (pchat_listing_t){jr->listed.max, collect_user, &jr->listed, -1};
	jr->first = chat->live->join(chat->live_h, c, &jr->room, can_post, &list);
	jr->users = list.users;
	jr->again = jr->first == PCHAT_JOIN_AGAIN;
	if (jr->again)
		jr->first = 0;
	if (jr->first == PCHAT_ERR_FULL)
		*why = (join_failure_t){PCHAT_ERR_FULL, TXT_TOO_MANY_ROOMS};
	else if (jr->first < 0)
		*why = (join_failure_t){PCHAT_ERR_FAILED, TXT_SERVER_ERROR};
	/* the user enters the room: recorded before the reply says so, or not entered */
	else if (jr->first == 1 && (rc = record(chat, PCHAT_EV_JOIN, jr->room.id, jr->room.guid,
										c->user, NULL, 0, "", NULL)) < 0) {
		chat->live->part(chat->live_h, c, jr->room.id);
		*why = (join_failure_t){store_code(rc), store_text(rc)};
	} else {
		return 0;
	}
	free_user_list(&jr->listed);
	return -1;
}

/* A join reply (rpl:join, rpl:bjoin) being built: the users it lists, the rooms and the
 * failures, each in its own buffer, and the bytes still free in the reply. One reply is one
 * INFO (clients take a second rpl:join for a new join), so a reply is kept below reply_size:
 * participant lists shrink first, and a room that does not fit at all is reported failed. */
typedef struct join_reply {
	const pchat_chat_t *chat;
	const pchat_caller_t *c;
	user_list_t users;
	pchat_buf_t uibs;
	pchat_buf_t chanibs;
	pchat_buf_t fibs;
	size_t budget;
} join_reply_t;

/* Room for the envelope, <rpl> head and <data> of a reply. */
#define JOIN_ENVELOPE 512

static int join_reply_open(join_reply_t *r, const pchat_chat_t *chat, const pchat_caller_t *c,
		int max_users)
{
	memset(r, 0, sizeof(*r));
	r->chat = chat;
	r->c = c;
	r->budget = chat->settings->reply_size - JOIN_ENVELOPE;
	pchat_buf_init(&r->uibs);
	pchat_buf_init(&r->chanibs);
	pchat_buf_init(&r->fibs);
	return new_user_list(&r->users, max_users);
}

static void join_reply_free(join_reply_t *r)
{
	free_user_list(&r->users);
	pchat_buf_free(&r->uibs);
	pchat_buf_free(&r->chanibs);
	pchat_buf_free(&r->fibs);
}

static size_t digits(int n)
{
	size_t d = 1;

	for (; n >= 10; n /= 10)
		d++;
	return d;
}

/* Lists a user for a room of the reply if that fits with reserve bytes kept free: its position
 * (a <uib> is written for a user new in the reply; a user listed for an earlier room of a
 * batch keeps its position), or -1. The reply's list keeps no roles: a user's roles differ from
 * room to room, and each room's aib lists take them from that room's own list. */
static int list_user(join_reply_t *r, const char *user, size_t reserve)
{
	int id = user_find(&r->users, user);
	size_t before = r->uibs.len, cost;

	if (id < 0 && r->users.n >= r->users.max)
		return -1;
	if (id < 0)
		pchat_xccos_uib(&r->uibs, r->users.n, user);
	/* its uib, and its id in an aib list */
	cost = r->uibs.len - before + digits(id >= 0 ? id : r->users.n) + 1;
	if (cost + reserve > r->budget) {
		pchat_buf_truncate(&r->uibs, before);
		return -1;
	}
	r->budget -= cost;
	return id >= 0 ? id : user_add(&r->users, user, 0);
}

/* Adds a joined room with as many of its participants as fit, the joining user first, keeping
 * reserve bytes free for what still comes, and notes the room's user count. 0, or -1 when not
 * even the room itself fits. Frees the room's list of users (jr->listed) either way. */
static int add_joined_room(join_reply_t *r, joined_room_t *jr, size_t reserve)
{
	const pchat_chat_t *chat = r->chat;
	/* two aib lists and their attributes, and the end tag */
	static const size_t aib_overhead = 2 * 32 + sizeof("</chanib>");
	user_list_t room_users = jr->listed;
	char uri[PCHAT_ROOM_URI_MAX];
	pchat_buf_t head;
	size_t room_cost;
	int *ids = NULL, nids = 0, i, id, rc = -1;
	unsigned *roles = NULL; /* roles[k]: the roles in this room of the user ids[k] */

	memset(&jr->listed, 0, sizeof(jr->listed));
	if (!(ids = pchat_calloc(room_users.max, sizeof(*ids)))
			|| !(roles = pchat_calloc(room_users.max, sizeof(*roles)))) {
		free_user_list(&room_users);
		pchat_free(ids);
		return -1;
	}
	pchat_buf_init(&head);
	/* the count decides the join notice later (after_join); the join brought it unless the
	 * session was in the room already or the pool could not be asked */
	if (jr->users < 0)
		jr->users = chat->live->participants(chat->live_h, jr->room.id, room_users.max,
				collect_user, &room_users);
	room_uri(chat, jr->room.guid, uri, sizeof(uri));
	pchat_xccos_chanib_open(&head, uri, &jr->room);
	room_cost = head.len + aib_overhead;
	if (pchat_buf_ok(&head) && room_cost + reserve <= r->budget) {
		r->budget -= room_cost;
		/* the joining user comes first: without it the room is not listed */
		for (i = 0; i < room_users.n; i++) {
			id = list_user(r, room_users.users[i], reserve);
			if (id >= 0) {
				roles[nids] = room_users.roles[i];
				ids[nids++] = id;
			}
			else if (i == 0)
				break;
		}
		if (nids > 0) {
			pchat_buf_add(&r->chanibs, head.s, head.len);
			pchat_xccos_aibs(&r->chanibs, ids, roles, nids);
			pchat_xccos_chanib_close(&r->chanibs);
			rc = 0;
		} else {
			r->budget += room_cost;
		}
	}
	pchat_buf_free(&head);
	free_user_list(&room_users);
	pchat_free(ids);
	pchat_free(roles);
	return rc;
}

/* <fib> for a room of a batch that was not joined, named as the client named it. */
static void add_fib(join_reply_t *r, xmlNodePtr chanid)
{
	char value[64] = "", domain[256] = "";

	pchat_xml_attr(chanid, "value", value, sizeof(value));
	pchat_xml_attr(chanid, "domain", domain, sizeof(domain));
	pchat_xccos_fib(&r->fibs, value, domain);
	r->budget -= PCHAT_XCCOS_FIB_MAX;
}

/* Sends the reply: users, rooms, failures. -1 when it could not be built. */
static int join_reply_send(join_reply_t *r, const pchat_env_t *env, const char *name)
{
	int rc;

	pchat_buf_t b;

	pchat_buf_init(&b);
	pchat_xccos_open(&b, r->chat->out->next_envid(r->chat->out_h));
	pchat_xccos_rpl_open(&b, env, name, PCHAT_OK, TXT_OK);
	if (r->uibs.len)
		pchat_buf_add(&b, r->uibs.s, r->uibs.len);
	if (r->chanibs.len)
		pchat_buf_add(&b, r->chanibs.s, r->chanibs.len);
	if (r->fibs.len)
		pchat_buf_add(&b, r->fibs.s, r->fibs.len);
	pchat_xccos_rpl_close(&b);
	pchat_xccos_close(&b);
	/* a part that could not grow would make the reply lie */
	if (r->uibs.failed || r->chanibs.failed || r->fibs.failed)
		b.failed = 1;
	rc = send_built(r->chat, r->c, &b);
	pchat_buf_free(&b);
	return rc;
}

/* A room the reply cannot tell of is left again - unless the session was in it before. */
static void unjoin(const pchat_chat_t *chat, const pchat_caller_t *c, const joined_room_t *jr)
{
	/* the user's last session: also when the JOIN was another session's, which left since */
	if (!jr->again && chat->live->part(chat->live_h, c, jr->room.id) == 1)
		record_part(chat, jr->room.id, jr->room.guid, c->user, PCHAT_LEFT_JOIN_UNDONE);
}

/* After the reply is out: the session starts receiving posts, and the others learn of the
 * user unless the room is over the participant update limit. */
static void after_join(const pchat_chat_t *chat, const pchat_caller_t *c,
		const joined_room_t *jr, const char *notice_name)
{
	pchat_buf_t b;

	chat->live->ready(chat->live_h, c, jr->room.id);
	if (!jr->first || jr->users > chat->settings->participant_update_limit)
		return;
	pchat_buf_init(&b);
	pchat_xccos_ntc_join(&b, notice_name, c->user,
			(jr->room.access.roles & PCHAT_ROLE_MANAGER) != 0, chat->domain, jr->room.guid);
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
	join_reply_t r;

	if (!chanid || chanid_guid(chat, chanid, guid) < 0) {
		reply_status(chat, c, env, PCHAT_ERR_INVALID, TXT_BAD_ROOM);
		return;
	}
	jr = pchat_calloc(1, sizeof(*jr));
	if (!jr || join_reply_open(&r, chat, c, chat->settings->participant_update_limit + 1) < 0) {
		if (jr)
			join_reply_free(&r);
		pchat_free(jr);
		reply_status(chat, c, env, PCHAT_ERR_FAILED, TXT_SERVER_ERROR);
		return;
	}
	if (join_room(chat, c, chat->store->room_for(chat->store_h, guid, c->user, &jr->room), jr,
				&why) < 0) {
		reply_status(chat, c, env, why.rc, why.text);
	} else if (add_joined_room(&r, jr, 0) < 0 || join_reply_send(&r, env, "join") < 0) {
		unjoin(chat, c, jr);
		reply_status(chat, c, env, PCHAT_ERR_FAILED, TXT_SERVER_ERROR);
	} else {
		after_join(chat, c, jr, "join");
	}
	join_reply_free(&r);
	pchat_free(jr);
}

/* Rooms of one batch join; more are refused as a failure of the whole command. */
#define BJOIN_MAX 100

static int count_chanids(const pchat_env_t *env)
{
	xmlNodePtr n;
	int count = 0;

	for (n = pchat_xml_child(env->data, "chanid"); n && count <= BJOIN_MAX;
			n = pchat_xml_next(n, "chanid"))
		count++;
	return count;
}

static int in_batch(const joined_room_t *rooms, int n, const char *guid)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(rooms[i].room.guid, guid) == 0)
			return 1;
	return 0;
}

/* The rooms a batch join names, looked up PCHAT_ROOMS_BATCH to a round trip before any is
 * joined: found[i] and rc[i] (room_for's result) for the i-th chanid; a chanid that names no
 * room of ours keeps an empty GUID and rc PCHAT_ERR_INVALID. */
static void look_up_batch(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env, pchat_room_t *found, int *rc, int n)
{
	xmlNodePtr chanid = pchat_xml_child(env->data, "chanid");
	int i, j, k, got;

	for (i = 0; i < n; i++, chanid = pchat_xml_next(chanid, "chanid"))
		if (chanid_guid(chat, chanid, found[i].guid) < 0)
			found[i].guid[0] = '\0';
	for (i = 0; i < n; i += PCHAT_ROOMS_BATCH) {
		k = n - i < PCHAT_ROOMS_BATCH ? n - i : PCHAT_ROOMS_BATCH;
		got = chat->store->rooms_for(chat->store_h, c->user, found + i, k);
		for (j = i; j < i + k; j++)
			rc[j] = !found[j].guid[0] ? PCHAT_ERR_INVALID
					: got < 0		  ? got
					: found[j].id	  ? 0
									  : PCHAT_ERR_NOT_FOUND;
	}
}

static void cmd_bjoin(const pchat_chat_t *chat, const pchat_caller_t *c, const pchat_env_t *env)
{
	int nchanid = count_chanids(env), nrooms = 0, i, *rc;
	joined_room_t *rooms;
	pchat_room_t *found;
	join_reply_t r;
	xmlNodePtr chanid;

	if (nchanid > BJOIN_MAX) {
		reply_status(chat, c, env, PCHAT_ERR_INVALID, "too many rooms in one batch join");
		return;
	}
	rooms = pchat_calloc(nchanid ? nchanid : 1, sizeof(*rooms));
	found = pchat_calloc(nchanid ? nchanid : 1, sizeof(*found));
	rc = pchat_calloc(nchanid ? nchanid : 1, sizeof(*rc));
	/* users listed: at most what the reply can hold */
	if (!rooms || !found || !rc
			|| join_reply_open(&r, chat, c, (int)(chat->settings->reply_size / 32)) < 0) {
		if (rooms && found && rc)
			join_reply_free(&r);
		pchat_free(rooms);
		pchat_free(found);
		pchat_free(rc);
		reply_status(chat, c, env, PCHAT_ERR_FAILED, TXT_SERVER_ERROR);
		return;
	}
	look_up_batch(chat, c, env, found, rc, nchanid);
	for (chanid = pchat_xml_child(env->data, "chanid"), i = 0; chanid;
			chanid = pchat_xml_next(chanid, "chanid"), i++) {
		/* every chanid after this one must still find room for its fib */
		size_t reserve = (size_t)(nchanid - i - 1) * PCHAT_XCCOS_FIB_MAX;
		join_failure_t why;

		if (rc[i] != PCHAT_ERR_INVALID && in_batch(rooms, nrooms, found[i].guid))
			continue; /* named twice: joined (or not) once */
		rooms[nrooms].room = found[i];
		if (rc[i] != PCHAT_ERR_INVALID && join_room(chat, c, rc[i], &rooms[nrooms], &why) == 0) {
			if (add_joined_room(&r, &rooms[nrooms], reserve) == 0) {
				nrooms++;
				continue;
			}
			unjoin(chat, c, &rooms[nrooms]);
		}
		add_fib(&r, chanid);
	}
	if (join_reply_send(&r, env, "bjoin") < 0) {
		for (i = 0; i < nrooms; i++)
			unjoin(chat, c, &rooms[i]);
		reply_status(chat, c, env, PCHAT_ERR_FAILED, TXT_SERVER_ERROR);
		nrooms = 0;
	}
	for (i = 0; i < nrooms; i++)
		after_join(chat, c, &rooms[i], "bjoin");
	join_reply_free(&r);
	pchat_free(rooms);
	pchat_free(found);
	pchat_free(rc);
}

/* ------------------------------------------------------------------ part */

/* <ntc id="ntc:part"> telling that user left the room. */
static void part_element(const pchat_chat_t *chat, const char *guid, const char *user,
		pchat_buf_t *b)
{
	char uri[PCHAT_ROOM_URI_MAX];

	room_uri(chat, guid, uri, sizeof(uri));
	pchat_xccos_ntc_part(b, uri, user);
}

void pchat_chat_user_left(const pchat_chat_t *chat, uint64_t room_id, const char *guid,
		const char *user, const char *cause)
{
	pchat_buf_t b;

	record_part(chat, room_id, guid, user, cause);
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
		reply_status(chat, c, env, PCHAT_ERR_INVALID, TXT_BAD_ROOM);
		return;
	}
	room_id = chat->live->joined(chat->live_h, c, guid, NULL);
	if (room_id && chat->live->part(chat->live_h, c, room_id) == 1)
		pchat_chat_user_left(chat, room_id, guid, c->user, PCHAT_LEFT_PART);
	room_uri(chat, guid, uri, sizeof(uri));
	pchat_buf_init(&b);
	pchat_xccos_open(&b, chat->out->next_envid(chat->out_h));
	pchat_xccos_rpl_open(&b, env, "part", PCHAT_OK, TXT_OK);
	pchat_xccos_chanib_ref(&b, uri);
	pchat_xccos_rpl_close(&b);
	pchat_xccos_close(&b);
	send_reply(chat, c, env, &b);
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
	pchat_xccos_rpl_open(&b, h->env, "bccontext", PCHAT_OK, TXT_OK);
	pchat_xccos_backchat(&b, h->uri, h->msgs.s, h->msgs.len);
	pchat_xccos_rpl_close(&b);
	pchat_xccos_close(&b);
	/* messages that could not be kept would leave a hole in the history: a server error */
	if (h->msgs.failed)
		b.failed = 1;
	send_reply(h->chat, h->c, h->env, &b);
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

	pchat_xccos_stored_post(&h->msgs, "msg", h->uri, post);
	if (before > 0 && h->msgs.len + HISTORY_ENVELOPE > h->chat->settings->reply_size) {
		/* this message starts the next reply */
		pchat_buf_t next;

		pchat_buf_init(&next);
		pchat_buf_add(&next, h->msgs.s + before, h->msgs.len - before);
		pchat_buf_truncate(&h->msgs, before);
		flush_history(h);
		pchat_buf_free(&h->msgs);
		h->msgs = next;
	}
	return 0;
}

/* The newest cnt posts as the room lookup found them: exactly the numbers the BACKCHAT event
 * records (before anything is sent), whatever is posted meanwhile. */
static int read_history(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_room_t *room, uint64_t cnt, history_reply_t *h)
{
	uint64_t last = room->last_seq, first = last > cnt ? last - cnt + 1 : 1;
	char range[48], detail[96];
	int rc;

	if (last == 0)
		return 0;
	snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)first,
			(unsigned long long)last);
	snprintf(detail, sizeof(detail), "{\"requested\":%llu,\"first\":%llu,\"last\":%llu}",
			(unsigned long long)cnt, (unsigned long long)first, (unsigned long long)last);
	rc = record(chat, PCHAT_EV_BACKCHAT, room->id, room->guid, c->user, NULL, 0, range, detail);
	if (rc < 0)
		return rc;
	rc = chat->store->posts_between(chat->store_h, room->id, first - 1, last + 1, (int)cnt,
			add_history_msg, h);
	return rc < 0 ? rc : 0;
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
		reply_status(chat, c, env, PCHAT_ERR_INVALID, TXT_BAD_ROOM);
		return;
	}
	/* without a count, the service's default history (Lync's DefaultChatHistory) */
	cnt = last ? pchat_xml_attr_num(last, "cnt") : chat->settings->default_history;
	if (cnt < 0) {
		reply_status(chat, c, env, PCHAT_ERR_INVALID, "invalid backchat count");
		return;
	}
	if (cnt > chat->settings->backchat_limit)
		cnt = chat->settings->backchat_limit;
	room = pchat_malloc(sizeof(*room));
	if (!room || !readable_room(chat, c, guid, room, &why)) {
		if (!room)
			why = (join_failure_t){PCHAT_ERR_FAILED, TXT_SERVER_ERROR};
		reply_status(chat, c, env, why.rc, why.text);
		pchat_free(room);
		return;
	}
	memset(&h, 0, sizeof(h));
	h.chat = chat;
	h.c = c;
	h.env = env;
	room_uri(chat, guid, h.uri, sizeof(h.uri));
	pchat_buf_init(&h.msgs);
	/* a category whose chat history is off keeps the posts (compliance) but shows none */
	rc = cnt > 0 && room->logged ? read_history(chat, c, room, (uint64_t)cnt, &h) : 0;
	if (rc < 0 && h.sent == 0)
		reply_status(chat, c, env, store_code(rc), store_text(rc));
	else if (h.msgs.len || h.msgs.failed || h.sent == 0)
		flush_history(&h);
	pchat_buf_free(&h.msgs);
	pchat_free(room);
}

/* ------------------------------------------------------------------ small commands */

/* OCS 2007 R2's lookup step: the chat service is this same URI. */
static void cmd_requri(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env)
{
	pchat_buf_t b;

	pchat_buf_init(&b);
	pchat_xccos_open(&b, chat->out->next_envid(chat->out_h));
	pchat_xccos_rpl_open(&b, env, "requri", PCHAT_OK, TXT_OK);
	pchat_xccos_uib_uri(&b, chat->pool_uri);
	pchat_xccos_rpl_close(&b);
	pchat_xccos_close(&b);
	send_reply(chat, c, env, &b);
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
	pchat_xccos_rpl_open(&b, env, "getserverinfo", PCHAT_OK, TXT_OK);
	pchat_xccos_sib(&b, info_type, ts, chat->settings->search_limit,
			chat->settings->message_size_limit, chat->settings->story_size_limit, root,
			chat->room_management_url);
	pchat_xccos_rpl_close(&b);
	pchat_xccos_close(&b);
	send_reply(chat, c, env, &b);
	pchat_buf_free(&b);
}

/* ------------------------------------------------------------------ room lists */

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

static void room_list_open(room_list_t *l, const pchat_chat_t *chat, const pchat_env_t *env)
{
	memset(l, 0, sizeof(*l));
	l->chat = chat;
	l->limit = chat->settings->reply_size - 64;
	pchat_buf_init(&l->b);
	pchat_xccos_open(&l->b, chat->out->next_envid(chat->out_h));
	pchat_xccos_rpl_open(&l->b, env, env->name, PCHAT_OK, TXT_OK);
}

/* Remembers where the room's user count goes; -1 when out of memory. */
static int note_count(room_list_t *l, uint64_t room_id, size_t at)
{
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 64;
		uint64_t *rooms = pchat_realloc(l->rooms, cap * sizeof(*rooms));
		size_t *at;

		if (rooms)
			l->rooms = rooms;
		at = rooms ? pchat_realloc(l->count_at, cap * sizeof(*at)) : NULL;
		if (!at)
			return -1;
		l->count_at = at;
		l->cap = cap;
	}
	l->rooms[l->n] = room_id;
	l->count_at[l->n++] = at;
	return 0;
}

static void add_room_entry(room_list_t *l, const pchat_room_summary_t *r)
{
	char uri[PCHAT_ROOM_URI_MAX];
	size_t count_at;
	pchat_room_summary_t shown = *r;

	room_uri(l->chat, r->guid, uri, sizeof(uri));
	/* files can be posted where the category allows it and this node serves them */
	shown.file_post = r->file_post && files_on(l->chat);
	pchat_xccos_room_entry(&l->b, uri, &shown, &count_at);
	if (note_count(l, r->id, count_at) < 0)
		l->b.failed = 1;
}

/* Undoes the entry that began at before when the list (with its counts) outgrew its reply;
 * 1 then. */
static int room_list_overflow(room_list_t *l, size_t before)
{
	if (l->b.len + (size_t)l->n * COUNT_WIDTH <= l->limit)
		return 0;
	pchat_buf_truncate(&l->b, before);
	while (l->n && l->count_at[l->n - 1] > before)
		l->n--;
	return 1;
}

/* The list with every room's user count in its place. */
static void fill_counts(room_list_t *l, pchat_buf_t *out)
{
	int *counts = pchat_calloc(l->n ? l->n : 1, sizeof(*counts));
	size_t from = 0;
	int i;

	if (!counts || !pchat_buf_ok(&l->b)) {
		out->failed = 1;
		pchat_free(counts);
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
	pchat_free(counts);
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
		send_reply(l->chat, c, env, &out);
		pchat_buf_free(&out);
	}
	pchat_buf_free(&l->b);
	pchat_free(l->rooms);
	pchat_free(l->count_at);
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
		reply_status(chat, c, env, PCHAT_ERR_INVALID, "search needs a qib query");
		return;
	}
	pchat_xml_attr(qib, "qtype", qtype, sizeof(qtype));
	if (pchat_xml_attr(qib, "criteria", criteria, sizeof(criteria)) == -2) {
		reply_status(chat, c, env, PCHAT_ERR_INVALID, "search text too long");
		return;
	}
	for (i = 0; i < sizeof(search_kinds) / sizeof(search_kinds[0]); i++)
		if (strcasecmp(qtype, search_kinds[i].qtype) == 0)
			kind = search_kinds[i].kind;
	if (kind < 0) {
		reply_status(chat, c, env, PCHAT_ERR_NOT_SUPPORTED, "search type not supported");
		return;
	}
	if (kind == PCHAT_SEARCH_MEMBER || kind == PCHAT_SEARCH_MANAGER) {
		if (pchat_principal_normalize(criteria, principal, sizeof(principal)) < 0) {
			reply_status(chat, c, env, PCHAT_ERR_INVALID,
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
		reply_status(chat, c, env, PCHAT_ERR_INVALID, "qtype must be MEMBER or MANAGER");
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

	pchat_xccos_inv_open(&l->b, inv, l->chat->domain);
	add_room_entry(l, &inv->room);
	pchat_xccos_inv_close(&l->b);
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
		reply_status(chat, c, env, PCHAT_ERR_INVALID, "invalid inviteId");
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
	pchat_xccos_rpl_open(&b, env, env->name, PCHAT_OK, TXT_OK);
	pchat_xccos_pref(&b, label, seqid, content);
	pchat_xccos_rpl_close(&b);
	pchat_xccos_close(&b);
	send_reply(chat, c, env, &b);
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
		reply_status(chat, c, env, PCHAT_ERR_INVALID, "preference needs a label");
		return;
	}
	pchat_xml_attr(pref, "createdefault", create, sizeof(create));
	rc = chat->store->pref_get(chat->store_h, c->user, label, &p);
	if (rc == 0 && p.seqid == 0 && strcasecmp(create, "true") == 0)
		rc = chat->store->pref_set(chat->store_h, c->user, label, "",
				chat->settings->max_preferences, &p.seqid);
	if (rc == PCHAT_ERR_FULL)
		reply_status(chat, c, env, PCHAT_ERR_FULL, TXT_TOO_MANY_PREFS);
	else if (rc < 0)
		reply_status(chat, c, env, store_code(rc), store_text(rc));
	else if (p.seqid == 0)
		reply_status(chat, c, env, PCHAT_ERR_NOT_FOUND, "no such preference");
	else
		reply_pref(chat, c, env, label, p.seqid, p.content ? p.content : "");
	pchat_free(p.content);
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
		reply_status(chat, c, env, PCHAT_ERR_INVALID, "preference needs a label");
		return;
	}
	content = xmlGetNoNsProp(pref, (const xmlChar *)"content");
	if (pchat_buf_xml_size(label) + pchat_buf_xml_size(content ? (const char *)content : "")
			> chat->settings->max_preference_size) {
		reply_status(chat, c, env, PCHAT_ERR_TOO_LARGE, "preference too large");
		xmlFree(content);
		return;
	}
	rc = chat->store->pref_set(chat->store_h, c->user, label,
			content ? (const char *)content : "", chat->settings->max_preferences, &seqid);
	if (rc == PCHAT_ERR_FULL)
		reply_status(chat, c, env, PCHAT_ERR_FULL, TXT_TOO_MANY_PREFS);
	else if (rc < 0)
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
		reply_status(chat, c, env, PCHAT_ERR_FORBIDDEN, "you may not create rooms");
	else
		reply_status(chat, c, env, PCHAT_OK, TXT_OK);
}

/* rpl:getftok, the one reply of getfutok and getfdtok. */
static void reply_file_token(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env, const char *token)
{
	char storage[STATUS_REPLY_MAX + 512];
	pchat_buf_t b;

	pchat_buf_init_on(&b, storage, sizeof(storage));
	pchat_xccos_open(&b, chat->out->next_envid(chat->out_h));
	pchat_xccos_rpl_open(&b, env, "getftok", PCHAT_OK, TXT_OK);
	pchat_xccos_ftok(&b, token, chat->files_url);
	pchat_xccos_rpl_close(&b);
	pchat_xccos_close(&b);
	send_reply(chat, c, env, &b);
	pchat_buf_free(&b);
}

/* getfutok/getfdtok: a token for the file web service, bound to the user, the room and the
 * direction. Uploads need the right to post and the category's file switch; downloads the
 * right to read, and a file of the room by that name. */
static void get_file_token(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env, int upload)
{
	xmlNodePtr ftdb = pchat_xml_child(env->data, "ftdb");
	char guid[PCHAT_GUID_LEN + 1], name[PCHAT_FILE_ORIGINAL_MAX + 1], token[64];
	join_failure_t why;
	pchat_room_t *room;
	pchat_verdict_t v;
	int rc;

	if (!files_on(chat)) {
		reply_status_as(chat, c, env, "getftok", PCHAT_ERR_NOT_SUPPORTED, "file posting is not available");
		return;
	}
	if (!ftdb || uri_attr_guid(chat, ftdb, "channelUri", guid) < 0) {
		reply_status_as(chat, c, env, "getftok", PCHAT_ERR_INVALID, TXT_BAD_ROOM);
		return;
	}
	if (pchat_xml_attr(ftdb, "fileUrl", name, sizeof(name)) < 0 || !name[0]) {
		reply_status_as(chat, c, env, "getftok", PCHAT_ERR_INVALID, "invalid file name");
		return;
	}
	room = pchat_malloc(sizeof(*room));
	if (!room || !readable_room(chat, c, guid, room, &why)) {
		if (!room)
			why = (join_failure_t){PCHAT_ERR_FAILED, TXT_SERVER_ERROR};
		reply_status_as(chat, c, env, "getftok", why.rc, why.text);
		pchat_free(room);
		return;
	}
	v = upload ? pchat_may_post(room->privacy, room->type, room->disabled, &room->access)
			   : PCHAT_ALLOW;
	if (v != PCHAT_ALLOW) {
		reply_status_as(chat, c, env, "getftok", PCHAT_ERR_FORBIDDEN, pchat_verdict_text(v));
	} else if (upload && !room->file_post) {
		reply_status_as(chat, c, env, "getftok", PCHAT_ERR_FORBIDDEN, "files may not be posted in this room");
	} else {
		rc = chat->store->file_token(chat->store_h, c->user, room->id, upload, name,
				chat->settings->file_token_lifetime, token);
		if (rc == PCHAT_ERR_NOT_FOUND)
			reply_status_as(chat, c, env, "getftok", PCHAT_ERR_NOT_FOUND, "no such file in this room");
		else if (rc < 0)
			reply_status_as(chat, c, env, "getftok", store_code(rc), store_text(rc));
		else
			reply_file_token(chat, c, env, token);
	}
	pchat_free(room);
}

static void cmd_getfutok(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env)
{
	get_file_token(chat, c, env, 1);
}

static void cmd_getfdtok(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env)
{
	get_file_token(chat, c, env, 0);
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
	{"getfutok", cmd_getfutok},
	{"getfdtok", cmd_getfdtok},
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
	reply_status(chat, c, env, PCHAT_ERR_NOT_SUPPORTED, "command not supported");
}

/* ------------------------------------------------------------------ posts */

typedef struct link_check {
	const pchat_chat_t *chat;
	const pchat_caller_t *c;
	uint64_t room_id;
	const char *guid;
} link_check_t;

static int check_link(void *ctx, const char *guid, const char *name)
{
	link_check_t *l = ctx;
	int rc;

	if (!guid) {
		PLOG_INFO("post of %s refused: a file link that is not of this service\n", l->c->user);
		return PCHAT_ERR_INVALID;
	}
	if (strcmp(guid, l->guid) != 0) {
		PLOG_INFO("post of %s refused: it links a file of another room\n", l->c->user);
		return PCHAT_ERR_FORBIDDEN;
	}
	rc = l->chat->store->file_exists(l->chat->store_h, l->room_id, name);
	if (rc == 0)
		PLOG_INFO("post of %s refused: it links %s, which the room does not have\n",
				l->c->user, name);
	return rc == 1 ? 0 : rc == 0 ? PCHAT_ERR_NOT_FOUND : store_code(rc);
}

/* A post may carry links to files of its own room that exist (PCHAT_FILE_LINK_SCHEME). */
static pchat_rc_t check_file_links(const pchat_chat_t *chat, const pchat_caller_t *c,
		uint64_t room_id, const char *guid, const char *text)
{
	link_check_t l = {chat, c, room_id, guid};

	return (pchat_rc_t)pchat_file_links(text, chat->domain, check_link, &l);
}

pchat_rc_t pchat_chat_post(const pchat_chat_t *chat, const pchat_caller_t *c, const pchat_env_t *env)
{
	char guid[PCHAT_GUID_LEN + 1], uri[PCHAT_ROOM_URI_MAX], now[32], ts[32];
	xmlNodePtr chat_el = pchat_xml_child(env->node, "chat");
	pchat_buf_t text, content, body;
	uint64_t room_id, seq = 0;
	pchat_rc_t status = PCHAT_OK;
	int rc, can_post = 0;

	if (uri_attr_guid(chat, env->node, "chanUri", guid) < 0 || !chat_el)
		return PCHAT_ERR_INVALID;
	room_id = chat->live->joined(chat->live_h, c, guid, &can_post);
	if (!room_id || !can_post)
		return PCHAT_ERR_FORBIDDEN;
	pchat_buf_init(&text);
	pchat_buf_init(&content);
	pchat_buf_init(&body);
	pchat_xml_text(chat_el, &text);
	pchat_xml_inner(env->node, &content);
	if (!pchat_buf_ok(&text) || !pchat_buf_ok(&content)) {
		status = PCHAT_ERR_NO_MEMORY;
		goto done;
	}
	if (text.len == 0) {
		status = PCHAT_ERR_INVALID;
		goto done;
	}
	if (pchat_utf8_chars(text.s, text.len) > (size_t)chat->settings->message_size_limit) {
		status = PCHAT_ERR_TOO_LARGE;
		goto done;
	}
	/* author and ts are the server's, whatever the post says */
	pchat_now_datetime(now, sizeof(now));
	pchat_xccos_time(now, ts, sizeof(ts));
	room_uri(chat, guid, uri, sizeof(uri));
	pchat_xccos_post(&body, "grpchat", uri, c->user, ts, content.s);
	if (!pchat_buf_ok(&body)) {
		status = PCHAT_ERR_NO_MEMORY;
		goto done;
	}
	/* Bytes as it will be sent, to every member and in every backchat: unknown children are
	 * relayed unchanged (rich text, alerts, stories), and serialising can make markup grow
	 * (a quote in an attribute becomes &quot;), so the whole element counts. */
	if (body.len > chat->settings->max_post_size) {
		status = PCHAT_ERR_TOO_LARGE;
		goto done;
	}
	rc = chat->store->post_begin(chat->store_h, room_id, c->user, now, content.s, &seq);
	/* the files it links, in its transaction: a removal waits for it, and the post never
	 * names a file removed before it is stored */
	if (rc == 0 && (status = check_file_links(chat, c, room_id, guid, text.s)) != PCHAT_OK) {
		chat->store->post_abort(chat->store_h);
		goto done;
	}
	/* the post's event in the post's transaction: neither is stored without the other */
	if (rc == 0 && (rc = record(chat, PCHAT_EV_CHAT, room_id, guid, c->user, now, seq, text.s,
							NULL)) != 0)
		chat->store->post_abort(chat->store_h);
	if (rc != 0) {
		status = store_code(rc);
		goto done;
	}
	chat->out->post_lock(chat->out_h, room_id);
	rc = chat->store->post_commit(chat->store_h);
	if (rc == 0)
		chat->out->post_fanout(chat->out_h, room_id, seq, body.s, body.len);
	chat->out->post_unlock(chat->out_h, room_id);
	if (rc != 0)
		status = store_code(rc);
done:
	pchat_buf_free(&text);
	pchat_buf_free(&content);
	pchat_buf_free(&body);
	return status;
}

void pchat_chat_post_element(const pchat_chat_t *chat, const char *guid,
		const pchat_post_t *post, pchat_buf_t *out)
{
	char uri[PCHAT_ROOM_URI_MAX];

	room_uri(chat, guid, uri, sizeof(uri));
	pchat_xccos_stored_post(out, "grpchat", uri, post);
}

/* ------------------------------------------------------------------ end of a session */

void pchat_chat_session_end(const pchat_chat_t *chat, const pchat_caller_t *c)
{
	pchat_room_ref_t *rooms = NULL;
	int n, i;

	n = chat->live->rooms_of(chat->live_h, c, &rooms);
	for (i = 0; i < n; i++)
		if (chat->live->part(chat->live_h, c, rooms[i].id) == 1)
			pchat_chat_user_left(chat, rooms[i].id, rooms[i].guid, c->user,
					PCHAT_LEFT_SESSION_END);
	pchat_free(rooms);
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
	/* out of memory, it is put out untold: better than staying where it may no longer be */
	send_built(chat, c, &b);
	pchat_buf_free(&b);
	if (chat->live->part(chat->live_h, c, room_id) == 1)
		pchat_chat_user_left(chat, room_id, guid, c->user, PCHAT_LEFT_REMOVED);
}

/* What the store says now about one user in a room. */
typedef struct verdict {
	int known;      /* the store could tell */
	int found;      /* the room still exists (the room looked up is filled in) */
	int join;
	int post;
	unsigned roles;
} verdict_t;

static verdict_t look_up_verdict(const pchat_chat_t *chat, const char *guid, const char *user,
		pchat_room_t *room)
{
	verdict_t v = {0, 0, 0, 0, 0};
	int rc = chat->store->room_for(chat->store_h, guid, user, room);

	/* A room the store no longer has is a verdict: everyone goes. Any other failure means the
	 * store cannot tell now, and nothing changes. */
	if (rc < 0 && rc != PCHAT_ERR_NOT_FOUND)
		return v;
	v.known = 1;
	if (rc == 0) {
		v.found = 1;
		v.join = pchat_may_join(room->privacy, room->disabled, &room->access) == PCHAT_ALLOW;
		v.post = pchat_may_post(room->privacy, room->type, room->disabled, &room->access)
				 == PCHAT_ALLOW;
		v.roles = room->access.roles;
	}
	return v;
}

void pchat_chat_refresh_room(const pchat_chat_t *chat, uint64_t room_id)
{
	char guid[PCHAT_GUID_LEN + 1];
	pchat_member_t *members = NULL;
	pchat_room_t *room = pchat_malloc(sizeof(*room));
	verdict_t *verdicts = NULL;
	user_list_t users = {0};
	int n, i, at;

	n = room ? chat->live->members(chat->live_h, room_id, guid, &members) : -1;
	if (n > 0 && (new_user_list(&users, n) < 0 || !(verdicts = pchat_calloc(n, sizeof(*verdicts)))))
		n = -1;
	if (n < 0) /* who may no longer be there stays: worth an operator's eye */
		PLOG_ERR("the sessions in room %llu could not be checked again (out of memory)\n",
				(unsigned long long)room_id);
	for (i = 0; i < n; i++) {
		pchat_caller_t c = {members[i].session, members[i].user};

		/* one lookup per user; every session of a user gets that user's own verdict */
		at = user_find(&users, c.user);
		if (at < 0) {
			at = user_add(&users, c.user, 0);
			verdicts[at] = look_up_verdict(chat, guid, c.user, room);
			if (at == 0 && verdicts[at].found)
				chat->live->categorize(chat->live_h, room_id, room->category_id);
		}
		if (!verdicts[at].known)
			continue;
		if (verdicts[at].join)
			chat->live->update(chat->live_h, &c, room_id, verdicts[at].roles, verdicts[at].post);
		else
			put_out(chat, &c, room_id, guid);
	}
	free_user_list(&users);
	pchat_free(verdicts);
	pchat_free(members);
	pchat_free(room);
}
