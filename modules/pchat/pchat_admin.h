/*
 * Administration of the room model (what Lync's *-CsPersistentChat* cmdlets do): categories,
 * rooms, their principals, moderation of messages and the pool-wide settings. Every change is
 * checked first and written in one transaction, so a refused or failed command leaves nothing
 * half-written. Runs on a process's MySQL connection; no Kamailio header (the RPC commands in
 * pchat_rpc.c call it).
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_ADMIN_H
#define PCHAT_ADMIN_H

#include <stdint.h>

#include "pchat_model.h"
#include "pchat_db.h"
#include "pchat_filestore.h"

/* The statement set of this part: the connection it runs on is created with it. */
extern const pchat_db_sqlset_t pchat_admin_sqlset;

typedef struct pchat_admin {
	pchat_db_t *db;
	const char *domain;  /* the chat domain: ma-chan://DOMAIN/GUID */
	const char *inviter; /* who the invitations this makes come from */
	int record;          /* the compliance service records: moderation gets its events */
	const char *actor;   /* who moderates, as the events say ("" for an RPC) */
	char err[256];       /* why the last call failed, for the caller to show */
} pchat_admin_t;

/* The commands return PCHAT_OK or a negative pchat_rc_t (err says why): PCHAT_ERR_INVALID (a
 * missing or invalid argument), PCHAT_ERR_NOT_FOUND (no such room or category),
 * PCHAT_ERR_CONFLICT (a name already taken, a category still in use), PCHAT_ERR_FAILED (the
 * database refused; logged), PCHAT_ERR_DOWN (the database is unreachable). */

/* key=value options of a command. */
typedef struct pchat_kv {
	const char *key;
	const char *value;
} pchat_kv_t;

typedef struct pchat_room_row {
	uint64_t id;
	char guid[PCHAT_GUID_LEN + 1];
	char uri[PCHAT_ROOM_URI_MAX];
	char name[PCHAT_NAME_MAX];
	char description[PCHAT_TEXT_MAX];
	char topic[PCHAT_TEXT_MAX];
	char category[PCHAT_NAME_MAX];
	char privacy[8];
	char type[12];
	char invitations[8];
	char addin[PCHAT_TEXT_MAX];
	int disabled;
	uint64_t messages;   /* posts stored (the room's last sequence number) */
	char created[32];    /* ISO 8601 */
	uint64_t version;    /* grows with every change of the room or its principals */
	char category_guid[PCHAT_GUID_LEN + 1];
} pchat_room_row_t;

typedef struct pchat_category_row {
	uint64_t id;
	char guid[PCHAT_GUID_LEN + 1];
	char uri[PCHAT_ROOM_URI_MAX];
	char name[PCHAT_NAME_MAX];
	char description[PCHAT_TEXT_MAX];
	int file_upload;
	int invitations;
	int chat_history;
	uint64_t rooms;
} pchat_category_row_t;

typedef int (*pchat_room_row_f)(void *ctx, const pchat_room_row_t *room);
typedef int (*pchat_category_row_f)(void *ctx, const pchat_category_row_t *category);
typedef int (*pchat_principal_f)(void *ctx, const char *role, const char *principal);
typedef int (*pchat_config_f)(void *ctx, const char *name, const char *value);

/* ---- rooms; ident is a room's name, ma-chan:// URI or GUID ---- */

/* Options: description, topic, privacy (open|closed|secret, default closed), type
 * (normal|auditorium), invitations (inherit|on|off), addin (URL), disabled (yes|no). */
int pchat_admin_room_add(pchat_admin_t *a, const char *name, const char *category,
		const pchat_kv_t *opts, int nopts, pchat_room_row_t *out);
/* The whole new list of a role of a room (member, manager or presenter). */
typedef struct pchat_role_list {
	const char *role;
	const char *const *principals;
	int n;
} pchat_role_list_t;

/* A principal a change cannot take, and why. */
typedef void (*pchat_refused_f)(void *ctx, const char *principal, const char *reason);

/* room_add with the room's first principals (lists: at most one per role), all in one
 * transaction. Every principal that is not one, or lies outside the category's scope, is told
 * to refused (when not NULL) and the room is not created (PCHAT_ERR_INVALID). */
int pchat_admin_room_create(pchat_admin_t *a, const char *name, const char *category,
		const pchat_kv_t *opts, int nopts, const pchat_role_list_t *lists, int nlists,
		pchat_refused_f refused, void *rctx, pchat_room_row_t *out);
/* The page's "check names": every principal that is not one, or lies outside the category's
 * scope, is told to refused; PCHAT_ERR_INVALID when there was one, 0 when all are fine. */
int pchat_admin_check_principals(pchat_admin_t *a, const char *category,
		const char *const *principals, int n, pchat_refused_f refused, void *rctx);
/* Changes a room (options as room_set) and replaces the lists given, in one transaction that
 * holds the room's row, when its version is still version (0: whatever it is); otherwise
 * PCHAT_ERR_STALE and nothing is written. Principals are checked against the category the room
 * ends in, as room_create does. Every change adds one to the room's version. */
int pchat_admin_room_update(pchat_admin_t *a, const char *ident, uint64_t version,
		const pchat_kv_t *opts, int nopts, const pchat_role_list_t *lists, int nlists,
		pchat_refused_f refused, void *rctx, uint64_t *room_id, int *dropped);
/* Options as room_add, plus name, category and version (the change is refused as stale when
 * the room's version is another). Moving a room to another category drops the members,
 * managers and presenters the new category does not allow (*dropped of them). */
int pchat_admin_room_set(pchat_admin_t *a, const char *ident, const pchat_kv_t *opts, int nopts,
		uint64_t *room_id, int *dropped);
int pchat_admin_room_get(pchat_admin_t *a, const char *ident, pchat_room_row_t *out);
/* The members, managers and presenters of the room with this id. */
int pchat_admin_room_principals_of(pchat_admin_t *a, uint64_t room_id, pchat_principal_f cb,
		void *ctx);
/* Options: category, name (a part of it), disabled (yes|no), limit (default 100), and manager
 * or member (a user: only the rooms where the user, or the user's domain, holds that role). */
int pchat_admin_room_list(pchat_admin_t *a, const pchat_kv_t *opts, int nopts,
		pchat_room_row_f cb, void *ctx);
int pchat_admin_room_disable(pchat_admin_t *a, const char *ident, int disabled,
		uint64_t *room_id);
/* Deletes the room, when its version is still version (0: whatever it is; else
 * PCHAT_ERR_STALE); its files are marked for removal in the same transaction. */
int pchat_admin_room_remove(pchat_admin_t *a, const char *ident, uint64_t version,
		uint64_t *room_id);
/* The room's files, newest first, at most limit; returns how many. */
int pchat_admin_file_list(pchat_admin_t *a, const char *ident, int limit, pchat_file_f cb,
		void *ctx);
/* Removes a file (its stored name) of the room: no longer served or linkable at once, its
 * bytes gone once the compliance service exported the events that name it. */
int pchat_admin_file_remove(pchat_admin_t *a, const char *ident, const char *name);
/* Deletes the room's messages, all or those before the option before (ISO 8601). */
int pchat_admin_room_clear(pchat_admin_t *a, const char *ident, const pchat_kv_t *opts,
		int nopts, long long *deleted);
/* role: member, manager or presenter. Adding members to a room whose invitations are on
 * invites each user among them (*invited). */
int pchat_admin_room_principals(pchat_admin_t *a, const char *ident, const char *role, int add,
		const char *const *principals, int n, uint64_t *room_id, int *invited);

/* ---- categories; ident is a category's name, ma-cat:// URI or GUID ---- */

/* Options: description, file_upload, invitations, chat_history (yes|no). */
int pchat_admin_category_add(pchat_admin_t *a, const char *name, const pchat_kv_t *opts,
		int nopts, pchat_category_row_t *out);
int pchat_admin_category_set(pchat_admin_t *a, const char *ident, const pchat_kv_t *opts,
		int nopts);
int pchat_admin_category_get(pchat_admin_t *a, const char *ident, pchat_category_row_t *out);
/* The allowed and denied members and the creators of the category with this id. */
int pchat_admin_category_principals_of(pchat_admin_t *a, uint64_t category_id,
		pchat_principal_f cb, void *ctx);
int pchat_admin_category_list(pchat_admin_t *a, pchat_category_row_f cb, void *ctx);
/* category_add with the category's first principals (lists: at most one per role: allowed,
 * denied, creator), all in one transaction. Every principal that is not one is told to refused
 * (when not NULL) and the category is not created (PCHAT_ERR_INVALID). */
int pchat_admin_category_create(pchat_admin_t *a, const char *name, const pchat_kv_t *opts,
		int nopts, const pchat_role_list_t *lists, int nlists, pchat_refused_f refused,
		void *rctx, pchat_category_row_t *out);
/* Changes a category (options as category_set) and replaces the lists given (each becomes
 * exactly the list: a diff against the old one), in one transaction; *category gets its id. */
int pchat_admin_category_update(pchat_admin_t *a, const char *ident, const pchat_kv_t *opts,
		int nopts, const pchat_role_list_t *lists, int nlists, pchat_refused_f refused,
		void *rctx, uint64_t *category);
/* Refused while rooms are in the category. */
int pchat_admin_category_remove(pchat_admin_t *a, const char *ident);
/* role: allowed, denied or creator; *category gets the category's id. */
int pchat_admin_category_principals(pchat_admin_t *a, const char *ident, const char *role,
		int add, const char *const *principals, int n, uint64_t *category);

/* ---- moderation ---- */

/* Replaces the content of a room's messages chosen by the options user (author), keyword (in
 * the text), after and before (ISO 8601) with replacement (a text; by default "This message was
 * removed by a moderator."). The messages keep their place, author and time. At least one of
 * user, keyword, after, before is needed. */
int pchat_admin_message_remove(pchat_admin_t *a, const char *ident, const pchat_kv_t *opts,
		int nopts, long long *replaced);

typedef struct pchat_message_row {
	uint64_t seq;
	const char *author;
	const char *time;  /* ISO 8601 */
	const char *text;  /* the text of the post, without markup */
	int moderated;     /* replaced by a moderator */
} pchat_message_row_t;

typedef int (*pchat_message_f)(void *ctx, const pchat_message_row_t *m);

/* The messages of a room the options user, keyword, after and before choose (as
 * message_remove does; none: all): the newest limit of them, oldest first. Returns how many. */
int pchat_admin_message_find(pchat_admin_t *a, const char *ident, const pchat_kv_t *opts,
		int nopts, int limit, pchat_message_f cb, void *ctx);

/* ---- service settings ---- */

int pchat_admin_config_set(pchat_admin_t *a, const char *name, const char *value);
int pchat_admin_config_unset(pchat_admin_t *a, const char *name);
int pchat_admin_config_load(pchat_admin_t *a, pchat_config_f cb, void *ctx);
/* Sets (value) or unsets (value NULL) several settings in one transaction, all checked
 * before any is written. */
int pchat_admin_config_update(pchat_admin_t *a, const pchat_kv_t *settings, int n);

/* ---- Persistent Chat policy: rules for everyone ("*"), a domain or a user ---- */

typedef int (*pchat_policy_f)(void *ctx, const char *scope, int enabled, const char *modified);

/* Sets a rule: scope "*", a domain or a SIP URI; enabled yes|no. The normalized scope goes to
 * normalized (len bytes). */
int pchat_admin_policy_set(pchat_admin_t *a, const char *scope, const char *enabled,
		char *normalized, size_t len);
/* Removes a rule (the less specific ones apply again). */
int pchat_admin_policy_unset(pchat_admin_t *a, const char *scope, char *normalized, size_t len);
/* The rules: everyone's first, then domains, then users. */
int pchat_admin_policy_list(pchat_admin_t *a, pchat_policy_f cb, void *ctx);

/* "2026-11-24", "2026-11-24T08:00:00Z", "2026-11-24T08:00:00.123Z" -> MySQL DATETIME text.
 * 0 ok, -1 otherwise. */
int pchat_iso_to_datetime(const char *iso, char *out, size_t outlen);

#endif
