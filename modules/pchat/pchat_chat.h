/*
 * The chat logic: one handler per XCCOS command, posts, and the end of a session.
 *
 * It reaches the rest of the world only through three small interfaces (pchat_ports.h), so it
 * runs the same in Kamailio and in unit tests with fakes:
 *   store  the persistent model (MySQL): rooms, history, posts;
 *   live   who is in which room right now (this node's sessions, and the pool's in Redis);
 *   out    sending: replies to the caller now; notices and posts through the room's ordered
 *          sender, which puts them in an envelope of its own and also relays them to the other
 *          nodes of the pool.
 * It decides; the XCCOS it answers with is written by pchat_xccos.h. Its data types are in
 * pchat_model.h, its settings in pchat_settings.h. The path of a post and of a command through
 * it and the shell around it: ARCHITECTURE.md, section 4.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_CHAT_H
#define PCHAT_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "pchat_authz.h"
#include "pchat_model.h"
#include "pchat_ports.h"
#include "pchat_settings.h"
#include "pchat_uri.h"
#include "pchat_xccos.h"

typedef struct pchat_chat {
	const pchat_store_ops_t *store;
	void *store_h;
	const pchat_live_ops_t *live;
	void *live_h;
	const pchat_out_ops_t *out;
	void *out_h;
	const pchat_settings_t *settings;
	const char *domain;
	const char *pool_uri;
	/* non-zero while the compliance service records (an adapter is configured); NULL: never */
	const int *recording;
	uint64_t *recorded;  /* counts the events written (NULL: not counted) */
	/* the pool's public base URL of the file service; NULL or "": files cannot be posted */
	const char *files_url;
	/* the room-management page's URL, told in getserverinfo; NULL or "": none */
	const char *room_management_url;
} pchat_chat_t;

/* Runs a command; its reply goes out through out->reply. */
void pchat_chat_command(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env);

/* Validates, stores and fans out a post. Returns what the post's INFO is answered with
 * (pchat_rc_sip): PCHAT_OK stored, PCHAT_ERR_INVALID malformed, PCHAT_ERR_FORBIDDEN not
 * joined/not allowed, PCHAT_ERR_TOO_LARGE (its text over message_size_limit characters, or the
 * post as it would be sent over max_post_size bytes: every element and attribute counts, as
 * re-serialised), PCHAT_ERR_DOWN database down, PCHAT_ERR_FAILED or PCHAT_ERR_NO_MEMORY. */
pchat_rc_t pchat_chat_post(const pchat_chat_t *chat, const pchat_caller_t *c, const pchat_env_t *env);

/* The session is gone: it leaves every room it was in, with notices to the others. */
void pchat_chat_session_end(const pchat_chat_t *chat, const pchat_caller_t *c);

/* Why a user left a room, as the compliance PART event says. */
#define PCHAT_LEFT_PART "part"               /* the client left it (cmd:part) */
#define PCHAT_LEFT_SESSION_END "session-end" /* BYE, expiry, failed delivery, policy */
#define PCHAT_LEFT_REMOVED "removed"         /* the room changed: no longer allowed there */
#define PCHAT_LEFT_NODE_DOWN "node-down"     /* the user's node died; another cleaned up */
#define PCHAT_LEFT_JOIN_UNDONE "join-undone" /* the join's reply could not be sent */

/* The user's last session left the room somewhere in the pool: the PART is recorded for
 * compliance, and the others are told unless the room is over the participant update limit. */
void pchat_chat_user_left(const pchat_chat_t *chat, uint64_t room_id, const char *guid,
		const char *user, const char *cause);

/* The <grpchat> element of a stored post of the room, as the room's participants receive it. */
void pchat_chat_post_element(const pchat_chat_t *chat, const char *guid,
		const pchat_post_t *post, pchat_buf_t *out);

/* A room changed (disabled, removed, roles, privacy, category): everyone in it on this node is
 * checked again; who may no longer be there is put out of the room (ntc:part to the session and
 * to the others), the others get their new rights (to post in an auditorium, say). */
void pchat_chat_refresh_room(const pchat_chat_t *chat, uint64_t room_id);

/* The current UTC time as a MySQL DATETIME(6) text (27 bytes). */
void pchat_now_datetime(char *out, size_t outlen);

#endif
