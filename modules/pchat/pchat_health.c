/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <time.h>

#include "pchat_health.h"

int64_t pchat_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pchat_iso_time_ms(long long ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	if (!len)
		return;
	out[0] = '\0';
	if (!gmtime_r(&t, &tm) || (n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		out[0] = '\0';
		return;
	}
	snprintf(out + n, len - n, ".%03dZ", (int)(ms % 1000));
}

int pchat_health_may_try(const pchat_health_t *h)
{
	return pchat_now_ms() >= __atomic_load_n(&h->down_until_ms, __ATOMIC_RELAXED);
}

int pchat_health_failed(pchat_health_t *h, int retry_ms)
{
	__atomic_store_n(&h->down_until_ms, pchat_now_ms() + retry_ms, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->failures, 1, __ATOMIC_RELAXED);
	return __atomic_exchange_n(&h->down, 1, __ATOMIC_ACQ_REL) == 0;
}

int pchat_health_ok(pchat_health_t *h)
{
	if (!__atomic_load_n(&h->down, __ATOMIC_RELAXED))
		return 0;
	__atomic_store_n(&h->down_until_ms, 0, __ATOMIC_RELAXED);
	return __atomic_exchange_n(&h->down, 0, __ATOMIC_ACQ_REL) == 1;
}

int pchat_health_is_down(const pchat_health_t *h)
{
	return __atomic_load_n(&h->down, __ATOMIC_RELAXED);
}

int pchat_health_server(const pchat_health_t *h)
{
	return __atomic_load_n(&h->server, __ATOMIC_ACQUIRE);
}

int pchat_health_switch(pchat_health_t *h, int from, int to)
{
	if (from == to || !__atomic_compare_exchange_n(&h->server, &from, to, 0, __ATOMIC_ACQ_REL,
							  __ATOMIC_ACQUIRE))
		return 0;
	__atomic_add_fetch(&h->switches, 1, __ATOMIC_RELAXED);
	return 1;
}
