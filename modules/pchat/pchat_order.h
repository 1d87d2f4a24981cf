/*
 * Delivers each room's posts in sequence order, once, whatever order they arrive in.
 *
 * A node's sender receives a room's posts from two directions: the posts stored on this node
 * (in commit order) and the posts other nodes relay through Redis (in their own commit order,
 * later). A post whose predecessors have not arrived waits; a post at or below what was already
 * delivered is a duplicate and is dropped. A gap that is not filled within the gap timeout (a
 * relay lost while Redis was down, a node that died between commit and relay) is filled from the
 * store, which has every committed post, before the waiting posts go out.
 *
 * One instance per sender process, which owns its rooms; no locking. No Kamailio header.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_ORDER_H
#define PCHAT_ORDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct pchat_order_ops {
	/* The newest seq delivered in the room; -1 when nobody on this node is in the room (its
	 * posts are then dropped). */
	int (*delivered)(void *ctx, uint64_t room, uint64_t *seq);
	/* Delivers a post; the room's delivered seq becomes seq. */
	void (*deliver)(void *ctx, uint64_t room, uint64_t seq, const char *element, size_t len);
	/* Delivers the stored posts with after < seq < before, in order (at most limit). Returns
	 * how many were delivered, -1 when the store cannot tell now. */
	int (*fill)(void *ctx, uint64_t room, uint64_t after, uint64_t before, int limit);
} pchat_order_ops_t;

typedef struct pchat_order_stats {
	uint64_t duplicates; /* posts dropped as already delivered */
	uint64_t waited;     /* posts that arrived ahead of a predecessor */
	uint64_t filled;     /* posts fetched from the store to fill gaps */
	uint64_t skipped;    /* posts given up on (the store could not provide them) */
} pchat_order_stats_t;

typedef struct pchat_order pchat_order_t;

/* gap_ms: how long a gap may stay open before the store fills it; max_waiting: posts a room may
 * hold back before its gap is filled at once; max_waiting_bytes: bytes the copies of all the
 * waiting posts may take, past which the gaps of the rooms that have waited longest are filled
 * at once. */
pchat_order_t *pchat_order_new(const pchat_order_ops_t *ops, void *ctx, int gap_ms,
		int max_waiting, size_t max_waiting_bytes);
void pchat_order_free(pchat_order_t *o);

/* A post arrived (element is copied when it has to wait). */
void pchat_order_post(pchat_order_t *o, uint64_t room, uint64_t seq, const char *element,
		size_t len, int64_t now_ms);

/* Fills the gaps whose time is up. */
void pchat_order_tick(pchat_order_t *o, int64_t now_ms);

/* Delivers whatever the store has after the room's delivered seq (after an outage), then what
 * waited. */
void pchat_order_catch_up(pchat_order_t *o, uint64_t room, int64_t now_ms);

/* Milliseconds until the next gap is due (0: now), -1 when nothing waits. */
int pchat_order_next_timeout(const pchat_order_t *o, int64_t now_ms);

const pchat_order_stats_t *pchat_order_stats(const pchat_order_t *o);

/* Rooms and posts waiting. */
void pchat_order_waiting(const pchat_order_t *o, int *rooms, int *posts);

#endif
