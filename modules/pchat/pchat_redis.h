/*
 * A Redis connection with connect and command timeouts, reconnect, and a health state shared by
 * the processes of a node (hiredis 0.14 has only blocking calls: a dead Redis must cost one timeout
 * per retry interval, not one per request).
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_REDIS_H
#define PCHAT_REDIS_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "pchat_health.h"

typedef struct pchat_redis_conf {
	char *host;
	unsigned int port;
	char *password;
	int db;
	int timeout_ms; /* connect and command timeout */
	int retry_ms;   /* how long an outage pauses new connection attempts */
} pchat_redis_conf_t;

/* Parses redis://[:password@]host[:port][/db]. Strings come from pchat_malloc
 * (pchat_redis_conf_clear frees them). */
int pchat_redis_parse_url(const char *url, pchat_redis_conf_t *conf, char *err, size_t errlen);
void pchat_redis_conf_clear(pchat_redis_conf_t *conf);

typedef struct pchat_redis pchat_redis_t;

pchat_redis_t *pchat_redis_new(const pchat_redis_conf_t *conf, pchat_health_t *health);
void pchat_redis_free(pchat_redis_t *r);

/* 0 when connected (connecting if needed), -1 when Redis is unavailable. */
int pchat_redis_connect(pchat_redis_t *r);
int pchat_redis_connected(const pchat_redis_t *r);

/* Runs one command (hiredis format). Returns the reply (free with freeReplyObject), or NULL when
 * Redis is unavailable or the command failed; error replies are logged and returned as NULL. */
redisReply *pchat_redis_command(pchat_redis_t *r, const char *fmt, ...);

/* Same with an argument vector (binary safe). */
redisReply *pchat_redis_command_argv(pchat_redis_t *r, int argc, const char **argv,
		const size_t *argvlen);

/* Version of the server, e.g. "7.0.15", or "" when unknown. */
const char *pchat_redis_server_version(pchat_redis_t *r);

#endif
