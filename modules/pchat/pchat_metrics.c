/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/counters.h"
#include "core/dprint.h"

#include "pchat_buf.h"
#include "pchat_metrics.h"
#include "pchat_node.h"

#define PROMETHEUS_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define ALLOW_MAX 32
#define ADDR_MAX 64

static char allow[ALLOW_MAX][ADDR_MAX];
static int nallow;

int pchat_metrics_init(void)
{
	const char *p = pchat_params.metrics_allow;
	size_t n;

	while (p && *p) {
		p += strspn(p, ", ");
		n = strcspn(p, ", ");
		if (n == 0)
			break;
		if (nallow == ALLOW_MAX || n >= ADDR_MAX) {
			LM_ERR("metrics_allow: at most %d addresses of up to %d characters\n", ALLOW_MAX,
					ADDR_MAX - 1);
			return -1;
		}
		memcpy(allow[nallow], p, n);
		allow[nallow++][n] = '\0';
		p += n;
	}
	if (pchat_params.metrics_token[0] && strlen(pchat_params.metrics_token) < 16) {
		LM_ERR("metrics_token must be at least 16 characters\n");
		return -1;
	}
	return 0;
}

/* Compares all of both strings, whatever they hold: the time says nothing of the token. */
static int same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char d = la != lb;

	for (i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static int allowed(pchat_http_req_t *r)
{
	const char *auth = pchat_http_header(r, "Authorization");
	int i;

	if (pchat_params.metrics_token[0] && auth && strncasecmp(auth, "Bearer ", 7) == 0
			&& same_secret(auth + 7, pchat_params.metrics_token))
		return 1;
	for (i = 0; i < nallow; i++)
		if (strcmp(pchat_http_peer(r), allow[i]) == 0)
			return 1;
	return 0;
}

/* kamailio_GROUP_NAME in Prometheus' alphabet ([a-zA-Z_][a-zA-Z0-9_]*): anything else, and
 * what does not fit, becomes '_' or is cut. */
static void metric_name(const str *group, const str *name, char *out, size_t size)
{
	size_t i;
	char c;

	snprintf(out, size, "kamailio_%.*s_%.*s", group->len, group->s, name->len, name->s);
	for (i = strlen("kamailio_"); out[i]; i++) {
		c = out[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			out[i] = '_';
	}
}

static void add_metric(void *p, str *group, str *name, counter_handle_t h)
{
	pchat_buf_t *b = p;
	const char *doc = counter_get_doc(h);
	char metric[256];
	size_t i;

	metric_name(group, name, metric, sizeof(metric));
	pchat_buf_addf(b, "# HELP %s ", metric);
	/* a help text is one line, with \ and newlines escaped */
	for (i = 0; doc && doc[i]; i++) {
		if (doc[i] == '\\')
			pchat_buf_adds(b, "\\\\");
		else if (doc[i] == '\n')
			pchat_buf_adds(b, "\\n");
		else
			pchat_buf_add(b, &doc[i], 1);
	}
	pchat_buf_addf(b, "\n# TYPE %s untyped\n%s %llu\n", metric, metric,
			(unsigned long long)counter_get_val(h));
}

static void add_group(void *p, str *group)
{
	char name[128];

	if (group->len <= 0 || group->len >= (int)sizeof(name))
		return;
	memcpy(name, group->s, group->len);
	name[group->len] = '\0';
	counter_iterate_grp_vars(name, add_metric, p);
}

static void metrics(pchat_http_req_t *r)
{
	static const char closed[] = "{\"error\":\"metrics are off: set metrics_token or "
								 "metrics_allow\"}";
	static const char refused[] = "{\"error\":\"a metrics token or an allowed address is "
								  "needed\"}";
	pchat_buf_t b;

	if (!pchat_params.metrics_token[0] && nallow == 0) {
		pchat_http_respond(r, 403, "application/json", closed, sizeof(closed) - 1);
		return;
	}
	if (!allowed(r)) {
		pchat_http_log_note(r, "refused: no metrics token or allowed address");
		pchat_http_add_header(r, "WWW-Authenticate", "Bearer");
		pchat_http_respond(r, 401, "application/json", refused, sizeof(refused) - 1);
		return;
	}
	pchat_buf_init(&b);
	counter_iterate_grp_names(add_group, &b);
	if (!pchat_buf_ok(&b) || pchat_http_respond(r, 200, PROMETHEUS_TYPE, b.s, b.len) < 0)
		pchat_http_respond(r, 500, NULL, "", 0);
	pchat_buf_free(&b);
}

const pchat_http_route_t pchat_metrics_route = {"GET", "/metrics", 0, NULL, NULL, metrics,
		NULL};
