/*
 * The housekeeper: a module-owned process for the node's periodic work that needs the database
 * and Redis (tm's timer process must never wait on them): it reloads the pool-wide service
 * settings every config_reload_interval seconds, so a pchat.config.set on any node reaches every
 * node, and does the node's part in the pool every second (pchat_pool).
 *
 * Depends on this node, the pool part and the administration (settings).
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_HOUSEKEEPER_H
#define PCHAT_HOUSEKEEPER_H

/* mod_init: registers the process. */
int pchat_housekeeper_init(void);

/* child_init(PROC_MAIN): forks it. */
int pchat_housekeeper_start(void);

#endif
