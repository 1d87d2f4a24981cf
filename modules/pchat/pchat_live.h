/*
 * Live room membership: this node's sessions in shared memory (they receive the room's posts
 * from this node's senders), and the whole pool's in Redis (pchat_presence), which says who is
 * in a room and which nodes must receive its posts. While Redis is unreachable the node goes on
 * with its own view; the housekeeper publishes it again when Redis is back (pchat_pool).
 *
 * Each room somebody on this node has joined has an entry with its members (session references
 * and users) and the sequence number of the newest post delivered to them. A member receives
 * posts only once it is ready (its join reply is out), and then only posts delivered after
 * that, so nothing reaches a client before it knows it joined and nothing arrives twice.
 *
 * Depends on this node, the sessions, Redis's presence and the chat core's types.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_LIVE_H
#define PCHAT_LIVE_H

#include <stdint.h>

#include "pchat_ports.h"
#include "pchat_presence.h"

extern const pchat_live_ops_t pchat_live_ops;

int pchat_live_init(void);
void pchat_live_destroy(void);

/* The session's name in Redis. */
void pchat_live_session_key(pchat_sref_t ref, char *out, size_t len);

/* The GUID of a room with members on this node; -1 when it has none. */
int pchat_live_room_guid(uint64_t room_id, char *guid);

/* The newest post delivered in a room (*seq); -1 when nobody on this node is in the room. */
int pchat_live_delivered(uint64_t room_id, uint64_t *seq);

/* Makes a joined session ready in the room now: it receives the posts after the room's
 * delivered. Run by the room's sender, between two of the room's posts, so that nothing is
 * delivered meanwhile. Returns 1 with the posts it missed while it joined (missed_after <
 * seq <= missed_upto: they went to the room while its join was answered), 0 when the session
 * is not in the room or ready already. */
int pchat_live_make_ready(uint64_t room_id, pchat_sref_t ref, uint64_t *missed_after,
		uint64_t *missed_upto);

/* A recipient of a delivery. */
typedef struct pchat_recipient {
	pchat_sref_t session;
} pchat_recipient_t;

/* The ready sessions of a room that should receive a post (seq > 0: the post becomes the room's
 * newest delivered one) or a notice (seq == 0: every session whose user is not except_user).
 * Returns how many were written to *out (pkg memory, free with pkg_free), -1 on error. */
int pchat_live_recipients(uint64_t room_id, uint64_t seq, const char *except_user,
		pchat_recipient_t **out);

/* A membership of this node, as Redis records it. */
typedef struct pchat_live_membership {
	uint64_t room;
	char guid[PCHAT_GUID_LEN + 1];
	char session[PCHAT_SESSION_KEY_MAX];
	char user[PCHAT_USER_MAX];
	unsigned roles;
} pchat_live_membership_t;

/* Copies every membership of this node (*out from the C library's malloc, free with free():
 * these lists grow with the node's whole presence, beyond what pkg memory is sized for);
 * returns how many, -1 when out of memory. */
int pchat_live_memberships(pchat_live_membership_t **out);

/* The ids of the rooms with members on this node (*out from malloc, like the memberships); returns
 * how many, -1 when out of memory. */
int pchat_live_room_ids(uint64_t **out);

/* The ids of the rooms of a category with members on this node (*out from malloc);
 * returns how many, -1 when out of memory. */
int pchat_live_rooms_in_category(uint64_t category_id, uint64_t **out);

/* Number of rooms with members on this node, and of memberships. */
void pchat_live_counts(int *rooms, int *members);

#endif
