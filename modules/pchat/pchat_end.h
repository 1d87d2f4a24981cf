/*
 * How chat sessions end: the teardown of a session (it leaves its rooms with notices, is told
 * with a BYE when it may still be there, and is freed), the sweep that ends the sessions a
 * policy change no longer enables, and the reaper of sessions that expired.
 *
 * Depends on this node, the sessions, the limits, the dialogs (to ask a sender to end a session,
 * to send the BYE) and the chat service (the chat core's side of an end); nothing above.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_END_H
#define PCHAT_END_H

#include "pchat_model.h"

/* Ends a session in the calling process: it leaves its rooms (with notices) and is freed.
 * Does nothing when the session is gone or another process is ending it. */
void pchat_end_session(pchat_sref_t ref);

/* A Persistent Chat policy rule changed (scope "*", a domain or a user): the sessions of the
 * users it covers whom the policy no longer enables are ended with a BYE. */
void pchat_end_by_policy(const char *scope);

/* The reaper timer: ends (with a BYE) sessions that missed their Session-Expires refresh, and
 * sessions whose 200 OK was not ACKed within 32 s. */
void pchat_end_expired(unsigned int ticks, void *param);

#endif
