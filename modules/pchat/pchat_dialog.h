/*
 * Requests the chat service sends inside a session's dialog, through tm: INFOs (each a reply,
 * post or notice for the client) within the session's send window, with the rest waiting in
 * the session's queue, the answers to them, and the BYE that ends a session.
 *
 * When and what to send is decided by the window (pchat_budget.h); this part carries it out.
 * Answers arrive in whichever process tm gives them to, which must not send or end a session
 * itself: it asks a sender process through the hooks given to pchat_dialog_init.
 *
 * Depends on this node (pchat_node.h), the sessions (pchat_session.h) and tm; nothing above.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_DIALOG_H
#define PCHAT_DIALOG_H

#include <stddef.h>

#include "pchat_model.h"
#include "pchat_session.h"

/* Work a sender process does on a session when asked; 0 when it was queued, -1 when not (the
 * next answer, failure or the reaper asks again). */
typedef struct pchat_dialog_senders {
	int (*drain)(pchat_sref_t ref);       /* sends what waits (pchat_dialog_drain) */
	int (*end_session)(pchat_sref_t ref); /* ends the session (leaves its rooms, frees it) */
} pchat_dialog_senders_t;

/* mod_init: binds tm (loaded before pchat) and keeps the senders' hooks. */
int pchat_dialog_init(const pchat_dialog_senders_t *senders);

/* Sends an XCCOS body to a session as an in-dialog INFO: now if its window allows, else in
 * order after the ones waiting. 0 when sent or queued. A session whose INFO is answered 408,
 * 481, 487 or 477 (or not at all) is ended; one that would hold more than max_queued INFOs or
 * max_session_bytes bytes unanswered and waiting is ended with a BYE. */
int pchat_dialog_send_info(pchat_sref_t ref, const char *body, size_t len);

/* Sends what waits in the session's queue while its window allows (in a sender). */
void pchat_dialog_drain(pchat_sref_t ref);

/* Asks a sender to end the session, once however often it is asked; why is logged. bye: the
 * client may still be there, so it is told with a BYE. */
void pchat_dialog_request_end(pchat_sref_t ref, const char *why, int bye);

/* Sends a BYE inside a locked session's dialog; 0 when tm took it. */
int pchat_dialog_bye_locked(pchat_session_t *s, pchat_sref_t ref);

#endif
