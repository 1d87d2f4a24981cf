/*
 * The ordered senders and the relay receiver: module-owned processes that deliver a room's posts
 * and notices to this node's sessions, and carry them to the other nodes of the pool.
 *
 * Every room belongs to one sender (by a hash of its id), and a room's work reaches that sender
 * through its queue (a list in shared memory that never blocks a writer, charged to the node's
 * byte budget) in the order it was queued - posts in commit order, see pchat_chat_post. For
 * work that started on this node the sender first relays it to the other nodes with participants
 * in the room (pchat_presence_relay), then delivers it here. Each node's receiver reads what
 * the others relayed from its Redis stream and queues it to the same senders; a sender puts a
 * room's posts, local and relayed, in sequence order (pchat_order) before they go out.
 * Delivering in these processes keeps the SIP workers free to read the clients' answers while a
 * big room's fan-out is going out (Kamailio's imc stalls its workers by fanning out in them).
 * The senders also end sessions whose deliveries failed: that work needs the database and
 * Redis, which tm's timer process has not.
 *
 * Depends on this node, the live membership, the dialogs (hot path: each delivery is a direct
 * pchat_dialog_send_info) and the chat core. The chat service and the ends of sessions are
 * above it: what senders do for them comes as the jobs given to pchat_fanout_init.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_FANOUT_H
#define PCHAT_FANOUT_H

#include <stddef.h>
#include <stdint.h>

#include "pchat_chat.h"

/* Where work comes from: this node (relayed on to the others) or another node. */
typedef enum pchat_origin { PCHAT_LOCAL, PCHAT_REMOTE } pchat_origin_t;

/* What the senders run for the parts above them. */
typedef struct pchat_fanout_jobs {
	const pchat_chat_t *(*chat)(void);         /* the chat context of the calling process */
	void (*end_session)(pchat_sref_t ref);     /* ends a session in the calling process */
	void (*enforce_policy)(const char *scope); /* ends the sessions a policy no longer enables */
} pchat_fanout_jobs_t;

/* mod_init: creates the queues, registers the processes and keeps the jobs. */
int pchat_fanout_init(int workers, const pchat_fanout_jobs_t *jobs);

/* child_init(PROC_MAIN): forks the senders and the receiver. */
int pchat_fanout_start(void);

/* Queue work; 0 on success, -1 when there is no shared memory for it (a post or a catch-up
 * that cannot be queued makes the sender catch all its rooms up from the store instead; a lost
 * notice is logged). Elements are copied; the sender puts them in an envelope. */
int pchat_fanout_post(uint64_t room_id, uint64_t seq, const char *element, size_t len,
		pchat_origin_t origin);
int pchat_fanout_notice(uint64_t room_id, const char *except_user, const char *element,
		size_t len, pchat_origin_t origin);
int pchat_fanout_end_session(pchat_sref_t ref);
/* Answers came in: the session's queued INFOs go out (pchat_dialog_drain). */
int pchat_fanout_drain(pchat_sref_t ref);
/* The room changed: its sender checks again everyone in it (pchat_chat_refresh_room) and, for
 * a local change, tells the other nodes with sessions in it; -1 when it cannot be queued. */
int pchat_fanout_refresh_room(uint64_t room_id, pchat_origin_t origin);
/* A category's scope changed (allowed or denied principals): every room of it with members on
 * this node is checked again, and the other nodes of the pool are told to do the same; -1 when
 * this node's rooms could not all be queued or the other nodes not told (Redis unreachable). */
int pchat_fanout_refresh_category(uint64_t category_id, pchat_origin_t origin);

/* A Persistent Chat policy rule changed (scope "*", a domain or a user): the sessions it no
 * longer enables end, here and on the other nodes of the pool (the jobs' enforce_policy); -1
 * when this node's sweep could not be queued or the other nodes not told (Redis unreachable). */
int pchat_fanout_policy(const char *scope, pchat_origin_t origin);

/* Delivers what the store has beyond the room's delivered posts (after a Redis outage). */
int pchat_fanout_catch_up(uint64_t room_id);

/* A session that joined the room becomes ready in the room's sender, which first sends it from
 * the store the posts it missed while its join was answered (pchat_live_make_ready). -1 when
 * the work cannot be queued (out of shared memory). */
int pchat_fanout_ready(uint64_t room_id, pchat_sref_t ref);

#endif
