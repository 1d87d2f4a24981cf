/*
 * pchat: persistent group chat (Lync/Skype for Business Persistent Chat, XCCOS over SIP) as a
 * Kamailio module. This file holds the module's exports: parameters, cfg functions, statistics,
 * and the init/child_init/destroy hooks. The work is done in the other files.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <string.h>

#include <unistd.h>

#include "core/sr_module.h"
#include "core/tcp_options.h"
#include "core/timer.h"
#include "core/dprint.h"
#include "core/mem/mem.h"
#include "core/mem/shm_mem.h"
#include "core/counters.h"
#include "core/flags.h"
#include "core/globals.h"
#include "core/parser/parse_uri.h"

#include "core/rpc_lookup.h"

#include "pchat_admin.h"
#include "pchat_alloc.h"
#include "pchat_fanout.h"
#include "pchat_housekeeper.h"
#include "pchat_limits.h"
#include "pchat_live.h"
#include "pchat_log.h"
#include "pchat_mod.h"
#include "pchat_rpc.h"
#include "pchat_schema.h"
#include "pchat_service.h"
#include "pchat_settings.h"
#include "pchat_session.h"
#include "pchat_store_mysql.h"
#include "pchat_sip.h"

MODULE_VERSION

pchat_params_t pchat_params = {
	.db_url = "mysql://pchat:pchat@127.0.0.1:3306/pchat",
	.db_timeout = 3,
	.db_retry_interval = 5,
	.redis_url = "redis://127.0.0.1:6379/0",
	.redis_timeout = 250,
	.redis_retry_interval = 5,
	.domain = NULL,
	.pool_uri = NULL,
	.identity = "$avp(pchat_identity)",
	.flow = "$avp(pchat_flow)",
	.trusted_flag = -1,
	.max_dialog_size = 4096,
	.node_id = NULL,
	.max_sessions = 16384,
	.fanout_workers = 2,
	.session_expires = 600,
	.max_body_size = 24576,
	.max_post_size = 30000,
	.max_preferences = 64,
	.max_preference_size = 16384,
	.max_pending = 32,
	.max_queued = 256,
	.max_session_bytes = 2097152,
	.max_node_bytes = 0,
	.max_sessions_per_user = 16,
	.max_sessions_per_source = 1024,
	.user_request_rate = 50,
	.user_request_burst = 200,
	.max_rooms_per_session = 1000,
	.config_reload_interval = 5,
	.node_timeout = 10,
	.gap_timeout = 2000,
	.relay_queue_len = 10000,
	.presence_sync_interval = 30,
	.catch_up_interval = 5,
	.fault_post_fanout = 0,
};

long long pchat_run = 0;

/* Defaults of the service settings (Lync's where it has one); pchat_config overrides them. */
pchat_settings_t pchat_settings_defaults = {
	.default_history = 30,
	.max_file_size = 20000,
	.message_size_limit = 8000,
	.backchat_limit = 100,
	.participant_update_limit = 75,
	.search_limit = 500,
	.story_size_limit = 8192,
	.reply_size = 60000,
};

pchat_db_conf_t pchat_db_conf;
pchat_redis_conf_t pchat_redis_conf;
str pchat_pool_uri = STR_NULL;
pv_elem_t *pchat_identity_fmt = NULL;
pv_spec_t pchat_flow_spec;
pchat_shared_t *pchat_shared = NULL;

static pchat_db_t *proc_db = NULL;

/* The statement sets a process's connection runs: the parts that query on it. */
static const pchat_db_sqlset_t *const proc_sqlsets[] = {
	&pchat_schema_sqlset, &pchat_store_sqlset, &pchat_admin_sqlset};
#define PROC_NSQLSETS ((int)(sizeof(proc_sqlsets) / sizeof(proc_sqlsets[0])))

static pchat_redis_t *proc_redis = NULL;

stat_var *pchat_stat_requests = NULL;
stat_var *pchat_stat_commands = NULL;
stat_var *pchat_stat_posts = NULL;
stat_var *pchat_stat_deliveries = NULL;
stat_var *pchat_stat_delivery_failures = NULL;
stat_var *pchat_stat_bad_requests = NULL;
stat_var *pchat_stat_relayed = NULL;
stat_var *pchat_stat_received = NULL;
stat_var *pchat_stat_duplicates = NULL;
stat_var *pchat_stat_gap_fills = NULL;
stat_var *pchat_stat_skipped = NULL;
stat_var *pchat_stat_throttled = NULL;

static unsigned long stat_sessions(void)
{
	return pchat_shared ? (unsigned long)pchat_shared->sessions : 0;
}

static unsigned long stat_queued_bytes(void)
{
	return pchat_shared ? (unsigned long)pchat_shared->budget.used : 0;
}

static stat_export_t mod_stats[] = {
	{"requests", 0, &pchat_stat_requests},
	{"commands", 0, &pchat_stat_commands},
	{"posts", 0, &pchat_stat_posts},
	{"deliveries", 0, &pchat_stat_deliveries},
	{"delivery_failures", 0, &pchat_stat_delivery_failures},
	{"bad_requests", 0, &pchat_stat_bad_requests},
	{"relayed", 0, &pchat_stat_relayed},
	{"received", 0, &pchat_stat_received},
	{"duplicates", 0, &pchat_stat_duplicates},
	{"gap_fills", 0, &pchat_stat_gap_fills},
	{"skipped_posts", 0, &pchat_stat_skipped},
	{"throttled", 0, &pchat_stat_throttled},
	{"queued_bytes", STAT_IS_FUNC, (stat_var **)stat_queued_bytes},
	{"sessions", STAT_IS_FUNC, (stat_var **)stat_sessions},
	{0, 0, 0}
};

static int mod_init(void);
static int child_init(int rank);
static void mod_destroy(void);

static cmd_export_t cmds[] = {
	{"pchat_handle", (cmd_function)pchat_w_handle, 0, 0, 0, REQUEST_ROUTE},
	{"pchat_provision", (cmd_function)pchat_w_provision, 0, 0, 0, REQUEST_ROUTE},
	{0, 0, 0, 0, 0, 0}
};

static param_export_t params[] = {
	{"db_url", PARAM_STRING, &pchat_params.db_url},
	{"db_timeout", PARAM_INT, &pchat_params.db_timeout},
	{"db_retry_interval", PARAM_INT, &pchat_params.db_retry_interval},
	{"redis_url", PARAM_STRING, &pchat_params.redis_url},
	{"redis_timeout", PARAM_INT, &pchat_params.redis_timeout},
	{"redis_retry_interval", PARAM_INT, &pchat_params.redis_retry_interval},
	{"domain", PARAM_STRING, &pchat_params.domain},
	{"pool_uri", PARAM_STRING, &pchat_params.pool_uri},
	{"identity", PARAM_STRING, &pchat_params.identity},
	{"flow", PARAM_STRING, &pchat_params.flow},
	{"trusted_flag", PARAM_INT, &pchat_params.trusted_flag},
	{"max_dialog_size", PARAM_INT, &pchat_params.max_dialog_size},
	{"node_id", PARAM_STRING, &pchat_params.node_id},
	{"max_sessions", PARAM_INT, &pchat_params.max_sessions},
	{"fanout_workers", PARAM_INT, &pchat_params.fanout_workers},
	{"session_expires", PARAM_INT, &pchat_params.session_expires},
	{"max_body_size", PARAM_INT, &pchat_params.max_body_size},
	{"max_post_size", PARAM_INT, &pchat_params.max_post_size},
	{"max_preferences", PARAM_INT, &pchat_params.max_preferences},
	{"max_preference_size", PARAM_INT, &pchat_params.max_preference_size},
	{"max_pending", PARAM_INT, &pchat_params.max_pending},
	{"max_queued", PARAM_INT, &pchat_params.max_queued},
	{"max_session_bytes", PARAM_INT, &pchat_params.max_session_bytes},
	{"max_node_bytes", PARAM_INT, &pchat_params.max_node_bytes},
	{"max_sessions_per_user", PARAM_INT, &pchat_params.max_sessions_per_user},
	{"max_sessions_per_source", PARAM_INT, &pchat_params.max_sessions_per_source},
	{"user_request_rate", PARAM_INT, &pchat_params.user_request_rate},
	{"user_request_burst", PARAM_INT, &pchat_params.user_request_burst},
	{"max_rooms_per_session", PARAM_INT, &pchat_params.max_rooms_per_session},
	{"default_history", PARAM_INT, &pchat_settings_defaults.default_history},
	{"max_file_size", PARAM_INT, &pchat_settings_defaults.max_file_size},
	{"message_size_limit", PARAM_INT, &pchat_settings_defaults.message_size_limit},
	{"story_size_limit", PARAM_INT, &pchat_settings_defaults.story_size_limit},
	{"backchat_limit", PARAM_INT, &pchat_settings_defaults.backchat_limit},
	{"participant_update_limit", PARAM_INT, &pchat_settings_defaults.participant_update_limit},
	{"search_limit", PARAM_INT, &pchat_settings_defaults.search_limit},
	{"config_reload_interval", PARAM_INT, &pchat_params.config_reload_interval},
	{"node_timeout", PARAM_INT, &pchat_params.node_timeout},
	{"gap_timeout", PARAM_INT, &pchat_params.gap_timeout},
	{"relay_queue_len", PARAM_INT, &pchat_params.relay_queue_len},
	{"presence_sync_interval", PARAM_INT, &pchat_params.presence_sync_interval},
	{"catch_up_interval", PARAM_INT, &pchat_params.catch_up_interval},
	{"fault_post_fanout", PARAM_INT, &pchat_params.fault_post_fanout},
	{0, 0, 0}
};

struct module_exports exports = {
	"pchat",
	DEFAULT_DLFLAGS,
	cmds,
	params,
	pchat_rpc_cmds,
	0,     /* pseudo-variables */
	0,     /* response handler */
	mod_init,
	child_init,
	mod_destroy,
};

/* Forwards messages of the Kamailio-free parts to Kamailio's log, named by their function. */
static void kamailio_log_sink(enum pchat_log_level level, const char *func, const char *fmt,
		va_list ap)
{
	static const int levels[] = {L_ERR, L_WARN, L_INFO, L_DBG};
	char msg[1024];
	int klevel = levels[level];

	if (!is_printable(klevel))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	LOG_FX(DEFAULT_FACILITY, klevel, NULL, "pchat: ", func, "%s", msg);
}

/* The Kamailio-free parts allocate from the calling process's pkg memory (pchat_alloc.h). */
static void *pkg_allocate(size_t size)
{
	return pkg_malloc(size);
}

static void *pkg_reallocate(void *ptr, size_t size)
{
	return pkg_realloc(ptr, size);
}

static void pkg_release(void *ptr)
{
	pkg_free(ptr);
}

static const pchat_allocator_t pkg_allocator = {pkg_allocate, pkg_reallocate, pkg_release};

/* Limits must be usable, and a request the module accepts must fit in a TCP read buffer:
 * Kamailio drops a larger request together with its connection, so the client would see a
 * reset instead of a clear 413. */
static int check_limits(void)
{
	unsigned int rd_buf = tcp_default_cfg.rd_buf_size;

	int i;

	if (pchat_params.max_sessions < 1 || pchat_params.fanout_workers < 1
			|| pchat_params.max_pending < 1 || pchat_params.max_body_size < 1024
			|| pchat_params.max_queued < 1 || pchat_params.max_dialog_size < 512
			|| pchat_params.session_expires < 0 || pchat_params.config_reload_interval < 1
			|| pchat_params.presence_sync_interval < 1 || pchat_params.catch_up_interval < 1
			|| pchat_params.fault_post_fanout < 0) {
		LM_ERR("max_sessions, fanout_workers, max_pending, max_queued, config_reload_interval, "
			   "presence_sync_interval and catch_up_interval must be positive, "
			   "fault_post_fanout 0 or more, max_body_size at least 1024, "
			   "max_dialog_size at least 512, session_expires 0 or more\n");
		return -1;
	}
	if (pchat_params.max_session_bytes < 65536 || pchat_params.max_node_bytes < 0
			|| pchat_params.max_sessions_per_user < 0 || pchat_params.max_sessions_per_source < 0
			|| pchat_params.user_request_rate < 0 || pchat_params.user_request_burst < 1
			|| pchat_params.max_rooms_per_session < 1) {
		LM_ERR("max_session_bytes must be at least 65536, user_request_burst and "
			   "max_rooms_per_session at least 1, max_node_bytes, max_sessions_per_user, "
			   "max_sessions_per_source and user_request_rate 0 (no limit) or more\n");
		return -1;
	}
	if (pchat_params.node_timeout < 2 || pchat_params.gap_timeout < 10
			|| pchat_params.relay_queue_len < 100) {
		LM_ERR("node_timeout must be at least 2 (s; nodes heartbeat every second), gap_timeout "
			   "at least 10 (ms), relay_queue_len at least 100\n");
		return -1;
	}
	for (i = 0; i < pchat_setting_count; i++) {
		const pchat_setting_def_t *d = &pchat_setting_defs[i];
		int v = *pchat_setting_ptr(&pchat_settings_defaults, d);

		if (v < d->min || v > d->max) {
			LM_ERR("modparam %s is %d; it must be from %d to %d\n", d->name, v, d->min, d->max);
			return -1;
		}
	}
	/* a post must fit in one INFO, whether live or in a backchat reply, over UDP too */
	if (pchat_params.max_post_size < 1024
			|| (size_t)pchat_params.max_post_size + 1024 > pchat_settings_defaults.reply_size) {
		LM_ERR("max_post_size must be from 1024 to %zu bytes (a post, with its envelope and "
			   "SIP headers, must fit in one INFO)\n", pchat_settings_defaults.reply_size - 1024);
		return -1;
	}
	pchat_settings_defaults.max_post_size = (size_t)pchat_params.max_post_size;
	if (pchat_params.max_preferences < 1 || pchat_params.max_preference_size < 256
			|| (size_t)pchat_params.max_preference_size + 1024
					   > pchat_settings_defaults.reply_size) {
		LM_ERR("max_preferences must be at least 1 and max_preference_size from 256 to %zu "
			   "bytes (a bundle is sent back in one reply)\n",
				pchat_settings_defaults.reply_size - 1024);
		return -1;
	}
	pchat_settings_defaults.max_preferences = pchat_params.max_preferences;
	pchat_settings_defaults.max_preference_size = (size_t)pchat_params.max_preference_size;
	if (pchat_params.session_expires > 0 && pchat_params.session_expires < 10) {
		LM_ERR("session_expires must be 0 (off) or at least 10 seconds\n");
		return -1;
	}
	if (pchat_params.session_expires > 0 && pchat_params.session_expires < 90)
		LM_WARN("session_expires %d is below RFC 4028's minimum of 90 seconds\n",
				pchat_params.session_expires);
	if ((unsigned int)pchat_params.max_body_size + 4096 > rd_buf)
		LM_WARN("max_body_size (%d) plus room for SIP headers exceeds tcp_rd_buf_size (%u): a "
				"large post over TCP would be dropped with its connection instead of getting "
				"413; raise tcp_rd_buf_size or lower max_body_size\n",
				pchat_params.max_body_size, rd_buf);
	return 0;
}

static int valid_node_id(const char *id)
{
	size_t n = strlen(id);

	return n > 0 && n < PCHAT_NODE_MAX
		   && strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int init_params(void)
{
	static char pool_uri_buf[MAX_URI_SIZE];
	struct sip_uri puri;
	char err[160];
	str ident;

	if (!pchat_params.domain || !pchat_params.domain[0]) {
		LM_ERR("modparam(\"pchat\", \"domain\") is required: the SIP domain of the chat service "
			   "(rooms are ma-chan://<domain>/<guid>)\n");
		return -1;
	}
	if (!pchat_params.pool_uri || !pchat_params.pool_uri[0]) {
		snprintf(pool_uri_buf, sizeof(pool_uri_buf), "sip:pchat@%s", pchat_params.domain);
		pchat_params.pool_uri = pool_uri_buf;
	}
	pchat_pool_uri.s = pchat_params.pool_uri;
	pchat_pool_uri.len = strlen(pchat_params.pool_uri);
	if (parse_uri(pchat_pool_uri.s, pchat_pool_uri.len, &puri) < 0 || puri.user.len == 0) {
		LM_ERR("pool_uri '%s' is not a SIP URI with a user part (e.g. sip:pchat@%s)\n",
				pchat_params.pool_uri, pchat_params.domain);
		return -1;
	}
	ident.s = pchat_params.identity;
	ident.len = strlen(ident.s);
	if (ident.len == 0 || pv_parse_format(&ident, &pchat_identity_fmt) < 0) {
		LM_ERR("identity '%s' is not a valid pseudo-variable format (default: "
			   "$avp(pchat_identity))\n", pchat_params.identity);
		return -1;
	}
	ident.s = pchat_params.flow;
	ident.len = strlen(ident.s);
	if (pv_parse_spec(&ident, &pchat_flow_spec) == NULL) {
		LM_ERR("flow '%s' is not a pseudo-variable (default: $avp(pchat_flow))\n",
				pchat_params.flow);
		return -1;
	}
	if (pchat_params.trusted_flag < -1 || pchat_params.trusted_flag > (int)MAX_FLAG) {
		LM_ERR("trusted_flag must be -1 (none) or a message flag from 0 to %d\n", MAX_FLAG);
		return -1;
	}
	if (!pchat_params.node_id || !pchat_params.node_id[0]) {
		static char host[64];

		if (gethostname(host, sizeof(host) - 1) < 0)
			snprintf(host, sizeof(host), "node");
		pchat_params.node_id = host;
	}
	if (!valid_node_id(pchat_params.node_id)) {
		LM_ERR("node_id '%s' must be 1 to %d letters, digits, '.', '_' or '-' (it is part of "
			   "Redis keys and session names)\n", pchat_params.node_id, PCHAT_NODE_MAX - 1);
		return -1;
	}
	if (check_limits() < 0)
		return -1;
	if (pchat_db_parse_url(pchat_params.db_url, &pchat_db_conf, err, sizeof(err)) < 0) {
		LM_ERR("db_url '%s': %s\n", pchat_params.db_url, err);
		return -1;
	}
	pchat_db_conf.timeout_s = pchat_params.db_timeout > 0 ? pchat_params.db_timeout : 1;
	pchat_db_conf.retry_ms = 1000 * (pchat_params.db_retry_interval > 0
										? pchat_params.db_retry_interval : 1);
	if (pchat_redis_parse_url(pchat_params.redis_url, &pchat_redis_conf, err, sizeof(err)) < 0) {
		LM_ERR("redis_url '%s': %s\n", pchat_params.redis_url, err);
		return -1;
	}
	pchat_redis_conf.timeout_ms = pchat_params.redis_timeout > 0 ? pchat_params.redis_timeout : 1;
	pchat_redis_conf.retry_ms = 1000 * (pchat_params.redis_retry_interval > 0
										? pchat_params.redis_retry_interval : 1);
	return 0;
}

/* Refuses to start on tables older than this module needs. An unreachable database does not stop
 * Kamailio (it is the operator's proxy too): each process checks again when it connects. */
static int check_schema_at_start(void)
{
	pchat_db_t *db = pchat_db_new(&pchat_db_conf, proc_sqlsets, PROC_NSQLSETS, NULL);
	char err[256];
	int rc;

	if (!db) {
		LM_ERR("out of memory\n");
		return -1;
	}
	rc = pchat_schema_check(db, err, sizeof(err));
	pchat_db_free(db);
	if (rc == PCHAT_DB_UNAVAILABLE) {
		LM_WARN("MySQL is not reachable at start; chat requests get 503 until it is\n");
		return 0;
	}
	if (rc < 0) {
		LM_ERR("database schema too old: %s\n", err);
		return -1;
	}
	return 0;
}

static int init_limits(void)
{
	pchat_limits_conf_t c = {pchat_params.max_sessions_per_user,
		pchat_params.max_sessions_per_source, pchat_params.user_request_rate,
		pchat_params.user_request_burst};

	return pchat_limits_init(&c);
}

static int mod_init(void)
{
	pchat_log_set_sink(kamailio_log_sink);
	pchat_set_allocator(&pkg_allocator);
	if (init_params() < 0)
		return -1;
	pchat_shared = shm_malloc(sizeof(*pchat_shared));
	if (!pchat_shared) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(pchat_shared, 0, sizeof(*pchat_shared));
	pchat_shared->settings = pchat_settings_defaults;
	/* the default keeps three quarters of shared memory for everything else */
	pchat_shared->budget.limit = pchat_params.max_node_bytes > 0
										 ? pchat_params.max_node_bytes
										 : (int64_t)(shm_mem_size / 4);
	if (check_schema_at_start() < 0)
		return -1;
	if (rpc_register_array(pchat_rpc_admin_cmds) != 0) {
		LM_ERR("cannot register the administration RPC commands\n");
		return -1;
	}
	if (register_module_stats(exports.name, mod_stats) != 0) {
		LM_ERR("cannot register the module statistics\n");
		return -1;
	}
	pchat_xccos_init();
	if (pchat_sip_init() < 0 || pchat_sessions_init(pchat_params.max_sessions) < 0
			|| init_limits() < 0
			|| pchat_live_init() < 0 || pchat_service_init() < 0
			|| pchat_fanout_init(pchat_params.fanout_workers) < 0 || pchat_housekeeper_init() < 0)
		return -1;
	if (register_timer(pchat_sip_reaper, NULL, 5) < 0) {
		LM_ERR("cannot register the session reaper timer\n");
		return -1;
	}
	pchat_run = pchat_now_ms();
	LM_INFO("pchat %s: node %s, chat domain %s, pool URI %s, database %s on %s:%u, Redis %s:%u, "
			"%d senders, up to %d sessions\n", PCHAT_VERSION, pchat_params.node_id,
			pchat_params.domain, pchat_params.pool_uri, pchat_db_conf.database,
			pchat_db_conf.host, pchat_db_conf.port, pchat_redis_conf.host, pchat_redis_conf.port,
			pchat_params.fanout_workers, pchat_params.max_sessions);
	return 0;
}

/* Processes that handle requests or RPCs get their own connections; the main, timer and TCP
 * main processes never query. */
static int needs_connections(int rank)
{
	return rank > 0 || rank == PROC_RPC;
}

static int child_init(int rank)
{
	if (rank == PROC_MAIN)
		return pchat_fanout_start() < 0 || pchat_housekeeper_start() < 0 ? -1 : 0;
	if (!needs_connections(rank))
		return 0;
	proc_db = pchat_db_new(&pchat_db_conf, proc_sqlsets, PROC_NSQLSETS,
			&pchat_shared->db_health);
	proc_redis = pchat_redis_new(&pchat_redis_conf, &pchat_shared->redis_health);
	if (!proc_db || !proc_redis) {
		LM_ERR("out of memory\n");
		return -1;
	}
	/* A failed connect is logged once per node and retried on demand. */
	pchat_db_connect(proc_db);
	pchat_redis_connect(proc_redis);
	return 0;
}

pchat_db_t *pchat_proc_db(void)
{
	return proc_db;
}

pchat_redis_t *pchat_proc_redis(void)
{
	return proc_redis;
}

pchat_admin_t pchat_proc_admin(void)
{
	pchat_admin_t a;

	memset(&a, 0, sizeof(a));
	a.db = proc_db;
	a.domain = pchat_params.domain;
	a.inviter = pchat_params.pool_uri;
	return a;
}

static void mod_destroy(void)
{
	pchat_service_destroy();
	pchat_limits_destroy();
	pchat_live_destroy();
	pchat_sessions_destroy();
	pchat_db_free(proc_db);
	proc_db = NULL;
	pchat_redis_free(proc_redis);
	proc_redis = NULL;
	if (pchat_shared) {
		shm_free(pchat_shared);
		pchat_shared = NULL;
	}
	pchat_db_conf_clear(&pchat_db_conf);
	pchat_redis_conf_clear(&pchat_redis_conf);
}
