/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <string.h>

#include "core/dprint.h"
#include "core/mem/shm_mem.h"
#include "modules/tm/tm_load.h"

#include "pchat_dialog.h"
#include "pchat_node.h"

static struct tm_binds tmb;
static pchat_dialog_senders_t senders;
static pchat_window_limits_t limits; /* every session's window, from the module parameters */

int pchat_dialog_init(const pchat_dialog_senders_t *hooks)
{
	if (load_tm_api(&tmb) < 0) {
		LM_ERR("cannot bind the tm module: load tm.so before pchat.so\n");
		return -1;
	}
	senders = *hooks;
	limits.max_pending = (uint32_t)pchat_params.max_pending;
	limits.max_queued = (uint32_t)pchat_params.max_queued;
	limits.max_bytes = (size_t)pchat_params.max_session_bytes;
	return 0;
}

/* What tm hands back to info_answered, in its callback parameter itself (no allocation per
 * INFO): the session (20 bits of slot, 20 of generation) and the bytes the INFO holds in the
 * session's window and the node's budget until its answer (24 bits). */
#define INFO_COST_MAX ((1u << 24) - 1)

typedef struct info_param {
	pchat_sref_t ref;
	size_t cost;
} info_param_t;

static size_t info_cost(size_t len)
{
	return pchat_window_cost(len, INFO_COST_MAX);
}

/* The 64 bits travel in tm's pointer-sized parameter: a narrower pointer would lose the
 * generation and the cost. */
_Static_assert(sizeof(void *) >= 8, "tm's callback parameter must hold 64 bits");

static void *pack_param(pchat_sref_t ref, size_t cost)
{
	uint64_t v = (uint64_t)cost << 40 | (uint64_t)(ref.gen & PCHAT_GEN_MASK) << 20
				 | (ref.slot & PCHAT_SLOT_MASK);

	return (void *)(uintptr_t)v;
}

static info_param_t unpack_param(void *param)
{
	uint64_t v = (uint64_t)(uintptr_t)param;
	info_param_t p = {{(uint32_t)(v & PCHAT_SLOT_MASK), (uint32_t)(v >> 20 & PCHAT_GEN_MASK)},
		(size_t)(v >> 40)};

	return p;
}

/* A sender is asked once per session: every failed delivery to a dead client would ask. */
void pchat_dialog_request_end(pchat_sref_t ref, const char *why, int bye)
{
	pchat_session_t *s = pchat_session_get(ref);
	int queue;

	if (!s)
		return;
	queue = !s->end_queued && s->state != PCHAT_S_ENDING;
	s->end_queued = 1;
	s->bye_on_end |= bye;
	pchat_session_unlock(s);
	if (!queue)
		return;
	LM_INFO("chat session %u.%u: %s; ending the session\n", ref.slot, ref.gen, why);
	if (senders.end_session(ref) < 0 && (s = pchat_session_get(ref)) != NULL) {
		s->end_queued = 0; /* the next failure (or the reaper) asks again */
		pchat_session_unlock(s);
	}
}

/* An INFO left the session's window (answered or timed out). The window moved: a sender sends
 * what waits - not here, inside tm's reply processing. */
static void info_done(const info_param_t *p)
{
	pchat_session_t *s;
	int drain;

	pchat_node_release(&pchat_shared->budget, p->cost);
	s = pchat_session_get(p->ref);
	if (!s)
		return;
	pchat_window_answered(&s->win, p->cost);
	drain = s->state != PCHAT_S_ENDING && pchat_window_ask_drain(&s->win, &limits);
	pchat_session_unlock(s);
	if (drain && senders.drain(p->ref) < 0 && (s = pchat_session_get(p->ref)) != NULL) {
		pchat_window_ask_failed(&s->win);
		pchat_session_unlock(s);
	}
}

/* Runs in whichever process gets the answer (or tm's timer process for a timeout), once per
 * INFO: it only queues the end of the session, which a sender carries out. */
static void info_answered(struct cell *t, int type, struct tmcb_params *ps)
{
	info_param_t p = unpack_param(*ps->param);
	char why[48];

	(void)t;
	(void)type;
	info_done(&p);
	if (ps->code < 300)
		return;
	update_stat(pchat_stat_delivery_failures, 1);
	if (ps->code == 408 || ps->code == 481 || ps->code == 487 || ps->code == 477) {
		snprintf(why, sizeof(why), "an INFO was answered %d", ps->code);
		pchat_dialog_request_end(p.ref, why, 0);
	}
}

/* The dialog of a session as tm needs it (pointing into the session's strings). */
static void session_dlg(pchat_session_t *s, dlg_t *dlg)
{
	memset(dlg, 0, sizeof(*dlg));
	dlg->id.call_id = s->call_id;
	dlg->id.loc_tag = s->local_tag;
	dlg->id.rem_tag = s->remote_tag;
	dlg->loc_uri = s->local_uri;
	dlg->rem_uri = s->remote_uri;
	dlg->rem_target = s->remote_target;
	dlg->loc_seq.value = s->local_cseq;
	dlg->loc_seq.is_set = s->local_cseq > 0;
	dlg->state = DLG_CONFIRMED;
	dlg->send_sock = s->send_sock;
	/* tm only reads the route set: the session's shm copy, parsed at the INVITE, serves */
	dlg->route_set = s->routes;
	/* no proxy in the path: back to where the client's requests come from */
	if (!s->routes)
		dlg->dst_uri = s->dst_uri;
}

/* Sends a request inside a locked session's dialog; 0 when tm took it. An INFO (cb set) is
 * counted in the session's window and the node's budget until its answer. */
static int send_locked(pchat_session_t *s, pchat_sref_t ref, str *method, const char *body,
		size_t len, transaction_cb *cb)
{
	static str info_headers = str_init("Content-Type: text/plain\r\n");
	str b = {(char *)body, (int)len};
	size_t charge = 0;
	uac_req_t uac;
	dlg_t dlg;
	int rc;

	session_dlg(s, &dlg);
	set_uac_req(&uac, method, len ? &info_headers : NULL, len ? &b : NULL, &dlg,
			cb ? TMCB_LOCAL_COMPLETED : 0, cb, cb ? pack_param(ref, info_cost(len)) : NULL);
	/* charged first: the answer, which releases it, may come before t_request_within returns */
	if (cb)
		charge = pchat_window_sent(&s->win, info_cost(len));
	pchat_node_charge(&pchat_shared->budget, charge);
	/* under the session's lock: CSeq numbers go out in order */
	rc = tmb.t_request_within(&uac);
	s->local_cseq = dlg.loc_seq.value;
	if (rc < 0 && cb) {
		pchat_window_answered(&s->win, charge);
		pchat_node_release(&pchat_shared->budget, charge);
	}
	return rc < 0 ? -1 : 0;
}

static int send_info_locked(pchat_session_t *s, pchat_sref_t ref, const char *body, size_t len)
{
	static str info = str_init("INFO");

	return send_locked(s, ref, &info, body, len, info_answered);
}

/* Every unanswered INFO holds a transaction in shared memory until it is answered or times out
 * (fr_timer), so a session has at most max_pending of them, and what it holds unanswered and
 * waiting is bounded in number (max_queued) and bytes (max_session_bytes): that bounds what a
 * dead or slow client can pin. A live client that answers more slowly than INFOs come (a burst
 * of notices at a login storm) only makes the rest wait; a client that stops answering runs
 * over its budget and is ended (it comes back and reads the backchat) - it pays, not the
 * posters of its rooms. */
int pchat_dialog_send_info(pchat_sref_t ref, const char *body, size_t len)
{
	pchat_session_t *s;
	int rc = 0;

	s = pchat_session_get(ref);
	if (!s)
		return -1;
	if (s->state == PCHAT_S_ENDING) {
		pchat_session_unlock(s);
		return -1;
	}
	switch (pchat_window_offer(&s->win, &limits, info_cost(len))) {
		case PCHAT_WINDOW_SEND:
			rc = send_info_locked(s, ref, body, len);
			pchat_session_unlock(s);
			if (rc < 0)
				pchat_dialog_request_end(ref, "an INFO could not be sent", 0);
			return rc;
		case PCHAT_WINDOW_WAIT:
			rc = pchat_session_queue_push(s, body, len);
			pchat_session_unlock(s);
			return rc;
		case PCHAT_WINDOW_OVER:
			break;
	}
	pchat_session_unlock(s);
	pchat_dialog_request_end(ref, "the client leaves too many INFOs unanswered (max_queued, "
			"max_session_bytes)", 1);
	return -1;
}

void pchat_dialog_drain(pchat_sref_t ref)
{
	pchat_queued_info_t *q;
	pchat_session_t *s;
	int failed = 0;

	s = pchat_session_get(ref);
	if (!s)
		return;
	pchat_window_drain_started(&s->win);
	while (!failed && s->state != PCHAT_S_ENDING && pchat_window_may_drain(&s->win, &limits)
			&& (q = pchat_session_queue_pop(s)) != NULL) {
		failed = send_info_locked(s, ref, q->body, q->len) < 0;
		shm_free(q);
	}
	pchat_session_unlock(s);
	if (failed)
		pchat_dialog_request_end(ref, "an INFO could not be sent", 0);
}

int pchat_dialog_bye_locked(pchat_session_t *s, pchat_sref_t ref)
{
	static str bye = str_init("BYE");

	return send_locked(s, ref, &bye, NULL, 0, NULL);
}
