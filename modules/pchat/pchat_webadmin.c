/*
 * The administrators' endpoints of the JSON API (/api/v1/admin/..., doc/webapi.md,
 * "Administration"): the same work as the pchat.category.*, pchat.config.*,
 * pchat.message.remove, pchat.pool and pchat.compliance.status RPC commands, done by the same
 * functions (pchat_admin.c, pchat_presence.c, pchat_outbox.c).
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pchat_admin.h"
#include "pchat_alloc.h"
#include "pchat_fanout.h"
#include "pchat_live.h"
#include "pchat_node.h"
#include "pchat_outbox.h"
#include "pchat_presence.h"
#include "pchat_settings.h"
#include "pchat_webapi.h"

#define ROOMS_MAX 500     /* rooms GET /admin/rooms shows */
#define MESSAGES_MAX 200  /* messages GET /admin/messages shows */
#define LIST_MAX 1000     /* principals of a list in a body */
#define TOP_ROOMS 10      /* the busiest rooms GET /admin/pool shows */
#define POOL_ROOMS 5000   /* the rooms whose participants it counts */

/* The change is stored, but not every session it concerns could be told now (as the RPC
 * commands say it). */
#define NOT_APPLIED "stored, but not every connected client could be updated (no shared memory " \
		"on this node, or Redis unreachable for the other nodes); repeat the change"

static void no_memory(pchat_api_t *q)
{
	snprintf(q->a.err, sizeof(q->a.err), "out of memory");
	pchat_api_fail(q, PCHAT_ERR_NO_MEMORY);
}

/* ------------------------------------------------------------------ rooms */

typedef struct rooms_ctx {
	pchat_api_t *q;
	int n;
	int more;
} rooms_ctx_t;

static int write_room(void *ctx, const pchat_room_row_t *r)
{
	rooms_ctx_t *rc = ctx;

	if (rc->n == ROOMS_MAX) {
		rc->more = 1;
		return 1; /* the rest is not shown */
	}
	rc->n++;
	pchat_api_room_json(rc->q, NULL, r);
	return 0;
}

/* GET /admin/rooms?name=PART&category=NAME */
static void admin_rooms(pchat_api_t *q)
{
	const char *name = pchat_http_query(q->r, "name");
	const char *category = pchat_http_query(q->r, "category");
	char limit[16];
	pchat_kv_t opts[3];
	rooms_ctx_t rc = {q, 0, 0};
	int n = 0, r;

	/* one more than shown: whether the list is cut */
	snprintf(limit, sizeof(limit), "%d", ROOMS_MAX + 1);
	opts[n++] = (pchat_kv_t){"limit", limit};
	if (name && name[0])
		opts[n++] = (pchat_kv_t){"name", name};
	if (category && category[0])
		opts[n++] = (pchat_kv_t){"category", category};
	pchat_jw_object(&q->w, NULL);
	pchat_jw_array(&q->w, "rooms");
	r = pchat_admin_room_list(&q->a, opts, n, write_room, &rc);
	if (r < 0) {
		pchat_api_fail(q, r);
		return;
	}
	pchat_jw_end(&q->w);
	pchat_jw_bool(&q->w, "truncated", rc.more);
	pchat_jw_end(&q->w);
	pchat_api_respond(q, 200);
}

/* ------------------------------------------------------------------ categories */

static const char *const category_roles[] = {"allowed", "denied", "creator"};
static const char *const category_lists[] = {"allowed", "denied", "creators"};

/* Writes the category with its lists; 0, or the failure (not answered). */
static int write_category(pchat_api_t *q, const char *key, const pchat_category_row_t *c)
{
	int rc = 0, i;

	pchat_jw_object(&q->w, key);
	pchat_jw_str(&q->w, "guid", c->guid);
	pchat_jw_str(&q->w, "uri", c->uri);
	pchat_jw_str(&q->w, "name", c->name);
	pchat_jw_str(&q->w, "description", c->description);
	pchat_jw_bool(&q->w, "file_upload", c->file_upload);
	pchat_jw_bool(&q->w, "invitations", c->invitations);
	pchat_jw_bool(&q->w, "chat_history", c->chat_history);
	pchat_jw_int(&q->w, "rooms", (long long)c->rooms);
	for (i = 0; rc == 0 && i < 3; i++)
		rc = pchat_api_principal_list(q, category_lists[i], category_roles[i],
				pchat_admin_category_principals_of, c->id);
	pchat_jw_end(&q->w);
	return rc;
}

/* Answers the category ident with its lists (status 200 or 201). */
static void answer_category(pchat_api_t *q, const char *ident, int status)
{
	pchat_category_row_t *c = pchat_calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		no_memory(q);
		return;
	}
	rc = pchat_admin_category_get(&q->a, ident, c);
	if (rc == 0)
		rc = write_category(q, NULL, c);
	pchat_free(c);
	if (rc < 0)
		pchat_api_fail(q, rc);
	else
		pchat_api_respond(q, status);
}

typedef struct guids {
	char (*g)[PCHAT_GUID_LEN + 1];
	int n, size;
} guids_t;

static int keep_category(void *ctx, const pchat_category_row_t *c)
{
	guids_t *gs = ctx;
	void *grown;

	if (gs->n == gs->size) {
		gs->size = gs->size ? gs->size * 2 : 32;
		if (!(grown = pchat_realloc(gs->g, (size_t)gs->size * sizeof(*gs->g))))
			return PCHAT_ERR_NO_MEMORY;
		gs->g = grown;
	}
	snprintf(gs->g[gs->n++], sizeof(*gs->g), "%s", c->guid);
	return 0;
}

/* GET /admin/categories: the categories are read first, then each with its lists (no query
 * runs while another one's rows are being read). */
static void admin_categories(pchat_api_t *q)
{
	pchat_category_row_t *c = pchat_calloc(1, sizeof(*c));
	guids_t gs = {NULL, 0, 0};
	int i, rc;

	rc = c ? pchat_admin_category_list(&q->a, keep_category, &gs) : PCHAT_ERR_NO_MEMORY;
	pchat_jw_object(&q->w, NULL);
	pchat_jw_array(&q->w, "categories");
	for (i = 0; rc == 0 && i < gs.n; i++) {
		rc = pchat_admin_category_get(&q->a, gs.g[i], c);
		if (rc == PCHAT_ERR_NOT_FOUND) { /* removed meanwhile */
			rc = 0;
			continue;
		}
		if (rc == 0)
			rc = write_category(q, NULL, c);
	}
	pchat_jw_end(&q->w);
	pchat_jw_end(&q->w);
	pchat_free(gs.g);
	pchat_free(c);
	if (rc == PCHAT_ERR_NO_MEMORY)
		no_memory(q);
	else if (rc < 0)
		pchat_api_fail(q, rc);
	else
		pchat_api_respond(q, 200);
}

/* A category's members of a body as administration options (name apart) and lists. */
typedef struct category_body {
	pchat_kv_t opts[5];
	int nopts;
	pchat_role_list_t lists[3];
	const char **owned[3];
	int nlists;
	int rights;  /* allowed or denied given: the scope changes */
	const char *name;
} category_body_t;

static void free_category_body(category_body_t *cb)
{
	int i;

	for (i = 0; i < 3; i++)
		pchat_free(cb->owned[i]);
}

/* Reads the body; 0, or -1 when refused (answered). */
static int read_category_body(pchat_api_t *q, category_body_t *cb)
{
	static const char *const known[] = {"name", "description", "file_upload", "invitations",
		"chat_history", "allowed", "denied", "creators", NULL};
	static const char *const bools[] = {"file_upload", "invitations", "chat_history"};
	static const char *const roles[] = {"allowed", "denied", "creator"};
	static const char *const keys[] = {"allowed", "denied", "creators"};
	const char *v;
	int i, b, n, rc;

	memset(cb, 0, sizeof(*cb));
	if (!q->body) {
		pchat_api_error(q, 400, "invalid", "a JSON object is needed");
		return -1;
	}
	if (pchat_api_known(q, known) < 0)
		return -1;
	if ((rc = pchat_api_str(q, "name", PCHAT_NAME_MAX - 1, &v)) < 0)
		return -1;
	if (rc == 0)
		cb->name = v;
	if ((rc = pchat_api_str(q, "description", PCHAT_TEXT_MAX - 1, &v)) < 0)
		return -1;
	if (rc == 0)
		cb->opts[cb->nopts++] = (pchat_kv_t){"description", v};
	for (i = 0; i < 3; i++) {
		if ((rc = pchat_api_bool(q, bools[i], &b)) < 0)
			return -1;
		if (rc == 0)
			cb->opts[cb->nopts++] = (pchat_kv_t){bools[i], b ? "yes" : "no"};
	}
	for (i = 0; i < 3; i++) {
		const char **list = NULL;

		if ((rc = pchat_api_strlist(q, keys[i], LIST_MAX, &list, &n)) < 0)
			return -1;
		if (rc != 0)
			continue;
		cb->owned[i] = list;
		cb->lists[cb->nlists++] = (pchat_role_list_t){roles[i], list, n};
		if (i < 2)
			cb->rights = 1;
	}
	return 0;
}

/* Names the principals a change refused (the first few). */
typedef struct refused_ctx {
	char text[200];
	int n;
} refused_ctx_t;

static void note_refused(void *ctx, const char *principal, const char *reason)
{
	refused_ctx_t *rc = ctx;
	size_t len = strlen(rc->text);

	(void)reason;
	if (rc->n++ < 5 && len < sizeof(rc->text))
		snprintf(rc->text + len, sizeof(rc->text) - len, "%s'%.60s'", rc->n > 1 ? ", " : "",
				principal);
}

/* Answers a refused or failed change of a category. */
static void category_failed(pchat_api_t *q, int rc, const refused_ctx_t *refused)
{
	if (rc == PCHAT_ERR_INVALID && refused->n)
		pchat_api_error(q, 400, "invalid", "neither a SIP URI (sip:user@host) nor a domain: "
				"%s%s", refused->text, refused->n > 5 ? ", ..." : "");
	else
		pchat_api_fail(q, rc);
}

/* POST /admin/categories */
static void admin_category_add(pchat_api_t *q)
{
	pchat_category_row_t *c = pchat_calloc(1, sizeof(*c));
	refused_ctx_t refused = {"", 0};
	category_body_t cb;
	int rc;

	if (!c) {
		no_memory(q);
		return;
	}
	if (read_category_body(q, &cb) == 0) {
		if (!cb.name) {
			pchat_api_error(q, 400, "invalid", "name is needed");
		} else {
			rc = pchat_admin_category_create(&q->a, cb.name, cb.opts, cb.nopts, cb.lists,
					cb.nlists, note_refused, &refused, c);
			if (rc < 0)
				category_failed(q, rc, &refused);
			else
				answer_category(q, c->guid, 201);
		}
	}
	free_category_body(&cb);
	pchat_free(c);
}

/* PUT /admin/categories/{id} */
static void admin_category_set(pchat_api_t *q)
{
	refused_ctx_t refused = {"", 0};
	category_body_t cb;
	uint64_t id = 0;
	int rc;

	if (read_category_body(q, &cb) == 0) {
		if (cb.name)
			cb.opts[cb.nopts++] = (pchat_kv_t){"name", cb.name};
		rc = pchat_admin_category_update(&q->a, q->id, cb.opts, cb.nopts, cb.lists, cb.nlists,
				note_refused, &refused, &id);
		if (rc < 0) {
			category_failed(q, rc, &refused);
		} else if (cb.rights && pchat_fanout_refresh_category(id, PCHAT_LOCAL) < 0) {
			/* an ethical wall that is stored but not in force must not answer success: who is
			 * out of the scope now leaves every room of the category, on every node */
			snprintf(q->a.err, sizeof(q->a.err), "%s", NOT_APPLIED);
			pchat_api_fail(q, PCHAT_ERR_FAILED);
		} else {
			/* by its new name when it was renamed: {id} may have been the old one */
			answer_category(q, cb.name ? cb.name : q->id, 200);
		}
	}
	free_category_body(&cb);
}

/* DELETE /admin/categories/{id} */
static void admin_category_remove(pchat_api_t *q)
{
	int rc = pchat_admin_category_remove(&q->a, q->id);

	if (rc < 0)
		pchat_api_fail(q, rc);
	else
		pchat_api_no_content(q);
}

/* ------------------------------------------------------------------ settings */

typedef struct stored_settings {
	const char *value[64];
	char text[64][16];
} stored_settings_t;

static int remember_setting(void *ctx, const char *name, const char *value)
{
	stored_settings_t *ss = ctx;
	const pchat_setting_def_t *def = pchat_setting_find(name);
	char err[128];
	int v, i;

	if (!def || pchat_setting_parse(def, value, &v, err, sizeof(err)) < 0)
		return 0; /* a stored value the node ignores as well */
	i = (int)(def - pchat_setting_defs);
	if (i < 64) {
		snprintf(ss->text[i], sizeof(ss->text[i]), "%d", v);
		ss->value[i] = ss->text[i];
	}
	return 0;
}

/* Answers the settings: each with the pool-wide value (the stored one, else the module
 * parameter's), whether it is stored, and the module parameter's value. */
static void answer_settings(pchat_api_t *q)
{
	stored_settings_t ss;
	int i, rc;

	memset(&ss, 0, sizeof(ss));
	if ((rc = pchat_admin_config_load(&q->a, remember_setting, &ss)) < 0) {
		pchat_api_fail(q, rc);
		return;
	}
	pchat_jw_object(&q->w, NULL);
	pchat_jw_array(&q->w, "settings");
	for (i = 0; i < pchat_setting_count; i++) {
		const pchat_setting_def_t *d = &pchat_setting_defs[i];
		int dflt = *pchat_setting_ptr(&pchat_settings_defaults, d);

		pchat_jw_object(&q->w, NULL);
		pchat_jw_str(&q->w, "name", d->name);
		pchat_jw_int(&q->w, "value", i < 64 && ss.value[i] ? atoi(ss.value[i]) : dflt);
		pchat_jw_int(&q->w, "default", dflt);
		pchat_jw_bool(&q->w, "stored", i < 64 && ss.value[i]);
		pchat_jw_int(&q->w, "min", d->min);
		pchat_jw_int(&q->w, "max", d->max);
		pchat_jw_str(&q->w, "about", d->doc);
		pchat_jw_end(&q->w);
	}
	pchat_jw_end(&q->w);
	pchat_jw_end(&q->w);
	pchat_api_respond(q, 200);
}

/* GET /admin/settings */
static void admin_settings(pchat_api_t *q)
{
	answer_settings(q);
}

/* PUT /admin/settings: {"name": value, ...}; a value is a whole number (or its text), null
 * goes back to the default. All are checked before any is stored, and stored together. */
static void admin_settings_set(pchat_api_t *q)
{
	pchat_kv_t kv[64];
	char text[64][24];
	const pchat_json_t *m;
	int n = 0, i, rc;

	if (!q->body || q->body->type != PCHAT_JSON_OBJECT || !q->body->child) {
		pchat_api_error(q, 400, "invalid", "give at least one setting: {\"name\": value}");
		return;
	}
	for (m = q->body->child; m; m = m->next) {
		if (n == 64 || !pchat_setting_find(m->key)) {
			pchat_api_error(q, 400, "invalid", "no setting '%.100s'", m->key);
			return;
		}
		kv[n].key = m->key;
		if (m->type == PCHAT_JSON_NULL) {
			kv[n].value = NULL;
		} else if (m->type == PCHAT_JSON_NUMBER && m->is_int) {
			snprintf(text[n], sizeof(text[n]), "%lld", m->i);
			kv[n].value = text[n];
		} else if (m->type == PCHAT_JSON_STRING) {
			kv[n].value = m->s;
		} else {
			pchat_api_error(q, 400, "invalid", "%.100s must be a whole number, or null for "
					"the default", m->key);
			return;
		}
		n++;
	}
	rc = pchat_admin_config_update(&q->a, kv, n);
	if (rc < 0) {
		pchat_api_fail(q, rc);
		return;
	}
	for (i = 0; i < n; i++)
		pchat_setting_apply(pchat_setting_find(kv[i].key), kv[i].value);
	answer_settings(q);
}

/* ------------------------------------------------------------------ moderation */

static int write_message(void *ctx, const pchat_message_row_t *m)
{
	pchat_api_t *q = ctx;

	pchat_jw_object(&q->w, NULL);
	pchat_jw_int(&q->w, "seq", (long long)m->seq);
	pchat_jw_str(&q->w, "author", m->author);
	pchat_jw_str(&q->w, "time", m->time);
	pchat_jw_str(&q->w, "text", m->text);
	pchat_jw_bool(&q->w, "moderated", m->moderated);
	pchat_jw_end(&q->w);
	return 0;
}

/* GET /admin/messages?room=R&user=U&keyword=K&after=T&before=T */
static void admin_messages(pchat_api_t *q)
{
	static const char *const filters[] = {"user", "keyword", "after", "before"};
	const char *room = pchat_http_query(q->r, "room"), *v;
	pchat_kv_t opts[4];
	int n = 0, i, rc;

	if (!room || !room[0]) {
		pchat_api_error(q, 400, "invalid", "room is needed (a name, URI or GUID)");
		return;
	}
	for (i = 0; i < 4; i++)
		if ((v = pchat_http_query(q->r, filters[i])) && v[0])
			opts[n++] = (pchat_kv_t){filters[i], v};
	pchat_jw_object(&q->w, NULL);
	pchat_jw_array(&q->w, "messages");
	rc = pchat_admin_message_find(&q->a, room, opts, n, MESSAGES_MAX, write_message, q);
	if (rc < 0) {
		pchat_api_fail(q, rc);
		return;
	}
	pchat_jw_end(&q->w);
	pchat_jw_end(&q->w);
	pchat_api_respond(q, 200);
}

/* POST /admin/messages/replace */
static void admin_messages_replace(pchat_api_t *q)
{
	static const char *const known[] = {"room", "user", "keyword", "after", "before",
		"replacement", NULL};
	static const struct {
		const char *key;
		size_t max;
	} members[] = {{"user", PCHAT_USER_MAX - 1}, {"keyword", 4096}, {"after", 40},
		{"before", 40}, {"replacement", 32000}};
	const char *room, *v;
	pchat_kv_t opts[5];
	long long replaced = 0;
	int n = 0, rc;
	size_t i;

	if (!q->body) {
		pchat_api_error(q, 400, "invalid", "a JSON object is needed");
		return;
	}
	if (pchat_api_known(q, known) < 0 || (rc = pchat_api_str(q, "room", 2048, &room)) < 0)
		return;
	if (rc == 1 || !room[0]) {
		pchat_api_error(q, 400, "invalid", "room is needed (a name, URI or GUID)");
		return;
	}
	for (i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		if ((rc = pchat_api_str(q, members[i].key, members[i].max, &v)) < 0)
			return;
		if (rc == 0)
			opts[n++] = (pchat_kv_t){members[i].key, v};
	}
	/* the compliance events name who moderated */
	q->a.actor = q->who.user;
	rc = pchat_admin_message_remove(&q->a, room, opts, n, &replaced);
	if (rc < 0) {
		pchat_api_fail(q, rc);
		return;
	}
	pchat_jw_object(&q->w, NULL);
	pchat_jw_int(&q->w, "replaced", replaced);
	pchat_jw_end(&q->w);
	pchat_api_respond(q, 200);
}

/* ------------------------------------------------------------------ pool */

typedef struct pool_ctx {
	pchat_jw_t *w;
	long long now_ms;
} pool_ctx_t;

static void write_node(void *ctx, const pchat_node_info_t *n)
{
	pool_ctx_t *pc = ctx;
	char started[32], heartbeat[32];

	pchat_iso_time_ms(n->run, started, sizeof(started));
	pchat_iso_time_ms(n->heartbeat_ms, heartbeat, sizeof(heartbeat));
	pchat_jw_object(pc->w, NULL);
	pchat_jw_str(pc->w, "node", n->node);
	pchat_jw_bool(pc->w, "self", strcmp(n->node, pchat_params.node_id) == 0);
	pchat_jw_bool(pc->w, "alive", n->alive);
	pchat_jw_int(pc->w, "sessions", n->sessions);
	if (n->heartbeat_ms) {
		pchat_jw_str(pc->w, "heartbeat", heartbeat);
		pchat_jw_int(pc->w, "heartbeat_age_ms", pc->now_ms - n->heartbeat_ms);
	} else {
		pchat_jw_null(pc->w, "heartbeat");
		pchat_jw_null(pc->w, "heartbeat_age_ms");
	}
	pchat_jw_str(pc->w, "started", started);
	pchat_jw_end(pc->w);
}

/* The rooms whose participants GET /admin/pool counts. */
typedef struct room_refs {
	uint64_t *ids;
	char (*guids)[PCHAT_GUID_LEN + 1];
	int n;
} room_refs_t;

static int keep_room(void *ctx, const pchat_room_row_t *r)
{
	room_refs_t *rr = ctx;

	rr->ids[rr->n] = r->id;
	snprintf(rr->guids[rr->n], sizeof(rr->guids[rr->n]), "%s", r->guid);
	return ++rr->n == POOL_ROOMS; /* 1: no more */
}

/* The indexes of the TOP_ROOMS busiest rooms (with participants), busiest first, into top;
 * returns how many. */
static int busiest(const int *counts, int n, int *top)
{
	int i, k, ntop = 0;

	for (i = 0; i < n; i++) {
		if (counts[i] <= 0 || (ntop == TOP_ROOMS && counts[i] <= counts[top[ntop - 1]]))
			continue;
		k = ntop < TOP_ROOMS ? ntop++ : TOP_ROOMS - 1;
		for (; k > 0 && counts[top[k - 1]] < counts[i]; k--)
			top[k] = top[k - 1];
		top[k] = i;
	}
	return ntop;
}

/* The rooms with the most participants in the pool (of the first POOL_ROOMS by name), from
 * the pool's presence in one round trip; none when Redis is unreachable. */
static void write_top_rooms(pchat_api_t *q, pchat_redis_t *redis)
{
	char limit[16];
	pchat_kv_t opt = {"limit", limit};
	room_refs_t rr = {pchat_calloc(POOL_ROOMS, sizeof(uint64_t)),
		pchat_calloc(POOL_ROOMS, PCHAT_GUID_LEN + 1), 0};
	int *counts = pchat_calloc(POOL_ROOMS, sizeof(int));
	pchat_room_row_t *row = pchat_calloc(1, sizeof(*row));
	int top[TOP_ROOMS], ntop = 0, i;

	snprintf(limit, sizeof(limit), "%d", POOL_ROOMS);
	if (redis && rr.ids && rr.guids && counts && row
			&& pchat_admin_room_list(&q->a, &opt, 1, keep_room, &rr) == 0 && rr.n
			&& pchat_presence_counts(redis, rr.ids, rr.n, counts) == 0)
		ntop = busiest(counts, rr.n, top);
	pchat_jw_array(&q->w, "rooms");
	for (i = 0; i < ntop; i++) {
		if (pchat_admin_room_get(&q->a, rr.guids[top[i]], row) < 0)
			continue; /* removed meanwhile */
		pchat_jw_object(&q->w, NULL);
		pchat_jw_str(&q->w, "guid", row->guid);
		pchat_jw_str(&q->w, "name", row->name);
		pchat_jw_int(&q->w, "participants", counts[top[i]]);
		pchat_jw_end(&q->w);
	}
	pchat_jw_end(&q->w);
	pchat_free(rr.ids);
	pchat_free(rr.guids);
	pchat_free(counts);
	pchat_free(row);
}

/* GET /admin/pool: what pchat.pool answers, and the busiest rooms. */
static void admin_pool(pchat_api_t *q)
{
	pool_ctx_t pc = {&q->w, pchat_now_ms()};
	pchat_redis_t *redis = pchat_proc_redis();
	int rooms, members, n = -1;

	pchat_live_counts(&rooms, &members);
	pchat_jw_object(&q->w, NULL);
	pchat_jw_object(&q->w, "this_node");
	pchat_jw_str(&q->w, "node", pchat_params.node_id);
	pchat_jw_int(&q->w, "sessions", pchat_node_sessions());
	pchat_jw_int(&q->w, "rooms", rooms);
	pchat_jw_int(&q->w, "memberships", members);
	pchat_jw_int(&q->w, "relayed", (long long)get_stat_val(pchat_stat_relayed));
	pchat_jw_int(&q->w, "received", (long long)get_stat_val(pchat_stat_received));
	pchat_jw_end(&q->w);
	pchat_jw_array(&q->w, "nodes");
	if (redis)
		n = pchat_presence_nodes(redis, write_node, &pc);
	pchat_jw_end(&q->w);
	pchat_jw_str(&q->w, "redis", n >= 0 ? "up" : "down");
	write_top_rooms(q, n >= 0 ? redis : NULL);
	pchat_jw_end(&q->w);
	pchat_api_respond(q, 200);
}

/* ------------------------------------------------------------------ compliance */

/* GET /admin/compliance: as pchat.compliance.status. */
static void admin_compliance(pchat_api_t *q)
{
	pchat_compliance_status_t *st = pchat_calloc(1, sizeof(*st));
	int rc = st ? pchat_outbox_status(q->a.db, st) : PCHAT_ERR_NO_MEMORY;

	if (rc < 0) {
		snprintf(q->a.err, sizeof(q->a.err), "%s", pchat_rc_text(rc));
		pchat_api_fail(q, rc);
		pchat_free(st);
		return;
	}
	pchat_jw_object(&q->w, NULL);
	pchat_jw_str(&q->w, "active_node", st->lease_valid ? st->node : "");
	pchat_jw_str(&q->w, "last_node", st->node);
	pchat_jw_bool(&q->w, "lease_valid", st->lease_valid);
	pchat_jw_str(&q->w, "lease_expires", st->lease_expires);
	pchat_jw_str(&q->w, "last_run", st->last_run);
	pchat_jw_str(&q->w, "last_success", st->last_success);
	pchat_jw_str(&q->w, "last_error", st->last_error);
	pchat_jw_int(&q->w, "last_processed_id", st->last_processed_id);
	pchat_jw_int(&q->w, "exported", st->exported);
	pchat_jw_int(&q->w, "waiting", st->waiting);
	pchat_jw_int(&q->w, "open_batches", st->open_batches);
	pchat_jw_bool(&q->w, "run_requested", st->run_requested);
	pchat_jw_bool(&q->w, "recording",
			__atomic_load_n(&pchat_shared->compliance_recording, __ATOMIC_RELAXED) != 0);
	pchat_jw_end(&q->w);
	pchat_free(st);
	pchat_api_respond(q, 200);
}

const pchat_api_endpoint_t pchat_webadmin_endpoints[] = {
	{"GET", "/admin/rooms", PCHAT_API_ADMIN, admin_rooms},
	{"GET", "/admin/categories", PCHAT_API_ADMIN, admin_categories},
	{"POST", "/admin/categories", PCHAT_API_ADMIN, admin_category_add},
	{"PUT", "/admin/categories/{id}", PCHAT_API_ADMIN, admin_category_set},
	{"DELETE", "/admin/categories/{id}", PCHAT_API_ADMIN, admin_category_remove},
	{"GET", "/admin/settings", PCHAT_API_ADMIN, admin_settings},
	{"PUT", "/admin/settings", PCHAT_API_ADMIN, admin_settings_set},
	{"GET", "/admin/messages", PCHAT_API_ADMIN, admin_messages},
	{"POST", "/admin/messages/replace", PCHAT_API_ADMIN, admin_messages_replace},
	{"GET", "/admin/pool", PCHAT_API_ADMIN, admin_pool},
	{"GET", "/admin/compliance", PCHAT_API_ADMIN, admin_compliance},
	{NULL, NULL, 0, NULL},
};
