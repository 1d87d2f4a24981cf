/*
 * The administration RPC commands (pchat.room.*, pchat.category.*, pchat.message.*,
 * pchat.config.*, pchat.policy.*, pchat.compliance.*): argument handling and answers; the work
 * is in pchat_admin.c (pchat_outbox.c for compliance).
 *
 * Conventions: required arguments are positional; options are key=value; times are ISO 8601
 * UTC. A refused command answers a fault with a code and a text that says what to do:
 * 400 invalid argument, 404 no such room or category, 409 name taken or category in use,
 * 500 database failure (or a change of rights stored but not applied), 503 database unreachable.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdlib.h>
#include <string.h>

#include "core/dprint.h"

#include "pchat_admin.h"
#include "pchat_alloc.h"
#include "pchat_compliance.h"
#include "pchat_fanout.h"
#include "pchat_live.h"
#include "pchat_node.h"
#include "pchat_rpc.h"
#include "pchat_service.h"
#include "pchat_settings.h"

#define ARGS_MAX 64

/* The change is stored, but not every session it concerns could be told now: this node's (no
 * shared memory) or the other nodes' (Redis unreachable). */
#define NOT_APPLIED "stored, but not every connected client could be updated (no shared memory " \
		"on this node, or Redis unreachable for the other nodes); repeat the command"

typedef struct rpc_args {
	char *pos[ARGS_MAX]; /* positional arguments */
	int npos;
	pchat_kv_t kv[ARGS_MAX];
	int nkv;
} rpc_args_t;

/* Reads every argument as text: the first `required` are positional whatever they hold;
 * after them, key=value pairs are options and the rest positional (principal lists). */
static int read_args(rpc_t *rpc, void *ctx, int required, const char *usage, rpc_args_t *args)
{
	char *v;
	int i;

	memset(args, 0, sizeof(*args));
	for (i = 0; i < required; i++) {
		if (rpc->scan(ctx, ".s", &v) < 1) {
			rpc->fault(ctx, 400, "usage: %s", usage);
			return -1;
		}
		args->pos[args->npos++] = v;
	}
	while (rpc->scan(ctx, "*.s", &v) == 1) {
		char *eq = strchr(v, '=');

		if (args->npos >= ARGS_MAX || args->nkv >= ARGS_MAX) {
			rpc->fault(ctx, 400, "too many arguments (at most %d)", ARGS_MAX);
			return -1;
		}
		if (eq && eq != v) {
			*eq = '\0';
			args->kv[args->nkv].key = v;
			args->kv[args->nkv++].value = eq + 1;
		} else {
			args->pos[args->npos++] = v;
		}
	}
	return 0;
}

/* Answers a failed command with err, or what rc says when err is empty or NULL. */
static void fault_text(rpc_t *rpc, void *ctx, int rc, const char *err)
{
	rpc->fault(ctx, pchat_rc_rpc(rc), "%s", err && err[0] ? err : pchat_rc_text(rc));
}

static void fault(rpc_t *rpc, void *ctx, const pchat_admin_t *a, int rc)
{
	fault_text(rpc, ctx, rc, a->err);
}

/* A change of rights or rooms was stored, and told (rc >= 0) to the sessions it concerns:
 * returns 1, the caller answers. Otherwise answers the "not applied" fault and returns 0: an
 * ethical wall or a policy that is stored but not in force must not answer success. */
static int applied(rpc_t *rpc, void *ctx, int rc)
{
	if (rc >= 0)
		return 1;
	rpc->fault(ctx, 500, NOT_APPLIED);
	return 0;
}

/* Connected clients see the change: the room's sender re-checks everyone in it. */
static int room_changed(uint64_t room_id)
{
	return pchat_fanout_refresh_room(room_id, PCHAT_LOCAL);
}

static void add_room(rpc_t *rpc, void *th, const pchat_room_row_t *r)
{
	rpc->struct_add(th, "ssssssssssd", "uri", r->uri, "guid", r->guid, "name", r->name,
			"description", r->description, "topic", r->topic, "category", r->category,
			"privacy", r->privacy, "type", r->type, "invitations", r->invitations,
			"addin", r->addin, "disabled", r->disabled);
	rpc->struct_add(th, "dsd", "messages", (int)r->messages, "created", r->created, "version",
			(int)r->version);
}

static void add_category(rpc_t *rpc, void *th, const pchat_category_row_t *c)
{
	rpc->struct_add(th, "ssssdddd", "uri", c->uri, "guid", c->guid, "name", c->name,
			"description", c->description, "file_upload", c->file_upload,
			"invitations", c->invitations, "chat_history", c->chat_history,
			"rooms", (int)c->rooms);
}

/* ------------------------------------------------------------------ rooms */

static const char *room_add_doc[] = {
	"Adds a room: name category [description=TEXT] [topic=TEXT] [privacy=open|closed|secret] "
	"[type=normal|auditorium] [invitations=inherit|on|off] [addin=URL] [disabled=yes|no]. "
	"New rooms are closed and normal. Answers the room.", 0};

static void rpc_room_add(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	pchat_room_row_t *row = pkg_malloc(sizeof(*row));
	rpc_args_t args;
	void *th;
	int rc;

	if (!row) {
		rpc->fault(ctx, 500, "out of memory");
		return;
	}
	if (read_args(rpc, ctx, 2, "pchat.room.add name category [key=value...]", &args) == 0) {
		rc = args.npos > 2 ? PCHAT_ERR_INVALID : pchat_admin_room_add(&a, args.pos[0],
						 args.pos[1], args.kv, args.nkv, row);
		if (args.npos > 2)
			snprintf(a.err, sizeof(a.err), "unexpected argument '%s'", args.pos[2]);
		if (rc < 0)
			fault(rpc, ctx, &a, rc);
		else if (rpc->add(ctx, "{", &th) >= 0)
			add_room(rpc, th, row);
	}
	pkg_free(row);
}

static const char *room_set_doc[] = {
	"Changes a room: room key=value... (name, description, topic, privacy, type, invitations, "
	"addin, disabled, category, version). Moving it to another category drops the members, "
	"managers and presenters that category does not allow. With version=N the change is "
	"refused (409) when the room's version (pchat.room.get) is another: someone changed it "
	"meanwhile. Connected clients see the change.", 0};

static void rpc_room_set(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	rpc_args_t args;
	uint64_t id = 0;
	int rc, dropped = 0;
	void *th;

	if (read_args(rpc, ctx, 1, "pchat.room.set room key=value...", &args) < 0)
		return;
	rc = pchat_admin_room_set(&a, args.pos[0], args.kv, args.nkv, &id, &dropped);
	if (rc < 0) {
		fault(rpc, ctx, &a, rc);
		return;
	}
	if (!applied(rpc, ctx, room_changed(id)))
		return;
	if (rpc->add(ctx, "{", &th) >= 0)
		rpc->struct_add(th, "sd", "changed", args.pos[0], "dropped", dropped);
}

typedef struct principal_lists {
	rpc_t *rpc;
	void *th;
	void *lists[3];
	const char *const *roles;
} principal_lists_t;

static int add_principal(void *ctx, const char *role, const char *principal)
{
	principal_lists_t *pl = ctx;
	int i;

	for (i = 0; pl->roles[i]; i++)
		if (strcmp(role, pl->roles[i]) == 0)
			pl->rpc->array_add(pl->lists[i], "s", principal);
	return 0;
}

/* Opens one array per role ("member" -> "members"). */
static void open_lists(principal_lists_t *pl, const char *const *roles, const char *const *keys)
{
	int i;

	pl->roles = roles;
	for (i = 0; roles[i]; i++)
		pl->rpc->struct_add(pl->th, "[", keys[i], &pl->lists[i]);
}

static const char *room_get_doc[] = {
	"Shows a room: room (name, ma-chan:// URI or GUID). Answers its settings, members, "
	"managers and presenters.", 0};

static void rpc_room_get(rpc_t *rpc, void *ctx)
{
	static const char *const roles[] = {"member", "manager", "presenter", NULL};
	static const char *const keys[] = {"members", "managers", "presenters"};
	pchat_admin_t a = pchat_proc_admin();
	pchat_room_row_t *row = pkg_malloc(sizeof(*row));
	principal_lists_t pl = {rpc, NULL, {0}, roles};
	rpc_args_t args;
	int rc;

	if (!row) {
		rpc->fault(ctx, 500, "out of memory");
		return;
	}
	if (read_args(rpc, ctx, 1, "pchat.room.get room", &args) == 0) {
		rc = pchat_admin_room_get(&a, args.pos[0], row);
		if (rc < 0) {
			fault(rpc, ctx, &a, rc);
		} else if (rpc->add(ctx, "{", &pl.th) >= 0) {
			add_room(rpc, pl.th, row);
			open_lists(&pl, roles, keys);
			if (pchat_admin_room_principals_of(&a, row->id, add_principal, &pl) < 0)
				LM_ERR("pchat.room.get %s: %s\n", args.pos[0], a.err);
		}
	}
	pkg_free(row);
}

/* ------------------------------------------------------------------ who is in a room */

typedef struct participants_ctx {
	rpc_t *rpc;
	void *list;
	int listed;
	int limit;
} participants_ctx_t;

/* A session as Redis names it: "<node>:<run>:<slot>:<generation>". */
static void add_session(void *ctx, const char *session, const char *user)
{
	participants_ctx_t *pc = ctx;
	char node[PCHAT_NODE_MAX];
	void *th;

	if (pc->listed >= pc->limit || pc->rpc->array_add(pc->list, "{", &th) < 0)
		return;
	pc->listed++;
	snprintf(node, sizeof(node), "%.*s", (int)strcspn(session, ":"), session);
	pc->rpc->struct_add(th, "sss", "user", user, "node", node, "session", session);
}

/* This node's sessions of the room, when the pool's presence is unreachable. */
static int add_local_sessions(participants_ctx_t *pc, uint64_t room_id)
{
	char guid[PCHAT_GUID_LEN + 1], session[PCHAT_SESSION_KEY_MAX];
	pchat_member_t *members = NULL;
	int n, i;

	n = pchat_live_ops.members(NULL, room_id, guid, &members);
	for (i = 0; i < n; i++) {
		pchat_live_session_key(members[i].session, session, sizeof(session));
		add_session(pc, session, members[i].user);
	}
	pchat_free(members);
	return n < 0 ? 0 : n;
}

static const char *room_participants_doc[] = {
	"Who is in a room now, in the whole pool: room (name, ma-chan:// URI or GUID) [limit=N "
	"(1000)]. Answers the number of users and sessions and the sessions (user, node, "
	"session); scope is \"node\" when Redis is unreachable and only this node's sessions are "
	"listed.", 0};

static void rpc_room_participants(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	pchat_room_row_t *row = pkg_malloc(sizeof(*row));
	participants_ctx_t pc = {rpc, NULL, 0, 1000};
	pchat_redis_t *r = pchat_proc_redis();
	rpc_args_t args;
	void *th;
	int rc, i, users = -1, sessions = -1;

	if (!row) {
		rpc->fault(ctx, 500, "out of memory");
		return;
	}
	if (read_args(rpc, ctx, 1, "pchat.room.participants room [limit=N]", &args) < 0)
		goto done;
	for (i = 0; i < args.nkv; i++) {
		if (strcmp(args.kv[i].key, "limit") != 0 || (pc.limit = atoi(args.kv[i].value)) < 1) {
			rpc->fault(ctx, 400, "pchat.room.participants room [limit=N]: N a positive number");
			goto done;
		}
	}
	if ((rc = pchat_admin_room_get(&a, args.pos[0], row)) < 0) {
		fault(rpc, ctx, &a, rc);
		goto done;
	}
	if (rpc->add(ctx, "{", &th) < 0)
		goto done;
	rpc->struct_add(th, "ss", "room", row->name, "guid", row->guid);
	rpc->struct_add(th, "[", "sessions", &pc.list);
	if (r && (users = pchat_presence_participants(r, row->id, 0, NULL, NULL)) >= 0)
		sessions = pchat_presence_sessions(r, row->id, add_session, &pc);
	if (sessions < 0) {
		users = pchat_live_ops.participants(NULL, row->id, 0, NULL, NULL);
		sessions = add_local_sessions(&pc, row->id);
		rpc->struct_add(th, "s", "scope", "node");
	} else {
		rpc->struct_add(th, "s", "scope", "pool");
	}
	rpc->struct_add(th, "dd", "users", users, "session_count", sessions);
done:
	pkg_free(row);
}

typedef struct list_ctx {
	rpc_t *rpc;
	void *ctx;
} list_ctx_t;

static int list_room_row(void *ctx, const pchat_room_row_t *r)
{
	list_ctx_t *lc = ctx;
	void *th;

	if (lc->rpc->add(lc->ctx, "{", &th) < 0)
		return 1;
	add_room(lc->rpc, th, r);
	return 0;
}

static const char *room_list_doc[] = {
	"Lists rooms by name: [category=NAME] [name=PART] [disabled=yes|no] [limit=N (100)] "
	"[manager=USER | member=USER (the rooms where the user, or the user's domain, holds "
	"that role)].", 0};

static void rpc_room_list(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	list_ctx_t lc = {rpc, ctx};
	rpc_args_t args;
	int rc;

	if (read_args(rpc, ctx, 0, "pchat.room.list [key=value...]", &args) < 0)
		return;
	rc = pchat_admin_room_list(&a, args.kv, args.nkv, list_room_row, &lc);
	if (rc < 0)
		fault(rpc, ctx, &a, rc);
}

static void room_disable(rpc_t *rpc, void *ctx, int disabled)
{
	pchat_admin_t a = pchat_proc_admin();
	rpc_args_t args;
	uint64_t id = 0;
	int rc;

	if (read_args(rpc, ctx, 1, disabled ? "pchat.room.disable room" : "pchat.room.enable room",
				&args) < 0)
		return;
	rc = pchat_admin_room_disable(&a, args.pos[0], disabled, &id);
	if (rc < 0) {
		fault(rpc, ctx, &a, rc);
		return;
	}
	if (!applied(rpc, ctx, room_changed(id)))
		return;
	rpc->add(ctx, "s", disabled ? "disabled" : "enabled");
}

static const char *room_disable_doc[] = {
	"Disables a room: room. Everybody in it is disconnected from it at once, and nobody can "
	"join, read or post until it is enabled.", 0};

static void rpc_room_disable(rpc_t *rpc, void *ctx)
{
	room_disable(rpc, ctx, 1);
}

static const char *room_enable_doc[] = {"Enables a disabled room: room.", 0};

static void rpc_room_enable(rpc_t *rpc, void *ctx)
{
	room_disable(rpc, ctx, 0);
}

static const char *room_remove_doc[] = {
	"Removes a room with its history and its files: room. Everybody in it is disconnected from "
	"it.", 0};

static void rpc_room_remove(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	rpc_args_t args;
	uint64_t id = 0;
	int rc;

	if (read_args(rpc, ctx, 1, "pchat.room.remove room", &args) < 0)
		return;
	rc = pchat_admin_room_remove(&a, args.pos[0], 0, &id);
	if (rc < 0) {
		fault(rpc, ctx, &a, rc);
		return;
	}
	if (!applied(rpc, ctx, room_changed(id)))
		return;
	rpc->add(ctx, "s", "removed");
}

/* ------------------------------------------------------------------ files */

static int list_file_row(void *ctx, const pchat_file_info_t *f)
{
	list_ctx_t *lc = ctx;
	void *th;

	if (lc->rpc->add(lc->ctx, "{", &th) < 0)
		return 1;
	lc->rpc->struct_add(th, "ssssllsss", "name", f->name, "original", f->original,
			"content_type", f->content_type, "state", f->state, "size", (long)f->size, "length",
			(long)f->length, "sha256", f->sha256, "uploader", f->uploader, "created", f->created);
	return 0;
}

static const char *file_list_doc[] = {
	"Lists a room's files, newest first: room [limit=N (100)]. Each: stored name, original "
	"name, content type, state (uploading, complete, removing), size, length, sha256, uploader, "
	"created.", 0};

static void rpc_file_list(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	list_ctx_t lc = {rpc, ctx};
	rpc_args_t args;
	long limit = 100;
	int rc;

	if (read_args(rpc, ctx, 1, "pchat.file.list room [limit=N]", &args) < 0)
		return;
	if (args.nkv > 1 || (args.nkv == 1 && (strcmp(args.kv[0].key, "limit") != 0
												 || pchat_parse_whole(args.kv[0].value, 1, 10000,
															&limit) < 0))) {
		fault_text(rpc, ctx, PCHAT_ERR_INVALID, "the one option is limit=N, 1 to 10000");
		return;
	}
	rc = pchat_admin_file_list(&a, args.pos[0], (int)limit, list_file_row, &lc);
	if (rc < 0)
		fault(rpc, ctx, &a, rc);
}

static const char *file_remove_doc[] = {
	"Removes a file of a room: room stored-name. It is no longer served or linkable at once; "
	"its bytes go once the compliance service exported the events that name it.", 0};

static void rpc_file_remove(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	rpc_args_t args;
	int rc;

	if (read_args(rpc, ctx, 2, "pchat.file.remove room stored-name", &args) < 0)
		return;
	rc = pchat_admin_file_remove(&a, args.pos[0], args.pos[1]);
	if (rc < 0) {
		fault(rpc, ctx, &a, rc);
		return;
	}
	LM_INFO("files: %s of room %s removed by an administrator\n", args.pos[1], args.pos[0]);
	rpc->add(ctx, "s", "removed");
}

static const char *room_clear_doc[] = {
	"Deletes a room's messages: room [before=ISO8601] (all when no date is given).", 0};

static void rpc_room_clear(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	long long deleted = 0;
	rpc_args_t args;
	void *th;
	int rc;

	if (read_args(rpc, ctx, 1, "pchat.room.clear room [before=ISO8601]", &args) < 0)
		return;
	rc = pchat_admin_room_clear(&a, args.pos[0], args.kv, args.nkv, &deleted);
	if (rc < 0)
		fault(rpc, ctx, &a, rc);
	else if (rpc->add(ctx, "{", &th) >= 0)
		rpc->struct_add(th, "d", "deleted", (int)deleted);
}

static void room_principals(rpc_t *rpc, void *ctx, const char *role, int add)
{
	pchat_admin_t a = pchat_proc_admin();
	rpc_args_t args;
	uint64_t id = 0;
	int rc, invited = 0;
	void *th;

	if (read_args(rpc, ctx, 2, "room principal... (a SIP URI or a domain each)", &args) < 0)
		return;
	rc = pchat_admin_room_principals(&a, args.pos[0], role, add,
			(const char *const *)args.pos + 1, args.npos - 1, &id, &invited);
	if (rc < 0) {
		fault(rpc, ctx, &a, rc);
		return;
	}
	if (!applied(rpc, ctx, room_changed(id)))
		return;
	if (rpc->add(ctx, "{", &th) >= 0)
		rpc->struct_add(th, "dd", add ? "added" : "removed", args.npos - 1, "invited", invited);
}

#define ROOM_PRINCIPALS(role, roles)                                                      \
	static const char *room_##roles##_add_doc[] = {                                        \
		"Adds " #roles " to a room: room principal... (sip:user@host or a domain). They must " \
		"be allowed in the room's category; new members of a room with invitations on are "  \
		"invited.", 0};                                                                    \
	static void rpc_room_##roles##_add(rpc_t *rpc, void *ctx)                              \
	{                                                                                      \
		room_principals(rpc, ctx, role, 1);                                                \
	}                                                                                      \
	static const char *room_##roles##_remove_doc[] = {                                     \
		"Removes " #roles " from a room: room principal...", 0};                          \
	static void rpc_room_##roles##_remove(rpc_t *rpc, void *ctx)                           \
	{                                                                                      \
		room_principals(rpc, ctx, role, 0);                                                \
	}

ROOM_PRINCIPALS("member", members)
ROOM_PRINCIPALS("manager", managers)
ROOM_PRINCIPALS("presenter", presenters)

/* ------------------------------------------------------------------ categories */

static const char *category_add_doc[] = {
	"Adds a category: name [description=TEXT] [file_upload=yes|no (no)] "
	"[invitations=yes|no (no)] [chat_history=yes|no (yes)].", 0};

static void rpc_category_add(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	pchat_category_row_t row;
	rpc_args_t args;
	void *th;
	int rc;

	if (read_args(rpc, ctx, 1, "pchat.category.add name [key=value...]", &args) < 0)
		return;
	rc = pchat_admin_category_add(&a, args.pos[0], args.kv, args.nkv, &row);
	if (rc < 0)
		fault(rpc, ctx, &a, rc);
	else if (rpc->add(ctx, "{", &th) >= 0)
		add_category(rpc, th, &row);
}

static const char *category_set_doc[] = {
	"Changes a category: category key=value... (name, description, file_upload, invitations, "
	"chat_history).", 0};

static void rpc_category_set(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	rpc_args_t args;
	int rc;

	if (read_args(rpc, ctx, 1, "pchat.category.set category key=value...", &args) < 0)
		return;
	rc = pchat_admin_category_set(&a, args.pos[0], args.kv, args.nkv);
	if (rc < 0)
		fault(rpc, ctx, &a, rc);
	else
		rpc->add(ctx, "s", "changed");
}

static const char *category_get_doc[] = {
	"Shows a category: category (name, ma-cat:// URI or GUID), with its allowed and denied "
	"members and its creators.", 0};

static void rpc_category_get(rpc_t *rpc, void *ctx)
{
	static const char *const roles[] = {"allowed", "denied", "creator", NULL};
	static const char *const keys[] = {"allowed", "denied", "creators"};
	pchat_admin_t a = pchat_proc_admin();
	pchat_category_row_t row;
	principal_lists_t pl = {rpc, NULL, {0}, roles};
	rpc_args_t args;
	int rc;

	if (read_args(rpc, ctx, 1, "pchat.category.get category", &args) < 0)
		return;
	rc = pchat_admin_category_get(&a, args.pos[0], &row);
	if (rc < 0) {
		fault(rpc, ctx, &a, rc);
		return;
	}
	if (rpc->add(ctx, "{", &pl.th) < 0)
		return;
	add_category(rpc, pl.th, &row);
	open_lists(&pl, roles, keys);
	if (pchat_admin_category_principals_of(&a, row.id, add_principal, &pl) < 0)
		LM_ERR("pchat.category.get %s: %s\n", args.pos[0], a.err);
}

static int list_category_row(void *ctx, const pchat_category_row_t *c)
{
	list_ctx_t *lc = ctx;
	void *th;

	if (lc->rpc->add(lc->ctx, "{", &th) < 0)
		return 1;
	add_category(lc->rpc, th, c);
	return 0;
}

static const char *category_list_doc[] = {"Lists the categories.", 0};

static void rpc_category_list(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	list_ctx_t lc = {rpc, ctx};
	int rc = pchat_admin_category_list(&a, list_category_row, &lc);

	if (rc < 0)
		fault(rpc, ctx, &a, rc);
}

static const char *category_remove_doc[] = {
	"Removes a category: category. Refused while it has rooms.", 0};

static void rpc_category_remove(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	rpc_args_t args;
	int rc;

	if (read_args(rpc, ctx, 1, "pchat.category.remove category", &args) < 0)
		return;
	rc = pchat_admin_category_remove(&a, args.pos[0]);
	if (rc < 0)
		fault(rpc, ctx, &a, rc);
	else
		rpc->add(ctx, "s", "removed");
}

static void category_principals(rpc_t *rpc, void *ctx, const char *role, int add)
{
	pchat_admin_t a = pchat_proc_admin();
	uint64_t id = 0;
	rpc_args_t args;
	int rc;

	if (read_args(rpc, ctx, 2, "category principal... (a SIP URI or a domain each)", &args) < 0)
		return;
	rc = pchat_admin_category_principals(&a, args.pos[0], role, add,
			(const char *const *)args.pos + 1, args.npos - 1, &id);
	if (rc < 0) {
		fault(rpc, ctx, &a, rc);
		return;
	}
	/* an ethical wall holds at once: who is out of the scope now leaves every room of the
	 * category, on every node */
	if (strcmp(role, "creator") != 0
			&& !applied(rpc, ctx, pchat_fanout_refresh_category(id, PCHAT_LOCAL)))
		return;
	rpc->add(ctx, "s", add ? "added" : "removed");
}

#define CATEGORY_PRINCIPALS(role, roles, what)                                            \
	static const char *category_##roles##_add_doc[] = {                                    \
		"Adds to the " what " of a category: category principal... (sip:user@host or a "     \
		"domain).", 0};                                                                    \
	static void rpc_category_##roles##_add(rpc_t *rpc, void *ctx)                          \
	{                                                                                      \
		category_principals(rpc, ctx, role, 1);                                            \
	}                                                                                      \
	static const char *category_##roles##_remove_doc[] = {                                 \
		"Removes from the " what " of a category: category principal...", 0};             \
	static void rpc_category_##roles##_remove(rpc_t *rpc, void *ctx)                       \
	{                                                                                      \
		category_principals(rpc, ctx, role, 0);                                            \
	}

CATEGORY_PRINCIPALS("allowed", allowed, "allowed members (whoever is no longer allowed leaves "
		"the category's rooms at once)")
CATEGORY_PRINCIPALS("denied", denied, "denied members (denied beats allowed; a denied user "
		"leaves the category's rooms at once)")
CATEGORY_PRINCIPALS("creator", creators, "creators")

/* ------------------------------------------------------------------ moderation, settings */

static const char *message_remove_doc[] = {
	"Moderation: replaces the content of a room's messages: room [user=URI] [keyword=TEXT] "
	"[after=ISO8601] [before=ISO8601] [replacement=TEXT]. Each message keeps its place, "
	"author and time; at least one of user, keyword, after, before is needed.", 0};

static void rpc_message_remove(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	long long replaced = 0;
	rpc_args_t args;
	void *th;
	int rc;

	if (read_args(rpc, ctx, 1, "pchat.message.remove room key=value...", &args) < 0)
		return;
	rc = pchat_admin_message_remove(&a, args.pos[0], args.kv, args.nkv, &replaced);
	if (rc < 0)
		fault(rpc, ctx, &a, rc);
	else if (rpc->add(ctx, "{", &th) >= 0)
		rpc->struct_add(th, "d", "replaced", (int)replaced);
}

typedef struct stored_settings {
	int value[32];
	int set[32];
} stored_settings_t;

static int remember_setting(void *ctx, const char *name, const char *value)
{
	stored_settings_t *ss = ctx;
	const pchat_setting_def_t *def = pchat_setting_find(name);
	char err[128];

	if (def && pchat_setting_parse(def, value, &ss->value[def - pchat_setting_defs], err,
					   sizeof(err)) == 0)
		ss->set[def - pchat_setting_defs] = 1;
	return 0;
}

static const char *config_get_doc[] = {
	"Shows the service settings: [name]. Each with the value in effect on this node, the "
	"pool-wide value stored in the database (if any) and the module parameter's default.", 0};

static void rpc_config_get(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	stored_settings_t ss;
	rpc_args_t args;
	int i, rc;

	if (read_args(rpc, ctx, 0, "pchat.config.get [name]", &args) < 0)
		return;
	if (args.npos && !pchat_setting_find(args.pos[0])) {
		rpc->fault(ctx, 400, "no setting '%s'", args.pos[0]);
		return;
	}
	memset(&ss, 0, sizeof(ss));
	rc = pchat_admin_config_load(&a, remember_setting, &ss);
	if (rc < 0) {
		fault(rpc, ctx, &a, rc);
		return;
	}
	for (i = 0; i < pchat_setting_count; i++) {
		const pchat_setting_def_t *d = &pchat_setting_defs[i];
		void *th;

		if (args.npos && strcmp(args.pos[0], d->name) != 0)
			continue;
		if (rpc->add(ctx, "{", &th) < 0)
			return;
		rpc->struct_add(th, "sdds", "name", d->name, "value",
				*pchat_setting_ptr(&pchat_shared->settings, d), "default",
				*pchat_setting_ptr(&pchat_settings_defaults, d), "about", d->doc);
		if (ss.set[i])
			rpc->struct_add(th, "d", "stored", ss.value[i]);
	}
}

static const char *config_set_doc[] = {
	"Sets a service setting pool-wide: name value. It applies on this node at once and on every "
	"node within config_reload_interval seconds.", 0};

static void rpc_config_set(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	rpc_args_t args;
	int rc;

	if (read_args(rpc, ctx, 2, "pchat.config.set name value", &args) < 0)
		return;
	rc = pchat_admin_config_set(&a, args.pos[0], args.pos[1]);
	if (rc < 0) {
		fault(rpc, ctx, &a, rc);
		return;
	}
	pchat_setting_apply(pchat_setting_find(args.pos[0]), args.pos[1]);
	rpc->add(ctx, "s", "set");
}

static const char *config_unset_doc[] = {
	"Removes a stored service setting: name. The module parameter's value applies again.", 0};

static void rpc_config_unset(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	rpc_args_t args;
	int rc;

	if (read_args(rpc, ctx, 1, "pchat.config.unset name", &args) < 0)
		return;
	rc = pchat_admin_config_unset(&a, args.pos[0]);
	if (rc < 0) {
		fault(rpc, ctx, &a, rc);
		return;
	}
	pchat_setting_apply(pchat_setting_find(args.pos[0]), NULL);
	rpc->add(ctx, "s", "unset");
}

/* ------------------------------------------------------------------ policy */

static const char *policy_set_doc[] = {
	"Persistent Chat policy: enables or disables Persistent Chat for everyone (*), a domain or "
	"a user: scope yes|no. The most specific rule wins; without rules everyone is enabled. The "
	"sessions of users a rule disables end at once, on every node, and their provisioning says "
	"so.", 0};

static void rpc_policy_set(rpc_t *rpc, void *ctx)
{
	char scope[PCHAT_USER_MAX];
	pchat_admin_t a = pchat_proc_admin();
	rpc_args_t args;
	int rc;

	if (read_args(rpc, ctx, 2, "pchat.policy.set scope yes|no (scope: *, a domain or a SIP "
				"URI)", &args) < 0)
		return;
	rc = pchat_admin_policy_set(&a, args.pos[0], args.pos[1], scope, sizeof(scope));
	if (rc < 0) {
		fault(rpc, ctx, &a, rc);
		return;
	}
	if (!applied(rpc, ctx, pchat_fanout_policy(scope, PCHAT_LOCAL)))
		return;
	rpc->add(ctx, "s", "set");
}

static const char *policy_unset_doc[] = {
	"Removes a Persistent Chat policy rule: scope (*, a domain or a SIP URI). The less "
	"specific rules apply again.", 0};

static void rpc_policy_unset(rpc_t *rpc, void *ctx)
{
	char scope[PCHAT_USER_MAX];
	pchat_admin_t a = pchat_proc_admin();
	rpc_args_t args;
	int rc;

	if (read_args(rpc, ctx, 1, "pchat.policy.unset scope", &args) < 0)
		return;
	rc = pchat_admin_policy_unset(&a, args.pos[0], scope, sizeof(scope));
	if (rc < 0) {
		fault(rpc, ctx, &a, rc);
		return;
	}
	if (!applied(rpc, ctx, pchat_fanout_policy(scope, PCHAT_LOCAL)))
		return;
	rpc->add(ctx, "s", "unset");
}

static int list_policy_rule(void *ctx, const char *scope, int enabled, const char *modified)
{
	list_ctx_t *lc = ctx;
	void *th;

	if (lc->rpc->add(lc->ctx, "{", &th) < 0)
		return 1;
	lc->rpc->struct_add(th, "sds", "scope", scope, "enabled", enabled, "modified", modified);
	return 0;
}

static const char *policy_list_doc[] = {
	"Lists the Persistent Chat policy rules: everyone's (*), then domains, then users.", 0};

static void rpc_policy_list(rpc_t *rpc, void *ctx)
{
	pchat_admin_t a = pchat_proc_admin();
	list_ctx_t lc = {rpc, ctx};
	int rc = pchat_admin_policy_list(&a, list_policy_rule, &lc);

	if (rc < 0)
		fault(rpc, ctx, &a, rc);
}

static const char *policy_get_doc[] = {
	"Whether the Persistent Chat policy enables a user: user (a SIP URI).", 0};

static void rpc_policy_get(rpc_t *rpc, void *ctx)
{
	char user[PCHAT_USER_MAX];
	rpc_args_t args;
	void *th;
	int enabled;

	if (read_args(rpc, ctx, 1, "pchat.policy.get sip:user@host", &args) < 0)
		return;
	if (pchat_user_normalize(args.pos[0], strlen(args.pos[0]), user, sizeof(user)) < 0) {
		rpc->fault(ctx, 400, "'%s' is not a SIP URI (sip:user@host)", args.pos[0]);
		return;
	}
	enabled = pchat_service()->store->policy_enabled(pchat_service()->store_h, user);
	if (enabled < 0) {
		rpc->fault(ctx, pchat_rc_rpc(enabled), "the policy cannot be read: %s",
				pchat_rc_text(enabled));
		return;
	}
	if (rpc->add(ctx, "{", &th) >= 0)
		rpc->struct_add(th, "sd", "user", user, "enabled", enabled);
}

/* ------------------------------------------------------------------ compliance */

static const char *compliance_get_doc[] = {
	"Shows the compliance settings (pool-wide): adapter (none|xml|jsonl), output_dir, "
	"run_interval, one_room_per_file, add_user_details, add_room_details, xslt, batch_size.", 0};

static void rpc_compliance_get(rpc_t *rpc, void *ctx)
{
	pchat_compliance_conf_t conf;
	int rc = pchat_outbox_conf_get(pchat_proc_db(), &conf);
	void *th;

	if (rc < 0) {
		fault_text(rpc, ctx, rc, NULL);
		return;
	}
	if (rpc->add(ctx, "{", &th) < 0)
		return;
	rpc->struct_add(th, "ssdssssd", "adapter", pchat_adapter_name(conf.adapter), "output_dir",
			conf.output_dir, "run_interval", conf.run_interval, "one_room_per_file",
			conf.one_room_per_file ? "yes" : "no", "add_user_details",
			conf.add_user_details ? "yes" : "no", "add_room_details",
			conf.add_room_details ? "yes" : "no", "xslt", conf.xslt, "batch_size",
			conf.batch_size);
}

static const char *compliance_set_doc[] = {
	"Sets compliance settings pool-wide: name=value... (names as pchat.compliance.get shows). "
	"All are checked and stored together; an adapter needs an output_dir. Recording starts "
	"or stops on this node at once and on the others within config_reload_interval seconds.",
	0};

static void rpc_compliance_set(rpc_t *rpc, void *ctx)
{
	pchat_db_t *db = pchat_proc_db();
	pchat_compliance_conf_t conf;
	char err[256] = "";
	rpc_args_t args;
	int i, rc = 0;

	if (read_args(rpc, ctx, 0, "pchat.compliance.set name=value...", &args) < 0)
		return;
	if (args.npos || !args.nkv) {
		rpc->fault(ctx, 400, "usage: pchat.compliance.set name=value...");
		return;
	}
	/* all or nothing, and never an adapter without a folder to write to */
	rc = pchat_db_begin(db);
	for (i = 0; i < args.nkv && rc == 0; i++)
		rc = pchat_outbox_conf_set(db, args.kv[i].key, args.kv[i].value, err, sizeof(err));
	if (rc == 0)
		rc = pchat_outbox_conf_get(db, &conf);
	if (rc == 0 && conf.adapter != PCHAT_ADAPTER_NONE && !conf.output_dir[0]) {
		snprintf(err, sizeof(err), "an adapter needs an output_dir (a folder shared by the "
				"pool's nodes)");
		rc = PCHAT_ERR_INVALID;
	}
	if (rc == 0)
		rc = pchat_db_commit(db);
	else
		pchat_db_rollback(db);
	if (rc < 0) {
		fault_text(rpc, ctx, rc, err);
		return;
	}
	pchat_compliance_apply(&conf);
	rpc->add(ctx, "s", "set");
}

static const char *compliance_status_doc[] = {
	"Shows the compliance service: the active worker's node and lease expiry, the last event id "
	"processed, events exported and waiting, open batches, the last run, the last success and "
	"the last error, whether this node records.", 0};

static void rpc_compliance_status(rpc_t *rpc, void *ctx)
{
	pchat_compliance_status_t st;
	int rc = pchat_outbox_status(pchat_proc_db(), &st);
	void *th;

	if (rc < 0) {
		fault_text(rpc, ctx, rc, NULL);
		return;
	}
	if (rpc->add(ctx, "{", &th) < 0)
		return;
	rpc->struct_add(th, "ssdsss", "active_node", st.lease_valid ? st.node : "", "last_node",
			st.node, "lease_valid", st.lease_valid, "lease_expires", st.lease_expires,
			"last_run", st.last_run, "last_success", st.last_success);
	rpc->struct_add(th, "sllllds", "last_error", st.last_error, "last_processed_id",
			(long)st.last_processed_id, "exported", (long)st.exported, "waiting",
			(long)st.waiting, "open_batches", (long)st.open_batches, "run_requested",
			st.run_requested, "recording",
			__atomic_load_n(&pchat_shared->compliance_recording, __ATOMIC_RELAXED) == 0 ? "no"
																						 : "yes");
}

static const char *compliance_run_doc[] = {
	"Asks the active compliance worker (on whichever node holds the lease) to run now; it starts "
	"within a second. pchat.compliance.status shows the outcome.", 0};

static void rpc_compliance_run(rpc_t *rpc, void *ctx)
{
	int rc = pchat_outbox_request_run(pchat_proc_db());

	if (rc < 0)
		fault_text(rpc, ctx, rc, NULL);
	else
		rpc->add(ctx, "s", "requested");
}

rpc_export_t pchat_rpc_admin_cmds[] = {
	{"pchat.room.add", rpc_room_add, room_add_doc, 0},
	{"pchat.room.set", rpc_room_set, room_set_doc, 0},
	{"pchat.room.get", rpc_room_get, room_get_doc, 0},
	{"pchat.room.participants", rpc_room_participants, room_participants_doc, 0},
	{"pchat.room.list", rpc_room_list, room_list_doc, RET_ARRAY},
	{"pchat.room.disable", rpc_room_disable, room_disable_doc, 0},
	{"pchat.room.enable", rpc_room_enable, room_enable_doc, 0},
	{"pchat.room.remove", rpc_room_remove, room_remove_doc, 0},
	{"pchat.room.clear", rpc_room_clear, room_clear_doc, 0},
	{"pchat.file.list", rpc_file_list, file_list_doc, RET_ARRAY},
	{"pchat.file.remove", rpc_file_remove, file_remove_doc, 0},
	{"pchat.room.members.add", rpc_room_members_add, room_members_add_doc, 0},
	{"pchat.room.members.remove", rpc_room_members_remove, room_members_remove_doc, 0},
	{"pchat.room.managers.add", rpc_room_managers_add, room_managers_add_doc, 0},
	{"pchat.room.managers.remove", rpc_room_managers_remove, room_managers_remove_doc, 0},
	{"pchat.room.presenters.add", rpc_room_presenters_add, room_presenters_add_doc, 0},
	{"pchat.room.presenters.remove", rpc_room_presenters_remove, room_presenters_remove_doc, 0},
	{"pchat.category.add", rpc_category_add, category_add_doc, 0},
	{"pchat.category.set", rpc_category_set, category_set_doc, 0},
	{"pchat.category.get", rpc_category_get, category_get_doc, 0},
	{"pchat.category.list", rpc_category_list, category_list_doc, RET_ARRAY},
	{"pchat.category.remove", rpc_category_remove, category_remove_doc, 0},
	{"pchat.category.allowed.add", rpc_category_allowed_add, category_allowed_add_doc, 0},
	{"pchat.category.allowed.remove", rpc_category_allowed_remove, category_allowed_remove_doc,
		0},
	{"pchat.category.denied.add", rpc_category_denied_add, category_denied_add_doc, 0},
	{"pchat.category.denied.remove", rpc_category_denied_remove, category_denied_remove_doc, 0},
	{"pchat.category.creators.add", rpc_category_creators_add, category_creators_add_doc, 0},
	{"pchat.category.creators.remove", rpc_category_creators_remove,
		category_creators_remove_doc, 0},
	{"pchat.message.remove", rpc_message_remove, message_remove_doc, 0},
	{"pchat.config.get", rpc_config_get, config_get_doc, RET_ARRAY},
	{"pchat.config.set", rpc_config_set, config_set_doc, 0},
	{"pchat.config.unset", rpc_config_unset, config_unset_doc, 0},
	{"pchat.policy.set", rpc_policy_set, policy_set_doc, 0},
	{"pchat.policy.unset", rpc_policy_unset, policy_unset_doc, 0},
	{"pchat.policy.list", rpc_policy_list, policy_list_doc, RET_ARRAY},
	{"pchat.policy.get", rpc_policy_get, policy_get_doc, 0},
	{"pchat.compliance.get", rpc_compliance_get, compliance_get_doc, 0},
	{"pchat.compliance.set", rpc_compliance_set, compliance_set_doc, 0},
	{"pchat.compliance.status", rpc_compliance_status, compliance_status_doc, 0},
	{"pchat.compliance.run", rpc_compliance_run, compliance_run_doc, 0},
	{0, 0, 0, 0}
};
