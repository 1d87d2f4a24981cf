/*
 * Up/down state of a back end (MySQL, Redis) shared by all processes of a node. When one process
 * finds the back end unreachable, the others stop trying until the retry time, so a dead server
 * costs one timeout per interval instead of one per request per process; the transition is logged
 * once, by the process that saw it.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_HEALTH_H
#define PCHAT_HEALTH_H

#include <stddef.h>
#include <stdint.h>

typedef struct pchat_health {
	int64_t down_until_ms; /* no new attempts before this time (ms since the epoch) */
	int down;              /* 1 while the back end is considered unreachable */
	uint64_t failures;     /* connection failures seen since start */
	int server;            /* of a list of servers (a Galera cluster), the one every process
	                          uses: one writer for the node, whatever each process saw */
	uint64_t switches;     /* how often server changed since start */
} pchat_health_t;

int64_t pchat_now_ms(void);

/* ms since the epoch as ISO 8601 UTC with milliseconds ("" when it cannot be shown); out should
 * hold 32 bytes. */
void pchat_iso_time_ms(long long ms, char *out, size_t len);

/* 1 when a connection attempt may be made now. */
int pchat_health_may_try(const pchat_health_t *h);

/* Records a failed attempt. Returns 1 for the caller that turned the state from up to down
 * (it logs the outage), 0 otherwise. */
int pchat_health_failed(pchat_health_t *h, int retry_ms);

/* Records a success. Returns 1 for the caller that turned the state from down to up. */
int pchat_health_ok(pchat_health_t *h);

int pchat_health_is_down(const pchat_health_t *h);

/* The server of a list every process should use now (0 at start). */
int pchat_health_server(const pchat_health_t *h);

/* Moves every process from server `from` to `to`, unless another process moved them already
 * (then the caller follows where they went). Returns 1 for the caller that moved them. */
int pchat_health_switch(pchat_health_t *h, int from, int to);

#endif
