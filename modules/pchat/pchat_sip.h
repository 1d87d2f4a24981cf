/*
 * The SIP side of the chat service: recognising requests for it and answering them through tm.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_SIP_H
#define PCHAT_SIP_H

#include "core/parser/msg_parser.h"

/* Binds tm; called from mod_init (tm must be loaded before pchat). */
int pchat_sip_init(void);

/* cfg function pchat_handle(): 1 consumed (answered or will be), -1 not for the chat service,
 * -2 an error that was already answered. */
int pchat_w_handle(struct sip_msg *msg, char *p1, char *p2);

#endif
