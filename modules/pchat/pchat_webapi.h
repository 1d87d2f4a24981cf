/*
 * The JSON API of the room-management web application (/api/v1/..., modules/pchat/doc/
 * webapi.md): who the caller is (session cookie with a CSRF token, single sign-on header from
 * a trusted proxy, or API token), the users' room endpoints, and the helpers the
 * administrators' endpoints (pchat_webadmin.c) share. Every action is authorised as in the
 * chat: the caller's SIP URI and the rights it holds in the room model.
 *
 * Depends on this node, the HTTPS service, administration (pchat_admin), the web identities
 * (pchat_web) and JSON (pchat_json).
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_WEBAPI_H
#define PCHAT_WEBAPI_H

#include "pchat_admin.h"
#include "pchat_buf.h"
#include "pchat_http.h"
#include "pchat_json.h"
#include "pchat_web.h"

/* The largest request body of the API. */
#define PCHAT_API_BODY_MAX (64 * 1024)

/* One API request, as its handler sees it. */
typedef struct pchat_api {
	pchat_http_req_t *r;
	pchat_web_who_t who;   /* the caller (who.admin: an administrator) */
	const char *id;        /* the path's {id} segment, "" when the path has none */
	pchat_json_t *body;    /* the request's JSON object; NULL without a body */
	pchat_admin_t a;       /* the process's administration, acting as the caller */
	pchat_buf_t out;       /* the answer's body */
	pchat_jw_t w;          /* writes into out */
} pchat_api_t;

/* A handler answers with pchat_api_respond or pchat_api_error. */
typedef void (*pchat_api_handler_f)(pchat_api_t *q);

/* Who may call an endpoint. */
#define PCHAT_API_PUBLIC 0 /* anyone (sign-in) */
#define PCHAT_API_USER 1   /* a signed-in user */
#define PCHAT_API_ADMIN 2  /* an administrator */

typedef struct pchat_api_endpoint {
	const char *method;   /* GET, POST, PUT, DELETE */
	const char *path;     /* below /api/v1, e.g. "/rooms/{id}": {id} matches one segment */
	int who;              /* PCHAT_API_* */
	pchat_api_handler_f handler;
} pchat_api_endpoint_t;

/* The administrators' endpoints (pchat_webadmin.c), ended by one with a NULL method. */
extern const pchat_api_endpoint_t pchat_webadmin_endpoints[];

/* mod_init: checks the web_* parameters; more: the endpoints of the parts above this one (the
 * administrators', pchat_webadmin_endpoints), which the routes serve too. 0 or -1 (logged). */
int pchat_webapi_init(const pchat_api_endpoint_t *more);

/* The routes of the API (the HTTPS service takes them). */
const pchat_http_route_t *pchat_webapi_routes(int *n);

/* The configuration of sessions and sign-in, from the parameters. */
const pchat_web_conf_t *pchat_webapi_conf(void);

/* The public URL of the page ("" when the service or the page is off). */
const char *pchat_webapi_page_url(void);

/* ---- for handlers ---- */

/* Answers the JSON written into q->out so far (the writer must be back at the top level, all
 * closed) with status. */
void pchat_api_respond(pchat_api_t *q, int status);
/* Answers 204 without a body. */
void pchat_api_no_content(pchat_api_t *q);
/* Answers a refusal {"error": code, "message": ...}; q->out is discarded. */
void pchat_api_error(pchat_api_t *q, int status, const char *code, const char *fmt, ...)
		__attribute__((format(printf, 4, 5)));
/* Answers the refusal an administration call's result calls for: its status, code and
 * q->a.err (400 invalid, 404 not_found, 409 conflict or stale, 503 unavailable with
 * Retry-After, 500 otherwise). */
void pchat_api_fail(pchat_api_t *q, int rc);

/* Body members. Each returns 0 when present and right, 1 when absent, and answers 400 invalid
 * (field named) and returns -1 when of the wrong type or, for strings, over max bytes. */
int pchat_api_str(pchat_api_t *q, const char *key, size_t max, const char **out);
int pchat_api_bool(pchat_api_t *q, const char *key, int *out);
int pchat_api_int(pchat_api_t *q, const char *key, long long *out);
/* A list of strings: *out (pchat_malloc'ed array of pointers into the body, free with
 * pchat_free) and *n; at most max entries. */
int pchat_api_strlist(pchat_api_t *q, const char *key, int max, const char ***out, int *n);
/* Refuses (400 invalid, returns -1) a body member not in known (NULL-terminated). */
int pchat_api_known(pchat_api_t *q, const char *const *known);

/* A room as the API's lists show it (webapi.md, "Rooms": without its lists and rights); key:
 * the member's name, NULL inside an array. */
void pchat_api_room_json(pchat_api_t *q, const char *key, const pchat_room_row_t *r);

/* The principals of one role of a room or a category (fetch: pchat_admin_room_principals_of or
 * pchat_admin_category_principals_of, for the row with this id) as a list named key. One
 * query per list: nothing depends on the order the database gives the roles in. 0 or the
 * failure (not answered). */
typedef int (*pchat_principals_of_f)(pchat_admin_t *a, uint64_t id, pchat_principal_f cb,
		void *ctx);
int pchat_api_principal_list(pchat_api_t *q, const char *key, const char *role,
		pchat_principals_of_f fetch, uint64_t id);

/* Connected chat clients see a change of the room at once (as after the RPC commands); a
 * change stored but not applied everywhere is logged. */
void pchat_api_room_changed(pchat_api_t *q, uint64_t room_id);

#endif
