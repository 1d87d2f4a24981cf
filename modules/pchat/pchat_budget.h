/*
 * What one client and one node may hold: the policies that keep a slow or hostile client from
 * exhausting the node's memory or its processes, with who pays when a budget runs out.
 *
 *   - A session's send window: at most max_pending INFOs unanswered at a time (each pins a tm
 *     transaction in shared memory); more wait in the session's queue, in order. The INFOs a
 *     session holds, unanswered and waiting, are bounded in number and in bytes. A client that
 *     does not read (its window over budget) is ended; the posters of its rooms never pay.
 *   - A node's byte budget: the shared memory held by deliveries (jobs queued to the senders,
 *     INFOs unanswered or waiting in sessions). Over it, the node refuses new posts and new
 *     sessions (503 with Retry-After) before anything already stored could be dropped.
 *   - A user's request rate: a token bucket (per second, with a burst).
 *
 * Plain C without Kamailio headers: the callers keep the state in shared memory under their
 * own locks (the node's counter is updated atomically here).
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_BUDGET_H
#define PCHAT_BUDGET_H

#include <stddef.h>
#include <stdint.h>

/* ---- a session's send window ---- */

typedef struct pchat_window_limits {
	uint32_t max_pending; /* INFOs unanswered at a time */
	uint32_t max_queued;  /* INFOs waiting for the window */
	size_t max_bytes;     /* bytes of the INFOs unanswered and waiting together */
} pchat_window_limits_t;

typedef struct pchat_window {
	uint32_t max_pending; /* this session's own limit of unanswered INFOs; 0: the limits' */
	uint32_t pending; /* INFOs sent and not answered */
	uint32_t queued;  /* INFOs waiting */
	size_t bytes;     /* of both */
	int drain_asked;  /* a sender was asked to send what waits, and has not started yet */
} pchat_window_t;

/* The bytes an INFO with a body of len bytes holds in shared memory until it is answered: the
 * body and its transaction; at most max (what the caller can carry to the answer). Offer, send
 * and answer an INFO with this cost. A queued INFO is counted with its body's len alone
 * (pchat_window_queued, pchat_window_dequeued): it has no transaction yet. */
size_t pchat_window_cost(size_t len, size_t max);

typedef enum pchat_window_verdict {
	PCHAT_WINDOW_SEND,  /* send it now */
	PCHAT_WINDOW_WAIT,  /* queue it behind the others */
	PCHAT_WINDOW_OVER,  /* the client does not keep up: end the session */
} pchat_window_verdict_t;

/* What to do with an INFO of len bytes for the session. Nothing is changed. */
pchat_window_verdict_t pchat_window_offer(const pchat_window_t *w,
		const pchat_window_limits_t *l, size_t len);

/* The INFO was sent (pending) or queued; a queued INFO that is then sent moves from queued to
 * pending with pchat_window_dequeued + pchat_window_sent. Each returns the bytes it added or
 * removed, for the node's budget. */
size_t pchat_window_sent(pchat_window_t *w, size_t len);
size_t pchat_window_queued(pchat_window_t *w, size_t len);
size_t pchat_window_dequeued(pchat_window_t *w, size_t len);

/* An INFO of len bytes was answered, timed out, or could not be sent after all. */
size_t pchat_window_answered(pchat_window_t *w, size_t len);

/* After an answer, whose process must not send itself: 1 when a sender must be asked now to
 * send what waits. It is asked once, until it starts (pchat_window_drain_started) or the ask
 * could not be made (pchat_window_ask_failed: the next answer asks again). */
int pchat_window_ask_drain(pchat_window_t *w, const pchat_window_limits_t *l);
void pchat_window_ask_failed(pchat_window_t *w);
void pchat_window_drain_started(pchat_window_t *w);

/* 1 when a queued INFO may go out now. */
int pchat_window_may_drain(const pchat_window_t *w, const pchat_window_limits_t *l);

/* ---- a node's byte budget ---- */

typedef struct pchat_node_budget {
	int64_t used;  /* bytes held by deliveries now (updated atomically) */
	int64_t limit; /* new posts and sessions are refused above it */
	int64_t peak;  /* the most used since start */
} pchat_node_budget_t;

void pchat_node_charge(pchat_node_budget_t *b, size_t n);
void pchat_node_release(pchat_node_budget_t *b, size_t n);

/* Bytes held now, and the most held since start (read atomically: processes change them). */
int64_t pchat_node_used(const pchat_node_budget_t *b);
int64_t pchat_node_peak(const pchat_node_budget_t *b);

/* 1 when the node may take new work (posts, sessions). */
int pchat_node_admits(const pchat_node_budget_t *b);

/* ---- a request rate ---- */

typedef struct pchat_rate {
	int64_t last_ms;     /* when tokens were last added */
	int64_t milli_tokens; /* tokens * 1000 */
} pchat_rate_t;

/* A new bucket, full. */
void pchat_rate_init(pchat_rate_t *r, int burst, int64_t now_ms);

/* Takes one token: 1 when the request may go on, 0 when the rate is exceeded. per_second 0
 * means no limit. */
int pchat_rate_take(pchat_rate_t *r, int per_second, int burst, int64_t now_ms);

#endif
