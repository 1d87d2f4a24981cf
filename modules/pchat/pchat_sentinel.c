/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <string.h>

#include "pchat_log.h"
#include "pchat_sentinel.h"

#define REASON_MAX 200

static int host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
		   || c == '-' || c == '_' || c == ':' || c == '%';
}

int pchat_redis_valid_host(const char *host, size_t len)
{
	size_t i;

	if (len == 0 || len >= PCHAT_REDIS_HOST_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!host_char(host[i]))
			return 0;
	return 1;
}

int pchat_sentinel_valid_name(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len >= PCHAT_MASTER_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!host_char(name[i]) || name[i] == ':' || name[i] == '%')
			return 0;
	return 1;
}

/* A port as a bulk string: 1 to 5 digits, 1 to 65535. 0 when it is none. */
static unsigned int bulk_port(const redisReply *e)
{
	unsigned int port = 0;
	size_t i;

	if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > 5)
		return 0;
	for (i = 0; i < e->len; i++) {
		if (e->str[i] < '0' || e->str[i] > '9')
			return 0;
		port = port * 10 + (unsigned int)(e->str[i] - '0');
	}
	return port <= 65535 ? port : 0;
}

int pchat_sentinel_master_addr(const redisReply *rep, pchat_redis_addr_t *master, char *why,
		size_t len)
{
	const redisReply *host, *port;
	unsigned int p;

	if (!rep || rep->type == REDIS_REPLY_NIL) {
		snprintf(why, len, "knows no master of that name");
		return -1;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(why, len, "answered an error (%.120s)", rep->str ? rep->str : "");
		return -1;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
		snprintf(why, len, "answered no host and port");
		return -1;
	}
	host = rep->element[0];
	port = rep->element[1];
	if (host->type != REDIS_REPLY_STRING || !pchat_redis_valid_host(host->str, host->len)) {
		snprintf(why, len, "named an invalid host");
		return -1;
	}
	if ((p = bulk_port(port)) == 0) {
		snprintf(why, len, "named an invalid port");
		return -1;
	}
	memcpy(master->host, host->str, host->len);
	master->host[host->len] = '\0';
	master->port = p;
	return 0;
}

pchat_redis_role_t pchat_redis_role(const redisReply *rep)
{
	static const struct {
		const char *name;
		pchat_redis_role_t role;
	} roles[] = {{"master", PCHAT_ROLE_MASTER}, {"slave", PCHAT_ROLE_REPLICA},
		{"sentinel", PCHAT_ROLE_SENTINEL}};
	const redisReply *first;
	size_t i;

	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements == 0)
		return PCHAT_ROLE_UNKNOWN;
	first = rep->element[0];
	if (first->type != REDIS_REPLY_STRING)
		return PCHAT_ROLE_UNKNOWN;
	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (first->len == strlen(roles[i].name) && memcmp(first->str, roles[i].name, first->len) == 0)
			return roles[i].role;
	return PCHAT_ROLE_UNKNOWN;
}

const char *pchat_redis_role_name(pchat_redis_role_t role)
{
	switch (role) {
		case PCHAT_ROLE_MASTER:
			return "master";
		case PCHAT_ROLE_REPLICA:
			return "replica";
		case PCHAT_ROLE_SENTINEL:
			return "sentinel";
		default:
			return "unknown";
	}
}

void pchat_sentinel_promote(pchat_redis_addr_t *sentinels, int n, int i)
{
	pchat_redis_addr_t first;

	if (i <= 0 || i >= n)
		return;
	first = sentinels[i];
	memmove(&sentinels[1], &sentinels[0], (size_t)i * sizeof(*sentinels));
	sentinels[0] = first;
}

/* What one sentinel names as the master; -1 with reason when it names nothing usable. */
static int named_by(const pchat_redis_addr_t *sentinel, const char *name,
		const pchat_sentinel_ops_t *ops, void *ctx, pchat_redis_addr_t *named, char *reason)
{
	char why[REASON_MAX];
	redisReply *rep = ops->ask(ctx, sentinel, name, why, sizeof(why));
	int rc;

	if (!rep) {
		snprintf(reason, REASON_MAX, "did not answer (%.160s)", why);
		return -1;
	}
	rc = pchat_sentinel_master_addr(rep, named, reason, REASON_MAX);
	freeReplyObject(rep);
	return rc;
}

/* 1 when the server a sentinel named answers ROLE as a master; 0 with reason otherwise. */
static int answers_as_master(const pchat_redis_addr_t *named, const pchat_sentinel_ops_t *ops,
		void *ctx, char *reason)
{
	char why[REASON_MAX];
	redisReply *rep = ops->role(ctx, named, why, sizeof(why));
	pchat_redis_role_t role = pchat_redis_role(rep);

	if (role != PCHAT_ROLE_MASTER) {
		if (!rep)
			snprintf(reason, REASON_MAX, "named %.64s:%u, which did not answer (%.80s)",
					named->host, named->port, why);
		else if (rep->type == REDIS_REPLY_ERROR)
			snprintf(reason, REASON_MAX, "named %.64s:%u, which answered ROLE with an error "
					"(%.80s)", named->host, named->port, rep->str ? rep->str : "");
		else
			snprintf(reason, REASON_MAX, "named %.64s:%u, which answers ROLE as a %s",
					named->host, named->port, pchat_redis_role_name(role));
	}
	if (rep)
		freeReplyObject(rep);
	return role == PCHAT_ROLE_MASTER;
}

int pchat_sentinel_find(pchat_redis_addr_t *sentinels, int n, const char *name,
		const pchat_sentinel_ops_t *ops, void *ctx, pchat_redis_addr_t *master, char *why,
		size_t len)
{
	char reason[REASON_MAX] = "is not configured";
	pchat_redis_addr_t named;
	int i;

	for (i = 0; i < n; i++) {
		if (named_by(&sentinels[i], name, ops, ctx, &named, reason) == 0
				&& answers_as_master(&named, ops, ctx, reason)) {
			pchat_sentinel_promote(sentinels, n, i);
			*master = named;
			return 0;
		}
		PLOG_WARN("Redis sentinel %.64s:%u (%d of %d) %s\n", sentinels[i].host,
				sentinels[i].port, i + 1, n, reason);
	}
	snprintf(why, len, "no sentinel named a master '%s' that answers as one (the last %s)", name,
			reason);
	return -1;
}
