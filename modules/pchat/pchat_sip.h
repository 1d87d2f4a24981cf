/*
 * The SIP side of the chat service: the module as a UAS for chat sessions (INVITE, ACK, INFO,
 * UPDATE, BYE) and in-band provisioning. What it sends inside a session is pchat_dialog's.
 *
 * Depends on this node, the sessions, the limits, the chat service and the ends of sessions
 * (pchat_end.h), tm and sl; only the module's exports (pchat_mod.c) are above it.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_SIP_H
#define PCHAT_SIP_H

#include <stddef.h>

#include "core/parser/msg_parser.h"


/* Binds tm and sl; called from mod_init (both must be loaded before pchat). */
int pchat_sip_init(void);

/* cfg function pchat_handle(): 1 consumed (answered or will be), -1 not for the chat service,
 * -2 an error that was already answered. */
int pchat_w_handle(struct sip_msg *msg, char *p1, char *p2);

/* cfg function pchat_provision(): answers a vnd-microsoft-provisioning-v2 SUBSCRIBE with the
 * persistent chat provisioning document. 1 answered, -1 not such a SUBSCRIBE. */
int pchat_w_provision(struct sip_msg *msg, char *p1, char *p2);

#endif
