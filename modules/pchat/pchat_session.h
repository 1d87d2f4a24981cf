/*
 * The chat sessions of this node: one SIP dialog per client, in shared memory.
 *
 * Sessions live in a fixed array of slots. A slot's generation changes whenever the slot is
 * freed, so a reference (slot, generation) held elsewhere - in a room's member list, in a tm
 * callback - can never reach a newer session by mistake. Slots are found by Call-ID through a
 * hash table whose buckets each have a lock; a session's fields are protected by its bucket's
 * lock.
 *
 * Depends on this node (its session count and byte budget) and the budgets (pchat_budget.h).
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_SESSION_H
#define PCHAT_SESSION_H

#include <stdint.h>
#include <time.h>

#include "core/ip_addr.h"
#include "core/parser/parse_rr.h"
#include "core/str.h"

#include "pchat_budget.h"
#include "pchat_cseq.h"
#include "pchat_model.h"

/* Slots and generations fit in 20 bits each: a reference travels in tm's callback parameter
 * with an INFO's length (pchat_dialog.c). A slot would have to be reused a million times within
 * one INFO's transaction for a late answer to reach a newer session. */
#define PCHAT_SLOT_BITS 20
#define PCHAT_SLOT_MASK ((1u << PCHAT_SLOT_BITS) - 1)
#define PCHAT_GEN_MASK ((1u << 20) - 1)
#define PCHAT_MAX_SESSIONS (1 << PCHAT_SLOT_BITS)

typedef enum pchat_session_state {
	PCHAT_S_FREE = 0,
	PCHAT_S_EARLY,     /* 200 OK sent, ACK not seen yet */
	PCHAT_S_CONFIRMED, /* ACK seen */
	PCHAT_S_ENDING,    /* leaving its rooms; no new work */
} pchat_session_state_t;

/* A room the session has joined, with its GUID: a post names its room by GUID, and the
 * session's own list answers which room that is without a scan of the node's rooms. */
typedef struct pchat_session_room {
	uint64_t id;
	char guid[PCHAT_GUID_LEN + 1];
} pchat_session_room_t;

/* An INFO body waiting for the session's window (see pchat_dialog_send_info). */
typedef struct pchat_queued_info {
	struct pchat_queued_info *next;
	size_t len;
	char body[];
} pchat_queued_info_t;

typedef struct pchat_session {
	uint32_t gen;
	uint32_t bucket;
	uint32_t next;           /* next slot + 1 in the bucket chain, 0 at the end */
	pchat_session_state_t state;
	/* the dialog, in one shm block (strs) */
	str call_id;
	str local_tag;
	str remote_tag;
	str local_uri;           /* the URI the client invited: From of our requests */
	str remote_uri;          /* the client's From URI: To of our requests */
	str remote_target;       /* the client's Contact */
	str dst_uri;             /* where the INVITE came from: sip:IP:PORT;transport=PROTO */
	str route_set;           /* Record-Route of the INVITE, as received */
	rr_t *routes;            /* the same, parsed once into shm: every INFO follows it */
	str user;                /* the identity */
	str flow;                /* where the client's connection ends (pchat_sip.c): requests of
							  * the dialog must come from there */
	str source;              /* the address its sessions are counted under ("": not counted) */
	char *strs;
	struct socket_info *send_sock;
	unsigned int local_cseq; /* CSeq of our last request */
	pchat_window_t win;      /* INFOs unanswered and waiting (pchat_budget.h) */
	pchat_cseq_log_t infos;  /* the client's INFOs carried out, by CSeq (pchat_cseq.h) */
	pchat_queued_info_t *queue_head; /* INFOs waiting until fewer are pending, oldest first */
	pchat_queued_info_t *queue_tail;
	int end_queued;          /* a sender was asked to end the session */
	int bye_on_end;          /* ending it sends a BYE (the client may still be there) */
	int expires;             /* negotiated Session-Expires in s, 0 for none */
	time_t refreshed;        /* last INVITE/UPDATE/ACK from the client */
	time_t created;
	/* rooms the session has joined */
	pchat_session_room_t *rooms;
	uint32_t nrooms;
	uint32_t rooms_cap;
} pchat_session_t;

typedef struct pchat_session_init {
	str call_id, local_tag, remote_tag, local_uri, remote_uri, remote_target, dst_uri;
	str route_set, user, flow, source;
	struct socket_info *send_sock;
	int expires;
	uint32_t max_pending;    /* the session's window, 0: max_pending */
} pchat_session_init_t;

int pchat_sessions_init(int max_sessions);
void pchat_sessions_destroy(void);
int pchat_sessions_max(void);
/* Shared memory each of the max_sessions slots reserves at startup, in bytes. */
int pchat_sessions_slot_bytes(void);

/* Creates a session. Returns it locked (release with pchat_session_unlock), or NULL when the
 * table is full or out of memory. */
pchat_session_t *pchat_session_create(const pchat_session_init_t *init, pchat_sref_t *ref);

/* 1 when a route set (Record-Route bodies joined by commas) parses, so that a session can be
 * made with it; 0 otherwise. */
int pchat_session_routes_valid(const str *route_set);

/* Finds the session of an in-dialog request by its dialog id (Call-ID, local and remote tag:
 * clients that seed their random numbers with the time can send the same Call-ID); returns it
 * locked, or NULL. */
pchat_session_t *pchat_session_find(const str *call_id, const str *local_tag,
		const str *remote_tag, pchat_sref_t *ref);

/* The session a reference points to, locked, or NULL when it is gone. */
pchat_session_t *pchat_session_get(pchat_sref_t ref);

void pchat_session_unlock(pchat_session_t *s);

/* Marks a locked session as ending. Returns 1 if it was not ending before (the caller then owns
 * the teardown), 0 otherwise. */
int pchat_session_begin_end(pchat_session_t *s);

/* Appends an INFO body to the session's queue (copied), counted in its window and the node's
 * budget; 0 ok. */
int pchat_session_queue_push(pchat_session_t *s, const char *body, size_t len);
/* Takes the oldest queued body out of the queue, the window and the node's budget (free it
 * with shm_free), NULL when none waits. */
pchat_queued_info_t *pchat_session_queue_pop(pchat_session_t *s);

/* Bytes of a source address as sessions are counted under it (an IPv6 address and its NUL). */
#define PCHAT_SOURCE_MAX 64

/* Removes a session from the table and frees it (its queued INFOs too). The session must be
 * locked; the lock is released. Its source is copied to source (PCHAT_SOURCE_MAX bytes) for the
 * caller's bookkeeping. */
void pchat_session_free_locked(pchat_session_t *s, char *source);

/* Room list of a locked session. */
int pchat_session_add_room(pchat_session_t *s, uint64_t room_id, const char *guid);
void pchat_session_remove_room(pchat_session_t *s, uint64_t room_id);
/* The id of the locked session's room with this GUID, 0 when it has not joined it. */
uint64_t pchat_session_room_by_guid(const pchat_session_t *s, const char *guid);

/* Calls cb (without a lock held) for every session that is not ending, with its user. */
void pchat_sessions_each(void (*cb)(pchat_sref_t ref, const char *user, void *ctx), void *ctx);

/* Calls cb (without a lock held) for every session that is not ending yet and either missed its
 * refresh by more than grace seconds or was never confirmed by an ACK within early seconds.
 * Used by the reaper timer. */
void pchat_sessions_expired(time_t now, int grace, int early, void (*cb)(pchat_sref_t ref));

#endif
