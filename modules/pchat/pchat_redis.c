/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pchat_alloc.h"
#include "pchat_log.h"
#include "pchat_redis.h"

#define REDIS_PORT 6379
#define WHY_MAX 320
#define WHERE_MAX (PCHAT_REDIS_HOST_MAX + PCHAT_MASTER_NAME_MAX + 32) /* where() */

struct pchat_redis {
	pchat_redis_conf_t conf; /* with sentinels: their order is this process's (pchat_sentinel_find) */
	redisContext *ctx;
	pchat_redis_shared_t own_shared;
	pchat_redis_shared_t *shared;
	pchat_redis_addr_t server; /* the configured server, or the master the sentinels named last */
	char version[32];
};

/* ------------------------------------------------------------------ the URL */

static const char plain_scheme[] = "redis://";
static const char sentinel_scheme[] = "redis-sentinel://";

void pchat_redis_conf_clear(pchat_redis_conf_t *conf)
{
	pchat_free(conf->host);
	pchat_free(conf->password);
	pchat_free(conf->master_name);
	conf->host = conf->password = conf->master_name = NULL;
	conf->nsentinels = 0;
}

/* The decimal number between s and end (digits only); -1 when it is none or above max. */
static long number(const char *s, const char *end, long max)
{
	long n = 0;

	if (s == end)
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || (n = n * 10 + (*s - '0')) > max)
			return -1;
	}
	return n;
}

/* host[:port] between s and end into *a. */
static int parse_host_port(const char *s, const char *end, unsigned int default_port,
		pchat_redis_addr_t *a, char *err, size_t errlen)
{
	const char *colon = memchr(s, ':', (size_t)(end - s));
	const char *host_end = colon ? colon : end;
	long port = default_port;

	if (host_end == s) {
		snprintf(err, errlen, "Redis URL has no host");
		return -1;
	}
	if (!pchat_redis_valid_host(s, (size_t)(host_end - s))) {
		snprintf(err, errlen, "Redis URL has an invalid host");
		return -1;
	}
	if (colon && (port = number(colon + 1, end, 65535)) <= 0) {
		snprintf(err, errlen, "Redis URL has an invalid port");
		return -1;
	}
	memcpy(a->host, s, (size_t)(host_end - s));
	a->host[host_end - s] = '\0';
	a->port = (unsigned int)port;
	return 0;
}

/* The optional /db at s (nothing, or "/" alone, is database 0). */
static int parse_db(const char *s, int *db, char *err, size_t errlen)
{
	long n = 0;

	if (*s == '/' && s[1] && (n = number(s + 1, s + strlen(s), 1000)) < 0) {
		snprintf(err, errlen, "Redis URL has an invalid database number");
		return -1;
	}
	*db = (int)n;
	return 0;
}

/* host[:port][/db] */
static int parse_plain(const char *p, pchat_redis_conf_t *conf, char *err, size_t errlen)
{
	const char *end = p + strcspn(p, "/");
	pchat_redis_addr_t a;

	if (parse_host_port(p, end, REDIS_PORT, &a, err, errlen) < 0
			|| parse_db(end, &conf->db, err, errlen) < 0)
		return -1;
	conf->port = a.port;
	if (!(conf->host = pchat_strdup(a.host))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* host[:port][,host[:port]...]/name[/db] */
static int parse_sentinel(const char *p, pchat_redis_conf_t *conf, char *err, size_t errlen)
{
	const char *end = p + strcspn(p, "/"), *s, *comma, *name = end + 1, *name_end;

	if (*end != '/' || (name_end = name + strcspn(name, "/")) == name) {
		snprintf(err, errlen, "Redis Sentinel URL has no master name "
				"(redis-sentinel://host:port,host:port/NAME)");
		return -1;
	}
	for (s = p;; s = comma + 1) {
		comma = memchr(s, ',', (size_t)(end - s));
		if (conf->nsentinels == PCHAT_SENTINELS_MAX) {
			snprintf(err, errlen, "Redis Sentinel URL names more than %d sentinels",
					PCHAT_SENTINELS_MAX);
			return -1;
		}
		if (parse_host_port(s, comma ? comma : end, PCHAT_SENTINEL_PORT,
					&conf->sentinels[conf->nsentinels++], err, errlen) < 0)
			return -1;
		if (!comma)
			break;
	}
	if (!(conf->master_name = pchat_strndup(name, (size_t)(name_end - name)))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!pchat_sentinel_valid_name(conf->master_name)) {
		snprintf(err, errlen, "Redis Sentinel URL has an invalid master name (1 to %d letters, "
				"digits, '.', '-' or '_')", PCHAT_MASTER_NAME_MAX - 1);
		return -1;
	}
	return parse_db(name_end, &conf->db, err, errlen);
}

int pchat_redis_parse_url(const char *url, pchat_redis_conf_t *conf, char *err, size_t errlen)
{
	int sentinel = url && strncmp(url, sentinel_scheme, sizeof(sentinel_scheme) - 1) == 0;
	const char *p, *at;
	int rc;

	if (!sentinel && (!url || strncmp(url, plain_scheme, sizeof(plain_scheme) - 1) != 0)) {
		snprintf(err, errlen, "Redis URL must start with %s or %s", plain_scheme,
				sentinel_scheme);
		return -1;
	}
	conf->host = conf->password = conf->master_name = NULL;
	conf->port = 0;
	conf->db = 0;
	conf->nsentinels = 0;
	p = url + (sentinel ? sizeof(sentinel_scheme) : sizeof(plain_scheme)) - 1;
	at = strrchr(p, '@');
	if (at) {
		const char *pw = (*p == ':') ? p + 1 : p; /* user names are not used by Redis 6 AUTH here */

		if (!(conf->password = pchat_strndup(pw, (size_t)(at - pw)))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		p = at + 1;
	}
	rc = sentinel ? parse_sentinel(p, conf, err, errlen) : parse_plain(p, conf, err, errlen);
	if (rc < 0)
		pchat_redis_conf_clear(conf);
	return rc;
}

void pchat_redis_conf_describe(const pchat_redis_conf_t *conf, char *out, size_t len)
{
	size_t n;
	int i;

	if (!conf->master_name) {
		snprintf(out, len, "%s:%u", conf->host ? conf->host : "", conf->port);
		return;
	}
	n = (size_t)snprintf(out, len, "master '%s' through sentinels", conf->master_name);
	for (i = 0; i < conf->nsentinels && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%c%s:%u", i ? ',' : ' ',
				conf->sentinels[i].host, conf->sentinels[i].port);
}

uint64_t pchat_redis_master_changes(const pchat_redis_shared_t *shared)
{
	return __atomic_load_n(&shared->master_changes, __ATOMIC_ACQUIRE);
}

/* ------------------------------------------------------------------ the connection */

static int copy_string(char **to, const char *from)
{
	*to = from ? pchat_strdup(from) : NULL;
	return from && !*to ? -1 : 0;
}

pchat_redis_t *pchat_redis_new(const pchat_redis_conf_t *conf, pchat_redis_shared_t *shared)
{
	pchat_redis_t *r;

	if (conf->master_name ? conf->nsentinels < 1 || conf->nsentinels > PCHAT_SENTINELS_MAX
						  : !conf->host || strlen(conf->host) >= PCHAT_REDIS_HOST_MAX)
		return NULL;
	if (!(r = pchat_calloc(1, sizeof(*r))))
		return NULL;
	r->conf = *conf;
	r->shared = shared ? shared : &r->own_shared;
	if (copy_string(&r->conf.host, conf->host) < 0
			|| copy_string(&r->conf.password, conf->password) < 0
			|| copy_string(&r->conf.master_name, conf->master_name) < 0) {
		pchat_redis_free(r);
		return NULL;
	}
	if (conf->host) {
		snprintf(r->server.host, sizeof(r->server.host), "%s", conf->host);
		r->server.port = conf->port;
	}
	return r;
}

static void disconnect(pchat_redis_t *r)
{
	if (r->ctx) {
		redisFree(r->ctx);
		r->ctx = NULL;
	}
}

void pchat_redis_free(pchat_redis_t *r)
{
	if (!r)
		return;
	disconnect(r);
	pchat_redis_conf_clear(&r->conf);
	pchat_free(r);
}

/* The server for logs: "host:port", or "master 'name' at host:port". */
static const char *where(const pchat_redis_t *r, char *out, size_t len)
{
	if (!r->conf.master_name)
		snprintf(out, len, "%s:%u", r->server.host, r->server.port);
	else if (r->server.port)
		snprintf(out, len, "master '%s' at %s:%u", r->conf.master_name, r->server.host,
				r->server.port);
	else
		snprintf(out, len, "master '%s'", r->conf.master_name);
	return out;
}

static int connect_failed(pchat_redis_t *r, const char *why)
{
	char at[WHERE_MAX];

	if (pchat_health_failed(&r->shared->health, r->conf.retry_ms))
		PLOG_ERR("Redis %s is unreachable: %s; the pool's presence and the relays to other "
				 "nodes pause until it answers again (chat on this node goes on; next attempt "
				 "in %d ms)\n",
				where(r, at, sizeof(at)), why, r->conf.retry_ms);
	disconnect(r);
	return -1;
}

/* Runs a command of a fresh connection's set-up (AUTH, SELECT): 0, or -1 with why set and the
 * connection closed. */
static int handshake(pchat_redis_t *r, char *why, size_t len, const char *fmt, ...)
		__attribute__((format(printf, 4, 5)));

static int handshake(pchat_redis_t *r, char *why, size_t len, const char *fmt, ...)
{
	redisReply *rep;
	va_list ap;

	va_start(ap, fmt);
	rep = redisvCommand(r->ctx, fmt, ap);
	va_end(ap);
	if (rep && rep->type != REDIS_REPLY_ERROR) {
		freeReplyObject(rep);
		return 0;
	}
	snprintf(why, len, "%s", rep ? rep->str : r->ctx->errstr);
	if (rep)
		freeReplyObject(rep);
	disconnect(r);
	return -1;
}

static struct timeval timeout_of(const pchat_redis_t *r)
{
	struct timeval tv;

	tv.tv_sec = r->conf.timeout_ms / 1000;
	tv.tv_usec = (r->conf.timeout_ms % 1000) * 1000;
	return tv;
}

/* Opens this process's connection to a, with the timeouts, and authenticates it: 0, or -1 with
 * why set and no connection. */
static int open_server(pchat_redis_t *r, const pchat_redis_addr_t *a, char *why, size_t len)
{
	struct timeval tv = timeout_of(r);

	disconnect(r);
	r->version[0] = '\0';
	r->ctx = redisConnectWithTimeout(a->host, (int)a->port, tv);
	if (!r->ctx || r->ctx->err || redisSetTimeout(r->ctx, tv) != REDIS_OK) {
		snprintf(why, len, "%s", !r->ctx ? "out of memory" : r->ctx->err ? r->ctx->errstr
														: "cannot set the command timeout");
		disconnect(r);
		return -1;
	}
	return r->conf.password ? handshake(r, why, len, "AUTH %s", r->conf.password) : 0;
}

/* ------------------------------------------------------------------ Sentinel */

/* A short connection to a sentinel for one question (the timeouts of the data connection). */
static redisReply *ask_sentinel(void *ctx, const pchat_redis_addr_t *sentinel, const char *name,
		char *why, size_t len)
{
	pchat_redis_t *r = ctx;
	struct timeval tv = timeout_of(r);
	redisContext *c = redisConnectWithTimeout(sentinel->host, (int)sentinel->port, tv);
	redisReply *rep = NULL;

	if (c && !c->err && redisSetTimeout(c, tv) == REDIS_OK)
		rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s", name);
	if (!rep)
		snprintf(why, len, "%s", !c ? "out of memory" : c->errstr[0] ? c->errstr : "no reply");
	if (c)
		redisFree(c);
	return rep;
}

/* Opens the data connection to a server a sentinel named and asks its role. */
static redisReply *ask_role(void *ctx, const pchat_redis_addr_t *server, char *why, size_t len)
{
	pchat_redis_t *r = ctx;
	redisReply *rep;

	if (open_server(r, server, why, len) < 0)
		return NULL;
	if (!(rep = redisCommand(r->ctx, "ROLE")))
		snprintf(why, len, "%s", r->ctx->errstr);
	return rep;
}

static const pchat_sentinel_ops_t sentinel_ops = {ask_sentinel, ask_role};

/* FNV-1a over the host and the port: the master's identity in the node's shared state (never
 * 0, which means none). */
static uint64_t addr_key(const pchat_redis_addr_t *a)
{
	const uint64_t prime = 1099511628211ULL;
	uint64_t h = 14695981039346656037ULL;
	const unsigned char *s;

	for (s = (const unsigned char *)a->host; *s; s++)
		h = (h ^ *s) * prime;
	h = (h ^ (a->port & 0xff)) * prime;
	h = (h ^ (a->port >> 8)) * prime;
	return h ? h : 1;
}

/* Records the master this process connected to. The first process of the node that finds another
 * master than the node's last one counts the change and logs it: the old master may have lost its
 * last writes (asynchronous replication), so the pool treats the change as an outage
 * (pchat_pool.c publishes the node's presence again and catches its rooms up from the store). */
static void note_master(pchat_redis_t *r, const pchat_redis_addr_t *master)
{
	uint64_t key = addr_key(master);
	uint64_t was = __atomic_exchange_n(&r->shared->master, key, __ATOMIC_ACQ_REL);
	const pchat_redis_addr_t *via = &r->conf.sentinels[0]; /* the one that named it */
	char from[PCHAT_REDIS_HOST_MAX + 24] = "";

	if (r->server.port && addr_key(&r->server) != key)
		snprintf(from, sizeof(from), " from %s:%u", r->server.host, r->server.port);
	r->server = *master;
	if (was == key)
		return;
	if (was == 0) {
		PLOG_INFO("Redis master '%s' is %s:%u (named by sentinel %s:%u)\n", r->conf.master_name,
				master->host, master->port, via->host, via->port);
		return;
	}
	__atomic_add_fetch(&r->shared->master_changes, 1, __ATOMIC_ACQ_REL);
	PLOG_WARN("Redis master '%s' changed%s to %s:%u (named by sentinel %s:%u): the old master "
			  "may not have passed on its last writes, so this node publishes its presence again "
			  "and catches its rooms up from the store\n",
			r->conf.master_name, from, master->host, master->port, via->host, via->port);
}

/* Connects to the master the sentinels name now: 0, or -1 with why set and no connection. */
static int connect_master(pchat_redis_t *r, char *why, size_t len)
{
	pchat_redis_addr_t master;

	if (pchat_sentinel_find(r->conf.sentinels, r->conf.nsentinels, r->conf.master_name,
				&sentinel_ops, r, &master, why, len) < 0) {
		disconnect(r);
		return -1;
	}
	note_master(r, &master);
	return 0;
}

/* ------------------------------------------------------------------ commands */

int pchat_redis_connect(pchat_redis_t *r)
{
	char why[WHY_MAX], at[WHERE_MAX];
	int rc;

	if (r->ctx)
		return 0;
	if (!pchat_health_may_try(&r->shared->health))
		return -1;
	rc = r->conf.master_name ? connect_master(r, why, sizeof(why))
							 : open_server(r, &r->server, why, sizeof(why));
	if (rc == 0 && r->conf.db)
		rc = handshake(r, why, sizeof(why), "SELECT %d", r->conf.db);
	if (rc < 0)
		return connect_failed(r, why);
	if (pchat_health_ok(&r->shared->health))
		PLOG_INFO("Redis %s answers again\n", where(r, at, sizeof(at)));
	return 0;
}

int pchat_redis_connected(const pchat_redis_t *r)
{
	return r->ctx != NULL;
}

const pchat_redis_addr_t *pchat_redis_server(const pchat_redis_t *r)
{
	return &r->server;
}

/* Error replies that mean the server cannot serve now - out of memory, loading its data, a
 * read-only replica, a busy script - rather than a mistake in the command. */
static int is_outage(const redisReply *rep)
{
	static const char *const outages[] = {"OOM", "LOADING", "READONLY", "MASTERDOWN", "BUSY",
		"MISCONF", "NOREPLICAS", "TRYAGAIN", "CLUSTERDOWN", NULL};
	int i;

	for (i = 0; outages[i]; i++)
		if (rep->str && strncmp(rep->str, outages[i], strlen(outages[i])) == 0)
			return 1;
	return 0;
}

/* A read-only answer through Sentinel: the server was a master when this connection checked its
 * role, and a failover has demoted it since, so the sentinels name another one now. */
static int master_moved(const pchat_redis_t *r, const redisReply *rep)
{
	return r->conf.master_name && rep->str && strncmp(rep->str, "READONLY", 8) == 0;
}

/* An error reply: an outage (is_outage) marks Redis down; a mistake in the command is logged. */
static redisReply *refused(pchat_redis_t *r, redisReply *rep)
{
	char why[WHY_MAX];

	snprintf(why, sizeof(why), "it cannot serve (%s)", rep->str ? rep->str : "error");
	if (is_outage(rep))
		connect_failed(r, why);
	else
		PLOG_ERR("Redis command failed: %s\n", rep->str);
	freeReplyObject(rep);
	return NULL;
}

/* Sends one formatted command and reads its reply. A connection the server closed (restart, idle
 * timeout, a sentinel reconfiguring the server), or a master demoted under it (READONLY through
 * Sentinel), is reopened once at once - towards the master the sentinels name now. A timeout, a
 * failed connect or an error reply that says the server cannot serve (is_outage) marks Redis down
 * for every process until the retry time, so a hung Redis costs one timeout per interval, and the
 * pool heals as after any outage when it answers again (presence published again, rooms caught
 * up). */
static redisReply *run(pchat_redis_t *r, const char *cmd, size_t len)
{
	redisReply *rep;
	int attempt, had_conn, closed;
	char why[WHY_MAX] = "no reply", at[WHERE_MAX];

	for (attempt = 0; attempt < 2; attempt++) {
		had_conn = r->ctx != NULL;
		if (pchat_redis_connect(r) != 0)
			return NULL;
		rep = NULL;
		if (redisAppendFormattedCommand(r->ctx, cmd, len) == REDIS_OK
				&& redisGetReply(r->ctx, (void **)&rep) == REDIS_OK && rep) {
			if (rep->type != REDIS_REPLY_ERROR)
				return rep;
			if (!had_conn || attempt > 0 || !master_moved(r, rep))
				return refused(r, rep);
			PLOG_INFO("Redis %s was demoted (%s); asking the sentinels for the master again\n",
					where(r, at, sizeof(at)), rep->str);
			freeReplyObject(rep);
		} else {
			closed = r->ctx->err == REDIS_ERR_EOF
					 || (r->ctx->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE));
			snprintf(why, sizeof(why), "%s", r->ctx->errstr[0] ? r->ctx->errstr : "no reply");
			if (!had_conn || !closed)
				break;
			PLOG_INFO("connection to Redis closed by the server (%s), reconnecting\n", why);
		}
		disconnect(r);
	}
	connect_failed(r, why);
	return NULL;
}

redisReply *pchat_redis_command(pchat_redis_t *r, const char *fmt, ...)
{
	redisReply *rep;
	char *cmd = NULL;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	if (len < 0)
		return NULL;
	rep = run(r, cmd, (size_t)len);
	redisFreeCommand(cmd);
	return rep;
}

redisReply *pchat_redis_command_argv(pchat_redis_t *r, int argc, const char **argv,
		const size_t *argvlen)
{
	redisReply *rep;
	char *cmd = NULL;
	int len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);

	if (len < 0)
		return NULL;
	rep = run(r, cmd, (size_t)len);
	redisFreeCommand(cmd);
	return rep;
}

const char *pchat_redis_server_version(pchat_redis_t *r)
{
	redisReply *rep;
	const char *v;

	if (r->version[0])
		return r->version;
	rep = pchat_redis_command(r, "INFO server");
	if (!rep)
		return "";
	if (rep->type == REDIS_REPLY_STRING && (v = strstr(rep->str, "redis_version:")) != NULL)
		sscanf(v + 14, "%31[^\r\n]", r->version);
	freeReplyObject(rep);
	return r->version;
}
