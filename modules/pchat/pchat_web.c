/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "pchat_alloc.h"
#include "pchat_result.h"
#include "pchat_uri.h"
#include "pchat_web.h"

enum {
	W_HA1,
	W_BLOCKED,
	W_FAILURE,
	W_FAILURES_FORGET,
	W_SESSION_INSERT,
	W_SESSION_GET,
	W_SESSION_EXTEND,
	W_SESSION_DELETE,
	W_TOKEN_GET,
	W_TOKEN_USED,
	W_TOKEN_INSERT,
	W_TOKEN_REVOKE,
	W_TOKEN_LIST,
	W_ADMIN_ADD,
	W_ADMIN_REMOVE,
	W_ADMIN_LIST,
	W_SWEEP_SESSIONS,
	W_SWEEP_TOKENS,
	W_SWEEP_FAILURES,
	W_RIGHTS,
	W_CREATOR_CATEGORIES,
	W_IS_CREATOR,
	W_ROOM_NAMED,
	W_COUNT
};

#define NOW "UTC_TIMESTAMP(6)"
/* principal IN (user, user's domain): a user holds every role given to the user's domain */
#define HOLDS "principal IN (?, ?)"

static const char *const web_sql[] = {
	[W_HA1] = "SELECT ha1 FROM subscriber WHERE username = ? AND domain = ?",
	/* seconds a subject still waits, when it is blocked */
	[W_BLOCKED] = "SELECT GREATEST(1, CEIL(TIMESTAMPDIFF(MICROSECOND, " NOW ", blocked_until) / "
				  "1000000)) FROM pchat_web_login_failure WHERE subject = ? AND blocked_until > " NOW,
	/* One more failure in the subject's window (a new window when the last one is over); the
	 * failure that reaches the limit blocks it. MariaDB assigns left to right, each assignment
	 * seeing the ones before: blocked_until first, window_start last. Parameters: subject,
	 * window, limit, block, window, window. */
	[W_FAILURE] = "INSERT INTO pchat_web_login_failure (subject, failures, window_start) VALUES "
				  "(?, 1, " NOW ") ON DUPLICATE KEY UPDATE blocked_until = IF(window_start < " NOW
				  " - INTERVAL ? SECOND, blocked_until, IF(failures + 1 >= ?, " NOW " + INTERVAL ? "
				  "SECOND, blocked_until)), failures = IF(window_start < " NOW " - INTERVAL ? SECOND, "
				  "1, failures + 1), window_start = IF(window_start < " NOW " - INTERVAL ? SECOND, "
				  NOW ", window_start)",
	[W_FAILURES_FORGET] = "DELETE FROM pchat_web_login_failure WHERE subject = ?",
	[W_SESSION_INSERT] = "INSERT INTO pchat_web_session (id_hash, principal, csrf, via, address, "
						 "expires, ends) VALUES (?, ?, ?, ?, ?, LEAST(" NOW " + INTERVAL ? SECOND, " NOW
						 " + INTERVAL ? SECOND), " NOW " + INTERVAL ? SECOND)",
/* whether the user is an administrator, read with the session or token: one query a request */
#define IS_ADMIN(p) "EXISTS (SELECT 1 FROM pchat_web_admin a WHERE a.principal = " p ")"
	/* the session, when its end as it stands now, whether it is due to be pushed on (at most
	 * once a minute: a page's requests are not each a write) and its user's administration.
	 * Parameters: idle, idle, the id's hash. */
	[W_SESSION_GET] = "SELECT s.principal, s.csrf, s.via, " PCHAT_SQL_ISO("LEAST(s.ends, "
					  "GREATEST(s.expires, " NOW " + INTERVAL ? SECOND))") ", s.expires < " NOW
					  " + INTERVAL ? SECOND - INTERVAL 60 SECOND, " IS_ADMIN("s.principal")
					  " FROM pchat_web_session s WHERE s.id_hash = ? AND s.expires > " NOW
					  " AND s.ends > " NOW,
	[W_SESSION_EXTEND] = "UPDATE pchat_web_session SET expires = LEAST(ends, " NOW " + INTERVAL ? "
						 "SECOND) WHERE id_hash = ?",
	[W_SESSION_DELETE] = "DELETE FROM pchat_web_session WHERE id_hash = ?",
	/* the token's user, whether its last use is due to be written (at most once a minute) and
	 * the user's administration */
	[W_TOKEN_GET] = "SELECT t.principal, t.last_used IS NULL OR t.last_used < " NOW " - INTERVAL "
					"60 SECOND, " IS_ADMIN("t.principal") " FROM pchat_web_token t WHERE "
					"t.token_hash = ? AND (t.expires IS NULL OR t.expires > " NOW ")",
	[W_TOKEN_USED] = "UPDATE pchat_web_token SET last_used = " NOW " WHERE token_hash = ?",
	[W_TOKEN_INSERT] = "INSERT INTO pchat_web_token (token_hash, principal, label, expires) VALUES "
					   "(?, ?, ?, IF(? > 0, " NOW " + INTERVAL ? DAY, NULL))",
	[W_TOKEN_REVOKE] = "DELETE FROM pchat_web_token WHERE id = ?",
	[W_TOKEN_LIST] = "SELECT id, principal, label, " PCHAT_SQL_ISO("created") ", COALESCE("
					 PCHAT_SQL_ISO("expires") ", ''), COALESCE(" PCHAT_SQL_ISO("last_used") ", '') "
					 "FROM pchat_web_token ORDER BY id",
	[W_ADMIN_ADD] = "INSERT IGNORE INTO pchat_web_admin (principal) VALUES (?)",
	[W_ADMIN_REMOVE] = "DELETE FROM pchat_web_admin WHERE principal = ?",
	[W_ADMIN_LIST] = "SELECT principal FROM pchat_web_admin ORDER BY principal",
	[W_SWEEP_SESSIONS] = "DELETE FROM pchat_web_session WHERE expires < " NOW " OR ends < " NOW,
	[W_SWEEP_TOKENS] = "DELETE FROM pchat_web_token WHERE expires < " NOW,
	[W_SWEEP_FAILURES] = "DELETE FROM pchat_web_login_failure WHERE window_start < " NOW
						 " - INTERVAL ? SECOND AND (blocked_until IS NULL OR blocked_until < " NOW ")",
	/* a room and the user's rights in it: manager (within the category's scope), creator in
	 * its category, any role at all. Parameters: (user, domain) x 5, then the room's guid. */
	[W_RIGHTS] = "SELECT r.id, r.privacy = 'secret', "
				 "EXISTS (SELECT 1 FROM pchat_room_principal p WHERE p.room_id = r.id AND "
				 "p.role = 'manager' AND p." HOLDS ") AND EXISTS (SELECT 1 FROM "
				 "pchat_category_principal a WHERE a.category_id = r.category_id AND a.role = "
				 "'allowed' AND a." HOLDS ") AND NOT EXISTS (SELECT 1 FROM "
				 "pchat_category_principal d WHERE d.category_id = r.category_id AND d.role = "
				 "'denied' AND d." HOLDS "), "
				 "EXISTS (SELECT 1 FROM pchat_category_principal c WHERE c.category_id = "
				 "r.category_id AND c.role = 'creator' AND c." HOLDS "), "
				 "EXISTS (SELECT 1 FROM pchat_room_principal m WHERE m.room_id = r.id AND m."
				 HOLDS ") FROM pchat_room r WHERE r.guid = ?",
	[W_CREATOR_CATEGORIES] = "SELECT c.guid, c.name, c.description FROM pchat_category c WHERE "
							 "EXISTS (SELECT 1 FROM pchat_category_principal p WHERE "
							 "p.category_id = c.id AND p.role = 'creator' AND p." HOLDS ") "
							 "ORDER BY c.name",
	[W_IS_CREATOR] = "SELECT 1 FROM pchat_category c JOIN pchat_category_principal p ON "
					 "p.category_id = c.id WHERE (c.guid = ? OR c.name = ?) AND p.role = "
					 "'creator' AND p." HOLDS,
	[W_ROOM_NAMED] = "SELECT guid FROM pchat_room WHERE name = ?",
};
const pchat_db_sqlset_t pchat_web_sqlset = {"web", web_sql, W_COUNT};

static long long run(pchat_db_t *db, int stmt, const pchat_db_val_t *p, int n,
		pchat_db_row_f cb, void *ctx)
{
	return pchat_db_exec(db, &pchat_web_sqlset, stmt, p, n, cb, ctx);
}

static const char *const via_names[] = {"session", "sso", "token"};
/* pchat_web_session.via */
static const char *const via_columns[] = {"password", "sso", "password"};

const char *pchat_web_via_name(pchat_web_via_t via)
{
	return via_names[via];
}

int pchat_web_same_secret(const char *given, const char *expected)
{
	size_t lg = strlen(given), le = strlen(expected), i;
	unsigned char d = lg != le;

	for (i = 0; i < le; i++)
		d |= (unsigned char)(expected[i] ^ (i < lg ? given[i] : 0));
	return d == 0;
}

int pchat_web_user(const char *in, const char *domain, char *out)
{
	char uri[PCHAT_USER_MAX + 8];

	if (!in || !in[0] || strlen(in) >= PCHAT_USER_MAX)
		return -1;
	if (!strchr(in, '@')) {
		/* a bare user name: a user of the chat domain */
		if (!domain)
			return -1;
		snprintf(uri, sizeof(uri), "sip:%s@%s", in, domain);
		in = uri;
	}
	if (pchat_principal_normalize(in, out, PCHAT_USER_MAX) < 0 || !strchr(out, '@'))
		return -1;
	return domain && strcasecmp(pchat_user_domain(out), domain) != 0 ? -1 : 0;
}

/* The digest as lower-case hex (2 * its size + 1 bytes). */
static int hash_hex(gnutls_digest_algorithm_t alg, const char *s, size_t n, char *hex)
{
	unsigned char d[64];
	unsigned i, len = gnutls_hash_get_len(alg);

	if (len == 0 || len > sizeof(d) || gnutls_hash_fast(alg, s, n, d) != 0)
		return -1;
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return 0;
}

static int secret_hash(const char *secret, char hex[65])
{
	return hash_hex(GNUTLS_DIG_SHA256, secret, strlen(secret), hex);
}

static int read_text(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	if (ncols < 1 || cols[0].type != PCHAT_DB_STR)
		return PCHAT_ERR_FAILED;
	snprintf(ctx, PCHAT_USER_MAX, "%s", cols[0].s);
	return 0;
}

static int read_int(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	if (ncols < 1)
		return PCHAT_ERR_FAILED;
	*(long long *)ctx = pchat_db_int(&cols[0]);
	return 0;
}

/* ------------------------------------------------------------------ sign-in */

/* Seconds the subject is still blocked (0: not blocked), or a failure. */
static long long blocked_for(pchat_db_t *db, const char *subject)
{
	pchat_db_val_t p = PCHAT_DB_CS(subject);
	long long wait = 0, rc = run(db, W_BLOCKED, &p, 1, read_int, &wait);

	return rc < 0 ? pchat_db_failure(rc) : wait;
}

static int count_failure(pchat_db_t *db, const pchat_web_conf_t *c, const char *subject)
{
	pchat_db_val_t p[6] = {PCHAT_DB_CS(subject), PCHAT_DB_I(c->login_window),
		PCHAT_DB_I(c->login_max_failures), PCHAT_DB_I(c->login_block),
		PCHAT_DB_I(c->login_window), PCHAT_DB_I(c->login_window)};
	long long rc = run(db, W_FAILURE, p, 6, NULL, NULL);

	return rc < 0 ? pchat_db_failure(rc) : 0;
}

/* 1 the password is the user's, 0 not (or no such user), or a failure. The digest is computed
 * whether the user exists or not. */
static int password_ok(pchat_db_t *db, const pchat_web_conf_t *c, const char *user,
		const char *password)
{
	char name[PCHAT_USER_MAX], stored[PCHAT_USER_MAX] = "", ha1[33], *text;
	const char *at = strchr(user, '@');
	pchat_db_val_t p[2];
	size_t n;
	long long rc;
	int ok;

	/* user is sip:NAME@DOMAIN */
	snprintf(name, sizeof(name), "%.*s", (int)(at - user - 4), user + 4);
	p[0] = PCHAT_DB_CS(name);
	p[1] = PCHAT_DB_CS(c->domain);
	rc = run(db, W_HA1, p, 2, read_text, stored);
	if (rc < 0)
		return pchat_db_failure(rc);
	n = strlen(name) + strlen(c->domain) + strlen(password) + 3;
	if (!(text = pchat_malloc(n)))
		return PCHAT_ERR_NO_MEMORY;
	snprintf(text, n, "%s:%s:%s", name, c->domain, password);
	ok = hash_hex(GNUTLS_DIG_MD5, text, strlen(text), ha1);
	memset(text, 0, n);
	pchat_free(text);
	if (ok < 0)
		return PCHAT_ERR_FAILED;
	return rc == 1 && stored[0] && pchat_web_same_secret(ha1, stored);
}

/* A user who signed in starts again from no failures (the address keeps its count). */
static int forget_failures(pchat_db_t *db, const char *subject)
{
	pchat_db_val_t p = PCHAT_DB_CS(subject);
	long long rc = run(db, W_FAILURES_FORGET, &p, 1, NULL, NULL);

	return rc < 0 ? pchat_db_failure(rc) : 0;
}

int pchat_web_login(pchat_db_t *db, const pchat_web_conf_t *c, const char *user,
		const char *password, const char *address, char *session, pchat_web_who_t *who,
		int *retry_after)
{
	char uri[PCHAT_USER_MAX], by_user[PCHAT_USER_MAX + 8], by_addr[80];
	long long wait_user, wait_addr;
	int ok, rc;

	*retry_after = 0;
	snprintf(by_addr, sizeof(by_addr), "addr:%s", address);
	if (pchat_web_user(user, c->domain, uri) < 0)
		snprintf(uri, sizeof(uri), "%s", "-");
	snprintf(by_user, sizeof(by_user), "user:%s", uri);
	if ((wait_user = blocked_for(db, by_user)) < 0)
		return (int)wait_user;
	if ((wait_addr = blocked_for(db, by_addr)) < 0)
		return (int)wait_addr;
	if (wait_user || wait_addr) {
		*retry_after = (int)(wait_user > wait_addr ? wait_user : wait_addr);
		return PCHAT_ERR_FULL;
	}
	ok = uri[0] == '-' ? 0 : password_ok(db, c, uri, password);
	if (ok < 0)
		return ok;
	if (!ok) {
		if ((rc = count_failure(db, c, by_user)) < 0 || (rc = count_failure(db, c, by_addr)) < 0)
			return rc;
		return PCHAT_ERR_FORBIDDEN;
	}
	if ((rc = forget_failures(db, by_user)) < 0)
		return rc;
	return pchat_web_session_open(db, c, uri, PCHAT_WEB_VIA_PASSWORD, address, session, who);
}

/* ------------------------------------------------------------------ sessions */

int pchat_web_session_open(pchat_db_t *db, const pchat_web_conf_t *c, const char *user,
		pchat_web_via_t via, const char *address, char *session, pchat_web_who_t *who)
{
	char id_hash[65];
	pchat_db_val_t p[8];
	long long rc;

	memset(who, 0, sizeof(*who));
	if (pchat_random_hex(session, PCHAT_WEB_SECRET_LEN / 2) < 0
			|| pchat_random_hex(who->csrf, PCHAT_WEB_SECRET_LEN / 2) < 0
			|| secret_hash(session, id_hash) < 0)
		return PCHAT_ERR_FAILED;
	snprintf(who->user, sizeof(who->user), "%s", user);
	who->via = via;
	p[0] = PCHAT_DB_CS(id_hash);
	p[1] = PCHAT_DB_CS(user);
	p[2] = PCHAT_DB_CS(who->csrf);
	p[3] = PCHAT_DB_CS(via_columns[via]);
	p[4] = PCHAT_DB_CS(address);
	p[5] = PCHAT_DB_I(c->session_idle);
	p[6] = PCHAT_DB_I(c->session_lifetime);
	p[7] = PCHAT_DB_I(c->session_lifetime);
	rc = run(db, W_SESSION_INSERT, p, 8, NULL, NULL);
	if (rc < 0)
		return pchat_db_failure(rc);
	/* the same arithmetic as the row's, for the answer */
	return pchat_web_session_check(db, c, session, who);
}

/* A session's or a token's row, and whether its time of last use is to be written. */
typedef struct found {
	pchat_web_who_t *who;
	int due;
} found_t;

static int read_session(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	found_t *f = ctx;

	if (ncols != 6)
		return PCHAT_ERR_FAILED;
	snprintf(f->who->user, sizeof(f->who->user), "%s", cols[0].s);
	snprintf(f->who->csrf, sizeof(f->who->csrf), "%s", cols[1].s);
	f->who->via = strcmp(cols[2].s, "sso") == 0 ? PCHAT_WEB_VIA_SSO : PCHAT_WEB_VIA_PASSWORD;
	snprintf(f->who->expires, sizeof(f->who->expires), "%.26sZ", cols[3].s);
	f->due = pchat_db_int(&cols[4]) != 0;
	f->who->admin = pchat_db_int(&cols[5]) != 0;
	return 0;
}

static int read_token_user(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	found_t *f = ctx;

	if (ncols != 3)
		return PCHAT_ERR_FAILED;
	snprintf(f->who->user, sizeof(f->who->user), "%s", cols[0].s);
	f->who->via = PCHAT_WEB_VIA_TOKEN;
	f->due = pchat_db_int(&cols[1]) != 0;
	f->who->admin = pchat_db_int(&cols[2]) != 0;
	return 0;
}

int pchat_web_session_check(pchat_db_t *db, const pchat_web_conf_t *c, const char *session,
		pchat_web_who_t *who)
{
	found_t f = {who, 0};
	char id_hash[65];
	pchat_db_val_t p[3];
	long long rc;

	memset(who, 0, sizeof(*who));
	if (strlen(session) != PCHAT_WEB_SECRET_LEN || secret_hash(session, id_hash) < 0)
		return PCHAT_ERR_NOT_FOUND;
	p[0] = PCHAT_DB_I(c->session_idle);
	p[1] = PCHAT_DB_I(c->session_idle);
	p[2] = PCHAT_DB_CS(id_hash);
	rc = run(db, W_SESSION_GET, p, 3, read_session, &f);
	if (rc < 0)
		return pchat_db_failure(rc);
	if (rc == 0)
		return PCHAT_ERR_NOT_FOUND;
	if (!f.due)
		return 0;
	p[0] = PCHAT_DB_I(c->session_idle);
	p[1] = PCHAT_DB_CS(id_hash);
	rc = run(db, W_SESSION_EXTEND, p, 2, NULL, NULL);
	return rc < 0 ? pchat_db_failure(rc) : 0;
}

int pchat_web_session_close(pchat_db_t *db, const char *session)
{
	char id_hash[65];
	pchat_db_val_t p;
	long long rc;

	if (secret_hash(session, id_hash) < 0)
		return PCHAT_ERR_FAILED;
	p = PCHAT_DB_CS(id_hash);
	rc = run(db, W_SESSION_DELETE, &p, 1, NULL, NULL);
	return rc < 0 ? pchat_db_failure(rc) : 0;
}

/* ------------------------------------------------------------------ API tokens */

int pchat_web_token_check(pchat_db_t *db, const char *token, pchat_web_who_t *who)
{
	found_t f = {who, 0};
	char id_hash[65];
	pchat_db_val_t p;
	long long rc;

	memset(who, 0, sizeof(*who));
	if (strlen(token) != PCHAT_WEB_SECRET_LEN || secret_hash(token, id_hash) < 0)
		return PCHAT_ERR_NOT_FOUND;
	p = PCHAT_DB_CS(id_hash);
	rc = run(db, W_TOKEN_GET, &p, 1, read_token_user, &f);
	if (rc < 0)
		return pchat_db_failure(rc);
	if (rc == 0)
		return PCHAT_ERR_NOT_FOUND;
	rc = f.due ? run(db, W_TOKEN_USED, &p, 1, NULL, NULL) : 0;
	return rc < 0 ? pchat_db_failure(rc) : 0;
}

int pchat_web_token_issue(pchat_db_t *db, const char *user, const char *label, int days,
		char *token, long long *id)
{
	char id_hash[65];
	pchat_db_val_t p[5];
	long long rc;

	if (pchat_random_hex(token, PCHAT_WEB_SECRET_LEN / 2) < 0 || secret_hash(token, id_hash) < 0)
		return PCHAT_ERR_FAILED;
	p[0] = PCHAT_DB_CS(id_hash);
	p[1] = PCHAT_DB_CS(user);
	p[2] = PCHAT_DB_CS(label ? label : "");
	p[3] = PCHAT_DB_I(days);
	p[4] = PCHAT_DB_I(days);
	rc = run(db, W_TOKEN_INSERT, p, 5, NULL, NULL);
	if (rc < 0)
		return pchat_db_failure(rc);
	*id = (long long)pchat_db_insert_id(db);
	return 0;
}

int pchat_web_token_revoke(pchat_db_t *db, long long id)
{
	pchat_db_val_t p = PCHAT_DB_I(id);
	long long rc = run(db, W_TOKEN_REVOKE, &p, 1, NULL, NULL);

	return rc < 0 ? pchat_db_failure(rc) : rc > 0;
}

typedef struct token_list {
	pchat_web_token_f cb;
	void *ctx;
} token_list_t;

static int read_token(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	token_list_t *tl = ctx;

	if (ncols != 6)
		return PCHAT_ERR_FAILED;
	return tl->cb(tl->ctx, pchat_db_int(&cols[0]), cols[1].s, cols[2].s, cols[3].s, cols[4].s,
			cols[5].s);
}

int pchat_web_token_list(pchat_db_t *db, pchat_web_token_f cb, void *ctx)
{
	token_list_t tl = {cb, ctx};
	long long rc = run(db, W_TOKEN_LIST, NULL, 0, read_token, &tl);

	return rc < 0 ? pchat_db_failure(rc) : 0;
}

/* ------------------------------------------------------------------ administrators */

int pchat_web_admin_set(pchat_db_t *db, const char *user, int admin)
{
	pchat_db_val_t p = PCHAT_DB_CS(user);
	long long rc = run(db, admin ? W_ADMIN_ADD : W_ADMIN_REMOVE, &p, 1, NULL, NULL);

	return rc < 0 ? pchat_db_failure(rc) : rc > 0;
}

typedef struct admin_list {
	int (*cb)(void *ctx, const char *user);
	void *ctx;
} admin_list_t;

static int read_admin(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	admin_list_t *al = ctx;

	return ncols == 1 ? al->cb(al->ctx, cols[0].s) : PCHAT_ERR_FAILED;
}

int pchat_web_admin_list(pchat_db_t *db, int (*cb)(void *ctx, const char *user), void *ctx)
{
	admin_list_t al = {cb, ctx};
	long long rc = run(db, W_ADMIN_LIST, NULL, 0, read_admin, &al);

	return rc < 0 ? pchat_db_failure(rc) : 0;
}

void pchat_web_sweep(pchat_db_t *db, const pchat_web_conf_t *c)
{
	pchat_db_val_t p = PCHAT_DB_I(c->login_window);

	run(db, W_SWEEP_SESSIONS, NULL, 0, NULL, NULL);
	run(db, W_SWEEP_TOKENS, NULL, 0, NULL, NULL);
	run(db, W_SWEEP_FAILURES, &p, 1, NULL, NULL);
}

/* ------------------------------------------------------------------ rights */

/* The user and the user's domain, the parameters of HOLDS, n times from p. */
static void holds(const char *user, pchat_db_val_t *p, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		p[2 * i] = PCHAT_DB_CS(user);
		p[2 * i + 1] = PCHAT_DB_CS(pchat_user_domain(user));
	}
}

static int read_rights(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	pchat_web_rights_t *rt = ctx;

	if (ncols != 5)
		return PCHAT_ERR_FAILED;
	rt->room_id = pchat_db_int(&cols[0]);
	rt->secret = pchat_db_int(&cols[1]) != 0;
	rt->manager = pchat_db_int(&cols[2]) != 0;
	rt->creator = pchat_db_int(&cols[3]) != 0;
	rt->any_role = pchat_db_int(&cols[4]) != 0;
	return 0;
}

int pchat_web_rights(pchat_db_t *db, const char *guid, const char *user, pchat_web_rights_t *rt)
{
	pchat_db_val_t p[11];
	long long rc;

	memset(rt, 0, sizeof(*rt));
	holds(user, p, 5);
	p[10] = PCHAT_DB_CS(guid);
	rc = run(db, W_RIGHTS, p, 11, read_rights, rt);
	return rc < 0 ? pchat_db_failure(rc) : rc == 0 ? PCHAT_ERR_NOT_FOUND : 0;
}

typedef struct text_rows {
	int (*cb)(void *ctx, const char *a, const char *b, const char *c);
	void *ctx;
} text_rows_t;

static int read_texts(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	text_rows_t *tr = ctx;

	return tr->cb(tr->ctx, cols[0].s, ncols > 1 ? cols[1].s : "", ncols > 2 ? cols[2].s : "");
}

int pchat_web_creator_categories(pchat_db_t *db, const char *user,
		int (*cb)(void *ctx, const char *guid, const char *name, const char *description),
		void *ctx)
{
	text_rows_t tr = {cb, ctx};
	pchat_db_val_t p[2];
	long long rc;

	holds(user, p, 1);
	rc = run(db, W_CREATOR_CATEGORIES, p, 2, read_texts, &tr);
	return rc < 0 ? pchat_db_failure(rc) : 0;
}

int pchat_web_is_creator(pchat_db_t *db, const char *category, const char *user)
{
	pchat_db_val_t p[4] = {PCHAT_DB_CS(category), PCHAT_DB_CS(category)};
	long long rc;

	holds(user, p + 2, 1);
	rc = run(db, W_IS_CREATOR, p, 4, NULL, NULL);
	return rc < 0 ? pchat_db_failure(rc) : rc > 0;
}

int pchat_web_room_named(pchat_db_t *db, const char *name, char *guid)
{
	pchat_db_val_t p = PCHAT_DB_CS(name);
	char found[PCHAT_USER_MAX] = "";
	long long rc = run(db, W_ROOM_NAMED, &p, 1, read_text, found);

	if (rc < 0)
		return pchat_db_failure(rc);
	snprintf(guid, PCHAT_GUID_LEN + 1, "%.36s", found);
	return rc > 0;
}
