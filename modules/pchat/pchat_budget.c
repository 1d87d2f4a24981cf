/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include "pchat_budget.h"

/* What an unanswered INFO's transaction holds in shared memory besides its body: about 2 KB with
 * max_branches=2 (README, step 6), more with more branches. */
#define TRANSACTION_BYTES 2048

size_t pchat_window_cost(size_t len, size_t max)
{
	return len + TRANSACTION_BYTES > max ? max : len + TRANSACTION_BYTES;
}

/* INFOs the session may have unanswered. */
static uint32_t window_size(const pchat_window_t *w, const pchat_window_limits_t *l)
{
	return w->max_pending ? w->max_pending : l->max_pending;
}

pchat_window_verdict_t pchat_window_offer(const pchat_window_t *w,
		const pchat_window_limits_t *l, size_t len)
{
	if (w->queued == 0 && w->pending < window_size(w, l) && w->bytes + len <= l->max_bytes)
		return PCHAT_WINDOW_SEND;
	/* An INFO bigger than the whole budget still goes out alone: a reply must never be
	 * refused because of its size (its size is bounded elsewhere). */
	if (w->pending == 0 && w->queued == 0)
		return PCHAT_WINDOW_SEND;
	if (w->queued >= l->max_queued || w->bytes + len > l->max_bytes)
		return PCHAT_WINDOW_OVER;
	return PCHAT_WINDOW_WAIT;
}

size_t pchat_window_sent(pchat_window_t *w, size_t len)
{
	w->pending++;
	w->bytes += len;
	return len;
}

size_t pchat_window_queued(pchat_window_t *w, size_t len)
{
	w->queued++;
	w->bytes += len;
	return len;
}

size_t pchat_window_dequeued(pchat_window_t *w, size_t len)
{
	if (w->queued > 0)
		w->queued--;
	len = len < w->bytes ? len : w->bytes;
	w->bytes -= len;
	return len;
}

size_t pchat_window_answered(pchat_window_t *w, size_t len)
{
	if (w->pending > 0)
		w->pending--;
	len = len < w->bytes ? len : w->bytes;
	w->bytes -= len;
	return len;
}

int pchat_window_may_drain(const pchat_window_t *w, const pchat_window_limits_t *l)
{
	return w->queued > 0 && w->pending < window_size(w, l);
}

int pchat_window_ask_drain(pchat_window_t *w, const pchat_window_limits_t *l)
{
	if (w->drain_asked || !pchat_window_may_drain(w, l))
		return 0;
	w->drain_asked = 1;
	return 1;
}

void pchat_window_ask_failed(pchat_window_t *w)
{
	w->drain_asked = 0;
}

void pchat_window_drain_started(pchat_window_t *w)
{
	w->drain_asked = 0;
}

void pchat_node_charge(pchat_node_budget_t *b, size_t n)
{
	int64_t now = __atomic_add_fetch(&b->used, (int64_t)n, __ATOMIC_RELAXED);
	int64_t peak = __atomic_load_n(&b->peak, __ATOMIC_RELAXED);

	while (now > peak && !__atomic_compare_exchange_n(&b->peak, &peak, now, 0,
				__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void pchat_node_release(pchat_node_budget_t *b, size_t n)
{
	__atomic_sub_fetch(&b->used, (int64_t)n, __ATOMIC_RELAXED);
}

int64_t pchat_node_used(const pchat_node_budget_t *b)
{
	return __atomic_load_n(&b->used, __ATOMIC_RELAXED);
}

int64_t pchat_node_peak(const pchat_node_budget_t *b)
{
	return __atomic_load_n(&b->peak, __ATOMIC_RELAXED);
}

int pchat_node_admits(const pchat_node_budget_t *b)
{
	return __atomic_load_n(&b->used, __ATOMIC_RELAXED) < b->limit;
}

void pchat_rate_init(pchat_rate_t *r, int burst, int64_t now_ms)
{
	r->last_ms = now_ms;
	r->milli_tokens = (int64_t)burst * 1000;
}

int pchat_rate_take(pchat_rate_t *r, int per_second, int burst, int64_t now_ms)
{
	int64_t elapsed = now_ms - r->last_ms, full = (int64_t)burst * 1000;

	if (per_second <= 0)
		return 1;
	if (elapsed > 0) {
		/* per_second tokens a second = per_second milli-tokens a millisecond */
		r->milli_tokens += elapsed * per_second;
		if (r->milli_tokens > full)
			r->milli_tokens = full;
		r->last_ms = now_ms;
	}
	if (r->milli_tokens < 1000)
		return 0;
	r->milli_tokens -= 1000;
	return 1;
}
