/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <string.h>

#include "core/dprint.h"
#include "core/hashes.h"
#include "core/locking.h"
#include "core/mem/shm_mem.h"

#include "pchat_node.h"
#include "pchat_session.h"

/* Buckets of the Call-ID table, each with its lock (a power of two). */
#define SESSION_BUCKETS 4096

typedef struct session_table {
	uint32_t max;
	uint32_t free_top;      /* entries on the free stack */
	uint32_t buckets[SESSION_BUCKETS]; /* first slot + 1 of each chain, 0 when empty */
	uint32_t *free_stack;   /* indices of free slots */
	pchat_session_t *slots;
} session_table_t;

static session_table_t *table = NULL;
static gen_lock_set_t *bucket_locks = NULL;
static gen_lock_t *free_lock = NULL;

int pchat_sessions_init(int max_sessions)
{
	uint32_t i;

	if (max_sessions <= 0 || max_sessions > PCHAT_MAX_SESSIONS) {
		LM_ERR("max_sessions must be from 1 to %d\n", PCHAT_MAX_SESSIONS);
		return -1;
	}
	table = shm_malloc(sizeof(*table));
	if (!table)
		goto oom;
	memset(table, 0, sizeof(*table));
	table->max = (uint32_t)max_sessions;
	table->slots = shm_malloc(sizeof(pchat_session_t) * table->max);
	table->free_stack = shm_malloc(sizeof(uint32_t) * table->max);
	if (!table->slots || !table->free_stack)
		goto oom;
	memset(table->slots, 0, sizeof(pchat_session_t) * table->max);
	for (i = 0; i < table->max; i++)
		table->free_stack[i] = table->max - 1 - i; /* slot 0 is handed out first */
	table->free_top = table->max;
	bucket_locks = lock_set_alloc(SESSION_BUCKETS);
	free_lock = lock_alloc();
	if (!bucket_locks || !free_lock || !lock_set_init(bucket_locks) || !lock_init(free_lock))
		goto oom;
	return 0;
oom:
	SHM_MEM_ERROR;
	return -1;
}

void pchat_sessions_destroy(void)
{
	if (bucket_locks) {
		lock_set_destroy(bucket_locks);
		lock_set_dealloc(bucket_locks);
		bucket_locks = NULL;
	}
	if (free_lock) {
		lock_destroy(free_lock);
		lock_dealloc(free_lock);
		free_lock = NULL;
	}
	/* session strings live until shm is torn down with the process */
	if (table) {
		if (table->slots)
			shm_free(table->slots);
		if (table->free_stack)
			shm_free(table->free_stack);
		shm_free(table);
		table = NULL;
	}
}

int pchat_sessions_max(void)
{
	return table ? (int)table->max : 0;
}

int pchat_sessions_slot_bytes(void)
{
	return (int)(sizeof(pchat_session_t) + sizeof(table->free_stack[0]));
}

static uint32_t bucket_of(const str *call_id)
{
	return core_hash(call_id, NULL, SESSION_BUCKETS);
}

static int take_slot(uint32_t *slot)
{
	int ok = 0;

	lock_get(free_lock);
	if (table->free_top > 0) {
		*slot = table->free_stack[--table->free_top];
		ok = 1;
	}
	lock_release(free_lock);
	return ok;
}

static void return_slot(uint32_t slot)
{
	lock_get(free_lock);
	table->free_stack[table->free_top++] = slot;
	lock_release(free_lock);
}

/* Copies the dialog strings into one block. */
static int copy_strings(pchat_session_t *s, const pchat_session_init_t *in)
{
	const str *src[] = {&in->call_id, &in->local_tag, &in->remote_tag, &in->local_uri,
		&in->remote_uri, &in->remote_target, &in->dst_uri, &in->route_set, &in->user,
		&in->flow, &in->source};
	str *dst[] = {&s->call_id, &s->local_tag, &s->remote_tag, &s->local_uri, &s->remote_uri,
		&s->remote_target, &s->dst_uri, &s->route_set, &s->user, &s->flow, &s->source};
	size_t i, total = 0;
	char *p;

	for (i = 0; i < sizeof(src) / sizeof(src[0]); i++)
		total += (size_t)src[i]->len + 1;
	s->strs = p = shm_malloc(total);
	if (!p)
		return -1;
	for (i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
		dst[i]->s = p;
		dst[i]->len = src[i]->len;
		if (src[i]->len)
			memcpy(p, src[i]->s, src[i]->len);
		p[src[i]->len] = '\0';
		p += src[i]->len + 1;
	}
	return 0;
}

/* The route set parsed once into shared memory, so sending an INFO does not parse it again.
 * The INVITE's route set was checked to parse (pchat_session_routes_valid). */
static int copy_routes(pchat_session_t *s)
{
	rr_t *parsed = NULL;
	int rc;

	s->routes = NULL;
	if (s->route_set.len == 0)
		return 0;
	if (parse_rr_body(s->route_set.s, s->route_set.len, &parsed) < 0)
		return -1;
	rc = shm_duplicate_rr(&s->routes, parsed);
	free_rr(&parsed);
	return rc;
}

int pchat_session_routes_valid(const str *route_set)
{
	rr_t *parsed = NULL;

	if (route_set->len == 0)
		return 1;
	if (parse_rr_body(route_set->s, route_set->len, &parsed) < 0)
		return 0;
	free_rr(&parsed);
	return 1;
}

pchat_session_t *pchat_session_create(const pchat_session_init_t *init, pchat_sref_t *ref)
{
	uint32_t slot, bucket = bucket_of(&init->call_id);
	pchat_session_t *s;

	if (!take_slot(&slot))
		return NULL;
	lock_set_get(bucket_locks, bucket);
	s = &table->slots[slot];
	if (copy_strings(s, init) < 0 || copy_routes(s) < 0) {
		if (s->strs)
			shm_free(s->strs);
		s->strs = NULL;
		lock_set_release(bucket_locks, bucket);
		return_slot(slot);
		SHM_MEM_ERROR;
		return NULL;
	}
	s->bucket = bucket;
	s->state = PCHAT_S_EARLY;
	s->send_sock = init->send_sock;
	s->local_cseq = 0;
	memset(&s->win, 0, sizeof(s->win));
	s->win.max_pending = init->max_pending;
	memset(&s->infos, 0, sizeof(s->infos));
	s->queue_head = s->queue_tail = NULL;
	s->end_queued = 0;
	s->bye_on_end = 0;
	s->expires = init->expires;
	s->refreshed = s->created = time(NULL);
	s->rooms = NULL;
	s->nrooms = s->rooms_cap = 0;
	s->next = table->buckets[bucket];
	table->buckets[bucket] = slot + 1;
	ref->slot = slot;
	ref->gen = s->gen;
	pchat_node_session_opened();
	return s;
}

static int str_eq(const str *a, const str *b)
{
	return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

pchat_session_t *pchat_session_find(const str *call_id, const str *local_tag,
		const str *remote_tag, pchat_sref_t *ref)
{
	uint32_t bucket = bucket_of(call_id), i;
	pchat_session_t *s;

	lock_set_get(bucket_locks, bucket);
	for (i = table->buckets[bucket]; i; i = s->next) {
		s = &table->slots[i - 1];
		if (s->state != PCHAT_S_FREE && str_eq(&s->call_id, call_id)
				&& str_eq(&s->local_tag, local_tag) && str_eq(&s->remote_tag, remote_tag)) {
			ref->slot = i - 1;
			ref->gen = s->gen;
			return s;
		}
	}
	lock_set_release(bucket_locks, bucket);
	return NULL;
}

pchat_session_t *pchat_session_get(pchat_sref_t ref)
{
	pchat_session_t *s;
	uint32_t bucket;

	if (ref.slot >= table->max)
		return NULL;
	s = &table->slots[ref.slot];
	/* The bucket of a slot changes only while the slot is free; re-check under the lock. */
	bucket = __atomic_load_n(&s->bucket, __ATOMIC_ACQUIRE);
	lock_set_get(bucket_locks, bucket);
	if (s->gen == ref.gen && s->state != PCHAT_S_FREE && s->bucket == bucket)
		return s;
	lock_set_release(bucket_locks, bucket);
	return NULL;
}

void pchat_session_unlock(pchat_session_t *s)
{
	lock_set_release(bucket_locks, s->bucket);
}

int pchat_session_begin_end(pchat_session_t *s)
{
	if (s->state == PCHAT_S_ENDING)
		return 0;
	s->state = PCHAT_S_ENDING;
	return 1;
}

void pchat_session_free_locked(pchat_session_t *s, char *source)
{
	uint32_t slot = (uint32_t)(s - table->slots), bucket = s->bucket, *link;

	snprintf(source, PCHAT_SOURCE_MAX, "%.*s", s->source.len, s->source.s);
	for (link = &table->buckets[bucket]; *link; link = &table->slots[*link - 1].next) {
		if (*link == slot + 1) {
			*link = s->next;
			break;
		}
	}
	shm_free(s->strs);
	if (s->routes)
		shm_free_rr(&s->routes);
	if (s->rooms)
		shm_free(s->rooms);
	while (s->queue_head)
		shm_free(pchat_session_queue_pop(s));
	s->strs = NULL;
	s->rooms = NULL;
	s->nrooms = s->rooms_cap = 0;
	s->state = PCHAT_S_FREE;
	s->gen = (s->gen + 1) & PCHAT_GEN_MASK;
	s->next = 0;
	lock_set_release(bucket_locks, bucket);
	return_slot(slot);
	pchat_node_session_closed();
}

int pchat_session_queue_push(pchat_session_t *s, const char *body, size_t len)
{
	pchat_queued_info_t *q = shm_malloc(sizeof(*q) + len);

	if (!q) {
		SHM_MEM_ERROR;
		return -1;
	}
	q->next = NULL;
	q->len = len;
	memcpy(q->body, body, len);
	if (s->queue_tail)
		s->queue_tail->next = q;
	else
		s->queue_head = q;
	s->queue_tail = q;
	pchat_node_charge(&pchat_shared->budget, pchat_window_queued(&s->win, len));
	return 0;
}

pchat_queued_info_t *pchat_session_queue_pop(pchat_session_t *s)
{
	pchat_queued_info_t *q = s->queue_head;

	if (!q)
		return NULL;
	s->queue_head = q->next;
	if (!s->queue_head)
		s->queue_tail = NULL;
	pchat_node_release(&pchat_shared->budget, pchat_window_dequeued(&s->win, q->len));
	return q;
}

int pchat_session_add_room(pchat_session_t *s, uint64_t room_id, const char *guid)
{
	uint32_t i;

	for (i = 0; i < s->nrooms; i++)
		if (s->rooms[i].id == room_id)
			return 0;
	if (s->nrooms == s->rooms_cap) {
		uint32_t cap = s->rooms_cap ? s->rooms_cap * 2 : 4;
		pchat_session_room_t *rooms = shm_realloc(s->rooms, cap * sizeof(*rooms));

		if (!rooms) {
			SHM_MEM_ERROR;
			return -1;
		}
		s->rooms = rooms;
		s->rooms_cap = cap;
	}
	s->rooms[s->nrooms].id = room_id;
	snprintf(s->rooms[s->nrooms].guid, sizeof(s->rooms[0].guid), "%s", guid);
	s->nrooms++;
	return 0;
}

void pchat_session_remove_room(pchat_session_t *s, uint64_t room_id)
{
	uint32_t i;

	for (i = 0; i < s->nrooms; i++) {
		if (s->rooms[i].id == room_id) {
			s->rooms[i] = s->rooms[--s->nrooms];
			return;
		}
	}
}

uint64_t pchat_session_room_by_guid(const pchat_session_t *s, const char *guid)
{
	uint32_t i;

	for (i = 0; i < s->nrooms; i++)
		if (strcmp(s->rooms[i].guid, guid) == 0)
			return s->rooms[i].id;
	return 0;
}

/* Calls cb (without a lock held) for every session that pick, called under the session's lock,
 * chooses; with the session's user. */
static void visit(int (*pick)(const pchat_session_t *s, void *ctx),
		void (*cb)(pchat_sref_t ref, const char *user, void *ctx), void *ctx)
{
	char user[PCHAT_USER_MAX];
	pchat_session_t *s;
	pchat_sref_t ref;
	uint32_t i;
	int picked;

	for (i = 0; i < table->max; i++) {
		s = &table->slots[i];
		if (__atomic_load_n(&s->state, __ATOMIC_RELAXED) == PCHAT_S_FREE)
			continue;
		ref.slot = i;
		ref.gen = __atomic_load_n(&s->gen, __ATOMIC_RELAXED);
		s = pchat_session_get(ref);
		if (!s)
			continue;
		picked = pick(s, ctx);
		if (picked)
			snprintf(user, sizeof(user), "%.*s", s->user.len, s->user.s);
		pchat_session_unlock(s);
		if (picked)
			cb(ref, user, ctx);
	}
}

typedef struct expiry {
	time_t now;
	int grace;
	int early;
	void (*cb)(pchat_sref_t ref);
} expiry_t;

static int expired(const pchat_session_t *s, void *ctx)
{
	const expiry_t *e = ctx;

	return s->state != PCHAT_S_ENDING
		   && ((s->expires > 0 && e->now - s->refreshed > s->expires + e->grace)
				   || (s->state == PCHAT_S_EARLY && e->now - s->created > e->early));
}

static void end_expired(pchat_sref_t ref, const char *user, void *ctx)
{
	(void)user;
	((expiry_t *)ctx)->cb(ref);
}

void pchat_sessions_expired(time_t now, int grace, int early, void (*cb)(pchat_sref_t ref))
{
	expiry_t e = {now, grace, early, cb};

	visit(expired, end_expired, &e);
}

static int not_ending(const pchat_session_t *s, void *ctx)
{
	(void)ctx;
	return s->state != PCHAT_S_ENDING;
}

void pchat_sessions_each(void (*cb)(pchat_sref_t ref, const char *user, void *ctx), void *ctx)
{
	visit(not_ending, cb, ctx);
}
