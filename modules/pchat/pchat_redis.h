/*
 * A Redis connection with connect and command timeouts, reconnect, and a state shared by the
 * processes of a node (hiredis 0.14 has only blocking calls: a dead Redis must cost one timeout
 * per retry interval, not one per request). The server is either named (redis://) or found
 * through Redis Sentinel (redis-sentinel://): then every connect asks the sentinels for the
 * master and checks with ROLE that it is one (pchat_sentinel.h), and a connection that the
 * server closes or that meets a read-only server is opened again towards the master the
 * sentinels name now.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_REDIS_H
#define PCHAT_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "pchat_health.h"
#include "pchat_sentinel.h"

typedef struct pchat_redis_conf {
	char *host;         /* redis://: the server; NULL with sentinels */
	unsigned int port;
	char *password;     /* the data servers' (the sentinels are asked without one) */
	int db;
	int timeout_ms;     /* connect and command timeout, towards sentinels too */
	int retry_ms;       /* how long an outage pauses new connection attempts */
	char *master_name;  /* redis-sentinel://: the master's name at the sentinels; NULL otherwise */
	int nsentinels;     /* 1 to PCHAT_SENTINELS_MAX with master_name, 0 otherwise */
	pchat_redis_addr_t sentinels[PCHAT_SENTINELS_MAX]; /* in the URL's order */
} pchat_redis_conf_t;

/* Parses redis://[:password@]host[:port][/db] or
 * redis-sentinel://[:password@]host[:port][,host[:port]...]/master[/db] (sentinel ports default
 * to 26379, at most PCHAT_SENTINELS_MAX of them). Fills the URL's fields of conf (strings from
 * pchat_malloc: pchat_redis_conf_clear frees them) and returns 0; -1 with err set and nothing to
 * free otherwise. */
int pchat_redis_parse_url(const char *url, pchat_redis_conf_t *conf, char *err, size_t errlen);
void pchat_redis_conf_clear(pchat_redis_conf_t *conf);

/* Where conf points, for logs: "host:port", or "master 'name' through sentinels h:p,h:p". */
void pchat_redis_conf_describe(const pchat_redis_conf_t *conf, char *out, size_t len);

/* What the processes of a node share about Redis (it lives in shm, zeroed at start). */
typedef struct pchat_redis_shared {
	pchat_health_t health;
	uint64_t master;         /* a hash of the master's address connected to last; 0: none yet */
	uint64_t master_changes; /* connections that found another master than the one before */
} pchat_redis_shared_t;

/* Master changes the node has seen: each one means that the last writes of the old master may
 * be lost (asynchronous replication), as after an outage. */
uint64_t pchat_redis_master_changes(const pchat_redis_shared_t *shared);

typedef struct pchat_redis pchat_redis_t;

/* A connection (not opened yet) for conf, which is copied; shared may be NULL (a state of its
 * own). NULL when out of memory or conf names no server. */
pchat_redis_t *pchat_redis_new(const pchat_redis_conf_t *conf, pchat_redis_shared_t *shared);
void pchat_redis_free(pchat_redis_t *r);

/* 0 when connected (connecting if needed), -1 when Redis is unavailable. */
int pchat_redis_connect(pchat_redis_t *r);
int pchat_redis_connected(const pchat_redis_t *r);

/* The server this connection uses or used last: the configured one, or the master the sentinels
 * named last (host "" and port 0 before the first). */
const pchat_redis_addr_t *pchat_redis_server(const pchat_redis_t *r);

/* Runs one command (hiredis format). Returns the reply (free with freeReplyObject), or NULL when
 * Redis is unavailable or the command failed; error replies are logged and returned as NULL. */
redisReply *pchat_redis_command(pchat_redis_t *r, const char *fmt, ...);

/* Same with an argument vector (binary safe). */
redisReply *pchat_redis_command_argv(pchat_redis_t *r, int argc, const char **argv,
		const size_t *argvlen);

/* Version of the server, e.g. "7.0.15", or "" when unknown. */
const char *pchat_redis_server_version(pchat_redis_t *r);

#endif
