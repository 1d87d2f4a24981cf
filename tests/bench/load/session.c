/*
 * The SIP and XCCOS side of the generator's sessions: requests with their retransmissions, the
 * login sequences, answering what the servers send, and checking every delivery (right room,
 * in order, once) as it is timed.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen.h"

#define NS "urn:parlano:xml:ns:xccos"
#define MAX_MSG 8192
#define T1 0.5 /* s: first retransmission over UDP */

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long now_us(void)
{
	return (long long)(now_s() * 1e6);
}

static uint32_t rnd(void)
{
	static uint64_t x = 88172645463325252ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return (uint32_t)x;
}

int gen_sessions_init(gen_t *g, int n)
{
	int nsock = g->nfds - (g->listen >= 0), i;

	g->s = calloc((size_t)(n ? n : 1), sizeof(*g->s));
	if (!g->s)
		return -1;
	g->ns = n;
	for (i = 0; i < n; i++) {
		session_t *s = &g->s[i];

		s->idx = (uint32_t)i;
		s->sock = (uint16_t)(i % nsock);
		s->server = (uint16_t)(i % g->c.nservers);
		s->envid = rnd();
		s->room = g->c.members ? i / g->c.members : 0;
	}
	return 0;
}

/* ------------------------------------------------------------------ transactions */

static void retx_push(gen_t *g, int level, uint32_t sess, uint32_t cseq, double due)
{
	retx_queue_t *q = &g->retx[level];

	if (q->tail - q->head == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 4096, i;
		retx_entry_t *e = malloc(cap * sizeof(*e));

		if (!e) {
			perror("pchat-load: out of memory");
			exit(2);
		}
		for (i = q->head; i < q->tail; i++)
			e[i - q->head] = q->e[i % q->cap];
		free(q->e);
		q->e = e;
		q->tail -= q->head;
		q->head = 0;
		q->cap = cap;
	}
	q->e[q->tail++ % q->cap] = (retx_entry_t){sess, cseq, due};
}

static void send_to_server(gen_t *g, session_t *s, const char *msg, int len)
{
	if (net_send(g->fds[s->sock], &g->c.servers[s->server], msg, len) < 0)
		g->send_errors++;
}

static tx_t *tx_find(session_t *s, uint32_t cseq)
{
	int i;

	for (i = 0; i < s->ntx; i++)
		if (s->tx[i].cseq == cseq)
			return &s->tx[i];
	return NULL;
}

static void tx_remove(session_t *s, tx_t *t)
{
	free(t->msg);
	*t = s->tx[--s->ntx];
}

/* Sends a request and keeps it for retransmission until its final response. */
static void tx_send(gen_t *g, session_t *s, tx_kind_t kind, int step, const char *msg, int len)
{
	tx_t *t;

	send_to_server(g, s, msg, len);
	if (s->ntx == TX_MAX) {
		g->send_errors++; /* no room to track it: it goes out once */
		return;
	}
	t = &s->tx[s->ntx++];
	t->cseq = s->cseq;
	t->kind = (uint8_t)kind;
	t->level = 0;
	t->step = (uint16_t)(step < 0 ? 0 : step);
	t->sent = now_s();
	t->len = len;
	t->msg = malloc((size_t)len);
	if (t->msg)
		memcpy(t->msg, msg, (size_t)len);
	retx_push(g, 0, s->idx, t->cseq, t->sent + T1);
}

static void tx_failed(gen_t *g, session_t *s, tx_t *t);

void gen_retransmit(gen_t *g, double now)
{
	int level;

	for (level = 0; level <= RETX_LEVELS; level++) {
		retx_queue_t *q = &g->retx[level];

		while (q->head < q->tail && q->e[q->head % q->cap].due <= now) {
			retx_entry_t e = q->e[q->head++ % q->cap];
			session_t *s = &g->s[e.sess];
			tx_t *t = tx_find(s, e.cseq);

			if (!t || t->level != level)
				continue; /* answered (or answered provisionally) meanwhile */
			if (level == RETX_LEVELS) {
				g->timeouts++;
				tx_failed(g, s, t);
				continue;
			}
			send_to_server(g, s, t->msg, t->len);
			g->retransmitted++;
			t->level++;
			retx_push(g, level + 1, e.sess, e.cseq, now + T1 * (2 << level));
		}
	}
}

/* ------------------------------------------------------------------ requests */

/* A request of the session: in its dialog (to the chat service) or, for imc, to a room. The
 * Call-ID names the run, the session and its login attempt (a login tried again is a new
 * dialog). */
static int format_request(gen_t *g, session_t *s, const char *method, const char *ruri,
		const char *to, const char *body, char *out)
{
	int blen = body ? (int)strlen(body) : 0, n;

	n = snprintf(out, MAX_MSG, "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK"
			"%08x%08x\r\n%s%s%sMax-Forwards: 70\r\nFrom: <sip:u%u@%s>;tag=t%u\r\nTo: <%s>%s%s\r\n"
			"Call-ID: L%x-%u.%u\r\nCSeq: %u %s\r\nContact: <sip:u%u@127.0.0.1:%d>\r\n"
			"%sContent-Length: %d\r\n\r\n%s", method, ruri, g->ports[s->sock], rnd(), rnd(),
			s->route ? "Route: " : "", s->route ? s->route : "", s->route ? "\r\n" : "",
			s->idx, g->c.domain, s->idx, to, s->rtag[0] ? ";tag=" : "", s->rtag, g->run, s->idx,
			(unsigned)s->attempts, s->cseq, method, s->idx, g->ports[s->sock], body ? "Content-Type: text/plain\r\n" : "",
			blen, body ? body : "");
	return n < MAX_MSG ? n : -1;
}

static void send_in_dialog(gen_t *g, session_t *s, const char *method, tx_kind_t kind, int step,
		const char *body)
{
	char msg[MAX_MSG];
	int n;

	s->cseq++;
	n = format_request(g, s, method, s->target, g->c.pool_uri, body, msg);
	if (n > 0)
		tx_send(g, s, kind, step, msg, n);
}

static void send_cmd(gen_t *g, session_t *s, const char *name, const char *data)
{
	char body[4096];

	s->cmd_envid = ++s->envid;
	s->cmd_sent = now_s();
	snprintf(body, sizeof(body), "<xccos ver=\"1\" envid=\"%llu\" xmlns=\"" NS "\"><cmd id=\"cmd:"
			"%s\" seqid=\"1\"><data>%s</data></cmd></xccos>", (unsigned long long)s->cmd_envid,
			name, data);
	send_in_dialog(g, s, "INFO", TX_CMD, -1, body);
}

/* imc: a MESSAGE to the session's room. */
static void send_to_room(gen_t *g, session_t *s, const char *text, tx_kind_t kind, int step)
{
	char room[128], msg[MAX_MSG];
	int n;

	snprintf(room, sizeof(room), "sip:room%d@%s", s->room, g->c.domain);
	s->cseq++;
	n = format_request(g, s, "MESSAGE", room, room, text, msg);
	if (n > 0)
		tx_send(g, s, kind, step, msg, n);
}

static void room_uri(gen_t *g, int i, char *out, size_t len)
{
	snprintf(out, len, "ma-chan://%s/%s", g->c.domain, g->c.guids[i % g->c.nguids]);
}

/* Joins the session's room (s->room). */
void gen_join(gen_t *g, session_t *s)
{
	char data[512];

	snprintf(data, sizeof(data), "<chanid key=\"0\" domain=\"%s\" value=\"%s\"/>", g->c.domain,
			g->c.guids[s->room % g->c.nguids]);
	send_cmd(g, s, "join", data);
}

void gen_part(gen_t *g, session_t *s)
{
	char data[512], uri[160];

	room_uri(g, s->room, uri, sizeof(uri));
	snprintf(data, sizeof(data), "<chanib uri=\"%s\"/>", uri);
	send_cmd(g, s, "part", data);
}

/* RFC 4028: the server ends a session whose client stays silent past Session-Expires. */
void gen_refresh(gen_t *g, session_t *s)
{
	g->refreshes++;
	send_in_dialog(g, s, "UPDATE", TX_REFRESH, -1, NULL);
}

void gen_start_session(gen_t *g, session_t *s)
{
	char msg[MAX_MSG];
	int n;

	s->login_started = now_s();
	s->login_step = 0;
	if (g->c.mode == RUN_IMC) {
		s->state = S_LOGGING_IN;
		send_to_room(g, s, "#join", TX_MESSAGE, -1);
		return;
	}
	s->state = S_INVITING;
	s->cseq = 1;
	s->rtag[0] = '\0';
	free(s->route); /* an earlier attempt's */
	s->route = NULL;
	n = format_request(g, s, "INVITE", g->c.pool_uri, g->c.pool_uri, NULL, msg);
	if (n > 0)
		tx_send(g, s, TX_INVITE, -1, msg, n);
}

void gen_forget_session(gen_t *g, session_t *s)
{
	(void)g;
	while (s->ntx)
		tx_remove(s, &s->tx[0]);
	s->state = S_NEW;
	s->rtag[0] = '\0';
	free(s->route);
	s->route = NULL;
	s->cmd_envid = 0;
	s->seen_hi = 0;
	s->seen_bits = 0;
}

void gen_hang_up(gen_t *g, session_t *s)
{
	if (s->state != S_READY && s->state != S_LOGGING_IN) {
		if (s->state != S_INVITING)
			s->state = S_GONE;
		return;
	}
	if (g->c.mode == RUN_IMC) {
		s->state = S_GONE;
		return;
	}
	s->state = S_HANGING_UP;
	send_in_dialog(g, s, "BYE", TX_BYE, -1, NULL);
}

/* "p ROOM K STEP TIME_US": what a post says, checked and timed where it arrives. */
void gen_post(gen_t *g, session_t *s, int64_t k, int step)
{
	char text[128], body[1024], uri[160];

	snprintf(text, sizeof(text), "p %d %lld %d %lld", s->room, (long long)k, step, now_us());
	if (g->c.mode == RUN_IMC) {
		send_to_room(g, s, text, TX_POST, step);
		return;
	}
	room_uri(g, s->room, uri, sizeof(uri));
	snprintf(body, sizeof(body), "<xccos ver=\"1\" envid=\"%llu\" xmlns=\"" NS "\"><grpchat id="
			"\"grpchat\" seqid=\"1\" chanUri=\"%s\"><chat>%s</chat></grpchat></xccos>",
			(unsigned long long)++s->envid, uri, text);
	send_in_dialog(g, s, "INFO", TX_POST, step, body);
}

void gen_send_query(gen_t *g, session_t *s)
{
	const char *q = g->c.queries[rnd() % (uint32_t)g->c.nqueries], *tab = strchr(q, '\t');
	char name[32];

	snprintf(name, sizeof(name), "%.*s", tab ? (int)(tab - q) : 0, q);
	s->busy = 1;
	send_cmd(g, s, name, tab ? tab + 1 : "");
}

void gen_send_options(gen_t *g)
{
	int nsock = g->nfds - (g->listen >= 0), sock = (int)(g->opt_n % (size_t)nsock);
	const struct sockaddr_in *to = &g->c.servers[g->opt_n % (size_t)g->c.nservers];
	char msg[1024];
	int n;

	if (g->opt_n == g->opt_cap) {
		g->opt_cap = g->opt_cap ? g->opt_cap * 2 : 65536;
		g->opt_sent = realloc(g->opt_sent, g->opt_cap * sizeof(*g->opt_sent));
		if (!g->opt_sent) {
			perror("pchat-load: out of memory");
			exit(2);
		}
	}
	n = snprintf(msg, sizeof(msg), "OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP "
			"127.0.0.1:%d;branch=z9hG4bK%08x%08x\r\nMax-Forwards: 70\r\nFrom: <sip:load@%s>;"
			"tag=o%x\r\nTo: <sip:127.0.0.1:%d>\r\nCall-ID: O%x-%zu\r\nCSeq: 1 OPTIONS\r\n"
			"Content-Length: 0\r\n\r\n", ntohs(to->sin_port), g->ports[sock], rnd(), rnd(),
			g->c.domain, g->run, ntohs(to->sin_port), g->run, g->opt_n);
	g->opt_sent[g->opt_n++] = now_s();
	if (net_send(g->fds[sock], to, msg, n) < 0)
		g->send_errors++;
	if (g->cur >= 0)
		g->steps[g->cur].sent++;
}

/* ------------------------------------------------------------------ the login sequences */

static void login_done(gen_t *g, session_t *s)
{
	s->state = S_READY;
	g->logged_in++;
	g->last_login = now_s();
	if (FULL_LOGIN(g->c.mode) && s->step >= 0) {
		step_stats_t *st = &g->steps[s->step];

		st->acked++;
		histo_add(&st->lat, (now_s() - s->login_started) * 1000);
	}
}

static void login_failed(gen_t *g, session_t *s)
{
	s->state = S_FAILED;
	s->retry_at = now_s() + 1; /* reconnect: as a client would, a second later */
	g->login_failed++;
	if (FULL_LOGIN(g->c.mode) && s->step >= 0)
		g->steps[s->step].failed++;
}

/* The next command of the session's login: a join (fanout, and soak but for its churners), or
 * getserverinfo, a batch join of the login rooms and a backchat of each (login mode). */
static void login_next(gen_t *g, session_t *s)
{
	char data[2048], uri[160];
	int i, n = 0;

	if ((g->c.mode == RUN_FANOUT || g->c.mode == RUN_SOAK) && s->login_step == 0 && s->room >= 0) {
		gen_join(g, s);
	} else if (FULL_LOGIN(g->c.mode) && s->login_step == 0) {
		snprintf(data, sizeof(data), "<sib domain=\"%s\" infoType=\"123\"/>", g->c.domain);
		send_cmd(g, s, "getserverinfo", data);
	} else if (FULL_LOGIN(g->c.mode) && s->login_step == 1) {
		for (i = 0; i < LOGIN_ROOMS; i++)
			n += snprintf(data + n, sizeof(data) - (size_t)n, "<chanid key=\"%d\" domain=\"%s\" "
					"value=\"%s\"/>", i, g->c.domain, g->c.guids[i % g->c.nguids]);
		send_cmd(g, s, "bjoin", data);
	} else if (FULL_LOGIN(g->c.mode) && s->login_step < 2 + LOGIN_ROOMS) {
		room_uri(g, s->login_step - 2, uri, sizeof(uri));
		snprintf(data, sizeof(data), "<chanib uri=\"%s\"/><bcq><last cnt=\"25\"/></bcq>", uri);
		send_cmd(g, s, "bccontext", data);
	} else {
		login_done(g, s);
		return;
	}
	s->state = S_LOGGING_IN;
	s->login_step++;
}

/* ------------------------------------------------------------------ what comes back */

/* soak: a session of no room of its own, which joins and parts rooms in turn. */
static int is_churner(const gen_t *g, const session_t *s)
{
	return g->c.mode == RUN_SOAK && (int)s->idx >= g->first_churner;
}

static void tx_failed(gen_t *g, session_t *s, tx_t *t)
{
	tx_kind_t kind = (tx_kind_t)t->kind;
	int step = t->step;

	tx_remove(s, t);
	if (kind == TX_POST)
		g->steps[step].failed++;
	else if (kind == TX_BYE)
		s->state = S_GONE;
	else if (kind == TX_REFRESH)
		g->refresh_failed++;
	else if (s->state == S_INVITING || s->state == S_LOGGING_IN)
		login_failed(g, s);
	else if (is_churner(g, s) && kind == TX_CMD)
		soak_churn_answer(g, s, 0);
	else if (g->c.mode == RUN_QUERY && kind == TX_CMD) {
		g->query_errors++;
		s->busy = 0;
	}
}

/* A UAC's route set: the Record-Route entries of the 2xx, last first. NULL without any. */
static char *route_set(const sip_msg_t *m)
{
	const char *entry[4 * SIP_MAX_RR];
	int len[4 * SIP_MAX_RR], n = 0, i, used = 0, total = 0;
	char *out;

	for (i = 0; i < m->nrr; i++) {
		const char *p = m->rr[i], *end = p + m->rr_len[i], *comma;

		for (; p < end && n < 4 * SIP_MAX_RR; p = comma + 1) {
			while (p < end && *p == ' ')
				p++;
			comma = memchr(p, ',', (size_t)(end - p));
			if (!comma)
				comma = end;
			entry[n] = p;
			len[n] = (int)(comma - p);
			total += len[n++] + 2;
		}
	}
	if (!n || !(out = malloc((size_t)total + 1)))
		return NULL;
	for (i = n - 1; i >= 0; i--)
		used += sprintf(out + used, "%s%.*s", used ? ", " : "", len[i], entry[i]);
	return out;
}

/* The ACK of the INVITE's 2xx: it carries the INVITE's CSeq, whatever the session sent since. */
static void send_ack(gen_t *g, session_t *s, uint32_t invite_cseq)
{
	char ack[MAX_MSG];
	uint32_t cseq = s->cseq;
	int n;

	s->cseq = invite_cseq;
	n = format_request(g, s, "ACK", s->target, g->c.pool_uri, NULL, ack);
	s->cseq = cseq;
	if (n > 0)
		send_to_server(g, s, ack, n);
}

static void on_invite_ok(gen_t *g, session_t *s, const sip_msg_t *m)
{
	free(s->route);
	s->route = route_set(m);
	snprintf(s->rtag, sizeof(s->rtag), "%.*s", m->to_tag_len, m->to_tag ? m->to_tag : "");
	snprintf(s->target, sizeof(s->target), "%.*s", m->contact_len,
			m->contact ? m->contact : g->c.pool_uri);
	send_ack(g, s, m->cseq);
	s->state = S_LOGGING_IN;
	login_next(g, s);
}

/* A 2xx to the INVITE again, for the session's dialog: the server did not get the ACK (lost on
 * the way, or late behind a busy front end), and ends the session after 32 s unless it comes. */
static int is_invite_ok_again(const session_t *s, const sip_msg_t *m)
{
	return m->status >= 200 && m->status < 300 && m->cseq_method_len == 6
		   && memcmp(m->cseq_method, "INVITE", 6) == 0 && s->rtag[0]
		   && m->to_tag_len == (int)strlen(s->rtag)
		   && memcmp(m->to_tag, s->rtag, (size_t)m->to_tag_len) == 0
		   && (s->state == S_LOGGING_IN || s->state == S_READY);
}

static void on_response(gen_t *g, session_t *s, const sip_msg_t *m)
{
	tx_t *t = tx_find(s, m->cseq);
	tx_kind_t kind;
	double sent;
	int step;

	if (!t) {
		if (is_invite_ok_again(s, m))
			send_ack(g, s, m->cseq);
		return; /* a retransmitted response */
	}
	if (m->status < 200) {
		t->level = 0xff; /* it arrived: no more retransmissions */
		return;
	}
	kind = (tx_kind_t)t->kind;
	sent = t->sent;
	step = t->step;
	if (m->status >= 300) {
		if (m->status == 503)
			g->refused_503++;
		else
			g->refused_other++;
		tx_failed(g, s, t);
		return;
	}
	tx_remove(s, t);
	switch (kind) {
		case TX_INVITE:
			on_invite_ok(g, s, m);
			break;
		case TX_MESSAGE: /* imc: joined */
			login_done(g, s);
			break;
		case TX_POST:
			g->steps[step].acked++;
			histo_add(&g->steps[step].ack, (now_s() - sent) * 1000);
			if (g->c.mode == RUN_SOAK) /* every member of the post's room is owed it */
				g->steps[step].expected += (uint64_t)g->c.room_members[s->room];
			break;
		case TX_BYE:
			s->state = S_GONE;
			break;
		default:
			break;
	}
}

static void on_options_response(gen_t *g, const sip_msg_t *m)
{
	const char *dash = memchr(m->call_id, '-', (size_t)m->call_id_len);
	size_t n = dash ? strtoul(dash + 1, NULL, 10) : (size_t)-1;
	int i;

	if (n >= g->opt_n || g->opt_sent[n] == 0)
		return;
	for (i = g->nsteps - 1; i > 0 && g->steps[i].started > g->opt_sent[n]; i--)
		;
	g->steps[i].acked++;
	histo_add(&g->steps[i].lat, (now_s() - g->opt_sent[n]) * 1000);
	g->opt_sent[n] = 0; /* answered: a second answer is not counted */
}

/* 1 when the server sent this request before (a retransmission). */
static int seen_before(session_t *s, uint32_t cseq)
{
	if (cseq > s->seen_hi) {
		uint32_t shift = cseq - s->seen_hi;

		s->seen_bits = shift >= 64 ? 0 : s->seen_bits << shift;
		s->seen_bits |= shift <= 64 ? 1ULL << (shift - 1) : 0;
		s->seen_hi = cseq;
		return 0;
	}
	if (s->seen_hi - cseq >= 64)
		return 1;
	if (cseq == s->seen_hi)
		return 1;
	if (s->seen_bits & (1ULL << (s->seen_hi - cseq - 1)))
		return 1;
	s->seen_bits |= 1ULL << (s->seen_hi - cseq - 1);
	return 0;
}

/* What tells a server's retransmission from a second delivery of a post: XCCOS retransmissions
 * are caught by CSeq before a delivery is looked at, so every INFO has the same tag; imc sends
 * each delivery as a transaction of its own, tagged by its Call-ID (never XCCOS_TAG). */
#define XCCOS_TAG 1u

static uint32_t call_id_tag(const sip_msg_t *m)
{
	uint32_t h = 2166136261u;
	int i;

	for (i = 0; i < m->call_id_len; i++)
		h = (h ^ (uint8_t)m->call_id[i]) * 16777619u;
	return h | 2u;
}

/* The session's slot for post k (grown on demand); NULL when out of memory. */
uint32_t *gen_got_slot(session_t *s, int64_t k)
{
	if ((uint64_t)k >= s->got_cap) {
		uint32_t cap = s->got_cap ? s->got_cap : 64, *got;

		while (cap <= (uint64_t)k)
			cap *= 2;
		got = realloc(s->got, cap * sizeof(*got));
		if (!got)
			return NULL;
		memset(got + s->got_cap, 0, (cap - s->got_cap) * sizeof(*got));
		s->got = got;
		s->got_cap = cap;
	}
	return &s->got[k];
}

/* 0 when post k comes next in the room's order as this session follows it. */
int gen_follow_room_order(gen_t *g, session_t *s, int64_t k)
{
	room_order_t *o = &g->order[s->room];
	int ok = 1;

	if (s->pos == o->len) {
		if (o->len == o->cap) {
			size_t cap = o->cap ? 2 * o->cap : 256;
			int64_t *ks = realloc(o->k, cap * sizeof(*ks));

			if (!ks)
				return -1;
			o->k = ks;
			o->cap = cap;
		}
		o->k[o->len++] = k;
	} else {
		ok = o->k[s->pos] == k;
	}
	s->pos++;
	return ok ? 0 : -1;
}

static void on_delivery(gen_t *g, session_t *s, const char *text, uint32_t tag)
{
	long long k, t;
	int room, step;
	step_stats_t *st;
	uint32_t *got;
	double ms;

	if (sscanf(text, "p %d %lld %d %lld", &room, &k, &step, &t) != 4 || step < 0
			|| step >= g->nsteps || k < 0) {
		g->malformed++;
		return;
	}
	if (is_churner(g, s)) {
		soak_churn_delivery(g, s, room, k, tag);
		return;
	}
	st = &g->steps[step];
	if (room != s->room || k >= g->room_k[room]) {
		st->wrong++;
		return;
	}
	if ((got = gen_got_slot(s, k)) == NULL) {
		g->malformed++;
		return;
	}
	if (*got) {
		if (*got == tag && tag != XCCOS_TAG)
			g->server_retransmissions++;
		else
			st->duplicates++;
		return;
	}
	*got = tag;
	if (gen_follow_room_order(g, s, k) < 0)
		st->misordered++;
	st->deliveries++;
	ms = (double)(now_us() - t) / 1000.0;
	histo_add(&st->lat, ms);
	if (g->post_last && (size_t)k < g->post_last_cap && ms > g->post_last[k])
		g->post_last[k] = ms;
}

static int count_of(const char *hay, int len, const char *needle)
{
	int n = 0, nl = (int)strlen(needle);
	const char *p = hay, *end = hay + len;

	while ((p = mem_find(p, (int)(end - p), needle, nl)) != NULL) {
		n++;
		p += nl;
	}
	return n;
}

/* A reply to the session's command: its resp code, and for queries what it must contain. */
static void on_reply(gen_t *g, session_t *s, const char *body, int len)
{
	const char *end = body + len, *cid = mem_find(body, len, "<commandid", 10), *v;
	int vlen, code = 0, ok;

	if (!cid || xml_attr(cid, end, "envid", &v, &vlen) < 0
			|| strtoull(v, NULL, 10) != s->cmd_envid)
		return; /* a further part of an answered reply, or not ours */
	if ((v = mem_find(body, len, "<resp code=\"", 12)) != NULL)
		code = atoi(v + 12);
	s->cmd_envid = 0;
	if (s->state == S_LOGGING_IN) {
		if (code == 200)
			login_next(g, s);
		else
			login_failed(g, s);
		return;
	}
	if (is_churner(g, s)) {
		soak_churn_answer(g, s, code);
		return;
	}
	if (g->c.mode != RUN_QUERY || !s->busy)
		return;
	ok = code == 200 && (!g->c.expect || count_of(body, len, g->c.expect) == g->c.expect_count);
	if (ok) {
		g->steps[0].acked++;
		histo_add(&g->steps[0].lat, (now_s() - s->cmd_sent) * 1000);
	} else {
		g->query_errors++;
		g->steps[0].failed++;
	}
	s->busy = 0;
}

static void on_info(gen_t *g, session_t *s, const sip_msg_t *m)
{
	const char *chat;

	if (seen_before(s, m->cseq)) {
		g->server_retransmissions++;
		return;
	}
	if (!m->body || m->body_len == 0)
		return;
	if (mem_find(m->body, m->body_len, "<rpl ", 5))
		on_reply(g, s, m->body, m->body_len);
	else if ((chat = mem_find(m->body, m->body_len, "<chat>p ", 8)) != NULL)
		on_delivery(g, s, chat + 6, XCCOS_TAG);
}

/* The session a request or response is about: by Call-ID (L<run>-<index>.<attempt>, the
 * session's current attempt only), or for imc deliveries by the R-URI user (u<index>). */
static session_t *session_of(gen_t *g, const sip_msg_t *m, int delivery_socket)
{
	char want[16], *end;
	unsigned long idx, attempt;
	int n;

	if (delivery_socket) {
		if (m->ruri_len < 6 || strncmp(m->ruri, "sip:u", 5) != 0)
			return NULL;
		idx = strtoul(m->ruri + 5, NULL, 10);
		return idx < (unsigned long)g->ns ? &g->s[idx] : NULL;
	}
	n = snprintf(want, sizeof(want), "L%x-", g->run);
	if (m->call_id_len <= n || memcmp(m->call_id, want, (size_t)n) != 0)
		return NULL;
	idx = strtoul(m->call_id + n, &end, 10);
	attempt = *end == '.' ? strtoul(end + 1, NULL, 10) : (unsigned long)-1;
	return idx < (unsigned long)g->ns && attempt == g->s[idx].attempts ? &g->s[idx] : NULL;
}

static void answer(gen_t *g, int sock, const struct sockaddr_in *from, const sip_msg_t *m,
		int status)
{
	char out[4096];
	int n = sip_response(m, status, "gen", out, sizeof(out));

	if (n > 0 && net_send(g->fds[sock], from, out, n) < 0)
		g->send_errors++;
}

void gen_on_datagram(void *ctx, int sock, const struct sockaddr_in *from, char *buf, int len)
{
	gen_t *g = ctx;
	session_t *s;
	sip_msg_t m;
	const char *text;

	if (len < 12 || sip_parse(buf, len, &m) < 0) {
		if (len > 4) /* keep-alives are 4 bytes or less */
			g->malformed++;
		return;
	}
	if (!m.is_request) {
		if (m.call_id_len && m.call_id[0] == 'O')
			on_options_response(g, &m);
		else if ((s = session_of(g, &m, 0)) != NULL)
			on_response(g, s, &m);
		return;
	}
	g->last_request = now_s();
	s = session_of(g, &m, sock == g->listen);
	/* a request of a session this run does not know (an old run's) is refused: the server
	 * ends that session instead of sending to it for ever */
	answer(g, sock, from, &m, s ? 200 : 481);
	if (!s)
		return;
	if (m.method_len == 3 && memcmp(m.method, "BYE", 3) == 0) {
		/* a front end that failed an INVITE over to another node can bring a second 2xx, whose
		 * dialog the server ends later: that ends only the dialog the session is in */
		if (g->c.mode != RUN_IMC && (!m.from_tag || m.from_tag_len != (int)strlen(s->rtag)
					|| memcmp(m.from_tag, s->rtag, (size_t)m.from_tag_len) != 0))
			return;
		if (s->state == S_READY || s->state == S_LOGGING_IN)
			g->server_byes++; /* the server ended the session */
		s->state = S_GONE;
		s->retry_at = now_s() + 1; /* reconnect: as a client would, a second later */
	} else if (m.method_len == 4 && memcmp(m.method, "INFO", 4) == 0) {
		on_info(g, s, &m);
	} else if (m.method_len == 7 && memcmp(m.method, "MESSAGE", 7) == 0 && m.body
			&& (text = mem_find(m.body, m.body_len, ": p ", 4)) != NULL) {
		on_delivery(g, s, text + 2, call_id_tag(&m));
	}
}
