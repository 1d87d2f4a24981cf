/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "pchat_alloc.h"
#include "pchat_db.h"
#include "pchat_log.h"

struct pchat_db {
	pchat_db_conf_t conf;
	MYSQL *conn;
	const pchat_db_sqlset_t **sets; /* the statement sets, in the order given */
	int *base;                      /* index of each set's first statement in sql and stmts */
	int nsets;
	const char **sql;               /* every set's statements, one after the other */
	MYSQL_STMT **stmts;             /* prepared on first use, by the same index */
	int nstmt;
	int in_tx;
	int host;                       /* conf.hosts[host] is the server of conn */
	unsigned long long insert_id;
	pchat_health_t own_health;
	pchat_health_t *health;
	char error[256];
};

static char *dup_range(const char *s, size_t len)
{
	char *d = pchat_malloc(len + 1);

	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

void pchat_db_conf_clear(pchat_db_conf_t *conf)
{
	int i;

	for (i = 0; i < conf->nhosts; i++) {
		pchat_free(conf->hosts[i].name);
		conf->hosts[i].name = NULL;
	}
	conf->nhosts = 0;
	pchat_free(conf->user);
	pchat_free(conf->password);
	pchat_free(conf->database);
	pchat_free(conf->socket);
	conf->user = conf->password = conf->database = conf->socket = NULL;
}

/* Parses "host[:port]" (p to end) into h. 0, or -1 with a message in err. */
static int parse_host(const char *p, const char *end, pchat_db_host_t *h, char *err, size_t errlen)
{
	const char *colon = memchr(p, ':', end - p);

	h->port = 3306;
	if (colon) {
		char *stop;
		long port = strtol(colon + 1, &stop, 10);

		if (stop != end || colon + 1 == end || port <= 0 || port > 65535) {
			snprintf(err, errlen, "database URL has an invalid port");
			return -1;
		}
		h->port = (unsigned int)port;
	}
	if ((colon ? colon : end) == p) {
		snprintf(err, errlen, "database URL has an empty host");
		return -1;
	}
	h->name = dup_range(p, (colon ? colon : end) - p);
	if (!h->name) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Parses the comma-separated servers between '@' and '/'. */
static int parse_hosts(const char *p, const char *end, pchat_db_conf_t *conf, char *err,
		size_t errlen)
{
	while (p <= end) {
		const char *comma = memchr(p, ',', end - p);
		const char *stop = comma ? comma : end;

		if (conf->nhosts == PCHAT_DB_MAX_HOSTS) {
			snprintf(err, errlen, "database URL names more than %d servers", PCHAT_DB_MAX_HOSTS);
			return -1;
		}
		if (parse_host(p, stop, &conf->hosts[conf->nhosts], err, errlen) < 0)
			return -1;
		conf->nhosts++;
		p = stop + 1;
	}
	return 0;
}

int pchat_db_parse_url(const char *url, pchat_db_conf_t *conf, char *err, size_t errlen)
{
	static const char scheme[] = "mysql://";
	const char *p, *at, *slash, *colon;

	memset(conf, 0, sizeof(*conf));
	if (!url || strncmp(url, scheme, sizeof(scheme) - 1) != 0) {
		snprintf(err, errlen, "database URL must start with %s", scheme);
		return -1;
	}
	p = url + sizeof(scheme) - 1;
	at = strrchr(p, '@');
	if (!at) {
		snprintf(err, errlen, "database URL has no user (mysql://user:password@host/db)");
		return -1;
	}
	slash = strchr(at, '/');
	if (!slash || slash[1] == '\0') {
		snprintf(err, errlen, "database URL has no database name (mysql://user:password@host/db)");
		return -1;
	}
	colon = memchr(p, ':', at - p);
	conf->user = dup_range(p, (colon ? colon : at) - p);
	conf->password = colon ? dup_range(colon + 1, at - colon - 1) : dup_range("", 0);
	conf->database = dup_range(slash + 1, strlen(slash + 1));
	if (!conf->user || !conf->password || !conf->database) {
		snprintf(err, errlen, "out of memory");
		pchat_db_conf_clear(conf);
		return -1;
	}
	if (conf->user[0] == '\0') {
		snprintf(err, errlen, "database URL has an empty user");
		pchat_db_conf_clear(conf);
		return -1;
	}
	if (parse_hosts(at + 1, slash, conf, err, errlen) < 0) {
		pchat_db_conf_clear(conf);
		return -1;
	}
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? dup_range(s, strlen(s)) : NULL;
}

/* Lays the sets' statements out in one table; 0, or -1 when out of memory. */
static int add_sets(pchat_db_t *db, const pchat_db_sqlset_t *const *sets, int nsets)
{
	int i, nstmt = 0;

	for (i = 0; i < nsets; i++)
		nstmt += sets[i]->n;
	db->sets = pchat_calloc(nsets > 0 ? nsets : 1, sizeof(*db->sets));
	db->base = pchat_calloc(nsets > 0 ? nsets : 1, sizeof(*db->base));
	db->sql = pchat_calloc(nstmt > 0 ? nstmt : 1, sizeof(*db->sql));
	db->stmts = pchat_calloc(nstmt > 0 ? nstmt : 1, sizeof(*db->stmts));
	if (!db->sets || !db->base || !db->sql || !db->stmts)
		return -1;
	for (i = 0; i < nsets; i++) {
		db->sets[i] = sets[i];
		db->base[i] = db->nstmt;
		memcpy(db->sql + db->nstmt, sets[i]->sql, sizeof(*db->sql) * sets[i]->n);
		db->nstmt += sets[i]->n;
	}
	db->nsets = nsets;
	return 0;
}

pchat_db_t *pchat_db_new(const pchat_db_conf_t *conf, const pchat_db_sqlset_t *const *sets,
		int nsets, pchat_health_t *health)
{
	pchat_db_t *db = pchat_calloc(1, sizeof(*db));
	int i;

	if (!db)
		return NULL;
	db->conf = *conf;
	for (i = 0; i < conf->nhosts; i++)
		db->conf.hosts[i].name = dup_or_null(conf->hosts[i].name);
	db->conf.user = dup_or_null(conf->user);
	db->conf.password = dup_or_null(conf->password);
	db->conf.database = dup_or_null(conf->database);
	db->conf.socket = dup_or_null(conf->socket);
	db->health = health ? health : &db->own_health;
	if (add_sets(db, sets, nsets) < 0) {
		pchat_db_free(db);
		return NULL;
	}
	return db;
}

static void disconnect(pchat_db_t *db)
{
	int i;

	for (i = 0; i < db->nstmt; i++) {
		if (db->stmts[i]) {
			mysql_stmt_close(db->stmts[i]);
			db->stmts[i] = NULL;
		}
	}
	if (db->conn) {
		mysql_close(db->conn);
		db->conn = NULL;
	}
	db->in_tx = 0;
}

void pchat_db_free(pchat_db_t *db)
{
	if (!db)
		return;
	disconnect(db);
	pchat_db_conf_clear(&db->conf);
	pchat_free(db->stmts);
	pchat_free(db->sql);
	pchat_free(db->base);
	pchat_free(db->sets);
	pchat_free(db);
}

/* Names server i of the list, or the socket. */
static const char *server_name(const pchat_db_t *db, int i, char *buf, size_t len)
{
	if (db->conf.socket)
		snprintf(buf, len, "socket %s", db->conf.socket);
	else if (i >= 0 && i < db->conf.nhosts)
		snprintf(buf, len, "%s:%u", db->conf.hosts[i].name, db->conf.hosts[i].port);
	else
		snprintf(buf, len, "no server");
	return buf;
}

const char *pchat_db_server_name(const pchat_db_t *db, char *buf, size_t len)
{
	return server_name(db, pchat_health_server(db->health), buf, len);
}

static const char *where(const pchat_db_t *db, char *buf, size_t len)
{
	char name[200];

	snprintf(buf, len, "%s on %s", db->conf.database,
			db->conf.nhosts > 1 ? "every server of the list"
								: server_name(db, 0, name, sizeof(name)));
	return buf;
}

/* No server answered: the database is down for every process until the retry time. */
static int connect_failed(pchat_db_t *db)
{
	char w[256];

	if (pchat_health_failed(db->health, db->conf.retry_ms))
		PLOG_ERR("MySQL database %s is unreachable: %s; requests that need it are refused "
				 "until it answers again (next attempt in %d ms)\n",
				where(db, w, sizeof(w)), db->error, db->conf.retry_ms);
	disconnect(db);
	return PCHAT_ERR_DOWN;
}

/* Runs statements whose results do not matter; 0, or -1 when one failed. */
static int run_quietly(MYSQL *m, const char *const *sql, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		MYSQL_RES *res;

		if (mysql_real_query(m, sql[i], strlen(sql[i])) != 0)
			return -1;
		if ((res = mysql_store_result(m)) != NULL)
			mysql_free_result(res);
	}
	return 0;
}

/* A server of a list is usable once it is in its cluster's primary component (else SELECT fails
 * with ER_UNKNOWN_COM_ERROR) and has applied what the cluster committed before this read: the
 * previous writer's last commits are visible to every read that follows on this connection. */
static int cluster_barrier(MYSQL *m)
{
	static const char *const sql[] = {"SET SESSION wsrep_sync_wait = 1", "SELECT 1",
			"SET SESSION wsrep_sync_wait = 0"};

	return run_quietly(m, sql, 3);
}

/* Opens a connection to server i of the list, waiting timeout s at most for each step; NULL
 * with the reason in db->error. */
static MYSQL *open_server(pchat_db_t *db, int i, unsigned int timeout)
{
	const pchat_db_host_t *h = &db->conf.hosts[i];
	MYSQL *m = mysql_init(NULL);

	if (!m) {
		snprintf(db->error, sizeof(db->error), "mysql_init failed (out of memory)");
		return NULL;
	}
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* All times are stored and compared in UTC, whatever the server's zone. */
	mysql_options(m, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
	if (db->conf.session_sql)
		mysql_options(m, MYSQL_INIT_COMMAND, db->conf.session_sql);
	if (!mysql_real_connect(m, db->conf.socket ? NULL : h->name, db->conf.user,
				db->conf.password, db->conf.database, db->conf.socket ? 0 : h->port,
				db->conf.socket, 0)
			|| (db->conf.nhosts > 1 && cluster_barrier(m) != 0)) {
		snprintf(db->error, sizeof(db->error), "%s", mysql_error(m));
		mysql_close(m);
		return NULL;
	}
	return m;
}

int pchat_db_connect(pchat_db_t *db)
{
	int in_use = pchat_health_server(db->health), n = db->conf.nhosts, k, i = in_use;
	char w[256], a[200], b[200];

	if (db->conn) {
		/* a transaction ends where it began; then the process follows the others */
		if (db->in_tx || db->host == in_use)
			return 0;
		disconnect(db);
	}
	if (!pchat_health_may_try(db->health)) {
		snprintf(db->error, sizeof(db->error), "database marked unreachable, retry pending");
		return PCHAT_ERR_DOWN;
	}
	/* the server in use, then the list in its order: nodes that lost the same server settle
	 * on the same next one, not each on the one after whichever it happened to use */
	for (k = -1; k < n && !db->conn; k++) {
		i = k < 0 ? in_use : k;
		if (k == in_use)
			continue;
		db->conn = open_server(db, i, db->conf.timeout_s ? db->conf.timeout_s : 3);
		if (!db->conn && n > 1)
			PLOG_WARN("MySQL server %s cannot be used: %s\n", server_name(db, i, a, sizeof(a)),
					db->error);
	}
	if (!db->conn)
		return connect_failed(db);
	db->host = i;
	if (i != in_use && pchat_health_switch(db->health, in_use, i))
		PLOG_WARN("MySQL: this node now writes through %s instead of %s\n",
				server_name(db, i, a, sizeof(a)), server_name(db, in_use, b, sizeof(b)));
	if (pchat_health_ok(db->health))
		PLOG_INFO("MySQL database %s answers again\n", where(db, w, sizeof(w)));
	return 0;
}

int pchat_db_failback(pchat_db_t *db)
{
	int in_use = pchat_health_server(db->health), i;
	char a[200], b[200];
	MYSQL *m = NULL;

	if (db->conf.nhosts < 2 || in_use == 0)
		return 0;
	/* a short wait: the housekeeper that asks also keeps the node's heartbeat */
	for (i = 0; i < in_use && !m; i++)
		m = open_server(db, i, 1);
	if (!m)
		return 0;
	mysql_close(m);
	if (!pchat_health_switch(db->health, in_use, i - 1))
		return 0;
	PLOG_INFO("MySQL: %s answers and is in the cluster again; this node writes through it again "
			  "instead of %s\n", server_name(db, i - 1, a, sizeof(a)),
			server_name(db, in_use, b, sizeof(b)));
	return 1;
}

/* An open connection broke (server restart, idle timeout, network): close it; the next call
 * reconnects, and only a failing reconnect marks the server down. */
static int connection_lost(pchat_db_t *db)
{
	PLOG_INFO("connection to MySQL lost (%s), reconnecting\n", db->error);
	disconnect(db);
	return PCHAT_ERR_DOWN;
}

/* The connection cannot be used any more: it broke, or its server left the cluster's primary
 * component (ER_UNKNOWN_COM_ERROR: "WSREP has not yet prepared node for application use"). */
static int is_connection_error(unsigned int err)
{
	return err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST || err == CR_CONNECTION_ERROR
		   || err == CR_CONN_HOST_ERROR || err == CR_SERVER_LOST_EXTENDED
		   || err == ER_CONNECTION_KILLED || err == ER_SERVER_SHUTDOWN
		   || err == ER_UNKNOWN_COM_ERROR;
}

/* The transaction was rolled back for a conflict (InnoDB's deadlock detection, or Galera's
 * certification against another server's writes): nothing of it is stored, and trying again
 * later can succeed. The caller sees PCHAT_ERR_DOWN (503 and retry). */
static int is_conflict(unsigned int err)
{
	return err == ER_LOCK_DEADLOCK || err == ER_LOCK_WAIT_TIMEOUT;
}

static int conflict(pchat_db_t *db, const char *sql)
{
	PLOG_WARN("transaction rolled back for a conflict (%s) [%s]; the request may be retried\n",
			db->error, sql);
	return PCHAT_ERR_DOWN;
}

/* Classifies a failed statement; a lost connection is closed so the next call reconnects. */
static int stmt_failed(pchat_db_t *db, int stmt, MYSQL_STMT *st)
{
	unsigned int err = mysql_stmt_errno(st);

	snprintf(db->error, sizeof(db->error), "%s", mysql_stmt_error(st));
	if (is_connection_error(err))
		return connection_lost(db);
	if (is_conflict(err))
		return conflict(db, db->sql[stmt]);
	if (err == ER_DUP_ENTRY)
		return PCHAT_ERR_DUPLICATE;
	PLOG_ERR("statement %d failed: %s (%u) [%s]\n", stmt, db->error, err, db->sql[stmt]);
	return PCHAT_ERR_FAILED;
}

static MYSQL_STMT *prepared(pchat_db_t *db, int stmt, int *rc)
{
	MYSQL_STMT *st = db->stmts[stmt];

	if (st)
		return st;
	st = mysql_stmt_init(db->conn);
	if (!st) {
		snprintf(db->error, sizeof(db->error), "%s", mysql_error(db->conn));
		*rc = connection_lost(db);
		return NULL;
	}
	if (mysql_stmt_prepare(st, db->sql[stmt], strlen(db->sql[stmt])) != 0) {
		*rc = stmt_failed(db, stmt, st);
		mysql_stmt_close(st);
		return NULL;
	}
	db->stmts[stmt] = st;
	return st;
}

static int bind_params(pchat_db_t *db, int stmt, MYSQL_STMT *st, const pchat_db_val_t *params,
		int nparams)
{
	MYSQL_BIND bind[nparams > 0 ? nparams : 1];
	int i;

	if ((int)mysql_stmt_param_count(st) != nparams) {
		PLOG_ERR("statement %d takes %lu parameters, %d given\n", stmt,
				mysql_stmt_param_count(st), nparams);
		return PCHAT_ERR_FAILED;
	}
	if (nparams == 0)
		return 0;
	memset(bind, 0, sizeof(bind));
	for (i = 0; i < nparams; i++) {
		switch (params[i].type) {
			case PCHAT_DB_INT:
				bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
				bind[i].buffer = (void *)&params[i].i;
				break;
			case PCHAT_DB_STR:
				bind[i].buffer_type = MYSQL_TYPE_STRING;
				bind[i].buffer = (void *)params[i].s;
				bind[i].buffer_length = params[i].len;
				break;
			case PCHAT_DB_NULL:
				bind[i].buffer_type = MYSQL_TYPE_NULL;
				break;
		}
	}
	if (mysql_stmt_bind_param(st, bind) != 0)
		return stmt_failed(db, stmt, st);
	return 0;
}

static int is_integer_field(enum enum_field_types t)
{
	return t == MYSQL_TYPE_TINY || t == MYSQL_TYPE_SHORT || t == MYSQL_TYPE_LONG
		   || t == MYSQL_TYPE_INT24 || t == MYSQL_TYPE_LONGLONG || t == MYSQL_TYPE_YEAR;
}

/* Fetches the stored result of st row by row into cb. Integers come as PCHAT_DB_INT, everything
 * else (text, dates, decimals) as NUL-terminated strings. */
static long long fetch_rows(pchat_db_t *db, int stmt, MYSQL_STMT *st, MYSQL_RES *meta,
		pchat_db_row_f cb, void *ctx)
{
	int ncols = (int)mysql_num_fields(meta);
	MYSQL_FIELD *fields = mysql_fetch_fields(meta);
	MYSQL_BIND *bind = pchat_calloc(ncols, sizeof(*bind));
	pchat_db_val_t *vals = pchat_calloc(ncols, sizeof(*vals));
	long long *ints = pchat_calloc(ncols, sizeof(*ints));
	unsigned long *lens = pchat_calloc(ncols, sizeof(*lens));
	my_bool *nulls = pchat_calloc(ncols, sizeof(*nulls));
	char **bufs = pchat_calloc(ncols, sizeof(*bufs));
	long long rows = 0, rc = 0;
	int i, f;

	if (!bind || !vals || !ints || !lens || !nulls || !bufs) {
		rc = PCHAT_ERR_NO_MEMORY;
		goto done;
	}
	for (i = 0; i < ncols; i++) {
		bind[i].length = &lens[i];
		bind[i].is_null = &nulls[i];
		if (is_integer_field(fields[i].type)) {
			bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
			bind[i].buffer = &ints[i];
		} else {
			/* max_length is known because STMT_ATTR_UPDATE_MAX_LENGTH was set before storing. */
			bind[i].buffer_type = MYSQL_TYPE_STRING;
			bind[i].buffer_length = fields[i].max_length + 1;
			bufs[i] = pchat_malloc(bind[i].buffer_length);
			if (!bufs[i]) {
				rc = PCHAT_ERR_NO_MEMORY;
				goto done;
			}
			bind[i].buffer = bufs[i];
		}
	}
	if (mysql_stmt_bind_result(st, bind) != 0) {
		rc = stmt_failed(db, stmt, st);
		goto done;
	}
	while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
		for (i = 0; i < ncols; i++) {
			if (nulls[i]) {
				vals[i] = PCHAT_DB_NUL;
			} else if (bufs[i]) {
				bufs[i][lens[i] < bind[i].buffer_length ? lens[i] : bind[i].buffer_length - 1] = 0;
				vals[i] = PCHAT_DB_S(bufs[i], lens[i]);
			} else {
				vals[i] = PCHAT_DB_I(ints[i]);
			}
		}
		rows++;
		if (cb && (rc = cb(ctx, vals, ncols)) != 0)
			goto done;
	}
	rc = (f == 1) ? stmt_failed(db, stmt, st) : rows;
done:
	for (i = 0; bufs && i < ncols; i++)
		pchat_free(bufs[i]);
	pchat_free(bufs);
	pchat_free(nulls);
	pchat_free(lens);
	pchat_free(ints);
	pchat_free(vals);
	pchat_free(bind);
	return rc;
}

static long long exec_once(pchat_db_t *db, int stmt, const pchat_db_val_t *params, int nparams,
		pchat_db_row_f cb, void *ctx)
{
	MYSQL_STMT *st;
	MYSQL_RES *meta;
	long long rc = 0;
	int err = 0;
	my_bool on = 1;

	if (pchat_db_connect(db) != 0)
		return PCHAT_ERR_DOWN;
	st = prepared(db, stmt, &err);
	if (!st)
		return err;
	if ((err = bind_params(db, stmt, st, params, nparams)) != 0)
		return err;
	meta = mysql_stmt_result_metadata(st);
	if (meta)
		mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &on);
	if (mysql_stmt_execute(st) != 0 || (meta && mysql_stmt_store_result(st) != 0)) {
		rc = stmt_failed(db, stmt, st);
	} else if (meta) {
		rc = fetch_rows(db, stmt, st, meta, cb, ctx);
	} else {
		rc = (long long)mysql_stmt_affected_rows(st);
		db->insert_id = mysql_stmt_insert_id(st);
	}
	if (meta)
		mysql_free_result(meta);
	/* After a lost connection st is gone with it; otherwise release the result set. */
	if (db->conn && db->stmts[stmt])
		mysql_stmt_free_result(st);
	return rc;
}

/* Where statement i of a set is in the connection's table; -1 when the connection was not
 * created with that set or the set has no statement i. */
static int stmt_index(const pchat_db_t *db, const pchat_db_sqlset_t *set, int i)
{
	int k;

	for (k = 0; k < db->nsets; k++)
		if (db->sets[k] == set)
			return i >= 0 && i < set->n ? db->base[k] + i : -1;
	return -1;
}

long long pchat_db_exec(pchat_db_t *db, const pchat_db_sqlset_t *set, int i,
		const pchat_db_val_t *params, int nparams, pchat_db_row_f cb, void *ctx)
{
	int had_conn = db->conn != NULL, in_tx = db->in_tx;
	int stmt = stmt_index(db, set, i);
	long long rc;

	if (stmt < 0) {
		PLOG_ERR("no statement %d of set %s on this connection\n", i, set->name);
		return PCHAT_ERR_FAILED;
	}
	rc = exec_once(db, stmt, params, nparams, cb, ctx);
	/* A connection that died while idle (server restart, wait_timeout) is reopened once; inside a
	 * transaction the work is lost and the caller must start again. */
	if (rc == PCHAT_ERR_DOWN && had_conn && !in_tx)
		rc = exec_once(db, stmt, params, nparams, cb, ctx);
	return rc;
}

long long pchat_db_int(const pchat_db_val_t *v)
{
	if (v->type == PCHAT_DB_INT)
		return v->i;
	return v->type == PCHAT_DB_STR ? strtoll(v->s, NULL, 10) : 0;
}

pchat_rc_t pchat_db_failure(long long rc)
{
	return rc == PCHAT_ERR_DOWN ? PCHAT_ERR_DOWN : PCHAT_ERR_FAILED;
}

unsigned long long pchat_db_insert_id(const pchat_db_t *db)
{
	return db->insert_id;
}

static int simple_query(pchat_db_t *db, const char *sql)
{
	unsigned int err;

	if (pchat_db_connect(db) != 0)
		return PCHAT_ERR_DOWN;
	if (mysql_real_query(db->conn, sql, strlen(sql)) == 0) {
		MYSQL_RES *res = mysql_store_result(db->conn);

		if (res)
			mysql_free_result(res);
		return 0;
	}
	err = mysql_errno(db->conn);
	snprintf(db->error, sizeof(db->error), "%s", mysql_error(db->conn));
	if (is_connection_error(err))
		return connection_lost(db);
	if (is_conflict(err))
		return conflict(db, sql);
	PLOG_ERR("query failed: %s (%u) [%s]\n", db->error, err, sql);
	return err == ER_DUP_ENTRY ? PCHAT_ERR_DUPLICATE : PCHAT_ERR_FAILED;
}

int pchat_db_query(pchat_db_t *db, const char *sql)
{
	int had_conn = db->conn != NULL;
	int rc = simple_query(db, sql);

	if (rc == PCHAT_ERR_DOWN && had_conn && !db->in_tx)
		rc = simple_query(db, sql);
	return rc;
}

long long pchat_db_sync_read(pchat_db_t *db, const pchat_db_sqlset_t *set, int stmt,
		const pchat_db_val_t *params, int nparams, pchat_db_row_f cb, void *ctx)
{
	long long rc;

	/* a connection opened meanwhile passed the same barrier (cluster_barrier) */
	if (db->conf.nhosts < 2)
		return pchat_db_exec(db, set, stmt, params, nparams, cb, ctx);
	if ((rc = pchat_db_query(db, "SET SESSION wsrep_sync_wait = 1")) != 0)
		return rc;
	rc = pchat_db_exec(db, set, stmt, params, nparams, cb, ctx);
	if (db->conn)
		pchat_db_query(db, "SET SESSION wsrep_sync_wait = 0");
	return rc;
}

int pchat_db_begin(pchat_db_t *db)
{
	int rc = pchat_db_query(db, "START TRANSACTION");

	db->in_tx = (rc == 0);
	return rc;
}

int pchat_db_commit(pchat_db_t *db)
{
	int rc;

	if (!db->conn) {
		db->in_tx = 0;
		return PCHAT_ERR_DOWN;
	}
	rc = simple_query(db, "COMMIT");
	db->in_tx = 0;
	return rc;
}

void pchat_db_rollback(pchat_db_t *db)
{
	if (db->conn && db->in_tx)
		simple_query(db, "ROLLBACK");
	db->in_tx = 0;
}

int pchat_db_connected(const pchat_db_t *db)
{
	return db->conn != NULL;
}

const char *pchat_db_server_info(pchat_db_t *db)
{
	return db->conn ? mysql_get_server_info(db->conn) : "";
}

const char *pchat_db_last_error(const pchat_db_t *db)
{
	return db->error;
}

void pchat_db_add_like(pchat_buf_t *b, const char *text, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (text[i] == '%' || text[i] == '_' || text[i] == '!')
			pchat_buf_add(b, "!", 1);
		pchat_buf_add(b, text + i, 1);
	}
}
