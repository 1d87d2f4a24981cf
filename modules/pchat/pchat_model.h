/*
 * The chat domain model: sessions and callers, rooms as a user sees them, posts, room lists,
 * invitations, preferences, roles and access. Plain data shared by the chat logic, its
 * interfaces (pchat_ports.h), the rules (pchat_authz.h) and the XCCOS builders (pchat_xccos.h);
 * no behaviour lives here.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_MODEL_H
#define PCHAT_MODEL_H

#include <stdint.h>

#include "pchat_uri.h"

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

enum pchat_role {
	PCHAT_ROLE_MEMBER = 1,
	PCHAT_ROLE_MANAGER = 2,
	PCHAT_ROLE_PRESENTER = 4,
};

/* What the category and the room say about one user. */
typedef struct pchat_access {
	int allowed;    /* the category allows the user (or the user's domain) */
	int denied;     /* the category denies the user (or the user's domain) */
	unsigned roles; /* PCHAT_ROLE_* the user holds in the room */
} pchat_access_t;

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
	char *content;    /* from pchat_malloc by the store, pchat_free'd by the caller */
} pchat_pref_t;

typedef int (*pchat_post_f)(void *ctx, const pchat_post_t *post);
typedef int (*pchat_room_f)(void *ctx, const pchat_room_summary_t *room);
typedef int (*pchat_invitation_f)(void *ctx, const pchat_invitation_t *inv);
/* A user in a room, with the roles (PCHAT_ROLE_*) it holds there. */
typedef void (*pchat_user_f)(void *ctx, const char *user, unsigned roles);

#endif
