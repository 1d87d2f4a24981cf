/*
 * pchat-load: runs one benchmark scenario and prints its figures as JSON (progress on stderr).
 *
 *   pchat-load --mode options  --server IP:PORT --rates 5000,10000 [--step 5]
 *   pchat-load --mode fanout   --server IP:PORT[,IP:PORT...] --rooms 10 --members 150
 *                              --guids FILE --rates 50,100 [--step 5 --drain 3 --max-p99 200
 *                              --pause 2]
 *   pchat-load --mode imc      --server IP:PORT --listen-port P --rooms 10 --members 150 --rates ...
 *   pchat-load --mode login    --server IP:PORT --guids FILE --rates 250,500 [--step 5]
 *   pchat-load --mode sessions --server IP:PORT --sessions 80000 [--login-rate 2000 --hold 10]
 *   pchat-load --mode query    --server IP:PORT --sessions 16 --queries FILE [--duration 30
 *                              --expect '<msg ' --expect-count 25]
 *   pchat-load --mode soak     --server IP:PORT --sessions 20000 --guids FILE --duration 1800
 *                              [--churn-rate 20 --stay 10 --refresh 300 --drain 10
 *                              --max-p99 200]
 *                              (FILE: "GUID MEMBERS POSTS_PER_S" a line; see soak.c)
 *   pchat-load --mode reconnect --server IP:PORT --again IP:PORT --guids FILE --sessions N
 *                              [--window 300 --duration 600]
 *
 * reconnect: N sessions log in fully on --server (at most --window at a time), then the
 * generator says "ready for the kill" on stderr and waits for a line on its standard input:
 * meanwhile the caller kills that server. Then the same users log in again through --again
 * (a front end), at most --window logins in progress at once (a failed one is tried again
 * after a second, up to RECONNECT_ATTEMPTS times, as clients do), for at most --duration s;
 * step 1 holds the figures, from the line read to the last session back in its rooms.
 *
 * A step offers one rate for --step seconds, then waits up to --drain seconds for what is still
 * due; it passes with nothing lost, nothing twice, nothing failed, every recipient of a room
 * getting its posts in one same order (the room's), and p99 under --max-p99 ms.
 * Steps stop after the first that fails: the last one passed is the maximum sustained.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gen.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

int gen_stopping(void)
{
	return stop_requested;
}

void gen_die(const char *what)
{
	fprintf(stderr, "pchat-load: %s\n", what);
	exit(2);
}

/* ------------------------------------------------------------------ options */

static char **read_lines(const char *path, int *n)
{
	FILE *f = fopen(path, "r");
	char line[4096], **out = NULL;
	int cap = 0;

	*n = 0;
	if (!f)
		gen_die("cannot read a --guids or --queries file");
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			out = realloc(out, (size_t)cap * sizeof(*out));
			if (!out)
				gen_die("out of memory");
		}
		out[(*n)++] = strdup(line);
	}
	fclose(f);
	return out;
}

static void parse_list(const char *text, conf_t *c)
{
	char *copy = strdup(text), *tok, *save = NULL;

	for (tok = strtok_r(copy, ",", &save); tok && c->nrates < MAX_STEPS;
			tok = strtok_r(NULL, ",", &save))
		c->rates[c->nrates++] = atof(tok);
	free(copy);
}

static void parse_servers(const char *text, conf_t *c)
{
	char *copy = strdup(text), *tok, *save = NULL;

	for (tok = strtok_r(copy, ",", &save); tok && c->nservers < MAX_SERVERS;
			tok = strtok_r(NULL, ",", &save))
		if (net_parse_addr(tok, &c->servers[c->nservers++]) < 0)
			gen_die("--server wants IP:PORT[,IP:PORT...]");
	free(copy);
}

static const struct {
	const char *name;
	run_mode_t mode;
} modes[] = {
	{"options", RUN_OPTIONS}, {"fanout", RUN_FANOUT}, {"imc", RUN_IMC}, {"login", RUN_LOGIN},
	{"sessions", RUN_SESSIONS}, {"query", RUN_QUERY}, {"soak", RUN_SOAK},
	{"reconnect", RUN_RECONNECT},
};

static void parse_args(int argc, char **argv, conf_t *c)
{
	static const struct option opts[] = {
		{"mode", 1, 0, 'm'}, {"server", 1, 0, 's'}, {"domain", 1, 0, 'd'}, {"pool", 1, 0, 'p'},
		{"sockets", 1, 0, 'k'}, {"rooms", 1, 0, 'r'}, {"members", 1, 0, 'M'},
		{"guids", 1, 0, 'g'}, {"rates", 1, 0, 'R'}, {"step", 1, 0, 't'}, {"drain", 1, 0, 'D'},
		{"max-p99", 1, 0, 'P'}, {"sessions", 1, 0, 'n'}, {"login-rate", 1, 0, 'L'},
		{"hold", 1, 0, 'H'}, {"pause", 1, 0, 'W'}, {"duration", 1, 0, 'T'}, {"queries", 1, 0, 'q'},
		{"expect", 1, 0, 'e'}, {"expect-count", 1, 0, 'E'}, {"listen-port", 1, 0, 'l'},
		{"churn-rate", 1, 0, 'c'}, {"stay", 1, 0, 'S'}, {"refresh", 1, 0, 'F'},
		{"again", 1, 0, 'a'}, {"window", 1, 0, 'w'}, {0, 0, 0, 0}};
	const char *mode = NULL;
	size_t i;
	int o;

	memset(c, 0, sizeof(*c));
	c->domain = "pchat.test";
	c->pool_uri = "sip:pchat@pchat.test";
	c->sockets = 32;
	c->step_s = 5;
	c->drain_s = 3;
	c->max_p99_ms = 200;
	c->login_rate = 1000;
	c->hold_s = 5;
	c->duration_s = 30;
	c->churn_rate = 20;
	c->stay_s = 10;
	c->refresh_s = 300; /* half the module's default session_expires, as RFC 4028 asks */
	c->window = 300;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
			case 'm': mode = optarg; break;
			case 's': parse_servers(optarg, c); break;
			case 'd': c->domain = optarg; break;
			case 'p': c->pool_uri = optarg; break;
			case 'k': c->sockets = atoi(optarg); break;
			case 'r': c->rooms = atoi(optarg); break;
			case 'M': c->members = atoi(optarg); break;
			case 'g': c->guids = read_lines(optarg, &c->nguids); break;
			case 'R': parse_list(optarg, c); break;
			case 't': c->step_s = atof(optarg); break;
			case 'D': c->drain_s = atof(optarg); break;
			case 'P': c->max_p99_ms = atof(optarg); break;
			case 'n': c->sessions = atoi(optarg); break;
			case 'L': c->login_rate = atof(optarg); break;
			case 'H': c->hold_s = atof(optarg); break;
			case 'W': c->pause_s = atof(optarg); break;
			case 'T': c->duration_s = atof(optarg); break;
			case 'q': c->queries = read_lines(optarg, &c->nqueries); break;
			case 'e': c->expect = optarg; break;
			case 'E': c->expect_count = atoi(optarg); break;
			case 'l': c->listen_port = atoi(optarg); break;
			case 'c': c->churn_rate = atof(optarg); break;
			case 'S': c->stay_s = atof(optarg); break;
			case 'F': c->refresh_s = atof(optarg); break;
			case 'a':
				if (net_parse_addr(optarg, &c->again) < 0)
					gen_die("--again wants IP:PORT");
				break;
			case 'w': c->window = atoi(optarg); break;
			default: gen_die("unknown option (see the comment at the top of main.c)");
		}
	}
	for (i = 0; mode && i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(mode, modes[i].name) == 0)
			break;
	if (!mode || i == sizeof(modes) / sizeof(modes[0]))
		gen_die("--mode options|fanout|imc|login|sessions|query|soak|reconnect is required");
	c->mode = modes[i].mode;
	if (!c->nservers)
		gen_die("--server IP:PORT is required");
	if (c->sockets < 1 || c->sockets > MAX_SOCKETS)
		gen_die("--sockets must be 1 to 256");
	if ((c->mode == RUN_FANOUT || FULL_LOGIN(c->mode) || c->mode == RUN_SOAK) && !c->nguids)
		gen_die("--guids FILE (room GUIDs, one a line) is required");
	if (c->mode == RUN_SOAK)
		soak_read_rooms(c);
	if ((c->mode == RUN_FANOUT || c->mode == RUN_IMC) && (c->rooms < 1 || c->members < 1))
		gen_die("--rooms and --members are required");
	if (c->mode == RUN_IMC && !c->listen_port)
		gen_die("--listen-port (imc's outbound_proxy) is required");
	if (c->mode == RUN_QUERY && (!c->nqueries || c->sessions < 1))
		gen_die("--queries FILE and --sessions N are required");
	if (c->mode == RUN_RECONNECT && (!c->again.sin_port || c->sessions < 1 || c->window < 1))
		gen_die("--again IP:PORT, --sessions N and a --window of 1 or more are required");
	if ((c->mode == RUN_OPTIONS || c->mode == RUN_FANOUT || c->mode == RUN_IMC
				|| c->mode == RUN_LOGIN) && !c->nrates)
		gen_die("--rates R1,R2,... is required");
}

/* ------------------------------------------------------------------ the loop */

void gen_poll(gen_t *g, int timeout_ms)
{
	net_poll(g->loop, timeout_ms, gen_on_datagram, g);
	gen_retransmit(g, now_s());
}

static void pump(gen_t *g, double seconds)
{
	double end = now_s() + seconds;

	while (now_s() < end && !stop_requested)
		gen_poll(g, 1);
}

/* Waits until the servers sent nothing for quiet seconds (join notices delivered), at most
 * limit seconds: measurements start on an idle server. */
static void settle(gen_t *g, double quiet, double limit)
{
	double end = now_s() + limit;

	while (now_s() < end && now_s() - g->last_request < quiet && !stop_requested)
		gen_poll(g, 5);
}

/* How many to send now to keep up rate since start (at most a burst of 500). */
long gen_due(double start, double rate, uint64_t sent)
{
	long want = (long)((now_s() - start) * rate) - (long)sent;

	return want > 500 ? 500 : want;
}

static int count_state(const gen_t *g, int from, int to, int state)
{
	int i, n = 0;

	for (i = from; i < to; i++)
		n += g->s[i].state == state;
	return n;
}

/* Starts sessions [from, to) at rate and waits until each is ready or failed. */
static void log_in(gen_t *g, int from, int to, double rate, int step)
{
	double start = now_s(), deadline;
	int next = from, i;
	long n;

	while (next < to && !stop_requested) {
		for (n = gen_due(start, rate, (uint64_t)(next - from)); n > 0 && next < to; n--, next++) {
			g->s[next].step = step;
			gen_start_session(g, &g->s[next]);
		}
		gen_poll(g, 1);
	}
	deadline = now_s() + 30;
	while (now_s() < deadline && !stop_requested) {
		for (i = from; i < to; i++)
			if (g->s[i].state == S_INVITING || g->s[i].state == S_LOGGING_IN)
				break;
		if (i == to)
			break;
		gen_poll(g, 1);
	}
}

static void hang_up_all(gen_t *g)
{
	double deadline;
	int i;

	for (i = 0; i < g->ns && !stop_requested; i++) {
		gen_hang_up(g, &g->s[i]);
		if (i % 200 == 199)
			gen_poll(g, 1); /* BYEs in batches: the server's socket buffer is finite */
	}
	deadline = now_s() + 20;
	while (now_s() < deadline && !stop_requested && count_state(g, 0, g->ns, S_HANGING_UP))
		gen_poll(g, 5);
}

/* ------------------------------------------------------------------ steps */

static void step_begin(gen_t *g, int i)
{
	step_stats_t *st = &g->steps[i];

	st->offered = g->c.rates[i];
	st->started = now_s();
	g->cur = i;
	fprintf(stderr, "pchat-load: step %d: offering %.0f/s for %.0f s\n", i + 1, st->offered,
			g->c.step_s);
}

/* Modes whose steps are judged by the deliveries of their posts. */
static int posts_mode(const gen_t *g)
{
	return g->c.mode == RUN_FANOUT || g->c.mode == RUN_IMC || g->c.mode == RUN_SOAK;
}

static uint64_t expected_deliveries(const gen_t *g, const step_stats_t *st)
{
	if (g->c.mode == RUN_SOAK)
		return st->expected;
	if (g->c.mode == RUN_FANOUT)
		return st->acked * (uint64_t)g->c.members;
	if (g->c.mode == RUN_IMC)
		return st->acked * (uint64_t)(g->c.members - 1);
	return st->sent;
}

static uint64_t step_done(const gen_t *g, const step_stats_t *st)
{
	return posts_mode(g) ? st->deliveries : st->acked + st->failed;
}

/* Waits until everything the step is owed arrived (or the drain time is up). */
static void step_end(gen_t *g, int i)
{
	step_stats_t *st = &g->steps[i];
	double deadline;

	st->ended = now_s();
	g->cur = -1;
	deadline = st->ended + g->c.drain_s;
	while (now_s() < deadline && !stop_requested
			&& (step_done(g, st) < expected_deliveries(g, st)
				|| (posts_mode(g) && st->acked + st->failed < st->sent)))
		gen_poll(g, 1);
}

static int step_passed(const gen_t *g, const step_stats_t *st)
{
	/* imc promises no room order (members may see two posts in either order): counted, not failed */
	return st->failed == 0 && st->duplicates == 0 && st->wrong == 0
		   && (st->misordered == 0 || g->c.mode == RUN_IMC)
		   && step_done(g, st) >= expected_deliveries(g, st) && st->lat.n > 0
		   && histo_pct(&st->lat, 99) <= g->c.max_p99_ms
		   && (g->c.mode != RUN_SOAK || soak_passed(g));
}

static void run_posts(gen_t *g, int i)
{
	step_stats_t *st = &g->steps[i];
	int rooms = g->c.rooms;
	long n;

	step_begin(g, i);
	while (now_s() - st->started < g->c.step_s && !stop_requested) {
		for (n = gen_due(st->started, st->offered, st->sent); n > 0; n--) {
			/* rooms take turns; within a room its members take turns to post */
			int room = (int)(st->sent % (uint64_t)rooms);
			int64_t k = g->room_k[room]++;
			session_t *s = &g->s[room * g->c.members + (int)(k % g->c.members)];

			if (s->state == S_READY)
				gen_post(g, s, k, i);
			else
				st->failed++;
			st->sent++;
		}
		gen_poll(g, 1);
	}
	step_end(g, i);
}

/* soak mode: the steady mixed load of soak.c as one step; an outside sampler (the soak test)
 * waits for the lines "steady load for" and "steady load over" on stderr. */
static void run_soak(gen_t *g)
{
	step_stats_t *st = &g->steps[0];

	fprintf(stderr, "pchat-load: soak: steady load for %.0f s\n", g->c.step_s);
	step_begin(g, 0);
	while (now_s() - st->started < g->c.step_s && !stop_requested) {
		soak_tick(g);
		gen_poll(g, 1);
	}
	fprintf(stderr, "pchat-load: soak: steady load over\n");
	step_end(g, 0);
	soak_finish(g);
}

static void run_options(gen_t *g, int i)
{
	step_stats_t *st = &g->steps[i];
	long n;

	step_begin(g, i);
	while (now_s() - st->started < g->c.step_s && !stop_requested) {
		for (n = gen_due(st->started, st->offered, st->sent); n > 0; n--)
			gen_send_options(g);
		gen_poll(g, 1);
	}
	step_end(g, i);
}

/* login mode: every step logs in fresh sessions at its rate. */
static void run_logins(gen_t *g, int i, int *next)
{
	step_stats_t *st = &g->steps[i];
	int count = (int)(g->c.rates[i] * g->c.step_s);

	if (*next + count > g->ns)
		count = g->ns - *next;
	step_begin(g, i);
	st->sent = (uint64_t)count;
	log_in(g, *next, *next + count, st->offered, i);
	st->ended = now_s();
	g->cur = -1;
	*next += count;
}

static void run_queries(gen_t *g)
{
	step_stats_t *st = &g->steps[0];
	int i;

	step_begin(g, 0);
	while (now_s() - st->started < g->c.duration_s && !stop_requested) {
		for (i = 0; i < g->ns; i++)
			if (g->s[i].state == S_READY && !g->s[i].busy) {
				gen_send_query(g, &g->s[i]);
				st->sent++;
			}
		gen_poll(g, 1);
	}
	st->ended = now_s();
	g->cur = -1;
	pump(g, 2); /* the last answers */
}

/* ------------------------------------------------------------------ reconnect */

#define RECONNECT_ATTEMPTS 5

/* A session that failed to log in, or that its server ended (BYE), logs in again later. */
static int may_retry(const session_t *s)
{
	return (s->state == S_FAILED || s->state == S_GONE) && s->attempts < RECONNECT_ATTEMPTS;
}

static int may_start(const session_t *s, double now)
{
	return s->state == S_NEW || (may_retry(s) && s->retry_at <= now);
}

/* Logs every session in, counted in step (-1: nowhere), with at most --window logins in
 * progress; a failed login is tried again after its retry time, up to RECONNECT_ATTEMPTS times.
 * Returns when each is ready or failed for good, or after limit_s. */
static void log_in_windowed(gen_t *g, int step, double limit_s)
{
	double end = now_s() + limit_s, now;
	int busy, pending, i;

	do {
		now = now_s();
		busy = pending = 0;
		for (i = 0; i < g->ns; i++) {
			busy += g->s[i].state == S_INVITING || g->s[i].state == S_LOGGING_IN;
			pending += g->s[i].state == S_NEW || may_retry(&g->s[i]);
		}
		for (i = 0; i < g->ns && busy < g->c.window; i++) {
			if (!may_start(&g->s[i], now))
				continue;
			g->s[i].step = step;
			g->s[i].attempts++;
			gen_start_session(g, &g->s[i]);
			busy++;
		}
		pump(g, 0.005);
	} while ((busy || pending) && now_s() < end && !stop_requested);
}

/* Answers the servers' requests until a line arrives on the standard input. */
static void wait_for_go(gen_t *g)
{
	struct pollfd in = {0, POLLIN, 0};
	char line[64];

	fprintf(stderr, "pchat-load: %d sessions ready, %d failed; ready for the kill\n",
			count_state(g, 0, g->ns, S_READY), count_state(g, 0, g->ns, S_FAILED));
	while (!stop_requested && poll(&in, 1, 0) == 0)
		gen_poll(g, 5);
	if (!fgets(line, sizeof(line), stdin))
		fprintf(stderr, "pchat-load: standard input closed: logging in again now\n");
}

/* The server of every session died: they become new sessions of the same users, with new
 * Call-IDs, that log in through --again. */
static void forget_all(gen_t *g)
{
	int i;

	for (i = 0; i < g->ns; i++) {
		gen_forget_session(g, &g->s[i]);
		g->s[i].server = 0;
		g->s[i].attempts = 0;
	}
	for (i = 0; i <= RETX_LEVELS; i++)
		g->retx[i].head = g->retx[i].tail;
	g->run = (unsigned)rand();
	g->c.servers[0] = g->c.again;
	g->c.nservers = 1;
}

static void run_reconnect(gen_t *g, double *login_s)
{
	step_stats_t *st = &g->steps[0];
	double t0 = now_s();

	fprintf(stderr, "pchat-load: logging in %d sessions, %d at a time\n", g->ns, g->c.window);
	log_in_windowed(g, -1, 3600);
	*login_s = now_s() - t0;
	settle(g, 1, 60);
	wait_for_go(g);
	forget_all(g);
	g->nsteps = 1;
	st->offered = g->ns;
	st->sent = (uint64_t)g->ns;
	st->started = now_s();
	g->cur = 0;
	log_in_windowed(g, 0, g->c.duration_s);
	g->cur = -1;
	st->ended = g->last_login > st->started ? g->last_login : now_s();
	g->back = count_state(g, 0, g->ns, S_READY);
	fprintf(stderr, "pchat-load: %d of %d back in %.1f s\n", g->back, g->ns,
			st->ended - st->started);
}

/* ------------------------------------------------------------------ report */

static void report(gen_t *g, const char *mode, double login_s)
{
	json_t j = {0};
	int i;

	json_open(&j, NULL);
	json_str(&j, "mode", mode);
	json_int(&j, "sessions", g->ns);
	json_int(&j, "logged_in", (long long)g->logged_in);
	json_int(&j, "login_failed", (long long)g->login_failed);
	json_num(&j, "login_seconds", login_s);
	json_int(&j, "send_errors", (long long)g->send_errors);
	json_int(&j, "retransmitted", (long long)g->retransmitted);
	json_int(&j, "timeouts", (long long)g->timeouts);
	json_int(&j, "server_retransmissions", (long long)g->server_retransmissions);
	json_int(&j, "server_byes", (long long)g->server_byes);
	json_int(&j, "refreshes", (long long)g->refreshes);
	json_int(&j, "refresh_failed", (long long)g->refresh_failed);
	json_int(&j, "malformed", (long long)g->malformed);
	json_int(&j, "query_errors", (long long)g->query_errors);
	json_int(&j, "refused_503", (long long)g->refused_503);
	json_int(&j, "refused_other", (long long)g->refused_other);
	if (g->c.mode == RUN_RECONNECT)
		json_int(&j, "back", g->back);
	json_array(&j, "steps");
	for (i = 0; i < g->nsteps; i++) {
		const step_stats_t *st = &g->steps[i];
		double secs = st->ended > st->started ? st->ended - st->started : 1;

		json_open(&j, NULL);
		json_num(&j, "offered", st->offered);
		json_num(&j, "seconds", secs);
		json_int(&j, "sent", (long long)st->sent);
		json_int(&j, "acked", (long long)st->acked);
		json_int(&j, "failed", (long long)st->failed);
		json_int(&j, "expected", (long long)expected_deliveries(g, st));
		json_int(&j, "deliveries", (long long)st->deliveries);
		json_int(&j, "duplicates", (long long)st->duplicates);
		json_int(&j, "wrong_room", (long long)st->wrong);
		json_int(&j, "misordered", (long long)st->misordered);
		json_num(&j, "rate", (double)(posts_mode(g) ? st->deliveries : st->acked) / secs);
		json_latency(&j, "latency_ms", &st->lat);
		if (posts_mode(g))
			json_latency(&j, "ack_ms", &st->ack);
		json_bool(&j, "passed", step_passed(g, st));
		json_close(&j);
	}
	json_array_end(&j);
	if (g->c.mode == RUN_SOAK)
		soak_report(g, &j);
	if (g->post_last) {
		/* a room of its own: when each post reached its last recipient */
		json_array(&j, "post_last_ms");
		for (i = 0; i < g->room_k[0] && (size_t)i < g->post_last_cap; i++)
			json_num(&j, NULL, g->post_last[i]);
		json_array_end(&j);
	}
	json_close(&j);
	printf("%s\n", j.s);
	free(j.s);
}

/* ------------------------------------------------------------------ main */

static void open_sockets(gen_t *g)
{
	int i, port;

	for (i = 0; i < g->c.sockets; i++) {
		g->fds[i] = net_udp_socket(0, &g->ports[i]);
		if (g->fds[i] < 0)
			gen_die("cannot open a UDP socket");
	}
	g->nfds = g->c.sockets;
	g->listen = -1;
	if (g->c.mode == RUN_IMC) {
		g->fds[g->nfds] = net_udp_socket(g->c.listen_port, &port);
		if (g->fds[g->nfds] < 0)
			gen_die("cannot bind --listen-port");
		g->ports[g->nfds] = port;
		g->listen = g->nfds++;
	}
}

static int sessions_needed(const conf_t *c)
{
	double total = 0;
	int i;

	if (c->mode == RUN_FANOUT || c->mode == RUN_IMC)
		return c->rooms * c->members;
	if (c->mode == RUN_LOGIN) {
		for (i = 0; i < c->nrates; i++)
			total += c->rates[i] * c->step_s;
		return (int)total;
	}
	return c->mode == RUN_OPTIONS ? 0 : c->sessions; /* sessions, query, soak */
}

/* Sessions are logged in before the posts (fanout, imc, sessions, query). */
static double log_in_all(gen_t *g)
{
	double t0 = now_s();

	int m = g->c.members, r;

	fprintf(stderr, "pchat-load: logging in %d sessions at %.0f/s\n", g->ns, g->c.login_rate);
	if (g->c.mode == RUN_IMC) {
		/* imc creates a room on its first #join: that one goes first, alone, so no two joins
		 * race to create the room */
		for (r = 0; r < g->c.rooms; r++)
			log_in(g, r * m, r * m + 1, g->c.login_rate, 0);
		for (r = 0; r < g->c.rooms; r++)
			log_in(g, r * m + 1, (r + 1) * m, g->c.login_rate, 0);
	} else {
		log_in(g, 0, g->ns, g->c.login_rate, 0);
	}
	fprintf(stderr, "pchat-load: %d sessions ready, %d failed, in %.1f s\n",
			count_state(g, 0, g->ns, S_READY), count_state(g, 0, g->ns, S_FAILED), now_s() - t0);
	return now_s() - t0;
}

/* --pause: time for an outside tool (the cost scenario's instruction counter) to start or stop
 * measuring when the steps begin or end; it waits for this line on stderr. */
static void pause_around_steps(gen_t *g, const char *what)
{
	if (g->c.pause_s <= 0)
		return;
	fprintf(stderr, "pchat-load: %s\n", what);
	pump(g, g->c.pause_s);
}

static void run(gen_t *g, double *login_s)
{
	int i, next = 0;

	*login_s = 0;
	if (g->c.mode == RUN_RECONNECT) {
		run_reconnect(g, login_s);
		return;
	}
	if (g->c.mode == RUN_FANOUT || g->c.mode == RUN_IMC || g->c.mode == RUN_SESSIONS
			|| g->c.mode == RUN_QUERY || g->c.mode == RUN_SOAK) {
		*login_s = log_in_all(g);
		settle(g, 1, 60);
	}
	if (g->c.mode == RUN_SESSIONS) {
		fprintf(stderr, "established %d\n", count_state(g, 0, g->ns, S_READY));
		pump(g, g->c.hold_s);
	} else if (g->c.mode == RUN_QUERY) {
		g->nsteps = 1;
		run_queries(g);
	} else if (g->c.mode == RUN_SOAK) {
		g->nsteps = 1;
		run_soak(g);
	}
	if (g->c.mode == RUN_QUERY || g->c.mode == RUN_SESSIONS || g->c.mode == RUN_SOAK)
		return;
	pause_around_steps(g, "ready for the steps");
	for (i = 0; i < g->c.nrates && !stop_requested; i++) {
		g->nsteps = i + 1;
		if (g->c.mode == RUN_OPTIONS)
			run_options(g, i);
		else if (g->c.mode == RUN_LOGIN)
			run_logins(g, i, &next);
		else
			run_posts(g, i);
		if (!step_passed(g, &g->steps[i]))
			break;
	}
	pause_around_steps(g, "steps done");
}

int main(int argc, char **argv)
{
	static gen_t g;
	struct rlimit rl;
	double login_s;
	int i;

	parse_args(argc, argv, &g.c);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	net_raise_limits();
	srand((unsigned)getpid());
	g.run = (unsigned)rand();
	g.cur = -1;
	open_sockets(&g);
	g.loop = malloc(sizeof(*g.loop));
	if (!g.loop || net_loop_init(g.loop, g.fds, g.nfds) < 0)
		gen_die("cannot set up epoll");
	for (i = 0; i < MAX_STEPS; i++)
		if (histo_init(&g.steps[i].lat) < 0 || histo_init(&g.steps[i].ack) < 0)
			gen_die("out of memory");
	g.room_k = calloc((size_t)(g.c.rooms ? g.c.rooms : 1), sizeof(*g.room_k));
	g.order = calloc((size_t)(g.c.rooms ? g.c.rooms : 1), sizeof(*g.order));
	if (!g.room_k || !g.order || gen_sessions_init(&g, sessions_needed(&g.c)) < 0
			|| (g.c.mode == RUN_SOAK && soak_place_sessions(&g) < 0))
		gen_die("out of memory");
	if (g.c.mode == RUN_FANOUT && g.c.rooms == 1) {
		g.post_last_cap = 100000;
		g.post_last = calloc(g.post_last_cap, sizeof(*g.post_last));
		if (!g.post_last)
			gen_die("out of memory");
	}
	run(&g, &login_s);
	hang_up_all(&g);
	report(&g, modes[g.c.mode].name, login_s);
	return stop_requested ? 1 : 0;
}
