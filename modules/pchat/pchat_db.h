/*
 * A MySQL/MariaDB connection that runs fixed sets of prepared statements: each part that
 * queries (the store, the administration, the schema check) owns its set, and a connection is
 * created with the sets of the parts that use it.
 *
 * Each process owns one connection. Statements are prepared on first use and prepared again after
 * a reconnect. A lost connection is reopened once, transparently, when no transaction is open;
 * inside a transaction the error goes back to the caller, who rolls back. While the server is
 * unreachable the shared health state makes every process fail fast (PCHAT_ERR_DOWN)
 * instead of waiting for a connect timeout on every request.
 *
 * A list of servers (the nodes of a Galera cluster) is used one server at a time, in the order
 * given: every process of a node writes through the server the shared health state names (one
 * writer: no certification conflicts between a node's processes on a room's sequence row, and
 * reads see the node's own writes). A server that refuses connections, drops one, or has left
 * the cluster's primary component moves every process to the first other server of the list
 * that answers (in the list's order, so the nodes of a pool settle on the same one); a
 * connection to a server
 * first waits until that server has applied what the cluster committed before (wsrep_sync_wait),
 * so reads after a failover see the old writer's last commits. pchat_db_failback() moves back
 * to an earlier server of the list once it is healthy again.
 *
 * No Kamailio header is used here: the store is tested against a real MariaDB on its own.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_DB_H
#define PCHAT_DB_H

#include <stddef.h>
#include <stdint.h>

#include "pchat_buf.h"
#include "pchat_health.h"
#include "pchat_result.h"

#define PCHAT_DB_MAX_HOSTS 8

typedef struct pchat_db_host {
	char *name;
	unsigned int port;
} pchat_db_host_t;

typedef struct pchat_db_conf {
	pchat_db_host_t hosts[PCHAT_DB_MAX_HOSTS]; /* in the order they are tried */
	int nhosts;
	char *user;
	char *password;
	char *database;
	char *socket;            /* unix socket path, used instead of host/port when set */
	unsigned int timeout_s;  /* connect, read and write timeouts */
	int retry_ms;            /* how long an outage pauses new connection attempts */
	const char *session_sql; /* run on every connect, before any statement (static text); NULL
	                            for none */
} pchat_db_conf_t;

/* Parses mysql://user[:password]@host[:port][,host[:port]...]/database into conf (at most
 * PCHAT_DB_MAX_HOSTS servers, port 3306 by default; strings from pchat_malloc, released by
 * pchat_db_conf_clear). Returns 0, or -1 with a message in err. */
int pchat_db_parse_url(const char *url, pchat_db_conf_t *conf, char *err, size_t errlen);
void pchat_db_conf_clear(pchat_db_conf_t *conf);

typedef enum pchat_db_type {
	PCHAT_DB_NULL,
	PCHAT_DB_INT,
	PCHAT_DB_STR,
} pchat_db_type_t;

/* A parameter or a result column. Result strings are NUL-terminated and valid during the row
 * callback only. */
typedef struct pchat_db_val {
	pchat_db_type_t type;
	long long i;
	const char *s;
	size_t len;
} pchat_db_val_t;

#define PCHAT_DB_I(v) ((pchat_db_val_t){.type = PCHAT_DB_INT, .i = (v)})
#define PCHAT_DB_S(p, l) ((pchat_db_val_t){.type = PCHAT_DB_STR, .s = (p), .len = (l)})
#define PCHAT_DB_CS(p) PCHAT_DB_S((p), strlen(p))
#define PCHAT_DB_NUL ((pchat_db_val_t){.type = PCHAT_DB_NULL})

/* A column as an integer, whatever type the server gave the expression (a COALESCE or a
 * BIT_OR can come back as DECIMAL text); 0 for NULL. */
long long pchat_db_int(const pchat_db_val_t *v);

/* Called once per result row; a non-zero return stops the iteration and is returned by exec. */
typedef int (*pchat_db_row_f)(void *ctx, const pchat_db_val_t *cols, int ncols);

typedef struct pchat_db pchat_db_t;

/* The statements of one part, indexed by the part's own numbers. */
typedef struct pchat_db_sqlset {
	const char *name;       /* for the log */
	const char *const *sql; /* n statements (static strings) */
	int n;
} pchat_db_sqlset_t;

/* sets: the statement sets the connection runs, nsets of them, kept by reference (static).
 * health may be shared between processes (shm); NULL gives the connection its own. */
pchat_db_t *pchat_db_new(const pchat_db_conf_t *conf, const pchat_db_sqlset_t *const *sets,
		int nsets, pchat_health_t *health);
void pchat_db_free(pchat_db_t *db);

/* Connects when not connected (or when the node's processes moved to another server of the
 * list), trying the servers in order from the one in use. 0 on success, PCHAT_ERR_DOWN when
 * none answered. */
int pchat_db_connect(pchat_db_t *db);

/* With a list of servers: when the node uses another than the first, checks whether an earlier
 * one is healthy again (it connects and is in the cluster's primary component) and moves every
 * process back to it. Returns 1 when it moved them, 0 otherwise. For a periodic timer. */
int pchat_db_failback(pchat_db_t *db);

/* The server the node's processes use ("host:port", or the socket path). */
const char *pchat_db_server_name(const pchat_db_t *db, char *buf, size_t len);

/* Runs statement `stmt` of `set` (one the connection was created with). Returns the number of
 * affected rows (for SELECT: rows delivered to cb), a callback's non-zero return, or one of the
 * negative pchat_rc_t: PCHAT_ERR_DOWN (no connection), PCHAT_ERR_DUPLICATE (a unique key),
 * PCHAT_ERR_NO_MEMORY, PCHAT_ERR_FAILED (the statement failed). */
long long pchat_db_exec(pchat_db_t *db, const pchat_db_sqlset_t *set, int stmt,
		const pchat_db_val_t *params, int nparams, pchat_db_row_f cb, void *ctx);

/* A DATETIME column as ISO 8601 UTC text with microseconds, in a statement. */
#define PCHAT_SQL_ISO(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%s.%fZ')"

/* What a failed statement (a negative pchat_db_exec result) means to a caller: the database
 * unreachable stays PCHAT_ERR_DOWN (503 and retry), anything else is PCHAT_ERR_FAILED. */
pchat_rc_t pchat_db_failure(long long rc);

/* AUTO_INCREMENT value or LAST_INSERT_ID(expr) set by the last statement. */
unsigned long long pchat_db_insert_id(const pchat_db_t *db);

int pchat_db_begin(pchat_db_t *db);
/* 0 when committed; PCHAT_ERR_DOWN when the connection died (then the outcome is unknown: the
 * server may have committed before it went, see pchat_db_sync_read) or the transaction was
 * refused for a conflict with another server's writes (not committed; the connection stays
 * open, see pchat_db_connected); PCHAT_ERR_FAILED. */
int pchat_db_commit(pchat_db_t *db);
void pchat_db_rollback(pchat_db_t *db);

/* Appends text to b as a LIKE pattern that matches it literally: '%', '_' and the escape
 * character '!' are escaped with '!' (statements use LIKE ... ESCAPE '!'). */
void pchat_db_add_like(pchat_buf_t *b, const char *text, size_t len);

/* Runs statement `stmt` like pchat_db_exec after the server has applied everything the cluster
 * committed before (wsrep_sync_wait; a plain server reads as usual): to learn whether a
 * transaction whose COMMIT went unanswered is stored, whichever server answers now. */
long long pchat_db_sync_read(pchat_db_t *db, const pchat_db_sqlset_t *set, int stmt,
		const pchat_db_val_t *params, int nparams, pchat_db_row_f cb, void *ctx);

/* Runs plain SQL without parameters and without results (administration, tests). */
int pchat_db_query(pchat_db_t *db, const char *sql);

/* 1 while the connection is open: after a failed COMMIT, a conflict (not committed) rather
 * than a lost connection (outcome unknown). */
int pchat_db_connected(const pchat_db_t *db);

/* "10.11.19-MariaDB-0+deb12u1", or "" when not connected. */
const char *pchat_db_server_info(pchat_db_t *db);
const char *pchat_db_last_error(const pchat_db_t *db);

#endif
