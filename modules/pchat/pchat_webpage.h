/*
 * GET /PersistentChat/RM/ on the module's HTTPS service: the room-management page (Lync's path),
 * three static files (index.html, app.js, app.css, shipped in modules/pchat/web/) read once from
 * web_root in mod_init into the main process's pkg memory, which the HTTPS workers inherit. The
 * page talks to the JSON API (/api/v1, doc/webapi.md); this part only serves its files.
 *
 * Every file goes with a strict Content-Security-Policy (the page has no inline script or
 * style), X-Frame-Options: DENY, Cache-Control: no-cache and an ETag (a hash of the file), so a
 * browser asks again each time and gets 304 while the file is the same.
 *
 * Depends on the HTTPS service.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_WEBPAGE_H
#define PCHAT_WEBPAGE_H

#include "pchat_http.h"

/* mod_init: reads index.html, app.js and app.css from the folder web_root (an absolute path;
 * NULL or "": no page) into pkg memory of the main process, so workers inherit them. Each file
 * is at most 1 MB. 0, or -1 with the reason logged (web_root not a folder, a file missing,
 * unreadable or too large). */
int pchat_webpage_init(const char *web_root);

/* The routes, for pchat_http_init. pchat_webpage_route (the prefix /PersistentChat/RM/) serves
 * the page: "/PersistentChat/RM/" is index.html, the three names are their files, anything else
 * is 404. pchat_webpage_bare_route (exactly /PersistentChat/RM, which the prefix does not match)
 * redirects with 301 to /PersistentChat/RM/. Without a page both answer 404 with a JSON
 * refusal. */
extern const pchat_http_route_t pchat_webpage_route;
extern const pchat_http_route_t pchat_webpage_bare_route;

#endif
