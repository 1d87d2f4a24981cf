/*
 * The SIP side of the chat service: the module as a UAS for chat sessions (INVITE, ACK, INFO,
 * UPDATE, BYE), requests it sends inside them through tm, and in-band provisioning.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_SIP_H
#define PCHAT_SIP_H

#include <stddef.h>

#include "core/parser/msg_parser.h"

#include "pchat_chat.h"

/* Binds tm; called from mod_init (tm must be loaded before pchat). */
int pchat_sip_init(void);

/* cfg function pchat_handle(): 1 consumed (answered or will be), -1 not for the chat service,
 * -2 an error that was already answered. */
int pchat_w_handle(struct sip_msg *msg, char *p1, char *p2);

/* cfg function pchat_provision(): answers a vnd-microsoft-provisioning-v2 SUBSCRIBE with the
 * persistent chat provisioning document. 1 answered, -1 not such a SUBSCRIBE. */
int pchat_w_provision(struct sip_msg *msg, char *p1, char *p2);

/* Sends an XCCOS body to a session as an in-dialog INFO. At most max_pending INFOs of a session
 * are unanswered at a time; more wait in the session's queue (in order) and go out as answers
 * come in. 0 when sent or queued. A session whose INFO is answered 408, 481 or 487 (or not at
 * all) is ended; one that would hold more than max_queued INFOs or max_session_bytes bytes
 * unanswered and waiting is ended with a BYE (pchat_budget.h). */
int pchat_sip_send_info(pchat_sref_t ref, const char *body, size_t len);

/* Sends what waits in the session's queue while its window allows (in a sender). */
void pchat_sip_drain(pchat_sref_t ref);

/* Ends a session in the calling process: it leaves its rooms (with notices) and is freed.
 * Does nothing when the session is gone or another process is ending it. */
void pchat_sip_end_session(pchat_sref_t ref);

/* A Persistent Chat policy rule changed (scope "*", a domain or a user): the sessions of the
 * users it covers whom the policy no longer enables are ended with a BYE. */
void pchat_sip_enforce_policy(const char *scope);

/* The reaper timer: ends (with a BYE) sessions that missed their Session-Expires refresh, and
 * sessions whose 200 OK was not ACKed within 32 s. */
void pchat_sip_reaper(unsigned int ticks, void *param);

#endif
