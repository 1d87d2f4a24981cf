/*
 * Latency histograms and the JSON the generator prints.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

#define BUCKET_MS 0.05

int histo_init(histo_t *h)
{
	memset(h, 0, sizeof(*h));
	h->b = calloc(HISTO_BUCKETS, sizeof(*h->b));
	return h->b ? 0 : -1;
}

void histo_free(histo_t *h)
{
	free(h->b);
	h->b = NULL;
}

void histo_add(histo_t *h, double ms)
{
	long i = ms < 0 ? 0 : (long)(ms / BUCKET_MS);

	if (i >= HISTO_BUCKETS)
		i = HISTO_BUCKETS - 1;
	h->b[i]++;
	h->n++;
	if (ms > h->max_ms)
		h->max_ms = ms;
}

/* The upper edge of the bucket that holds the pct-th percentile. */
double histo_pct(const histo_t *h, double pct)
{
	uint64_t want, seen = 0;
	long i;

	if (h->n == 0)
		return 0;
	want = (uint64_t)((double)h->n * pct / 100.0);
	if (want < 1)
		want = 1;
	for (i = 0; i < HISTO_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want)
			return (double)(i + 1) * BUCKET_MS;
	}
	return h->max_ms;
}

static void put(json_t *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(j->s ? j->s + j->len : NULL, j->s ? j->cap - j->len : 0, fmt, ap);
		va_end(ap);
		if (j->s && (size_t)n < j->cap - j->len) {
			j->len += (size_t)n;
			return;
		}
		j->cap = (j->cap + (size_t)n + 1) * 2;
		j->s = realloc(j->s, j->cap);
		if (!j->s) {
			perror("out of memory");
			exit(2);
		}
	}
}

static void key(json_t *j, const char *k)
{
	if (j->need_comma)
		put(j, ",");
	if (k)
		put(j, "\"%s\":", k);
	j->need_comma = 1;
}

static void begin(json_t *j, const char *k, const char *bracket)
{
	key(j, k);
	put(j, "%s", bracket);
	j->need_comma = 0;
}

static void end(json_t *j, const char *bracket)
{
	put(j, "%s", bracket);
	j->need_comma = 1;
}

void json_open(json_t *j, const char *k)
{
	begin(j, k, "{");
}

void json_close(json_t *j)
{
	end(j, "}");
}

void json_array(json_t *j, const char *k)
{
	begin(j, k, "[");
}

void json_array_end(json_t *j)
{
	end(j, "]");
}

void json_num(json_t *j, const char *k, double v)
{
	key(j, k);
	put(j, "%.3f", v);
}

void json_int(json_t *j, const char *k, long long v)
{
	key(j, k);
	put(j, "%lld", v);
}

void json_str(json_t *j, const char *k, const char *v)
{
	key(j, k);
	put(j, "\"");
	for (; *v; v++)
		put(j, *v == '"' || *v == '\\' ? "\\%c" : "%c", *v);
	put(j, "\"");
}

void json_bool(json_t *j, const char *k, int v)
{
	key(j, k);
	put(j, v ? "true" : "false");
}

void json_latency(json_t *j, const char *k, const histo_t *h)
{
	json_open(j, k);
	json_int(j, "count", (long long)h->n);
	json_num(j, "p50", histo_pct(h, 50));
	json_num(j, "p90", histo_pct(h, 90));
	json_num(j, "p99", histo_pct(h, 99));
	json_num(j, "max", h->max_ms);
	json_close(j);
}
