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

struct pchat_redis {
	pchat_redis_conf_t conf;
	redisContext *ctx;
	pchat_health_t own_health;
	pchat_health_t *health;
	char version[32];
};

void pchat_redis_conf_clear(pchat_redis_conf_t *conf)
{
	pchat_free(conf->host);
	pchat_free(conf->password);
	conf->host = conf->password = NULL;
}

int pchat_redis_parse_url(const char *url, pchat_redis_conf_t *conf, char *err, size_t errlen)
{
	static const char scheme[] = "redis://";
	const char *p, *at, *host, *end, *colon;
	char *stop;

	if (!url || strncmp(url, scheme, sizeof(scheme) - 1) != 0) {
		snprintf(err, errlen, "Redis URL must start with %s", scheme);
		return -1;
	}
	p = url + sizeof(scheme) - 1;
	at = strrchr(p, '@');
	host = at ? at + 1 : p;
	conf->password = NULL;
	if (at) {
		const char *pw = (*p == ':') ? p + 1 : p; /* user names are not used by Redis 6 AUTH here */
		conf->password = pchat_strndup(pw, at - pw);
	}
	end = host + strcspn(host, "/");
	colon = memchr(host, ':', end - host);
	conf->host = pchat_strndup(host, (colon ? colon : end) - host);
	conf->port = 6379;
	conf->db = 0;
	if (!conf->host || conf->host[0] == '\0') {
		snprintf(err, errlen, "Redis URL has no host");
		pchat_redis_conf_clear(conf);
		return -1;
	}
	if (colon) {
		long port = strtol(colon + 1, &stop, 10);

		if (stop != end || port <= 0 || port > 65535) {
			snprintf(err, errlen, "Redis URL has an invalid port");
			pchat_redis_conf_clear(conf);
			return -1;
		}
		conf->port = (unsigned int)port;
	}
	if (*end == '/' && end[1]) {
		long db = strtol(end + 1, &stop, 10);

		if (*stop || db < 0 || db > 1000) {
			snprintf(err, errlen, "Redis URL has an invalid database number");
			pchat_redis_conf_clear(conf);
			return -1;
		}
		conf->db = (int)db;
	}
	return 0;
}

pchat_redis_t *pchat_redis_new(const pchat_redis_conf_t *conf, pchat_health_t *health)
{
	pchat_redis_t *r = pchat_calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->conf = *conf;
	r->conf.host = pchat_strdup(conf->host);
	r->conf.password = conf->password ? pchat_strdup(conf->password) : NULL;
	r->health = health ? health : &r->own_health;
	if (!r->conf.host) {
		pchat_redis_free(r);
		return NULL;
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

static int connect_failed(pchat_redis_t *r, const char *why)
{
	if (pchat_health_failed(r->health, r->conf.retry_ms))
		PLOG_ERR("Redis %s:%u is unreachable: %s; the pool's presence and the relays to other "
				 "nodes pause until it answers again (chat on this node goes on; next attempt "
				 "in %d ms)\n",
				r->conf.host, r->conf.port, why, r->conf.retry_ms);
	disconnect(r);
	return -1;
}

/* Runs a command on a fresh connection during the handshake (AUTH, SELECT). */
static int handshake(pchat_redis_t *r, const char *fmt, const char *arg, int num)
{
	redisReply *rep = arg ? redisCommand(r->ctx, fmt, arg) : redisCommand(r->ctx, fmt, num);
	int ok = rep && rep->type != REDIS_REPLY_ERROR;
	char why[160];

	if (!ok) {
		snprintf(why, sizeof(why), "%s", rep ? rep->str : r->ctx->errstr);
		if (rep)
			freeReplyObject(rep);
		return connect_failed(r, why);
	}
	freeReplyObject(rep);
	return 0;
}

int pchat_redis_connect(pchat_redis_t *r)
{
	struct timeval tv;

	if (r->ctx)
		return 0;
	if (!pchat_health_may_try(r->health))
		return -1;
	tv.tv_sec = r->conf.timeout_ms / 1000;
	tv.tv_usec = (r->conf.timeout_ms % 1000) * 1000;
	r->ctx = redisConnectWithTimeout(r->conf.host, (int)r->conf.port, tv);
	if (!r->ctx)
		return connect_failed(r, "out of memory");
	if (r->ctx->err)
		return connect_failed(r, r->ctx->errstr);
	if (redisSetTimeout(r->ctx, tv) != REDIS_OK)
		return connect_failed(r, "cannot set the command timeout");
	if (r->conf.password && handshake(r, "AUTH %s", r->conf.password, 0) != 0)
		return -1;
	if (r->conf.db && handshake(r, "SELECT %d", NULL, r->conf.db) != 0)
		return -1;
	if (pchat_health_ok(r->health))
		PLOG_INFO("Redis %s:%u answers again\n", r->conf.host, r->conf.port);
	return 0;
}

int pchat_redis_connected(const pchat_redis_t *r)
{
	return r->ctx != NULL;
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

/* Sends one formatted command and reads its reply. A connection the server closed (restart, idle
 * timeout) is reopened once at once; a timeout, a failed connect or an error reply that says
 * the server cannot serve (is_outage) marks Redis down for every process until the retry time,
 * so a hung Redis costs one timeout per interval, and the pool heals as after any outage when
 * it answers again (presence published again, rooms caught up). */
static redisReply *run(pchat_redis_t *r, const char *cmd, size_t len)
{
	redisReply *rep = NULL;
	int attempt, had_conn, closed;
	char why[160];

	for (attempt = 0; attempt < 2; attempt++) {
		had_conn = r->ctx != NULL;
		if (pchat_redis_connect(r) != 0)
			return NULL;
		if (redisAppendFormattedCommand(r->ctx, cmd, len) == REDIS_OK
				&& redisGetReply(r->ctx, (void **)&rep) == REDIS_OK && rep) {
			if (rep->type != REDIS_REPLY_ERROR)
				return rep;
			snprintf(why, sizeof(why), "it cannot serve (%s)", rep->str ? rep->str : "error");
			if (is_outage(rep)) {
				freeReplyObject(rep);
				connect_failed(r, why);
				return NULL;
			}
			PLOG_ERR("Redis command failed: %s\n", rep->str);
			freeReplyObject(rep);
			return NULL;
		}
		closed = r->ctx->err == REDIS_ERR_EOF
				 || (r->ctx->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE));
		snprintf(why, sizeof(why), "%s", r->ctx->errstr[0] ? r->ctx->errstr : "no reply");
		if (!had_conn || !closed)
			break;
		PLOG_INFO("connection to Redis closed by the server (%s), reconnecting\n", why);
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
