/*
 * The web application's RPC commands (pchat.web.*): its administrators and the API tokens of
 * scripts. A refused command answers a fault: 400 invalid argument, 404 no such token, 500
 * database failure, 503 database unreachable.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdlib.h>
#include <string.h>

#include "core/dprint.h"

#include "pchat_node.h"
#include "pchat_rpc.h"
#include "pchat_web.h"

/* The user argument as a normalized SIP URI: 0, or -1 with the fault answered. */
static int user_arg(rpc_t *rpc, void *ctx, const char *usage, char *user)
{
	char *v;

	if (rpc->scan(ctx, "s", &v) < 1) {
		rpc->fault(ctx, 400, "usage: %s", usage);
		return -1;
	}
	if (pchat_web_user(v, strchr(v, '@') ? NULL : pchat_params.domain, user) < 0) {
		rpc->fault(ctx, 400, "'%s' is not a user (sip:user@domain, user@domain or a user of "
				"the chat domain)", v);
		return -1;
	}
	return 0;
}

static int failed(rpc_t *rpc, void *ctx, int rc)
{
	if (rc >= 0)
		return 0;
	rpc->fault(ctx, pchat_rc_rpc(rc), "%s", rc == PCHAT_ERR_DOWN ? "the database is "
			"unreachable: try again" : "the database refused the change (see the log)");
	return 1;
}

static void admin_set(rpc_t *rpc, void *ctx, int admin)
{
	char user[PCHAT_USER_MAX];
	int rc;

	if (user_arg(rpc, ctx, admin ? "pchat.web.admin.add user" : "pchat.web.admin.remove user",
				user) < 0)
		return;
	rc = pchat_web_admin_set(pchat_proc_db(), user, admin);
	if (failed(rpc, ctx, rc))
		return;
	if (rc > 0)
		LM_INFO("%s is %s an administrator of the web application\n", user,
				admin ? "now" : "no longer");
	rpc->add(ctx, "s", rc == 0 ? "unchanged" : admin ? "added" : "removed");
}

static const char *web_admin_add_doc[] = {
	"Makes a user an administrator of the room-management web application (every room and "
	"category, service settings, moderation, the pool): user (sip:user@domain).", 0};

static void rpc_web_admin_add(rpc_t *rpc, void *ctx)
{
	admin_set(rpc, ctx, 1);
}

static const char *web_admin_remove_doc[] = {
	"Takes the web application's administration from a user: user.", 0};

static void rpc_web_admin_remove(rpc_t *rpc, void *ctx)
{
	admin_set(rpc, ctx, 0);
}

typedef struct list_ctx {
	rpc_t *rpc;
	void *ctx;
} list_ctx_t;

static int add_admin(void *ctx, const char *user)
{
	list_ctx_t *lc = ctx;

	return lc->rpc->add(lc->ctx, "s", user) < 0;
}

static const char *web_admin_list_doc[] = {
	"Lists the administrators of the web application.", 0};

static void rpc_web_admin_list(rpc_t *rpc, void *ctx)
{
	list_ctx_t lc = {rpc, ctx};

	failed(rpc, ctx, pchat_web_admin_list(pchat_proc_db(), add_admin, &lc));
}

static const char *web_token_issue_doc[] = {
	"Issues an API token for scripts acting as a user: user [label] [days (0: until "
	"revoked; default 365)]. Answers the token, shown only now: send it as "
	"Authorization: Bearer TOKEN.", 0};

static void rpc_web_token_issue(rpc_t *rpc, void *ctx)
{
	static const char usage[] = "pchat.web.token.issue user [label] [days]";
	char user[PCHAT_USER_MAX], token[PCHAT_WEB_SECRET_LEN + 1], *label = "";
	long long id = 0;
	int days = 365;
	void *th;

	if (user_arg(rpc, ctx, usage, user) < 0)
		return;
	if (rpc->scan(ctx, "*s", &label) == 1 && rpc->scan(ctx, "*d", &days) == 1
			&& (days < 0 || days > 3650)) {
		rpc->fault(ctx, 400, "days must be 0 (until revoked) to 3650");
		return;
	}
	if (strlen(label) > 255) {
		rpc->fault(ctx, 400, "the label is longer than 255 characters");
		return;
	}
	if (failed(rpc, ctx, pchat_web_token_issue(pchat_proc_db(), user, label, days, token, &id)))
		return;
	LM_INFO("API token %lld issued for %s (%s), valid %d days\n", id, user, label, days);
	if (rpc->add(ctx, "{", &th) >= 0)
		rpc->struct_add(th, "dsssd", "id", (int)id, "user", user, "label", label, "token",
				token, "days", days);
}

static const char *web_token_revoke_doc[] = {"Revokes an API token: id (pchat.web.token.list).",
	0};

static void rpc_web_token_revoke(rpc_t *rpc, void *ctx)
{
	int id, rc;

	if (rpc->scan(ctx, "d", &id) < 1) {
		rpc->fault(ctx, 400, "usage: pchat.web.token.revoke id");
		return;
	}
	rc = pchat_web_token_revoke(pchat_proc_db(), id);
	if (failed(rpc, ctx, rc))
		return;
	if (rc == 0) {
		rpc->fault(ctx, 404, "no API token %d", id);
		return;
	}
	LM_INFO("API token %d revoked\n", id);
	rpc->add(ctx, "s", "revoked");
}

static int add_token(void *ctx, long long id, const char *user, const char *label,
		const char *created, const char *expires, const char *last_used)
{
	list_ctx_t *lc = ctx;
	void *th;

	if (lc->rpc->add(lc->ctx, "{", &th) < 0)
		return 1;
	lc->rpc->struct_add(th, "dsssss", "id", (int)id, "user", user, "label", label, "created",
			created, "expires", expires, "last_used", last_used);
	return 0;
}

static const char *web_token_list_doc[] = {
	"Lists the API tokens (never the tokens themselves): id, user, label, created, expires, "
	"last_used.", 0};

static void rpc_web_token_list(rpc_t *rpc, void *ctx)
{
	list_ctx_t lc = {rpc, ctx};

	failed(rpc, ctx, pchat_web_token_list(pchat_proc_db(), add_token, &lc));
}

rpc_export_t pchat_rpc_web_cmds[] = {
	{"pchat.web.admin.add", rpc_web_admin_add, web_admin_add_doc, 0},
	{"pchat.web.admin.remove", rpc_web_admin_remove, web_admin_remove_doc, 0},
	{"pchat.web.admin.list", rpc_web_admin_list, web_admin_list_doc, RET_ARRAY},
	{"pchat.web.token.issue", rpc_web_token_issue, web_token_issue_doc, 0},
	{"pchat.web.token.revoke", rpc_web_token_revoke, web_token_revoke_doc, 0},
	{"pchat.web.token.list", rpc_web_token_list, web_token_list_doc, RET_ARRAY},
	{0, 0, 0, 0}
};
