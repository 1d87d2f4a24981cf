/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 *
 * How a worker serves: its own libmicrohttpd daemon in external epoll mode on the node's one
 * listening socket (bound in mod_init, so a busy port stops the start with a clear message;
 * every worker's daemon accepts from it, and the kernel wakes whichever waits). One loop per
 * worker: wait for MHD's epoll set, MHD_run, and every SWEEP_MS the deadlines MHD has no
 * option for - a request's head, a whole request - are checked on the connections the worker
 * tracks (MHD_OPTION_NOTIFY_CONNECTION); an overdue connection is shut down (shutdown(2) on
 * its socket: MHD sees the end at once and closes it itself, so no descriptor is closed under
 * MHD's feet).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "core/cfg/cfg_struct.h"
#include "core/counters.h"
#include "core/dprint.h"
#include "core/pt.h"
#include "core/sr_module.h"

#include "pchat_buf.h"
#include "pchat_http.h"
#include "pchat_httptext.h"
#include "pchat_node.h"

/* Bytes of one connection's request head and buffers (MHD_OPTION_CONNECTION_MEMORY_LIMIT): a
 * larger head is refused by MHD (431). */
#define MEMORY_LIMIT (32 * 1024)
#define LISTEN_BACKLOG 511
/* ms between checks of the deadlines */
#define SWEEP_MS 200
/* ms a connection answered before its body ended stays open, its input dropped, so that the
 * client reads the answer before the connection is closed (a close with unread input resets
 * the connection, and the reset can destroy the answer in the client's buffers) */
#define LINGER_MS 2000
/* bytes of a file read per piece of a response */
#define FILE_BLOCK (64 * 1024)
#define PEM_MAX (1024 * 1024)
/* TLS 1.2 and 1.3 only, with GnuTLS's default ciphers of those */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define URL_MAX 512
#define ADDR_MAX (INET6_ADDRSTRLEN + 8)
#define NOTE_MAX 160
#define HEAD_MAX 4096  /* bytes of the head of an answer written early */

typedef struct header {
	struct header *next;
	char *name;
	char *value;
} header_t;

/* A response's body: len bytes that follow this struct (fd -1), or len bytes of fd from
 * offset. Owned by the request until its MHD response is made, then by that response
 * (free_body). */
typedef struct body_src {
	int fd;
	char *buf;
	uint64_t offset;
	uint64_t len;
	uint64_t handed;  /* bytes given to MHD to send */
} body_src_t;

typedef struct tracked tracked_t;

struct pchat_http_req {
	struct MHD_Connection *conn;
	tracked_t *t;
	char *uri;                  /* the request target as the client sent it, for the log */
	const char *method;         /* MHD's strings, valid until the request ends; NULL until the
	                               whole head is in */
	const char *path;
	char peer[ADDR_MAX];        /* address and port, for the log */
	char host[ADDR_MAX];        /* address only, for pchat_http_peer */
	const pchat_http_route_t *route;
	int in_handler;             /* start or finish was reached: cleanup is due */
	int early;                  /* answered before the body ended: the rest is dropped */
	uint64_t started;           /* ms: the request line came */
	uint64_t deadline;          /* ms: the whole request must be over */
	uint64_t head_size;
	uint64_t received;          /* bytes of the body */
	uint64_t early_sent;
	char *body;                 /* the buffered body, NUL-terminated */
	size_t body_cap;
	void *state;
	header_t *headers;          /* the handler's, in their order */
	int status;                 /* 0: no answer set */
	char *type;
	body_src_t *src;
	int queued;                 /* src is MHD's response's */
	const char *ended_by;       /* what closed the connection, when the service did */
	char note[NOTE_MAX];
};

/* A connection of this worker. */
struct tracked {
	tracked_t *prev;
	tracked_t *next;
	struct MHD_Connection *conn;
	int fd;
	int requests;               /* request heads received on it */
	uint64_t head_by;           /* ms: the next request's head must be in; 0 while one runs */
	pchat_http_req_t *req;      /* the request on it, from its request line on */
	int closing;                /* shut down by the service */
};

/* What mod_init prepares for the workers (they inherit it). */
static struct {
	int enabled;
	int tls;
	int listen_fd;
	char *cert;                 /* PEM, NUL-terminated */
	char *key;
	const pchat_http_route_t *routes;
	int nroutes;
	char listen[ADDR_MAX];
	char url[URL_MAX];
	char health[160];           /* the body of /health (node ids are short: pchat_node.c) */
} svc = {.listen_fd = -1};

/* The worker's own state. */
static struct {
	int index;
	struct MHD_Daemon *daemon;
	tracked_t *conns;
	int sigfd;                  /* SIGTERM and SIGINT, blocked, come here */
	int stop_asked;
	int stopping;
	uint64_t stop_by;           /* ms */
} w;

static void health_finish(pchat_http_req_t *r);

/* The service's own routes, before the module's. */
static const pchat_http_route_t builtin_routes[] = {
	{"GET", "/health", 0, NULL, NULL, health_finish, NULL},
};
#define NBUILTIN ((int)(sizeof(builtin_routes) / sizeof(builtin_routes[0])))

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- mod_init */

static char *read_pem(const char *path, const char *param)
{
	FILE *f = fopen(path, "r");
	char *s, *shrunk;
	size_t n;

	if (!f) {
		LM_ERR("%s: cannot open %s: %s\n", param, path, strerror(errno));
		return NULL;
	}
	s = malloc(PEM_MAX + 1);
	n = s ? fread(s, 1, PEM_MAX + 1, f) : 0;
	fclose(f);
	if (!s || n == 0 || n > PEM_MAX) {
		LM_ERR("%s: %s is %s\n", param, path, !s ? "not readable: out of memory"
				: n == 0 ? "empty or unreadable" : "larger than 1 MB");
		free(s);
		return NULL;
	}
	s[n] = '\0';
	shrunk = realloc(s, n + 1);
	return shrunk ? shrunk : s;
}

/* The same check GnuTLS makes when a worker starts (the certificate chain parses, the key is
 * the certificate's), made at start so that a wrong file stops Kamailio with a clear word. */
static int check_credentials(void)
{
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t cert = {(unsigned char *)svc.cert, (unsigned int)strlen(svc.cert)};
	gnutls_datum_t key = {(unsigned char *)svc.key, (unsigned int)strlen(svc.key)};
	int rc;

	if (gnutls_certificate_allocate_credentials(&cred) < 0) {
		LM_ERR("out of memory\n");
		return -1;
	}
	rc = gnutls_certificate_set_x509_key_mem2(cred, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_certificate_free_credentials(cred);
	if (rc < 0) {
		LM_ERR("http_tls_certificate %s with http_tls_private_key %s: %s (they must be a PEM "
			   "certificate, its chain after it if any, and that certificate's PEM key without "
			   "a password)\n", pchat_params.http_tls_certificate,
				pchat_params.http_tls_private_key, gnutls_strerror(rc));
		return -1;
	}
	return 0;
}

static int init_tls(void)
{
	if (!svc.tls) {
		LM_WARN("http_plain is 1: the HTTP service on %s speaks plain HTTP, which is only for a "
				"TLS-terminating proxy in front of it: never let clients reach it directly\n",
				svc.listen);
		return 0;
	}
	if (!pchat_params.http_tls_certificate[0] || !pchat_params.http_tls_private_key[0]) {
		LM_ERR("the HTTPS service (http_listen %s) needs http_tls_certificate and "
			   "http_tls_private_key (PEM files); http_plain 1 serves plain HTTP, for a "
			   "TLS-terminating proxy in front only\n", svc.listen);
		return -1;
	}
	svc.cert = read_pem(pchat_params.http_tls_certificate, "http_tls_certificate");
	svc.key = read_pem(pchat_params.http_tls_private_key, "http_tls_private_key");
	if (!svc.cert || !svc.key)
		return -1;
	return check_credentials();
}

static int init_url(const struct sockaddr *sa)
{
	if (pchat_httptext_public_url(pchat_params.http_public_url, sa, svc.tls, svc.url,
				sizeof(svc.url)) < 0) {
		LM_ERR("http_public_url '%s' is not an http:// or https:// URL with a host (printable "
			   "ASCII, no spaces, at most %d characters)\n", pchat_params.http_public_url,
				URL_MAX - 1);
		return -1;
	}
	if (!pchat_params.http_public_url[0] && pchat_httptext_wildcard(sa))
		LM_WARN("http_listen %s is a wildcard address: set http_public_url to the address "
				"clients reach the service at (now %s)\n", svc.listen, svc.url);
	return 0;
}

/* Bound here, once, for every worker of the node: a port another program holds stops the
 * start now, with its reason (SO_REUSEPORT instead would let two Kamailios share it silently).
 * SO_REUSEADDR lets a restart bind while the last run's connections are in TIME_WAIT.
 * Non-blocking, because the workers' daemons all accept from it and only one wins each
 * connection. */
static int open_listener(const struct sockaddr_storage *ss, socklen_t len)
{
	int one = 1, err;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0
			&& bind(fd, (const struct sockaddr *)ss, len) == 0
			&& listen(fd, LISTEN_BACKLOG) == 0) {
		svc.listen_fd = fd;
		return 0;
	}
	err = errno;
	if (fd >= 0)
		close(fd);
	LM_ERR("http_listen %s: cannot listen there: %s%s\n", svc.listen, strerror(err),
			err == EADDRINUSE ? " (another program holds the port)" : "");
	return -1;
}

static int check_routes(const pchat_http_route_t *routes, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (!routes[i].method || !routes[i].path || routes[i].path[0] != '/'
				|| !routes[i].finish) {
			LM_ERR("HTTP route %d needs a method, a path that starts with '/' and a finish "
				   "handler\n", i);
			return -1;
		}
	}
	return 0;
}

int pchat_http_init(const pchat_http_route_t *routes, int nroutes)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (!pchat_params.http_listen[0])
		return 0;
	if (pchat_httptext_listen(pchat_params.http_listen, &ss, &len) < 0) {
		LM_ERR("http_listen '%s' is not ADDR:PORT with a numeric address (192.0.2.7:443, "
			   "[2001:db8::7]:443)\n", pchat_params.http_listen);
		return -1;
	}
	pchat_httptext_addr((const struct sockaddr *)&ss, svc.listen, sizeof(svc.listen));
	svc.tls = !pchat_params.http_plain;
	if (check_routes(routes, nroutes) < 0 || init_tls() < 0
			|| init_url((const struct sockaddr *)&ss) < 0 || open_listener(&ss, len) < 0)
		return -1;
	svc.routes = routes;
	svc.nroutes = nroutes;
	/* node ids are letters, digits, '.', '_' and '-' (pchat_node.c): nothing to escape */
	snprintf(svc.health, sizeof(svc.health),
			"{\"node\":\"%s\",\"service\":\"pchat\",\"status\":\"ok\"}", pchat_params.node_id);
	register_procs(pchat_params.http_workers);
	cfg_register_child(pchat_params.http_workers);
	svc.enabled = 1;
	LM_INFO("HTTP%s service on %s: %d workers, public URL %s\n", svc.tls ? "S" : "",
			svc.listen, pchat_params.http_workers, svc.url);
	return 0;
}

const char *pchat_http_public_url(void)
{
	return svc.enabled ? svc.url : "";
}

void pchat_http_destroy(void)
{
	if (svc.key)
		explicit_bzero(svc.key, strlen(svc.key));
	free(svc.key);
	free(svc.cert);
	svc.key = svc.cert = NULL;
	if (svc.listen_fd >= 0)
		close(svc.listen_fd);
	svc.listen_fd = -1;
}

/* ---------------------------------------------------------------- answers */

static body_src_t *new_src(int fd, uint64_t offset, uint64_t len, const char *buf)
{
	size_t copied = fd < 0 ? (size_t)len : 0;
	body_src_t *s;

	if (fd < 0 && len > SIZE_MAX - sizeof(*s) - 1)
		return NULL;
	s = calloc(1, sizeof(*s) + copied);
	if (!s)
		return NULL;
	s->fd = fd;
	s->offset = offset;
	s->len = len;
	if (fd < 0) {
		s->buf = (char *)(s + 1);
		if (buf && copied)
			memcpy(s->buf, buf, copied);
	}
	return s;
}

static void free_src(body_src_t *s)
{
	if (s && s->fd >= 0)
		close(s->fd);
	free(s);
}

static void free_body(void *cls)
{
	free_src(cls);
}

static ssize_t read_body(void *cls, uint64_t pos, char *out, size_t max)
{
	body_src_t *s = cls;
	size_t n;
	ssize_t got;

	if (pos >= s->len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = s->len - pos < max ? (size_t)(s->len - pos) : max;
	if (s->buf) {
		memcpy(out, s->buf + pos, n);
		got = (ssize_t)n;
	} else {
		do
			got = pread(s->fd, out, n, (off_t)(s->offset + pos));
		while (got < 0 && errno == EINTR);
		if (got <= 0) {
			LM_ERR("reading a response's file failed (%s) at byte %llu of %llu\n",
					got < 0 ? strerror(errno) : "it is shorter", (unsigned long long)pos,
					(unsigned long long)s->len);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
	}
	s->handed += (uint64_t)got;
	return got;
}

/* The answer set so far goes, with the handler's headers. */
static void drop_answer(pchat_http_req_t *r)
{
	header_t *h;

	while ((h = r->headers) != NULL) {
		r->headers = h->next;
		free(h);
	}
	if (!r->queued)
		free_src(r->src);
	r->src = NULL;
	r->queued = 0;
	free(r->type);
	r->type = NULL;
	r->status = 0;
}

static int set_answer(pchat_http_req_t *r, int status, const char *type, body_src_t *src)
{
	char *t = type ? strdup(type) : NULL;

	if (!src || (type && !t)) {
		LM_ERR("out of memory for the answer to %s %s\n", r->method, r->path);
		free(t);
		free_src(src);
		return -1;
	}
	r->status = status;
	r->type = t;
	r->src = src;
	return 0;
}

/* The service's own answers: {"error":"..."}, instead of whatever the handler set. */
static int set_error(pchat_http_req_t *r, int status, const char *error)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", error);

	drop_answer(r);
	return set_answer(r, status, "application/json", new_src(-1, 0, (uint64_t)n, body));
}

/* Appends a header to the answer to come (the handler's, or the service's Allow). */
static int add_header(pchat_http_req_t *r, const char *name, const char *value)
{
	size_t nlen = strlen(name) + 1, vlen = strlen(value) + 1;
	header_t *h = malloc(sizeof(*h) + nlen + vlen), **end;

	if (!h) {
		LM_ERR("out of memory for a header of %s %s\n", r->method, r->path);
		return -1;
	}
	h->next = NULL;
	h->name = (char *)(h + 1);
	h->value = h->name + nlen;
	memcpy(h->name, name, nlen);
	memcpy(h->value, value, vlen);
	for (end = &r->headers; *end; end = &(*end)->next)
		;
	*end = h;
	return 0;
}

typedef int (*header_fn)(void *ctx, const char *name, const char *value);

/* Every header of the answer but its length, in the order they go: its type, the handler's,
 * then the service's (Cache-Control only when the handler set none). */
static int each_header(const pchat_http_req_t *r, int closing, header_fn fn, void *ctx)
{
	const header_t *h;
	int own_cache = 0;

	if (r->type && fn(ctx, "Content-Type", r->type) < 0)
		return -1;
	for (h = r->headers; h; h = h->next) {
		own_cache |= strcasecmp(h->name, "Cache-Control") == 0;
		if (fn(ctx, h->name, h->value) < 0)
			return -1;
	}
	if (fn(ctx, "X-Content-Type-Options", "nosniff") < 0
			|| fn(ctx, "Referrer-Policy", "no-referrer") < 0
			|| (!own_cache && fn(ctx, "Cache-Control", "no-store") < 0)
			|| (svc.tls && fn(ctx, "Strict-Transport-Security", "max-age=31536000") < 0)
			|| (closing && fn(ctx, "Connection", "close") < 0))
		return -1;
	return 0;
}

static int mhd_header(void *ctx, const char *name, const char *value)
{
	return MHD_add_response_header(ctx, name, value) == MHD_YES ? 0 : -1;
}

/* Queues the answer set. Without one (a handler that said DONE without answering) the
 * connection is closed. While the worker stops, every answer closes its connection. */
static enum MHD_Result queue_answer(pchat_http_req_t *r)
{
	struct MHD_Response *resp;
	size_t block;

	if (!r->status)
		return MHD_NO;
	block = r->src->buf && r->src->len < FILE_BLOCK ? (size_t)r->src->len + 1 : FILE_BLOCK;
	resp = MHD_create_response_from_callback(r->src->len, block, read_body, r->src, free_body);
	if (!resp) {
		LM_ERR("out of memory for the answer to %s %s\n", r->method, r->path);
		return MHD_NO;
	}
	r->queued = 1;
	if (each_header(r, w.stopping, mhd_header, resp) < 0
			|| MHD_queue_response(r->conn, (unsigned int)r->status, resp) != MHD_YES) {
		LM_ERR("cannot queue the answer to %s %s\n", r->method, r->path);
		MHD_destroy_response(resp);
		r->src = NULL;  /* freed with the response */
		return MHD_NO;
	}
	MHD_destroy_response(resp);
	return MHD_YES;
}

static enum MHD_Result answer_error(pchat_http_req_t *r, int status, const char *error)
{
	return set_error(r, status, error) < 0 ? MHD_NO : queue_answer(r);
}

/* Answers of the service's limits are counted. */
static void count_refusal(pchat_http_req_t *r, const char *error)
{
	update_stat(pchat_stat_http_refused, 1);
	pchat_http_log_note(r, "%s", error);
}

static enum MHD_Result refuse(pchat_http_req_t *r, int status, const char *error)
{
	count_refusal(r, error);
	return answer_error(r, status, error);
}

static int raw_header(void *ctx, const char *name, const char *value)
{
	pchat_buf_addf(ctx, "%s: %s\r\n", name, value);
	return pchat_buf_ok(ctx) ? 0 : -1;
}

static ssize_t send_some(gnutls_session_t tls, int fd, const char *s, size_t n)
{
	ssize_t k;

	do
		k = tls ? gnutls_record_send(tls, s, n) : send(fd, s, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (tls ? k == GNUTLS_E_INTERRUPTED : k < 0 && errno == EINTR);
	return k;
}

/* Writes on the connection past MHD; a full socket buffer ends it without the answer. */
static int send_raw(pchat_http_req_t *r, const char *s, size_t n)
{
	const union MHD_ConnectionInfo *i = NULL;
	ssize_t k;

	if (svc.tls) {
		i = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		if (!i)
			return -1;
	}
	while (n > 0) {
		k = send_some(i ? (gnutls_session_t)i->tls_session : NULL, r->t->fd, s, n);
		if (k <= 0)
			return -1;
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

/* libmicrohttpd 0.9.75 takes an answer only before the body is read or after all of it
 * (MHD_queue_response refuses one in between), but a body past max_body, or a handler that
 * decides on a piece of it, is answered at once: the answer (a buffer, never a file) is
 * written on the connection here, with Connection: close, the connection is half-closed, and
 * what the client still sends is dropped for LINGER_MS. */
static enum MHD_Result answer_early(pchat_http_req_t *r)
{
	char storage[HEAD_MAX];
	pchat_buf_t head;
	uint64_t now = now_ms();

	r->early = 1;
	r->ended_by = "early-answer";
	r->deadline = r->deadline < now + LINGER_MS ? r->deadline : now + LINGER_MS;
	if (!r->src->buf) {
		LM_ERR("%s %s: a file cannot be sent before the body is read\n", r->method, r->path);
		if (set_error(r, 500, "internal error") < 0)
			return MHD_NO;
	}
	pchat_buf_init_on(&head, storage, sizeof(storage));
	pchat_buf_addf(&head, "HTTP/1.1 %d %s\r\nContent-Length: %llu\r\n", r->status,
			MHD_get_reason_phrase_for((unsigned int)r->status),
			(unsigned long long)r->src->len);
	if (each_header(r, 1, raw_header, &head) < 0)
		return MHD_NO;
	pchat_buf_adds(&head, "\r\n");
	if (!pchat_buf_ok(&head) || send_raw(r, head.s, head.len) < 0)
		return MHD_NO;
	if (!pchat_http_is_head(r)) {
		if (send_raw(r, r->src->buf, (size_t)r->src->len) < 0)
			return MHD_NO;
		r->early_sent = r->src->len;
	}
	shutdown(r->t->fd, SHUT_WR);
	return MHD_YES;
}

/* ---------------------------------------------------------------- requests */

static const pchat_http_route_t *find_route(const char *method, const char *path, char *allow,
		size_t size)
{
	const pchat_http_route_t *tables[2] = {builtin_routes, svc.routes};
	int counts[2] = {NBUILTIN, svc.nroutes};
	int t, i;

	for (t = 0; t < 2; t++) {
		for (i = 0; i < counts[t]; i++) {
			const pchat_http_route_t *route = &tables[t][i];

			if (!pchat_httptext_path_matches(route->path, path))
				continue;
			if (pchat_httptext_method_serves(route->method, method))
				return route;
			pchat_httptext_allow_add(allow, size, route->method);
		}
	}
	return NULL;
}

static void health_finish(pchat_http_req_t *r)
{
	pchat_http_respond(r, 200, "application/json", svc.health, strlen(svc.health));
}

static enum MHD_Result answer_405(pchat_http_req_t *r, const char *allow)
{
	if (set_error(r, 405, "method not allowed") < 0 || add_header(r, "Allow", allow) < 0)
		return MHD_NO;
	return queue_answer(r);
}

/* The head is in: the request is routed and its length checked before any of its body is
 * read. */
static enum MHD_Result begin(pchat_http_req_t *r, const char *url, const char *method)
{
	const union MHD_ConnectionInfo *hs =
			MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	char allow[64] = "";
	const char *cl;
	uint64_t length;

	r->method = method;
	r->path = url;
	r->head_size = hs ? hs->header_size : 0;
	r->t->head_by = 0;
	r->t->requests++;
	r->deadline = now_ms() + 1000ull * (uint64_t)pchat_params.http_request_timeout;
	if (w.stopping)
		return refuse(r, 503, "stopping");
	if (pchat_httptext_target_has_nul(r->uri))
		return answer_error(r, 400, "a NUL in the path");
	r->route = find_route(method, url, allow, sizeof(allow));
	if (!r->route)
		return allow[0] ? answer_405(r, allow) : answer_error(r, 404, "not found");
	cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && (pchat_httptext_content_length(cl, &length) < 0 || length > r->route->max_body))
		return refuse(r, 413, "body too large");
	r->in_handler = 1;
	if (r->route->start && r->route->start(r) == PCHAT_HTTP_DONE)
		return queue_answer(r);
	return MHD_YES;
}

/* Keeps the body for finish: it grows as it arrives (a Content-Length is only a claim), up to
 * max_body and a NUL. */
static int buffer_body(pchat_http_req_t *r, const char *data, size_t n)
{
	size_t need = (size_t)r->received + 1;

	if (need > r->body_cap) {
		size_t limit = r->route->max_body + 1;
		size_t cap = r->body_cap ? 2 * r->body_cap : 4096;
		char *b;

		cap = cap < limit ? cap : limit;
		cap = cap > need ? cap : need;
		b = realloc(r->body, cap);
		if (!b)
			return -1;
		r->body = b;
		r->body_cap = cap;
	}
	memcpy(r->body + r->received - n, data, n);
	r->body[r->received] = '\0';
	return 0;
}

static enum MHD_Result take_body(pchat_http_req_t *r, const char *data, size_t n)
{
	if (r->early)
		return MHD_YES;
	r->received += n;
	if (r->received > r->route->max_body) {
		count_refusal(r, "body too large");
		return set_error(r, 413, "body too large") < 0 ? MHD_NO : answer_early(r);
	}
	if (r->route->body) {
		if (r->route->body(r, data, n) == PCHAT_HTTP_DONE)
			return r->status ? answer_early(r) : MHD_NO;
		return MHD_YES;
	}
	if (buffer_body(r, data, n) < 0) {
		LM_ERR("out of memory for the body of %s %s\n", r->method, r->path);
		return set_error(r, 500, "internal error") < 0 ? MHD_NO : answer_early(r);
	}
	return MHD_YES;
}

static enum MHD_Result end_of_body(pchat_http_req_t *r)
{
	if (r->early)
		return MHD_NO;  /* answered; the client has finished sending: the connection goes */
	r->route->finish(r);
	if (!r->status) {
		LM_ERR("the handler of %s %s set no answer\n", r->route->method, r->route->path);
		if (set_error(r, 500, "internal error") < 0)
			return MHD_NO;
	}
	return queue_answer(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
		const char *method, const char *version, const char *data, size_t *size, void **ctx)
{
	pchat_http_req_t *r = *ctx;
	size_t n = *size;

	(void)cls;
	(void)c;
	(void)version;
	if (!r)
		return MHD_NO;  /* no memory for it at its request line */
	if (!r->method)
		return begin(r, url, method);
	if (n) {
		*size = 0;
		return take_body(r, data, n);
	}
	return end_of_body(r);
}

static void shut(tracked_t *t)
{
	t->closing = 1;
	shutdown(t->fd, SHUT_RDWR);
}

static tracked_t *tracked_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return i ? i->socket_context : NULL;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request line is in. The target is copied as it came,
 * before MHD decodes it in place. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *peer =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	tracked_t *t = tracked_of(c);
	pchat_http_req_t *r;

	(void)cls;
	if (!t || !peer)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r || !(r->uri = strdup(uri))) {
		LM_ERR("out of memory for a request\n");
		free(r);
		return NULL;
	}
	r->conn = c;
	r->t = t;
	r->started = now_ms();
	pchat_httptext_addr(peer->client_addr, r->peer, sizeof(r->peer));
	pchat_httptext_host(peer->client_addr, r->host, sizeof(r->host));
	t->req = r;
	update_stat(pchat_stat_http_requests, 1);
	return r;
}

static const char *ending(const pchat_http_req_t *r, enum MHD_RequestTerminationCode toe)
{
	if (r->ended_by)
		return r->ended_by;
	switch (toe) {
	case MHD_REQUEST_TERMINATED_COMPLETED_OK:
		return "ok";
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
		return "idle-timeout";
	case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
		return "stopped";
	case MHD_REQUEST_TERMINATED_READ_ERROR:
	case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
		return "client-gone";
	default:
		return "error";
	}
}

/* One line per request; every byte a client chose is escaped, and no header is logged (the
 * Authorization header, a token in a query: only the word [redacted] shows). */
static void log_request(const pchat_http_req_t *r, enum MHD_RequestTerminationCode toe)
{
	const union MHD_ConnectionInfo *st =
			r->status ? NULL : MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_HTTP_STATUS);
	char method[40], path[512], query[512], note[2 * NOTE_MAX], status[12] = "-";
	const char *q = strchr(r->uri, '?');
	uint64_t sent = r->early_sent + (r->queued && r->src ? r->src->handed : 0);
	unsigned int code = r->status ? (unsigned int)r->status : st ? st->http_status : 0;

	if (code)
		snprintf(status, sizeof(status), "%u", code);
	pchat_httptext_escape(r->method ? r->method : "-", r->method ? strlen(r->method) : 1,
			method, sizeof(method));
	pchat_httptext_escape(r->uri, q ? (size_t)(q - r->uri) : strlen(r->uri), path,
			sizeof(path));
	pchat_httptext_log_query(q ? q + 1 : "", query, sizeof(query));
	pchat_httptext_escape(r->note, strlen(r->note), note, sizeof(note));
	LM_INFO("http access: peer=%s method=%s path=\"%s\" query=\"%s\" status=%s in=%llu "
			"out=%llu ms=%llu end=%s note=\"%s\"\n", r->peer, method, path, query, status,
			(unsigned long long)(r->head_size + r->received), (unsigned long long)sent,
			(unsigned long long)(now_ms() - r->started), ending(r, toe), note);
}

static void free_request(pchat_http_req_t *r)
{
	drop_answer(r);
	free(r->body);
	free(r->uri);
	free(r);
}

/* MHD_OPTION_NOTIFY_COMPLETED: the request is over, answered or not. */
static void on_request_end(void *cls, struct MHD_Connection *c, void **ctx,
		enum MHD_RequestTerminationCode toe)
{
	pchat_http_req_t *r = *ctx;

	(void)cls;
	(void)c;
	if (!r)
		return;
	*ctx = NULL;
	if (r->in_handler && r->route->cleanup)
		r->route->cleanup(r, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && !r->early);
	log_request(r, toe);
	if (r->t) {
		r->t->req = NULL;
		/* a connection kept open waits for its next request's head; none comes in a stop */
		r->t->head_by = now_ms() + 1000ull * (uint64_t)pchat_params.http_header_timeout;
		if (w.stopping && !r->t->closing)
			shut(r->t);
	}
	free_request(r);
}

/* ---------------------------------------------------------------- connections */

static tracked_t *track(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *fd =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	tracked_t *t = fd ? calloc(1, sizeof(*t)) : NULL;

	if (!t) {
		/* untracked, no deadline would reach it: it is not served */
		LM_ERR("cannot keep track of a new connection: out of memory\n");
		if (fd)
			shutdown(fd->connect_fd, SHUT_RDWR);
		return NULL;
	}
	t->conn = c;
	t->fd = fd->connect_fd;
	t->head_by = now_ms() + 1000ull * (uint64_t)pchat_params.http_header_timeout;
	t->next = w.conns;
	if (w.conns)
		w.conns->prev = t;
	w.conns = t;
	return t;
}

static void untrack(tracked_t *t)
{
	if (t->req)
		t->req->t = NULL;
	if (t->prev)
		t->prev->next = t->next;
	else
		w.conns = t->next;
	if (t->next)
		t->next->prev = t->prev;
	free(t);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **ctx,
		enum MHD_ConnectionNotificationCode code)
{
	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		*ctx = track(c);
	} else if (*ctx) {
		untrack(*ctx);
		*ctx = NULL;
	}
}

/* A connection past its deadline. A request on it says so in its log line; a connection that
 * never sent a request line gets a line of its own; one kept open after its requests simply
 * ends. */
static void close_overdue(tracked_t *t, const char *why, int timeout_s)
{
	char peer[ADDR_MAX];
	const union MHD_ConnectionInfo *i;

	shut(t);
	if (t->req && t->req->early)
		return;
	if (t->req) {
		t->req->ended_by = why;
	} else if (t->requests == 0) {
		i = MHD_get_connection_info(t->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (i)
			pchat_httptext_addr(i->client_addr, peer, sizeof(peer));
		LM_INFO("http access: peer=%s end=%s note=\"no request within %d s\"\n",
				i ? peer : "?", why, timeout_s);
	} else {
		return;
	}
	update_stat(pchat_stat_http_timeouts, 1);
}

static void sweep(uint64_t now)
{
	tracked_t *t;

	for (t = w.conns; t; t = t->next) {
		if (t->closing)
			continue;
		if (t->head_by && now >= t->head_by)
			close_overdue(t, "header-deadline", pchat_params.http_header_timeout);
		else if (t->req && t->req->method && now >= t->req->deadline)
			close_overdue(t, "request-deadline", pchat_params.http_request_timeout);
	}
}

/* ---------------------------------------------------------------- the worker */

/* Kamailio ends its children with SIGTERM (and a terminal's Ctrl-C sends SIGINT to them all);
 * its handler would exit at once. Blocked, they come through a signalfd in the worker's epoll
 * set: none interrupts a handler's query, none is lost between a check and the wait. */
static int catch_stop(void)
{
	sigset_t stop;

	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	if (sigprocmask(SIG_BLOCK, &stop, NULL) < 0
			|| (w.sigfd = signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		LM_ERR("pchat http worker %d: cannot catch SIGTERM: %s\n", w.index, strerror(errno));
		return -1;
	}
	return 0;
}

/* Stop accepting, close the connections that wait for a request, and give the requests in
 * flight http_stop_timeout; a request whose head arrives now is answered 503. Shutting the
 * node's listening socket down refuses new connections at once, instead of leaving them in its
 * backlog until the node is gone, and tells the other workers to stop too (own_epoll). */
static void begin_stop(void)
{
	MHD_socket lfd = MHD_quiesce_daemon(w.daemon);
	tracked_t *t;
	int busy = 0;

	w.stopping = 1;
	w.stop_by = now_ms() + 1000ull * (uint64_t)pchat_params.http_stop_timeout;
	if (lfd != MHD_INVALID_SOCKET)
		shutdown(lfd, SHUT_RDWR);
	for (t = w.conns; t; t = t->next) {
		if (t->req)
			busy++;
		else if (!t->closing)
			shut(t);
	}
	LM_INFO("pchat http worker %d: stopping; %d requests in flight get up to %d s\n", w.index,
			busy, pchat_params.http_stop_timeout);
}

static int watch(int epfd, int fd, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.fd = fd;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* MHD's epoll set holds its connections edge-triggered: waiting on it directly would take
 * their events from MHD. The worker waits on an epoll set of its own, which holds MHD's, the
 * stop signals, and the listening socket for its hang-up alone (no event but EPOLLHUP): when
 * another worker shuts it down for a stop, this one stops too instead of spinning on it. */
static int own_epoll(void)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(w.daemon, MHD_DAEMON_INFO_EPOLL_FD);
	int fd = epoll_create1(EPOLL_CLOEXEC);

	if (fd < 0 || !i || watch(fd, i->epoll_fd, EPOLLIN) < 0 || watch(fd, w.sigfd, EPOLLIN) < 0
			|| watch(fd, svc.listen_fd, 0) < 0) {
		LM_ERR("pchat http worker %d: no epoll set: %s\n", w.index, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Waits for MHD's sockets or a stop: with connections to check (or a stop under way) at most
 * until `until` (ms), and never past MHD's own timeout; an idle worker sleeps. */
static void wait_events(int epfd, uint64_t until)
{
	MHD_UNSIGNED_LONG_LONG mhd_ms;
	struct epoll_event ev[3];
	struct signalfd_siginfo si;
	uint64_t now = now_ms(), wait = UINT64_MAX;
	int i, n;

	if (w.conns || w.stopping)
		wait = until > now ? until - now : 0;
	if (MHD_get_timeout(w.daemon, &mhd_ms) == MHD_YES && mhd_ms < wait)
		wait = mhd_ms;
	n = epoll_wait(epfd, ev, 3, wait == UINT64_MAX ? -1 : wait > INT_MAX ? INT_MAX : (int)wait);
	if (n < 0 && errno != EINTR)
		LM_ERR("pchat http worker %d: epoll_wait: %s\n", w.index, strerror(errno));
	for (i = 0; i < n; i++) {
		if (ev[i].data.fd == w.sigfd) {
			while (read(w.sigfd, &si, sizeof(si)) == sizeof(si))
				w.stop_asked = 1;
		} else if (ev[i].data.fd == svc.listen_fd) {
			epoll_ctl(epfd, EPOLL_CTL_DEL, svc.listen_fd, NULL);
			w.stop_asked = 1;
		}
	}
}

static void serve(int epfd)
{
	uint64_t next_sweep = 0, now;

	for (;;) {
		cfg_update();
		if (w.stop_asked && !w.stopping)
			begin_stop();
		now = now_ms();
		if (w.stopping && (!w.conns || now >= w.stop_by))
			return;
		wait_events(epfd, w.stopping && w.stop_by < next_sweep ? w.stop_by : next_sweep);
		MHD_run(w.daemon);
		now = now_ms();
		if (now >= next_sweep) {
			sweep(now);
			next_sweep = now + SWEEP_MS;
		}
	}
}

/* MHD's messages: a failure to start is an error; once it serves they are about single
 * connections (a client that is not speaking TLS, say), which a hostile client causes at
 * will: debug. */
static void on_mhd_message(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	if (n && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	if (w.daemon)
		LM_DBG("pchat http worker %d: libmicrohttpd: %s\n", w.index, msg);
	else
		LM_ERR("pchat http worker %d: libmicrohttpd: %s\n", w.index, msg);
}

/* External epoll mode without any thread of MHD's: MHD calls us only from MHD_run, in this
 * process, so handlers may use pkg memory and the process's MySQL connection. MHD_USE_ITC is
 * what MHD_quiesce_daemon needs. */
static int start_daemon(void)
{
	struct MHD_OptionItem tls[] = {
		{MHD_OPTION_HTTPS_MEM_CERT, 0, svc.cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, svc.key},
		{MHD_OPTION_HTTPS_PRIORITIES, 0, TLS_PRIORITIES},
		{MHD_OPTION_END, 0, NULL},
	};
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG
						 | (svc.tls ? MHD_USE_TLS : 0);

	w.daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
			MHD_OPTION_EXTERNAL_LOGGER, on_mhd_message, NULL,
			MHD_OPTION_LISTEN_SOCKET, svc.listen_fd,
			MHD_OPTION_URI_LOG_CALLBACK, on_request_line, NULL,
			MHD_OPTION_NOTIFY_COMPLETED, on_request_end, NULL,
			MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned int)pchat_params.http_max_connections,
			MHD_OPTION_PER_IP_CONNECTION_LIMIT,
			(unsigned int)pchat_params.http_max_connections_per_address,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)pchat_params.http_idle_timeout,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MEMORY_LIMIT,
			MHD_OPTION_STRICT_FOR_CLIENT, 1,
			MHD_OPTION_ARRAY, svc.tls ? tls : tls + 3,
			MHD_OPTION_END);
	if (!w.daemon) {
		LM_ERR("pchat http worker %d: cannot start the HTTP%s daemon on %s\n", w.index,
				svc.tls ? "S" : "", svc.listen);
		return -1;
	}
	return 0;
}

static void run_worker(int index)
{
	int epfd;

	w.index = index;
	if (cfg_child_init() < 0 || catch_stop() < 0 || pchat_node_connect() < 0
			|| start_daemon() < 0 || (epfd = own_epoll()) < 0)
		exit(-1);
	serve(epfd);
	MHD_stop_daemon(w.daemon);  /* what still runs is cut: its log line says end=stopped */
	LM_INFO("pchat http worker %d: stopped\n", w.index);
	/*
	 * _exit: no atexit handlers of the libraries. With Kamailio's tls module loaded, OpenSSL 3
	 * keeps its global lock in shared memory, and its OPENSSL_cleanup() at exit waits forever
	 * on that lock once another process's cleanup took it (the node then never stops on TERM).
	 */
	_exit(0);
}

int pchat_http_start(void)
{
	char desc[32];
	int i, pid;

	for (i = 1; svc.enabled && i <= pchat_params.http_workers; i++) {
		snprintf(desc, sizeof(desc), "pchat http worker %d", i);
		pid = fork_process(PROC_NOCHLDINIT, desc, 1);
		if (pid < 0) {
			LM_ERR("cannot start %s\n", desc);
			return -1;
		}
		if (pid == 0)
			run_worker(i);
	}
	return 0;
}

/* ---------------------------------------------------------------- handlers' interface */

const char *pchat_http_method(const pchat_http_req_t *r)
{
	return r->method;
}

const char *pchat_http_path(const pchat_http_req_t *r)
{
	return r->path;
}

const char *pchat_http_header(const pchat_http_req_t *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

typedef struct header_count {
	const char *name;
	int n;
} header_count_t;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
		const char *value)
{
	header_count_t *hc = cls;

	(void)kind;
	(void)value;
	hc->n += strcasecmp(key, hc->name) == 0;
	return MHD_YES;
}

int pchat_http_header_count(const pchat_http_req_t *r, const char *name)
{
	header_count_t hc = {name, 0};

	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_header, &hc);
	return hc.n;
}

const char *pchat_http_query(const pchat_http_req_t *r, const char *name)
{
	const char *v;
	size_t len;

	if (MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v,
				&len) != MHD_YES)
		return NULL;
	return v ? v : "";
}

const char *pchat_http_peer(const pchat_http_req_t *r)
{
	return r->host;
}

int pchat_http_is_head(const pchat_http_req_t *r)
{
	return strcmp(r->method, "HEAD") == 0;
}

const char *pchat_http_body(const pchat_http_req_t *r, size_t *len)
{
	*len = r->body ? (size_t)r->received : 0;
	return r->body ? r->body : "";
}

void *pchat_http_state(const pchat_http_req_t *r)
{
	return r->state;
}

void pchat_http_set_state(pchat_http_req_t *r, void *state)
{
	r->state = state;
}

int pchat_http_add_header(pchat_http_req_t *r, const char *name, const char *value)
{
	if (r->status || !pchat_httptext_header_ok(name, value)) {
		LM_ERR("%s %s: header %s refused (%s)\n", r->method, r->path, name,
				r->status ? "after the answer" : "not a header a handler may set");
		return -1;
	}
	return add_header(r, name, value);
}

static int may_answer(const pchat_http_req_t *r, int status, const char *type)
{
	if (r->status || status < 200 || status > 599 || (type && !pchat_httptext_value_ok(type))) {
		LM_ERR("%s %s: answer %d refused (%s)\n", r->method, r->path, status,
				r->status ? "answered already" : "not a final status or a bad content type");
		return 0;
	}
	return 1;
}

int pchat_http_respond(pchat_http_req_t *r, int status, const char *content_type,
		const char *body, size_t len)
{
	if (!body && len) {
		LM_ERR("%s %s: an answer of %zu bytes without them\n", r->method, r->path, len);
		return -1;
	}
	if (!may_answer(r, status, content_type))
		return -1;
	return set_answer(r, status, content_type, new_src(-1, 0, len, body));
}

int pchat_http_respond_fd(pchat_http_req_t *r, int status, const char *content_type, int fd,
		uint64_t offset, uint64_t len)
{
	body_src_t *src;

	if (!may_answer(r, status, content_type)) {
		close(fd);
		return -1;
	}
	src = new_src(fd, offset, len, NULL);
	if (!src)
		close(fd);
	return set_answer(r, status, content_type, src);
}

void pchat_http_log_note(pchat_http_req_t *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->note, sizeof(r->note), fmt, ap);
	va_end(ap);
}
