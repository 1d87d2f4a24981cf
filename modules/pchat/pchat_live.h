/*
 * Live room membership of this node's sessions, in shared memory, mirrored to Redis.
 *
 * Each room somebody on this node has joined has an entry with its members (session references
 * and users) and the sequence number of the newest post handed to its sender. A member receives
 * posts only once it is ready (its join reply is out), and then only posts handed over after
 * that, so nothing reaches a client before it knows it joined and nothing arrives twice.
 *
 * Redis keys (namespace "pchat:"; documented in the module docs):
 *   pchat:room:<room id>:sessions     hash  <node>:<slot>:<gen> -> user
 *   pchat:node:<node>:memberships     set   <room id>|<slot>:<gen>   (cleanup at restart)
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_LIVE_H
#define PCHAT_LIVE_H

#include <stdint.h>

#include "pchat_chat.h"
#include "pchat_redis.h"

extern const pchat_live_ops_t pchat_live_ops;

int pchat_live_init(void);
void pchat_live_destroy(void);

/* Removes what an earlier run of this node left in Redis (called once at start). */
void pchat_live_forget_previous_run(pchat_redis_t *redis);

/* Records that the post seq of a room was handed to its sender (under the post lock). */
void pchat_live_posted(uint64_t room_id, uint64_t seq);

/* A recipient of a delivery. */
typedef struct pchat_recipient {
	pchat_sref_t session;
} pchat_recipient_t;

/* The ready sessions of a room that should receive a post (seq > 0) or a notice (seq == 0,
 * every session whose user is not except_user). Returns how many were written to *out (pkg
 * memory, free with pkg_free), -1 on error. */
int pchat_live_recipients(uint64_t room_id, uint64_t seq, const char *except_user,
		pchat_recipient_t **out);

/* Number of rooms with members on this node, and of memberships. */
void pchat_live_counts(int *rooms, int *members);

#endif
