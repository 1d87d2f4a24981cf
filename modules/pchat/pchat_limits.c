/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <string.h>

#include "core/dprint.h"
#include "core/hashes.h"
#include "core/locking.h"
#include "core/mem/shm_mem.h"

#include "pchat_budget.h"
#include "pchat_health.h"
#include "pchat_limits.h"

#define LIMIT_BUCKETS 4096

typedef struct limit_entry {
	struct limit_entry *next;
	int sessions;
	pchat_rate_t rate; /* users only */
	size_t keylen;
	char key[];        /* "u:<user>" or "s:<address>" */
} limit_entry_t;

typedef struct limit_table {
	limit_entry_t *buckets[LIMIT_BUCKETS];
} limit_table_t;

static limit_table_t *table = NULL;
static gen_lock_set_t *locks = NULL;
static pchat_limits_conf_t conf;

int pchat_limits_init(const pchat_limits_conf_t *c)
{
	conf = *c;
	table = shm_malloc(sizeof(*table));
	locks = lock_set_alloc(LIMIT_BUCKETS);
	if (!table || !locks || !lock_set_init(locks)) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(table, 0, sizeof(*table));
	return 0;
}

void pchat_limits_destroy(void)
{
	if (locks) {
		lock_set_destroy(locks);
		lock_set_dealloc(locks);
		locks = NULL;
	}
	/* the entries go with shared memory */
	if (table) {
		shm_free(table);
		table = NULL;
	}
}

/* "u:" or "s:" followed by the name, in buf. */
static str make_key(char kind, const char *name, char *buf, size_t len)
{
	str k;

	k.len = snprintf(buf, len, "%c:%s", kind, name);
	if (k.len >= (int)len)
		k.len = (int)len - 1;
	k.s = buf;
	return k;
}

static unsigned bucket_of(const str *key)
{
	return core_hash(key, NULL, LIMIT_BUCKETS);
}

/* The entry of key in its locked bucket; created (with no session) when create is set. */
static limit_entry_t *find(unsigned bucket, const str *key, int create)
{
	limit_entry_t *e;

	for (e = table->buckets[bucket]; e; e = e->next)
		if (e->keylen == (size_t)key->len && memcmp(e->key, key->s, key->len) == 0)
			return e;
	if (!create)
		return NULL;
	e = shm_malloc(sizeof(*e) + key->len);
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	memcpy(e->key, key->s, key->len);
	e->keylen = (size_t)key->len;
	pchat_rate_init(&e->rate, conf.request_burst, pchat_now_ms());
	e->next = table->buckets[bucket];
	table->buckets[bucket] = e;
	return e;
}

/* Drops an entry without sessions from its locked bucket. */
static void drop_if_unused(unsigned bucket, limit_entry_t *e)
{
	limit_entry_t **link;

	if (e->sessions > 0)
		return;
	for (link = &table->buckets[bucket]; *link; link = &(*link)->next) {
		if (*link == e) {
			*link = e->next;
			shm_free(e);
			return;
		}
	}
}

/* Adds delta sessions to the entry of key unless that goes over max (0: no limit). 1 when
 * counted, 0 over the limit, -1 out of memory. */
static int count(char kind, const char *name, int delta, int max)
{
	char buf[320];
	str key = make_key(kind, name, buf, sizeof(buf));
	unsigned bucket = bucket_of(&key);
	limit_entry_t *e;
	int rc = 1;

	lock_set_get(locks, bucket);
	e = find(bucket, &key, delta > 0);
	if (!e) {
		rc = delta > 0 ? -1 : 1;
	} else if (delta > 0 && max > 0 && e->sessions >= max) {
		rc = 0;
	} else {
		e->sessions += delta;
		drop_if_unused(bucket, e);
	}
	lock_set_release(locks, bucket);
	return rc;
}

pchat_limit_verdict_t pchat_limits_open(const char *user, const char *source)
{
	int rc = count('u', user, 1, conf.sessions_per_user);

	if (rc <= 0)
		return rc < 0 ? PCHAT_LIMIT_MEMORY : PCHAT_LIMIT_USER;
	if (source && source[0]) {
		rc = count('s', source, 1, conf.sessions_per_source);
		if (rc <= 0) {
			count('u', user, -1, 0);
			return rc < 0 ? PCHAT_LIMIT_MEMORY : PCHAT_LIMIT_SOURCE;
		}
	}
	return PCHAT_LIMIT_OK;
}

void pchat_limits_close(const char *user, const char *source)
{
	count('u', user, -1, 0);
	if (source && source[0])
		count('s', source, -1, 0);
}

int pchat_limits_request(const char *user)
{
	char buf[320];
	str key;
	unsigned bucket;
	limit_entry_t *e;
	int ok = 1;

	if (conf.requests_per_second <= 0)
		return 1;
	key = make_key('u', user, buf, sizeof(buf));
	bucket = bucket_of(&key);
	lock_set_get(locks, bucket);
	e = find(bucket, &key, 0);
	if (e)
		ok = pchat_rate_take(&e->rate, conf.requests_per_second, conf.request_burst,
				pchat_now_ms());
	lock_set_release(locks, bucket);
	return ok;
}
