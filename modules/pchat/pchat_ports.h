/*
 * The interfaces the chat logic (pchat_chat.h) reaches the world through:
 *   store  the persistent model (MySQL): rooms, history, posts;
 *   live   who is in which room right now (this node's sessions, and the pool's in Redis);
 *   out    sending: replies to the caller now; notices and posts through the room's ordered
 *          sender.
 * Kamailio implements them in the module, the unit tests and the fuzzer with fakes.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_PORTS_H
#define PCHAT_PORTS_H

#include <stddef.h>
#include <stdint.h>

#include "pchat_model.h"
#include "pchat_result.h"

/* Store operations return PCHAT_OK (or a count where said) or a negative pchat_rc_t:
 * PCHAT_ERR_NOT_FOUND, PCHAT_ERR_FULL (a bound of the user's data, e.g. preferences),
 * PCHAT_ERR_DOWN (the database is unreachable), PCHAT_ERR_FAILED. */

/* A compliance event as the chat records it (the kinds: pchat_archive.h). The room's name
 * and whether its history is on are taken from the store when the event is written. */
typedef struct pchat_record {
	int kind;             /* pchat_event_kind_t */
	uint64_t room_id;
	const char *room_uri;
	const char *user;
	const char *ts;       /* the server's time, a DATETIME(6) text; NULL: the database's now */
	uint64_t msg_id;      /* CHAT: the post's number; 0 otherwise */
	const char *content;  /* what pchat_event_t.content says for the kind */
	const char *detail;   /* a JSON object, or NULL */
} pchat_record_t;

typedef struct pchat_store_ops {
	/* A room with what its category and roles say about user; PCHAT_ERR_NOT_FOUND when the
	 * store has no room with that GUID. */
	int (*room_for)(void *h, const char *guid, const char *user, pchat_room_t *room);
	/* room_for for n rooms (at most PCHAT_ROOMS_BATCH) in one round trip: rooms[i].guid names
	 * what to look up, and rooms[i] is filled as room_for would fill it, or keeps its GUID with
	 * id 0 when the store has no such room; an empty GUID is left alone. 0, or the store's
	 * failure (then no entry is to be trusted). */
	int (*rooms_for)(void *h, const char *user, pchat_room_t *rooms, int n);
	/* Opens a transaction that stores a post with the room's next sequence number (written to
	 * *seq); ts is the server's time. Finish with post_commit or post_abort. */
	int (*post_begin)(void *h, uint64_t room_id, const char *author, const char *ts,
			const char *content, uint64_t *seq);
	int (*post_commit)(void *h);
	void (*post_abort)(void *h);
	/* The posts with after < seq < before, oldest first, at most limit; returns how many. */
	int (*posts_between)(void *h, uint64_t room_id, uint64_t after, uint64_t before, int limit,
			pchat_post_f cb, void *ctx);
	/* Rooms user may see that match text (see pchat_search_kind_t), by name, at most limit. */
	int (*search)(void *h, const char *user, pchat_search_kind_t kind, const char *text,
			int limit, pchat_room_f cb, void *ctx);
	/* Rooms where user (or the user's domain) holds role, that are not disabled. */
	int (*associations)(void *h, const char *user, enum pchat_role role, int limit,
			pchat_room_f cb, void *ctx);
	/* Invitations of user with an id above after, oldest first, at most limit. */
	int (*invitations)(void *h, const char *user, uint64_t after, int limit,
			pchat_invitation_f cb, void *ctx);
	/* A bundle of user; one the user does not have is PCHAT_OK with seqid 0 and no content. */
	int (*pref_get)(void *h, const char *user, const char *label, pchat_pref_t *pref);
	/* Stores a bundle; its new revision goes to *seqid. A new label is refused with
	 * PCHAT_ERR_FULL when the user has max bundles already. */
	int (*pref_set)(void *h, const char *user, const char *label, const char *content, int max,
			uint64_t *seqid);
	/* 1 when user (or the user's domain) is a creator in some category, 0 otherwise. */
	int (*is_creator)(void *h, const char *user);
	/* 1 when the Persistent Chat policy enables user, 0 when it does not. */
	int (*policy_enabled)(void *h, const char *user);
	/* The newest post's sequence number of each of n rooms (0 for a room without posts), at
	 * most PCHAT_STORE_BATCH rooms at a time. */
	int (*last_seqs)(void *h, const uint64_t *rooms, int n, uint64_t *seqs);
	/* Writes a compliance event to the outbox. Between post_begin and post_commit it is part
	 * of the post's transaction. */
	int (*record)(void *h, const pchat_record_t *ev);
	/* A token of the file web service for user in the room, valid lifetime seconds, into
	 * token (64 bytes): upload=1 for a file named name to come, 0 for the room's file whose
	 * stored (or original) name is name; PCHAT_ERR_NOT_FOUND when there is no such file. */
	int (*file_token)(void *h, const char *user, uint64_t room_id, int upload,
			const char *name, int lifetime, char *token);
	/* 1 when the room has a complete file with that stored name, 0 when not; between
	 * post_begin and post_commit the file stays so until the post is stored. */
	int (*file_exists)(void *h, uint64_t room_id, const char *name);
} pchat_store_ops_t;

#define PCHAT_STORE_BATCH 100
#define PCHAT_ROOMS_BATCH 10

/* The room's users as a join found them: up to max go to cb, and users is how many the room
 * has, or stays -1 when the join could not tell (then participants() asks). */
typedef struct pchat_listing {
	int max;
	pchat_user_f cb;
	void *ctx;
	int users;
} pchat_listing_t;

typedef struct pchat_live_ops {
	/* Adds the session to the room; it receives the room's posts only after ready(). can_post
	 * is remembered for its posts. Returns 1 when it is the user's first session in the room,
	 * 0 when the user was already there with another session, PCHAT_JOIN_AGAIN when this
	 * session was (its rights are updated), PCHAT_ERR_FULL when the session is in as many rooms
	 * as it may be, PCHAT_ERR_NO_MEMORY or PCHAT_ERR_FAILED (the session is ending) when it
	 * cannot be added. list, when not NULL, gets the room's users (the joining one included)
	 * from the join's own round trip to the pool, where it makes one. */
	int (*join)(void *h, const pchat_caller_t *c, const pchat_room_t *room, int can_post,
			pchat_listing_t *list);
	void (*ready)(void *h, const pchat_caller_t *c, uint64_t room_id);
	/* Returns 1 when that was the user's last session in the room, 0 when the user is still
	 * there, PCHAT_ERR_FAILED (-1) when the session was not in the room. */
	int (*part)(void *h, const pchat_caller_t *c, uint64_t room_id);
	/* The id of a room the session has joined, by GUID, and whether it may post there; 0 when
	 * not joined. */
	uint64_t (*joined)(void *h, const pchat_caller_t *c, const char *guid, int *can_post);
	/* Calls cb for up to max distinct users in the room and returns how many there are, in the
	 * whole pool (on this node alone while the pool's presence is unreachable). */
	int (*participants)(void *h, uint64_t room_id, int max, pchat_user_f cb, void *ctx);
	/* The number of users in each of n rooms (pool-wide, like participants), in one go. */
	void (*counts)(void *h, const uint64_t *rooms, int n, int *counts);
	/* The rooms the session is in (*rooms from pchat_malloc, the caller releases it with
	 * pchat_free); returns how many, PCHAT_ERR_FAILED (-1) when out of memory. */
	int (*rooms_of)(void *h, const pchat_caller_t *c, pchat_room_ref_t **rooms);
	/* The sessions in a room on this node (*out from pchat_malloc, the caller releases it with
	 * pchat_free) and the room's GUID; returns how many, 0 when nobody is there,
	 * PCHAT_ERR_FAILED (-1) when out of memory. */
	int (*members)(void *h, uint64_t room_id, char *guid, pchat_member_t **out);
	/* New rights of a session in a room (after an administrator changed the room). */
	void (*update)(void *h, const pchat_caller_t *c, uint64_t room_id, unsigned roles,
			int can_post);
	/* The room's category now (it may have moved): changes of that category's scope reach
	 * the room. */
	void (*categorize)(void *h, uint64_t room_id, uint64_t category_id);
} pchat_live_ops_t;

#define PCHAT_JOIN_AGAIN 2

typedef struct pchat_out_ops {
	uint64_t (*next_envid)(void *h);
	/* Sends an XCCOS body (envelope included) to the caller now. */
	int (*reply)(void *h, const pchat_caller_t *c, const char *body, size_t len);
	/* Queues an <ntc> element for every session of the room, in the pool, whose user is not
	 * except_user, in the room's order. */
	int (*notice)(void *h, uint64_t room_id, const char *except_user, const char *element,
			size_t len);
	/* A post reaches the room's sender in commit order: post_lock is taken before the commit,
	 * post_fanout hands over the committed post's <grpchat> element, post_unlock releases. */
	void (*post_lock)(void *h, uint64_t room_id);
	int (*post_fanout)(void *h, uint64_t room_id, uint64_t seq, const char *element,
			size_t len);
	void (*post_unlock)(void *h, uint64_t room_id);
} pchat_out_ops_t;

#endif
