/*
 * Redis Sentinel without a server: the sentinels' answers read and checked (SENTINEL
 * get-master-addr-by-name, ROLE) and the walk over the sentinels that finds the master. hiredis
 * 0.14 knows nothing of Sentinel, so pchat_redis.c asks with plain commands, through the two
 * callbacks of pchat_sentinel_ops_t; the unit tests hand in fakes.
 *
 * What a sentinel or a server answers is network input: hosts and ports are checked and bounded
 * before anyone connects to them.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_SENTINEL_H
#define PCHAT_SENTINEL_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#define PCHAT_SENTINELS_MAX 8      /* sentinels one redis-sentinel:// URL may name */
#define PCHAT_REDIS_HOST_MAX 256   /* a host name or address, its NUL included */
#define PCHAT_MASTER_NAME_MAX 64   /* a master's name at the sentinels, its NUL included */
#define PCHAT_SENTINEL_PORT 26379  /* a sentinel's port when the URL names none */

typedef struct pchat_redis_addr {
	char host[PCHAT_REDIS_HOST_MAX];
	unsigned int port; /* 1 to 65535; 0 while unknown */
} pchat_redis_addr_t;

/* 1 when the len bytes at host name a host the module may connect to: 1 to
 * PCHAT_REDIS_HOST_MAX - 1 letters, digits, '.', '-', '_', ':' (IPv6) or '%' (an IPv6 zone);
 * 0 otherwise. */
int pchat_redis_valid_host(const char *host, size_t len);

/* 1 when name (NUL-terminated) is a master name this module accepts: 1 to
 * PCHAT_MASTER_NAME_MAX - 1 letters, digits, '.', '-' or '_'; 0 otherwise. */
int pchat_sentinel_valid_name(const char *name);

/* Reads a sentinel's reply to SENTINEL get-master-addr-by-name: an array of two bulk strings,
 * the host and the port. 0 with *master set; -1 with why set (master untouched) when rep is
 * NULL, nil (the sentinel does not know the name), an error, or anything else than a valid host
 * and a port from 1 to 65535. */
int pchat_sentinel_master_addr(const redisReply *rep, pchat_redis_addr_t *master, char *why,
		size_t len);

typedef enum pchat_redis_role {
	PCHAT_ROLE_UNKNOWN, /* no reply, an error, or anything this module does not know */
	PCHAT_ROLE_MASTER,
	PCHAT_ROLE_REPLICA,
	PCHAT_ROLE_SENTINEL,
} pchat_redis_role_t;

/* The role a server names in its reply to ROLE (its first element); rep may be NULL. */
pchat_redis_role_t pchat_redis_role(const redisReply *rep);

/* "master", "replica", "sentinel" or "unknown". */
const char *pchat_redis_role_name(pchat_redis_role_t role);

/* Moves sentinels[i] to the front and keeps the others in their order (0 <= i < n). */
void pchat_sentinel_promote(pchat_redis_addr_t *sentinels, int n, int i);

/* How the walk reaches the network. Each callback returns a reply the walk frees with
 * freeReplyObject, or NULL with why set when none came (no connection, a timeout). */
typedef struct pchat_sentinel_ops {
	/* Asks the sentinel for the address of the master it knows by name (SENTINEL
	 * get-master-addr-by-name). */
	redisReply *(*ask)(void *ctx, const pchat_redis_addr_t *sentinel, const char *name,
			char *why, size_t len);
	/* Opens a connection to server, closing the one a previous call opened, authenticates, and
	 * returns the server's reply to ROLE. The connection stays open for the caller of the walk
	 * (who closes it when the walk fails). */
	redisReply *(*role)(void *ctx, const pchat_redis_addr_t *server, char *why, size_t len);
} pchat_sentinel_ops_t;

/* Finds the master: asks the n sentinels in their order until one names a master that answers
 * ROLE as a master. That sentinel moves to the front of sentinels (pchat_sentinel_promote), so a
 * dead sentinel costs its timeout once per connection that outlives it, not at every
 * rediscovery. A sentinel that does not answer, does not know the name, names no valid address,
 * or names a server that is not a master (a demoted master answers as a replica while the
 * sentinels still agree on the new one) is logged as a warning and the next one is asked.
 * Returns 0 with *master set and the connection ops->role opened left open; -1 with why set
 * (the last sentinel's failure) when none of them named a master. */
int pchat_sentinel_find(pchat_redis_addr_t *sentinels, int n, const char *name,
		const pchat_sentinel_ops_t *ops, void *ctx, pchat_redis_addr_t *master, char *why,
		size_t len);

#endif
