/*
 * The file service on the module's HTTPS service: Lync's web service
 * (POST /PersistentChat/MGCWebService.asmx, SOAP 1.1) and a plain HTTP interface beside it for
 * browsers and scripts (PUT and GET /PersistentChat/files/upload, GET
 * /PersistentChat/files/ROOM-GUID/STORED-NAME), both authorised by the tokens of
 * cmd:getfutok/getfdtok, over the repository of pchat_filestore.h under file_root.
 *
 * Depends on the HTTPS service, this node and the repository.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_FILESVC_H
#define PCHAT_FILESVC_H

#include "pchat_http.h"

/* The routes, for pchat_http_init; *n receives how many. */
const pchat_http_route_t *pchat_filesvc_routes(int *n);

/* mod_init, before pchat_http_init: checks file_root and file_chunk_size. 0 or -1. */
int pchat_filesvc_init(void);

/* The pool's public base URL of the file service for rpl:getftok, "" when files are off. */
const char *pchat_filesvc_url(void);

/* Housekeeping (the housekeeper, every minute): removed files whose events were exported and
 * abandoned uploads go. */
void pchat_filesvc_sweep(void);

#endif
