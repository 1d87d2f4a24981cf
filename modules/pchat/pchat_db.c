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
	pchat_free(conf->host);
	pchat_free(conf->user);
	pchat_free(conf->password);
	pchat_free(conf->database);
	pchat_free(conf->socket);
	conf->host = conf->user = conf->password = conf->database = conf->socket = NULL;
}

int pchat_db_parse_url(const char *url, pchat_db_conf_t *conf, char *err, size_t errlen)
{
	static const char scheme[] = "mysql://";
	const char *p, *at, *slash, *colon;

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
	colon = memchr(at + 1, ':', slash - at - 1);
	conf->host = dup_range(at + 1, (colon ? colon : slash) - at - 1);
	conf->port = 3306;
	if (colon) {
		char *end;
		long port = strtol(colon + 1, &end, 10);

		if (end != slash || port <= 0 || port > 65535) {
			snprintf(err, errlen, "database URL has an invalid port");
			pchat_db_conf_clear(conf);
			return -1;
		}
		conf->port = (unsigned int)port;
	}
	conf->database = dup_range(slash + 1, strlen(slash + 1));
	if (!conf->user || !conf->password || !conf->host || !conf->database) {
		snprintf(err, errlen, "out of memory");
		pchat_db_conf_clear(conf);
		return -1;
	}
	if (conf->user[0] == '\0' || conf->host[0] == '\0') {
		snprintf(err, errlen, "database URL has an empty user or host");
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

	if (!db)
		return NULL;
	db->conf = *conf;
	db->conf.host = dup_or_null(conf->host);
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

static const char *where(const pchat_db_t *db, char *buf, size_t len)
{
	if (db->conf.socket)
		snprintf(buf, len, "%s (socket %s)", db->conf.database, db->conf.socket);
	else
		snprintf(buf, len, "%s on %s:%u", db->conf.database, db->conf.host, db->conf.port);
	return buf;
}

/* A connection attempt failed: the server is down for every process until the retry time. */
static int connect_failed(pchat_db_t *db, const char *what)
{
	char w[256];

	snprintf(db->error, sizeof(db->error), "%s", what);
	if (pchat_health_failed(db->health, db->conf.retry_ms))
		PLOG_ERR("MySQL database %s is unreachable: %s; requests that need it are refused "
				 "until it answers again (next attempt in %d ms)\n",
				where(db, w, sizeof(w)), what, db->conf.retry_ms);
	disconnect(db);
	return PCHAT_ERR_DOWN;
}

int pchat_db_connect(pchat_db_t *db)
{
	unsigned int timeout = db->conf.timeout_s ? db->conf.timeout_s : 3;
	char w[256];

	if (db->conn)
		return 0;
	if (!pchat_health_may_try(db->health)) {
		snprintf(db->error, sizeof(db->error), "database marked unreachable, retry pending");
		return PCHAT_ERR_DOWN;
	}
	db->conn = mysql_init(NULL);
	if (!db->conn)
		return connect_failed(db, "mysql_init failed (out of memory)");
	mysql_options(db->conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(db->conn, MYSQL_OPT_READ_TIMEOUT, &timeout);
	mysql_options(db->conn, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
	mysql_options(db->conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* All times are stored and compared in UTC, whatever the server's zone. */
	mysql_options(db->conn, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
	if (db->conf.session_sql)
		mysql_options(db->conn, MYSQL_INIT_COMMAND, db->conf.session_sql);
	if (!mysql_real_connect(db->conn, db->conf.socket ? NULL : db->conf.host, db->conf.user,
				db->conf.password, db->conf.database, db->conf.socket ? 0 : db->conf.port,
				db->conf.socket, 0))
		return connect_failed(db, mysql_error(db->conn));
	if (pchat_health_ok(db->health))
		PLOG_INFO("MySQL database %s answers again\n", where(db, w, sizeof(w)));
	return 0;
}

/* An open connection broke (server restart, idle timeout, network): close it; the next call
 * reconnects, and only a failing reconnect marks the server down. */
static int connection_lost(pchat_db_t *db)
{
	PLOG_INFO("connection to MySQL lost (%s), reconnecting\n", db->error);
	disconnect(db);
	return PCHAT_ERR_DOWN;
}

static int is_connection_error(unsigned int err)
{
	return err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST || err == CR_CONNECTION_ERROR
		   || err == CR_CONN_HOST_ERROR || err == CR_SERVER_LOST_EXTENDED
		   || err == ER_CONNECTION_KILLED || err == ER_SERVER_SHUTDOWN;
}

/* Classifies a failed statement; a lost connection is closed so the next call reconnects. */
static int stmt_failed(pchat_db_t *db, int stmt, MYSQL_STMT *st)
{
	unsigned int err = mysql_stmt_errno(st);

	snprintf(db->error, sizeof(db->error), "%s", mysql_stmt_error(st));
	if (is_connection_error(err))
		return connection_lost(db);
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
