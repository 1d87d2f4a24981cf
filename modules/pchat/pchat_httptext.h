/*
 * The HTTPS service's work on text, free of Kamailio and libmicrohttpd so that the unit tests
 * reach it: the listen address and the public URL, which route serves a request and the Allow
 * header of a 405, a Content-Length, the headers a handler may send, and what an access log
 * line shows of a request (every byte a client chose escaped, token values redacted).
 *
 * Depends on libc only.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_HTTPTEXT_H
#define PCHAT_HTTPTEXT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "ADDR:PORT": a numeric address (IPv4 as 192.0.2.1:443, IPv6 in brackets as
 * [2001:db8::1]:443) and a port from 1 to 65535. 0 with the address in *ss and its size in
 * *len, or -1. */
int pchat_httptext_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* "ADDR:PORT" (IPv4) or "[ADDR]:PORT" (IPv6) of sa into out; "?" for another family. */
void pchat_httptext_addr(const struct sockaddr *sa, char *out, size_t size);

/* The address of sa alone (no port, no brackets) into out; "?" for another family. */
void pchat_httptext_host(const struct sockaddr *sa, char *out, size_t size);

/* 1 when sa is the wildcard address (0.0.0.0 or ::). */
int pchat_httptext_wildcard(const struct sockaddr *sa);

/* The service's public base URL into out, without a trailing '/': given when it is not empty
 * (an http:// or https:// URL with a host, of printable ASCII without spaces), else
 * https://ADDR:PORT of the listen address (http:// when tls is 0). 0, or -1 when given is not
 * such a URL or out is too small. */
int pchat_httptext_public_url(const char *given, const struct sockaddr *listen, int tls,
		char *out, size_t size);

/* 1 when a route of route_path serves path: equal, or a prefix when route_path ends with '/'. */
int pchat_httptext_path_matches(const char *route_path, const char *path);

/* 1 when the path of a request target as the client sent it (before the query) encodes a NUL
 * (%00): decoded, it would end the path early and name another resource. */
int pchat_httptext_target_has_nul(const char *target);

/* 1 when a route of route_method serves a request of method: the same, or HEAD for GET. */
int pchat_httptext_method_serves(const char *route_method, const char *method);

/* Adds route_method to the value of an Allow header (allow, NUL-terminated, size bytes), and
 * HEAD with GET, each method once. */
void pchat_httptext_allow_add(char *allow, size_t size, const char *route_method);

/* A Content-Length value (digits only): 0 with *n, -1 when it is not one or does not fit. */
int pchat_httptext_content_length(const char *v, uint64_t *n);

/* 1 when value may be a header's value: no control character other than tab. */
int pchat_httptext_value_ok(const char *value);

/* 1 when a handler may add this response header: the name a token (RFC 9110), the value as
 * above, and not one the service writes itself (Content-Length, Content-Type, Connection, the
 * security headers...). */
int pchat_httptext_header_ok(const char *name, const char *value);

/* n bytes of s for a log line into out (always NUL-terminated): printable ASCII other than '"'
 * and '\' as it is, every other byte as \xHH; when it does not fit, cut and ended by "...". */
void pchat_httptext_escape(const char *s, size_t n, char *out, size_t size);

/* A request's query string (what follows '?') for a log line: escaped as above, with the value
 * of every parameter whose name is "token" in any case (percent-decoded, as the service reads
 * parameters) shown as [redacted]. */
void pchat_httptext_log_query(const char *q, char *out, size_t size);

#endif
