/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/dprint.h"

#include "pchat_live.h"
#include "pchat_node.h"
#include "pchat_presence.h"
#include "pchat_rpc.h"
#include "pchat_session.h"

static const char *state_name(const pchat_health_t *h, int connected)
{
	if (connected)
		return "up";
	return pchat_health_is_down(h) ? "down" : "idle";
}

/* Connection failures since start; every process counts them (atomically). */
static int failures_of(const pchat_health_t *h)
{
	return (int)__atomic_load_n(&h->failures, __ATOMIC_RELAXED);
}

/* Pings MySQL from this (RPC) process and reports what it saw. */
static void add_mysql(rpc_t *rpc, void *th)
{
	pchat_db_t *db = pchat_proc_db();
	int up = db && pchat_db_query(db, "SELECT 1") == 0;
	/* the server every process uses now (after the query: it may just have moved) */
	int in_use = pchat_health_server(&pchat_shared->db_health);
	const pchat_db_host_t *h = &pchat_db_conf.hosts[in_use];
	void *sub;

	if (rpc->struct_add(th, "{", "mysql", &sub) < 0)
		return;
	rpc->struct_add(sub, "ssdsd", "state", state_name(&pchat_shared->db_health, up),
			"server", up ? pchat_db_server_info(db) : "",
			"port", (int)h->port, "database", pchat_db_conf.database,
			"failures", failures_of(&pchat_shared->db_health));
	rpc->struct_add(sub, "sdd", "host", h->name, "servers", pchat_db_conf.nhosts, "switches",
			(int)__atomic_load_n(&pchat_shared->db_health.switches, __ATOMIC_RELAXED));
}

/* Pings Redis from this (RPC) process: through Sentinel, host and port are the master this
 * process found last. */
static void add_redis(rpc_t *rpc, void *th)
{
	pchat_redis_t *r = pchat_proc_redis();
	redisReply *rep = r ? pchat_redis_command(r, "PING") : NULL;
	const pchat_redis_addr_t *server = r ? pchat_redis_server(r) : NULL;
	int up = rep != NULL;
	void *sub;

	if (rep)
		freeReplyObject(rep);
	if (rpc->struct_add(th, "{", "redis", &sub) < 0)
		return;
	rpc->struct_add(sub, "sssdd", "state", state_name(&pchat_shared->redis.health, up),
			"server", up ? pchat_redis_server_version(r) : "", "host",
			server ? server->host : "", "port", server ? (int)server->port : 0,
			"failures", failures_of(&pchat_shared->redis.health));
	if (pchat_redis_conf.master_name)
		rpc->struct_add(sub, "sd", "master_name", pchat_redis_conf.master_name,
				"master_changes", (int)pchat_redis_master_changes(&pchat_shared->redis));
}

static const char *status_doc[] = {
	"Module version, chat domain, pool URI, the state of the MySQL and Redis connections "
	"(checked live from the RPC process), the number of chat sessions, and the KiB of shared "
	"memory the node's deliveries hold now, at their peak and at most (max_node_bytes).",
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
	rpc->struct_add(th, "ddd", "sessions", pchat_node_sessions(), "max_sessions",
			pchat_sessions_max(), "session_slot_bytes", pchat_sessions_slot_bytes());
	/* what the node's deliveries hold against their budget (new posts and sessions get 503
	 * above it) */
	rpc->struct_add(th, "ddd", "queued_kb",
			(int)(pchat_node_used(&pchat_shared->budget) / 1024), "queued_kb_peak", (int)(pchat_node_peak(&pchat_shared->budget) / 1024),
			"max_node_kb", (int)(pchat_shared->budget.limit / 1024));
}

typedef struct pool_ctx {
	rpc_t *rpc;
	void *list;
	long long now_ms;
} pool_ctx_t;

static void add_node(void *ctx, const pchat_node_info_t *n)
{
	pool_ctx_t *pc = ctx;
	char started[32];
	void *th;

	if (pc->rpc->array_add(pc->list, "{", &th) < 0)
		return;
	pc->rpc->struct_add(th, "sdddd", "node", n->node, "self",
			strcmp(n->node, pchat_params.node_id) == 0, "alive", n->alive, "sessions",
			n->sessions, "heartbeat_age_ms",
			n->heartbeat_ms ? (int)(pc->now_ms - n->heartbeat_ms) : -1);
	pchat_iso_time_ms(n->run, started, sizeof(started));
	pc->rpc->struct_add(th, "s", "started", started);
}

static const char *pool_doc[] = {
	"The nodes of the pool as Redis knows them: for each its name, whether it is this node, "
	"whether its heartbeat is current, its chat sessions and the age of its last heartbeat. "
	"Also this node's rooms and memberships, and the relays it sent and received.",
	0
};

static void rpc_pool(rpc_t *rpc, void *ctx)
{
	pool_ctx_t pc = {rpc, NULL, pchat_now_ms()};
	pchat_redis_t *r = pchat_proc_redis();
	int rooms, members, n = -1;
	void *th;

	if (rpc->add(ctx, "{", &th) < 0) {
		rpc->fault(ctx, 500, "Internal error creating the reply");
		return;
	}
	pchat_live_counts(&rooms, &members);
	rpc->struct_add(th, "sddd", "node", pchat_params.node_id, "sessions",
			pchat_node_sessions(), "rooms", rooms, "memberships", members);
	rpc->struct_add(th, "dd", "relayed", (int)get_stat_val(pchat_stat_relayed),
			"received", (int)get_stat_val(pchat_stat_received));
	rpc->struct_add(th, "[", "nodes", &pc.list);
	if (r)
		n = pchat_presence_nodes(r, add_node, &pc);
	rpc->struct_add(th, "s", "redis", n >= 0 ? "up" : "down");
}

rpc_export_t pchat_rpc_cmds[] = {
	{"pchat.status", rpc_status, status_doc, 0},
	{"pchat.pool", rpc_pool, pool_doc, 0},
	{0, 0, 0, 0}
};
