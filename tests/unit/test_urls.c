/* Parsing of the db_url and redis_url module parameters. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "pchat_db.h"
#include "pchat_redis.h"

static void db_url_full(void **state)
{
	pchat_db_conf_t c = {0};
	char err[128];

	(void)state;
	assert_int_equal(pchat_db_parse_url("mysql://pchat:s3cr:et@db.example.com:3307/chat", &c, err,
			sizeof(err)), 0);
	assert_string_equal(c.user, "pchat");
	assert_string_equal(c.password, "s3cr:et");
	assert_int_equal(c.nhosts, 1);
	assert_string_equal(c.hosts[0].name, "db.example.com");
	assert_int_equal(c.hosts[0].port, 3307);
	assert_string_equal(c.database, "chat");
	pchat_db_conf_clear(&c);
}

static void db_url_defaults_and_at_in_password(void **state)
{
	pchat_db_conf_t c = {0};
	char err[128];

	(void)state;
	assert_int_equal(pchat_db_parse_url("mysql://u:p@ss@127.0.0.1/db", &c, err, sizeof(err)), 0);
	assert_string_equal(c.password, "p@ss");
	assert_string_equal(c.hosts[0].name, "127.0.0.1");
	assert_int_equal(c.hosts[0].port, 3306);
	pchat_db_conf_clear(&c);
	assert_int_equal(pchat_db_parse_url("mysql://u@h/db", &c, err, sizeof(err)), 0);
	assert_string_equal(c.password, "");
	pchat_db_conf_clear(&c);
}

static void db_url_rejected(void **state)
{
	static const char *bad[] = {
		"postgres://u:p@h/db", "mysql://h/db", "mysql://u:p@h", "mysql://u:p@h/",
		"mysql://u:p@h:0/db", "mysql://u:p@h:99999/db", "mysql://u:p@h:12x/db", "mysql://:p@h/db",
		"mysql://u:p@/db", "mysql://u:p@h1,/db", "mysql://u:p@,h2/db", "mysql://u:p@h1:5,h2:/db",
		"mysql://u:p@h1,h2:70000/db", "mysql://u:p@a,b,c,d,e,f,g,h,i/db", NULL,
	};
	pchat_db_conf_t c = {0};
	char err[128];
	int i;

	(void)state;
	for (i = 0; bad[i]; i++) {
		err[0] = '\0';
		assert_int_equal(pchat_db_parse_url(bad[i], &c, err, sizeof(err)), -1);
		assert_true(strlen(err) > 0);
		assert_int_equal(c.nhosts, 0);
		assert_null(c.user);
	}
}

/* A Galera cluster: its servers in the order they are tried, each with its own port. */
static void db_url_server_list(void **state)
{
	pchat_db_conf_t c = {0};
	char err[128];

	(void)state;
	assert_int_equal(pchat_db_parse_url("mysql://u:p@g1:3307,10.0.0.2,g3:3309/chat", &c, err,
			sizeof(err)), 0);
	assert_int_equal(c.nhosts, 3);
	assert_string_equal(c.hosts[0].name, "g1");
	assert_int_equal(c.hosts[0].port, 3307);
	assert_string_equal(c.hosts[1].name, "10.0.0.2");
	assert_int_equal(c.hosts[1].port, 3306);
	assert_string_equal(c.hosts[2].name, "g3");
	assert_int_equal(c.hosts[2].port, 3309);
	assert_string_equal(c.database, "chat");
	pchat_db_conf_clear(&c);
	assert_int_equal(c.nhosts, 0);
	assert_int_equal(pchat_db_parse_url("mysql://u:p@a,b,c,d,e,f,g,h/db", &c, err, sizeof(err)),
			0);
	assert_int_equal(c.nhosts, PCHAT_DB_MAX_HOSTS);
	pchat_db_conf_clear(&c);
}

static void redis_url_forms(void **state)
{
	pchat_redis_conf_t c = {0};
	char err[128];

	(void)state;
	assert_int_equal(pchat_redis_parse_url("redis://10.0.0.5", &c, err, sizeof(err)), 0);
	assert_string_equal(c.host, "10.0.0.5");
	assert_int_equal(c.port, 6379);
	assert_int_equal(c.db, 0);
	assert_null(c.password);
	pchat_redis_conf_clear(&c);
	assert_int_equal(pchat_redis_parse_url("redis://:pw@cache:6380/3", &c, err, sizeof(err)), 0);
	assert_string_equal(c.host, "cache");
	assert_string_equal(c.password, "pw");
	assert_int_equal(c.port, 6380);
	assert_int_equal(c.db, 3);
	pchat_redis_conf_clear(&c);
}

static void redis_url_rejected(void **state)
{
	static const char *bad[] = {
		"http://cache", "redis://", "redis://:pw@", "redis://h:0", "redis://h:70000",
		"redis://h/x", "redis://h/-1", NULL,
	};
	pchat_redis_conf_t c = {0};
	char err[128];
	int i;

	(void)state;
	for (i = 0; bad[i]; i++) {
		err[0] = '\0';
		assert_int_equal(pchat_redis_parse_url(bad[i], &c, err, sizeof(err)), -1);
		assert_true(strlen(err) > 0);
		assert_null(c.host);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(db_url_full),
		cmocka_unit_test(db_url_defaults_and_at_in_password),
		cmocka_unit_test(db_url_rejected),
		cmocka_unit_test(db_url_server_list),
		cmocka_unit_test(redis_url_forms),
		cmocka_unit_test(redis_url_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
