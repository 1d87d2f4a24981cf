/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdlib.h>
#include <string.h>

#include "core/dprint.h"

#include "pchat_fanout.h"
#include "pchat_live.h"
#include "pchat_node.h"
#include "pchat_pool.h"
#include "pchat_presence.h"
#include "pchat_service.h"

typedef enum pool_state { POOL_STARTING, POOL_UP, POOL_DOWN } pool_state_t;

static pool_state_t state = POOL_STARTING;
static uint64_t failures_seen = 0;   /* Redis connection failures of the node at the last tick */
static uint64_t changes_seen = 0;    /* Redis master changes (Sentinel) of the node at the last tick */
static int64_t next_sync_ms = 0;     /* when this node's presence is checked next */
static int64_t cleanup_from_ms = 0;  /* no dead-node cleanup before (see presence_back) */
static int64_t last_heartbeat_ms = 0;

/* Marks this node alive. Long work (cleaning up after a big node) calls it as it goes, or the
 * node's own heartbeat would expire meanwhile and the others would clean up after it. */
static int heartbeat(pchat_redis_t *r)
{
	int64_t now = pchat_now_ms();

	if (pchat_presence_heartbeat(r, pchat_params.node_id, pchat_run,
				1000 * pchat_params.node_timeout, pchat_node_sessions(), now) < 0)
		return -1;
	last_heartbeat_ms = now;
	return 0;
}

static void keep_alive(pchat_redis_t *r)
{
	if (pchat_now_ms() - last_heartbeat_ms >= 1000)
		heartbeat(r);
}

/* ------------------------------------------------------------------ membership lists */

typedef struct membership_list {
	pchat_live_membership_t *m;
	int n;
	int cap;
	int failed;
} membership_list_t;

static void collect_membership(void *ctx, uint64_t room, const char *guid, const char *session,
		const char *user)
{
	membership_list_t *l = ctx;
	pchat_live_membership_t *m;

	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 256;
		pchat_live_membership_t *grown = realloc(l->m, cap * sizeof(*grown));

		if (!grown) {
			l->failed = 1;
			return;
		}
		l->m = grown;
		l->cap = cap;
	}
	m = &l->m[l->n++];
	memset(m, 0, sizeof(*m));
	m->room = room;
	snprintf(m->guid, sizeof(m->guid), "%s", guid);
	snprintf(m->session, sizeof(m->session), "%s", session);
	snprintf(m->user, sizeof(m->user), "%s", user);
}

static int by_room_and_session(const void *a, const void *b)
{
	const pchat_live_membership_t *x = a, *y = b;

	if (x->room != y->room)
		return x->room < y->room ? -1 : 1;
	return strcmp(x->session, y->session);
}

/* Takes a session out of the presence of a room; the room learns of it if that was the user's
 * last session in the pool. */
static int part(pchat_redis_t *r, const char *node, const pchat_live_membership_t *m,
		const char *cause)
{
	int rc = pchat_presence_part(r, m->room, m->guid, node, m->session);

	if (rc == 1)
		pchat_chat_user_left(pchat_service(), m->room, m->guid, m->user, cause);
	return rc;
}

/* ------------------------------------------------------------------ this node's presence */

/* Makes Redis hold exactly this node's memberships. Redis is read before the node's own table:
 * a session joining in between is then only published twice (harmless), never removed. */
static void sync_presence(pchat_redis_t *r, const char *why)
{
	membership_list_t redis = {0};
	pchat_live_membership_t *local = NULL;
	int nlocal, i = 0, j = 0, published = 0, removed = 0, cmp;

	if (pchat_presence_memberships(r, pchat_params.node_id, collect_membership, &redis) < 0
			|| redis.failed || (nlocal = pchat_live_memberships(&local)) < 0) {
		free(redis.m);
		return;
	}
	qsort(redis.m, redis.n, sizeof(*redis.m), by_room_and_session);
	qsort(local, nlocal, sizeof(*local), by_room_and_session);
	while (i < nlocal || j < redis.n) {
		keep_alive(r);
		cmp = i == nlocal ? 1 : j == redis.n ? -1 : by_room_and_session(&local[i], &redis.m[j]);
		if (cmp < 0) {
			/* joined while Redis was away: the other nodes get to know */
			if (pchat_presence_join(r, local[i].room, local[i].guid, pchat_params.node_id,
						local[i].session, local[i].user, local[i].roles) >= 0)
				published++;
			i++;
		} else if (cmp > 0) {
			/* gone: a session of an earlier run, or one that ended while Redis was away */
			if (part(r, pchat_params.node_id, &redis.m[j], PCHAT_LEFT_NODE_DOWN) >= 0)
				removed++;
			j++;
		} else {
			i++;
			j++;
		}
	}
	if (published || removed)
		LM_INFO("presence of node %s in Redis %s: %d sessions in rooms published, %d stale "
				"ones removed\n", pchat_params.node_id, why, published, removed);
	free(local);
	free(redis.m);
}

/* Posts other nodes could not relay during the outage, or whose relays a failed master had not
 * passed on to its replica, come from the store. Returns the rooms asked to catch up. */
static int catch_up_rooms(void)
{
	uint64_t *ids = NULL;
	int n, i, asked = 0;

	n = pchat_live_room_ids(&ids);
	for (i = 0; i < n; i++)
		asked += pchat_fanout_catch_up(ids[i]) == 0;
	free(ids);
	return asked;
}

/* ------------------------------------------------------------------ dead nodes */

typedef struct dead_node {
	char name[PCHAT_NODE_MAX];
	long long heartbeat_ms; /* its last heartbeat, 0 when unknown */
} dead_node_t;

typedef struct dead_list {
	dead_node_t *nodes;
	int n;
	int cap;
} dead_list_t;

static void collect_dead(void *ctx, const pchat_node_info_t *node)
{
	dead_list_t *d = ctx;

	if (node->alive || strcmp(node->node, pchat_params.node_id) == 0)
		return;
	if (d->n == d->cap) {
		int cap = d->cap ? 2 * d->cap : 8;
		dead_node_t *grown = realloc(d->nodes, cap * sizeof(*grown));

		if (!grown)
			return;
		d->nodes = grown;
		d->cap = cap;
	}
	snprintf(d->nodes[d->n].name, PCHAT_NODE_MAX, "%s", node->node);
	d->nodes[d->n++].heartbeat_ms = node->heartbeat_ms;
}

static void clean_up_after(pchat_redis_t *r, const dead_node_t *node, int64_t now_ms)
{
	membership_list_t list = {0};
	int i, parted = 0;

	/* one node cleans up; the lock outlives a cleanup that dies halfway, then another node
	 * takes over */
	if (!pchat_presence_claim_dead(r, node->name, pchat_params.node_id,
				3000 * pchat_params.node_timeout))
		return;
	if (pchat_presence_memberships(r, node->name, collect_membership, &list) < 0 || list.failed) {
		free(list.m);
		return;
	}
	for (i = 0; i < list.n; i++) {
		keep_alive(r);
		if (part(r, node->name, &list.m[i], PCHAT_LEFT_NODE_DOWN) >= 0)
			parted++;
	}
	pchat_presence_forget_node(r, node->name);
	LM_NOTICE("node %s stopped heartbeating (last heartbeat %lld ms ago): its %d room "
			  "memberships were removed from the pool's presence and the rooms told\n",
			node->name, node->heartbeat_ms ? (long long)(now_ms - node->heartbeat_ms) : -1LL,
			parted);
	free(list.m);
}

static void clean_up_dead_nodes(pchat_redis_t *r, int64_t now_ms)
{
	dead_list_t dead = {NULL, 0, 0};
	int i;

	if (pchat_presence_nodes(r, collect_dead, &dead) > 0)
		for (i = 0; i < dead.n; i++)
			clean_up_after(r, &dead.nodes[i], now_ms);
	free(dead.nodes);
}

/* ------------------------------------------------------------------ rooms left behind */

/* A post stored on another node comes here through Redis. If its relay was lost (Redis refused
 * it, the node died between its commit and its relay) and no later post of the room opens a gap,
 * nothing else would ever bring it. So every catch_up_interval seconds each room with sessions
 * here is compared with the store: a room whose delivered posts are still behind what the store
 * had at the previous check is caught up from the store. (Posts in flight are never older than
 * an interval, so they do not trigger this.) */
typedef struct room_seq {
	uint64_t room;
	uint64_t seq;
} room_seq_t;

static room_seq_t *seen = NULL; /* the store's newest posts at the last check, by room */
static int nseen = 0;
static int64_t next_behind_check_ms = 0;

static int by_room(const void *a, const void *b)
{
	const room_seq_t *x = a, *y = b;

	return x->room < y->room ? -1 : x->room > y->room;
}

static uint64_t seen_at_last_check(uint64_t room)
{
	room_seq_t key = {room, 0}, *found;

	found = nseen ? bsearch(&key, seen, nseen, sizeof(*seen), by_room) : NULL;
	return found ? found->seq : 0;
}

/* The store's newest post of each room; -1 when the store cannot tell now. One query per batch
 * of rooms: a slow database must not hold back the node's heartbeat meanwhile (r may be NULL). */
static int read_store_seqs(pchat_redis_t *r, room_seq_t *now, int n)
{
	const pchat_chat_t *chat = pchat_service();
	uint64_t rooms[PCHAT_STORE_BATCH], seqs[PCHAT_STORE_BATCH];
	int i, j, k;

	for (i = 0; i < n; i += PCHAT_STORE_BATCH) {
		if (r)
			keep_alive(r);
		k = n - i < PCHAT_STORE_BATCH ? n - i : PCHAT_STORE_BATCH;
		for (j = 0; j < k; j++)
			rooms[j] = now[i + j].room;
		if (chat->store->last_seqs(chat->store_h, rooms, k, seqs) < 0)
			return -1;
		for (j = 0; j < k; j++)
			now[i + j].seq = seqs[j];
	}
	return 0;
}

static void catch_up_rooms_behind(pchat_redis_t *r)
{
	uint64_t *ids = NULL, delivered;
	room_seq_t *now;
	int n, i, behind = 0;

	n = pchat_live_room_ids(&ids);
	now = n > 0 ? malloc(n * sizeof(*now)) : NULL;
	if (n <= 0 || !now) {
		free(ids);
		free(now);
		return;
	}
	for (i = 0; i < n; i++)
		now[i].room = ids[i];
	free(ids);
	if (read_store_seqs(r, now, n) < 0) {
		free(now);
		return;
	}
	for (i = 0; i < n; i++) {
		if (pchat_live_delivered(now[i].room, &delivered) == 0
				&& delivered < seen_at_last_check(now[i].room)
				&& pchat_fanout_catch_up(now[i].room) == 0)
			behind++;
	}
	if (behind)
		LM_NOTICE("%d rooms had not received posts stored %d s ago or earlier (relays lost); "
				  "they were caught up from the store\n", behind, pchat_params.catch_up_interval);
	qsort(now, n, sizeof(*now), by_room);
	free(seen);
	seen = now;
	nseen = n;
}

/* ------------------------------------------------------------------ the tick */

/* Redis is (back) up: publish this node's presence, and after an outage let the rooms catch up.
 * A new master (Sentinel failover) counts as an outage: asynchronous replication may have lost
 * the old master's last joins and relays. Heartbeats of the other nodes expired during the
 * outage, or may be missing on the new master; they get one node_timeout to renew them before
 * anyone counts as dead. */
static void presence_back(pchat_redis_t *r, int64_t now_ms, int new_master)
{
	const char *why = new_master ? "on the new Redis master" : "after a Redis outage";

	if (state == POOL_STARTING) {
		sync_presence(r, "at start");
	} else {
		sync_presence(r, why);
		LM_INFO("%d rooms with sessions on node %s are caught up from the store %s\n",
				catch_up_rooms(), pchat_params.node_id, why);
		cleanup_from_ms = now_ms + 1000LL * pchat_params.node_timeout;
	}
	next_sync_ms = now_ms + 1000LL * pchat_params.presence_sync_interval;
	state = POOL_UP;
}

/* Heartbeat and presence come first: the node must not look dead to the others while it waits
 * for the database. */
static void tick_presence(pchat_redis_t *r, int64_t now)
{
	uint64_t failures, changes;

	if (heartbeat(r) < 0) {
		if (state == POOL_UP)
			state = POOL_DOWN;
		return;
	}
	/* any process of the node may have seen Redis fail, or found a new master, since the last
	 * tick */
	failures = __atomic_load_n(&pchat_shared->redis.health.failures, __ATOMIC_RELAXED);
	changes = pchat_redis_master_changes(&pchat_shared->redis);
	if (state != POOL_UP || failures != failures_seen || changes != changes_seen)
		presence_back(r, now, changes != changes_seen);
	failures_seen = failures;
	changes_seen = changes;
	if (now >= next_sync_ms) {
		sync_presence(r, "checked");
		next_sync_ms = now + 1000LL * pchat_params.presence_sync_interval;
	}
	if (now >= cleanup_from_ms)
		clean_up_dead_nodes(r, now);
}

void pchat_pool_tick(void)
{
	pchat_redis_t *r = pchat_proc_redis();
	int64_t now = pchat_now_ms();

	if (r)
		tick_presence(r, now);
	if (now >= next_behind_check_ms) {
		catch_up_rooms_behind(r);
		next_behind_check_ms = now + 1000LL * pchat_params.catch_up_interval;
	}
}
