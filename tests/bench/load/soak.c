/*
 * The soak mode: the steady mixed load of the soak test (tests/soak/soak.py) for --duration
 * seconds, as one step.
 *
 * Every room of --guids ("GUID MEMBERS POSTS_PER_S" a line) has MEMBERS sessions of its own,
 * which log in and join it first (the rooms' members mixed in the login order) and then take
 * turns to post at the room's rate. The sessions
 * beyond the rooms' members (--sessions counts them all) are churners: each in turn joins a room
 * (the rooms take turns too), stays --stay seconds and parts, --churn-rate joins a second in all.
 * Every session sends an UPDATE every --refresh seconds (the sessions take turns), as clients do
 * to keep their sessions past Session-Expires.
 *
 * Members are checked as in the fanout mode: each gets every post of its room once, in the
 * room's order. A churner is owed every post of its room sent after its join was answered and
 * before its stay ended: when the stay ends it waits up to --drain seconds for them, then parts;
 * what has not come by then is lost. What it gets must follow the room's order from its first
 * delivery on, once each. That order is the members' (they are in the room all along): a
 * churner can get a post before any member got the one before it (theirs wait behind the
 * room's earlier posts, its own go out at once), so its order is judged once the run is over,
 * from the pairs of posts it got one after the other.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

#define PROGRESS_S 10.0   /* a progress line on stderr this often */
#define CHURN_TICK_S 0.01 /* churners are looked at this often */
#define FINISH_S 20.0     /* after the drain, time for the last cycles (a request's retries) */

/* Post k came right after post prev to a churner in room. */
typedef struct churn_pair {
	int room;
	int64_t prev, k;
} churn_pair_t;

/* The loop's own state: one soak per process. */
static struct {
	double next_progress, next_tick;
	uint64_t joins_started, refreshes_due;
	int next_churner, next_room;
	churn_pair_t *pairs; /* every churner's deliveries, judged at the end (check_churn_order) */
	size_t npairs, cap;
} soak;

/* ------------------------------------------------------------------ layout */

/* Reads the rooms' lines of --guids into GUIDs, members and rates; the soak is one step as long
 * as --duration, offering the rooms' rates together. */
void soak_read_rooms(conf_t *c)
{
	int i, members = 0;

	c->rooms = c->nguids;
	c->room_members = calloc((size_t)c->rooms, sizeof(*c->room_members));
	c->room_rates = calloc((size_t)c->rooms, sizeof(*c->room_rates));
	if (!c->room_members || !c->room_rates)
		gen_die("out of memory");
	c->rates[0] = 0;
	for (i = 0; i < c->rooms; i++) {
		char *guid = c->guids[i], *rest = guid + strcspn(guid, " \t");

		if (*rest)
			*rest++ = '\0';
		if (sscanf(rest, "%d %lf", &c->room_members[i], &c->room_rates[i]) != 2
				|| c->room_members[i] < 1 || c->room_rates[i] < 0)
			gen_die("soak: a --guids line is \"GUID MEMBERS POSTS_PER_S\"");
		members += c->room_members[i];
		c->rates[0] += c->room_rates[i];
	}
	if (c->sessions < members + (c->churn_rate > 0))
		gen_die("soak: --sessions must cover the rooms' members and at least one churner");
	if (c->duration_s <= 0 || c->stay_s <= 0 || c->refresh_s <= 0)
		gen_die("soak: --duration, --stay and --refresh must be positive");
	c->nrates = 1;
	c->step_s = c->duration_s;
}

/* The room whose next member is due first when every room fills evenly over the logins. */
static int room_due(const gen_t *g, const int *taken)
{
	const int *m = g->c.room_members;
	int r, best = -1;

	for (r = 0; r < g->c.rooms; r++) {
		if (taken[r] == m[r])
			continue;
		/* member taken[r] of room r is due at (taken[r] + 0.5) / m[r] of the logins */
		if (best < 0 || (2.0 * taken[r] + 1) * m[best] < (2.0 * taken[best] + 1) * m[r])
			best = r;
	}
	return best;
}

/* Gives the rooms their members spread over the login order, so that each room fills evenly
 * from the first login to the last: every member is told of a join, and a room filled in one
 * burst would send a burst of notices. The sessions after the members are churners. */
int soak_place_sessions(gen_t *g)
{
	int *taken = calloc((size_t)g->c.rooms, sizeof(*taken)), members = 0, r, i;

	g->room_first = calloc((size_t)g->c.rooms, sizeof(*g->room_first));
	for (r = 0; r < g->c.rooms; r++) {
		g->room_first[r] = members;
		members += g->c.room_members[r];
	}
	g->room_member = calloc((size_t)members, sizeof(*g->room_member));
	if (!taken || !g->room_first || !g->room_member)
		return -1;
	for (i = 0; i < members; i++) {
		r = room_due(g, taken);
		g->s[i].room = r;
		g->room_member[g->room_first[r] + taken[r]++] = i;
	}
	free(taken);
	g->first_churner = members;
	for (; i < g->ns; i++) {
		g->s[i].room = -1;
		g->s[i].prev_room = -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ posts */

static void post_due(gen_t *g, step_stats_t *st)
{
	int r;
	long n;

	for (r = 0; r < g->c.rooms; r++) {
		for (n = gen_due(st->started, g->c.room_rates[r], (uint64_t)g->room_k[r]); n > 0; n--) {
			int64_t k = g->room_k[r]++;
			session_t *s = &g->s[g->room_member[g->room_first[r]
												 + (int)(k % g->c.room_members[r])]];

			if (s->state == S_READY)
				gen_post(g, s, k, 0);
			else
				st->failed++;
			st->sent++;
		}
	}
}

/* The sessions take turns to refresh, ns every refresh_s seconds. */
static void refresh_due(gen_t *g, const step_stats_t *st)
{
	long n;

	for (n = gen_due(st->started, g->ns / g->c.refresh_s, soak.refreshes_due); n > 0; n--) {
		session_t *s = &g->s[soak.refreshes_due++ % (uint64_t)g->ns];

		if (s->state == S_READY)
			gen_refresh(g, s);
	}
}

/* ------------------------------------------------------------------ churners */

static session_t *free_churner(gen_t *g)
{
	int n = g->ns - g->first_churner, i;

	for (i = 0; i < n; i++) {
		session_t *s = &g->s[g->first_churner + (soak.next_churner + i) % n];

		if (s->state == S_READY && s->churn == CH_IDLE) {
			soak.next_churner = (soak.next_churner + i + 1) % n;
			return s;
		}
	}
	return NULL;
}

static void join_next_room(gen_t *g, session_t *s)
{
	s->room = soak.next_room++ % g->c.rooms;
	s->churn = CH_JOINING;
	s->last_k = -1;
	if (s->got)
		memset(s->got, 0, s->got_cap * sizeof(*s->got));
	gen_join(g, s);
}

static void start_joins(gen_t *g, const step_stats_t *st)
{
	long n;

	for (n = gen_due(st->started, g->c.churn_rate, soak.joins_started); n > 0; n--) {
		session_t *s = free_churner(g);

		soak.joins_started++;
		if (s)
			join_next_room(g, s);
		else
			g->churn.starved++;
	}
}

void soak_churn_answer(gen_t *g, session_t *s, int code)
{
	if (code != 200)
		g->churn.failed++;
	if (s->churn == CH_JOINING && code == 200) {
		g->churn.joins++;
		s->owed_from = g->room_k[s->room]; /* posts sent from now on */
		s->churn = CH_IN;
		s->due = now_s() + g->c.stay_s;
		return;
	}
	if (s->churn == CH_PARTING && code == 200)
		g->churn.parts++;
	s->prev_room = s->room;
	s->room = -1;
	s->churn = CH_IDLE;
}

/* Owed posts that have not come. */
static uint64_t missing(const session_t *s)
{
	uint64_t n = 0;
	int64_t k;

	for (k = s->owed_from; k < s->owed_until; k++)
		n += (uint64_t)k >= s->got_cap || !s->got[k];
	return n;
}

static void leave(gen_t *g, session_t *s)
{
	s->churn = CH_PARTING;
	gen_part(g, s);
}

/* Ends stays that are over and parts churners once they got what they are owed, or lost it. */
static void churn_cycles(gen_t *g, double now)
{
	int i;

	for (i = g->first_churner; i < g->ns; i++) {
		session_t *s = &g->s[i];
		uint64_t lost;

		if (s->churn == CH_IN && now >= s->due) {
			s->owed_until = g->room_k[s->room];
			s->churn = CH_OWED;
			s->due = now + g->c.drain_s;
		}
		if (s->churn != CH_OWED)
			continue;
		lost = missing(s);
		if (lost == 0 || now >= s->due) {
			g->churn.lost += lost;
			leave(g, s);
		}
	}
}

static int note_pair(int room, int64_t prev, int64_t k)
{
	if (soak.npairs == soak.cap) {
		size_t cap = soak.cap ? 2 * soak.cap : 4096;
		churn_pair_t *pairs = realloc(soak.pairs, cap * sizeof(*pairs));

		if (!pairs)
			return -1;
		soak.pairs = pairs;
		soak.cap = cap;
	}
	soak.pairs[soak.npairs++] = (churn_pair_t){room, prev, k};
	return 0;
}

void soak_churn_delivery(gen_t *g, session_t *s, int room, int64_t k, uint32_t tag)
{
	uint32_t *got;

	if (room != s->room) {
		if (room == s->prev_room)
			g->churn.late++; /* it was on its way when the part was answered */
		else
			g->churn.wrong++;
		return;
	}
	if (k >= g->room_k[room] || (got = gen_got_slot(s, k)) == NULL) {
		g->churn.wrong++;
		return;
	}
	if (*got) {
		g->churn.duplicates++;
		return;
	}
	*got = tag;
	if (s->last_k >= 0 && note_pair(room, s->last_k, k) < 0)
		g->churn.misordered++; /* out of memory: it cannot be judged, so it fails */
	s->last_k = k;
	g->churn.deliveries++;
}

static int churners_busy(const gen_t *g)
{
	int i;

	for (i = g->first_churner; i < g->ns; i++)
		if (g->s[i].churn != CH_IDLE)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ the loop */

static void progress(gen_t *g, const step_stats_t *st, double now)
{
	if (now < soak.next_progress)
		return;
	soak.next_progress = now + PROGRESS_S;
	fprintf(stderr, "pchat-load: soak %.0f s: %llu posts (%llu acked, %llu failed), %llu of "
			"%llu deliveries; churn: %llu joins, %llu parts, %llu lost, %llu failed\n",
			now - st->started, (unsigned long long)st->sent, (unsigned long long)st->acked,
			(unsigned long long)st->failed, (unsigned long long)st->deliveries,
			(unsigned long long)st->expected, (unsigned long long)g->churn.joins,
			(unsigned long long)g->churn.parts, (unsigned long long)g->churn.lost,
			(unsigned long long)g->churn.failed);
}

/* One turn of the steady load: the posts due, the churners' joins due and their cycles. */
void soak_tick(gen_t *g)
{
	step_stats_t *st = &g->steps[0];
	double now = now_s();

	post_due(g, st);
	if (now >= soak.next_tick) {
		soak.next_tick = now + CHURN_TICK_S;
		start_joins(g, st);
		churn_cycles(g, now);
		refresh_due(g, st);
	}
	progress(g, st, now);
}

/* Every pair of posts a churner got one after the other must be in that order among the
 * members' (a post no member got cannot be placed: it counts as out of order). */
static void check_churn_order(gen_t *g)
{
	int64_t **index = calloc((size_t)g->c.rooms, sizeof(*index));
	size_t i;
	int r;

	for (r = 0; index && r < g->c.rooms; r++) {
		const room_order_t *o = &g->order[r];

		index[r] = malloc((size_t)(g->room_k[r] + 1) * sizeof(**index));
		if (!index[r])
			break;
		memset(index[r], 0xff, (size_t)(g->room_k[r] + 1) * sizeof(**index)); /* -1 */
		for (i = o->len; i-- > 0;)
			if (o->k[i] >= 0 && o->k[i] <= g->room_k[r])
				index[r][o->k[i]] = (int64_t)i; /* where the members got it first */
	}
	for (i = 0; i < soak.npairs; i++) {
		const churn_pair_t *p = &soak.pairs[i];
		const int64_t *at = index && p->room < g->c.rooms ? index[p->room] : NULL;

		if (!at || at[p->prev] < 0 || at[p->k] < 0 || at[p->prev] >= at[p->k])
			g->churn.misordered++;
	}
	for (r = 0; index && r < g->c.rooms; r++)
		free(index[r]);
	free(index);
	free(soak.pairs);
	soak.pairs = NULL;
	soak.npairs = soak.cap = 0;
}

/* After the step's drain: every stay ends now, and the churners finish their cycles. */
void soak_finish(gen_t *g)
{
	double deadline = now_s() + g->c.drain_s + FINISH_S;
	int i;

	for (i = g->first_churner; i < g->ns; i++)
		if (g->s[i].churn == CH_IN)
			g->s[i].due = 0;
	while (churners_busy(g) && now_s() < deadline && !gen_stopping()) {
		churn_cycles(g, now_s());
		gen_poll(g, 1);
	}
	check_churn_order(g);
}

static int churn_passed(const gen_t *g)
{
	const churn_stats_t *c = &g->churn;

	return c->failed == 0 && c->starved == 0 && c->duplicates == 0 && c->misordered == 0
		   && c->wrong == 0 && c->lost == 0 && c->parts == c->joins
		   && (c->joins > 0 || g->c.churn_rate <= 0) && !churners_busy(g);
}

void soak_report(const gen_t *g, json_t *j)
{
	const churn_stats_t *c = &g->churn;

	json_open(j, "churn");
	json_int(j, "churners", g->ns - g->first_churner);
	json_int(j, "joins", (long long)c->joins);
	json_int(j, "parts", (long long)c->parts);
	json_int(j, "failed", (long long)c->failed);
	json_int(j, "starved", (long long)c->starved);
	json_int(j, "deliveries", (long long)c->deliveries);
	json_int(j, "duplicates", (long long)c->duplicates);
	json_int(j, "misordered", (long long)c->misordered);
	json_int(j, "wrong_room", (long long)c->wrong);
	json_int(j, "lost", (long long)c->lost);
	json_int(j, "late", (long long)c->late);
	json_bool(j, "passed", churn_passed(g));
	json_close(j);
}

/* The churners met what they are owed, and no session was refused a refresh or ended. */
int soak_passed(const gen_t *g)
{
	return churn_passed(g) && g->refresh_failed == 0 && g->server_byes == 0;
}
