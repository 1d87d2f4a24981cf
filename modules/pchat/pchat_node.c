/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <string.h>

#include <unistd.h>

#include "core/dprint.h"
#include "core/flags.h"
#include "core/globals.h"
#include "core/mem/shm_mem.h"
#include "core/parser/parse_uri.h"
#include "core/tcp_options.h"

#include "pchat_filestore.h"
#include "pchat_node.h"
#include "pchat_outbox.h"
#include "pchat_presence.h"
#include "pchat_schema.h"
#include "pchat_settings.h"
#include "pchat_store_mysql.h"
#include "pchat_web.h"

pchat_params_t pchat_params = {
	.db_url = "mysql://pchat:pchat@127.0.0.1:3306/pchat",
	.db_timeout = 3,
	.db_retry_interval = 5,
	.db_failback_interval = 30,
	.db_resolve_timeout = 15,
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
	.max_body_size = PCHAT_DEFAULT_MAX_BODY_SIZE,
	.max_post_size = PCHAT_DEFAULT_MAX_POST_SIZE,
	.max_preferences = PCHAT_DEFAULT_MAX_PREFERENCES,
	.max_preference_size = PCHAT_DEFAULT_MAX_PREFERENCE_SIZE,
	.max_pending = 32,
	.max_pending_udp = 1,
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
	.compliance_lease = 30,
	.compliance_backlog_warning = 100000,
	.file_root = "",
	.file_chunk_size = 1024,
	.file_sweep_interval = 60,
	.metrics_token = "",
	.metrics_allow = "",
	.http_listen = "",
	.http_tls_certificate = "",
	.http_tls_private_key = "",
	.http_plain = 0,
	.http_workers = 2,
	.http_public_url = "",
	.http_max_connections = 512,
	.http_max_connections_per_address = 32,
	.http_idle_timeout = 30,
	.http_header_timeout = 10,
	.http_request_timeout = 300,
	.http_stop_timeout = 5,
	.web_root = "",
	.web_room_management_url = "",
	.web_session_idle = 1800,
	.web_session_lifetime = 43200,
	.web_login_max_failures = 5,
	.web_login_window = 300,
	.web_login_block = 300,
	.web_sso_header = "",
	.web_sso_proxies = "",
};

long long pchat_run = 0;

/* The service settings the modparams start from; pchat_config overrides them. */
pchat_settings_t pchat_settings_defaults = PCHAT_SETTINGS_DEFAULTS;

pchat_db_conf_t pchat_db_conf;
pchat_redis_conf_t pchat_redis_conf;
str pchat_pool_uri = STR_NULL;
pv_elem_t *pchat_identity_fmt = NULL;
pv_spec_t pchat_flow_spec;
pchat_shared_t *pchat_shared = NULL;

/* The statement sets a process's connection runs: the parts that query on it. */
static const pchat_db_sqlset_t *const proc_sqlsets[] = {
	&pchat_schema_sqlset, &pchat_store_sqlset, &pchat_admin_sqlset, &pchat_outbox_sqlset,
	&pchat_filestore_sqlset, &pchat_web_sqlset};
#define PROC_NSQLSETS ((int)(sizeof(proc_sqlsets) / sizeof(proc_sqlsets[0])))

static pchat_db_t *proc_db = NULL;
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
stat_var *pchat_stat_repeated_requests = NULL;
stat_var *pchat_stat_compliance_exported = NULL;
stat_var *pchat_stat_compliance_runs_failed = NULL;
stat_var *pchat_stat_file_uploads = NULL;
stat_var *pchat_stat_file_downloads = NULL;
stat_var *pchat_stat_file_bytes_in = NULL;
stat_var *pchat_stat_file_bytes_out = NULL;
stat_var *pchat_stat_file_refusals = NULL;
stat_var *pchat_stat_http_requests = NULL;
stat_var *pchat_stat_http_refused = NULL;
stat_var *pchat_stat_http_timeouts = NULL;

/* Limits must be usable, and a request the module accepts must fit in a TCP read buffer:
 * Kamailio drops a larger request together with its connection, so the client would see a
 * reset instead of a clear 413. */
static int check_limits(void)
{
	unsigned int rd_buf = tcp_default_cfg.rd_buf_size;

	int i;

	if (pchat_params.max_sessions < 1 || pchat_params.fanout_workers < 1
			|| pchat_params.max_pending < 1 || pchat_params.max_pending_udp < 1
			|| pchat_params.max_body_size < 1024
			|| pchat_params.max_queued < 1 || pchat_params.max_dialog_size < 512
			|| pchat_params.session_expires < 0 || pchat_params.config_reload_interval < 1
			|| pchat_params.presence_sync_interval < 1 || pchat_params.catch_up_interval < 1
			|| pchat_params.fault_post_fanout < 0) {
		LM_ERR("max_sessions, fanout_workers, max_pending, max_pending_udp, max_queued, "
			   "config_reload_interval, "
			   "presence_sync_interval and catch_up_interval must be positive, "
			   "fault_post_fanout 0 or more, max_body_size at least 1024, "
			   "max_dialog_size at least 512, session_expires 0 or more\n");
		return -1;
	}
	if (pchat_params.max_session_bytes < 65536 || pchat_params.max_node_bytes < 0
			|| pchat_params.max_sessions_per_user < 0 || pchat_params.max_sessions_per_source < 0
			|| pchat_params.user_request_rate < 0 || pchat_params.user_request_burst < 1
			|| pchat_params.max_rooms_per_session < 1 || pchat_params.compliance_lease < 2
			|| pchat_params.compliance_backlog_warning < 1
			|| pchat_params.file_sweep_interval < 1) {
		LM_ERR("max_session_bytes must be at least 65536, user_request_burst, "
			   "compliance_backlog_warning, file_sweep_interval and max_rooms_per_session at "
			   "least 1, "
			   "compliance_lease at least 2, max_node_bytes, max_sessions_per_user, "
			   "max_sessions_per_source and user_request_rate 0 (no limit) or more\n");
		return -1;
	}
	if (pchat_params.db_timeout < 1 || pchat_params.db_retry_interval < 1
			|| pchat_params.redis_timeout < 1 || pchat_params.redis_retry_interval < 1
			|| pchat_params.db_failback_interval < 0 || pchat_params.db_resolve_timeout < 1) {
		LM_ERR("db_timeout, db_retry_interval, db_resolve_timeout and redis_retry_interval must "
			   "be at least 1 (s), redis_timeout at least 1 (ms), db_failback_interval 0 (never) "
			   "or more (s)\n");
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

/* The HTTPS service's numbers (its address, certificate and URL are pchat_http_init's). A stop
 * lets requests in flight finish, but Kamailio kills what still runs after its exit_timeout. */
static int check_http_limits(void)
{
	const pchat_params_t *p = &pchat_params;

	if (p->http_plain < 0 || p->http_plain > 1 || p->http_workers < 1 || p->http_workers > 64
			|| p->http_max_connections < 1 || p->http_max_connections_per_address < 1
			|| p->http_idle_timeout < 1 || p->http_header_timeout < 1
			|| p->http_request_timeout < 1 || p->http_stop_timeout < 0) {
		LM_ERR("http_plain must be 0 or 1, http_workers from 1 to 64, http_max_connections, "
			   "http_max_connections_per_address, http_idle_timeout, http_header_timeout and "
			   "http_request_timeout at least 1, http_stop_timeout 0 or more\n");
		return -1;
	}
	if (p->http_stop_timeout >= ser_kill_timeout) {
		LM_ERR("http_stop_timeout (%d s) must be shorter than Kamailio's exit_timeout (%d s), "
			   "after which a stopping Kamailio kills its processes\n", p->http_stop_timeout,
				ser_kill_timeout);
		return -1;
	}
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
	if (check_limits() < 0 || check_http_limits() < 0)
		return -1;
	if (pchat_db_parse_url(pchat_params.db_url, &pchat_db_conf, err, sizeof(err)) < 0) {
		LM_ERR("db_url '%s': %s\n", pchat_params.db_url, err);
		return -1;
	}
	pchat_db_conf.timeout_s = pchat_params.db_timeout;
	pchat_db_conf.retry_ms = 1000 * pchat_params.db_retry_interval;
	pchat_store_mysql_set_resolve_timeout(1000 * pchat_params.db_resolve_timeout);
	if (pchat_redis_parse_url(pchat_params.redis_url, &pchat_redis_conf, err, sizeof(err)) < 0) {
		LM_ERR("redis_url '%s': %s\n", pchat_params.redis_url, err);
		return -1;
	}
	pchat_redis_conf.timeout_ms = pchat_params.redis_timeout;
	pchat_redis_conf.retry_ms = 1000 * pchat_params.redis_retry_interval;
	return 0;
}

/* Whether the compliance service records, known before the first request; the compliance
 * worker keeps it current (pchat_compliance.c). Unknown, it records. */
static void load_recording(pchat_db_t *db)
{
	pchat_compliance_conf_t conf;

	if (pchat_outbox_conf_get(db, &conf) == 0) {
		pchat_shared->compliance_recording = conf.adapter != PCHAT_ADAPTER_NONE;
		LM_INFO("compliance: %s\n", conf.adapter != PCHAT_ADAPTER_NONE
				? "recording (an adapter is configured)" : "off (no adapter configured)");
	}
}

/* Refuses to start on tables older than this module needs. An unreachable database does not stop
 * Kamailio (it is the operator's proxy too); the check is then not made again, and statements
 * on tables older than the module needs fail with their errors logged. */
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
	if (rc == 0)
		load_recording(db);
	pchat_db_free(db);
	if (rc == PCHAT_ERR_DOWN) {
		LM_WARN("MySQL is not reachable at start; chat requests get 503 until it is\n");
		return 0;
	}
	if (rc < 0) {
		LM_ERR("database schema too old: %s\n", err);
		return -1;
	}
	return 0;
}

static int init_shared(void)
{
	pchat_shared = shm_malloc(sizeof(*pchat_shared));
	if (!pchat_shared) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(pchat_shared, 0, sizeof(*pchat_shared));
	pchat_shared->settings = pchat_settings_defaults;
	pchat_shared->compliance_recording = -1;
	/* the default keeps three quarters of shared memory for everything else */
	pchat_shared->budget.limit = pchat_params.max_node_bytes > 0
										 ? pchat_params.max_node_bytes
										 : (int64_t)(shm_mem_size / 4);
	return 0;
}

int pchat_node_init(void)
{
	if (init_params() < 0 || init_shared() < 0 || check_schema_at_start() < 0)
		return -1;
	pchat_run = pchat_now_ms();
	return 0;
}

int pchat_node_connect(void)
{
	proc_db = pchat_db_new(&pchat_db_conf, proc_sqlsets, PROC_NSQLSETS,
			&pchat_shared->db_health);
	proc_redis = pchat_redis_new(&pchat_redis_conf, &pchat_shared->redis);
	if (!proc_db || !proc_redis) {
		LM_ERR("out of memory\n");
		return -1;
	}
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
	a.record = __atomic_load_n(&pchat_shared->compliance_recording, __ATOMIC_RELAXED) != 0;
	a.actor = "";
	return a;
}

void pchat_setting_apply(const pchat_setting_def_t *def, const char *value)
{
	char err[128];
	int v = *pchat_setting_ptr(&pchat_settings_defaults, def);

	if (value && pchat_setting_parse(def, value, &v, err, sizeof(err)) < 0)
		return;
	*pchat_setting_ptr(&pchat_shared->settings, def) = v;
}

int pchat_node_sessions(void)
{
	return pchat_shared ? __atomic_load_n(&pchat_shared->sessions, __ATOMIC_RELAXED) : 0;
}

void pchat_node_session_opened(void)
{
	__atomic_add_fetch(&pchat_shared->sessions, 1, __ATOMIC_RELAXED);
}

void pchat_node_session_closed(void)
{
	__atomic_sub_fetch(&pchat_shared->sessions, 1, __ATOMIC_RELAXED);
}

uint64_t pchat_node_envid(void)
{
	return __atomic_add_fetch(&pchat_shared->envid, 1, __ATOMIC_RELAXED);
}

void pchat_node_destroy(void)
{
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
