/*
 * Live presence of the whole pool in Redis, and the queues that carry a room's posts, notices and
 * changes from the node where they happen to the other nodes that hold participants of the room.
 *
 * Keys (namespace "pchat:"; a session is "<node>:<run>:<slot>:<generation>", run being the start
 * time of the node's Kamailio, so a restarted node never reuses a session name of its last run):
 *   pchat:room:<id>:sessions        hash    session -> user
 *   pchat:room:<id>:users           hash    user -> number of its sessions in the room
 *   pchat:room:<id>:roles           hash    user -> roles (PCHAT_ROLE_* bits)
 *   pchat:room:<id>:nodes           hash    node -> number of its sessions in the room
 *   pchat:node:<node>:memberships   set     "<room id>|<room guid>|<session>|<user>"
 *   pchat:node:<node>:alive         string  the node's run, expires unless heartbeats refresh it
 *   pchat:node:<node>:info          hash    run, sessions, heartbeat (ms since the epoch)
 *   pchat:nodes                     set     the nodes of the pool
 *   pchat:stream:<node>             stream  what other nodes relay to the node, read in order from
 *                                           a remembered position: unlike pub/sub, nothing is lost
 *                                           while the reader is briefly disconnected
 *   pchat:gc:<node>                 string  lock: one node at a time cleans up after a dead node
 * Joins, parts and relays are Lua scripts: atomic, one round trip each, and idempotent, so a node
 * can publish its presence again after an outage without counting anything twice. The scripts
 * touch keys of several hash slots: Redis Cluster is not supported, one Redis primary is.
 *
 * No Kamailio header: unit-tested against a real Redis.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_PRESENCE_H
#define PCHAT_PRESENCE_H

#include <stddef.h>
#include <stdint.h>

#include "pchat_redis.h"
#include "pchat_result.h"

/* Failures are negative pchat_rc_t: PCHAT_ERR_DOWN when Redis did not answer (or answered
 * nonsense), PCHAT_ERR_NOT_FOUND when a session was not recorded in the room. */

#define PCHAT_NODE_MAX 64         /* bytes of a node name, NUL included */
#define PCHAT_SESSION_KEY_MAX 128 /* bytes of a session name, NUL included */
#define PCHAT_STREAM_POS_MAX 48   /* bytes of a stream position, NUL included */

void pchat_presence_session_key(const char *node, long long run, uint32_t slot, uint32_t gen,
		char *out, size_t len);

/* Records a session in a room. Returns 1 when the user was in the room nowhere in the pool
 * before, 0 otherwise (also when the session was recorded already). */
int pchat_presence_join(pchat_redis_t *r, uint64_t room, const char *guid, const char *node,
		const char *session, const char *user, unsigned roles);

typedef void (*pchat_presence_user_f)(void *ctx, const char *user, unsigned roles);

/* pchat_presence_join, and the room's users after it (as pchat_presence_participants with max
 * and cb) in the same round trip: their number goes to *users (left alone on failure). */
int pchat_presence_join_list(pchat_redis_t *r, uint64_t room, const char *guid,
		const char *node, const char *session, const char *user, unsigned roles, int max,
		pchat_presence_user_f cb, void *ctx, int *users);

/* Removes a session from a room. Returns 1 when that was the user's last session in the room
 * in the whole pool, 0 when the user is still there, or PCHAT_ERR_NOT_FOUND. */
int pchat_presence_part(pchat_redis_t *r, uint64_t room, const char *guid, const char *node,
		const char *session);

/* New roles of a user in a room (if the user is there). */
int pchat_presence_set_roles(pchat_redis_t *r, uint64_t room, const char *user, unsigned roles);

/* Returns how many users are in the room, and calls cb for up to max of them (max 0: count
 * only; cb may then be NULL). */
int pchat_presence_participants(pchat_redis_t *r, uint64_t room, int max,
		pchat_presence_user_f cb, void *ctx);

/* The number of users in each of n rooms, in one round trip; 0 ok. */
int pchat_presence_counts(pchat_redis_t *r, const uint64_t *rooms, int n, int *counts);

typedef void (*pchat_presence_session_f)(void *ctx, const char *session, const char *user);

/* Calls cb for every session in the room; returns how many. */
int pchat_presence_sessions(pchat_redis_t *r, uint64_t room, pchat_presence_session_f cb,
		void *ctx);

/* ---- the queues between nodes ---- */

typedef enum pchat_relay_kind {
	PCHAT_RELAY_POST = 'p',    /* a stored post: seq and the <grpchat> element */
	PCHAT_RELAY_NOTICE = 'n',  /* an <ntc> element for everyone but except */
	PCHAT_RELAY_REFRESH = 'r', /* the room changed: check its participants again */
	PCHAT_RELAY_CATEGORY = 'c', /* a category's scope changed (room: the category's id):
								 * check the participants of its rooms again */
	PCHAT_RELAY_POLICY = 'P',   /* a policy rule changed (element: its scope) */
} pchat_relay_kind_t;

typedef struct pchat_relay {
	pchat_relay_kind_t kind;
	uint64_t room;
	uint64_t seq;        /* posts */
	const char *except;  /* notices: the user the notice is about ("" for none) */
	const char *element; /* posts and notices */
	size_t len;
} pchat_relay_t;

/* Appends rel to the queue of every node other than self that holds sessions in the room (one
 * round trip). Each queue keeps about max_len entries. Returns to how many nodes. */
int pchat_presence_relay(pchat_redis_t *r, const char *self, const pchat_relay_t *rel,
		long max_len);

/* Appends rel to the queue of every node of the pool other than self (one round trip).
 * Returns to how many nodes. */
int pchat_presence_broadcast(pchat_redis_t *r, const char *self, const pchat_relay_t *rel,
		long max_len);

/* The position after the newest entry of node's queue (where a starting reader begins). */
int pchat_presence_queue_end(pchat_redis_t *r, const char *node, char *position);

typedef void (*pchat_relay_f)(void *ctx, const pchat_relay_t *rel);

/* Waits up to block_ms for entries of node's queue after *position and passes up to count of
 * them to cb in order; *position (PCHAT_STREAM_POS_MAX bytes) moves past them. The connection
 * must have a command timeout above block_ms. Returns how many, or PCHAT_ERR_DOWN. */
int pchat_presence_receive(pchat_redis_t *r, const char *node, char *position, int block_ms,
		int count, pchat_relay_f cb, void *ctx);

/* ---- nodes ---- */

/* Marks the node alive for ttl_ms and records it in the pool. */
int pchat_presence_heartbeat(pchat_redis_t *r, const char *node, long long run, int ttl_ms,
		int sessions, long long now_ms);

typedef struct pchat_node_info {
	const char *node;
	int alive;
	long long run;
	int sessions;
	long long heartbeat_ms;
} pchat_node_info_t;

typedef void (*pchat_node_f)(void *ctx, const pchat_node_info_t *node);

/* Calls cb for every node of the pool; returns how many. */
int pchat_presence_nodes(pchat_redis_t *r, pchat_node_f cb, void *ctx);

/* Returns 1 when node is in the pool, its heartbeat expired, and the caller (self) won the
 * right to clean up after it for lock_ms; 0 otherwise. */
int pchat_presence_claim_dead(pchat_redis_t *r, const char *node, const char *self, int lock_ms);

typedef void (*pchat_membership_f)(void *ctx, uint64_t room, const char *guid,
		const char *session, const char *user);

/* Calls cb for every membership Redis holds for node; returns how many. */
int pchat_presence_memberships(pchat_redis_t *r, const char *node, pchat_membership_f cb,
		void *ctx);

/* Removes a dead node without memberships from the pool, its queue too. Returns 1 when it was
 * removed, 0 when it still has memberships or is alive again. */
int pchat_presence_forget_node(pchat_redis_t *r, const char *node);

#endif
