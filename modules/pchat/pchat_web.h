/*
 * Who is using the room-management web application: sign-in against Kamailio's subscriber
 * table with throttling of failed attempts, sessions, API tokens and the administrators, all
 * kept in MySQL so that any node of the pool serves any user (migration 007-web.sql).
 *
 * Secrets (session ids, API tokens) leave here once, to the caller, and are stored as their
 * SHA-256 only. Every identity is a normalized SIP URI: the chat's own principal. Runs on a
 * process's MySQL connection; no Kamailio header.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_WEB_H
#define PCHAT_WEB_H

#include <stddef.h>

#include "pchat_db.h"
#include "pchat_model.h"

extern const pchat_db_sqlset_t pchat_web_sqlset;

/* A secret as handed out: 32 random bytes as 64 hex digits. */
#define PCHAT_WEB_SECRET_LEN 64

typedef struct pchat_web_conf {
	const char *domain;     /* the chat domain: the realm of the subscriber table's ha1 */
	int session_idle;       /* s a session lives without a request */
	int session_lifetime;   /* s a session lives at most from its sign-in */
	int login_max_failures; /* failed sign-ins in a window that block a user or an address */
	int login_window;       /* s */
	int login_block;        /* s a block lasts */
} pchat_web_conf_t;

typedef enum pchat_web_via {
	PCHAT_WEB_VIA_PASSWORD,
	PCHAT_WEB_VIA_SSO,
	PCHAT_WEB_VIA_TOKEN,
} pchat_web_via_t;

/* Who a request is. */
typedef struct pchat_web_who {
	char user[PCHAT_USER_MAX];           /* sip:alice@example.com */
	pchat_web_via_t via;
	char csrf[PCHAT_WEB_SECRET_LEN + 1]; /* a session's; "" for a token */
	char expires[32];                    /* a session's end as it stands now, ISO 8601 */
	int admin;                           /* an administrator of the web application */
} pchat_web_who_t;

/* "alice", "alice@DOMAIN" or "sip:alice@DOMAIN" as the user of domain (any domain when domain
 * is NULL): the normalized SIP URI in out (PCHAT_USER_MAX bytes). 0, or -1 when it is none. */
int pchat_web_user(const char *in, const char *domain, char *out);

/* "session", "sso" or "token". */
const char *pchat_web_via_name(pchat_web_via_t via);

/* Signs a user in with a password (subscriber: ha1 = MD5(user:DOMAIN:password)) and opens a
 * session: its id (PCHAT_WEB_SECRET_LEN + 1 bytes) in session, who in *who. A user or an
 * address with too many recent failures is refused before the password is looked at.
 * Returns 0; PCHAT_ERR_FORBIDDEN for a wrong user or password (the same for both);
 * PCHAT_ERR_FULL when blocked (*retry_after: seconds); PCHAT_ERR_DOWN or PCHAT_ERR_FAILED. */
int pchat_web_login(pchat_db_t *db, const pchat_web_conf_t *c, const char *user,
		const char *password, const char *address, char *session, pchat_web_who_t *who,
		int *retry_after);

/* Opens a session for a user whose identity is already known (single sign-on). */
int pchat_web_session_open(pchat_db_t *db, const pchat_web_conf_t *c, const char *user,
		pchat_web_via_t via, const char *address, char *session, pchat_web_who_t *who);

/* The session with this id, if it is still valid: 0 and *who (whether the user administers
 * included; its end pushed on by session_idle, written at most once a minute), in one query
 * unless the end is due; PCHAT_ERR_NOT_FOUND (unknown, expired); PCHAT_ERR_DOWN or _FAILED. */
int pchat_web_session_check(pchat_db_t *db, const pchat_web_conf_t *c, const char *session,
		pchat_web_who_t *who);

/* Ends the session. 0 (also when there was none) or a failure. */
int pchat_web_session_close(pchat_db_t *db, const char *session);

/* The API token's user: 0 and *who; PCHAT_ERR_NOT_FOUND (unknown, expired, revoked). */
int pchat_web_token_check(pchat_db_t *db, const char *token, pchat_web_who_t *who);

/* Issues a token for user (a normalized SIP URI) valid days days (0: until revoked): the
 * token in token (PCHAT_WEB_SECRET_LEN + 1 bytes, shown once), its id in *id. */
int pchat_web_token_issue(pchat_db_t *db, const char *user, const char *label, int days,
		char *token, long long *id);
/* Revokes a token by its id: 1 revoked, 0 there was none, or a failure. */
int pchat_web_token_revoke(pchat_db_t *db, long long id);

typedef int (*pchat_web_token_f)(void *ctx, long long id, const char *user, const char *label,
		const char *created, const char *expires, const char *last_used);
int pchat_web_token_list(pchat_db_t *db, pchat_web_token_f cb, void *ctx);

/* Administrators of the web application. set: 1 added or removed, 0 nothing to do. */
int pchat_web_admin_set(pchat_db_t *db, const char *user, int admin);
int pchat_web_admin_list(pchat_db_t *db, int (*cb)(void *ctx, const char *user), void *ctx);

/* ---- the rights the chat gives a user (or the user's domain) ---- */

typedef struct pchat_web_rights {
	long long room_id;
	int secret;   /* a secret room */
	int manager;  /* a manager, within the category's scope */
	int creator;  /* a creator in the room's category */
	int any_role; /* a member, manager or presenter */
} pchat_web_rights_t;

/* The user's rights in the room with this GUID: 0, PCHAT_ERR_NOT_FOUND or a failure. */
int pchat_web_rights(pchat_db_t *db, const char *guid, const char *user,
		pchat_web_rights_t *rt);
/* The categories where the user creates rooms: cb(ctx, guid, name, description). */
int pchat_web_creator_categories(pchat_db_t *db, const char *user,
		int (*cb)(void *ctx, const char *guid, const char *name, const char *description),
		void *ctx);
/* 1 the user is a creator in the category (GUID or name), 0 not, or a failure. */
int pchat_web_is_creator(pchat_db_t *db, const char *category, const char *user);
/* 1 a room has this name (names compare without case): its GUID in guid (37 bytes); 0 none. */
int pchat_web_room_named(pchat_db_t *db, const char *name, char *guid);

/* Deletes expired sessions and tokens and failures past their window: the housekeeper's. */
void pchat_web_sweep(pchat_db_t *db, const pchat_web_conf_t *c);

/* Constant-time comparison of two NUL-terminated secrets: 1 equal. The time says nothing of
 * where they differ (nor, beyond its length, of the expected one). */
int pchat_web_same_secret(const char *given, const char *expected);

#endif
