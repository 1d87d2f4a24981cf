/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pchat_admin.h"
#include "pchat_alloc.h"
#include "pchat_buf.h"
#include "pchat_log.h"
#include "pchat_outbox.h"
#include "pchat_settings.h"
#include "pchat_xccos.h"

enum {
	A_ROOM_BY_GUID,
	A_ROOM_BY_NAME,
	A_CATEGORY_BY_GUID,
	A_CATEGORY_BY_NAME,
	A_ROOM_INSERT,
	A_ROOM_SET_NAME,
	A_ROOM_SET_DESCRIPTION,
	A_ROOM_SET_TOPIC,
	A_ROOM_SET_PRIVACY,
	A_ROOM_SET_TYPE,
	A_ROOM_SET_INVITATIONS,
	A_ROOM_SET_ADDIN,
	A_ROOM_SET_DISABLED,
	A_ROOM_SET_CATEGORY,
	A_ROOM_GET,
	A_ROOM_LIST,
	A_ROOM_PRINCIPALS,
	A_ROOM_ROLE_PRINCIPALS,
	A_ROOM_LOCK,
	A_ROOM_BUMP,
	A_ROOM_DELETE,
	A_ROOM_CLEAR,
	A_ROOM_CLEAR_BEFORE,
	A_ROOM_INVITES_ON,
	A_ROOM_CATEGORY,
	A_PRINCIPAL_ADD,
	A_PRINCIPAL_REMOVE,
	A_PRINCIPAL_IN_SCOPE,
	A_DROP_OUT_OF_SCOPE,
	A_INVITE,
	A_INVITE_CATEGORY_USERS,
	A_ROOM_SECRET,
	A_CAT_INSERT,
	A_CAT_SET_NAME,
	A_CAT_SET_DESCRIPTION,
	A_CAT_SET_FILE_UPLOAD,
	A_CAT_SET_INVITATIONS,
	A_CAT_SET_CHAT_HISTORY,
	A_CAT_GET,
	A_CAT_LIST,
	A_CAT_PRINCIPALS,
	A_CAT_DELETE,
	A_CAT_PRINCIPAL_ADD,
	A_CAT_PRINCIPAL_REMOVE,
	A_CAT_ROLE_PRINCIPALS,
	A_MSG_REPLACE,
	A_EVENT_REPLACE,
	A_EVENT_ROOM,
	A_MSG_MATCHING,
	A_MSG_FIND,
	A_EVENT_CLEAR,
	A_CONFIG_SET,
	A_CONFIG_UNSET,
	A_CONFIG_LOAD,
	A_POLICY_SET,
	A_POLICY_UNSET,
	A_POLICY_LIST,
	A_COUNT
};

/* The messages a moderation concerns, 10 parameters: the room, each filter twice (NULL for
 * none: author, LIKE pattern, from, to) and the newest post number it reaches. */
#define MSG_MATCH                                                                        \
	"room_id = ? AND (? IS NULL OR author = ?) AND (? IS NULL OR content LIKE CONCAT('%', ?, " \
	"'%') ESCAPE '!') AND (? IS NULL OR ts >= ?) AND (? IS NULL OR ts < ?) AND seq <= ?"
#define ROOM_ROW                                                                          \
	"SELECT r.id, r.guid, r.name, r.description, r.topic, c.name, r.privacy, r.type, "    \
	"r.invitations, COALESCE(r.addin_url, ''), r.disabled, COALESCE(s.last_seq, 0), "      \
	PCHAT_SQL_ISO("r.created") ", r.version, c.guid FROM pchat_room r JOIN pchat_category c ON c.id = r.category_id " \
	"LEFT JOIN pchat_room_sequence s ON s.room_id = r.id "
#define CATEGORY_ROW                                                                      \
	"SELECT c.id, c.guid, c.name, c.description, c.file_upload, c.invitations, "         \
	"c.chat_history, (SELECT COUNT(*) FROM pchat_room r WHERE r.category_id = c.id) "     \
	"FROM pchat_category c "
#define ROOM_SET(col) "UPDATE pchat_room SET " col " = ?, modified = UTC_TIMESTAMP(6) WHERE id = ?"
#define CAT_SET(col) \
	"UPDATE pchat_category SET " col " = ?, modified = UTC_TIMESTAMP(6) WHERE id = ?"
/* principal p of a room, or a user or domain given as ?, within category ?: allowed by the
 * user or the user's domain, and denied by neither */
#define SCOPE_OF(p)                                                                       \
	"EXISTS (SELECT 1 FROM pchat_category_principal a WHERE a.category_id = ? AND "       \
	"a.role = 'allowed' AND a.principal IN (" p ", SUBSTRING_INDEX(" p ", '@', -1))) AND " \
	"NOT EXISTS (SELECT 1 FROM pchat_category_principal d WHERE d.category_id = ? AND "   \
	"d.role = 'denied' AND d.principal IN (" p ", SUBSTRING_INDEX(" p ", '@', -1)))"

static const char *const admin_sql[] = {
	[A_ROOM_BY_GUID] = "SELECT id FROM pchat_room WHERE guid = ?",
	[A_ROOM_BY_NAME] = "SELECT id FROM pchat_room WHERE name = ?",
	[A_CATEGORY_BY_GUID] = "SELECT id FROM pchat_category WHERE guid = ?",
	[A_CATEGORY_BY_NAME] = "SELECT id FROM pchat_category WHERE name = ?",
	[A_ROOM_INSERT] = "INSERT INTO pchat_room (guid, name, description, topic, category_id, "
					  "privacy, type, invitations, addin_url, disabled) VALUES "
					  "(?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, ''), ?)",
	[A_ROOM_SET_NAME] = ROOM_SET("name"),
	[A_ROOM_SET_DESCRIPTION] = ROOM_SET("description"),
	[A_ROOM_SET_TOPIC] = ROOM_SET("topic"),
	[A_ROOM_SET_PRIVACY] = ROOM_SET("privacy"),
	[A_ROOM_SET_TYPE] = ROOM_SET("type"),
	[A_ROOM_SET_INVITATIONS] = ROOM_SET("invitations"),
	[A_ROOM_SET_ADDIN] = "UPDATE pchat_room SET addin_url = NULLIF(?, ''), modified = "
						 "UTC_TIMESTAMP(6) WHERE id = ?",
	[A_ROOM_SET_DISABLED] = ROOM_SET("disabled"),
	[A_ROOM_SET_CATEGORY] = ROOM_SET("category_id"),
	[A_ROOM_GET] = ROOM_ROW "WHERE r.id = ?",
	/* the rooms by name; with a role, only those where the user (or the user's domain) holds
	 * it */
	[A_ROOM_LIST] = ROOM_ROW "WHERE (? = '' OR c.name = ?) AND r.name LIKE CONCAT('%', ?, '%') "
					"ESCAPE '!' AND (? < 0 OR r.disabled = ?) AND (? = '' OR r.id IN (SELECT "
					"h.room_id FROM pchat_room_principal h WHERE h.role = ? AND h.principal IN "
					"(?, SUBSTRING_INDEX(?, '@', -1)))) ORDER BY r.name LIMIT ?",
	[A_ROOM_PRINCIPALS] = "SELECT role, principal FROM pchat_room_principal WHERE room_id = ? "
						  "ORDER BY role, principal",
	[A_ROOM_ROLE_PRINCIPALS] = "SELECT principal FROM pchat_room_principal WHERE room_id = ? "
							   "AND role = ?",
	/* a change holds the room's row from its version check to its commit */
	[A_ROOM_LOCK] = "SELECT version, category_id FROM pchat_room WHERE id = ? FOR UPDATE",
	[A_ROOM_BUMP] = "UPDATE pchat_room SET version = version + 1, modified = UTC_TIMESTAMP(6) "
					"WHERE id = ?",
	[A_ROOM_DELETE] = "DELETE FROM pchat_room WHERE id = ?",
	[A_ROOM_CLEAR] = "DELETE FROM pchat_message WHERE room_id = ?",
	[A_ROOM_CLEAR_BEFORE] = "DELETE FROM pchat_message WHERE room_id = ? AND ts < ?",
	[A_ROOM_INVITES_ON] = "SELECT IF(r.invitations = 'inherit', c.invitations, "
						  "r.invitations = 'on') FROM pchat_room r JOIN pchat_category c ON "
						  "c.id = r.category_id WHERE r.id = ?",
	[A_ROOM_CATEGORY] = "SELECT category_id FROM pchat_room WHERE id = ?",
	[A_PRINCIPAL_ADD] = "INSERT IGNORE INTO pchat_room_principal (room_id, role, principal) "
						"VALUES (?, ?, ?)",
	[A_PRINCIPAL_REMOVE] = "DELETE FROM pchat_room_principal WHERE room_id = ? AND role = ? "
						   "AND principal = ?",
	[A_PRINCIPAL_IN_SCOPE] = "SELECT " SCOPE_OF("?"),
	/* rp.principal, qualified: inside the subqueries a bare "principal" is their own column */
	[A_DROP_OUT_OF_SCOPE] = "DELETE rp FROM pchat_room_principal rp WHERE rp.room_id = ? AND "
							"NOT (" SCOPE_OF("rp.principal") ")",
	[A_INVITE] = "INSERT INTO pchat_invitation (user, room_id, inviter) VALUES (?, ?, ?)",
	/* invites, in one statement, the users the category allows by name and denies neither by
	 * name nor by domain */
	[A_INVITE_CATEGORY_USERS] = "INSERT INTO pchat_invitation (user, room_id, inviter) "
								"SELECT a.principal, ?, ? FROM pchat_category_principal a "
								"WHERE a.category_id = ? AND a.role = 'allowed' "
								"AND a.principal LIKE 'sip:%' AND NOT EXISTS (SELECT 1 "
								"FROM pchat_category_principal d WHERE "
								"d.category_id = a.category_id AND d.role = 'denied' "
								"AND d.principal IN "
								"(a.principal, SUBSTRING_INDEX(a.principal, '@', -1)))",
	[A_ROOM_SECRET] = "SELECT privacy = 'secret' FROM pchat_room WHERE id = ?",
	[A_CAT_INSERT] = "INSERT INTO pchat_category (guid, name, description, file_upload, "
					 "invitations, chat_history) VALUES (?, ?, ?, ?, ?, ?)",
	[A_CAT_SET_NAME] = CAT_SET("name"),
	[A_CAT_SET_DESCRIPTION] = CAT_SET("description"),
	[A_CAT_SET_FILE_UPLOAD] = CAT_SET("file_upload"),
	[A_CAT_SET_INVITATIONS] = CAT_SET("invitations"),
	[A_CAT_SET_CHAT_HISTORY] = CAT_SET("chat_history"),
	[A_CAT_GET] = CATEGORY_ROW "WHERE c.id = ?",
	[A_CAT_LIST] = CATEGORY_ROW "ORDER BY c.name",
	[A_CAT_PRINCIPALS] = "SELECT role, principal FROM pchat_category_principal WHERE "
						 "category_id = ? ORDER BY role, principal",
	[A_CAT_DELETE] = "DELETE FROM pchat_category WHERE id = ? AND NOT EXISTS (SELECT 1 FROM "
					 "pchat_room WHERE category_id = ?)",
	[A_CAT_PRINCIPAL_ADD] = "INSERT IGNORE INTO pchat_category_principal (category_id, role, "
							"principal) VALUES (?, ?, ?)",
	[A_CAT_PRINCIPAL_REMOVE] = "DELETE FROM pchat_category_principal WHERE category_id = ? AND "
							   "role = ? AND principal = ?",
	[A_CAT_ROLE_PRINCIPALS] = "SELECT principal FROM pchat_category_principal WHERE "
							  "category_id = ? AND role = ?",
	[A_MSG_REPLACE] = "UPDATE pchat_message SET content = ?, moderated = 1 WHERE " MSG_MATCH,
	/* Moderation events are written with VALUES, like the chat's (see pchat_outbox_record): no
	 * table-wide AUTO-INC lock that posts' events would queue behind. One REPLACE event per
	 * message replaced, with the text it had and the post as stored. */
	[A_EVENT_REPLACE] = PCHAT_OUTBOX_INSERT "VALUES ('REPLACE', UTC_TIMESTAMP(6), ?, ?, ?, ?, ?, ?, "
						"?, JSON_OBJECT('previous', ?, 'previous_xml', ?, 'author', ?, "
						"'posted', ?))",
	/* the room as the events record it, and its newest post: moderation stops there */
	[A_EVENT_ROOM] = "SELECT r.guid, r.name, c.chat_history, COALESCE((SELECT s.last_seq FROM "
					 "pchat_room_sequence s WHERE s.room_id = r.id), 0) FROM pchat_room r JOIN "
					 "pchat_category c ON c.id = r.category_id WHERE r.id = ?",
	[A_MSG_MATCHING] = "SELECT seq, content, author, " PCHAT_SQL_ISO("ts") " FROM pchat_message "
					   "WHERE " MSG_MATCH " AND seq > ? ORDER BY seq LIMIT ?",
	/* the newest matching messages, oldest first */
	[A_MSG_FIND] = "SELECT seq, content, author, posted, moderated FROM (SELECT seq, content, "
				   "author, " PCHAT_SQL_ISO("ts") " AS posted, moderated FROM pchat_message "
				   "WHERE " MSG_MATCH " ORDER BY seq DESC LIMIT ?) m ORDER BY seq",
	[A_EVENT_CLEAR] = PCHAT_OUTBOX_INSERT "VALUES ('CLEAR', UTC_TIMESTAMP(6), ?, ?, ?, ?, ?, 0, "
					  "'', JSON_OBJECT('before', ?, 'deleted', ?))",
	[A_CONFIG_SET] = "INSERT INTO pchat_config (name, value) VALUES (?, ?) ON DUPLICATE KEY "
					 "UPDATE value = VALUES(value), modified = UTC_TIMESTAMP(6)",
	[A_CONFIG_UNSET] = "DELETE FROM pchat_config WHERE name = ?",
	[A_CONFIG_LOAD] = "SELECT name, value FROM pchat_config",
	[A_POLICY_SET] = "INSERT INTO pchat_policy (principal, enabled) VALUES (?, ?) ON DUPLICATE "
					 "KEY UPDATE enabled = VALUES(enabled), modified = UTC_TIMESTAMP(6)",
	[A_POLICY_UNSET] = "DELETE FROM pchat_policy WHERE principal = ?",
	[A_POLICY_LIST] = "SELECT principal, enabled, " PCHAT_SQL_ISO("modified") " FROM pchat_policy "
					  "ORDER BY principal = '*' DESC, principal LIKE 'sip:%', principal",
};
const pchat_db_sqlset_t pchat_admin_sqlset = {"admin", admin_sql, A_COUNT};

#define DEFAULT_REPLACEMENT "This message was removed by a moderator."

/* ------------------------------------------------------------------ helpers */

static int fail(pchat_admin_t *a, int code, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

static int fail(pchat_admin_t *a, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
	return code;
}

/* A failed statement: the database is down, a unique name is taken, or it refused. */
static int db_fail(pchat_admin_t *a, long long rc)
{
	if (rc == PCHAT_ERR_DOWN)
		return fail(a, PCHAT_ERR_DOWN, "the database is unreachable");
	if (rc == PCHAT_ERR_DUPLICATE)
		return fail(a, PCHAT_ERR_CONFLICT, "that name is taken already");
	return fail(a, PCHAT_ERR_FAILED, "the database refused the change: %s",
			pchat_db_last_error(a->db));
}

static long long run(pchat_admin_t *a, int stmt, const pchat_db_val_t *p, int n,
		pchat_db_row_f cb, void *ctx)
{
	return pchat_db_exec(a->db, &pchat_admin_sqlset, stmt, p, n, cb, ctx);
}

static int begin(pchat_admin_t *a)
{
	int rc = pchat_db_begin(a->db);

	return rc == 0 ? 0 : db_fail(a, rc);
}

static int commit(pchat_admin_t *a)
{
	int rc = pchat_db_commit(a->db);

	return rc == 0 ? 0 : db_fail(a, rc);
}

/* Ends a transaction: commits after success, rolls back otherwise; returns rc or the commit's
 * failure. */
static int finish(pchat_admin_t *a, int rc)
{
	if (rc < 0) {
		pchat_db_rollback(a->db);
		return rc;
	}
	return commit(a);
}

static int read_id(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	if (ncols < 1)
		return PCHAT_ERR_FAILED;
	*(long long *)ctx = pchat_db_int(&cols[0]);
	return 0;
}

static const char *opt(const pchat_kv_t *opts, int n, const char *key)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(opts[i].key, key) == 0)
			return opts[i].value;
	return NULL;
}

/* The option's value, or dflt when it is not given. */
static const char *opt_or(const pchat_kv_t *opts, int n, const char *key, const char *dflt)
{
	const char *v = opt(opts, n, key);

	return v ? v : dflt;
}

/* Every option must be one the command knows: a typo is an error, not silently ignored. */
static int known_options(pchat_admin_t *a, const pchat_kv_t *opts, int n,
		const char *const *known)
{
	int i, k, ok;

	for (i = 0; i < n; i++) {
		for (k = 0, ok = 0; known[k] && !ok; k++)
			ok = strcmp(opts[i].key, known[k]) == 0;
		if (!ok)
			return fail(a, PCHAT_ERR_INVALID, "unknown option '%s'", opts[i].key);
	}
	return 0;
}

static int parse_bool(pchat_admin_t *a, const char *key, const char *v, int *out)
{
	int b = pchat_parse_yes_no(v);

	if (b < 0)
		return fail(a, PCHAT_ERR_INVALID, "%s must be yes or no", key);
	*out = b;
	return 0;
}

static int one_of(pchat_admin_t *a, const char *key, const char *v, const char *const *allowed)
{
	int i;

	for (i = 0; allowed[i]; i++)
		if (strcmp(v, allowed[i]) == 0)
			return 0;
	return fail(a, PCHAT_ERR_INVALID, "%s must be one of %s%s%s%s%s", key, allowed[0],
			allowed[1] ? ", " : "", allowed[1] ? allowed[1] : "", allowed[2] ? ", " : "",
			allowed[2] ? allowed[2] : "");
}

/* A name or text of at most max characters, without control characters; names not empty. */
static int check_text(pchat_admin_t *a, const char *key, const char *v, size_t max, int name)
{
	const unsigned char *p;

	if (name && !v[0])
		return fail(a, PCHAT_ERR_INVALID, "%s must not be empty", key);
	for (p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return fail(a, PCHAT_ERR_INVALID, "%s contains a control character", key);
	if (!pchat_utf8_valid(v, strlen(v)))
		return fail(a, PCHAT_ERR_INVALID, "%s is not valid UTF-8 text", key);
	if (pchat_utf8_chars(v, strlen(v)) > max)
		return fail(a, PCHAT_ERR_INVALID, "%s is longer than %zu characters", key, max);
	return 0;
}

int pchat_iso_to_datetime(const char *iso, char *out, size_t outlen)
{
	int y, mo, d, h = 0, mi = 0, s = 0, n = 0;
	char frac[8] = "";

	if (sscanf(iso, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
		return -1;
	if (iso[n] == 'T') {
		int m = 0;

		if (sscanf(iso + n + 1, "%2d:%2d%n", &h, &mi, &m) != 2)
			return -1;
		n += 1 + m;
		if (iso[n] == ':') {
			if (sscanf(iso + n + 1, "%2d%n", &s, &m) != 1)
				return -1;
			n += 1 + m;
			if (iso[n] == '.') {
				size_t f = strspn(iso + n + 1, "0123456789");

				if (f == 0)
					return -1;
				snprintf(frac, sizeof(frac), ".%.6s", iso + n + 1);
				n += 1 + (int)f;
			}
		}
		if (iso[n] == 'Z')
			n++;
	}
	if (iso[n] || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return -1;
	snprintf(out, outlen, "%04d-%02d-%02d %02d:%02d:%02d%s", y, mo, d, h, mi, s, frac);
	return 0;
}

/* ------------------------------------------------------------------ identifying */

static long long lookup_id(pchat_admin_t *a, int stmt, const char *key)
{
	pchat_db_val_t p = PCHAT_DB_CS(key);
	long long id = 0, rc = run(a, stmt, &p, 1, read_id, &id);

	return rc < 0 ? rc : id;
}

/* A room by name, URI or GUID: its id, or a negative pchat_rc_t with err set. */
static long long room_id(pchat_admin_t *a, const char *ident)
{
	char guid[PCHAT_GUID_LEN + 1];
	long long id;

	if (!ident || !ident[0])
		return fail(a, PCHAT_ERR_INVALID, "a room (name, URI or GUID) is needed");
	if (pchat_room_uri_guid(ident, a->domain, guid) == 0 || pchat_guid_normalize(ident, guid) == 0)
		id = lookup_id(a, A_ROOM_BY_GUID, guid);
	else
		id = lookup_id(a, A_ROOM_BY_NAME, ident);
	if (id < 0)
		return db_fail(a, id);
	if (id == 0)
		return fail(a, PCHAT_ERR_NOT_FOUND, "no room '%s'", ident);
	return id;
}

static long long category_id(pchat_admin_t *a, const char *ident)
{
	static const char scheme[] = "ma-cat://";
	char guid[PCHAT_GUID_LEN + 1];
	const char *slash;
	long long id;

	if (!ident || !ident[0])
		return fail(a, PCHAT_ERR_INVALID, "a category (name, URI or GUID) is needed");
	if (strncasecmp(ident, scheme, sizeof(scheme) - 1) == 0 && (slash = strrchr(ident, '/'))
			&& pchat_guid_normalize(slash + 1, guid) == 0)
		id = lookup_id(a, A_CATEGORY_BY_GUID, guid);
	else if (pchat_guid_normalize(ident, guid) == 0)
		id = lookup_id(a, A_CATEGORY_BY_GUID, guid);
	else
		id = lookup_id(a, A_CATEGORY_BY_NAME, ident);
	if (id < 0)
		return db_fail(a, id);
	if (id == 0)
		return fail(a, PCHAT_ERR_NOT_FOUND, "no category '%s'", ident);
	return id;
}

/* ------------------------------------------------------------------ room options */

static const char *const privacies[] = {"open", "closed", "secret", NULL};
static const char *const room_types[] = {"normal", "auditorium", NULL};
static const char *const invitation_modes[] = {"inherit", "on", "off", NULL};

/* Validates the room options common to add and set. */
static int check_room_options(pchat_admin_t *a, const pchat_kv_t *opts, int n)
{
	const char *v;
	int b;

	if ((v = opt(opts, n, "name")) && check_text(a, "name", v, 256, 1) < 0)
		return PCHAT_ERR_INVALID;
	if ((v = opt(opts, n, "description")) && check_text(a, "description", v, 1024, 0) < 0)
		return PCHAT_ERR_INVALID;
	if ((v = opt(opts, n, "topic")) && check_text(a, "topic", v, 1024, 0) < 0)
		return PCHAT_ERR_INVALID;
	if ((v = opt(opts, n, "addin")) && check_text(a, "addin", v, 1024, 0) < 0)
		return PCHAT_ERR_INVALID;
	if ((v = opt(opts, n, "privacy")) && one_of(a, "privacy", v, privacies) < 0)
		return PCHAT_ERR_INVALID;
	if ((v = opt(opts, n, "type")) && one_of(a, "type", v, room_types) < 0)
		return PCHAT_ERR_INVALID;
	if ((v = opt(opts, n, "invitations")) && one_of(a, "invitations", v, invitation_modes) < 0)
		return PCHAT_ERR_INVALID;
	if ((v = opt(opts, n, "disabled")) && parse_bool(a, "disabled", v, &b) < 0)
		return PCHAT_ERR_INVALID;
	return 0;
}

static int invitations_on(pchat_admin_t *a, long long room)
{
	pchat_db_val_t p = PCHAT_DB_I(room);
	long long on = 0, rc = run(a, A_ROOM_INVITES_ON, &p, 1, read_id, &on);

	return rc < 0 ? db_fail(a, rc) : on != 0;
}

static int invite(pchat_admin_t *a, const char *user, long long room)
{
	pchat_db_val_t p[3] = {PCHAT_DB_CS(user), PCHAT_DB_I(room), PCHAT_DB_CS(a->inviter)};
	long long rc = run(a, A_INVITE, p, 3, NULL, NULL);

	return rc < 0 ? db_fail(a, rc) : 0;
}

/* Lync: when a room is created in a category whose invitations are on, the users the category
 * allows are invited to it - only to a room they may find: a secret room is invisible to all
 * but its members, who are invited when they are added. */
static int invite_category_users(pchat_admin_t *a, long long room, long long category)
{
	pchat_db_val_t p = PCHAT_DB_I(room);
	pchat_db_val_t invite_p[3] = {PCHAT_DB_I(room), PCHAT_DB_CS(a->inviter),
		PCHAT_DB_I(category)};
	long long rc, secret = 0;
	int on = invitations_on(a, room);

	if (on <= 0)
		return on;
	rc = run(a, A_ROOM_SECRET, &p, 1, read_id, &secret);
	if (rc < 0)
		return db_fail(a, rc);
	if (secret)
		return 0;
	rc = run(a, A_INVITE_CATEGORY_USERS, invite_p, 3, NULL, NULL);
	return rc < 0 ? db_fail(a, rc) : 0;
}

/* ------------------------------------------------------------------ rooms */

static int read_room_row(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	pchat_room_row_t *r = ctx;

	if (ncols != 15)
		return PCHAT_ERR_FAILED;
	r->id = (uint64_t)pchat_db_int(&cols[0]);
	snprintf(r->guid, sizeof(r->guid), "%s", cols[1].s);
	snprintf(r->name, sizeof(r->name), "%s", cols[2].s);
	snprintf(r->description, sizeof(r->description), "%s", cols[3].s);
	snprintf(r->topic, sizeof(r->topic), "%s", cols[4].s);
	snprintf(r->category, sizeof(r->category), "%s", cols[5].s);
	snprintf(r->privacy, sizeof(r->privacy), "%s", cols[6].s);
	snprintf(r->type, sizeof(r->type), "%s", cols[7].s);
	snprintf(r->invitations, sizeof(r->invitations), "%s", cols[8].s);
	snprintf(r->addin, sizeof(r->addin), "%s", cols[9].s);
	r->disabled = pchat_db_int(&cols[10]) != 0;
	r->messages = (uint64_t)pchat_db_int(&cols[11]);
	snprintf(r->created, sizeof(r->created), "%.26sZ", cols[12].s);
	r->version = (uint64_t)pchat_db_int(&cols[13]);
	snprintf(r->category_guid, sizeof(r->category_guid), "%s", cols[14].s);
	return 0;
}

static int get_room_row(pchat_admin_t *a, long long id, pchat_room_row_t *out, const char *domain)
{
	pchat_db_val_t p = PCHAT_DB_I(id);
	long long rc = run(a, A_ROOM_GET, &p, 1, read_room_row, out);

	if (rc < 0)
		return db_fail(a, rc);
	if (rc == 0)
		return fail(a, PCHAT_ERR_NOT_FOUND, "the room vanished");
	pchat_room_uri(domain, out->guid, out->uri, sizeof(out->uri));
	return 0;
}

/* One option of room_set: the statement that writes it and how its value is bound. */
static const struct {
	const char *key;
	int stmt;
	int is_bool;
} room_setters[] = {
	{"name", A_ROOM_SET_NAME, 0},
	{"description", A_ROOM_SET_DESCRIPTION, 0},
	{"topic", A_ROOM_SET_TOPIC, 0},
	{"privacy", A_ROOM_SET_PRIVACY, 0},
	{"type", A_ROOM_SET_TYPE, 0},
	{"invitations", A_ROOM_SET_INVITATIONS, 0},
	{"addin", A_ROOM_SET_ADDIN, 0},
	{"disabled", A_ROOM_SET_DISABLED, 1},
};

static int set_option(pchat_admin_t *a, int stmt, long long id, const char *key,
		const char *value, int is_bool)
{
	pchat_db_val_t p[2];
	long long rc;
	int b = 0;

	if (is_bool) {
		parse_bool(a, key, value, &b);
		p[0] = PCHAT_DB_I(b);
	} else {
		p[0] = PCHAT_DB_CS(value);
	}
	p[1] = PCHAT_DB_I(id);
	rc = run(a, stmt, p, 2, NULL, NULL);
	if (rc == PCHAT_ERR_DUPLICATE)
		return fail(a, PCHAT_ERR_CONFLICT, "a %s '%s' exists already",
				stmt >= A_CAT_SET_NAME ? "category named" : "room named", value);
	return rc < 0 ? db_fail(a, rc) : 0;
}

/* A change of the room or its principals: one more version, in the change's transaction. */
static int bump(pchat_admin_t *a, long long id)
{
	pchat_db_val_t p = PCHAT_DB_I(id);
	long long rc = run(a, A_ROOM_BUMP, &p, 1, NULL, NULL);

	return rc < 0 ? db_fail(a, rc) : 0;
}

/* Moves a room and drops its principals the new category does not allow. */
static int move_room(pchat_admin_t *a, long long id, long long cat, int *dropped)
{
	pchat_db_val_t p[5] = {PCHAT_DB_I(cat), PCHAT_DB_I(id)};
	long long rc = run(a, A_ROOM_SET_CATEGORY, p, 2, NULL, NULL);

	if (rc < 0)
		return db_fail(a, rc);
	p[0] = PCHAT_DB_I(id);
	p[1] = PCHAT_DB_I(cat);
	p[2] = PCHAT_DB_I(cat);
	rc = run(a, A_DROP_OUT_OF_SCOPE, p, 3, NULL, NULL);
	if (rc < 0)
		return db_fail(a, rc);
	*dropped = (int)rc;
	return 0;
}

/* Rows of two texts (role and principal, name and value) handed to a caller's callback. */
typedef struct text_pair_ctx {
	int (*cb)(void *ctx, const char *first, const char *second);
	void *ctx;
} text_pair_ctx_t;

static int read_text_pair(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	text_pair_ctx_t *pc = ctx;

	if (ncols != 2)
		return PCHAT_ERR_FAILED;
	return pc->cb(pc->ctx, cols[0].s, cols[1].s);
}

int pchat_admin_room_get(pchat_admin_t *a, const char *ident, pchat_room_row_t *out)
{
	long long id = room_id(a, ident);

	return id < 0 ? (int)id : get_room_row(a, id, out, a->domain);
}

int pchat_admin_room_principals_of(pchat_admin_t *a, uint64_t room_id, pchat_principal_f cb,
		void *ctx)
{
	text_pair_ctx_t pc = {cb, ctx};
	pchat_db_val_t p = PCHAT_DB_I((long long)room_id);
	long long rc = run(a, A_ROOM_PRINCIPALS, &p, 1, read_text_pair, &pc);

	return rc < 0 ? db_fail(a, rc) : 0;
}

typedef struct room_list_ctx {
	pchat_admin_t *a;
	pchat_room_row_f cb;
	void *ctx;
} room_list_ctx_t;

static int list_room(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	room_list_ctx_t *lc = ctx;
	pchat_room_row_t *row = pchat_calloc(1, sizeof(*row));
	int rc;

	if (!row)
		return PCHAT_ERR_NO_MEMORY;
	rc = read_room_row(row, cols, ncols);
	if (rc == 0) {
		pchat_room_uri(lc->a->domain, row->guid, row->uri, sizeof(row->uri));
		rc = lc->cb(lc->ctx, row);
	}
	pchat_free(row);
	return rc;
}

int pchat_admin_room_list(pchat_admin_t *a, const pchat_kv_t *opts, int nopts,
		pchat_room_row_f cb, void *ctx)
{
	static const char *const known[] = {"category", "name", "disabled", "limit", "manager",
		"member", NULL};
	const char *category = opt(opts, nopts, "category"), *name = opt(opts, nopts, "name");
	const char *manager = opt(opts, nopts, "manager"), *member = opt(opts, nopts, "member");
	const char *v, *role = manager ? "manager" : member ? "member" : "";
	char holder[PCHAT_USER_MAX] = "";
	room_list_ctx_t lc = {a, cb, ctx};
	pchat_buf_t pattern;
	pchat_db_val_t p[10];
	long long rc, limit = 100;
	int disabled = -1;

	if (known_options(a, opts, nopts, known) < 0)
		return PCHAT_ERR_INVALID;
	if (manager && member)
		return fail(a, PCHAT_ERR_INVALID, "give manager or member, not both");
	v = manager ? manager : member;
	if (v && (pchat_principal_normalize(v, holder, sizeof(holder)) < 0 || !strchr(holder, '@')))
		return fail(a, PCHAT_ERR_INVALID, "%s must be a user (sip:user@host)", role);
	if ((v = opt(opts, nopts, "disabled")) && parse_bool(a, "disabled", v, &disabled) < 0)
		return PCHAT_ERR_INVALID;
	if ((v = opt(opts, nopts, "limit")) && ((limit = atoll(v)) < 1 || limit > 100000))
		return fail(a, PCHAT_ERR_INVALID, "limit must be from 1 to 100000");
	pchat_buf_init(&pattern);
	if (name)
		pchat_db_add_like(&pattern, name, strlen(name));
	if (pattern.failed) {
		pchat_buf_free(&pattern);
		return fail(a, PCHAT_ERR_NO_MEMORY, "out of memory");
	}
	p[0] = PCHAT_DB_CS(category ? category : "");
	p[1] = PCHAT_DB_CS(category ? category : "");
	p[2] = PCHAT_DB_CS(pattern.s ? pattern.s : ""); /* no name: every room */
	p[3] = PCHAT_DB_I(disabled);
	p[4] = PCHAT_DB_I(disabled);
	p[5] = PCHAT_DB_CS(role);
	p[6] = PCHAT_DB_CS(role);
	p[7] = PCHAT_DB_CS(holder);
	p[8] = PCHAT_DB_CS(holder);
	p[9] = PCHAT_DB_I(limit);
	rc = run(a, A_ROOM_LIST, p, 10, list_room, &lc);
	pchat_buf_free(&pattern);
	return rc < 0 ? db_fail(a, rc) : 0;
}

int pchat_admin_room_disable(pchat_admin_t *a, const char *ident, int disabled,
		uint64_t *room)
{
	long long id = room_id(a, ident);
	int rc;

	if (id < 0)
		return (int)id;
	*room = (uint64_t)id;
	if ((rc = begin(a)) < 0)
		return rc;
	rc = set_option(a, A_ROOM_SET_DISABLED, id, "disabled", disabled ? "yes" : "no", 1);
	return finish(a, rc == 0 ? bump(a, id) : rc);
}

typedef struct room_lock {
	long long version;
	long long category;
} room_lock_t;

static int read_room_lock(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	room_lock_t *rl = ctx;

	if (ncols != 2)
		return PCHAT_ERR_FAILED;
	rl->version = pchat_db_int(&cols[0]);
	rl->category = pchat_db_int(&cols[1]);
	return 0;
}

/* Inside the change's transaction: holds the room's row and checks its version (0: any). */
static int lock_room(pchat_admin_t *a, long long id, uint64_t version, room_lock_t *rl)
{
	pchat_db_val_t p = PCHAT_DB_I(id);
	long long rc = run(a, A_ROOM_LOCK, &p, 1, read_room_lock, rl);

	if (rc < 0)
		return db_fail(a, rc);
	if (rc == 0)
		return fail(a, PCHAT_ERR_NOT_FOUND, "the room was removed meanwhile");
	if (version && (uint64_t)rl->version != version)
		return fail(a, PCHAT_ERR_STALE, "the room was changed meanwhile (version %lld, the "
				"change was based on %llu): look at it again", rl->version,
				(unsigned long long)version);
	return 0;
}

int pchat_admin_room_remove(pchat_admin_t *a, const char *ident, uint64_t version,
		uint64_t *room)
{
	pchat_db_val_t p;
	room_lock_t rl;
	long long id = room_id(a, ident), rc;

	if (id < 0)
		return (int)id;
	*room = (uint64_t)id;
	p = PCHAT_DB_I(id);
	if ((rc = begin(a)) < 0)
		return (int)rc;
	if ((rc = lock_room(a, id, version, &rl)) < 0)
		return finish(a, (int)rc);
	/* its files go with it, once the events that name them are exported */
	rc = pchat_filestore_remove(a->db, (uint64_t)id, NULL);
	if (rc >= 0)
		rc = run(a, A_ROOM_DELETE, &p, 1, NULL, NULL);
	return finish(a, rc < 0 ? db_fail(a, rc) : 0);
}

int pchat_admin_file_list(pchat_admin_t *a, const char *ident, int limit, pchat_file_f cb,
		void *ctx)
{
	long long id = room_id(a, ident);
	int n;

	if (id < 0)
		return (int)id;
	n = pchat_filestore_list(a->db, (uint64_t)id, limit, cb, ctx);
	return n < 0 ? db_fail(a, n) : n;
}

int pchat_admin_file_remove(pchat_admin_t *a, const char *ident, const char *name)
{
	long long id = room_id(a, ident);
	int n;

	if (id < 0)
		return (int)id;
	if (!pchat_file_name_valid(name))
		return fail(a, PCHAT_ERR_INVALID, "%s is not a stored file name", name);
	/* the mark and its event bound together: a sweep must never see one without the other */
	if ((n = begin(a)) < 0)
		return n;
	n = pchat_filestore_remove(a->db, (uint64_t)id, name);
	if (n < 0)
		return finish(a, db_fail(a, n));
	return finish(a, n == 0 ? fail(a, PCHAT_ERR_NOT_FOUND, "the room has no file %s", name) : 0);
}

/* The room's part of the events (URI, name, history switch) and its newest post number. */
typedef struct event_room {
	const char *domain;
	char uri[PCHAT_ROOM_URI_MAX];
	char name[PCHAT_NAME_MAX];
	int logged;
	long long last_seq;
} event_room_t;

static int read_event_room(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	event_room_t *er = ctx;

	if (ncols != 4 || cols[0].type != PCHAT_DB_STR)
		return PCHAT_ERR_FAILED;
	pchat_room_uri(er->domain, cols[0].s, er->uri, sizeof(er->uri));
	snprintf(er->name, sizeof(er->name), "%s", cols[1].type == PCHAT_DB_STR ? cols[1].s : "");
	er->logged = pchat_db_int(&cols[2]) != 0;
	er->last_seq = pchat_db_int(&cols[3]);
	return 0;
}

/* The room of an event, as event_room_t; PCHAT_ERR_NOT_FOUND when it is gone. */
static long long event_room(pchat_admin_t *a, long long room, event_room_t *er)
{
	pchat_db_val_t p = PCHAT_DB_I(room);
	long long rc;

	memset(er, 0, sizeof(*er));
	er->domain = a->domain;
	rc = run(a, A_EVENT_ROOM, &p, 1, read_event_room, er);
	return rc == 0 ? PCHAT_ERR_NOT_FOUND : rc;
}

/* The first parameters of a moderation event: the room, as events record it, and who. */
static void event_room_params(pchat_admin_t *a, long long room, const event_room_t *er,
		pchat_db_val_t *p)
{
	p[0] = PCHAT_DB_I(room);
	p[1] = PCHAT_DB_CS(er->uri);
	p[2] = PCHAT_DB_CS(er->name);
	p[3] = PCHAT_DB_I(er->logged);
	p[4] = PCHAT_DB_CS(a->actor ? a->actor : "");
}

/* The CLEAR event of a room's messages deleted; returns deleted, or the failure. */
static long long record_clear(pchat_admin_t *a, long long room, const char *before,
		long long deleted)
{
	pchat_db_val_t p[7];
	event_room_t er;
	long long rc = event_room(a, room, &er);

	if (rc < 0)
		return rc;
	event_room_params(a, room, &er, p);
	p[5] = before ? PCHAT_DB_CS(before) : PCHAT_DB_NUL;
	p[6] = PCHAT_DB_I(deleted);
	rc = run(a, A_EVENT_CLEAR, p, 7, NULL, NULL);
	return rc < 0 ? rc : rc == 1 ? deleted : PCHAT_ERR_FAILED;
}

int pchat_admin_room_clear(pchat_admin_t *a, const char *ident, const pchat_kv_t *opts,
		int nopts, long long *deleted)
{
	static const char *const known[] = {"before", NULL};
	const char *before = opt(opts, nopts, "before");
	char when[40] = "";
	pchat_db_val_t p[2];
	long long id, rc;

	if (known_options(a, opts, nopts, known) < 0)
		return PCHAT_ERR_INVALID;
	if (before && pchat_iso_to_datetime(before, when, sizeof(when)) < 0)
		return fail(a, PCHAT_ERR_INVALID, "before must be an ISO 8601 time, e.g. "
				"2026-11-24T08:00:00Z");
	if ((id = room_id(a, ident)) < 0)
		return (int)id;
	if (a->record && (rc = begin(a)) < 0)
		return (int)rc;
	p[0] = PCHAT_DB_I(id);
	p[1] = PCHAT_DB_CS(when);
	rc = run(a, before ? A_ROOM_CLEAR_BEFORE : A_ROOM_CLEAR, p, before ? 2 : 1, NULL, NULL);
	if (rc >= 0 && a->record)
		rc = record_clear(a, id, before ? when : NULL, rc);
	if (rc < 0) {
		if (a->record)
			pchat_db_rollback(a->db);
		return db_fail(a, rc);
	}
	*deleted = rc;
	return a->record ? commit(a) : 0;
}

static const char *const room_roles[] = {"member", "manager", "presenter", NULL};
static const char *const category_roles[] = {"allowed", "denied", "creator", NULL};

/* A table of principals by role: a room's or a category's. */
typedef struct principal_table {
	const char *const *roles;
	int of_role; /* statements: the principals of a role of an owner, */
	int add;     /* adding one, */
	int remove;  /* removing one */
	int invites; /* new members are invited when the room's invitations are on */
} principal_table_t;

static const principal_table_t room_table = {room_roles, A_ROOM_ROLE_PRINCIPALS,
	A_PRINCIPAL_ADD, A_PRINCIPAL_REMOVE, 1};
static const principal_table_t category_table = {category_roles, A_CAT_ROLE_PRINCIPALS,
	A_CAT_PRINCIPAL_ADD, A_CAT_PRINCIPAL_REMOVE, 0};

/* A principal must lie within the room's category: allowed there, and not denied. */
static int in_scope(pchat_admin_t *a, long long cat, const char *principal)
{
	pchat_db_val_t p[6] = {PCHAT_DB_I(cat), PCHAT_DB_CS(principal), PCHAT_DB_CS(principal),
		PCHAT_DB_I(cat), PCHAT_DB_CS(principal), PCHAT_DB_CS(principal)};
	long long ok = 0, rc = run(a, A_PRINCIPAL_IN_SCOPE, p, 6, read_id, &ok);

	return rc < 0 ? db_fail(a, rc) : ok != 0;
}

/* Principals added to a room must lie within its category; *invite tells whether new members
 * are invited (the room's invitations are on). */
static int check_additions(pchat_admin_t *a, long long id, const char *role,
		char (*norm)[PCHAT_USER_MAX], int n, int *invite_on)
{
	pchat_db_val_t p = PCHAT_DB_I(id);
	long long cat = 0, rc = run(a, A_ROOM_CATEGORY, &p, 1, read_id, &cat);
	int i, ok;

	if (rc < 0)
		return db_fail(a, rc);
	for (i = 0; i < n; i++) {
		ok = in_scope(a, cat, norm[i]);
		if (ok < 0)
			return ok;
		if (!ok)
			return fail(a, PCHAT_ERR_INVALID, "%s is not allowed in the room's category",
					norm[i]);
	}
	*invite_on = 0;
	if (strcmp(role, "member") == 0 && (*invite_on = invitations_on(a, id)) < 0)
		return *invite_on;
	return 0;
}

/* Normalizes the principals into norm (n entries). */
static int normalize_principals(pchat_admin_t *a, const char *const *in, int n,
		char (*norm)[PCHAT_USER_MAX])
{
	int i;

	if (n < 1)
		return fail(a, PCHAT_ERR_INVALID, "at least one principal (a SIP URI or a domain) "
				"is needed");
	for (i = 0; i < n; i++)
		if (pchat_principal_normalize(in[i], norm[i], PCHAT_USER_MAX) < 0)
			return fail(a, PCHAT_ERR_INVALID, "'%s' is neither a SIP URI (sip:user@host) nor "
					"a domain", in[i]);
	return 0;
}

int pchat_admin_room_principals(pchat_admin_t *a, const char *ident, const char *role, int add,
		const char *const *principals, int n, uint64_t *room, int *invited)
{
	char (*norm)[PCHAT_USER_MAX];
	pchat_db_val_t p[3];
	long long id, rc;
	int i, r, on = 0;

	*invited = 0;
	if (one_of(a, "role", role, room_roles) < 0)
		return PCHAT_ERR_INVALID;
	if ((id = room_id(a, ident)) < 0)
		return (int)id;
	*room = (uint64_t)id;
	norm = pchat_calloc(n > 0 ? n : 1, PCHAT_USER_MAX);
	if (!norm)
		return fail(a, PCHAT_ERR_NO_MEMORY, "out of memory");
	r = normalize_principals(a, principals, n, norm);
	if (r == 0 && add)
		r = check_additions(a, id, role, norm, n, &on);
	if (r == 0 && (r = begin(a)) == 0) {
		for (i = 0; r == 0 && i < n; i++) {
			p[0] = PCHAT_DB_I(id);
			p[1] = PCHAT_DB_CS(role);
			p[2] = PCHAT_DB_CS(norm[i]);
			rc = run(a, add ? A_PRINCIPAL_ADD : A_PRINCIPAL_REMOVE, p, 3, NULL, NULL);
			if (rc < 0) {
				r = db_fail(a, rc);
			} else if (rc == 1 && on && strchr(norm[i], '@')) {
				/* a user newly added to a room with invitations on is invited to it */
				r = invite(a, norm[i], id);
				*invited += r == 0;
			}
		}
		r = finish(a, r == 0 ? bump(a, id) : r);
	}
	pchat_free(norm);
	return r;
}

/* ------------------------------------------------------------------ whole rooms */

/* The principals of a role as a change gives them, normalized. */
typedef struct norm_list {
	const char *role;
	char (*p)[PCHAT_USER_MAX];
	int n;
} norm_list_t;

static void free_lists(norm_list_t *nl, int n)
{
	int i;

	for (i = 0; i < n; i++)
		pchat_free(nl[i].p);
}

/* Normalizes the lists into nl (nlists entries). Every principal that is neither a SIP URI nor
 * a domain is told to refused; PCHAT_ERR_INVALID when there was one. */
static int normalize_lists(pchat_admin_t *a, const principal_table_t *t,
		const pchat_role_list_t *lists, int nlists, norm_list_t *nl, pchat_refused_f refused,
		void *rctx)
{
	int i, k, bad = 0;

	memset(nl, 0, sizeof(*nl) * (size_t)nlists);
	for (i = 0; i < nlists; i++) {
		if (one_of(a, "role", lists[i].role, t->roles) < 0)
			return PCHAT_ERR_INVALID;
		nl[i].role = lists[i].role;
		nl[i].p = pchat_calloc(lists[i].n > 0 ? lists[i].n : 1, PCHAT_USER_MAX);
		if (!nl[i].p)
			return fail(a, PCHAT_ERR_NO_MEMORY, "out of memory");
		for (k = 0; k < lists[i].n; k++) {
			if (pchat_principal_normalize(lists[i].principals[k], nl[i].p[nl[i].n],
						PCHAT_USER_MAX) == 0) {
				nl[i].n++;
				continue;
			}
			bad++;
			if (refused)
				refused(rctx, lists[i].principals[k], "neither a SIP URI nor a domain");
		}
	}
	return bad ? fail(a, PCHAT_ERR_INVALID, "%d principal%s neither a SIP URI (sip:user@host) "
						 "nor a domain", bad, bad > 1 ? "s are" : " is")
			   : 0;
}

/* Every principal of the lists must lie within category cat; each one outside it is told to
 * refused, and then the change is PCHAT_ERR_INVALID. */
static int check_lists_scope(pchat_admin_t *a, long long cat, const norm_list_t *nl,
		int nlists, pchat_refused_f refused, void *rctx)
{
	int i, k, ok, bad = 0;

	for (i = 0; i < nlists; i++) {
		for (k = 0; k < nl[i].n; k++) {
			if ((ok = in_scope(a, cat, nl[i].p[k])) < 0)
				return ok;
			if (ok)
				continue;
			bad++;
			if (refused)
				refused(rctx, nl[i].p[k], "not allowed in the category, or denied by it");
		}
	}
	return bad ? fail(a, PCHAT_ERR_INVALID, "%d principal%s outside the category's scope", bad,
						 bad > 1 ? "s are" : " is")
			   : 0;
}

/* After normalize_lists (its result normalized): the principals that are principals are
 * checked against the category's scope even when others were not, so that a refusal names
 * every principal at fault at once. */
static int check_lists(pchat_admin_t *a, long long cat, int normalized, const norm_list_t *nl,
		int nlists, pchat_refused_f refused, void *rctx)
{
	int scope;

	if (normalized < 0 && normalized != PCHAT_ERR_INVALID)
		return normalized;
	if ((scope = check_lists_scope(a, cat, nl, nlists, refused, rctx)) < 0
			&& scope != PCHAT_ERR_INVALID)
		return scope;
	if (normalized < 0 && scope < 0)
		return fail(a, PCHAT_ERR_INVALID, "principals are refused: they are not users or "
				"domains, or lie outside the category's scope");
	return normalized < 0 ? normalized : scope;
}

typedef struct old_list {
	char (*p)[PCHAT_USER_MAX];
	int n, size;
} old_list_t;

static int read_old(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	old_list_t *ol = ctx;
	void *grown;

	if (ncols != 1)
		return PCHAT_ERR_FAILED;
	if (ol->n == ol->size) {
		ol->size = ol->size ? ol->size * 2 : 16;
		if (!(grown = pchat_realloc(ol->p, (size_t)ol->size * PCHAT_USER_MAX)))
			return PCHAT_ERR_NO_MEMORY;
		ol->p = grown;
	}
	snprintf(ol->p[ol->n++], PCHAT_USER_MAX, "%s", cols[0].s);
	return 0;
}

static int listed(const norm_list_t *nl, const char *principal)
{
	int k;

	for (k = 0; k < nl->n; k++)
		if (strcasecmp(nl->p[k], principal) == 0)
			return 1;
	return 0;
}

/* Makes the owner's (a room's or a category's) principals of a role exactly the list: the
 * others go, the new ones come (and new members of a room are invited when its invitations
 * are on). */
static int replace_list(pchat_admin_t *a, const principal_table_t *t, long long owner,
		const norm_list_t *nl)
{
	old_list_t ol = {NULL, 0, 0};
	pchat_db_val_t p[3] = {PCHAT_DB_I(owner), PCHAT_DB_CS(nl->role)};
	long long rc;
	int k, on = 0;

	rc = run(a, t->of_role, p, 2, read_old, &ol);
	for (k = 0; rc >= 0 && k < ol.n; k++) {
		if (listed(nl, ol.p[k]))
			continue;
		p[2] = PCHAT_DB_CS(ol.p[k]);
		rc = run(a, t->remove, p, 3, NULL, NULL);
	}
	pchat_free(ol.p);
	if (rc < 0)
		return db_fail(a, rc);
	if (t->invites && strcmp(nl->role, "member") == 0 && (on = invitations_on(a, owner)) < 0)
		return on;
	for (k = 0; k < nl->n; k++) {
		p[2] = PCHAT_DB_CS(nl->p[k]);
		rc = run(a, t->add, p, 3, NULL, NULL);
		if (rc < 0)
			return db_fail(a, rc);
		/* a user newly added to a room with invitations on is invited to it */
		if (rc == 1 && on && strchr(nl->p[k], '@') && (rc = invite(a, nl->p[k], owner)) < 0)
			return (int)rc;
	}
	return 0;
}

static int replace_lists(pchat_admin_t *a, const principal_table_t *t, long long owner,
		const norm_list_t *nl, int nlists)
{
	int i, rc = 0;

	for (i = 0; rc == 0 && i < nlists; i++)
		rc = replace_list(a, t, owner, &nl[i]);
	return rc;
}

static int insert_room(pchat_admin_t *a, const char *name, long long cat,
		const pchat_kv_t *opts, int nopts)
{
	char guid[PCHAT_GUID_LEN + 1];
	pchat_db_val_t p[10];
	const char *v;
	long long rc;
	int disabled = 0;

	if ((v = opt(opts, nopts, "disabled")))
		parse_bool(a, "disabled", v, &disabled);
	if (pchat_random_guid(guid) < 0)
		return fail(a, PCHAT_ERR_FAILED, "no random numbers for the room's GUID");
	p[0] = PCHAT_DB_CS(guid);
	p[1] = PCHAT_DB_CS(name);
	p[2] = PCHAT_DB_CS(opt_or(opts, nopts, "description", ""));
	p[3] = PCHAT_DB_CS(opt_or(opts, nopts, "topic", ""));
	p[4] = PCHAT_DB_I(cat);
	/* Lync's defaults: a new room is closed and normal, invitations as its category */
	p[5] = PCHAT_DB_CS(opt_or(opts, nopts, "privacy", "closed"));
	p[6] = PCHAT_DB_CS(opt_or(opts, nopts, "type", "normal"));
	p[7] = PCHAT_DB_CS(opt_or(opts, nopts, "invitations", "inherit"));
	p[8] = PCHAT_DB_CS(opt_or(opts, nopts, "addin", ""));
	p[9] = PCHAT_DB_I(disabled);
	rc = run(a, A_ROOM_INSERT, p, 10, NULL, NULL);
	if (rc == PCHAT_ERR_DUPLICATE)
		return fail(a, PCHAT_ERR_CONFLICT, "a room named '%s' exists already", name);
	return rc < 0 ? db_fail(a, rc) : 0;
}

int pchat_admin_room_create(pchat_admin_t *a, const char *name, const char *category,
		const pchat_kv_t *opts, int nopts, const pchat_role_list_t *lists, int nlists,
		pchat_refused_f refused, void *rctx, pchat_room_row_t *out)
{
	static const char *const known[] = {"description", "topic", "privacy", "type",
		"invitations", "addin", "disabled", NULL};
	norm_list_t nl[3];
	long long cat, id = 0;
	int rc;

	if (nlists > 3)
		return fail(a, PCHAT_ERR_INVALID, "at most the members, managers and presenters");
	if (known_options(a, opts, nopts, known) < 0 || check_room_options(a, opts, nopts) < 0)
		return PCHAT_ERR_INVALID;
	if (!name || check_text(a, "name", name, 256, 1) < 0)
		return name ? PCHAT_ERR_INVALID : fail(a, PCHAT_ERR_INVALID, "a room name is needed");
	if ((cat = category_id(a, category)) < 0)
		return (int)cat;
	rc = check_lists(a, cat, normalize_lists(a, &room_table, lists, nlists, nl, refused, rctx),
			nl, nlists, refused, rctx);
	if (rc == 0 && (rc = begin(a)) == 0) {
		rc = insert_room(a, name, cat, opts, nopts);
		if (rc == 0) {
			id = (long long)pchat_db_insert_id(a->db);
			rc = replace_lists(a, &room_table, id, nl, nlists);
		}
		if (rc == 0)
			rc = invite_category_users(a, id, cat);
		rc = finish(a, rc);
	}
	free_lists(nl, nlists);
	return rc < 0 ? rc : get_room_row(a, id, out, a->domain);
}

int pchat_admin_check_principals(pchat_admin_t *a, const char *category,
		const char *const *principals, int n, pchat_refused_f refused, void *rctx)
{
	pchat_role_list_t list = {"member", principals, n};
	norm_list_t nl;
	long long cat = category_id(a, category);
	int rc;

	if (cat < 0)
		return (int)cat;
	rc = check_lists(a, cat, normalize_lists(a, &room_table, &list, 1, &nl, refused, rctx), &nl,
			1, refused, rctx);
	free_lists(&nl, 1);
	return rc;
}

int pchat_admin_room_add(pchat_admin_t *a, const char *name, const char *category,
		const pchat_kv_t *opts, int nopts, pchat_room_row_t *out)
{
	return pchat_admin_room_create(a, name, category, opts, nopts, NULL, 0, NULL, NULL, out);
}

/* The options' writes, and the move to another category, in the caller's transaction. */
static int write_room(pchat_admin_t *a, long long id, const pchat_kv_t *opts, int nopts,
		long long cat, const room_lock_t *rl, int *dropped)
{
	const char *v;
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < sizeof(room_setters) / sizeof(room_setters[0]); i++)
		if ((v = opt(opts, nopts, room_setters[i].key)))
			rc = set_option(a, room_setters[i].stmt, id, room_setters[i].key, v,
					room_setters[i].is_bool);
	if (rc == 0 && cat && cat != rl->category)
		rc = move_room(a, id, cat, dropped);
	return rc;
}

int pchat_admin_room_update(pchat_admin_t *a, const char *ident, uint64_t version,
		const pchat_kv_t *opts, int nopts, const pchat_role_list_t *lists, int nlists,
		pchat_refused_f refused, void *rctx, uint64_t *room, int *dropped)
{
	static const char *const known[] = {"name", "description", "topic", "privacy", "type",
		"invitations", "addin", "disabled", "category", NULL};
	norm_list_t nl[3];
	room_lock_t rl = {0, 0};
	long long id, cat = 0;
	const char *v;
	int rc, normalized;

	*dropped = 0;
	if (nopts == 0 && nlists == 0)
		return fail(a, PCHAT_ERR_INVALID, "nothing to change");
	if (nlists > 3)
		return fail(a, PCHAT_ERR_INVALID, "at most the members, managers and presenters");
	if (known_options(a, opts, nopts, known) < 0 || check_room_options(a, opts, nopts) < 0)
		return PCHAT_ERR_INVALID;
	if ((id = room_id(a, ident)) < 0)
		return (int)id;
	if ((v = opt(opts, nopts, "category")) && (cat = category_id(a, v)) < 0)
		return (int)cat;
	*room = (uint64_t)id;
	normalized = normalize_lists(a, &room_table, lists, nlists, nl, refused, rctx);
	rc = normalized == 0 || normalized == PCHAT_ERR_INVALID ? begin(a) : normalized;
	if (rc == 0) {
		/* the version first: a stale change is refused as such, whatever else it holds */
		rc = lock_room(a, id, version, &rl);
		if (rc == 0)
			rc = check_lists(a, cat ? cat : rl.category, normalized, nl, nlists, refused, rctx);
		if (rc == 0)
			rc = write_room(a, id, opts, nopts, cat, &rl, dropped);
		if (rc == 0)
			rc = replace_lists(a, &room_table, id, nl, nlists);
		rc = finish(a, rc == 0 ? bump(a, id) : rc);
	}
	free_lists(nl, nlists);
	return rc;
}

int pchat_admin_room_set(pchat_admin_t *a, const char *ident, const pchat_kv_t *opts, int nopts,
		uint64_t *room, int *dropped)
{
	pchat_kv_t rest[64];
	uint64_t version = 0;
	int i, n = 0;
	char *end;

	*dropped = 0;
	if (nopts == 0)
		return fail(a, PCHAT_ERR_INVALID, "nothing to change: give key=value options");
	if (nopts > 64)
		return fail(a, PCHAT_ERR_INVALID, "too many options");
	for (i = 0; i < nopts; i++) {
		if (strcmp(opts[i].key, "version") != 0) {
			rest[n++] = opts[i];
			continue;
		}
		version = strtoull(opts[i].value, &end, 10);
		if (!opts[i].value[0] || *end || version == 0)
			return fail(a, PCHAT_ERR_INVALID, "version must be a positive number");
	}
	return pchat_admin_room_update(a, ident, version, rest, n, NULL, 0, NULL, NULL, room,
			dropped);
}

/* ------------------------------------------------------------------ categories */

static const char *const category_bools[] = {"file_upload", "invitations", "chat_history", NULL};

static int read_category_row(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	pchat_category_row_t *c = ctx;

	if (ncols != 8)
		return PCHAT_ERR_FAILED;
	c->id = (uint64_t)pchat_db_int(&cols[0]);
	snprintf(c->guid, sizeof(c->guid), "%s", cols[1].s);
	snprintf(c->name, sizeof(c->name), "%s", cols[2].s);
	snprintf(c->description, sizeof(c->description), "%s", cols[3].s);
	c->file_upload = pchat_db_int(&cols[4]) != 0;
	c->invitations = pchat_db_int(&cols[5]) != 0;
	c->chat_history = pchat_db_int(&cols[6]) != 0;
	c->rooms = (uint64_t)pchat_db_int(&cols[7]);
	return 0;
}

static int get_category_row(pchat_admin_t *a, long long id, pchat_category_row_t *out)
{
	pchat_db_val_t p = PCHAT_DB_I(id);
	long long rc = run(a, A_CAT_GET, &p, 1, read_category_row, out);

	if (rc < 0)
		return db_fail(a, rc);
	if (rc == 0)
		return fail(a, PCHAT_ERR_NOT_FOUND, "the category vanished");
	pchat_category_uri(a->domain, out->guid, out->uri, sizeof(out->uri));
	return 0;
}

static int check_category_options(pchat_admin_t *a, const pchat_kv_t *opts, int n)
{
	const char *v;
	int i, b;

	if ((v = opt(opts, n, "name")) && check_text(a, "name", v, 256, 1) < 0)
		return PCHAT_ERR_INVALID;
	if ((v = opt(opts, n, "description")) && check_text(a, "description", v, 1024, 0) < 0)
		return PCHAT_ERR_INVALID;
	for (i = 0; category_bools[i]; i++)
		if ((v = opt(opts, n, category_bools[i]))
				&& parse_bool(a, category_bools[i], v, &b) < 0)
			return PCHAT_ERR_INVALID;
	return 0;
}

static int bool_opt(const pchat_kv_t *opts, int n, const char *key, int dflt)
{
	const char *v = opt(opts, n, key);
	pchat_admin_t scratch;
	int b = dflt;

	if (v)
		parse_bool(&scratch, key, v, &b);
	return b;
}

/* Inserts a category; its id in *id. */
static int insert_category(pchat_admin_t *a, const char *name, const pchat_kv_t *opts,
		int nopts, long long *id)
{
	char guid[PCHAT_GUID_LEN + 1];
	pchat_db_val_t p[6];
	long long rc;

	if (pchat_random_guid(guid) < 0)
		return fail(a, PCHAT_ERR_FAILED, "no random numbers for the category's GUID");
	p[0] = PCHAT_DB_CS(guid);
	p[1] = PCHAT_DB_CS(name);
	p[2] = PCHAT_DB_CS(opt_or(opts, nopts, "description", ""));
	/* Lync's defaults: file upload and invitations off, chat history on */
	p[3] = PCHAT_DB_I(bool_opt(opts, nopts, "file_upload", 0));
	p[4] = PCHAT_DB_I(bool_opt(opts, nopts, "invitations", 0));
	p[5] = PCHAT_DB_I(bool_opt(opts, nopts, "chat_history", 1));
	rc = run(a, A_CAT_INSERT, p, 6, NULL, NULL);
	if (rc == PCHAT_ERR_DUPLICATE)
		return fail(a, PCHAT_ERR_CONFLICT, "a category named '%s' exists already", name);
	if (rc < 0)
		return db_fail(a, rc);
	*id = (long long)pchat_db_insert_id(a->db);
	return 0;
}

int pchat_admin_category_create(pchat_admin_t *a, const char *name, const pchat_kv_t *opts,
		int nopts, const pchat_role_list_t *lists, int nlists, pchat_refused_f refused,
		void *rctx, pchat_category_row_t *out)
{
	static const char *const known[] = {"description", "file_upload", "invitations",
		"chat_history", NULL};
	norm_list_t nl[3];
	long long id = 0;
	int rc;

	if (nlists > 3)
		return fail(a, PCHAT_ERR_INVALID, "at most the allowed, denied and creators lists");
	if (known_options(a, opts, nopts, known) < 0 || check_category_options(a, opts, nopts) < 0)
		return PCHAT_ERR_INVALID;
	if (!name || check_text(a, "name", name, 256, 1) < 0)
		return name ? PCHAT_ERR_INVALID
					: fail(a, PCHAT_ERR_INVALID, "a category name is needed");
	rc = normalize_lists(a, &category_table, lists, nlists, nl, refused, rctx);
	if (rc == 0 && (rc = begin(a)) == 0) {
		rc = insert_category(a, name, opts, nopts, &id);
		if (rc == 0)
			rc = replace_lists(a, &category_table, id, nl, nlists);
		rc = finish(a, rc);
	}
	free_lists(nl, nlists);
	return rc < 0 ? rc : get_category_row(a, id, out);
}

int pchat_admin_category_add(pchat_admin_t *a, const char *name, const pchat_kv_t *opts,
		int nopts, pchat_category_row_t *out)
{
	return pchat_admin_category_create(a, name, opts, nopts, NULL, 0, NULL, NULL, out);
}

static const struct {
	const char *key;
	int stmt;
	int is_bool;
} category_setters[] = {
	{"name", A_CAT_SET_NAME, 0},
	{"description", A_CAT_SET_DESCRIPTION, 0},
	{"file_upload", A_CAT_SET_FILE_UPLOAD, 1},
	{"invitations", A_CAT_SET_INVITATIONS, 1},
	{"chat_history", A_CAT_SET_CHAT_HISTORY, 1},
};

int pchat_admin_category_update(pchat_admin_t *a, const char *ident, const pchat_kv_t *opts,
		int nopts, const pchat_role_list_t *lists, int nlists, pchat_refused_f refused,
		void *rctx, uint64_t *category)
{
	static const char *const known[] = {"name", "description", "file_upload", "invitations",
		"chat_history", NULL};
	norm_list_t nl[3];
	const char *v;
	long long id;
	size_t i;
	int rc;

	if (nopts == 0 && nlists == 0)
		return fail(a, PCHAT_ERR_INVALID, "nothing to change");
	if (nlists > 3)
		return fail(a, PCHAT_ERR_INVALID, "at most the allowed, denied and creators lists");
	if (known_options(a, opts, nopts, known) < 0 || check_category_options(a, opts, nopts) < 0)
		return PCHAT_ERR_INVALID;
	if ((id = category_id(a, ident)) < 0)
		return (int)id;
	*category = (uint64_t)id;
	rc = normalize_lists(a, &category_table, lists, nlists, nl, refused, rctx);
	if (rc == 0 && (rc = begin(a)) == 0) {
		for (i = 0; rc == 0 && i < sizeof(category_setters) / sizeof(category_setters[0]); i++)
			if ((v = opt(opts, nopts, category_setters[i].key)))
				rc = set_option(a, category_setters[i].stmt, id, category_setters[i].key, v,
						category_setters[i].is_bool);
		if (rc == 0)
			rc = replace_lists(a, &category_table, id, nl, nlists);
		rc = finish(a, rc);
	}
	free_lists(nl, nlists);
	return rc;
}

int pchat_admin_category_set(pchat_admin_t *a, const char *ident, const pchat_kv_t *opts,
		int nopts)
{
	uint64_t id;

	if (nopts == 0)
		return fail(a, PCHAT_ERR_INVALID, "nothing to change: give key=value options");
	return pchat_admin_category_update(a, ident, opts, nopts, NULL, 0, NULL, NULL, &id);
}

int pchat_admin_category_get(pchat_admin_t *a, const char *ident, pchat_category_row_t *out)
{
	long long id = category_id(a, ident);

	return id < 0 ? (int)id : get_category_row(a, id, out);
}

int pchat_admin_category_principals_of(pchat_admin_t *a, uint64_t category_id,
		pchat_principal_f cb, void *ctx)
{
	text_pair_ctx_t pc = {cb, ctx};
	pchat_db_val_t p = PCHAT_DB_I((long long)category_id);
	long long rc = run(a, A_CAT_PRINCIPALS, &p, 1, read_text_pair, &pc);

	return rc < 0 ? db_fail(a, rc) : 0;
}

typedef struct category_list_ctx {
	pchat_admin_t *a;
	pchat_category_row_f cb;
	void *ctx;
} category_list_ctx_t;

static int list_category(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	category_list_ctx_t *lc = ctx;
	pchat_category_row_t row;

	if (read_category_row(&row, cols, ncols) < 0)
		return PCHAT_ERR_FAILED;
	pchat_category_uri(lc->a->domain, row.guid, row.uri, sizeof(row.uri));
	return lc->cb(lc->ctx, &row);
}

int pchat_admin_category_list(pchat_admin_t *a, pchat_category_row_f cb, void *ctx)
{
	category_list_ctx_t lc = {a, cb, ctx};
	long long rc = run(a, A_CAT_LIST, NULL, 0, list_category, &lc);

	return rc < 0 ? db_fail(a, rc) : 0;
}

int pchat_admin_category_remove(pchat_admin_t *a, const char *ident)
{
	pchat_db_val_t p[2];
	long long id = category_id(a, ident), rc;

	if (id < 0)
		return (int)id;
	p[0] = PCHAT_DB_I(id);
	p[1] = PCHAT_DB_I(id);
	rc = run(a, A_CAT_DELETE, p, 2, NULL, NULL);
	if (rc < 0)
		return db_fail(a, rc);
	if (rc == 0)
		return fail(a, PCHAT_ERR_CONFLICT, "the category '%s' still has rooms; move or "
				"remove them first", ident);
	return 0;
}

int pchat_admin_category_principals(pchat_admin_t *a, const char *ident, const char *role,
		int add, const char *const *principals, int n, uint64_t *category)
{
	char (*norm)[PCHAT_USER_MAX];
	pchat_db_val_t p[3];
	long long id, rc;
	int i, r;

	if (one_of(a, "role", role, category_roles) < 0)
		return PCHAT_ERR_INVALID;
	if ((id = category_id(a, ident)) < 0)
		return (int)id;
	*category = (uint64_t)id;
	norm = pchat_calloc(n > 0 ? n : 1, PCHAT_USER_MAX);
	if (!norm)
		return fail(a, PCHAT_ERR_NO_MEMORY, "out of memory");
	r = normalize_principals(a, principals, n, norm);
	if (r == 0 && (r = begin(a)) == 0) {
		for (i = 0; r == 0 && i < n; i++) {
			p[0] = PCHAT_DB_I(id);
			p[1] = PCHAT_DB_CS(role);
			p[2] = PCHAT_DB_CS(norm[i]);
			rc = run(a, add ? A_CAT_PRINCIPAL_ADD : A_CAT_PRINCIPAL_REMOVE, p, 3, NULL, NULL);
			if (rc < 0)
				r = db_fail(a, rc);
		}
		r = finish(a, r);
	}
	pchat_free(norm);
	return r;
}

/* ------------------------------------------------------------------ moderation */

/* A page of the messages a moderation replaces, as their REPLACE events need them: at most
 * REPLACE_PAGE messages and, in this process's private memory, about REPLACE_PAGE_BYTES (a
 * message is up to two copies of a post of max_post_size bytes). */
#define REPLACE_PAGE 100
#define REPLACE_PAGE_BYTES (256 * 1024)

typedef struct replaced_msg {
	uint64_t seq;
	char *text;  /* the text it had (pchat_strdup), as its CHAT event recorded it */
	char *xml;   /* the post as stored */
	char author[PCHAT_USER_MAX];
	char posted[40];
} replaced_msg_t;

typedef struct replaced_page {
	replaced_msg_t m[REPLACE_PAGE];
	int n;
	size_t bytes;
	int failed;
	int full;    /* more messages may follow */
} replaced_page_t;

static int keep_replaced(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	replaced_page_t *pg = ctx;
	replaced_msg_t *m = &pg->m[pg->n];
	pchat_buf_t text;

	if (ncols != 4 || pg->n >= REPLACE_PAGE || cols[1].type != PCHAT_DB_STR)
		return PCHAT_ERR_FAILED;
	pchat_buf_init(&text);
	pchat_xccos_stored_text(cols[1].s, &text);
	m->seq = (uint64_t)pchat_db_int(&cols[0]);
	pg->bytes += text.len + cols[1].len;
	if (text.failed || !text.s) { /* nothing to take over: out of memory, or no text */
		m->text = text.failed ? NULL : pchat_strdup("");
		pchat_buf_free(&text);
	} else {
		m->text = text.s; /* the page owns it now */
	}
	m->xml = pchat_strdup(cols[1].s);
	snprintf(m->author, sizeof(m->author), "%s", cols[2].type == PCHAT_DB_STR ? cols[2].s : "");
	snprintf(m->posted, sizeof(m->posted), "%s", cols[3].type == PCHAT_DB_STR ? cols[3].s : "");
	pg->n++;
	if (!m->text || !m->xml)
		pg->failed = 1;
	/* the rest of the query's rows come again with the next page */
	pg->full = pg->n == REPLACE_PAGE || pg->bytes >= REPLACE_PAGE_BYTES;
	return pg->full && pg->n < REPLACE_PAGE ? 1 : 0;
}

static void free_page(replaced_page_t *pg)
{
	int i;

	for (i = 0; i < pg->n; i++) {
		pchat_free(pg->m[i].text);
		pchat_free(pg->m[i].xml);
	}
	pg->n = 0;
}

/* The REPLACE events of one page of messages. */
static long long record_replaced(pchat_admin_t *a, long long room, const event_room_t *er,
		const replaced_page_t *pg, const char *new_text)
{
	pchat_db_val_t ev[11];
	long long rc = 0;
	int i;

	for (i = 0; i < pg->n && rc >= 0; i++) {
		const replaced_msg_t *m = &pg->m[i];

		event_room_params(a, room, er, ev);
		ev[5] = PCHAT_DB_I((long long)m->seq);
		ev[6] = PCHAT_DB_CS(new_text);
		ev[7] = PCHAT_DB_CS(m->text);
		ev[8] = PCHAT_DB_CS(m->xml);
		ev[9] = PCHAT_DB_CS(m->author);
		ev[10] = PCHAT_DB_CS(m->posted);
		rc = run(a, A_EVENT_REPLACE, ev, 11, NULL, NULL);
		if (rc >= 0 && rc != 1)
			rc = PCHAT_ERR_FAILED;
	}
	return rc;
}

/* The REPLACE events of every message p (MSG_MATCH's parameters) names, a page at a time, the
 * text each had worked out from its XML as the chat does. */
static long long record_replacements(pchat_admin_t *a, pchat_db_val_t *p,
		const event_room_t *er, const char *new_text)
{
	static replaced_page_t pg; /* a few KB of names: off the stack */
	pchat_db_val_t q[12];
	long long rc;
	uint64_t after = 0;
	int full;

	memcpy(q, p, 10 * sizeof(*p));
	do {
		pg.n = pg.failed = pg.full = 0;
		pg.bytes = 0;
		q[10] = PCHAT_DB_I((long long)after);
		q[11] = PCHAT_DB_I(REPLACE_PAGE);
		rc = run(a, A_MSG_MATCHING, q, 12, keep_replaced, &pg);
		if (rc >= 0 && pg.failed)
			rc = PCHAT_ERR_NO_MEMORY;
		if (rc >= 0)
			rc = record_replaced(a, p[0].i, er, &pg, new_text);
		full = pg.full;
		if (pg.n)
			after = pg.m[pg.n - 1].seq;
		free_page(&pg);
	} while (rc >= 0 && full);
	return rc;
}

/* Runs the replacement (p: the new content, then MSG_MATCH's 10 parameters) and, when the
 * compliance service records, the REPLACE events of the same messages in the same transaction.
 * The messages posted after the command started are left alone, so the events and the
 * replacement concern the same ones. The number replaced, or the failure. */
static long long replace_messages(pchat_admin_t *a, pchat_db_val_t *p, const char *new_text)
{
	event_room_t er;
	long long rc;

	if (!a->record) {
		p[10] = PCHAT_DB_I(INT64_MAX);
		return run(a, A_MSG_REPLACE, p, 11, NULL, NULL);
	}
	if ((rc = pchat_db_begin(a->db)) != 0)
		return rc < 0 ? rc : PCHAT_ERR_FAILED;
	rc = event_room(a, p[1].i, &er);
	if (rc >= 0) {
		p[10] = PCHAT_DB_I(er.last_seq);
		rc = record_replacements(a, &p[1], &er, new_text);
	}
	if (rc >= 0)
		rc = run(a, A_MSG_REPLACE, p, 11, NULL, NULL);
	if (rc < 0) {
		pchat_db_rollback(a->db);
		return rc;
	}
	return pchat_db_commit(a->db) == 0 ? rc : PCHAT_ERR_FAILED;
}

/* The messages of a room the options user, keyword, after and before choose: MSG_MATCH's first
 * 9 parameters, pointing into the filter. */
typedef struct msg_filter {
	char author[PCHAT_USER_MAX], from[40], to[40];
	pchat_buf_t kw; /* the keyword as a LIKE pattern */
	pchat_db_val_t p[9];
} msg_filter_t;

/* Reads and checks the filter's options (every option must be in known; need_one: at least one
 * filter) and finds the room. f comes zeroed; pchat_buf_free(&f->kw) afterwards, whatever the
 * result. */
static int msg_filter(pchat_admin_t *a, const char *ident, const pchat_kv_t *opts, int nopts,
		const char *const *known, int need_one, msg_filter_t *f)
{
	const char *user = opt(opts, nopts, "user"), *keyword = opt(opts, nopts, "keyword");
	const char *after = opt(opts, nopts, "after"), *before = opt(opts, nopts, "before");
	long long id;

	if (known_options(a, opts, nopts, known) < 0)
		return PCHAT_ERR_INVALID;
	if (need_one && !user && !keyword && !after && !before)
		return fail(a, PCHAT_ERR_INVALID, "say which messages: user=, keyword=, after= or "
				"before=");
	if (user && pchat_user_normalize(user, strlen(user), f->author, sizeof(f->author)) < 0)
		return fail(a, PCHAT_ERR_INVALID, "user must be a SIP URI (sip:user@host)");
	if ((after && pchat_iso_to_datetime(after, f->from, sizeof(f->from)) < 0)
			|| (before && pchat_iso_to_datetime(before, f->to, sizeof(f->to)) < 0))
		return fail(a, PCHAT_ERR_INVALID, "after and before must be ISO 8601 times, e.g. "
				"2026-11-24T08:00:00Z");
	if (keyword && !keyword[0])
		return fail(a, PCHAT_ERR_INVALID, "keyword must not be empty");
	if ((id = room_id(a, ident)) < 0)
		return (int)id;
	/* the stored content is XML: the keyword is looked for in its escaped form */
	if (keyword) {
		pchat_buf_t esc;

		pchat_buf_init(&esc);
		pchat_buf_adds_xml(&esc, keyword);
		/* kw stays empty, so not ok, when the keyword could not be escaped */
		if (pchat_buf_ok(&esc))
			pchat_db_add_like(&f->kw, esc.s, esc.len);
		pchat_buf_free(&esc);
		/* a keyword that could not be escaped whole must not widen the choice */
		if (!pchat_buf_ok(&f->kw))
			return fail(a, PCHAT_ERR_NO_MEMORY, "out of memory");
	}
	f->p[0] = PCHAT_DB_I(id);
	f->p[1] = f->p[2] = user ? PCHAT_DB_CS(f->author) : PCHAT_DB_NUL;
	f->p[3] = f->p[4] = keyword ? PCHAT_DB_CS(f->kw.s) : PCHAT_DB_NUL;
	f->p[5] = f->p[6] = after ? PCHAT_DB_CS(f->from) : PCHAT_DB_NUL;
	f->p[7] = f->p[8] = before ? PCHAT_DB_CS(f->to) : PCHAT_DB_NUL;
	return 0;
}

int pchat_admin_message_remove(pchat_admin_t *a, const char *ident, const pchat_kv_t *opts,
		int nopts, long long *replaced)
{
	static const char *const known[] = {"user", "keyword", "after", "before", "replacement",
		NULL};
	const char *replacement = opt(opts, nopts, "replacement");
	msg_filter_t *f = pchat_calloc(1, sizeof(*f)); /* a zeroed kw frees */
	pchat_buf_t content;
	pchat_db_val_t p[11];
	long long rc;

	if (!f)
		return fail(a, PCHAT_ERR_NO_MEMORY, "out of memory");
	if (replacement && check_text(a, "replacement", replacement, 8000, 0) < 0)
		rc = PCHAT_ERR_INVALID;
	else
		rc = msg_filter(a, ident, opts, nopts, known, 1, f);
	if (rc < 0) {
		pchat_buf_free(&f->kw);
		pchat_free(f);
		return (int)rc;
	}
	/* the stored content is XML: the replacement is escaped into a <chat> */
	pchat_buf_init(&content);
	pchat_buf_adds(&content, "<chat>");
	pchat_buf_adds_xml(&content, replacement ? replacement : DEFAULT_REPLACEMENT);
	pchat_buf_adds(&content, "</chat>");
	p[0] = PCHAT_DB_CS(content.s);
	memcpy(&p[1], f->p, sizeof(f->p));
	rc = pchat_buf_ok(&content)
			? replace_messages(a, p, replacement ? replacement : DEFAULT_REPLACEMENT)
			: PCHAT_ERR_FAILED;
	pchat_buf_free(&content);
	pchat_buf_free(&f->kw);
	pchat_free(f);
	if (rc < 0)
		return db_fail(a, rc);
	*replaced = rc;
	return 0;
}

typedef struct msg_find_ctx {
	pchat_message_f cb;
	void *ctx;
	int n;
} msg_find_ctx_t;

static int read_found(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	msg_find_ctx_t *fc = ctx;
	pchat_message_row_t m;
	pchat_buf_t text;
	int rc;

	if (ncols != 5 || cols[1].type != PCHAT_DB_STR)
		return PCHAT_ERR_FAILED;
	pchat_buf_init(&text);
	pchat_xccos_stored_text(cols[1].s, &text);
	if (text.failed) {
		pchat_buf_free(&text);
		return PCHAT_ERR_NO_MEMORY;
	}
	m.seq = (uint64_t)pchat_db_int(&cols[0]);
	m.author = cols[2].type == PCHAT_DB_STR ? cols[2].s : "";
	m.time = cols[3].type == PCHAT_DB_STR ? cols[3].s : "";
	m.text = text.s ? text.s : "";
	m.moderated = pchat_db_int(&cols[4]) != 0;
	fc->n++;
	rc = fc->cb(fc->ctx, &m);
	pchat_buf_free(&text);
	return rc;
}

int pchat_admin_message_find(pchat_admin_t *a, const char *ident, const pchat_kv_t *opts,
		int nopts, int limit, pchat_message_f cb, void *ctx)
{
	static const char *const known[] = {"user", "keyword", "after", "before", NULL};
	msg_find_ctx_t fc = {cb, ctx, 0};
	msg_filter_t *f = pchat_calloc(1, sizeof(*f)); /* a zeroed kw frees */
	pchat_db_val_t p[11];
	long long rc;

	if (!f)
		return fail(a, PCHAT_ERR_NO_MEMORY, "out of memory");
	if (limit < 1)
		rc = fail(a, PCHAT_ERR_INVALID, "limit must be positive");
	else
		rc = msg_filter(a, ident, opts, nopts, known, 0, f);
	if (rc == 0) {
		memcpy(p, f->p, sizeof(f->p));
		p[9] = PCHAT_DB_I(INT64_MAX);
		p[10] = PCHAT_DB_I(limit);
		rc = run(a, A_MSG_FIND, p, 11, read_found, &fc);
		if (rc < 0)
			rc = db_fail(a, rc);
	}
	pchat_buf_free(&f->kw);
	pchat_free(f);
	return rc < 0 ? (int)rc : fc.n;
}

/* ------------------------------------------------------------------ settings */

int pchat_admin_config_set(pchat_admin_t *a, const char *name, const char *value)
{
	const pchat_setting_def_t *def = name ? pchat_setting_find(name) : NULL;
	char text[16];
	pchat_db_val_t p[2];
	long long rc;
	int v;

	if (!def)
		return fail(a, PCHAT_ERR_INVALID, "no setting '%s' (pchat.config.get lists them)",
				name ? name : "");
	if (!value || pchat_setting_parse(def, value, &v, a->err, sizeof(a->err)) < 0)
		return value ? PCHAT_ERR_INVALID
					 : fail(a, PCHAT_ERR_INVALID, "a value for %s is needed", name);
	snprintf(text, sizeof(text), "%d", v);
	p[0] = PCHAT_DB_CS(def->name);
	p[1] = PCHAT_DB_CS(text);
	rc = run(a, A_CONFIG_SET, p, 2, NULL, NULL);
	return rc < 0 ? db_fail(a, rc) : 0;
}

int pchat_admin_config_unset(pchat_admin_t *a, const char *name)
{
	pchat_db_val_t p;
	long long rc;

	if (!name || !pchat_setting_find(name))
		return fail(a, PCHAT_ERR_INVALID, "no setting '%s'", name ? name : "");
	p = PCHAT_DB_CS(name);
	rc = run(a, A_CONFIG_UNSET, &p, 1, NULL, NULL);
	return rc < 0 ? db_fail(a, rc) : 0;
}

int pchat_admin_config_update(pchat_admin_t *a, const pchat_kv_t *settings, int n)
{
	char err[sizeof(a->err)];
	int i, v, rc;

	if (n < 1)
		return fail(a, PCHAT_ERR_INVALID, "no setting to change");
	/* all are checked before any is written */
	for (i = 0; i < n; i++) {
		const pchat_setting_def_t *def = pchat_setting_find(settings[i].key);

		if (!def)
			return fail(a, PCHAT_ERR_INVALID, "no setting '%s'", settings[i].key);
		if (settings[i].value
				&& pchat_setting_parse(def, settings[i].value, &v, err, sizeof(err)) < 0)
			return fail(a, PCHAT_ERR_INVALID, "%s", err);
	}
	if ((rc = begin(a)) < 0)
		return rc;
	for (i = 0; rc == 0 && i < n; i++)
		rc = settings[i].value ? pchat_admin_config_set(a, settings[i].key, settings[i].value)
							   : pchat_admin_config_unset(a, settings[i].key);
	return finish(a, rc);
}

int pchat_admin_config_load(pchat_admin_t *a, pchat_config_f cb, void *ctx)
{
	text_pair_ctx_t pc = {cb, ctx};
	long long rc = run(a, A_CONFIG_LOAD, NULL, 0, read_text_pair, &pc);

	return rc < 0 ? db_fail(a, rc) : 0;
}

/* ------------------------------------------------------------------ policy */

/* "*" (everyone), a domain or a user, normalized into out. */
static int policy_scope(pchat_admin_t *a, const char *scope, char *out, size_t len)
{
	if (scope && strcmp(scope, "*") == 0) {
		snprintf(out, len, "*");
		return 0;
	}
	if (!scope || pchat_principal_normalize(scope, out, len) < 0)
		return fail(a, PCHAT_ERR_INVALID, "the scope must be * (everyone), a domain or a SIP "
				"URI (sip:user@host)");
	return 0;
}

int pchat_admin_policy_set(pchat_admin_t *a, const char *scope, const char *enabled,
		char *normalized, size_t len)
{
	pchat_db_val_t p[2];
	long long rc;
	int on = 0;

	if (policy_scope(a, scope, normalized, len) < 0)
		return PCHAT_ERR_INVALID;
	if (!enabled || parse_bool(a, "enabled", enabled, &on) < 0)
		return enabled ? PCHAT_ERR_INVALID
					   : fail(a, PCHAT_ERR_INVALID, "say yes (enabled) or no (disabled)");
	p[0] = PCHAT_DB_CS(normalized);
	p[1] = PCHAT_DB_I(on);
	rc = run(a, A_POLICY_SET, p, 2, NULL, NULL);
	return rc < 0 ? db_fail(a, rc) : 0;
}

int pchat_admin_policy_unset(pchat_admin_t *a, const char *scope, char *normalized, size_t len)
{
	pchat_db_val_t p;
	long long rc;

	if (policy_scope(a, scope, normalized, len) < 0)
		return PCHAT_ERR_INVALID;
	p = PCHAT_DB_CS(normalized);
	rc = run(a, A_POLICY_UNSET, &p, 1, NULL, NULL);
	if (rc < 0)
		return db_fail(a, rc);
	return rc == 0 ? fail(a, PCHAT_ERR_NOT_FOUND, "no rule for %s", normalized) : 0;
}

typedef struct policy_list_ctx {
	pchat_policy_f cb;
	void *ctx;
} policy_list_ctx_t;

static int read_policy_rule(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	policy_list_ctx_t *pc = ctx;

	if (ncols != 3)
		return PCHAT_ERR_FAILED;
	return pc->cb(pc->ctx, cols[0].s, pchat_db_int(&cols[1]) != 0, cols[2].s);
}

int pchat_admin_policy_list(pchat_admin_t *a, pchat_policy_f cb, void *ctx)
{
	policy_list_ctx_t pc = {cb, ctx};
	long long rc = run(a, A_POLICY_LIST, NULL, 0, read_policy_rule, &pc);

	return rc < 0 ? db_fail(a, rc) : 0;
}
