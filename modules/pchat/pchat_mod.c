/*
 * pchat: persistent group chat (Lync/Skype for Business Persistent Chat, XCCOS over SIP) as a
 * Kamailio module. This file holds the module's exports (parameters, cfg functions, statistics,
 * RPC commands) and the init/child_init/destroy hooks, which start the parts in order and hand
 * the lower parts the hooks through which they reach the upper ones. The work is done in the
 * parts; from the bottom, each depending only on those below it (scripts/check-deps proves it,
 * ARCHITECTURE.md draws it):
 *   pchat_node (parameters, shared state, connections) < pchat_session
 *   < pchat_live, pchat_dialog (requests inside a session)
 *   < pchat_fanout (senders, receiver), pchat_rpc
 *   < pchat_service (the chat core wired to the node)
 *   < pchat_end (ends of sessions), pchat_pool, pchat_rpc_admin
 *   < pchat_sip, pchat_housekeeper, pchat_http (the HTTPS service's processes) < this file.
 * Below them all are the Kamailio-free parts (the chat core, the store, the budgets).
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <string.h>

#include "core/sr_module.h"
#include "core/timer.h"
#include "core/dprint.h"
#include "core/mem/mem.h"
#include "core/counters.h"
#include "core/rpc_lookup.h"
#include "core/kemi.h"

#include "pchat_alloc.h"
#include "pchat_dialog.h"
#include "pchat_end.h"
#include "pchat_fanout.h"
#include "pchat_compliance.h"
#include "pchat_filesvc.h"
#include "pchat_housekeeper.h"
#include "pchat_http.h"
#include "pchat_limits.h"
#include "pchat_live.h"
#include "pchat_metrics.h"
#include "pchat_log.h"
#include "pchat_node.h"
#include "pchat_rpc.h"
#include "pchat_service.h"
#include "pchat_session.h"
#include "pchat_sip.h"
#include "pchat_webapi.h"
#include "pchat_webpage.h"

MODULE_VERSION

static unsigned long stat_sessions(void)
{
	return (unsigned long)pchat_node_sessions();
}

static unsigned long stat_queued_bytes(void)
{
	return pchat_shared ? (unsigned long)pchat_node_used(&pchat_shared->budget) : 0;
}

static unsigned long stat_compliance_recorded(void)
{
	return pchat_shared ? (unsigned long)__atomic_load_n(&pchat_shared->compliance_recorded,
								  __ATOMIC_RELAXED) : 0;
}

static unsigned long stat_compliance_waiting(void)
{
	int64_t n = pchat_shared ? __atomic_load_n(&pchat_shared->compliance_waiting,
									   __ATOMIC_RELAXED) : 0;

	return n > 0 ? (unsigned long)n : 0;
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
	{"repeated_requests", 0, &pchat_stat_repeated_requests},
	{"queued_bytes", STAT_IS_FUNC, (stat_var **)stat_queued_bytes},
	{"sessions", STAT_IS_FUNC, (stat_var **)stat_sessions},
	{"compliance_recorded", STAT_IS_FUNC, (stat_var **)stat_compliance_recorded},
	{"compliance_waiting", STAT_IS_FUNC, (stat_var **)stat_compliance_waiting},
	{"compliance_exported", 0, &pchat_stat_compliance_exported},
	{"compliance_runs_failed", 0, &pchat_stat_compliance_runs_failed},
	{"file_uploads", 0, &pchat_stat_file_uploads},
	{"file_downloads", 0, &pchat_stat_file_downloads},
	{"file_bytes_in", 0, &pchat_stat_file_bytes_in},
	{"file_bytes_out", 0, &pchat_stat_file_bytes_out},
	{"file_refusals", 0, &pchat_stat_file_refusals},
	{"http_requests", 0, &pchat_stat_http_requests},
	{"http_refused", 0, &pchat_stat_http_refused},
	{"http_timeouts", 0, &pchat_stat_http_timeouts},
	{0, 0, 0}
};

/* The HTTPS service with the file service's routes and GET /metrics (it adds its own GET
 * /health). */
static int init_http(void)
{
	static pchat_http_route_t routes[16];
	const pchat_http_route_t *files, *api;
	int n, napi;

	if (pchat_filesvc_init() < 0 || pchat_metrics_init() < 0
			|| pchat_webpage_init(pchat_params.web_root) < 0)
		return -1;
	files = pchat_filesvc_routes(&n);
	api = pchat_webapi_routes(&napi);
	if (n + napi + 3 > (int)(sizeof(routes) / sizeof(routes[0]))) {
		LM_BUG("too many HTTP routes\n");
		return -1;
	}
	memcpy(routes, files, (size_t)n * sizeof(*files));
	memcpy(routes + n, api, (size_t)napi * sizeof(*api));
	n += napi;
	routes[n++] = pchat_metrics_route;
	routes[n++] = pchat_webpage_route;
	routes[n++] = pchat_webpage_bare_route;
	/* the page's address is known once the service's is */
	return pchat_http_init(routes, n) < 0 || pchat_webapi_init(pchat_webadmin_endpoints) < 0 ? -1 : 0;
}

static int mod_init(void);
static int child_init(int rank);
static void mod_destroy(void);

static cmd_export_t cmds[] = {
	{"pchat_handle", (cmd_function)pchat_w_handle, 0, 0, 0, REQUEST_ROUTE},
	{"pchat_provision", (cmd_function)pchat_w_provision, 0, 0, 0, REQUEST_ROUTE},
	{0, 0, 0, 0, 0, 0}
};

/* The same functions for routing scripts in Lua, Python... (KEMI): KSR.pchat.pchat_handle(),
 * KSR.pchat.pchat_provision(), with the return codes of the cfg functions. */
static int ki_pchat_handle(sip_msg_t *msg)
{
	return pchat_w_handle(msg, 0, 0);
}

static int ki_pchat_provision(sip_msg_t *msg)
{
	return pchat_w_provision(msg, 0, 0);
}

/* clang-format off */
static sr_kemi_t pchat_kemi_exports[] = {
	{ str_init("pchat"), str_init("pchat_handle"),
		SR_KEMIP_INT, ki_pchat_handle,
		{ SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("pchat"), str_init("pchat_provision"),
		SR_KEMIP_INT, ki_pchat_provision,
		{ SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ {0, 0}, {0, 0}, 0, NULL, { 0, 0, 0, 0, 0, 0 } }
};
/* clang-format on */

int mod_register(char *path, int *dlflags, void *p1, void *p2)
{
	(void)path;
	(void)dlflags;
	(void)p1;
	(void)p2;
	sr_kemi_modules_add(pchat_kemi_exports);
	return 0;
}

static param_export_t params[] = {
	{"db_url", PARAM_STRING, &pchat_params.db_url},
	{"db_timeout", PARAM_INT, &pchat_params.db_timeout},
	{"db_retry_interval", PARAM_INT, &pchat_params.db_retry_interval},
	{"db_failback_interval", PARAM_INT, &pchat_params.db_failback_interval},
	{"db_resolve_timeout", PARAM_INT, &pchat_params.db_resolve_timeout},
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
	{"max_pending_udp", PARAM_INT, &pchat_params.max_pending_udp},
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
	{"file_token_lifetime", PARAM_INT, &pchat_settings_defaults.file_token_lifetime},
	{"room_file_quota", PARAM_INT, &pchat_settings_defaults.room_file_quota},
	{"user_file_quota", PARAM_INT, &pchat_settings_defaults.user_file_quota},
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
	{"compliance_lease", PARAM_INT, &pchat_params.compliance_lease},
	{"compliance_backlog_warning", PARAM_INT, &pchat_params.compliance_backlog_warning},
	{"file_root", PARAM_STRING, &pchat_params.file_root},
	{"file_chunk_size", PARAM_INT, &pchat_params.file_chunk_size},
	{"file_sweep_interval", PARAM_INT, &pchat_params.file_sweep_interval},
	{"metrics_token", PARAM_STRING, &pchat_params.metrics_token},
	{"metrics_allow", PARAM_STRING, &pchat_params.metrics_allow},
	{"http_listen", PARAM_STRING, &pchat_params.http_listen},
	{"http_tls_certificate", PARAM_STRING, &pchat_params.http_tls_certificate},
	{"http_tls_private_key", PARAM_STRING, &pchat_params.http_tls_private_key},
	{"http_plain", PARAM_INT, &pchat_params.http_plain},
	{"http_workers", PARAM_INT, &pchat_params.http_workers},
	{"http_public_url", PARAM_STRING, &pchat_params.http_public_url},
	{"http_max_connections", PARAM_INT, &pchat_params.http_max_connections},
	{"http_max_connections_per_address", PARAM_INT,
			&pchat_params.http_max_connections_per_address},
	{"http_idle_timeout", PARAM_INT, &pchat_params.http_idle_timeout},
	{"http_header_timeout", PARAM_INT, &pchat_params.http_header_timeout},
	{"http_request_timeout", PARAM_INT, &pchat_params.http_request_timeout},
	{"http_stop_timeout", PARAM_INT, &pchat_params.http_stop_timeout},
	{"web_root", PARAM_STRING, &pchat_params.web_root},
	{"web_room_management_url", PARAM_STRING, &pchat_params.web_room_management_url},
	{"web_session_idle", PARAM_INT, &pchat_params.web_session_idle},
	{"web_session_lifetime", PARAM_INT, &pchat_params.web_session_lifetime},
	{"web_login_max_failures", PARAM_INT, &pchat_params.web_login_max_failures},
	{"web_login_window", PARAM_INT, &pchat_params.web_login_window},
	{"web_login_block", PARAM_INT, &pchat_params.web_login_block},
	{"web_sso_header", PARAM_STRING, &pchat_params.web_sso_header},
	{"web_sso_proxies", PARAM_STRING, &pchat_params.web_sso_proxies},
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

static int init_limits(void)
{
	pchat_limits_conf_t c = {pchat_params.max_sessions_per_user,
		pchat_params.max_sessions_per_source, pchat_params.user_request_rate,
		pchat_params.user_request_burst};

	return pchat_limits_init(&c);
}

/* The lower parts reach the upper ones only through these hooks: dialogs ask the senders to
 * send what waits or to end a session, senders run the chat service's and the ends' work. */
static const pchat_dialog_senders_t dialog_senders = {
	.drain = pchat_fanout_drain,
	.end_session = pchat_fanout_end_session,
};

static const pchat_fanout_jobs_t fanout_jobs = {
	.chat = pchat_service,
	.end_session = pchat_end_session,
	.enforce_policy = pchat_end_by_policy,
};

static int mod_init(void)
{
	char redis[512];

	pchat_log_set_sink(kamailio_log_sink);
	pchat_set_allocator(&pkg_allocator);
	if (pchat_node_init() < 0)
		return -1;
	if (rpc_register_array(pchat_rpc_admin_cmds) != 0
			|| rpc_register_array(pchat_rpc_web_cmds) != 0) {
		LM_ERR("cannot register the administration RPC commands\n");
		return -1;
	}
	if (register_module_stats(exports.name, mod_stats) != 0) {
		LM_ERR("cannot register the module statistics\n");
		return -1;
	}
	pchat_xccos_init();
	if (pchat_sessions_init(pchat_params.max_sessions) < 0 || init_limits() < 0
			|| pchat_live_init() < 0 || pchat_dialog_init(&dialog_senders) < 0
			|| pchat_fanout_init(pchat_params.fanout_workers, &fanout_jobs) < 0
			|| pchat_service_init() < 0 || pchat_sip_init() < 0 || pchat_housekeeper_init() < 0
			|| pchat_compliance_init() < 0 || init_http() < 0)
		return -1;
	if (register_timer(pchat_end_expired, NULL, 5) < 0) {
		LM_ERR("cannot register the session reaper timer\n");
		return -1;
	}
	pchat_redis_conf_describe(&pchat_redis_conf, redis, sizeof(redis));
	LM_INFO("pchat %s: node %s, chat domain %s, pool URI %s, database %s on %s:%u (%d servers), "
			"Redis %s, %d senders, up to %d sessions\n", PCHAT_VERSION, pchat_params.node_id,
			pchat_params.domain, pchat_params.pool_uri, pchat_db_conf.database,
			pchat_db_conf.hosts[0].name, pchat_db_conf.hosts[0].port, pchat_db_conf.nhosts, redis,
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
		return pchat_fanout_start() < 0 || pchat_housekeeper_start() < 0
					   || pchat_compliance_start() < 0 || pchat_http_start() < 0 ? -1 : 0;
	if (!needs_connections(rank))
		return 0;
	return pchat_node_connect();
}

static void mod_destroy(void)
{
	pchat_http_destroy();
	pchat_service_destroy();
	pchat_limits_destroy();
	pchat_live_destroy();
	pchat_sessions_destroy();
	pchat_node_destroy();
}
