/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include "core/dprint.h"

#include "pchat_mod.h"
#include "pchat_rpc.h"

static const char *state_name(const pchat_health_t *h, int connected)
{
	if (connected)
		return "up";
	return pchat_health_is_down(h) ? "down" : "idle";
}

/* Pings MySQL from this (RPC) process and reports what it saw. */
static void add_mysql(rpc_t *rpc, void *th)
{
	pchat_db_t *db = pchat_proc_db();
	int up = db && pchat_db_query(db, "SELECT 1") == 0;
	void *sub;

	if (rpc->struct_add(th, "{", "mysql", &sub) < 0)
		return;
	rpc->struct_add(sub, "ssdsd", "state", state_name(&pchat_shared->db_health, up),
			"server", up ? pchat_db_server_info(db) : "",
			"port", (int)pchat_db_conf.port, "database", pchat_db_conf.database,
			"failures", (int)pchat_shared->db_health.failures);
	rpc->struct_add(sub, "s", "host", pchat_db_conf.host);
}

static void add_redis(rpc_t *rpc, void *th)
{
	pchat_redis_t *r = pchat_proc_redis();
	redisReply *rep = r ? pchat_redis_command(r, "PING") : NULL;
	int up = rep != NULL;
	void *sub;

	if (rep)
		freeReplyObject(rep);
	if (rpc->struct_add(th, "{", "redis", &sub) < 0)
		return;
	rpc->struct_add(sub, "sssdd", "state", state_name(&pchat_shared->redis_health, up),
			"server", up ? pchat_redis_server_version(r) : "", "host", pchat_redis_conf.host,
			"port", (int)pchat_redis_conf.port,
			"failures", (int)pchat_shared->redis_health.failures);
}

static const char *status_doc[] = {
	"Module version, chat domain, pool URI, the state of the MySQL and Redis connections "
	"(checked live from the RPC process) and the number of chat sessions.",
	0
};

static void rpc_status(rpc_t *rpc, void *ctx)
{
	void *th;

	if (rpc->add(ctx, "{", &th) < 0) {
		rpc->fault(ctx, 500, "Internal error creating the reply");
		return;
	}
	rpc->struct_add(th, "sss", "version", PCHAT_VERSION, "domain", pchat_params.domain,
			"pool_uri", pchat_params.pool_uri);
	add_mysql(rpc, th);
	add_redis(rpc, th);
	rpc->struct_add(th, "d", "sessions", pchat_shared->sessions);
}

rpc_export_t pchat_rpc_cmds[] = {
	{"pchat.status", rpc_status, status_doc, 0},
	{0, 0, 0, 0}
};
