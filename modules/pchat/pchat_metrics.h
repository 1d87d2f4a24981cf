/*
 * GET /metrics on the module's HTTPS service: every Kamailio statistic of this node (the
 * module's pchat:* and Kamailio's own: core, shmem, tm, ...) in Prometheus' text format,
 * as kamailio_<group>_<name>. Never on the SIP port. Closed unless metrics_token (a bearer
 * token) or metrics_allow (addresses) is set.
 *
 * Depends on this node (parameters) and the HTTPS service.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_METRICS_H
#define PCHAT_METRICS_H

#include "pchat_http.h"

/* The route, for pchat_http_init. */
extern const pchat_http_route_t pchat_metrics_route;

/* mod_init: checks metrics_allow. 0 or -1. */
int pchat_metrics_init(void);

#endif
