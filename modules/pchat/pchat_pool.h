/*
 * This node's part in the pool: it heartbeats, cleans up after nodes that stopped heartbeating
 * (their sessions leave the rooms and the rooms are told), and keeps its own presence in Redis
 * true - at start (sessions of an earlier run are gone), after a Redis outage (what happened
 * meanwhile is published again and the rooms catch up on posts from the store) and every
 * presence_sync_interval seconds; and it catches up rooms that stayed behind the store for a
 * catch_up_interval (a relay that was lost). Runs in the housekeeper process.
 *
 * Depends on this node, the live membership, Redis's presence, the senders (catch-ups) and the
 * chat service (notices of users who left with a dead node).
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_POOL_H
#define PCHAT_POOL_H

/* Called once a second. */
void pchat_pool_tick(void);

#endif
