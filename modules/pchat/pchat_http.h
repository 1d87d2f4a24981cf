/*
 * The module's HTTPS service: http_workers processes of their own on every node (never the SIP
 * workers: a 20 MB transfer must not hold one), each running a libmicrohttpd daemon in MHD's
 * external epoll mode, so no thread of the library's ever touches pkg memory or the process's
 * MySQL connection. TLS with the operator's certificate (http_tls_certificate,
 * http_tls_private_key); plain HTTP only with http_plain = 1.
 *
 * The service routes each request to a handler registered before the processes start, keeps
 * one structured access log line per request (token values redacted), and enforces per-address
 * connection limits, a header deadline, a whole-request deadline, body limits and a graceful
 * stop. Handlers run in the worker process, one request at a time per process, and may block
 * briefly (a MySQL query, a write of one chunk to disk).
 *
 * Depends on this node (parameters, connections) and libmicrohttpd.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_HTTP_H
#define PCHAT_HTTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct pchat_http_req pchat_http_req_t;

/* A handler's answer to start/body: go on, or stop here (a response was set, or the
 * connection is to be closed without one). */
#define PCHAT_HTTP_CONTINUE 0
#define PCHAT_HTTP_DONE 1

typedef struct pchat_http_route {
	const char *method;   /* "GET" (HEAD is served by GET's handler, without the body), "PUT",
	                         "POST", "DELETE" */
	const char *path;     /* an exact path, or a prefix when it ends with '/' */
	size_t max_body;      /* bytes: a larger Content-Length is refused with 413 before the body
	                         is read, a body that grows past it as soon as it does */
	/* Headers and path known, no body read yet. Optional. */
	int (*start)(pchat_http_req_t *r);
	/* A piece of the body, as it arrives. NULL: the service buffers the body (at most
	 * max_body) and finish reads it with pchat_http_body(). */
	int (*body)(pchat_http_req_t *r, const char *data, size_t len);
	/* The whole body is in: must set a response (the service answers 500 otherwise). */
	void (*finish)(pchat_http_req_t *r);
	/* Always called once per request that reached start or finish, at its end (answered,
	 * failed, client gone, deadline passed): releases what the handler kept in its state.
	 * completed is 1 when the response was sent whole. Optional. */
	void (*cleanup)(pchat_http_req_t *r, int completed);
} pchat_http_route_t;

/* mod_init: checks the http_* parameters, loads the certificate and key, registers the
 * processes. routes: an array that lives as long as the module (the first match wins). 0, or
 * -1 with the reason logged. With http_listen empty the service is off and this does nothing. */
int pchat_http_init(const pchat_http_route_t *routes, int nroutes);

/* child_init(PROC_MAIN): forks the processes. */
int pchat_http_start(void);

/* mod_destroy: closes the listening socket and forgets the key. */
void pchat_http_destroy(void);

/* The pool's public base URL of the service (http_public_url, or one made from http_listen),
 * without a trailing '/'; "" when the service is off. */
const char *pchat_http_public_url(void);

/* The request. Strings stay valid until cleanup. */
const char *pchat_http_method(const pchat_http_req_t *r);
const char *pchat_http_path(const pchat_http_req_t *r);     /* decoded, without the query */
const char *pchat_http_header(const pchat_http_req_t *r, const char *name); /* NULL: absent */
/* How many times the request carries the header: the first one is what pchat_http_header
 * gives, so a header that must be single (set by a trusted proxy) is checked with this. */
int pchat_http_header_count(const pchat_http_req_t *r, const char *name);
const char *pchat_http_query(const pchat_http_req_t *r, const char *name);  /* NULL: absent */
const char *pchat_http_peer(const pchat_http_req_t *r);     /* the client's address */
int pchat_http_is_head(const pchat_http_req_t *r);
/* The buffered body (routes without a body callback); its length in *len. NUL-terminated. */
const char *pchat_http_body(const pchat_http_req_t *r, size_t *len);

/* The handler's own state for this request. */
void *pchat_http_state(const pchat_http_req_t *r);
void pchat_http_set_state(pchat_http_req_t *r, void *state);

/* Adds a header to the response to come (before pchat_http_respond*). 0 or -1. */
int pchat_http_add_header(pchat_http_req_t *r, const char *name, const char *value);

/* Sets the response: status, content type (NULL: none) and a body that is copied. Once per
 * request; 0 or -1 (no memory: the service answers 500). */
int pchat_http_respond(pchat_http_req_t *r, int status, const char *content_type,
		const char *body, size_t len);

/* Sets a response whose body is len bytes of fd from offset; the service owns fd from now
 * on, whatever the result, and closes it. */
int pchat_http_respond_fd(pchat_http_req_t *r, int status, const char *content_type, int fd,
		uint64_t offset, uint64_t len);

/* A short note for the request's access log line (what the handler decided: "token expired",
 * "file 3f2a…"); never a token. */
void pchat_http_log_note(pchat_http_req_t *r, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));

#endif
