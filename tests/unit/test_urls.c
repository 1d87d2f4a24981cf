/* Parsing of the db_url and redis_url module parameters (redis_url in both forms). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
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

static void redis_sentinel_url_forms(void **state)
{
	pchat_redis_conf_t c = {0};
	char err[128], text[256];

	(void)state;
	assert_int_equal(pchat_redis_parse_url("redis-sentinel://:s3cr@t@10.0.0.1:26380,10.0.0.2,"
			"sentinel-c.example.com:26381/pchat-eu/2", &c, err, sizeof(err)), 0);
	assert_null(c.host);
	assert_string_equal(c.password, "s3cr@t");
	assert_string_equal(c.master_name, "pchat-eu");
	assert_int_equal(c.db, 2);
	assert_int_equal(c.nsentinels, 3);
	assert_string_equal(c.sentinels[0].host, "10.0.0.1");
	assert_int_equal(c.sentinels[0].port, 26380);
	assert_string_equal(c.sentinels[1].host, "10.0.0.2");
	assert_int_equal(c.sentinels[1].port, 26379); /* Sentinel's own default */
	assert_string_equal(c.sentinels[2].host, "sentinel-c.example.com");
	assert_int_equal(c.sentinels[2].port, 26381);
	pchat_redis_conf_describe(&c, text, sizeof(text));
	assert_string_equal(text, "master 'pchat-eu' through sentinels 10.0.0.1:26380,"
			"10.0.0.2:26379,sentinel-c.example.com:26381");
	pchat_redis_conf_clear(&c);
	assert_null(c.master_name);
	assert_int_equal(c.nsentinels, 0);
	assert_int_equal(pchat_redis_parse_url("redis-sentinel://s1/m", &c, err, sizeof(err)), 0);
	assert_null(c.password);
	assert_int_equal(c.db, 0);
	assert_int_equal(c.nsentinels, 1);
	assert_int_equal(c.sentinels[0].port, 26379);
	pchat_redis_conf_clear(&c);
	/* as many sentinels as there is room for */
	assert_int_equal(pchat_redis_parse_url("redis-sentinel://a,b,c,d,e,f,g,h/m/", &c, err,
			sizeof(err)), 0);
	assert_int_equal(c.nsentinels, PCHAT_SENTINELS_MAX);
	assert_string_equal(c.sentinels[7].host, "h");
	pchat_redis_conf_clear(&c);
	/* the plain form says where it goes */
	assert_int_equal(pchat_redis_parse_url("redis://cache:6380", &c, err, sizeof(err)), 0);
	assert_null(c.master_name);
	pchat_redis_conf_describe(&c, text, sizeof(text));
	assert_string_equal(text, "cache:6380");
	pchat_redis_conf_clear(&c);
}

static void redis_url_rejected(void **state)
{
	static const char *bad[] = {
		"http://cache", "redis://", "redis://:pw@", "redis://h:0", "redis://h:70000",
		"redis://h/x", "redis://h/-1", "redis://h:+12", "redis://h:", "redis://ca che",
		"redis://h;x", "redis://h/1001", "redis-sentinel://", "redis-sentinel://s1",
		"redis-sentinel://s1/", "redis-sentinel://s1//0", "redis-sentinel://s1,/m",
		"redis-sentinel://,s1/m", "redis-sentinel://s1,,s2/m", "redis-sentinel://s1:0/m",
		"redis-sentinel://s1:26379x/m", "redis-sentinel://s1/m a", "redis-sentinel://s1/m:1",
		"redis-sentinel://s1/m/x", "redis-sentinel://a,b,c,d,e,f,g,h,i/m",
		"redis+sentinel://s1/m", NULL,
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
		assert_null(c.password);
		assert_null(c.master_name);
		assert_int_equal(c.nsentinels, 0);
	}
}

/* A host is at most 255 bytes, in the URL as in a sentinel's answer. */
static void redis_url_long_host_rejected(void **state)
{
	char url[600];
	pchat_redis_conf_t c = {0};
	char err[128];

	(void)state;
	snprintf(url, sizeof(url), "redis://%0255d", 0);
	assert_int_equal(pchat_redis_parse_url(url, &c, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.host), 255);
	pchat_redis_conf_clear(&c);
	snprintf(url, sizeof(url), "redis-sentinel://%0256d/m", 0);
	assert_int_equal(pchat_redis_parse_url(url, &c, err, sizeof(err)), -1);
	snprintf(url, sizeof(url), "redis://%0256d", 0);
	assert_int_equal(pchat_redis_parse_url(url, &c, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(db_url_full),
		cmocka_unit_test(db_url_defaults_and_at_in_password),
		cmocka_unit_test(db_url_rejected),
		cmocka_unit_test(db_url_server_list),
		cmocka_unit_test(redis_url_forms),
		cmocka_unit_test(redis_sentinel_url_forms),
		cmocka_unit_test(redis_url_rejected),
		cmocka_unit_test(redis_url_long_host_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
