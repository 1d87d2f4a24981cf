/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "pchat_httptext.h"

#define CUT_MARK "..."

/* A text written into the caller's buffer that always keeps room for CUT_MARK, so a cut text
 * says that it was cut. */
typedef struct text_out {
	char *s;
	size_t size;
	size_t len;
	int cut;
} text_out_t;

static void out_init(text_out_t *o, char *s, size_t size)
{
	o->s = s;
	o->size = size;
	o->len = 0;
	o->cut = size < sizeof(CUT_MARK);
	if (size > 0)
		s[0] = '\0';
}

static void out_put(text_out_t *o, const char *s, size_t n)
{
	if (o->cut)
		return;
	if (o->len + n + sizeof(CUT_MARK) > o->size) {
		memcpy(o->s + o->len, CUT_MARK, sizeof(CUT_MARK));
		o->len += sizeof(CUT_MARK) - 1;
		o->cut = 1;
		return;
	}
	memcpy(o->s + o->len, s, n);
	o->len += n;
	o->s[o->len] = '\0';
}

/* Values in a log line are quoted: a quote, a backslash or a control character of a client's
 * must not end the value or the line. */
static void out_escaped(text_out_t *o, const char *s, size_t n)
{
	char hex[5];
	size_t i;

	for (i = 0; i < n && !o->cut; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			out_put(o, s + i, 1);
		} else {
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			out_put(o, hex, 4);
		}
	}
}

void pchat_httptext_escape(const char *s, size_t n, char *out, size_t size)
{
	text_out_t o;

	out_init(&o, out, size);
	out_escaped(&o, s, n);
}

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Whether a parameter's name, decoded the way the service decodes it ('+' is a space, %HH a
 * byte; a decoded NUL ends the name as a C string sees it), is "token" in any case. */
static int is_token_name(const char *s, size_t n)
{
	static const char want[] = "token";
	size_t i = 0, k = 0;

	while (i < n) {
		int c = (unsigned char)s[i], hi, lo;

		if (c == '%' && i + 2 < n && (hi = hex_value((unsigned char)s[i + 1])) >= 0
				&& (lo = hex_value((unsigned char)s[i + 2])) >= 0) {
			c = hi * 16 + lo;
			i += 3;
		} else {
			c = c == '+' ? ' ' : c;
			i++;
		}
		if (c == '\0')
			break;
		if (k == sizeof(want) - 1 || tolower(c) != want[k])
			return 0;
		k++;
	}
	return k == sizeof(want) - 1;
}

void pchat_httptext_log_query(const char *q, char *out, size_t size)
{
	text_out_t o;

	out_init(&o, out, size);
	while (*q && !o.cut) {
		size_t n = strcspn(q, "&");
		const char *eq = memchr(q, '=', n);

		if (eq && is_token_name(q, (size_t)(eq - q))) {
			out_escaped(&o, q, (size_t)(eq - q) + 1);
			out_put(&o, "[redacted]", 10);
		} else {
			out_escaped(&o, q, n);
		}
		q += n;
		if (*q == '&') {
			out_put(&o, "&", 1);
			q++;
		}
	}
}

int pchat_httptext_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	const char *colon, *host = s;
	char addr[INET6_ADDRSTRLEN];
	size_t hlen;
	char *end;
	long port;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -1;
		host = s + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -1;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(addr) || !isdigit((unsigned char)colon[1]))
		return -1;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return -1;
	memcpy(addr, host, hlen);
	addr[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (*s != '[' && inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
		return 0;
	}
	if (*s == '[' && inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
		return 0;
	}
	return -1;
}

void pchat_httptext_host(const struct sockaddr *sa, char *out, size_t size)
{
	const void *a = NULL;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (!a || !inet_ntop(sa->sa_family, a, out, (socklen_t)size))
		snprintf(out, size, "?");
}

void pchat_httptext_addr(const struct sockaddr *sa, char *out, size_t size)
{
	char addr[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &v4->sin_addr, addr, sizeof(addr));
		snprintf(out, size, "%s:%u", addr, ntohs(v4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &v6->sin6_addr, addr, sizeof(addr));
		snprintf(out, size, "[%s]:%u", addr, ntohs(v6->sin6_port));
	} else {
		snprintf(out, size, "?");
	}
}

int pchat_httptext_wildcard(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
	return sa->sa_family == AF_INET6
		   && IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

/* An http(s) URL with a host, of printable ASCII without spaces: it goes into headers, JSON
 * and log lines as it is. */
static int valid_url(const char *u)
{
	size_t scheme = strncasecmp(u, "https://", 8) == 0 ? 8
				  : strncasecmp(u, "http://", 7) == 0 ? 7 : 0;
	const char *p;

	if (scheme == 0 || u[scheme] == '\0' || u[scheme] == '/')
		return 0;
	for (p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '"' || *p == '\\')
			return 0;
	return 1;
}

int pchat_httptext_public_url(const char *given, const struct sockaddr *listen, int tls,
		char *out, size_t size)
{
	char addr[INET6_ADDRSTRLEN + 8];
	size_t n;

	if (given && given[0]) {
		if (!valid_url(given) || strlen(given) >= size)
			return -1;
		n = strlen(given);
		memcpy(out, given, n + 1);
	} else {
		pchat_httptext_addr(listen, addr, sizeof(addr));
		if ((size_t)snprintf(out, size, "%s://%s", tls ? "https" : "http", addr) >= size)
			return -1;
		n = strlen(out);
	}
	while (n > 0 && out[n - 1] == '/')
		out[--n] = '\0';
	return 0;
}

int pchat_httptext_path_matches(const char *route_path, const char *path)
{
	size_t n = strlen(route_path);

	if (n > 0 && route_path[n - 1] == '/')
		return strncmp(route_path, path, n) == 0;
	return strcmp(route_path, path) == 0;
}

int pchat_httptext_target_has_nul(const char *target)
{
	const char *p;

	for (p = target; *p && *p != '?' && *p != '#'; p++)
		if (p[0] == '%' && p[1] == '0' && p[2] == '0')
			return 1;
	return 0;
}

int pchat_httptext_method_serves(const char *route_method, const char *method)
{
	return strcmp(route_method, method) == 0
		   || (strcmp(route_method, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

/* Whether the comma-separated list holds method. */
static int allow_has(const char *allow, const char *method)
{
	size_t n = strlen(method);
	const char *p = allow;

	while ((p = strstr(p, method)) != NULL) {
		if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/* A method that does not fit whole is left out: a short list, never a cut name. */
static void allow_one(char *allow, size_t size, const char *method)
{
	size_t len = strlen(allow);

	if (allow_has(allow, method) || len + (len ? 2 : 0) + strlen(method) >= size)
		return;
	snprintf(allow + len, size - len, "%s%s", len ? ", " : "", method);
}

void pchat_httptext_allow_add(char *allow, size_t size, const char *route_method)
{
	allow_one(allow, size, route_method);
	if (strcmp(route_method, "GET") == 0)
		allow_one(allow, size, "HEAD");
}

int pchat_httptext_content_length(const char *v, uint64_t *n)
{
	uint64_t x = 0;

	if (!v || !*v)
		return -1;
	for (; *v; v++) {
		uint64_t d = (uint64_t)(*v - '0');

		if (!isdigit((unsigned char)*v) || x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*n = x;
	return 0;
}

/* tchar of RFC 9110, section 5.6.2 */
static int token_char(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

int pchat_httptext_value_ok(const char *value)
{
	const char *p;

	for (p = value; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return 0;
	return 1;
}

int pchat_httptext_header_ok(const char *name, const char *value)
{
	static const char *const managed[] = {"Content-Length", "Content-Type", "Transfer-Encoding",
		"Connection", "Date", "X-Content-Type-Options", "Referrer-Policy",
		"Strict-Transport-Security", NULL};
	const char *p;
	int i;

	if (!name[0])
		return 0;
	for (p = name; *p; p++)
		if (!token_char((unsigned char)*p))
			return 0;
	if (!pchat_httptext_value_ok(value))
		return 0;
	for (i = 0; managed[i]; i++)
		if (strcasecmp(name, managed[i]) == 0)
			return 0;
	return 1;
}
