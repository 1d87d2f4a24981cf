/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/dprint.h"

#include "pchat_alloc.h"
#include "pchat_fanout.h"
#include "pchat_httptext.h"
#include "pchat_node.h"
#include "pchat_uri.h"
#include "pchat_webapi.h"

#define PREFIX "/api/v1"
#define JSON_TYPE "application/json; charset=utf-8"
#define COOKIE "pchat_session"
#define PAGE_PATH "/PersistentChat/RM/"
/* objects and arrays a request body may nest */
#define BODY_DEPTH 8
/* principals a list of a request may hold */
#define LIST_MAX 1000
#define SSO_PROXIES_MAX 16
#define ADDR_MAX 64

static pchat_web_conf_t conf;
/* the administrators' endpoints, handed over at init */
static const pchat_api_endpoint_t no_endpoints[] = {{NULL, NULL, 0, NULL}};
static const pchat_api_endpoint_t *more_endpoints = no_endpoints;
static char sso_proxies[SSO_PROXIES_MAX][ADDR_MAX];
static int nsso_proxies;
static char page_url[512];

/* ------------------------------------------------------------------ answers */

void pchat_api_respond(pchat_api_t *q, int status)
{
	if (!pchat_jw_ok(&q->w) || q->w.depth != 0 || !pchat_buf_ok(&q->out)) {
		LM_ERR("API %s %s: the answer could not be written\n", pchat_http_method(q->r),
				pchat_http_path(q->r));
		pchat_http_respond(q->r, 500, JSON_TYPE, "{\"error\":\"failed\"}", 18);
		return;
	}
	pchat_http_respond(q->r, status, JSON_TYPE, q->out.s ? q->out.s : "{}",
			q->out.s ? q->out.len : 2);
}

void pchat_api_no_content(pchat_api_t *q)
{
	pchat_http_respond(q->r, 204, NULL, "", 0);
}

/* Starts a refusal's object; the caller adds members and answers with end_error. */
static void begin_error(pchat_api_t *q, const char *code, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	pchat_buf_reset(&q->out);
	pchat_jw_init(&q->w, &q->out);
	pchat_jw_object(&q->w, NULL);
	pchat_jw_str(&q->w, "error", code);
	pchat_jw_str(&q->w, "message", msg);
	pchat_http_log_note(q->r, "%s: %s", code, msg);
}

static void end_error(pchat_api_t *q, int status)
{
	pchat_jw_end(&q->w);
	pchat_api_respond(q, status);
}

void pchat_api_error(pchat_api_t *q, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	begin_error(q, code, fmt, ap);
	va_end(ap);
	end_error(q, status);
}

/* A refusal that names the body member at fault. */
static void field_error(pchat_api_t *q, const char *field, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

static void field_error(pchat_api_t *q, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	begin_error(q, "invalid", fmt, ap);
	va_end(ap);
	pchat_jw_str(&q->w, "field", field);
	end_error(q, 400);
}

static void unavailable(pchat_api_t *q)
{
	pchat_http_add_header(q->r, "Retry-After", "5");
	pchat_api_error(q, 503, "unavailable", "the database is unreachable: try again in a few "
			"seconds");
}

void pchat_api_fail(pchat_api_t *q, int rc)
{
	const char *err = q->a.err[0] ? q->a.err : pchat_rc_text(rc);

	switch (rc) {
	case PCHAT_ERR_DOWN:
		unavailable(q);
		break;
	case PCHAT_ERR_INVALID:
		pchat_api_error(q, 400, "invalid", "%s", err);
		break;
	case PCHAT_ERR_NOT_FOUND:
		pchat_api_error(q, 404, "not_found", "%s", err);
		break;
	case PCHAT_ERR_FORBIDDEN:
		pchat_api_error(q, 403, "forbidden", "%s", err);
		break;
	case PCHAT_ERR_CONFLICT:
	case PCHAT_ERR_DUPLICATE:
		pchat_api_error(q, 409, "conflict", "%s", err);
		break;
	case PCHAT_ERR_STALE:
		pchat_api_error(q, 409, "stale", "%s", err);
		break;
	default:
		LM_ERR("API %s %s: %s\n", pchat_http_method(q->r), pchat_http_path(q->r), err);
		pchat_api_error(q, 500, "failed", "the server failed: %s", pchat_rc_text(rc));
	}
}

/* ------------------------------------------------------------------ body members */

static int wrong_type(pchat_api_t *q, const char *key, const char *what)
{
	field_error(q, key, "%s must be %s", key, what);
	return -1;
}

int pchat_api_known(pchat_api_t *q, const char *const *known)
{
	const pchat_json_t *m;
	int k;

	for (m = q->body ? q->body->child : NULL; m; m = m->next) {
		for (k = 0; known[k] && strcmp(known[k], m->key) != 0; k++)
			;
		if (!known[k]) {
			field_error(q, m->key, "unknown member '%s'", m->key);
			return -1;
		}
	}
	return 0;
}

int pchat_api_str(pchat_api_t *q, const char *key, size_t max, const char **out)
{
	const pchat_json_t *v = pchat_json_get(q->body, key);

	if (!v)
		return 1;
	if (v->type != PCHAT_JSON_STRING)
		return wrong_type(q, key, "a string");
	if (v->len > max) {
		field_error(q, key, "%s is longer than %zu bytes", key, max);
		return -1;
	}
	*out = v->s;
	return 0;
}

int pchat_api_bool(pchat_api_t *q, const char *key, int *out)
{
	const pchat_json_t *v = pchat_json_get(q->body, key);

	if (!v)
		return 1;
	if (v->type != PCHAT_JSON_BOOL)
		return wrong_type(q, key, "true or false");
	*out = v->b;
	return 0;
}

int pchat_api_int(pchat_api_t *q, const char *key, long long *out)
{
	const pchat_json_t *v = pchat_json_get(q->body, key);

	if (!v)
		return 1;
	if (v->type != PCHAT_JSON_NUMBER || !v->is_int)
		return wrong_type(q, key, "a whole number");
	*out = v->i;
	return 0;
}

int pchat_api_strlist(pchat_api_t *q, const char *key, int max, const char ***out, int *n)
{
	const pchat_json_t *v = pchat_json_get(q->body, key), *e;
	const char **list;
	int i = 0;

	if (!v)
		return 1;
	if (v->type != PCHAT_JSON_ARRAY)
		return wrong_type(q, key, "a list of strings");
	if (v->len > (size_t)max) {
		field_error(q, key, "%s holds more than %d entries", key, max);
		return -1;
	}
	if (!(list = pchat_calloc(v->len ? v->len : 1, sizeof(*list)))) {
		pchat_api_error(q, 500, "failed", "out of memory");
		return -1;
	}
	for (e = v->child; e; e = e->next) {
		if (e->type != PCHAT_JSON_STRING) {
			pchat_free(list);
			return wrong_type(q, key, "a list of strings");
		}
		list[i++] = e->s;
	}
	*out = list;
	*n = i;
	return 0;
}

/* ------------------------------------------------------------------ who is calling */

/* The value of cookie name in the Cookie header, at most size - 1 bytes; 0 found, -1 not. */
static int cookie(pchat_http_req_t *r, const char *name, char *out, size_t size)
{
	const char *h = pchat_http_header(r, "Cookie"), *p;
	size_t nl = strlen(name), vl;

	for (p = h; p && *p; p += strcspn(p, ";"), p += *p == ';') {
		p += strspn(p, " \t");
		if (strncmp(p, name, nl) != 0 || p[nl] != '=')
			continue;
		p += nl + 1;
		vl = strcspn(p, "; \t");
		if (vl >= size)
			return -1;
		memcpy(out, p, vl);
		out[vl] = '\0';
		return 0;
	}
	return -1;
}

static void set_cookie(pchat_http_req_t *r, const char *value, int max_age)
{
	char v[256];

	snprintf(v, sizeof(v), COOKIE "=%s; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=%d",
			value, max_age);
	pchat_http_add_header(r, "Set-Cookie", v);
}

static int from_sso_proxy(pchat_http_req_t *r)
{
	int i;

	for (i = 0; i < nsso_proxies; i++)
		if (strcmp(pchat_http_peer(r), sso_proxies[i]) == 0)
			return 1;
	return 0;
}

/* Single sign-on: the user the trusted proxy names, in the session the cookie names when it
 * is that user's, else in a new one (its cookie set on the answer). 0, 1 no such header, or
 * a failure (answered). */
static int sso(pchat_api_t *q, const char *session)
{
	const char *h;
	char user[PCHAT_USER_MAX], sid[PCHAT_WEB_SECRET_LEN + 1];
	int rc;

	if (!pchat_params.web_sso_header[0] || !from_sso_proxy(q->r)
			|| !(h = pchat_http_header(q->r, pchat_params.web_sso_header)))
		return 1;
	/* a proxy that adds its header to the client's instead of replacing it: the client's
	 * would come first */
	if (pchat_http_header_count(q->r, pchat_params.web_sso_header) != 1) {
		LM_WARN("web: %s from the sign-on proxy %s more than once: refused (the proxy must "
				"replace the client's header, not add to it)\n", pchat_params.web_sso_header,
				pchat_http_peer(q->r));
		pchat_api_error(q, 401, "unauthenticated", "the sign-on header came more than once");
		return -1;
	}
	if (pchat_web_user(h, strchr(h, '@') ? NULL : pchat_params.domain, user) < 0) {
		pchat_api_error(q, 401, "unauthenticated", "the sign-on header names no user");
		return -1;
	}
	if (session && pchat_web_session_check(q->a.db, &conf, session, &q->who) == 0
			&& strcasecmp(q->who.user, user) == 0)
		return 0;
	rc = pchat_web_session_open(q->a.db, &conf, user, PCHAT_WEB_VIA_SSO, pchat_http_peer(q->r),
			sid, &q->who);
	if (rc < 0) {
		pchat_api_fail(q, rc);
		return -1;
	}
	set_cookie(q->r, sid, conf.session_lifetime);
	return 0;
}

static int is_change(pchat_http_req_t *r)
{
	return strcmp(pchat_http_method(r), "GET") != 0 && strcmp(pchat_http_method(r), "HEAD") != 0;
}

/* Who the caller is (q->who): 0, or -1 with the refusal answered. */
static int authenticate(pchat_api_t *q, int need)
{
	const char *auth = pchat_http_header(q->r, "Authorization"), *csrf;
	char session[PCHAT_WEB_SECRET_LEN + 2];
	int has_session = cookie(q->r, COOKIE, session, sizeof(session)) == 0;
	int rc;

	if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
		rc = pchat_web_token_check(q->a.db, auth + 7, &q->who);
	} else if ((rc = sso(q, has_session ? session : NULL)) < 0) {
		return -1;
	} else if (rc == 1) {
		rc = has_session ? pchat_web_session_check(q->a.db, &conf, session, &q->who)
						 : PCHAT_ERR_NOT_FOUND;
		/* a browser on the sign-in page that later signs in again: end the old cookie */
		if (rc == PCHAT_ERR_NOT_FOUND && has_session)
			set_cookie(q->r, "", 0);
	}
	if (rc == PCHAT_ERR_NOT_FOUND) {
		pchat_api_error(q, 401, "unauthenticated", has_session ? "your session has ended: "
				"sign in again" : "sign in first (or give an API token)");
		return -1;
	}
	if (rc < 0) {
		pchat_api_fail(q, rc);
		return -1;
	}
	/* a cookie travels with every request the browser makes, wherever it comes from: a change
	 * must also prove that it comes from the page, which alone knows the CSRF token */
	if (q->who.via != PCHAT_WEB_VIA_TOKEN && is_change(q->r)
			&& (!(csrf = pchat_http_header(q->r, "X-CSRF-Token"))
					|| !pchat_web_same_secret(csrf, q->who.csrf))) {
		pchat_api_error(q, 403, "csrf", "the change does not carry this session's CSRF token "
				"(X-CSRF-Token): reload the page");
		return -1;
	}
	q->a.actor = q->who.user;
	if (need == PCHAT_API_ADMIN && !q->who.admin) {
		pchat_api_error(q, 403, "forbidden", "only administrators may do this");
		return -1;
	}
	pchat_http_log_note(q->r, "%s via %s", q->who.user, pchat_web_via_name(q->who.via));
	return 0;
}

/* ------------------------------------------------------------------ sign-in */

static void write_me(pchat_api_t *q)
{
	pchat_jw_object(&q->w, NULL);
	pchat_jw_str(&q->w, "user", q->who.user);
	pchat_jw_bool(&q->w, "admin", q->who.admin);
	pchat_jw_str(&q->w, "csrf", q->who.csrf);
	pchat_jw_str(&q->w, "expires", q->who.expires[0] ? q->who.expires : NULL);
	pchat_jw_str(&q->w, "via", pchat_web_via_name(q->who.via));
	pchat_jw_str(&q->w, "room_management_url", page_url);
	pchat_jw_end(&q->w);
}

static void api_login(pchat_api_t *q)
{
	static const char *const known[] = {"user", "password", NULL};
	const char *user = NULL, *password = NULL;
	char session[PCHAT_WEB_SECRET_LEN + 1], wait[16], logged[160];
	int rc, retry = 0;

	if (pchat_api_known(q, known) < 0 || pchat_api_str(q, "user", 255, &user) < 0
			|| pchat_api_str(q, "password", 1024, &password) < 0)
		return;
	if (!user || !password || !user[0]) {
		field_error(q, user && user[0] ? "password" : "user", "user and password are needed");
		return;
	}
	/* the name as typed, for the log: a line break in it must not forge a line */
	pchat_httptext_escape(user, strlen(user), logged, sizeof(logged));
	rc = pchat_web_login(q->a.db, &conf, user, password, pchat_http_peer(q->r), session,
			&q->who, &retry);
	if (rc == PCHAT_ERR_FULL) {
		snprintf(wait, sizeof(wait), "%d", retry);
		pchat_http_add_header(q->r, "Retry-After", wait);
		LM_NOTICE("web sign-in of '%s' from %s refused: too many failures, blocked for %d s\n",
				logged, pchat_http_peer(q->r), retry);
		pchat_api_error(q, 429, "throttled", "too many failed sign-ins: try again in %d "
				"seconds", retry);
		return;
	}
	if (rc == PCHAT_ERR_FORBIDDEN) {
		LM_NOTICE("web sign-in of '%s' from %s failed\n", logged, pchat_http_peer(q->r));
		pchat_api_error(q, 401, "bad_credentials", "wrong user name or password");
		return;
	}
	if (rc < 0) {
		pchat_api_fail(q, rc);
		return;
	}
	LM_INFO("web sign-in of %s from %s\n", q->who.user, pchat_http_peer(q->r));
	set_cookie(q->r, session, conf.session_lifetime);
	write_me(q);
	pchat_api_respond(q, 200);
}

static void api_logout(pchat_api_t *q)
{
	char session[PCHAT_WEB_SECRET_LEN + 2];
	int rc = 0;

	if (q->who.via != PCHAT_WEB_VIA_TOKEN && cookie(q->r, COOKIE, session, sizeof(session)) == 0)
		rc = pchat_web_session_close(q->a.db, session);
	if (rc < 0) {
		pchat_api_fail(q, rc);
		return;
	}
	set_cookie(q->r, "", 0);
	pchat_api_no_content(q);
}

static void api_me(pchat_api_t *q)
{
	write_me(q);
	pchat_api_respond(q, 200);
}

/* ------------------------------------------------------------------ rights */

typedef pchat_web_rights_t rights_t;

/* What a request does to a room, and who may: a room's managers see and change it, the
 * creators of its category see and delete it, administrators do everything. */
enum room_need { ROOM_SEE, ROOM_CHANGE, ROOM_DELETE };

/* The room of the path and the caller's rights in it: 0, or -1 answered (404 for a room the
 * caller may not even know of, 403 for one the caller may know but not do this to). */
static int room_rights(pchat_api_t *q, enum room_need need, rights_t *rt)
{
	char guid[PCHAT_GUID_LEN + 1];
	int rc;

	memset(rt, 0, sizeof(*rt));
	if (pchat_guid_normalize(q->id, guid) < 0) {
		pchat_api_error(q, 404, "not_found", "no room %s", q->id);
		return -1;
	}
	rc = pchat_web_rights(q->a.db, guid, q->who.user, rt);
	if (rc < 0 && rc != PCHAT_ERR_NOT_FOUND) {
		pchat_api_fail(q, rc);
		return -1;
	}
	if (rc < 0 || (!q->who.admin && rt->secret && !rt->any_role && !rt->creator)) {
		pchat_api_error(q, 404, "not_found", "no room %s", q->id);
		return -1;
	}
	if (q->who.admin || (need != ROOM_CHANGE && rt->creator)
			|| (need != ROOM_DELETE && rt->manager))
		return 0;
	pchat_api_error(q, 403, "forbidden", need == ROOM_DELETE ? "only the creators of the room's "
			"category may delete it" : "you do not manage this room");
	return -1;
}

/* 1 the caller may create rooms in the category (GUID or name), 0 not, or a failure. */
static int creator_in(pchat_api_t *q, const char *category)
{
	return q->who.admin ? 1 : pchat_web_is_creator(q->a.db, category, q->who.user);
}

/* ------------------------------------------------------------------ rooms */

typedef struct list_writer {
	pchat_api_t *q;
	const char *role;
} list_writer_t;

static int write_principal(void *ctx, const char *role, const char *principal)
{
	list_writer_t *lw = ctx;

	if (strcmp(role, lw->role) == 0)
		pchat_jw_str(&lw->q->w, NULL, principal);
	return 0;
}

int pchat_api_principal_list(pchat_api_t *q, const char *key, const char *role,
		pchat_principals_of_f fetch, uint64_t id)
{
	list_writer_t lw = {q, role};
	int rc;

	pchat_jw_array(&q->w, key);
	rc = fetch(&q->a, id, write_principal, &lw);
	pchat_jw_end(&q->w);
	return rc;
}

/* The room's members as the API's lists show a room, into the object open now. */
static void room_fields(pchat_api_t *q, const pchat_room_row_t *r)
{
	pchat_jw_str(&q->w, "guid", r->guid);
	pchat_jw_str(&q->w, "uri", r->uri);
	pchat_jw_str(&q->w, "name", r->name);
	pchat_jw_str(&q->w, "description", r->description);
	pchat_jw_str(&q->w, "topic", r->topic);
	pchat_jw_object(&q->w, "category");
	pchat_jw_str(&q->w, "guid", r->category_guid);
	pchat_jw_str(&q->w, "name", r->category);
	pchat_jw_end(&q->w);
	pchat_jw_str(&q->w, "privacy", r->privacy);
	pchat_jw_str(&q->w, "type", r->type);
	pchat_jw_str(&q->w, "invitations", r->invitations);
	pchat_jw_str(&q->w, "addin", r->addin);
	pchat_jw_bool(&q->w, "disabled", r->disabled);
	pchat_jw_int(&q->w, "version", (long long)r->version);
	pchat_jw_str(&q->w, "created", r->created);
	pchat_jw_int(&q->w, "messages", (long long)r->messages);
}

void pchat_api_room_json(pchat_api_t *q, const char *key, const pchat_room_row_t *r)
{
	pchat_jw_object(&q->w, key);
	room_fields(q, r);
	pchat_jw_end(&q->w);
}

/* The room with its lists and the caller's rights in it, as the API shows one room, into the
 * object open now. */
static int room_members(pchat_api_t *q, const char *ident, const rights_t *rt)
{
	static const char *const roles[] = {"manager", "member", "presenter"};
	static const char *const keys[] = {"managers", "members", "presenters"};
	pchat_room_row_t *row = pchat_malloc(sizeof(*row));
	int rc, i;

	if (!row)
		return PCHAT_ERR_NO_MEMORY;
	rc = pchat_admin_room_get(&q->a, ident, row);
	if (rc == 0) {
		room_fields(q, row);
		for (i = 0; rc == 0 && i < 3; i++)
			rc = pchat_api_principal_list(q, keys[i], roles[i], pchat_admin_room_principals_of,
					row->id);
		pchat_jw_object(&q->w, "may");
		pchat_jw_bool(&q->w, "edit", q->who.admin || rt->manager);
		pchat_jw_bool(&q->w, "delete", q->who.admin || rt->creator);
		/* to a category where the caller creates rooms: checked when it is named */
		pchat_jw_bool(&q->w, "move", q->who.admin || rt->manager);
		pchat_jw_end(&q->w);
	}
	pchat_free(row);
	return rc;
}

static void answer_room(pchat_api_t *q, const char *guid, const rights_t *rt, int status)
{
	int rc;

	pchat_buf_reset(&q->out);
	pchat_jw_init(&q->w, &q->out);
	pchat_jw_object(&q->w, NULL);
	if ((rc = room_members(q, guid, rt)) < 0) {
		pchat_api_fail(q, rc);
		return;
	}
	pchat_jw_end(&q->w);
	pchat_api_respond(q, status);
}

static int write_listed_room(void *ctx, const pchat_room_row_t *r)
{
	pchat_api_room_json(ctx, NULL, r);
	return 0;
}

static void api_my_rooms(pchat_api_t *q)
{
	static const char *const roles[] = {"manager", "member"};
	static const char *const keys[] = {"managed", "member"};
	pchat_kv_t opts[2] = {{NULL, q->who.user}, {"limit", "1000"}};
	int i, rc = 0;

	pchat_jw_object(&q->w, NULL);
	for (i = 0; rc >= 0 && i < 2; i++) {
		opts[0].key = roles[i];
		pchat_jw_array(&q->w, keys[i]);
		rc = pchat_admin_room_list(&q->a, opts, 2, write_listed_room, q);
		pchat_jw_end(&q->w);
	}
	if (rc < 0) {
		pchat_api_fail(q, rc);
		return;
	}
	pchat_jw_end(&q->w);
	pchat_api_respond(q, 200);
}

/* The check the page makes while a name is typed. */
static void api_check_name(pchat_api_t *q)
{
	const char *name = pchat_http_query(q->r, "name");
	char guid[PCHAT_GUID_LEN + 1] = "";
	size_t chars;
	int rc;

	if (!name)
		name = "";
	chars = pchat_utf8_valid(name, strlen(name)) ? pchat_utf8_chars(name, strlen(name)) : 0;
	pchat_jw_object(&q->w, NULL);
	pchat_jw_str(&q->w, "name", name);
	if (!name[0] || !chars || chars > 256 || strpbrk(name, "\t\r\n")) {
		pchat_jw_bool(&q->w, "available", 0);
		pchat_jw_str(&q->w, "message", !name[0] ? "a name is needed" : chars > 256
						? "at most 256 characters" : "not a valid name");
	} else {
		if ((rc = pchat_web_room_named(q->a.db, name, guid)) < 0) {
			pchat_api_fail(q, rc);
			return;
		}
		pchat_jw_bool(&q->w, "available", rc == 0);
		pchat_jw_str(&q->w, "message", rc == 0 ? "available" : "a room has this name already");
	}
	pchat_jw_end(&q->w);
	pchat_api_respond(q, 200);
}

static int write_category(void *ctx, const char *guid, const char *name,
		const char *description)
{
	pchat_api_t *q = ctx;

	pchat_jw_object(&q->w, NULL);
	pchat_jw_str(&q->w, "guid", guid);
	pchat_jw_str(&q->w, "name", name);
	pchat_jw_str(&q->w, "description", description);
	pchat_jw_end(&q->w);
	return 0;
}

static int write_any_category(void *ctx, const pchat_category_row_t *c)
{
	pchat_api_t *q = ctx;

	pchat_jw_object(&q->w, NULL);
	pchat_jw_str(&q->w, "guid", c->guid);
	pchat_jw_str(&q->w, "name", c->name);
	pchat_jw_str(&q->w, "description", c->description);
	pchat_jw_end(&q->w);
	return 0;
}

static void api_categories(pchat_api_t *q)
{
	int rc;

	pchat_jw_object(&q->w, NULL);
	pchat_jw_array(&q->w, "categories");
	if (q->who.admin)
		rc = pchat_admin_category_list(&q->a, write_any_category, q);
	else
		rc = pchat_web_creator_categories(q->a.db, q->who.user, write_category, q);
	if (rc < 0) {
		pchat_api_fail(q, rc);
		return;
	}
	pchat_jw_end(&q->w);
	pchat_jw_end(&q->w);
	pchat_api_respond(q, 200);
}

/* ---- a room's fields from the body ---- */

/* The principals refused by a change, for its answer. */
typedef struct refusals {
	pchat_buf_t buf;
	pchat_jw_t w;
	int n;
} refusals_t;

static void note_refused(void *ctx, const char *principal, const char *reason)
{
	refusals_t *rf = ctx;

	pchat_jw_object(&rf->w, NULL);
	pchat_jw_str(&rf->w, "principal", principal);
	pchat_jw_str(&rf->w, "reason", reason);
	pchat_jw_end(&rf->w);
	rf->n++;
}

static void refusals_init(refusals_t *rf)
{
	pchat_buf_init(&rf->buf);
	pchat_jw_init(&rf->w, &rf->buf);
	pchat_jw_array(&rf->w, NULL);
	rf->n = 0;
}

/* Answers a refused change: 400 scope with every principal that was refused, or what rc
 * says. */
static void change_refused(pchat_api_t *q, int rc, refusals_t *rf)
{
	if (rc != PCHAT_ERR_INVALID || rf->n == 0) {
		pchat_api_fail(q, rc);
		return;
	}
	pchat_jw_end(&rf->w);
	if (!pchat_jw_done(&rf->w)) {
		pchat_api_error(q, 500, "failed", "out of memory");
		return;
	}
	pchat_buf_reset(&q->out);
	pchat_jw_init(&q->w, &q->out);
	pchat_jw_object(&q->w, NULL);
	pchat_jw_str(&q->w, "error", "scope");
	pchat_jw_str(&q->w, "message", q->a.err);
	pchat_buf_adds(&q->out, ",\"principals\":");
	pchat_buf_add(&q->out, rf->buf.s, rf->buf.len);
	pchat_jw_end(&q->w);
	pchat_http_log_note(q->r, "scope: %s", q->a.err);
	pchat_api_respond(q, 400);
}

/* A room's body as options and lists for pchat_admin. */
typedef struct room_change {
	pchat_kv_t opts[10];
	int nopts;
	pchat_role_list_t lists[3];
	int nlists;
	const char **owned[3]; /* the lists' arrays, freed at the end */
	const char *name;
	const char *category;
	long long version;
	int has_version;
} room_change_t;

static void room_change_free(room_change_t *c)
{
	int i;

	for (i = 0; i < 3; i++)
		pchat_free(c->owned[i]);
}

static int take_text(pchat_api_t *q, room_change_t *c, const char *key, size_t max)
{
	const char *v;
	int rc = pchat_api_str(q, key, max, &v);

	if (rc == 0) {
		c->opts[c->nopts].key = key;
		c->opts[c->nopts++].value = v;
	}
	return rc < 0 ? -1 : 0;
}

static int take_list(pchat_api_t *q, room_change_t *c, const char *key, const char *role)
{
	const char **list;
	int n, rc = pchat_api_strlist(q, key, LIST_MAX, &list, &n);

	if (rc == 0) {
		c->owned[c->nlists] = list;
		c->lists[c->nlists++] = (pchat_role_list_t){role, list, n};
	}
	return rc < 0 ? -1 : 0;
}

/* Reads the body's room fields; administrators' fields only from administrators. 0, or -1
 * answered. */
static int read_room_change(pchat_api_t *q, room_change_t *c, int creating)
{
	static const char *const known[] = {"version", "name", "description", "privacy",
		"invitations", "addin", "disabled", "category", "managers", "members", "type",
		"presenters", "topic", NULL};
	static const char *const texts[] = {"description", "privacy", "invitations", "addin",
		"type", "topic", NULL};
	int i, disabled;

	memset(c, 0, sizeof(*c));
	if (!q->body) {
		field_error(q, "name", "a JSON object with the room's fields is needed");
		return -1;
	}
	if (pchat_api_known(q, known) < 0)
		return -1;
	if (!q->who.admin && (pchat_json_get(q->body, "type") || pchat_json_get(q->body, "presenters"))) {
		pchat_api_error(q, 403, "forbidden", "only administrators set a room's type and "
				"presenters");
		return -1;
	}
	if (pchat_api_str(q, "name", 4096, &c->name) < 0
			|| pchat_api_str(q, "category", 1024, &c->category) < 0)
		return -1;
	if (!creating && c->name) {
		c->opts[c->nopts].key = "name";
		c->opts[c->nopts++].value = c->name;
	}
	if (!creating && c->category) {
		c->opts[c->nopts].key = "category";
		c->opts[c->nopts++].value = c->category;
	}
	for (i = 0; texts[i]; i++)
		if (take_text(q, c, texts[i], 4096) < 0)
			return -1;
	if ((i = pchat_api_bool(q, "disabled", &disabled)) < 0)
		return -1;
	if (i == 0) {
		c->opts[c->nopts].key = "disabled";
		c->opts[c->nopts++].value = disabled ? "yes" : "no";
	}
	if (take_list(q, c, "managers", "manager") < 0 || take_list(q, c, "members", "member") < 0
			|| take_list(q, c, "presenters", "presenter") < 0)
		return -1;
	if ((i = pchat_api_int(q, "version", &c->version)) < 0)
		return -1;
	c->has_version = i == 0;
	return 0;
}

/* A room keeps a manager: without one nobody but creators could edit it. */
static int keeps_a_manager(pchat_api_t *q, const room_change_t *c)
{
	int i;

	for (i = 0; i < c->nlists; i++) {
		if (strcmp(c->lists[i].role, "manager") == 0 && c->lists[i].n == 0) {
			field_error(q, "managers", "a room needs at least one manager");
			return 0;
		}
	}
	return 1;
}

void pchat_api_room_changed(pchat_api_t *q, uint64_t room_id)
{
	if (pchat_fanout_refresh_room(room_id, PCHAT_LOCAL) < 0)
		LM_WARN("room %llu changed by %s: stored, but not every connected client could be "
				"told now (no shared memory, or Redis unreachable); they see it when they "
				"join again\n", (unsigned long long)room_id, q->who.user);
}

static void api_room_create(pchat_api_t *q)
{
	const char *me[1] = {q->who.user};
	pchat_room_row_t *row;
	room_change_t c;
	refusals_t rf;
	rights_t rt = {0, 0, 1, 1, 1};
	int rc, i, has_managers = 0;

	if (read_room_change(q, &c, 1) < 0)
		goto out;
	if (!c.name || !c.category) {
		field_error(q, c.name ? "category" : "name", "a room needs a name and a category");
		goto out;
	}
	for (i = 0; i < c.nlists; i++)
		has_managers |= strcmp(c.lists[i].role, "manager") == 0;
	/* the creator manages the new room unless the managers are given */
	if (!has_managers)
		c.lists[c.nlists++] = (pchat_role_list_t){"manager", me, 1};
	if (!keeps_a_manager(q, &c))
		goto out;
	if ((rc = creator_in(q, c.category)) <= 0) {
		if (rc < 0)
			pchat_api_fail(q, rc);
		else
			pchat_api_error(q, 403, "forbidden", "you may not create rooms in the category "
					"'%s'", c.category);
		goto out;
	}
	if (!(row = pchat_malloc(sizeof(*row)))) {
		pchat_api_error(q, 500, "failed", "out of memory");
		goto out;
	}
	refusals_init(&rf);
	rc = pchat_admin_room_create(&q->a, c.name, c.category, c.opts, c.nopts, c.lists, c.nlists,
			note_refused, &rf, row);
	if (rc < 0) {
		change_refused(q, rc, &rf);
	} else {
		LM_INFO("room '%s' (%s) created by %s on the web\n", row->name, row->guid, q->who.user);
		answer_room(q, row->guid, &rt, 201);
	}
	pchat_buf_free(&rf.buf);
	pchat_free(row);
out:
	room_change_free(&c);
}

static void api_room_get(pchat_api_t *q)
{
	rights_t rt;

	if (room_rights(q, ROOM_SEE, &rt) == 0)
		answer_room(q, q->id, &rt, 200);
}

/* 409 stale, with the room as it is now for the page to show. */
static void stale(pchat_api_t *q, const rights_t *rt)
{
	static const char msg[] = "someone else changed this room meanwhile: look at their change "
							  "and make yours again";

	pchat_http_log_note(q->r, "stale: %s", q->a.err);
	pchat_buf_reset(&q->out);
	pchat_jw_init(&q->w, &q->out);
	pchat_jw_object(&q->w, NULL);
	pchat_jw_str(&q->w, "error", "stale");
	pchat_jw_str(&q->w, "message", msg);
	pchat_jw_object(&q->w, "room");
	if (room_members(q, q->id, rt) < 0) {
		pchat_api_error(q, 409, "stale", "%s", msg);
		return;
	}
	pchat_jw_end(&q->w);
	pchat_jw_end(&q->w);
	pchat_api_respond(q, 409);
}

static void api_room_update(pchat_api_t *q)
{
	room_change_t c;
	refusals_t rf;
	rights_t rt;
	uint64_t id = 0;
	int rc, dropped;

	if (room_rights(q, ROOM_CHANGE, &rt) < 0)
		return;
	if (read_room_change(q, &c, 0) < 0)
		goto out;
	if (!c.has_version || c.version < 1) {
		field_error(q, "version", "version (the room's version the change is based on) is "
				"needed");
		goto out;
	}
	if (!keeps_a_manager(q, &c))
		goto out;
	if (c.category && (rc = creator_in(q, c.category)) <= 0) {
		if (rc < 0)
			pchat_api_fail(q, rc);
		else
			pchat_api_error(q, 403, "forbidden", "you may only move a room to a category "
					"where you create rooms");
		goto out;
	}
	refusals_init(&rf);
	rc = pchat_admin_room_update(&q->a, q->id, (uint64_t)c.version, c.opts, c.nopts, c.lists,
			c.nlists, note_refused, &rf, &id, &dropped);
	if (rc == PCHAT_ERR_STALE) {
		stale(q, &rt);
	} else if (rc < 0) {
		change_refused(q, rc, &rf);
	} else {
		pchat_api_room_changed(q, id);
		LM_INFO("room %s changed by %s on the web\n", q->id, q->who.user);
		answer_room(q, q->id, &rt, 200);
	}
	pchat_buf_free(&rf.buf);
out:
	room_change_free(&c);
}

static void api_room_delete(pchat_api_t *q)
{
	const char *v = pchat_http_query(q->r, "version");
	pchat_room_row_t *row;
	rights_t rt;
	uint64_t id = 0;
	int rc;

	if (room_rights(q, ROOM_DELETE, &rt) < 0)
		return;
	if (!v || strtoull(v, NULL, 10) == 0) {
		field_error(q, "version", "?version= (the room's version the deletion is based on) "
				"is needed");
		return;
	}
	if (!(row = pchat_malloc(sizeof(*row)))) {
		pchat_api_error(q, 500, "failed", "out of memory");
		return;
	}
	/* the version is checked under the room's lock, in the removal's transaction */
	rc = pchat_admin_room_get(&q->a, q->id, row);
	if (rc == 0)
		rc = pchat_admin_room_remove(&q->a, q->id, strtoull(v, NULL, 10), &id);
	if (rc == PCHAT_ERR_STALE) {
		stale(q, &rt);
	} else if (rc < 0) {
		pchat_api_fail(q, rc);
	} else {
		pchat_api_room_changed(q, id);
		LM_INFO("room '%s' (%s) removed by %s on the web\n", row->name, q->id, q->who.user);
		pchat_api_no_content(q);
	}
	pchat_free(row);
}

/* A category's scope says who may and who may not use it (an ethical wall): the caller may
 * test names against it as an administrator, a creator in it, or the manager of a room in it
 * (room: that room's GUID). 1, or 0 with the refusal answered. */
static int may_check_scope(pchat_api_t *q, const char *category, const char *room)
{
	pchat_room_row_t *row;
	rights_t rt;
	int rc, ok = 0;

	if ((rc = creator_in(q, category)) != 0 || !room) {
		if (rc < 0)
			pchat_api_fail(q, rc);
		else if (rc == 0)
			pchat_api_error(q, 403, "forbidden", "only the creators of a category, the "
					"managers of its rooms and administrators check names against it");
		return rc > 0;
	}
	q->id = room;
	if (room_rights(q, ROOM_CHANGE, &rt) < 0)
		return 0;
	if (!(row = pchat_malloc(sizeof(*row)))) {
		pchat_api_error(q, 500, "failed", "out of memory");
		return 0;
	}
	rc = pchat_admin_room_get(&q->a, room, row);
	ok = rc == 0 && (strcasecmp(category, row->category_guid) == 0
							|| strcasecmp(category, row->category) == 0);
	pchat_free(row);
	if (rc < 0)
		pchat_api_fail(q, rc);
	else if (!ok)
		pchat_api_error(q, 403, "forbidden", "the room is not in that category: check names "
				"against a category where you create rooms");
	return ok;
}

/* The page's "check names": every principal against the category's scope. */
static void api_check_principals(pchat_api_t *q)
{
	static const char *const known[] = {"category", "principals", "room", NULL};
	const char *category = NULL, *room = NULL, **list = NULL;
	refusals_t rf;
	int n = 0, rc;

	if (pchat_api_known(q, known) < 0 || pchat_api_str(q, "category", 1024, &category) < 0
			|| pchat_api_str(q, "room", 64, &room) < 0
			|| pchat_api_strlist(q, "principals", LIST_MAX, &list, &n) < 0)
		return;
	if (!category) {
		field_error(q, "category", "a category is needed");
		goto out;
	}
	if (!may_check_scope(q, category, room))
		goto out;
	refusals_init(&rf);
	rc = pchat_admin_check_principals(&q->a, category, list, n, note_refused, &rf);
	pchat_jw_end(&rf.w);
	if (!pchat_jw_done(&rf.w)) {
		pchat_api_error(q, 500, "failed", "out of memory");
	} else if (rc < 0 && !(rc == PCHAT_ERR_INVALID && rf.n)) {
		pchat_api_fail(q, rc);
	} else {
		pchat_jw_object(&q->w, NULL);
		pchat_jw_int(&q->w, "checked", n);
		pchat_buf_adds(&q->out, ",\"refused\":");
		pchat_buf_add(&q->out, rf.buf.s, rf.buf.len);
		pchat_jw_end(&q->w);
		pchat_api_respond(q, 200);
	}
	pchat_buf_free(&rf.buf);
out:
	pchat_free(list);
}

/* ------------------------------------------------------------------ dispatch */

static const pchat_api_endpoint_t endpoints[] = {
	{"POST", "/login", PCHAT_API_PUBLIC, api_login},
	{"POST", "/logout", PCHAT_API_USER, api_logout},
	{"GET", "/me", PCHAT_API_USER, api_me},
	{"GET", "/rooms", PCHAT_API_USER, api_my_rooms},
	{"GET", "/rooms/check", PCHAT_API_USER, api_check_name},
	{"POST", "/rooms", PCHAT_API_USER, api_room_create},
	{"GET", "/rooms/{id}", PCHAT_API_USER, api_room_get},
	{"PUT", "/rooms/{id}", PCHAT_API_USER, api_room_update},
	{"DELETE", "/rooms/{id}", PCHAT_API_USER, api_room_delete},
	{"GET", "/categories", PCHAT_API_USER, api_categories},
	{"POST", "/principals/check", PCHAT_API_USER, api_check_principals},
	{NULL, NULL, 0, NULL},
};

/* path matches pattern ({id}: one segment, copied to id): 1, else 0. */
static int path_matches(const char *pattern, const char *path, char *id, size_t idsize)
{
	const char *brace = strstr(pattern, "{id}");
	size_t head, seg;

	if (!brace)
		return strcmp(pattern, path) == 0;
	head = (size_t)(brace - pattern);
	if (strncmp(pattern, path, head) != 0)
		return 0;
	seg = strcspn(path + head, "/");
	if (seg == 0 || seg >= idsize || strcmp(path + head + seg, brace + 4) != 0)
		return 0;
	memcpy(id, path + head, seg);
	id[seg] = '\0';
	return 1;
}

/* The endpoint for method and path: it, or NULL with *path_known telling whether another
 * method serves the path. */
static const pchat_api_endpoint_t *find(const char *method, const char *path, char *id,
		size_t idsize, int *path_known)
{
	const pchat_api_endpoint_t *tables[] = {endpoints, more_endpoints}, *e;
	size_t t;

	*path_known = 0;
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (e = tables[t]; e->method; e++) {
			if (!path_matches(e->path, path, id, idsize))
				continue;
			if (strcmp(e->method, method) == 0
					|| (strcmp(method, "HEAD") == 0 && strcmp(e->method, "GET") == 0))
				return e;
			*path_known = 1;
		}
	}
	return NULL;
}

/* The body as a JSON object: 0 (q->body NULL without a body), or -1 answered. */
static int read_body(pchat_api_t *q)
{
	const char *type = pchat_http_header(q->r, "Content-Type");
	size_t len = 0;
	const char *body = pchat_http_body(q->r, &len);
	char err[128];

	if (len == 0)
		return 0;
	if (!type || strncasecmp(type, "application/json", 16) != 0
			|| (type[16] && type[16] != ';' && type[16] != ' ')) {
		pchat_api_error(q, 415, "unsupported_media_type", "the body must be JSON "
				"(Content-Type: application/json)");
		return -1;
	}
	q->body = pchat_json_parse(body, len, BODY_DEPTH, err, sizeof(err));
	if (!q->body) {
		pchat_api_error(q, 400, "invalid", "the body is not valid JSON: %s", err);
		return -1;
	}
	if (q->body->type != PCHAT_JSON_OBJECT) {
		pchat_api_error(q, 400, "invalid", "the body must be a JSON object");
		return -1;
	}
	return 0;
}

static void dispatch(pchat_http_req_t *r)
{
	const char *path = pchat_http_path(r) + sizeof(PREFIX) - 1;
	const pchat_api_endpoint_t *e;
	char id[PCHAT_NAME_MAX];
	pchat_api_t *q;
	int path_known;

	if (!(q = pchat_calloc(1, sizeof(*q)))) {
		pchat_http_respond(r, 503, JSON_TYPE, "{\"error\":\"unavailable\"}", 23);
		return;
	}
	q->r = r;
	q->a = pchat_proc_admin();
	q->id = "";
	pchat_buf_init(&q->out);
	pchat_jw_init(&q->w, &q->out);
	e = find(pchat_http_method(r), path, id, sizeof(id), &path_known);
	if (!e) {
		if (path_known)
			pchat_api_error(q, 405, "method_not_allowed", "%s is not allowed here",
					pchat_http_method(r));
		else
			pchat_api_error(q, 404, "not_found", "no API endpoint %s", pchat_http_path(r));
	} else if (!q->a.db) {
		unavailable(q);
	} else if ((e->who == PCHAT_API_PUBLIC || authenticate(q, e->who) == 0)
			&& read_body(q) == 0) {
		/* the body is parsed only for a caller known by then (or for the sign-in): its tree
		 * costs pkg memory */
		q->id = id;
		e->handler(q);
	}
	pchat_json_free(q->body);
	pchat_buf_free(&q->out);
	pchat_free(q);
}

static pchat_http_route_t routes[4];

const pchat_http_route_t *pchat_webapi_routes(int *n)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
	int i;

	for (i = 0; i < 4; i++)
		routes[i] = (pchat_http_route_t){methods[i], PREFIX "/", PCHAT_API_BODY_MAX, NULL, NULL,
			dispatch, NULL};
	*n = 4;
	return routes;
}

/* ------------------------------------------------------------------ set-up */

const pchat_web_conf_t *pchat_webapi_conf(void)
{
	return &conf;
}

const char *pchat_webapi_page_url(void)
{
	return page_url;
}

static int read_sso_proxies(const char *p)
{
	size_t n;

	while (p && *p) {
		p += strspn(p, ", ");
		if (!(n = strcspn(p, ", ")))
			break;
		if (nsso_proxies == SSO_PROXIES_MAX || n >= ADDR_MAX) {
			LM_ERR("web_sso_proxies: at most %d addresses\n", SSO_PROXIES_MAX);
			return -1;
		}
		memcpy(sso_proxies[nsso_proxies], p, n);
		sso_proxies[nsso_proxies++][n] = '\0';
		p += n;
	}
	return 0;
}

int pchat_webapi_init(const pchat_api_endpoint_t *more)
{
	const pchat_params_t *pp = &pchat_params;

	more_endpoints = more;

	conf = (pchat_web_conf_t){pp->domain, pp->web_session_idle, pp->web_session_lifetime,
		pp->web_login_max_failures, pp->web_login_window, pp->web_login_block};
	if (conf.session_idle < 60 || conf.session_lifetime < conf.session_idle) {
		LM_ERR("web_session_idle must be at least 60 s and web_session_lifetime at least as "
				"long\n");
		return -1;
	}
	if (conf.login_max_failures < 1 || conf.login_window < 1 || conf.login_block < 1) {
		LM_ERR("web_login_max_failures, web_login_window and web_login_block must be positive\n");
		return -1;
	}
	if (read_sso_proxies(pp->web_sso_proxies) < 0)
		return -1;
	if (pp->web_sso_header[0] && nsso_proxies == 0) {
		LM_ERR("web_sso_header is set but web_sso_proxies is empty: name the proxies whose "
				"header is trusted\n");
		return -1;
	}
	if (pp->web_room_management_url[0])
		snprintf(page_url, sizeof(page_url), "%s", pp->web_room_management_url);
	else if (pchat_http_public_url()[0] && pp->web_root[0])
		snprintf(page_url, sizeof(page_url), "%s" PAGE_PATH, pchat_http_public_url());
	if (nsso_proxies)
		LM_INFO("web: single sign-on through header %s from %d proxies\n", pp->web_sso_header,
				nsso_proxies);
	return 0;
}
