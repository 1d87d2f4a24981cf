/*
 * The MySQL and Redis clients of the module against real servers (a lab's MariaDB and Redis,
 * named by the PCHAT_MYSQL_* and PCHAT_REDIS_* variables of lab.env). Run by
 * tests/integration/test_backends.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pchat_db.h"
#include "pchat_redis.h"
#include "pchat_schema.h"

enum { ST_INSERT, ST_SELECT, ST_CONN_ID, ST_KILL, ST_COUNT };

static const char *const sql[] = {
	[ST_INSERT] = "INSERT INTO backend_test (id, name, note) VALUES (?, ?, ?)",
	[ST_SELECT] = "SELECT id, name, note, created FROM backend_test WHERE id >= ? ORDER BY id",
	[ST_CONN_ID] = "SELECT CONNECTION_ID()",
	[ST_KILL] = "KILL CONNECTION ?",
	[ST_COUNT] = "SELECT COUNT(*) FROM backend_test",
};
static const pchat_db_sqlset_t test_set = {"test", sql, (int)(sizeof(sql) / sizeof(sql[0]))};
static const pchat_db_sqlset_t *const test_sets[] = {&test_set};

/* A port from the environment; main() skips the tests when it is not set. */
static unsigned int env_port(const char *name)
{
	const char *v = getenv(name);

	return v ? (unsigned int)atoi(v) : 0;
}

static pchat_db_conf_t db_conf(void)
{
	pchat_db_conf_t c = {0};

	c.hosts[0].name = getenv("PCHAT_MYSQL_HOST");
	c.hosts[0].port = env_port("PCHAT_MYSQL_PORT");
	c.nhosts = 1;
	c.user = getenv("PCHAT_MYSQL_USER");
	c.password = getenv("PCHAT_MYSQL_PASSWORD");
	c.database = getenv("PCHAT_MYSQL_DB");
	c.timeout_s = 2;
	c.retry_ms = 60000;
	return c;
}

struct rows {
	int n;
	long long ids[8];
	char names[8][64];
	int note_null[8];
};

static int collect(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	struct rows *r = ctx;

	assert_int_equal(ncols, 4);
	assert_int_equal(cols[0].type, PCHAT_DB_INT);
	assert_int_equal(cols[1].type, PCHAT_DB_STR);
	assert_int_equal(cols[3].type, PCHAT_DB_STR); /* DATETIME comes as text */
	r->ids[r->n] = cols[0].i;
	snprintf(r->names[r->n], sizeof(r->names[0]), "%s", cols[1].s);
	r->note_null[r->n] = cols[2].type == PCHAT_DB_NULL;
	r->n++;
	return 0;
}

static long long single_int(pchat_db_t *db, int stmt, const pchat_db_val_t *p, int np);

static int take_int(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	assert_int_equal(ncols, 1);
	*(long long *)ctx = cols[0].i;
	return 0;
}

static long long single_int(pchat_db_t *db, int stmt, const pchat_db_val_t *p, int np)
{
	long long v = -1;

	assert_int_equal(pchat_db_exec(db, &test_set, stmt, p, np, take_int, &v), 1);
	return v;
}

static int setup_db(void **state)
{
	pchat_db_conf_t c = db_conf();
	pchat_db_t *db = pchat_db_new(&c, test_sets, 1, NULL);

	assert_non_null(db);
	assert_int_equal(pchat_db_connect(db), 0);
	assert_int_equal(pchat_db_query(db, "DROP TABLE IF EXISTS backend_test"), 0);
	assert_int_equal(pchat_db_query(db, "CREATE TABLE backend_test (id BIGINT PRIMARY KEY, "
			"name VARCHAR(64) NOT NULL, note TEXT NULL, "
			"created DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6)) CHARSET utf8mb4"), 0);
	*state = db;
	return 0;
}

static int teardown_db(void **state)
{
	pchat_db_t *db = *state;

	pchat_db_query(db, "DROP TABLE IF EXISTS backend_test");
	pchat_db_free(db);
	return 0;
}

static void prepared_statements_round_trip(void **state)
{
	pchat_db_t *db = *state;
	const char *hostile = "x'); DROP TABLE backend_test; -- \xc3\xa9\xe2\x82\xac";
	pchat_db_val_t p[3];
	struct rows r = {0};

	p[0] = PCHAT_DB_I(1);
	p[1] = PCHAT_DB_CS(hostile);
	p[2] = PCHAT_DB_NUL;
	assert_int_equal(pchat_db_exec(db, &test_set, ST_INSERT, p, 3, NULL, NULL), 1);
	p[0] = PCHAT_DB_I(2);
	p[1] = PCHAT_DB_CS("bob");
	p[2] = PCHAT_DB_CS("note");
	assert_int_equal(pchat_db_exec(db, &test_set, ST_INSERT, p, 3, NULL, NULL), 1);
	/* the same key again */
	assert_int_equal(pchat_db_exec(db, &test_set, ST_INSERT, p, 3, NULL, NULL), PCHAT_ERR_DUPLICATE);
	p[0] = PCHAT_DB_I(1);
	assert_int_equal(pchat_db_exec(db, &test_set, ST_SELECT, p, 1, collect, &r), 2);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ids[0], 1);
	assert_string_equal(r.names[0], hostile); /* stored as data, byte for byte */
	assert_true(r.note_null[0]);
	assert_false(r.note_null[1]);
	/* wrong parameter count is refused, not sent */
	assert_int_equal(pchat_db_exec(db, &test_set, ST_SELECT, p, 2, collect, &r), PCHAT_ERR_FAILED);
}

static void transaction_rollback_discards(void **state)
{
	pchat_db_t *db = *state;
	long long before = single_int(db, ST_COUNT, NULL, 0);
	pchat_db_val_t p[3] = {PCHAT_DB_I(100), PCHAT_DB_CS("tx"), PCHAT_DB_NUL};

	assert_int_equal(pchat_db_begin(db), 0);
	assert_int_equal(pchat_db_exec(db, &test_set, ST_INSERT, p, 3, NULL, NULL), 1);
	pchat_db_rollback(db);
	assert_int_equal(single_int(db, ST_COUNT, NULL, 0), before);
	assert_int_equal(pchat_db_begin(db), 0);
	assert_int_equal(pchat_db_exec(db, &test_set, ST_INSERT, p, 3, NULL, NULL), 1);
	assert_int_equal(pchat_db_commit(db), 0);
	assert_int_equal(single_int(db, ST_COUNT, NULL, 0), before + 1);
}

/* Another connection kills ours: the next statement reconnects and re-prepares by itself. */
static void killed_connection_is_reopened(void **state)
{
	pchat_db_t *db = *state;
	pchat_db_conf_t c = db_conf();
	pchat_db_t *killer = pchat_db_new(&c, test_sets, 1, NULL);
	long long id = single_int(db, ST_CONN_ID, NULL, 0);
	pchat_db_val_t p = PCHAT_DB_I(id);

	assert_true(id > 0);
	assert_int_equal(pchat_db_exec(killer, &test_set, ST_KILL, &p, 1, NULL, NULL), 0);
	assert_true(single_int(db, ST_COUNT, NULL, 0) >= 0);
	assert_true(single_int(db, ST_CONN_ID, NULL, 0) != id);
	pchat_db_free(killer);
}

/* Inside a transaction a lost connection is reported, never silently replayed. */
static void lost_connection_inside_transaction_fails(void **state)
{
	pchat_db_t *db = *state;
	pchat_db_conf_t c = db_conf();
	pchat_db_t *killer = pchat_db_new(&c, test_sets, 1, NULL);
	pchat_db_val_t kill, row[3] = {PCHAT_DB_I(200), PCHAT_DB_CS("lost"), PCHAT_DB_NUL};

	assert_int_equal(pchat_db_begin(db), 0);
	kill = PCHAT_DB_I(single_int(db, ST_CONN_ID, NULL, 0));
	assert_int_equal(pchat_db_exec(killer, &test_set, ST_KILL, &kill, 1, NULL, NULL), 0);
	assert_int_equal(pchat_db_exec(db, &test_set, ST_INSERT, row, 3, NULL, NULL), PCHAT_ERR_DOWN);
	pchat_db_rollback(db);
	row[0] = PCHAT_DB_I(200);
	/* nothing written */
	assert_int_equal(pchat_db_exec(db, &test_set, ST_SELECT, row, 1, NULL, NULL), 0);
	pchat_db_free(killer);
}

/* A server that does not answer: one connect attempt, then fail fast until the retry time. */
static void unreachable_server_fails_fast(void **state)
{
	pchat_db_conf_t c = db_conf();
	pchat_health_t health = {0};
	pchat_db_t *db;

	(void)state;
	c.hosts[0].port = 1; /* nothing listens there */
	db = pchat_db_new(&c, test_sets, 1, &health);
	assert_int_equal(pchat_db_exec(db, &test_set, ST_COUNT, NULL, 0, NULL, NULL), PCHAT_ERR_DOWN);
	assert_true(pchat_health_is_down(&health));
	assert_int_equal(health.failures, 1);
	assert_int_equal(pchat_db_exec(db, &test_set, ST_COUNT, NULL, 0, NULL, NULL), PCHAT_ERR_DOWN);
	assert_int_equal(health.failures, 1); /* no second attempt within retry_ms */
	pchat_db_free(db);
}

/* A list of servers: every process goes where a server answers (one writer), and back to an
 * earlier server of the list once it answers again. */
static void a_server_list_moves_to_the_server_that_answers(void **state)
{
	pchat_db_conf_t c = db_conf();
	pchat_health_t health = {0};
	pchat_db_t *db, *other;

	(void)state;
	c.hosts[1] = c.hosts[0];
	c.hosts[0].port = 1; /* nothing listens there */
	c.nhosts = 2;
	db = pchat_db_new(&c, test_sets, 1, &health);
	assert_true(single_int(db, ST_CONN_ID, NULL, 0) > 0);
	assert_int_equal(pchat_health_server(&health), 1);
	assert_int_equal(health.switches, 1);
	assert_false(pchat_health_is_down(&health)); /* one server answered: no outage */
	assert_int_equal(pchat_db_failback(db), 0);  /* the first is still dead */
	assert_int_equal(pchat_health_server(&health), 1);
	pchat_db_free(db);

	/* the first server answers again: the node moves back, and a process's open connection
	 * to the other follows at its next statement */
	c.hosts[0] = c.hosts[1];
	db = pchat_db_new(&c, test_sets, 1, &health);
	other = pchat_db_new(&c, test_sets, 1, &health);
	assert_true(single_int(other, ST_CONN_ID, NULL, 0) > 0);
	assert_int_equal(pchat_db_failback(db), 1);
	assert_int_equal(pchat_health_server(&health), 0);
	assert_int_equal(health.switches, 2);
	assert_true(single_int(other, ST_CONN_ID, NULL, 0) > 0);
	assert_int_equal(pchat_db_failback(db), 0); /* nothing earlier than the first */
	pchat_db_free(other);
	pchat_db_free(db);
}

static void schema_of_the_lab_is_current(void **state)
{
	pchat_db_conf_t c = db_conf();
	static const pchat_db_sqlset_t *const sets[] = {&pchat_schema_sqlset};
	pchat_db_t *db = pchat_db_new(&c, sets, 1, NULL);
	char err[256] = "";

	(void)state;
	assert_int_equal(pchat_schema_check(db, err, sizeof(err)), 0);
	pchat_db_free(db);
}

static pchat_redis_conf_t redis_conf(void)
{
	pchat_redis_conf_t c = {0};

	c.host = getenv("PCHAT_REDIS_HOST");
	c.port = env_port("PCHAT_REDIS_PORT");
	c.timeout_ms = 500;
	c.retry_ms = 60000;
	return c;
}

static void redis_commands_and_reconnect(void **state)
{
	pchat_redis_conf_t c = redis_conf();
	pchat_redis_t *r = pchat_redis_new(&c, NULL);
	const char *argv[] = {"SET", "backend-test-key", "v\0binary"};
	size_t argvlen[] = {3, 16, 8};
	redisReply *rep;

	(void)state;
	rep = pchat_redis_command_argv(r, 3, argv, argvlen);
	assert_non_null(rep);
	freeReplyObject(rep);
	rep = pchat_redis_command(r, "GET %s", "backend-test-key");
	assert_non_null(rep);
	assert_int_equal(rep->len, 8);
	assert_memory_equal(rep->str, "v\0binary", 8);
	freeReplyObject(rep);
	/* an error reply is logged and gives NULL, the connection stays usable */
	assert_null(pchat_redis_command(r, "NOSUCHCOMMAND"));
	assert_true(pchat_redis_connected(r));
	assert_true(strlen(pchat_redis_server_version(r)) > 0);
	/* the server drops every client, us included: the next command reconnects by itself */
	rep = pchat_redis_command(r, "CLIENT KILL TYPE normal SKIPME no");
	if (rep)
		freeReplyObject(rep);
	rep = pchat_redis_command(r, "GET %s", "backend-test-key");
	assert_non_null(rep);
	assert_int_equal(rep->len, 8);
	freeReplyObject(rep);
	pchat_redis_free(r);
}

static void redis_unreachable_fails_fast(void **state)
{
	pchat_redis_conf_t c = redis_conf();
	pchat_redis_shared_t shared = {0};
	pchat_redis_t *r;

	(void)state;
	c.port = 1;
	r = pchat_redis_new(&c, &shared);
	assert_null(pchat_redis_command(r, "PING"));
	assert_int_equal(shared.health.failures, 1);
	assert_null(pchat_redis_command(r, "PING"));
	assert_int_equal(shared.health.failures, 1);
	pchat_redis_free(r);
}

/* No sentinel answers: one walk over them is one failure, and nobody asks again before the
 * retry time. */
static void redis_without_sentinels_fails_fast(void **state)
{
	pchat_redis_conf_t c = {0};
	pchat_redis_shared_t shared = {0};
	pchat_redis_t *r;
	char err[128];

	(void)state;
	assert_int_equal(pchat_redis_parse_url("redis-sentinel://127.0.0.1:1,127.0.0.1:2/pchat", &c,
			err, sizeof(err)), 0);
	c.timeout_ms = 500;
	c.retry_ms = 60000;
	r = pchat_redis_new(&c, &shared);
	assert_null(pchat_redis_command(r, "PING"));
	assert_int_equal(shared.health.failures, 1);
	assert_null(pchat_redis_command(r, "PING"));
	assert_int_equal(shared.health.failures, 1);
	assert_int_equal(shared.master, 0);
	assert_int_equal(pchat_redis_server(r)->port, 0);
	pchat_redis_free(r);
	pchat_redis_conf_clear(&c);
}

int main(void)
{
	const struct CMUnitTest db_tests[] = {
		cmocka_unit_test(prepared_statements_round_trip),
		cmocka_unit_test(transaction_rollback_discards),
		cmocka_unit_test(killed_connection_is_reopened),
		cmocka_unit_test(lost_connection_inside_transaction_fails),
	};
	const struct CMUnitTest other_tests[] = {
		cmocka_unit_test(unreachable_server_fails_fast),
		cmocka_unit_test(a_server_list_moves_to_the_server_that_answers),
		cmocka_unit_test(schema_of_the_lab_is_current),
		cmocka_unit_test(redis_commands_and_reconnect),
		cmocka_unit_test(redis_unreachable_fails_fast),
		cmocka_unit_test(redis_without_sentinels_fails_fast),
	};

	if (!getenv("PCHAT_MYSQL_PORT") || !getenv("PCHAT_REDIS_PORT")) {
		fprintf(stderr, "set the PCHAT_MYSQL_* and PCHAT_REDIS_* variables of a lab.env\n");
		return 2;
	}
	return cmocka_run_group_tests(db_tests, setup_db, teardown_db)
		   | cmocka_run_group_tests(other_tests, NULL, NULL);
}
