/*
 * The compliance worker: a module-owned process on every node, with its own database
 * connection. Each second a worker without the pool's compliance lease (pchat_compliance_state,
 * compliance_lease seconds, by the database's clock) tries to take it; the holder renews it every
 * third of that, also while it exports. The holder runs the export (pchat_export.h)
 * run_interval after the pool's last run, at once when pchat.compliance.run asks, and at once
 * when it takes over a batch left open by a node that died. Every worker reloads the
 * compliance settings each config_reload_interval (outside a run) and tells its node's chat
 * whether to record; only the active one estimates the backlog, for the compliance_waiting
 * statistic and the warning past compliance_backlog_warning (the others report 0).
 *
 * Depends on this node, the outbox and the export.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_COMPLIANCE_H
#define PCHAT_COMPLIANCE_H

#include "pchat_outbox.h"

/* mod_init: registers the process. */
int pchat_compliance_init(void);

/* child_init(PROC_MAIN): forks it. */
int pchat_compliance_start(void);

/* This node records from now on as conf says (an RPC changed the settings here; the other
 * nodes follow within config_reload_interval). */
void pchat_compliance_apply(const pchat_compliance_conf_t *conf);

#endif
