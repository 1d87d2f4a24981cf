/*
 * This node: the state every Kamailio-facing part of the module shares - the module parameters
 * (and their checks), the shared memory area of the node, the statistics, and the connections of
 * the calling process.
 *
 * The lowest of the Kamailio-facing parts: it depends on Kamailio's core and the Kamailio-free
 * parts (db, redis, health, budget, settings, the store's, administration's and schema's
 * statement sets), never on another Kamailio-facing part. The parts above it, the processes
 * and the locks: ARCHITECTURE.md, sections 2, 5 and 6.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_NODE_H
#define PCHAT_NODE_H

#include <stdint.h>

#include "core/counters.h"
#include "core/str.h"
#include "core/pvar.h"

#include "pchat_admin.h"
#include "pchat_budget.h"
#include "pchat_settings.h"
#include "pchat_db.h"
#include "pchat_health.h"
#include "pchat_redis.h"

#define PCHAT_VERSION "0.1.0"

/* modparam values */
typedef struct pchat_params {
	char *db_url;
	int db_timeout;           /* s */
	int db_retry_interval;    /* s */
	int db_failback_interval; /* s; 0: never */
	int db_resolve_timeout;   /* s */
	char *redis_url;
	int redis_timeout;        /* ms */
	int redis_retry_interval; /* s */
	char *domain;
	char *pool_uri;
	char *identity;           /* pv format: the user of a new session */
	char *flow;               /* pv: where the client's connection ends, when a front end says */
	int trusted_flag;         /* message flag of requests from trusted peers, -1 for none */
	int max_dialog_size;      /* bytes of dialog headers a session keeps */
	char *node_id;            /* this node's name in Redis keys */
	int max_sessions;
	int fanout_workers;
	int session_expires;      /* s, 0: no Session-Expires */
	int max_body_size;        /* bytes of an XCCOS INFO body */
	int max_post_size;        /* bytes of a post as it is sent */
	int max_preferences;      /* preference bundles per user */
	int max_preference_size;  /* bytes of a bundle as sent */
	int max_pending;          /* unanswered INFOs a session may have */
	int max_pending_udp;      /* ... whose client reached the node over UDP */
	int max_queued;           /* INFOs that may wait beyond them */
	int max_session_bytes;    /* bytes a session may hold unanswered and waiting */
	int max_node_bytes;       /* bytes the node's deliveries may hold; 0: a quarter of shm */
	int max_sessions_per_user;
	int max_sessions_per_source;
	int user_request_rate;    /* INFOs a second per user; 0: no limit */
	int user_request_burst;
	int max_rooms_per_session;
	int config_reload_interval; /* s between reloads of the pool-wide settings */
	int node_timeout;         /* s without a heartbeat after which a node counts as dead */
	int gap_timeout;          /* ms a post waits for a predecessor before the store fills in */
	int relay_queue_len;      /* entries a node's relay queue (Redis stream) keeps */
	int presence_sync_interval; /* s between checks of this node's presence in Redis */
	int catch_up_interval;    /* s between checks for rooms behind the store */
	int fault_post_fanout;    /* tests: every n-th post's hand-over to its sender fails */
	int compliance_lease;     /* s the active compliance worker's lease lasts */
	int compliance_backlog_warning; /* events waiting above which the log warns */
	char *file_root;          /* the file repository's folder; empty: no files */
	int file_chunk_size;      /* KB of one chunk of the file web service */
	int file_sweep_interval;  /* s between the repository's housekeeping runs */
	char *metrics_token;      /* bearer token of GET /metrics; empty: none */
	char *metrics_allow;      /* addresses GET /metrics answers without a token */
	char *http_listen;        /* "ADDR:PORT" of the HTTPS service; empty: no service */
	char *http_tls_certificate; /* PEM file: the certificate, and its chain */
	char *http_tls_private_key; /* PEM file */
	int http_plain;           /* 1: plain HTTP, for a TLS-terminating proxy in front only */
	int http_workers;         /* processes of the HTTPS service */
	char *http_public_url;    /* the pool's base URL of the service; empty: from http_listen */
	int http_max_connections; /* per worker process */
	int http_max_connections_per_address; /* per worker process */
	int http_idle_timeout;    /* s a connection may stay silent inside a request */
	int http_header_timeout;  /* s for a request's head, from the connection or the last request */
	int http_request_timeout; /* s for a whole request, from its head to its answer's end */
	int http_stop_timeout;    /* s requests in flight get at a stop */
	char *web_root;           /* the room-management page's files; empty: no page */
	char *web_room_management_url; /* the page's URL as clients are told; empty: from the service's */
	int web_session_idle;     /* s a web session lives without a request */
	int web_session_lifetime; /* s a web session lives at most */
	int web_login_max_failures; /* failed sign-ins in a window that block a user or address */
	int web_login_window;     /* s */
	int web_login_block;      /* s */
	char *web_sso_header;     /* the header a trusted proxy names the signed-on user in */
	char *web_sso_proxies;    /* the addresses of those proxies */
} pchat_params_t;

extern pchat_params_t pchat_params;

/* When this run of the node started (ms since the epoch): part of its session names in Redis. */
extern long long pchat_run;
extern pchat_settings_t pchat_settings_defaults;

/* Parsed parameters, ready for use in every process. */
extern pchat_db_conf_t pchat_db_conf;
extern pchat_redis_conf_t pchat_redis_conf;
extern str pchat_pool_uri;
extern pv_elem_t *pchat_identity_fmt;
extern pv_spec_t pchat_flow_spec;

/* Lives in shm; one per node. Counters shared by processes are only changed and read
 * atomically (the pchat_node_* accessors below, pchat_budget.h for the budget). */
typedef struct pchat_shared {
	pchat_health_t db_health;
	pchat_redis_shared_t redis; /* health and the master last found (pchat_redis.h) */
	int sessions;              /* chat sessions on this node */
	uint64_t envid;            /* the last envelope number given out */
	pchat_node_budget_t budget; /* shared memory held by deliveries */
	pchat_settings_t settings; /* effective service settings (pchat_config over modparams) */
	/* the compliance service records: 1 on, 0 off, -1 not known yet (recorded: fail closed) */
	int compliance_recording;
	uint64_t compliance_recorded;  /* events this node wrote to the outbox */
	int64_t compliance_waiting;    /* the outbox's events, as this node's worker last estimated
	                                  them while it held the lease; 0 otherwise */
} pchat_shared_t;

extern pchat_shared_t *pchat_shared;

/* Statistics (kamcmd stats.get_statistics pchat:) */
extern stat_var *pchat_stat_requests;
extern stat_var *pchat_stat_commands;
extern stat_var *pchat_stat_posts;
extern stat_var *pchat_stat_deliveries;
extern stat_var *pchat_stat_delivery_failures;
extern stat_var *pchat_stat_bad_requests;
extern stat_var *pchat_stat_relayed;
extern stat_var *pchat_stat_received;
extern stat_var *pchat_stat_duplicates;
extern stat_var *pchat_stat_gap_fills;
extern stat_var *pchat_stat_skipped;
extern stat_var *pchat_stat_throttled;
extern stat_var *pchat_stat_repeated_requests;
extern stat_var *pchat_stat_compliance_exported;
extern stat_var *pchat_stat_compliance_runs_failed;
extern stat_var *pchat_stat_file_uploads;
extern stat_var *pchat_stat_file_downloads;
extern stat_var *pchat_stat_file_bytes_in;
extern stat_var *pchat_stat_file_bytes_out;
extern stat_var *pchat_stat_file_refusals;
extern stat_var *pchat_stat_http_requests;
extern stat_var *pchat_stat_http_refused;
extern stat_var *pchat_stat_http_timeouts;

/* mod_init: checks and parses the parameters, creates the shared area and checks the schema of
 * the database (when it is reachable). 0 ok, -1 the module must not start. */
int pchat_node_init(void);

/* child_init of a process that queries: opens its connections (a failed connect is logged
 * once per node and retried on demand). 0 ok, -1 out of memory. */
int pchat_node_connect(void);

void pchat_node_destroy(void);

/* The connections of the calling process, opened lazily (NULL when the process has none). */
pchat_db_t *pchat_proc_db(void);
pchat_redis_t *pchat_proc_redis(void);

/* The administration of the room model on the calling process's connection; it acts for the
 * chat service (its invitations come from the pool URI). */
pchat_admin_t pchat_proc_admin(void);

/* A setting stored pool-wide (value, checked already) or removed (NULL: the module
 * parameter's value) applies on this node at once; the other nodes load it within
 * config_reload_interval seconds. */
void pchat_setting_apply(const pchat_setting_def_t *def, const char *value);

/* Chat sessions on this node now. */
int pchat_node_sessions(void);
void pchat_node_session_opened(void);
void pchat_node_session_closed(void);

/* The next envelope number of this node (unique per node, so per dialog). */
uint64_t pchat_node_envid(void);

#endif
