/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdlib.h>
#include <string.h>

#include "pchat_alloc.h"
#include "pchat_log.h"
#include "pchat_order.h"

#define BUCKETS 1024
/* posts one catch-up or gap fill asks the store for at a time */
#define CATCH_UP_BATCH 500

typedef struct waiting_post {
	uint64_t seq;
	char *element;
	size_t len;
} waiting_post_t;

/* A room with posts that arrived ahead of a predecessor, sorted by seq. */
typedef struct waiting_room {
	uint64_t room;
	int64_t deadline_ms; /* when the gap before posts[0] is filled from the store */
	waiting_post_t *posts;
	int n;
	int cap;
	struct waiting_room *next;
} waiting_room_t;

struct pchat_order {
	const pchat_order_ops_t *ops;
	void *ctx;
	int gap_ms;
	int max_waiting;
	size_t max_waiting_bytes;
	waiting_room_t *buckets[BUCKETS];
	int rooms;
	int posts;
	size_t bytes; /* taken by the copies of the waiting posts */
	pchat_order_stats_t stats;
};

pchat_order_t *pchat_order_new(const pchat_order_ops_t *ops, void *ctx, int gap_ms,
		int max_waiting, size_t max_waiting_bytes)
{
	pchat_order_t *o = pchat_calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->ops = ops;
	o->ctx = ctx;
	o->gap_ms = gap_ms;
	o->max_waiting = max_waiting > 0 ? max_waiting : 1;
	o->max_waiting_bytes = max_waiting_bytes;
	return o;
}

static unsigned bucket_of(uint64_t room)
{
	return (unsigned)((room * 0x9E3779B97F4A7C15ULL) >> 54) & (BUCKETS - 1);
}

static waiting_room_t *find(const pchat_order_t *o, uint64_t room)
{
	waiting_room_t *w;

	for (w = o->buckets[bucket_of(room)]; w; w = w->next)
		if (w->room == room)
			return w;
	return NULL;
}

static void drop_first(pchat_order_t *o, waiting_room_t *w)
{
	o->bytes -= w->posts[0].len + 1;
	pchat_free(w->posts[0].element);
	memmove(w->posts, w->posts + 1, (size_t)(w->n - 1) * sizeof(w->posts[0]));
	w->n--;
	o->posts--;
}

static void remove_room(pchat_order_t *o, waiting_room_t *w)
{
	waiting_room_t **link;

	while (w->n)
		drop_first(o, w);
	for (link = &o->buckets[bucket_of(w->room)]; *link != w; link = &(*link)->next)
		;
	*link = w->next;
	pchat_free(w->posts);
	pchat_free(w);
	o->rooms--;
}

void pchat_order_free(pchat_order_t *o)
{
	int i;

	if (!o)
		return;
	for (i = 0; i < BUCKETS; i++)
		while (o->buckets[i])
			remove_room(o, o->buckets[i]);
	pchat_free(o);
}

/* Keeps a post for later; 1 when it was waiting already. */
static int wait_post(pchat_order_t *o, uint64_t room, uint64_t seq, const char *element,
		size_t len, int64_t now_ms)
{
	waiting_room_t *w = find(o, room);
	int i;

	if (!w) {
		w = pchat_calloc(1, sizeof(*w));
		if (!w)
			return -1;
		w->room = room;
		w->deadline_ms = now_ms + o->gap_ms;
		w->next = o->buckets[bucket_of(room)];
		o->buckets[bucket_of(room)] = w;
		o->rooms++;
	}
	for (i = w->n; i > 0 && w->posts[i - 1].seq >= seq; i--)
		if (w->posts[i - 1].seq == seq)
			return 1;
	if (w->n == w->cap) {
		int cap = w->cap ? 2 * w->cap : 8;
		waiting_post_t *posts = pchat_realloc(w->posts, (size_t)cap * sizeof(*posts));

		if (!posts)
			return -1;
		w->posts = posts;
		w->cap = cap;
	}
	memmove(w->posts + i + 1, w->posts + i, (size_t)(w->n - i) * sizeof(w->posts[0]));
	w->posts[i].seq = seq;
	w->posts[i].len = len;
	w->posts[i].element = pchat_malloc(len + 1);
	if (!w->posts[i].element) {
		memmove(w->posts + i, w->posts + i + 1, (size_t)(w->n - i) * sizeof(w->posts[0]));
		return -1;
	}
	memcpy(w->posts[i].element, element, len);
	w->posts[i].element[len] = '\0';
	w->n++;
	o->posts++;
	o->bytes += len + 1;
	return 0;
}

/* Sends the waiting posts that follow the delivered seq d without a gap, drops those at or
 * below it, and restarts the gap timer for what is left. */
static void release(pchat_order_t *o, waiting_room_t *w, uint64_t d, int64_t now_ms)
{
	int progressed = 0;

	while (w->n && w->posts[0].seq <= d + 1) {
		if (w->posts[0].seq == d + 1) {
			d = w->posts[0].seq;
			o->ops->deliver(o->ctx, w->room, d, w->posts[0].element, w->posts[0].len);
			progressed = 1;
		} else {
			o->stats.duplicates++;
		}
		drop_first(o, w);
	}
	if (w->n == 0)
		remove_room(o, w);
	else if (progressed)
		w->deadline_ms = now_ms + o->gap_ms;
}

/* Fills the gap before the first waiting post from the store, a batch at a time (a gap can be
 * wider than one read should be, or than an int can count); what the store cannot give is
 * skipped (it stays in the room's history), so one lost relay never holds a room back. */
static void fill_gap(pchat_order_t *o, waiting_room_t *w, int64_t now_ms)
{
	uint64_t d, first = w->posts[0].seq;
	int n, want;

	if (o->ops->delivered(o->ctx, w->room, &d) < 0) {
		remove_room(o, w);
		return;
	}
	if (first > d + 1) {
		do {
			want = first - d - 1 > CATCH_UP_BATCH ? CATCH_UP_BATCH : (int)(first - d - 1);
			n = o->ops->fill(o->ctx, w->room, d, first, want);
			if (n > 0)
				o->stats.filled += (uint64_t)n;
			if (o->ops->delivered(o->ctx, w->room, &d) < 0) {
				remove_room(o, w);
				return;
			}
		} while (n == want && first > d + 1);
		if (first > d + 1) {
			PLOG_WARN("room %llu: posts %llu to %llu did not arrive and could not be read "
					  "from the store; delivering the later ones without them\n",
					(unsigned long long)w->room, (unsigned long long)d + 1,
					(unsigned long long)first - 1);
			o->stats.skipped += first - d - 1;
			d = first - 1;
		}
	}
	release(o, w, d, now_ms);
}

/* The room whose gap is due first: it has waited longest since it last moved on. */
static waiting_room_t *due_first(const pchat_order_t *o)
{
	waiting_room_t *w, *first = NULL;
	int i;

	for (i = 0; i < BUCKETS; i++)
		for (w = o->buckets[i]; w; w = w->next)
			if (!first || w->deadline_ms < first->deadline_ms)
				first = w;
	return first;
}

void pchat_order_post(pchat_order_t *o, uint64_t room, uint64_t seq, const char *element,
		size_t len, int64_t now_ms)
{
	waiting_room_t *w;
	uint64_t d;
	int rc;

	if (o->ops->delivered(o->ctx, room, &d) < 0) {
		if ((w = find(o, room)) != NULL)
			remove_room(o, w);
		return;
	}
	if (seq <= d) {
		o->stats.duplicates++;
		return;
	}
	if (seq == d + 1) {
		o->ops->deliver(o->ctx, room, seq, element, len);
		if ((w = find(o, room)) != NULL)
			release(o, w, seq, now_ms);
		return;
	}
	rc = wait_post(o, room, seq, element, len, now_ms);
	if (rc == 1) {
		o->stats.duplicates++;
		return;
	}
	if (rc < 0) {
		PLOG_ERR("out of memory: post %llu of room %llu cannot wait for its predecessors\n",
				(unsigned long long)seq, (unsigned long long)room);
		if ((w = find(o, room)) != NULL && w->n == 0)
			remove_room(o, w);
		return;
	}
	o->stats.waited++;
	w = find(o, room);
	if (w->n > o->max_waiting)
		fill_gap(o, w, now_ms);
	/* The copies live in the sender's own memory, which is small: past the bytes, the gaps due
	 * first are filled now instead of at their time. Each fill takes at least its room's first
	 * waiting post away, so this ends. */
	while (o->bytes > o->max_waiting_bytes && (w = due_first(o)) != NULL)
		fill_gap(o, w, now_ms);
}

void pchat_order_tick(pchat_order_t *o, int64_t now_ms)
{
	waiting_room_t *w, *next;
	int i;

	for (i = 0; i < BUCKETS && o->rooms; i++) {
		for (w = o->buckets[i]; w; w = next) {
			next = w->next;
			if (w->deadline_ms <= now_ms)
				fill_gap(o, w, now_ms);
		}
	}
}

void pchat_order_catch_up(pchat_order_t *o, uint64_t room, int64_t now_ms)
{
	waiting_room_t *w;
	uint64_t d;
	int n;

	do {
		if (o->ops->delivered(o->ctx, room, &d) < 0)
			break;
		n = o->ops->fill(o->ctx, room, d, UINT64_MAX, CATCH_UP_BATCH);
		if (n > 0)
			o->stats.filled += (uint64_t)n;
	} while (n == CATCH_UP_BATCH);
	if ((w = find(o, room)) == NULL)
		return;
	if (o->ops->delivered(o->ctx, room, &d) < 0)
		remove_room(o, w);
	else
		release(o, w, d, now_ms);
}

int pchat_order_next_timeout(const pchat_order_t *o, int64_t now_ms)
{
	int64_t next = -1;
	const waiting_room_t *w;
	int i;

	for (i = 0; i < BUCKETS && o->rooms; i++)
		for (w = o->buckets[i]; w; w = w->next)
			if (next < 0 || w->deadline_ms < next)
				next = w->deadline_ms;
	if (next < 0)
		return -1;
	return next <= now_ms ? 0 : (int)(next - now_ms);
}

const pchat_order_stats_t *pchat_order_stats(const pchat_order_t *o)
{
	return &o->stats;
}

void pchat_order_waiting(const pchat_order_t *o, int *rooms, int *posts)
{
	*rooms = o->rooms;
	*posts = o->posts;
}
