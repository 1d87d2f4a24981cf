/*
 * The chat logic: one handler per XCCOS command, posts, and the end of a session.
 *
 * It reaches the rest of the world only through three small interfaces, so it runs the same in
 * Kamailio and in unit tests with fakes:
 *   store  the persistent model (MySQL): rooms, history, posts;
 *   live   who is in which room right now (this node's sessions, and the pool's in Redis);
 *   out    sending: replies to the caller now; notices and posts through the room's ordered
 *          sender, which puts them in an envelope of its own and also relays them to the other
 *          nodes of the pool.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_CHAT_H
#define PCHAT_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "pchat_authz.h"
#include "pchat_uri.h"
#include "pchat_xccos.h"

/* A chat session: a slot of the session table and its generation (slots are reused). */
typedef struct pchat_sref {
	uint32_t slot;
	uint32_t gen;
} pchat_sref_t;

typedef struct pchat_caller {
	pchat_sref_t session;
	const char *user; /* the session's identity, sip:user@host (never from the XML) */
} pchat_caller_t;

/* A session in a room, as the live state lists it. */
typedef struct pchat_member {
	pchat_sref_t session;
	char user[PCHAT_USER_MAX];
} pchat_member_t;

typedef enum pchat_privacy { PCHAT_OPEN, PCHAT_CLOSED, PCHAT_SECRET } pchat_privacy_t;
typedef enum pchat_room_type { PCHAT_NORMAL, PCHAT_AUDITORIUM } pchat_room_type_t;

#define PCHAT_NAME_MAX 1025  /* 256 characters of up to 4 bytes */
#define PCHAT_TEXT_MAX 4097  /* 1024 characters of up to 4 bytes */

/* A room as one user sees it: its facts, and what its category and roles say about the user. */
typedef struct pchat_room {
	uint64_t id;
	uint64_t category_id;
	char guid[PCHAT_GUID_LEN + 1];
	char name[PCHAT_NAME_MAX];
	char description[PCHAT_TEXT_MAX];
	char topic[PCHAT_TEXT_MAX];
	pchat_privacy_t privacy;
	pchat_room_type_t type;
	int disabled;
	int file_post;          /* posting files allowed (the category's switch) */
	int invite;             /* invitations on (the room's setting or its category's) */
	int logged;             /* chat history kept and shown (the category's switch) */
	pchat_access_t access;  /* of the user the room was looked up for */
	uint64_t last_seq;      /* the newest post's sequence number when it was looked up */
} pchat_room_t;

/* One stored post. ts is the MySQL DATETIME(6) text in UTC. */
typedef struct pchat_post {
	uint64_t seq;
	const char *author;
	const char *ts;
	const char *content;
} pchat_post_t;

/* A room as the live state knows it. */
typedef struct pchat_room_ref {
	uint64_t id;
	char guid[PCHAT_GUID_LEN + 1];
} pchat_room_ref_t;

/* A room as a list shows it (search, associations, invitations). */
typedef struct pchat_room_summary {
	uint64_t id;
	const char *guid;
	const char *name;
	const char *description;
	pchat_privacy_t privacy;
	int file_post;   /* posting files allowed */
	int invite;      /* invitations on (the room's own setting or its category's) */
	int logged;      /* chat history kept and shown */
} pchat_room_summary_t;

/* An invitation to a room. */
typedef struct pchat_invitation {
	uint64_t id;
	const char *created;   /* MySQL DATETIME(6) text, UTC */
	const char *inviter;
	pchat_room_summary_t room;
} pchat_invitation_t;

/* How chansrch reads its criteria. */
typedef enum pchat_search_kind {
	PCHAT_SEARCH_NAME,        /* rooms whose name contains the text */
	PCHAT_SEARCH_DESCRIPTION, /* rooms whose description contains the text */
	PCHAT_SEARCH_MEMBER,      /* rooms the principal is a member of */
	PCHAT_SEARCH_MANAGER,     /* rooms the principal manages */
} pchat_search_kind_t;

/* A preference bundle (getpref/setpref). */
typedef struct pchat_pref {
	uint64_t seqid;   /* revision, 0 when the bundle does not exist */
	char *content;    /* malloc'ed by the store, freed by the caller */
} pchat_pref_t;

typedef int (*pchat_post_f)(void *ctx, const pchat_post_t *post);
typedef int (*pchat_room_f)(void *ctx, const pchat_room_summary_t *room);
typedef int (*pchat_invitation_f)(void *ctx, const pchat_invitation_t *inv);
/* A user in a room, with the roles (PCHAT_ROLE_*) it holds there. */
typedef void (*pchat_user_f)(void *ctx, const char *user, unsigned roles);

/* Results of store operations: 0 ok; these otherwise. */
enum {
	PCHAT_NOT_FOUND = 1,
	PCHAT_STORE_FULL = 2,  /* a bound of the user's data was reached (preferences) */
	PCHAT_STORE_DOWN = -2, /* the database is unreachable: answer 503 */
	PCHAT_STORE_ERROR = -1,
};

typedef struct pchat_store_ops {
	/* A room with what its category and roles say about user. */
	int (*room_for)(void *h, const char *guid, const char *user, pchat_room_t *room);
	/* Opens a transaction that stores a post with the room's next sequence number (written to
	 * *seq); ts is the server's time. Finish with post_commit or post_abort. */
	int (*post_begin)(void *h, uint64_t room_id, const char *author, const char *ts,
			const char *content, uint64_t *seq);
	int (*post_commit)(void *h);
	void (*post_abort)(void *h);
	/* The last n posts of a room, oldest first. */
	int (*history)(void *h, uint64_t room_id, int n, pchat_post_f cb, void *ctx);
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
	int (*pref_get)(void *h, const char *user, const char *label, pchat_pref_t *pref);
	/* Stores a bundle; its new revision goes to *seqid. A new label is refused with
	 * PCHAT_STORE_FULL when the user has max bundles already. */
	int (*pref_set)(void *h, const char *user, const char *label, const char *content, int max,
			uint64_t *seqid);
	/* 1 when user (or the user's domain) is a creator in some category, 0 otherwise. */
	int (*is_creator)(void *h, const char *user);
	/* 1 when the Persistent Chat policy enables user, 0 when it does not. */
	int (*policy_enabled)(void *h, const char *user);
	/* The newest post's sequence number of each of n rooms (0 for a room without posts), at
	 * most PCHAT_STORE_BATCH rooms at a time. */
	int (*last_seqs)(void *h, const uint64_t *rooms, int n, uint64_t *seqs);
} pchat_store_ops_t;

#define PCHAT_STORE_BATCH 100

typedef struct pchat_live_ops {
	/* Adds the session to the room; it receives the room's posts only after ready(). can_post
	 * is remembered for its posts. Returns 1 when it is the user's first session in the room,
	 * 0 when the user was already there with another session, PCHAT_JOIN_AGAIN when this
	 * session was (its rights are updated), PCHAT_JOIN_FULL when the session is in as many rooms
	 * as it may be, -1 when it cannot be added (out of memory). */
	int (*join)(void *h, const pchat_caller_t *c, const pchat_room_t *room, int can_post);
	void (*ready)(void *h, const pchat_caller_t *c, uint64_t room_id);
	/* Returns 1 when that was the user's last session in the room, 0 when the user is still
	 * there, -1 when the session was not in the room. */
	int (*part)(void *h, const pchat_caller_t *c, uint64_t room_id);
	/* The id of a room the session has joined, by GUID, and whether it may post there; 0 when
	 * not joined. */
	uint64_t (*joined)(void *h, const pchat_caller_t *c, const char *guid, int *can_post);
	/* Calls cb for up to max distinct users in the room and returns how many there are, in the
	 * whole pool (on this node alone while the pool's presence is unreachable). */
	int (*participants)(void *h, uint64_t room_id, int max, pchat_user_f cb, void *ctx);
	/* The number of users in each of n rooms (pool-wide, like participants), in one go. */
	void (*counts)(void *h, const uint64_t *rooms, int n, int *counts);
	/* The rooms the session is in (*rooms malloc'ed, the caller frees it); returns how many,
	 * -1 when out of memory. */
	int (*rooms_of)(void *h, const pchat_caller_t *c, pchat_room_ref_t **rooms);
	/* The sessions in a room on this node (*out malloc'ed, the caller frees it) and the room's
	 * GUID; returns how many, 0 when nobody is there, -1 on error. */
	int (*members)(void *h, uint64_t room_id, char *guid, pchat_member_t **out);
	/* New rights of a session in a room (after an administrator changed the room). */
	void (*update)(void *h, const pchat_caller_t *c, uint64_t room_id, unsigned roles,
			int can_post);
	/* The room's category now (it may have moved): changes of that category's scope reach
	 * the room. */
	void (*categorize)(void *h, uint64_t room_id, uint64_t category_id);
} pchat_live_ops_t;

#define PCHAT_JOIN_FULL (-2)
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

typedef struct pchat_settings {
	int default_history;          /* posts a backchat query without a count returns */
	int max_file_size;            /* KB of a posted file */
	int message_size_limit;       /* characters of a post's text */
	int backchat_limit;           /* most posts one bccontext returns */
	int participant_update_limit; /* above this many users: capped lists, no join/part notices */
	int search_limit;
	int story_size_limit;
	size_t reply_size;            /* largest reply body (backchat is split to stay below) */
	size_t max_post_size;         /* bytes of a post's <grpchat> element as it is sent */
	int max_preferences;          /* preference bundles per user */
	size_t max_preference_size;   /* bytes of a bundle's label and content as sent */
} pchat_settings_t;

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
} pchat_chat_t;

/* Runs a command; its reply goes out through out->reply. */
void pchat_chat_command(const pchat_chat_t *chat, const pchat_caller_t *c,
		const pchat_env_t *env);

/* Validates, stores and fans out a post. Returns the SIP status for the post's INFO:
 * 200 stored, 400 malformed, 403 not joined/not allowed, 413 too large (its text over
 * message_size_limit characters, or the post as it would be sent over max_post_size bytes:
 * every element and attribute counts, as re-serialised), 503 database down. */
int pchat_chat_post(const pchat_chat_t *chat, const pchat_caller_t *c, const pchat_env_t *env);

/* The session is gone: it leaves every room it was in, with notices to the others. */
void pchat_chat_session_end(const pchat_chat_t *chat, const pchat_caller_t *c);

/* The user's last session left the room somewhere in the pool (a node died): the others are
 * told, unless the room is over the participant update limit. */
void pchat_chat_user_left(const pchat_chat_t *chat, uint64_t room_id, const char *guid,
		const char *user);

/* The <grpchat> element of a stored post of the room, as the room's participants receive it. */
void pchat_chat_post_element(const pchat_chat_t *chat, const char *guid,
		const pchat_post_t *post, pchat_buf_t *out);

/* A room changed (disabled, removed, roles, privacy, category): everyone in it on this node is
 * checked again; who may no longer be there is put out of the room (ntc:part to the session and
 * to the others), the others get their new rights (to post in an auditorium, say). */
void pchat_chat_refresh_room(const pchat_chat_t *chat, uint64_t room_id);

/* The reply codes and texts (documented in the module docs; keep them stable). */
#define PCHAT_RESP_OK 200
#define PCHAT_RESP_BAD_REQUEST 400
#define PCHAT_RESP_FORBIDDEN 403
#define PCHAT_RESP_NOT_FOUND 404
#define PCHAT_RESP_TOO_LARGE 413
#define PCHAT_RESP_SERVER_ERROR 500
#define PCHAT_RESP_NOT_SUPPORTED 501
#define PCHAT_RESP_UNAVAILABLE 503

/* The current UTC time as a MySQL DATETIME(6) text (27 bytes). */
void pchat_now_datetime(char *out, size_t outlen);

#endif
