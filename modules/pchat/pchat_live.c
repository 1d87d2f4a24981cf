/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dprint.h"
#include "core/hashes.h"
#include "core/locking.h"
#include "core/mem/mem.h"
#include "core/mem/shm_mem.h"

#include "pchat_alloc.h"
#include "pchat_live.h"
#include "pchat_node.h"
#include "pchat_session.h"

#define ROOM_BUCKETS 4096
#define NOT_READY UINT64_MAX

typedef struct live_member {
	pchat_sref_t session;
	uint64_t from_seq; /* receives posts with seq >= from_seq; NOT_READY until ready */
	uint64_t join_mark; /* the room's delivered when it joined: later posts are its own */
	uint32_t uhash;
	unsigned roles;    /* PCHAT_ROLE_* of the user in the room */
	int can_post;      /* decided at join, updated when the room changes */
	char *user;        /* own copy: valid while the member exists, whatever the session does */
} live_member_t;

typedef struct live_room {
	uint64_t id;
	uint64_t category_id;
	char guid[PCHAT_GUID_LEN + 1];
	struct live_room *next;
	live_member_t *members;
	uint32_t n;
	uint32_t cap;
	uint32_t nusers;    /* distinct users among the members */
	uint64_t delivered; /* newest post delivered to the members */
} live_room_t;

typedef struct live_table {
	live_room_t *buckets[ROOM_BUCKETS];
	int rooms;
	int members;
} live_table_t;

static live_table_t *live = NULL;
static gen_lock_set_t *room_locks = NULL;

int pchat_live_init(void)
{
	live = shm_malloc(sizeof(*live));
	room_locks = lock_set_alloc(ROOM_BUCKETS);
	if (!live || !room_locks || !lock_set_init(room_locks)) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(live, 0, sizeof(*live));
	return 0;
}

void pchat_live_destroy(void)
{
	if (room_locks) {
		lock_set_destroy(room_locks);
		lock_set_dealloc(room_locks);
		room_locks = NULL;
	}
	if (live) {
		shm_free(live);
		live = NULL;
	}
}

static uint32_t bucket_of(uint64_t room_id)
{
	return (uint32_t)((room_id * 0x9E3779B97F4A7C15ULL) >> 52) & (ROOM_BUCKETS - 1);
}

static uint32_t user_hash(const char *user)
{
	str s;

	s.s = (char *)user;
	s.len = (int)strlen(user);
	return get_hash1_raw(s.s, s.len);
}

/* The room's entry; its bucket must be locked. */
static live_room_t *find_room(uint64_t room_id, uint32_t bucket)
{
	live_room_t *r;

	for (r = live->buckets[bucket]; r; r = r->next)
		if (r->id == room_id)
			return r;
	return NULL;
}

static int find_member(const live_room_t *r, pchat_sref_t ref)
{
	uint32_t i;

	for (i = 0; i < r->n; i++)
		if (r->members[i].session.slot == ref.slot && r->members[i].session.gen == ref.gen)
			return (int)i;
	return -1;
}

static int user_present(const live_room_t *r, uint32_t uhash, const char *user, int skip)
{
	uint32_t i;

	for (i = 0; i < r->n; i++)
		if ((int)i != skip && r->members[i].uhash == uhash && strcmp(r->members[i].user, user) == 0)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ the pool's presence */

void pchat_live_session_key(pchat_sref_t ref, char *out, size_t len)
{
	pchat_presence_session_key(pchat_params.node_id, pchat_run, ref.slot, ref.gen, out, len);
}

/* Redis of the calling process, NULL when it has none. */
static pchat_redis_t *presence(void)
{
	return pchat_proc_redis();
}

static int presence_join(const pchat_room_t *room, const pchat_caller_t *c,
		pchat_listing_t *list)
{
	char session[PCHAT_SESSION_KEY_MAX];

	if (!presence())
		return PCHAT_ERR_DOWN;
	pchat_live_session_key(c->session, session, sizeof(session));
	if (list)
		return pchat_presence_join_list(presence(), room->id, room->guid, pchat_params.node_id,
				session, c->user, room->access.roles, list->max, list->cb, list->ctx,
				&list->users);
	return pchat_presence_join(presence(), room->id, room->guid, pchat_params.node_id, session,
			c->user, room->access.roles);
}

static int presence_part(uint64_t room_id, const char *guid, pchat_sref_t ref)
{
	char session[PCHAT_SESSION_KEY_MAX];

	if (!presence())
		return PCHAT_ERR_DOWN;
	pchat_live_session_key(ref, session, sizeof(session));
	return pchat_presence_part(presence(), room_id, guid, pchat_params.node_id, session);
}

/* ------------------------------------------------------------------ membership */

static int add_member(live_room_t *r, const pchat_caller_t *c, uint32_t uhash, unsigned roles,
		int can_post)
{
	live_member_t *m;

	if (r->n == r->cap) {
		uint32_t cap = r->cap ? r->cap * 2 : 8;
		live_member_t *members = shm_realloc(r->members, cap * sizeof(*members));

		if (!members)
			return -1;
		r->members = members;
		r->cap = cap;
	}
	m = &r->members[r->n];
	m->user = shm_malloc(strlen(c->user) + 1);
	if (!m->user)
		return -1;
	strcpy(m->user, c->user);
	m->session = c->session;
	m->from_seq = NOT_READY;
	m->join_mark = r->delivered;
	m->uhash = uhash;
	m->roles = roles;
	m->can_post = can_post;
	r->n++;
	__atomic_add_fetch(&live->members, 1, __ATOMIC_RELAXED);
	return 0;
}

static void unlink_room(live_room_t *r, uint32_t bucket)
{
	live_room_t **link;

	for (link = &live->buckets[bucket]; *link; link = &(*link)->next) {
		if (*link == r) {
			*link = r->next;
			break;
		}
	}
	if (r->members)
		shm_free(r->members);
	shm_free(r);
	__atomic_sub_fetch(&live->rooms, 1, __ATOMIC_RELAXED);
}

/* Removes member i; returns 1 when the user has no other session in the room. */
static int remove_member(live_room_t *r, int i, uint32_t bucket)
{
	live_member_t *m = &r->members[i];
	int last = !user_present(r, m->uhash, m->user, i);

	shm_free(m->user);
	r->members[i] = r->members[--r->n];
	__atomic_sub_fetch(&live->members, 1, __ATOMIC_RELAXED);
	if (last)
		r->nusers--;
	if (r->n == 0)
		unlink_room(r, bucket);
	return last;
}

/* Returns 1 when the session was removed from the room (it was there), 0 otherwise; *last
 * says whether it was the user's last session here, guid (may be NULL) gets the room's. */
static int remove_from_room(uint64_t room_id, pchat_sref_t ref, int *last, char *guid)
{
	uint32_t bucket = bucket_of(room_id);
	live_room_t *r;
	int i, removed = 0;

	lock_set_get(room_locks, bucket);
	r = find_room(room_id, bucket);
	if (r && (i = find_member(r, ref)) >= 0) {
		if (guid)
			memcpy(guid, r->guid, PCHAT_GUID_LEN + 1);
		*last = remove_member(r, i, bucket);
		removed = 1;
	}
	lock_set_release(room_locks, bucket);
	return removed;
}

static int live_join(void *h, const pchat_caller_t *c, const pchat_room_t *room, int can_post,
		pchat_listing_t *list)
{
	uint32_t bucket = bucket_of(room->id), uhash = user_hash(c->user);
	pchat_session_t *s;
	live_room_t *r;
	int first, added, last, i, rc;

	(void)h;
	lock_set_get(room_locks, bucket);
	r = find_room(room->id, bucket);
	if (!r) {
		r = shm_malloc(sizeof(*r));
		if (!r) {
			lock_set_release(room_locks, bucket);
			SHM_MEM_ERROR;
			return PCHAT_ERR_NO_MEMORY;
		}
		memset(r, 0, sizeof(*r));
		r->id = room->id;
		r->category_id = room->category_id;
		/* what the store had when the room was looked up: later posts reach the members,
		 * whichever node stored them (pchat_order fills what the relays miss) */
		r->delivered = room->last_seq;
		memcpy(r->guid, room->guid, sizeof(r->guid));
		r->next = live->buckets[bucket];
		live->buckets[bucket] = r;
		__atomic_add_fetch(&live->rooms, 1, __ATOMIC_RELAXED);
	}
	if ((i = find_member(r, c->session)) >= 0) {
		/* joined again by the same session: its rights may have changed */
		r->members[i].roles = room->access.roles;
		r->members[i].can_post = can_post;
		lock_set_release(room_locks, bucket);
		return PCHAT_JOIN_AGAIN;
	}
	first = !user_present(r, uhash, c->user, -1);
	if (add_member(r, c, uhash, room->access.roles, can_post) < 0) {
		if (r->n == 0)
			unlink_room(r, bucket);
		lock_set_release(room_locks, bucket);
		SHM_MEM_ERROR;
		return PCHAT_ERR_NO_MEMORY;
	}
	if (first)
		r->nusers++;
	lock_set_release(room_locks, bucket);

	/* Record the room in the session, unless the session started ending meanwhile: then its
	 * teardown would not know of this room, so the membership is undone here. A session is in
	 * at most max_rooms_per_session rooms. */
	added = PCHAT_ERR_FAILED;
	s = pchat_session_get(c->session);
	if (s) {
		if (s->nrooms >= (uint32_t)pchat_params.max_rooms_per_session)
			added = PCHAT_ERR_FULL;
		else if (s->state != PCHAT_S_ENDING && pchat_session_add_room(s, room->id, room->guid) == 0)
			added = 0;
		pchat_session_unlock(s);
	}
	if (added < 0) {
		remove_from_room(room->id, c->session, &last, NULL);
		return added;
	}
	/* the pool decides whether the user is new in the room; alone, this node does */
	rc = presence_join(room, c, list);
	return rc >= 0 ? rc : first;
}

/* Ready at once, in the calling process: posts delivered meanwhile by the room's sender are
 * missed. The service makes sessions ready through the room's sender instead
 * (pchat_fanout_ready), and comes here only when that cannot be queued. */
static void live_ready(void *h, const pchat_caller_t *c, uint64_t room_id)
{
	uint64_t missed_after, missed_upto;

	(void)h;
	pchat_live_make_ready(room_id, c->session, &missed_after, &missed_upto);
}

int pchat_live_make_ready(uint64_t room_id, pchat_sref_t ref, uint64_t *missed_after,
		uint64_t *missed_upto)
{
	uint32_t bucket = bucket_of(room_id);
	live_room_t *r;
	int i, made = 0;

	lock_set_get(room_locks, bucket);
	r = find_room(room_id, bucket);
	if (r && (i = find_member(r, ref)) >= 0 && r->members[i].from_seq == NOT_READY) {
		r->members[i].from_seq = r->delivered + 1;
		*missed_after = r->members[i].join_mark;
		*missed_upto = r->delivered;
		made = 1;
	}
	lock_set_release(room_locks, bucket);
	return made;
}

static int live_part(void *h, const pchat_caller_t *c, uint64_t room_id)
{
	char guid[PCHAT_GUID_LEN + 1];
	pchat_session_t *s;
	int last = 0, rc;

	(void)h;
	if (!remove_from_room(room_id, c->session, &last, guid))
		return -1;
	s = pchat_session_get(c->session);
	if (s) {
		pchat_session_remove_room(s, room_id);
		pchat_session_unlock(s);
	}
	rc = presence_part(room_id, guid, c->session);
	return rc >= 0 ? rc : last;
}

/* The session's room ids (*ids malloc'ed); how many, -1 when out of memory. */
static int session_room_ids(pchat_sref_t ref, uint64_t **ids)
{
	pchat_session_t *s = pchat_session_get(ref);
	int n = 0;

	*ids = NULL;
	if (!s)
		return 0;
	if (s->nrooms && !(*ids = pchat_malloc(s->nrooms * sizeof(**ids)))) {
		pchat_session_unlock(s);
		return -1;
	}
	for (; (uint32_t)n < s->nrooms; n++)
		(*ids)[n] = s->rooms[n].id;
	pchat_session_unlock(s);
	return n;
}

/* The GUID of a room, and whether the session may post there (can_post may be NULL). */
static int room_guid(uint64_t room_id, pchat_sref_t ref, char *guid, int *can_post)
{
	uint32_t bucket = bucket_of(room_id);
	live_room_t *r;
	int found = 0, i;

	lock_set_get(room_locks, bucket);
	r = find_room(room_id, bucket);
	if (r) {
		memcpy(guid, r->guid, PCHAT_GUID_LEN + 1);
		found = 1;
		if (can_post)
			*can_post = (i = find_member(r, ref)) >= 0 && r->members[i].can_post;
	}
	lock_set_release(room_locks, bucket);
	return found;
}

/* Runs for every post: the session's own list names the room, so a post costs one member
 * look-up and no allocation, however many rooms the session is in. */
static uint64_t live_joined(void *h, const pchat_caller_t *c, const char *guid, int *can_post)
{
	char g[PCHAT_GUID_LEN + 1];
	pchat_session_t *s;
	uint64_t room_id;

	(void)h;
	s = pchat_session_get(c->session);
	if (!s)
		return 0;
	room_id = pchat_session_room_by_guid(s, guid);
	pchat_session_unlock(s); /* before the room's lock: the two are never nested */
	return room_id && room_guid(room_id, c->session, g, can_post) ? room_id : 0;
}

static int live_rooms_of(void *h, const pchat_caller_t *c, pchat_room_ref_t **rooms)
{
	uint64_t *ids;
	int n, i, out = 0;

	(void)h;
	*rooms = NULL;
	n = session_room_ids(c->session, &ids);
	if (n > 0 && !(*rooms = pchat_malloc(n * sizeof(**rooms))))
		n = -1;
	for (i = 0; i < n; i++) {
		if (room_guid(ids[i], c->session, (*rooms)[out].guid, NULL))
			(*rooms)[out++].id = ids[i];
	}
	pchat_free(ids);
	return n < 0 ? -1 : out;
}

/* This node's users of the room, when the pool's cannot be asked. */
static int local_participants(uint64_t room_id, int max, pchat_user_f cb, void *ctx)
{
	uint32_t bucket = bucket_of(room_id), i;
	live_room_t *r;
	int count = 0, listed = 0;

	lock_set_get(room_locks, bucket);
	r = find_room(room_id, bucket);
	if (r) {
		count = (int)r->nusers;
		/* Distinct users: a member is listed when no earlier member has the same user. Stops at
		 * max, so a big room costs max, not its size, once max users were found. */
		for (i = 0; i < r->n && listed < max; i++) {
			uint32_t j;
			int dup = 0;

			for (j = 0; j < i && !dup; j++)
				dup = r->members[j].uhash == r->members[i].uhash
					  && strcmp(r->members[j].user, r->members[i].user) == 0;
			if (!dup) {
				cb(ctx, r->members[i].user, r->members[i].roles);
				listed++;
			}
		}
	}
	lock_set_release(room_locks, bucket);
	return count;
}

static int live_participants(void *h, uint64_t room_id, int max, pchat_user_f cb, void *ctx)
{
	int n = PCHAT_ERR_DOWN;

	(void)h;
	if (presence())
		n = pchat_presence_participants(presence(), room_id, max, cb, ctx);
	return n >= 0 ? n : local_participants(room_id, max, cb, ctx);
}

static void live_counts(void *h, const uint64_t *rooms, int n, int *counts)
{
	int i;

	(void)h;
	if (presence() && pchat_presence_counts(presence(), rooms, n, counts) == 0)
		return;
	for (i = 0; i < n; i++)
		counts[i] = local_participants(rooms[i], 0, NULL, NULL);
}

static int live_members(void *h, uint64_t room_id, char *guid, pchat_member_t **out)
{
	uint32_t bucket = bucket_of(room_id), i;
	pchat_member_t *list = NULL;
	live_room_t *r;
	int n = 0;

	(void)h;
	*out = NULL;
	lock_set_get(room_locks, bucket);
	r = find_room(room_id, bucket);
	if (r && r->n) {
		list = pchat_malloc(r->n * sizeof(*list));
		if (!list) {
			lock_set_release(room_locks, bucket);
			return -1;
		}
		memcpy(guid, r->guid, PCHAT_GUID_LEN + 1);
		for (i = 0; i < r->n; i++) {
			list[n].session = r->members[i].session;
			snprintf(list[n++].user, PCHAT_USER_MAX, "%s", r->members[i].user);
		}
	}
	lock_set_release(room_locks, bucket);
	*out = list;
	return n;
}

static void live_update(void *h, const pchat_caller_t *c, uint64_t room_id, unsigned roles,
		int can_post)
{
	uint32_t bucket = bucket_of(room_id);
	live_room_t *r;
	int i;

	(void)h;
	lock_set_get(room_locks, bucket);
	r = find_room(room_id, bucket);
	if (r && (i = find_member(r, c->session)) >= 0) {
		r->members[i].roles = roles;
		r->members[i].can_post = can_post;
	}
	lock_set_release(room_locks, bucket);
	if (presence())
		pchat_presence_set_roles(presence(), room_id, c->user, roles);
}

static void live_categorize(void *h, uint64_t room_id, uint64_t category_id)
{
	uint32_t bucket = bucket_of(room_id);
	live_room_t *r;

	(void)h;
	lock_set_get(room_locks, bucket);
	r = find_room(room_id, bucket);
	if (r)
		r->category_id = category_id;
	lock_set_release(room_locks, bucket);
}

const pchat_live_ops_t pchat_live_ops = {
	.join = live_join,
	.ready = live_ready,
	.part = live_part,
	.joined = live_joined,
	.participants = live_participants,
	.counts = live_counts,
	.rooms_of = live_rooms_of,
	.members = live_members,
	.update = live_update,
	.categorize = live_categorize,
};

/* ------------------------------------------------------------------ fan-out support */

int pchat_live_room_guid(uint64_t room_id, char *guid)
{
	return room_guid(room_id, (pchat_sref_t){0, 0}, guid, NULL) ? 0 : -1;
}

int pchat_live_delivered(uint64_t room_id, uint64_t *seq)
{
	uint32_t bucket = bucket_of(room_id);
	live_room_t *r;
	int rc = -1;

	lock_set_get(room_locks, bucket);
	r = find_room(room_id, bucket);
	if (r) {
		*seq = r->delivered;
		rc = 0;
	}
	lock_set_release(room_locks, bucket);
	return rc;
}

int pchat_live_recipients(uint64_t room_id, uint64_t seq, const char *except_user,
		pchat_recipient_t **out)
{
	uint32_t bucket = bucket_of(room_id), i, uhash = except_user ? user_hash(except_user) : 0;
	pchat_recipient_t *list = NULL;
	live_room_t *r;
	int n = 0;

	*out = NULL;
	lock_set_get(room_locks, bucket);
	r = find_room(room_id, bucket);
	if (r && seq > r->delivered)
		r->delivered = seq;
	if (r && r->n) {
		list = pkg_malloc(r->n * sizeof(*list));
		if (!list) {
			lock_set_release(room_locks, bucket);
			PKG_MEM_ERROR;
			return -1;
		}
		for (i = 0; i < r->n; i++) {
			const live_member_t *m = &r->members[i];

			if (m->from_seq == NOT_READY || (seq && seq < m->from_seq))
				continue;
			if (except_user && m->uhash == uhash && strcmp(m->user, except_user) == 0)
				continue;
			list[n++].session = m->session;
		}
	}
	lock_set_release(room_locks, bucket);
	*out = list;
	return n;
}

/* ------------------------------------------------------------------ snapshots */

/* Copies the memberships of one bucket's rooms into *list (grown as needed). */
static int copy_bucket(uint32_t bucket, pchat_live_membership_t **list, int *n, int *cap)
{
	live_room_t *r;
	uint32_t i;

	for (r = live->buckets[bucket]; r; r = r->next) {
		for (i = 0; i < r->n; i++) {
			pchat_live_membership_t *m;

			if (*n == *cap) {
				int ncap = *cap ? *cap * 2 : 256;
				pchat_live_membership_t *grown = realloc(*list, ncap * sizeof(**list));

				if (!grown)
					return -1;
				*list = grown;
				*cap = ncap;
			}
			m = &(*list)[(*n)++];
			m->room = r->id;
			memcpy(m->guid, r->guid, sizeof(m->guid));
			pchat_live_session_key(r->members[i].session, m->session, sizeof(m->session));
			snprintf(m->user, sizeof(m->user), "%s", r->members[i].user);
			m->roles = r->members[i].roles;
		}
	}
	return 0;
}

int pchat_live_memberships(pchat_live_membership_t **out)
{
	pchat_live_membership_t *list = NULL;
	int n = 0, cap = 0, rc = 0;
	uint32_t b;

	for (b = 0; b < ROOM_BUCKETS && rc == 0; b++) {
		lock_set_get(room_locks, b);
		rc = copy_bucket(b, &list, &n, &cap);
		lock_set_release(room_locks, b);
	}
	if (rc < 0) {
		free(list);
		return -1;
	}
	*out = list;
	return n;
}

/* The rooms with members here (of one category when category is not 0). */
static int room_ids(uint64_t category, uint64_t **out)
{
	uint64_t *ids = NULL;
	int n = 0, cap = 0;
	live_room_t *r;
	uint32_t b;

	for (b = 0; b < ROOM_BUCKETS; b++) {
		lock_set_get(room_locks, b);
		for (r = live->buckets[b]; r; r = r->next) {
			if (category && r->category_id != category)
				continue;
			if (n == cap) {
				uint64_t *grown = realloc(ids, (cap ? cap * 2 : 64) * sizeof(*ids));

				if (!grown) {
					lock_set_release(room_locks, b);
					free(ids);
					return -1;
				}
				ids = grown;
				cap = cap ? cap * 2 : 64;
			}
			ids[n++] = r->id;
		}
		lock_set_release(room_locks, b);
	}
	*out = ids;
	return n;
}

int pchat_live_room_ids(uint64_t **out)
{
	return room_ids(0, out);
}

int pchat_live_rooms_in_category(uint64_t category_id, uint64_t **out)
{
	return room_ids(category_id, out);
}

void pchat_live_counts(int *rooms, int *members)
{
	*rooms = __atomic_load_n(&live->rooms, __ATOMIC_RELAXED);
	*members = __atomic_load_n(&live->members, __ATOMIC_RELAXED);
}
