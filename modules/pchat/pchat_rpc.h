/*
 * The module's RPC commands (pchat.*), for kamcmd, kamcli and JSON-RPC: the node's state
 * (pchat_rpc.c), the administration of the room model (pchat_rpc_admin.c) and of the web
 * application's administrators and API tokens (pchat_rpc_web.c).
 *
 * Depend on this node, the sessions, the live membership and Redis's presence; the
 * administration also on the senders (rooms and policies to check again) and the chat service.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_RPC_H
#define PCHAT_RPC_H

#include "core/rpc.h"

/* pchat.status, and the administration commands of pchat_rpc_admin.c */
extern rpc_export_t pchat_rpc_cmds[];
extern rpc_export_t pchat_rpc_admin_cmds[];
extern rpc_export_t pchat_rpc_web_cmds[];

#endif
