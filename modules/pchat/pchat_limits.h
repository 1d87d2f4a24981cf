/*
 * Limits kept per user and per source address, shared by the processes of a node: how many
 * chat sessions a user and an address hold, and how fast a user sends requests (a token bucket
 * per user, pchat_budget.h). One entry per user and per address that holds a session, in a hash
 * table in shared memory with a lock per bucket; an entry goes when its last session does.
 *
 * Depends on Kamailio's core, the budgets (pchat_budget.h) and the health state
 * (pchat_health.h) only.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_LIMITS_H
#define PCHAT_LIMITS_H

typedef struct pchat_limits_conf {
	int sessions_per_user;   /* 0: no limit */
	int sessions_per_source; /* 0: no limit */
	int requests_per_second; /* per user; 0: no limit */
	int request_burst;
} pchat_limits_conf_t;

typedef enum pchat_limit_verdict {
	PCHAT_LIMIT_OK = 0,
	PCHAT_LIMIT_USER,    /* the user holds sessions_per_user sessions already */
	PCHAT_LIMIT_SOURCE,  /* the address holds sessions_per_source sessions already */
	PCHAT_LIMIT_MEMORY,  /* no shared memory for the entry */
} pchat_limit_verdict_t;

int pchat_limits_init(const pchat_limits_conf_t *conf);
void pchat_limits_destroy(void);

/* Counts a new session of user arriving from source (NULL or "": not counted per address, a
 * trusted peer). Nothing is counted unless the verdict is PCHAT_LIMIT_OK. */
pchat_limit_verdict_t pchat_limits_open(const char *user, const char *source);

/* The session counted by pchat_limits_open ended. */
void pchat_limits_close(const char *user, const char *source);

/* 1 when the user may send one more request now, 0 when over its rate. */
int pchat_limits_request(const char *user);

#endif
