/*
 * The module's RPC commands (pchat.*), for kamcmd, kamcli and JSON-RPC.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_RPC_H
#define PCHAT_RPC_H

#include "core/rpc.h"

extern rpc_export_t pchat_rpc_cmds[];

#endif
