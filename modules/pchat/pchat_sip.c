/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include "core/dprint.h"
#include "core/parser/parse_uri.h"
#include "core/strutils.h"
#include "modules/tm/tm_load.h"

#include "pchat_mod.h"
#include "pchat_sip.h"

static struct tm_binds tmb;
static struct sip_uri pool_uri;

int pchat_sip_init(void)
{
	if (load_tm_api(&tmb) < 0) {
		LM_ERR("cannot bind the tm module: load tm.so before pchat.so\n");
		return -1;
	}
	if (parse_uri(pchat_pool_uri.s, pchat_pool_uri.len, &pool_uri) < 0) {
		LM_ERR("cannot parse pool_uri %.*s\n", pchat_pool_uri.len, pchat_pool_uri.s);
		return -1;
	}
	return 0;
}

/* The Request-URI names the chat service: same user and host as the pool URI. */
static int is_for_pool(struct sip_msg *msg)
{
	if (parse_sip_msg_uri(msg) < 0)
		return 0;
	return msg->parsed_uri.user.len == pool_uri.user.len
		   && msg->parsed_uri.host.len == pool_uri.host.len
		   && strncasecmp(msg->parsed_uri.user.s, pool_uri.user.s, pool_uri.user.len) == 0
		   && strncasecmp(msg->parsed_uri.host.s, pool_uri.host.s, pool_uri.host.len) == 0;
}

int pchat_w_handle(struct sip_msg *msg, char *p1, char *p2)
{
	static str not_yet = str_init("Chat sessions are not available yet");

	(void)p1;
	(void)p2;
	if (msg->first_line.type != SIP_REQUEST || !is_for_pool(msg))
		return -1;
	update_stat(pchat_stat_requests, 1);
	if (msg->REQ_METHOD == METHOD_ACK)
		return 1;
	if (tmb.t_newtran(msg) <= 0)
		return 1; /* a retransmission, answered by tm, or an error tm logged */
	tmb.t_reply(msg, 501, not_yet.s);
	return -2;
}
