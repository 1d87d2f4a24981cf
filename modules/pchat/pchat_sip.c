/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/data_lump_rpl.h"
#include "core/dprint.h"
#include "core/flags.h"
#include "core/forward.h"
#include "core/mem/mem.h"
#include "core/parser/contact/parse_contact.h"
#include "core/parser/parse_content.h"
#include "core/parser/parse_cseq.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_to.h"
#include "core/parser/parse_uri.h"
#include "core/pvar.h"
#include "core/strutils.h"
#include "modules/sl/sl.h"
#include "modules/tm/tm_load.h"

#include "pchat_end.h"
#include "pchat_limits.h"
#include "pchat_node.h"
#include "pchat_service.h"
#include "pchat_session.h"
#include "pchat_sip.h"
#include "pchat_webapi.h"

static struct tm_binds tmb;
static sl_api_t slb;
static struct sip_uri pool_uri;


int pchat_sip_init(void)
{
	if (load_tm_api(&tmb) < 0) {
		LM_ERR("cannot bind the tm module: load tm.so before pchat.so\n");
		return -1;
	}
	if (sl_load_api(&slb) < 0) {
		LM_ERR("cannot bind the sl module: load sl.so before pchat.so\n");
		return -1;
	}
	if (parse_uri(pchat_pool_uri.s, pchat_pool_uri.len, &pool_uri) < 0) {
		LM_ERR("cannot parse pool_uri %.*s\n", pchat_pool_uri.len, pchat_pool_uri.s);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ answering */

static int add_header(struct sip_msg *msg, const char *hdr)
{
	if (!add_lump_rpl(msg, (char *)hdr, (int)strlen(hdr), LUMP_RPL_HDR)) {
		LM_ERR("cannot add a header to the reply\n");
		return -1;
	}
	return 0;
}

/* Answers statefully; tm absorbs retransmissions of the request. */
static int reply(struct sip_msg *msg, int code, const char *reason)
{
	if (tmb.t_reply(msg, code, (char *)reason) < 0) {
		LM_ERR("cannot send %d %s\n", code, reason);
		return -2;
	}
	return code < 300 ? 1 : -2;
}

/* 503 with Retry-After: the database is unreachable or the node is full. */
static int reply_unavailable(struct sip_msg *msg, const char *reason)
{
	add_header(msg, "Retry-After: 5\r\n");
	return reply(msg, 503, reason);
}

/* Answers a result as pchat_rc_sip maps it; an unreachable back end with 503, its own reason
 * and Retry-After (the client may try again soon). */
static int reply_result(struct sip_msg *msg, pchat_rc_t rc, const char *unavailable)
{
	if (rc == PCHAT_ERR_DOWN)
		return reply_unavailable(msg, unavailable);
	return reply(msg, pchat_rc_sip(rc), pchat_rc_reason(rc));
}

/* ------------------------------------------------------------------ which requests are ours */

/* The Request-URI names the chat service: the pool URI, or the Contact we gave (pool user at
 * one of our addresses). */
static int is_for_service(struct sip_msg *msg)
{
	struct sip_uri *u;

	if (parse_sip_msg_uri(msg) < 0)
		return 0;
	u = &msg->parsed_uri;
	if (u->user.len != pool_uri.user.len
			|| strncasecmp(u->user.s, pool_uri.user.s, pool_uri.user.len) != 0)
		return 0;
	if (u->host.len == pool_uri.host.len
			&& strncasecmp(u->host.s, pool_uri.host.s, pool_uri.host.len) == 0)
		return 1;
	return check_self(&u->host, u->port_no, u->proto) == 1;
}

/* ------------------------------------------------------------------ sessions */

/* "sip:IP:PORT;transport=PROTO" of where a request came from: answers go back the same way
 * (through the same TCP connection), whatever the Contact says. */
static void source_uri(struct sip_msg *msg, char *out, size_t len)
{
	const char *ip = ip_addr2a(&msg->rcv.src_ip);

	snprintf(out, len, msg->rcv.src_ip.af == AF_INET6 ? "sip:[%s]:%u;transport=%s"
													  : "sip:%s:%u;transport=%s",
			ip, msg->rcv.src_port, get_proto_name(msg->rcv.proto));
}

/* Where the client's connection ends, which every request of its session must share: what a
 * trusted front end says (modparam flow, set by the cfg from its header), or else this request's
 * own source - the address and port for UDP, the connection for TCP and TLS. Knowing a
 * session's Call-ID and tags is therefore not enough to act in it. 0 ok, -1 too long. */
static int request_flow(struct sip_msg *msg, char *out, size_t len)
{
	pv_value_t v;
	int n;

	memset(&v, 0, sizeof(v));
	if (pv_get_spec_value(msg, &pchat_flow_spec, &v) == 0 && !(v.flags & PV_VAL_NULL)
			&& (v.flags & PV_VAL_STR) && v.rs.len > 0) {
		n = snprintf(out, len, "fe:%.*s", v.rs.len, v.rs.s);
	} else if (msg->rcv.proto == PROTO_UDP) {
		n = snprintf(out, len, "udp:%s:%u", ip_addr2a(&msg->rcv.src_ip), msg->rcv.src_port);
	} else {
		n = snprintf(out, len, "%s:%s:%u:%d", get_proto_name(msg->rcv.proto),
				ip_addr2a(&msg->rcv.src_ip), msg->rcv.src_port, msg->rcv.proto_reserved1);
	}
	return n > 0 && (size_t)n < len ? 0 : -1;
}

/* 1 when the cfg marked the request as coming from a trusted peer (modparam trusted_flag). */
static int from_trusted_peer(struct sip_msg *msg)
{
	return pchat_params.trusted_flag >= 0
		   && isflagset(msg, (flag_t)pchat_params.trusted_flag) == 1;
}

/* The Record-Route headers of the request, joined: the route set of a UAS dialog. */
static int route_set(struct sip_msg *msg, char *out, size_t len, str *rs)
{
	struct hdr_field *h;
	size_t used = 0;

	for (h = msg->record_route; h; h = next_sibling_hdr(h)) {
		if (used + h->body.len + 2 >= len)
			return -1;
		if (used)
			out[used++] = ',';
		memcpy(out + used, h->body.s, h->body.len);
		used += h->body.len;
	}
	rs->s = out;
	rs->len = (int)used;
	return 0;
}

static int contact_uri(struct sip_msg *msg, str *uri)
{
	contact_body_t *cb;

	if (!msg->contact || parse_contact(msg->contact) < 0)
		return -1;
	cb = (contact_body_t *)msg->contact->parsed;
	if (!cb || !cb->contacts)
		return -1;
	*uri = cb->contacts->uri;
	return 0;
}

/* The user of a new session: the identity the front end established (modparam identity). */
static int session_identity(struct sip_msg *msg, char *user, size_t len)
{
	str ident;

	if (pv_printf_s(msg, pchat_identity_fmt, &ident) < 0 || ident.len <= 0)
		return -1;
	return pchat_user_normalize(ident.s, (size_t)ident.len, user, len);
}

/* The headers and the body of the 200 OK to a session's INVITE. */
typedef struct invite_answer {
	char headers[512];
	char sdp[512];
	str hdrs;
	str body;
} invite_answer_t;

static int build_invite_answer(struct sip_msg *msg, int expires, invite_answer_t *a)
{
	struct socket_info *si = msg->rcv.bind_address;
	str host = si->useinfo.name.len ? si->useinfo.name : si->address_str;
	str port = si->useinfo.port_no_str.len ? si->useinfo.port_no_str : si->port_no_str;
	int n, used, sdp = msg->content_length && get_content_length(msg) > 0;
	char expires_hdr[64] = "";

	if (expires > 0)
		snprintf(expires_hdr, sizeof(expires_hdr), "Session-Expires: %d;refresher=uac\r\n",
				expires);
	n = snprintf(a->headers, sizeof(a->headers), "Contact: <sip:%.*s@%.*s:%.*s;transport=%s>"
			"\r\n%s%s", pool_uri.user.len, pool_uri.user.s, host.len, host.s, port.len, port.s,
			get_proto_name(si->proto), expires_hdr,
			sdp ? "Content-Type: application/sdp\r\n" : "");
	if (n <= 0 || n >= (int)sizeof(a->headers))
		return -1;
	used = n;
	a->hdrs.s = a->headers;
	a->hdrs.len = used;
	a->body.s = a->sdp;
	a->body.len = 0;
	if (!sdp)
		return 0;
	/* An answer to the client's message session offer (sipe does not read it). */
	n = snprintf(a->sdp, sizeof(a->sdp), "v=0\r\no=- 0 0 IN IP4 %.*s\r\ns=session\r\n"
			"c=IN IP4 %.*s\r\nt=0 0\r\nm=message %.*s sip %s\r\n"
			"a=accept-types:text/plain\r\n", host.len, host.s, host.len, host.s,
			port.len, port.s, pchat_params.pool_uri);
	if (n <= 0 || n >= (int)sizeof(a->sdp))
		return -1;
	a->body.len = n;
	return 0;
}

/* Answers the INVITE of a new session 200 with the session's own To-tag (tm's would be
 * predictable). tm's reply-with-tag call releases a reference to the transaction, so one is
 * taken for it first. */
static int answer_invite(struct sip_msg *msg, const invite_answer_t *a, str *tag)
{
	static str ok = str_init("OK");
	unsigned int index, label;
	struct cell *t;

	if (tmb.t_get_trans_ident(msg, &index, &label) < 0
			|| tmb.t_lookup_ident(&t, index, label) < 0) {
		LM_ERR("the INVITE's transaction is gone\n");
		return -1;
	}
	/* It releases that reference whether or not the reply went out, except when it fails before
	 * building the reply (no memory): then one reference is lost, which is safer than
	 * releasing one that is not ours. */
	if (tmb.t_reply_with_body(t, 200, &ok, (str *)&a->body, (str *)&a->hdrs, tag) < 0) {
		LM_ERR("cannot send the 200 OK of a chat session\n");
		return -1;
	}
	return 1;
}

/* The dialog of a new session, as it will be kept; the strings point into msg and bufs. */
typedef struct new_dialog {
	pchat_session_init_t in;
	char user[PCHAT_USER_MAX];
	char tag[33];              /* 128 random bits */
	char dst[128];
	char flow[128];
	char source[PCHAT_SOURCE_MAX]; /* counted per address, "" for a trusted peer */
	char *route_buf;
} new_dialog_t;

/* Fills d from an INVITE; returns 0, or the SIP status that refuses it. */
static int read_new_dialog(struct sip_msg *msg, new_dialog_t *d)
{
	struct to_body *from = get_from(msg);
	const str *parts[9];
	size_t total = 0, i;

	d->in.call_id = msg->callid->body;
	d->in.remote_tag = from->tag_value;
	d->in.remote_uri = from->uri;
	d->in.local_uri = get_to(msg)->uri;
	if (contact_uri(msg, &d->in.remote_target) < 0)
		d->in.remote_target = from->uri;
	source_uri(msg, d->dst, sizeof(d->dst));
	d->in.dst_uri.s = d->dst;
	d->in.dst_uri.len = (int)strlen(d->dst);
	if (request_flow(msg, d->flow, sizeof(d->flow)) < 0)
		return 513;
	d->in.flow.s = d->flow;
	d->in.flow.len = (int)strlen(d->flow);
	if (route_set(msg, d->route_buf, (size_t)pchat_params.max_dialog_size, &d->in.route_set) < 0)
		return 513;
	if (!pchat_session_routes_valid(&d->in.route_set))
		return 400;
	d->in.user.s = d->user;
	d->in.user.len = (int)strlen(d->user);
	if (pchat_random_hex(d->tag, 16) < 0) {
		LM_ERR("no random numbers for a session's tag\n");
		return 500;
	}
	d->in.local_tag.s = d->tag;
	d->in.local_tag.len = 32;
	d->in.send_sock = msg->rcv.bind_address;
	d->in.expires = pchat_params.session_expires;
	/* over UDP a lost INFO is sent again after T1, behind the ones that followed it, and a
	 * front end's UDP workers may swap two: one at a time keeps the room's order */
	d->in.max_pending = msg->rcv.proto == PROTO_UDP ? (uint32_t)pchat_params.max_pending_udp : 0;
	/* every session of a pool arrives from its front end: limits per address would throttle
	 * the whole pool */
	if (!from_trusted_peer(msg))
		snprintf(d->source, sizeof(d->source), "%s", ip_addr2a(&msg->rcv.src_ip));
	d->in.source.s = d->source;
	d->in.source.len = (int)strlen(d->source);
	/* what the session copies into shared memory is bounded */
	parts[0] = &d->in.call_id;
	parts[1] = &d->in.remote_tag;
	parts[2] = &d->in.remote_uri;
	parts[3] = &d->in.local_uri;
	parts[4] = &d->in.remote_target;
	parts[5] = &d->in.route_set;
	parts[6] = &d->in.dst_uri;
	parts[7] = &d->in.flow;
	parts[8] = &d->in.user;
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		total += (size_t)parts[i]->len;
	return total > (size_t)pchat_params.max_dialog_size ? 513 : 0;
}

/* check_policy's refusal (a 403 of its own reason). */
#define PCHAT_POLICY_REFUSED 1

/* 0 when the Persistent Chat policy enables the user; PCHAT_POLICY_REFUSED when it does not,
 * the store's failure (a pchat_rc_t) when the database cannot tell. */
static int check_policy(const char *user)
{
	const pchat_chat_t *chat = pchat_service();
	int enabled = chat->store->policy_enabled(chat->store_h, user);

	if (enabled > 0)
		return 0;
	if (enabled < 0) {
		LM_WARN("chat session of %s refused: its policy cannot be read (database: %s)\n", user,
				pchat_rc_text(enabled));
		return enabled;
	}
	LM_NOTICE("chat session of %s refused: Persistent Chat is not enabled for the user "
			  "(pchat.policy)\n", user);
	return PCHAT_POLICY_REFUSED;
}

/* Counts the new session against the limits per user and per address; 0, or the SIP status
 * that refuses it. */
static int open_limits(const new_dialog_t *d)
{
	switch (pchat_limits_open(d->user, d->source)) {
		case PCHAT_LIMIT_OK:
			return 0;
		case PCHAT_LIMIT_USER:
			LM_NOTICE("new chat session of %s refused: the user has max_sessions_per_user (%d) "
					  "sessions\n", d->user, pchat_params.max_sessions_per_user);
			return 403;
		case PCHAT_LIMIT_SOURCE:
			LM_NOTICE("new chat session of %s refused: address %s has max_sessions_per_source "
					  "(%d) sessions\n", d->user, d->source, pchat_params.max_sessions_per_source);
			return 403;
		case PCHAT_LIMIT_MEMORY:
			break;
	}
	return 503;
}

static int handle_invite(struct sip_msg *msg)
{
	invite_answer_t answer;
	new_dialog_t d;
	pchat_session_t *s;
	pchat_sref_t ref;
	int rc;

	memset(&d, 0, sizeof(d));
	if (parse_headers(msg, HDR_EOH_F, 0) < 0 || parse_from_header(msg) < 0 || !msg->callid
			|| !msg->to) {
		LM_INFO("malformed INVITE from %s:%u\n", ip_addr2a(&msg->rcv.src_ip),
				msg->rcv.src_port);
		return tmb.t_newtran(msg) > 0 ? reply(msg, 400, "Bad Request") : 1;
	}
	rc = tmb.t_newtran(msg);
	if (rc <= 0)
		return 1; /* a retransmission (tm answers it) or an error tm logged */
	if (session_identity(msg, d.user, sizeof(d.user)) < 0) {
		LM_NOTICE("INVITE from %s:%u without a usable identity (modparam identity)\n",
				ip_addr2a(&msg->rcv.src_ip), msg->rcv.src_port);
		return reply(msg, 403, "Forbidden (no identity)");
	}
	d.route_buf = pkg_malloc(pchat_params.max_dialog_size);
	if (!d.route_buf) {
		PKG_MEM_ERROR;
		return reply(msg, 500, "Server Error");
	}
	rc = read_new_dialog(msg, &d);
	if (rc == 0 && build_invite_answer(msg, d.in.expires, &answer) < 0)
		rc = 500;
	if (rc != 0) {
		if (rc == 513)
			LM_NOTICE("INVITE of %s from %s:%u refused: its dialog headers exceed "
					  "max_dialog_size (%d bytes)\n", d.user, ip_addr2a(&msg->rcv.src_ip),
					msg->rcv.src_port, pchat_params.max_dialog_size);
		if (rc == 400)
			LM_NOTICE("INVITE of %s from %s:%u refused: its Record-Route does not parse\n",
					d.user, ip_addr2a(&msg->rcv.src_ip), msg->rcv.src_port);
		pkg_free(d.route_buf);
		return reply(msg, rc, rc == 513 ? "Dialog Headers Too Large"
							  : rc == 400 ? "Bad Record-Route" : "Server Error");
	}
	/* the checks in memory first: a flood of refused INVITEs costs no database query */
	if (!pchat_node_admits(&pchat_shared->budget)) {
		pkg_free(d.route_buf);
		LM_WARN("new chat session of %s refused: deliveries hold %lld bytes of shared memory, "
				"over max_node_bytes (%lld)\n", d.user,
				(long long)pchat_node_used(&pchat_shared->budget), (long long)pchat_shared->budget.limit);
		return reply_unavailable(msg, "Chat Service Busy");
	}
	rc = open_limits(&d);
	if (rc != 0) {
		pkg_free(d.route_buf);
		if (rc == 503)
			return reply_unavailable(msg, "Chat Service Unavailable");
		return reply(msg, 403, "Too Many Chat Sessions");
	}
	if ((rc = check_policy(d.user)) != 0) {
		pchat_limits_close(d.user, d.source);
		pkg_free(d.route_buf);
		if (rc == PCHAT_POLICY_REFUSED)
			return reply(msg, 403, "Persistent Chat Not Enabled");
		return reply_result(msg, rc, "Chat Service Unavailable");
	}
	s = pchat_session_create(&d.in, &ref);
	pkg_free(d.route_buf);
	if (!s) {
		pchat_limits_close(d.user, d.source);
		LM_WARN("cannot open a chat session for %s: %d sessions in use (max_sessions)\n",
				d.user, pchat_node_sessions());
		return reply_unavailable(msg, "Too Many Chat Sessions");
	}
	pchat_session_unlock(s);
	if (answer_invite(msg, &answer, &d.in.local_tag) < 0) {
		pchat_end_session(ref);
		return reply(msg, 500, "Server Error");
	}
	LM_DBG("chat session %u.%u for %s\n", ref.slot, ref.gen, d.user);
	return 1;
}

/* ------------------------------------------------------------------ in-dialog requests */

typedef struct in_dialog {
	pchat_sref_t ref;
	char user[PCHAT_USER_MAX];
	int expires;
} in_dialog_t;

/* Finds the session of an in-dialog request and notes the client's activity. 1 found. A
 * request that names a session but does not come from where the session's client is connected
 * does not find it. */
static int find_session(struct sip_msg *msg, in_dialog_t *d)
{
	char flow[128];
	pchat_session_t *s;
	struct to_body *to;

	if (!msg->callid || !msg->to || parse_from_header(msg) < 0)
		return 0;
	to = get_to(msg);
	if (!to || to->tag_value.len == 0 || request_flow(msg, flow, sizeof(flow)) < 0)
		return 0;
	s = pchat_session_find(&msg->callid->body, &to->tag_value, &get_from(msg)->tag_value,
			&d->ref);
	if (!s)
		return 0;
	if (s->state == PCHAT_S_ENDING) {
		pchat_session_unlock(s);
		return 0;
	}
	if ((size_t)s->flow.len != strlen(flow) || memcmp(s->flow.s, flow, s->flow.len) != 0) {
		LM_NOTICE("%.*s for the chat session of %.*s from %s:%u refused: the session's client "
				  "is connected elsewhere\n", msg->first_line.u.request.method.len,
				msg->first_line.u.request.method.s, s->user.len, s->user.s,
				ip_addr2a(&msg->rcv.src_ip), msg->rcv.src_port);
		pchat_session_unlock(s);
		return 0;
	}
	if (msg->REQ_METHOD == METHOD_ACK && s->state == PCHAT_S_EARLY)
		s->state = PCHAT_S_CONFIRMED;
	s->refreshed = time(NULL);
	memcpy(d->user, s->user.s, s->user.len + 1);
	d->expires = s->expires;
	pchat_session_unlock(s);
	return 1;
}

static const char *body_of(struct sip_msg *msg, size_t *len)
{
	char *body = get_body(msg);

	*len = 0;
	if (!body || !msg->content_length)
		return body;
	*len = (size_t)get_content_length(msg);
	return body;
}

/* Carries an INFO out and answers it; returns the status it answered. */
static int carry_out_info(struct sip_msg *msg, const in_dialog_t *d)
{
	const pchat_chat_t *chat = pchat_service();
	pchat_caller_t caller = {d->ref, d->user};
	pchat_rc_t st;
	pchat_env_t env;
	const char *body;
	char err[160];
	size_t len;
	int code;

	if (!pchat_limits_request(d->user)) {
		update_stat(pchat_stat_throttled, 1);
		LM_INFO("INFO from %s refused: over user_request_rate (%d/s, burst %d)\n", d->user,
				pchat_params.user_request_rate, pchat_params.user_request_burst);
		reply_unavailable(msg, "Too Many Requests");
		return 503;
	}
	body = body_of(msg, &len);
	st = pchat_xccos_parse(body ? body : "", len, (size_t)pchat_params.max_body_size, &env, err,
			sizeof(err));
	if (st != PCHAT_OK) {
		update_stat(pchat_stat_bad_requests, 1);
		LM_INFO("INFO from %s refused: %s (%s)\n", d->user, pchat_rc_text(st), err);
		reply(msg, pchat_rc_sip(st), pchat_rc_reason(st));
		return pchat_rc_sip(st);
	}
	if (env.kind == PCHAT_ENV_CMD) {
		/* the SIP answer only acknowledges the command; its result follows in an INFO */
		code = 200;
		reply(msg, code, "OK");
		update_stat(pchat_stat_commands, 1);
		pchat_chat_command(chat, &caller, &env);
	} else if (!pchat_node_admits(&pchat_shared->budget)) {
		/* refused before it is stored: nothing acknowledged is ever dropped */
		update_stat(pchat_stat_throttled, 1);
		LM_WARN("post of %s refused: deliveries hold %lld bytes of shared memory, over "
				"max_node_bytes (%lld)\n", d->user, (long long)pchat_node_used(&pchat_shared->budget),
				(long long)pchat_shared->budget.limit);
		code = 503;
		reply_unavailable(msg, "Chat Service Busy");
	} else {
		st = pchat_chat_post(chat, &caller, &env);
		code = st == PCHAT_ERR_DOWN ? 503 : pchat_rc_sip(st);
		reply_result(msg, st, "Chat Store Unavailable");
	}
	pchat_xccos_free(&env);
	return code;
}

/* Looks the INFO's CSeq up in its session's log (pchat_cseq.h), noting a new one as begun. */
static pchat_cseq_verdict_t info_begin(pchat_sref_t ref, uint32_t cseq, int *code)
{
	pchat_cseq_verdict_t v = PCHAT_CSEQ_NEW;
	pchat_session_t *s = pchat_session_get(ref);

	*code = 0;
	if (s) {
		v = pchat_cseq_begin(&s->infos, cseq, code);
		pchat_session_unlock(s);
	}
	return v;
}

static void info_answered(pchat_sref_t ref, uint32_t cseq, int code)
{
	pchat_session_t *s = pchat_session_get(ref);

	if (s) {
		pchat_cseq_answered(&s->infos, cseq, code);
		pchat_session_unlock(s);
	}
}

/* An INFO whose transaction tm has forgotten (wt_timer after its answer) can come again: a
 * client over UDP repeats a request whose answer it lost for up to 32 s. It is answered as the
 * first time and not carried out again, so a post is never stored twice. */
static int answer_repeat(struct sip_msg *msg, const in_dialog_t *d, pchat_cseq_verdict_t v,
		int code, uint32_t cseq)
{
	update_stat(pchat_stat_repeated_requests, 1);
	if (v == PCHAT_CSEQ_OLD || code == 0) {
		LM_NOTICE("INFO of %s with CSeq %u refused: its CSeq is out of order (carried out "
				  "long ago, or still being carried out)\n", d->user, cseq);
		return reply(msg, 500, "CSeq Out Of Order");
	}
	LM_INFO("INFO of %s with CSeq %u came again after its transaction ended: answered %d as "
			"before, not carried out again\n", d->user, cseq, code);
	if (code == 503)
		return reply_unavailable(msg, "Service Unavailable");
	return reply(msg, code, code < 300 ? "OK" : "Request Repeated");
}

static int handle_info(struct sip_msg *msg, const in_dialog_t *d)
{
	pchat_cseq_verdict_t v;
	unsigned int cseq = 0;
	int code;

	if (tmb.t_newtran(msg) <= 0)
		return 1; /* a retransmission tm answered, or an error tm logged */
	if (str2int(&get_cseq(msg)->number, &cseq) < 0) {
		update_stat(pchat_stat_bad_requests, 1);
		return reply(msg, 400, "Bad CSeq");
	}
	v = info_begin(d->ref, cseq, &code);
	if (v != PCHAT_CSEQ_NEW)
		return answer_repeat(msg, d, v, code, cseq);
	code = carry_out_info(msg, d);
	info_answered(d->ref, cseq, code);
	return code < 300 ? 1 : -2;
}

/* A session refresh: the answer repeats the negotiated interval. */
static int handle_update(struct sip_msg *msg, const in_dialog_t *d)
{
	char hdr[64];

	if (tmb.t_newtran(msg) <= 0)
		return 1;
	if (d->expires > 0) {
		snprintf(hdr, sizeof(hdr), "Session-Expires: %d;refresher=uac\r\n", d->expires);
		add_header(msg, hdr);
	}
	return reply(msg, 200, "OK");
}

static int handle_bye(struct sip_msg *msg, const in_dialog_t *d)
{
	if (tmb.t_newtran(msg) <= 0)
		return 1;
	reply(msg, 200, "OK");
	pchat_end_session(d->ref);
	return 1;
}

static int handle_in_dialog(struct sip_msg *msg)
{
	in_dialog_t d;

	if (!find_session(msg, &d)) {
		if (!is_for_service(msg))
			return -1; /* somebody else's dialog */
		if (msg->REQ_METHOD == METHOD_ACK)
			return 1;
		if (tmb.t_newtran(msg) <= 0)
			return 1;
		return reply(msg, 481, "Call/Transaction Does Not Exist");
	}
	switch (msg->REQ_METHOD) {
		case METHOD_ACK:
			return 1;
		case METHOD_INFO:
			return handle_info(msg, &d);
		case METHOD_UPDATE:
			return handle_update(msg, &d);
		case METHOD_BYE:
			return handle_bye(msg, &d);
		case METHOD_INVITE:
			/* no re-negotiation of a chat session; the dialog stays as it is */
			return tmb.t_newtran(msg) > 0 ? reply(msg, 488, "Not Acceptable Here") : 1;
		default:
			if (tmb.t_newtran(msg) <= 0)
				return 1;
			add_header(msg, "Allow: INVITE, ACK, INFO, UPDATE, BYE, CANCEL\r\n");
			return reply(msg, 405, "Method Not Allowed");
	}
}

int pchat_w_handle(struct sip_msg *msg, char *p1, char *p2)
{
	(void)p1;
	(void)p2;
	if (msg->first_line.type != SIP_REQUEST)
		return -1;
	if (parse_headers(msg, HDR_CALLID_F | HDR_TO_F | HDR_CSEQ_F, 0) < 0 || !msg->to) {
		if (!is_for_service(msg))
			return -1;
		update_stat(pchat_stat_bad_requests, 1);
		return msg->REQ_METHOD == METHOD_ACK ? 1 : -1;
	}
	if (get_to(msg)->tag_value.len > 0) {
		int rc = handle_in_dialog(msg);

		if (rc != -1)
			update_stat(pchat_stat_requests, 1);
		return rc;
	}
	if (!is_for_service(msg))
		return -1;
	update_stat(pchat_stat_requests, 1);
	switch (msg->REQ_METHOD) {
		case METHOD_INVITE:
			return handle_invite(msg);
		case METHOD_ACK:
			return 1;
		case METHOD_CANCEL:
			/* every INVITE is answered at once: nothing is left to cancel */
			return tmb.t_newtran(msg) > 0 ? reply(msg, 481, "Call/Transaction Does Not Exist")
										  : 1;
		case METHOD_OPTIONS:
			return tmb.t_newtran(msg) > 0 ? reply(msg, 200, "OK") : 1;
		default:
			/* INFO, UPDATE, BYE... outside any dialog */
			if (tmb.t_newtran(msg) <= 0)
				return 1;
			return reply(msg, 481, "Call/Transaction Does Not Exist");
	}
}

/* ------------------------------------------------------------------ provisioning */

/* Where Lync's provisioning names the room-management page (PROTOCOL.md 2.1): inside and
 * outside the organisation alike; "" without a page. Built once per process. */
static const char *web_manager_properties(void)
{
	static char props[1536];
	static int built;
	const char *url = pchat_webapi_page_url();
	pchat_buf_t b;

	if (built)
		return props;
	built = 1;
	if (!url[0])
		return props;
	pchat_buf_init_on(&b, props, sizeof(props));
	pchat_buf_adds(&b, "<property name=\"PersistentChatWebManagerUriInt\">");
	pchat_buf_adds_xml(&b, url);
	pchat_buf_adds(&b, "</property><property name=\"PersistentChatWebManagerUriExt\">");
	pchat_buf_adds_xml(&b, url);
	pchat_buf_adds(&b, "</property>");
	if (!pchat_buf_ok(&b))
		props[0] = '\0';
	return props;
}

int pchat_w_provision(struct sip_msg *msg, char *p1, char *p2)
{
	static const char event[] = "vnd-microsoft-provisioning-v2";
	const pchat_chat_t *chat = pchat_service();
	char body[4096], user[PCHAT_USER_MAX];
	int n, enabled;

	(void)p1;
	(void)p2;
	if (msg->first_line.type != SIP_REQUEST || msg->REQ_METHOD != METHOD_SUBSCRIBE
			|| parse_headers(msg, HDR_EVENT_F, 0) < 0 || !msg->event
			|| msg->event->body.len < (int)sizeof(event) - 1
			|| strncasecmp(msg->event->body.s, event, sizeof(event) - 1) != 0)
		return -1;
	update_stat(pchat_stat_requests, 1);
	/* The document is the user's: whether the policy enables Persistent Chat for them. */
	if (session_identity(msg, user, sizeof(user)) < 0) {
		LM_NOTICE("provisioning SUBSCRIBE from %s:%u without a usable identity (modparam "
				  "identity)\n", ip_addr2a(&msg->rcv.src_ip), msg->rcv.src_port);
		slb.zreply(msg, 403, "Forbidden (no identity)");
		return 1;
	}
	enabled = chat->store->policy_enabled(chat->store_h, user);
	if (enabled < 0) {
		/* an unreachable database is answered 503 with Retry-After, as a post would be */
		if (enabled == PCHAT_ERR_DOWN)
			add_header(msg, "Retry-After: 5\r\n");
		slb.zreply(msg, pchat_rc_sip(enabled), enabled == PCHAT_ERR_DOWN
						? "Chat Store Unavailable" : (char *)pchat_rc_reason(enabled));
		return 1;
	}
	/* The document rides in the 200 OK (ms-piggyback-cseq), so no NOTIFY dialog is needed.
	 * Answered statelessly: the answer is the same for every retransmission, and clients started
	 * in the same second send identical SUBSCRIBEs that tm 5.6 would take for one transaction
	 * (its RFC 3261 matching does not compare the Via ports). */
	n = snprintf(body, sizeof(body),
			"<provisionGroupList xmlns=\"http://schemas.microsoft.com/2006/09/sip/"
			"provisiongrouplist-notification\"><provisionGroup name=\"persistentChatConfiguration\">"
			"<propertyEntryList><property name=\"EnablePersistentChat\">%s</property>"
			"<property name=\"DefaultPersistentChatPoolUri\">%s</property>"
			"<property name=\"PersistentChatPoolUris\">%s</property>%s</propertyEntryList>"
			"</provisionGroup></provisionGroupList>", enabled ? "true" : "false",
			pchat_params.pool_uri, pchat_params.pool_uri, web_manager_properties());
	if (n >= (int)sizeof(body) || add_header(msg, "Expires: 0\r\n") < 0
			|| add_header(msg, "Event: vnd-microsoft-provisioning-v2\r\n") < 0
			|| add_header(msg, "ms-piggyback-cseq: 1\r\n") < 0
			|| add_header(msg, "Content-Type: "
							   "application/vnd-microsoft-roaming-provisioning-v2+xml\r\n") < 0
			|| !add_lump_rpl(msg, body, n, LUMP_RPL_BODY)) {
		slb.zreply(msg, 500, "Server Error");
		return 1;
	}
	if (slb.zreply(msg, 200, "OK") < 0)
		LM_ERR("cannot answer the provisioning SUBSCRIBE\n");
	return 1;
}
