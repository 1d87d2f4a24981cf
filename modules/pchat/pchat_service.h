/*
 * The chat service as a running Kamailio process sees it: the chat logic wired to the MySQL
 * store, the live membership and the senders, with the service settings.
 *
 * Depends on this node, the live membership, the dialogs (a command's reply is an INFO to its
 * session), the senders (posts and notices go to them) and the chat core.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_SERVICE_H
#define PCHAT_SERVICE_H

#include "pchat_chat.h"

/* mod_init: shared state (post locks). */
int pchat_service_init(void);
void pchat_service_destroy(void);

/* The chat context of the calling process. */
const pchat_chat_t *pchat_service(void);

#endif
