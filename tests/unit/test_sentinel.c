/* Redis Sentinel without a server: the sentinels' and servers' replies (built by hiredis's own
 * reader from RESP text, as they come off the wire), and the walk over the sentinels that finds
 * the master, with scripted sentinels and servers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pchat_sentinel.h"

/* A reply as hiredis reads it from the wire. */
static redisReply *resp(const char *text, size_t len)
{
	redisReader *reader = redisReaderCreate();
	void *reply = NULL;

	assert_non_null(reader);
	assert_int_equal(redisReaderFeed(reader, text, len), REDIS_OK);
	assert_int_equal(redisReaderGetReply(reader, &reply), REDIS_OK);
	assert_non_null(reply);
	redisReaderFree(reader);
	return reply;
}

#define RESP(literal) resp(literal, sizeof(literal) - 1)

static void master_addr_read(void **state)
{
	pchat_redis_addr_t a;
	char why[128];
	redisReply *rep;

	(void)state;
	rep = RESP("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n");
	assert_int_equal(pchat_sentinel_master_addr(rep, &a, why, sizeof(why)), 0);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 6380);
	freeReplyObject(rep);
	rep = RESP("*2\r\n$19\r\nredis-b.example.com\r\n$5\r\n65535\r\n");
	assert_int_equal(pchat_sentinel_master_addr(rep, &a, why, sizeof(why)), 0);
	assert_string_equal(a.host, "redis-b.example.com");
	assert_int_equal(a.port, 65535);
	freeReplyObject(rep);
	rep = RESP("*2\r\n$12\r\nfe80::1%eth0\r\n$1\r\n1\r\n");
	assert_int_equal(pchat_sentinel_master_addr(rep, &a, why, sizeof(why)), 0);
	assert_string_equal(a.host, "fe80::1%eth0");
	assert_int_equal(a.port, 1);
	freeReplyObject(rep);
}

/* Every way a sentinel's answer can be unusable: refused, with a reason, and the address the
 * caller holds is left alone. */
static void master_addr_refused(void **state)
{
	static const struct {
		const char *resp;
		size_t len;
		const char *why;
	} bad[] = {
#define BAD(text, why) {text, sizeof(text) - 1, why}
		BAD("*-1\r\n", "knows no master"), BAD("$-1\r\n", "knows no master"),
		BAD("-ERR No such master\r\n", "answered an error (ERR No such master)"),
		BAD("+OK\r\n", "no host and port"), BAD(":6379\r\n", "no host and port"),
		BAD("*1\r\n$9\r\n127.0.0.1\r\n", "no host and port"),
		BAD("*3\r\n$1\r\na\r\n$4\r\n6379\r\n$1\r\nx\r\n", "no host and port"),
		BAD("*2\r\n$0\r\n\r\n$4\r\n6379\r\n", "invalid host"),
		BAD("*2\r\n$5\r\na b c\r\n$4\r\n6379\r\n", "invalid host"),
		BAD("*2\r\n$5\r\na/b;c\r\n$4\r\n6379\r\n", "invalid host"),
		BAD("*2\r\n$3\r\na\0b\r\n$4\r\n6379\r\n", "invalid host"),
		BAD("*2\r\n:1\r\n$4\r\n6379\r\n", "invalid host"),
		BAD("*2\r\n$9\r\n127.0.0.1\r\n$1\r\n0\r\n", "invalid port"),
		BAD("*2\r\n$9\r\n127.0.0.1\r\n$5\r\n65536\r\n", "invalid port"),
		BAD("*2\r\n$9\r\n127.0.0.1\r\n$6\r\n006379\r\n", "invalid port"),
		BAD("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n63a9\r\n", "invalid port"),
		BAD("*2\r\n$9\r\n127.0.0.1\r\n$5\r\n+6379\r\n", "invalid port"),
		BAD("*2\r\n$9\r\n127.0.0.1\r\n$0\r\n\r\n", "invalid port"),
		BAD("*2\r\n$9\r\n127.0.0.1\r\n:6379\r\n", "invalid port"),
		BAD("*2\r\n$9\r\n127.0.0.1\r\n*0\r\n", "invalid port"),
#undef BAD
	};
	pchat_redis_addr_t a = {"kept", 1234};
	char why[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		redisReply *rep = resp(bad[i].resp, bad[i].len);

		why[0] = '\0';
		assert_int_equal(pchat_sentinel_master_addr(rep, &a, why, sizeof(why)), -1);
		if (!strstr(why, bad[i].why))
			fail_msg("reply %zu: '%s' does not say '%s'", i, why, bad[i].why);
		freeReplyObject(rep);
	}
	assert_int_equal(pchat_sentinel_master_addr(NULL, &a, why, sizeof(why)), -1);
	assert_string_equal(a.host, "kept");
	assert_int_equal(a.port, 1234);
}

static void long_hosts_are_refused(void **state)
{
	char host[PCHAT_REDIS_HOST_MAX + 1], text[PCHAT_REDIS_HOST_MAX + 64];
	pchat_redis_addr_t a;
	redisReply *rep;
	char why[128];
	int n;

	(void)state;
	memset(host, 'h', sizeof(host));
	assert_true(pchat_redis_valid_host(host, PCHAT_REDIS_HOST_MAX - 1));
	assert_false(pchat_redis_valid_host(host, PCHAT_REDIS_HOST_MAX));
	host[PCHAT_REDIS_HOST_MAX] = '\0';
	n = snprintf(text, sizeof(text), "*2\r\n$%d\r\n%s\r\n$4\r\n6379\r\n", PCHAT_REDIS_HOST_MAX,
			host);
	rep = resp(text, (size_t)n);
	assert_int_equal(pchat_sentinel_master_addr(rep, &a, why, sizeof(why)), -1);
	freeReplyObject(rep);
}

static void roles_read(void **state)
{
	static const struct {
		const char *resp;
		size_t len;
		pchat_redis_role_t role;
	} cases[] = {
#define ROLE(text, role) {text, sizeof(text) - 1, role}
		ROLE("*3\r\n$6\r\nmaster\r\n:3129659\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n9001\r\n"
			 "$7\r\n3129242\r\n", PCHAT_ROLE_MASTER),
		ROLE("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:9000\r\n$9\r\nconnected\r\n:3167038\r\n",
				PCHAT_ROLE_REPLICA),
		ROLE("*2\r\n$8\r\nsentinel\r\n*1\r\n$5\r\npchat\r\n", PCHAT_ROLE_SENTINEL),
		ROLE("-NOAUTH Authentication required.\r\n", PCHAT_ROLE_UNKNOWN),
		ROLE("*0\r\n", PCHAT_ROLE_UNKNOWN),
		ROLE("$6\r\nmaster\r\n", PCHAT_ROLE_UNKNOWN),
		ROLE("+master\r\n", PCHAT_ROLE_UNKNOWN),
		ROLE("*1\r\n$7\r\nmasters\r\n", PCHAT_ROLE_UNKNOWN),
		ROLE("*1\r\n$5\r\nmaste\r\n", PCHAT_ROLE_UNKNOWN),
		ROLE("*1\r\n+master\r\n", PCHAT_ROLE_UNKNOWN),
		ROLE("*1\r\n:1\r\n", PCHAT_ROLE_UNKNOWN),
#undef ROLE
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		redisReply *rep = resp(cases[i].resp, cases[i].len);

		if (pchat_redis_role(rep) != cases[i].role)
			fail_msg("reply %zu: role %s, not %s", i, pchat_redis_role_name(pchat_redis_role(rep)),
					pchat_redis_role_name(cases[i].role));
		freeReplyObject(rep);
	}
	assert_int_equal(pchat_redis_role(NULL), PCHAT_ROLE_UNKNOWN);
	assert_string_equal(pchat_redis_role_name(PCHAT_ROLE_REPLICA), "replica");
}

static void names_checked(void **state)
{
	char long_name[PCHAT_MASTER_NAME_MAX + 1];

	(void)state;
	assert_true(pchat_sentinel_valid_name("pchat"));
	assert_true(pchat_sentinel_valid_name("chat-pool_2.eu"));
	assert_false(pchat_sentinel_valid_name(""));
	assert_false(pchat_sentinel_valid_name("a b"));
	assert_false(pchat_sentinel_valid_name("a:1"));
	assert_false(pchat_sentinel_valid_name("a\r\nPING"));
	memset(long_name, 'm', sizeof(long_name));
	long_name[PCHAT_MASTER_NAME_MAX - 1] = '\0';
	assert_true(pchat_sentinel_valid_name(long_name));
	long_name[PCHAT_MASTER_NAME_MAX - 1] = 'm';
	long_name[PCHAT_MASTER_NAME_MAX] = '\0';
	assert_false(pchat_sentinel_valid_name(long_name));
}

/* ------------------------------------------------------------------ the walk */

static void set_list(pchat_redis_addr_t *list, const unsigned int *ports, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		snprintf(list[i].host, sizeof(list[i].host), "127.0.0.1");
		list[i].port = ports[i];
	}
}

static void assert_order(const pchat_redis_addr_t *list, const unsigned int *ports, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (list[i].port != ports[i])
			fail_msg("place %d holds sentinel %u, not %u", i, list[i].port, ports[i]);
}

static void promote_keeps_the_others_in_order(void **state)
{
	static const unsigned int start[] = {1, 2, 3, 4};
	pchat_redis_addr_t list[4];

	(void)state;
	set_list(list, start, 4);
	pchat_sentinel_promote(list, 4, 2);
	assert_order(list, (const unsigned int[]){3, 1, 2, 4}, 4);
	pchat_sentinel_promote(list, 4, 3);
	assert_order(list, (const unsigned int[]){4, 3, 1, 2}, 4);
	pchat_sentinel_promote(list, 4, 0);
	pchat_sentinel_promote(list, 4, 4); /* out of range: nothing moves */
	pchat_sentinel_promote(list, 4, -1);
	assert_order(list, (const unsigned int[]){4, 3, 1, 2}, 4);
}

/* A scripted network: what each sentinel (by port) answers to get-master-addr-by-name and what
 * each server answers to ROLE; NULL: no answer. Every call is recorded. */
typedef struct answer {
	unsigned int port;
	const char *resp; /* NUL-terminated RESP text */
} answer_t;

typedef struct network {
	const answer_t *sentinels;
	const answer_t *servers;
	char calls[512];
	int open_servers; /* connections ops.role opened and not yet replaced */
} network_t;

static const char *answer_of(const answer_t *list, unsigned int port)
{
	for (; list->port; list++)
		if (list->port == port)
			return list->resp;
	return NULL;
}

static void record(network_t *net, const char *what, unsigned int port)
{
	size_t n = strlen(net->calls);

	snprintf(net->calls + n, sizeof(net->calls) - n, "%s%s %u", n ? ", " : "", what, port);
}

static redisReply *fake_ask(void *ctx, const pchat_redis_addr_t *sentinel, const char *name,
		char *why, size_t len)
{
	network_t *net = ctx;
	const char *text = answer_of(net->sentinels, sentinel->port);

	assert_string_equal(name, "pchat");
	record(net, "ask", sentinel->port);
	if (!text) {
		snprintf(why, len, "Connection refused");
		return NULL;
	}
	return resp(text, strlen(text));
}

static redisReply *fake_role(void *ctx, const pchat_redis_addr_t *server, char *why, size_t len)
{
	network_t *net = ctx;
	const char *text = answer_of(net->servers, server->port);

	record(net, "role", server->port);
	net->open_servers = 1; /* the previous one is closed, this one opened */
	if (!text) {
		snprintf(why, len, "Connection timed out");
		net->open_servers = 0;
		return NULL;
	}
	return resp(text, strlen(text));
}

static const pchat_sentinel_ops_t fake_ops = {fake_ask, fake_role};

#define NAMES(port) "*2\r\n$9\r\n127.0.0.1\r\n$4\r\n" #port "\r\n"
#define AS_MASTER "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"
#define AS_REPLICA "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6381\r\n$9\r\nconnected\r\n:1\r\n"

/* The first sentinel is dead, the second still names the demoted master (a replica now), the
 * third names the new master: found through the third, which is asked first from then on. */
static void walk_skips_dead_and_stale_sentinels(void **state)
{
	static const answer_t sentinels[] = {{2602, NAMES(6381)}, {2603, NAMES(6380)}, {0, NULL}};
	static const answer_t servers[] = {{6380, AS_MASTER}, {6381, AS_REPLICA}, {0, NULL}};
	network_t net = {sentinels, servers, "", 0};
	pchat_redis_addr_t list[3], master = {"", 0};
	char why[320] = "";

	(void)state;
	set_list(list, (const unsigned int[]){2601, 2602, 2603}, 3);
	assert_int_equal(pchat_sentinel_find(list, 3, "pchat", &fake_ops, &net, &master, why,
			sizeof(why)), 0);
	assert_string_equal(net.calls, "ask 2601, ask 2602, role 6381, ask 2603, role 6380");
	assert_string_equal(master.host, "127.0.0.1");
	assert_int_equal(master.port, 6380);
	assert_int_equal(net.open_servers, 1); /* the master's connection is left to the caller */
	assert_order(list, (const unsigned int[]){2603, 2601, 2602}, 3);
	/* the next discovery asks the sentinel that answered first */
	net.calls[0] = '\0';
	assert_int_equal(pchat_sentinel_find(list, 3, "pchat", &fake_ops, &net, &master, why,
			sizeof(why)), 0);
	assert_string_equal(net.calls, "ask 2603, role 6380");
	assert_order(list, (const unsigned int[]){2603, 2601, 2602}, 3);
}

/* No sentinel names a usable master: -1, the reason is the last sentinel's, the order stays. */
static void walk_fails_when_no_sentinel_names_a_master(void **state)
{
	static const answer_t sentinels[] = {{2601, "*-1\r\n"}, {2602, NAMES(6390)},
		{2603, "*2\r\n$9\r\n127.0.0.1\r\n$5\r\n99999\r\n"}, {2604, NAMES(6381)}, {0, NULL}};
	static const answer_t servers[] = {{6381, AS_REPLICA}, {0, NULL}};
	network_t net = {sentinels, servers, "", 0};
	pchat_redis_addr_t list[4], master = {"untouched", 7};
	char why[320] = "";

	(void)state;
	set_list(list, (const unsigned int[]){2601, 2602, 2603, 2604}, 4);
	assert_int_equal(pchat_sentinel_find(list, 4, "pchat", &fake_ops, &net, &master, why,
			sizeof(why)), -1);
	assert_string_equal(net.calls, "ask 2601, ask 2602, role 6390, ask 2603, ask 2604, role 6381");
	assert_non_null(strstr(why, "no sentinel named a master 'pchat'"));
	assert_non_null(strstr(why, "named 127.0.0.1:6381, which answers ROLE as a replica"));
	assert_string_equal(master.host, "untouched");
	assert_order(list, (const unsigned int[]){2601, 2602, 2603, 2604}, 4);
	/* every sentinel dead */
	net.sentinels = (const answer_t[]){{0, NULL}};
	net.calls[0] = '\0';
	assert_int_equal(pchat_sentinel_find(list, 2, "pchat", &fake_ops, &net, &master, why,
			sizeof(why)), -1);
	assert_string_equal(net.calls, "ask 2601, ask 2602");
	assert_non_null(strstr(why, "did not answer (Connection refused)"));
}

/* A server that answers ROLE with an error (no password given, or ROLE not allowed) is no master
 * either: the error is the reason. */
static void walk_reports_role_errors(void **state)
{
	static const answer_t sentinels[] = {{2601, NAMES(6380)}, {0, NULL}};
	static const answer_t servers[] = {{6380, "-NOAUTH Authentication required.\r\n"}, {0, NULL}};
	network_t net = {sentinels, servers, "", 0};
	pchat_redis_addr_t list[1], master;
	char why[320] = "";

	(void)state;
	set_list(list, (const unsigned int[]){2601}, 1);
	assert_int_equal(pchat_sentinel_find(list, 1, "pchat", &fake_ops, &net, &master, why,
			sizeof(why)), -1);
	assert_non_null(strstr(why, "answered ROLE with an error (NOAUTH Authentication required.)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(master_addr_read),
		cmocka_unit_test(master_addr_refused),
		cmocka_unit_test(long_hosts_are_refused),
		cmocka_unit_test(roles_read),
		cmocka_unit_test(names_checked),
		cmocka_unit_test(promote_keeps_the_others_in_order),
		cmocka_unit_test(walk_skips_dead_and_stale_sentinels),
		cmocka_unit_test(walk_fails_when_no_sentinel_names_a_master),
		cmocka_unit_test(walk_reports_role_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
