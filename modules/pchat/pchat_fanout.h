/*
 * The ordered senders: module-owned processes that deliver a room's posts and notices.
 *
 * Every room belongs to one sender (by a hash of its id), and a room's work reaches that sender
 * through a pipe in the order it was queued - posts in commit order, see pchat_chat_post - so
 * every participant receives a room's posts in sequence order, whichever SIP worker stored them.
 * Delivering in these processes keeps the SIP workers free to read the clients' answers while a
 * big room's fan-out is going out (Kamailio's imc stalls its workers by fanning out in them).
 * The senders also end sessions whose deliveries failed: that work needs the database and
 * Redis, which tm's timer process has not.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_FANOUT_H
#define PCHAT_FANOUT_H

#include <stddef.h>
#include <stdint.h>

#include "pchat_chat.h"

/* mod_init: creates the queues and registers the processes. */
int pchat_fanout_init(int workers);

/* child_init(PROC_MAIN): forks the senders. */
int pchat_fanout_start(void);

/* 1 in a sender process. */
int pchat_fanout_is_sender(void);

/* Queue work; 0 on success. The body is copied. */
int pchat_fanout_post(uint64_t room_id, uint64_t seq, const char *body, size_t len);
int pchat_fanout_notice(uint64_t room_id, const char *except_user, const char *body,
		size_t len);
int pchat_fanout_end_session(pchat_sref_t ref);
/* The room changed: its sender checks again everyone in it (pchat_chat_refresh_room). */
int pchat_fanout_refresh_room(uint64_t room_id);

#endif
