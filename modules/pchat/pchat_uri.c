/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <sys/random.h>

#include "pchat_uri.h"

int pchat_guid_normalize(const char *in, char *out)
{
	int i;

	for (i = 0; i < PCHAT_GUID_LEN; i++) {
		char c = in[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return -1;
		} else if (!isxdigit((unsigned char)c)) {
			return -1;
		}
		out[i] = (char)tolower((unsigned char)c);
	}
	if (in[PCHAT_GUID_LEN] != '\0')
		return -1;
	out[PCHAT_GUID_LEN] = '\0';
	return 0;
}

int pchat_room_uri_guid(const char *uri, const char *domain, char *guid)
{
	static const char scheme[] = "ma-chan://";
	size_t dlen = strlen(domain);

	if (strncasecmp(uri, scheme, sizeof(scheme) - 1) != 0)
		return -1;
	uri += sizeof(scheme) - 1;
	if (strncasecmp(uri, domain, dlen) != 0 || uri[dlen] != '/')
		return -1;
	return pchat_guid_normalize(uri + dlen + 1, guid);
}

void pchat_room_uri(const char *domain, const char *guid, char *out, size_t outlen)
{
	snprintf(out, outlen, "ma-chan://%s/%s", domain, guid);
}

void pchat_category_uri(const char *domain, const char *guid, char *out, size_t outlen)
{
	snprintf(out, outlen, "ma-cat://%s/%s", domain, guid);
}

int pchat_user_normalize(const char *in, size_t len, char *out, size_t outlen)
{
	const char *end = in + len, *p, *at, *stop;
	size_t n, i;

	/* "Display Name" <sip:user@host;params> -> sip:user@host;params */
	p = memchr(in, '<', len);
	if (p) {
		const char *gt = memchr(p, '>', end - p);

		if (!gt)
			return -1;
		in = p + 1;
		end = gt;
	}
	while (in < end && isspace((unsigned char)*in))
		in++;
	if (end - in > 5 && strncasecmp(in, "sips:", 5) == 0)
		in += 5;
	else if (end - in > 4 && strncasecmp(in, "sip:", 4) == 0)
		in += 4;
	else
		return -1;
	for (stop = in; stop < end && *stop != ';' && *stop != '?' && *stop != '>'
					&& !isspace((unsigned char)*stop);
			stop++)
		;
	at = memchr(in, '@', stop - in);
	if (!at || at == in || at + 1 == stop || memchr(at + 1, '@', stop - at - 1))
		return -1;
	/* a port or password has no place in an identity */
	if (memchr(at, ':', stop - at) || memchr(in, ':', at - in))
		return -1;
	n = 4 + (size_t)(stop - in);
	if (n >= outlen)
		return -1;
	memcpy(out, "sip:", 4);
	for (i = 0; i < (size_t)(stop - in); i++) {
		unsigned char c = (unsigned char)in[i];

		/* only the characters a SIP user@host may carry; anything else is refused */
		if (!isalnum(c) && !strchr("-_.!~*'()&=+$,%@", c))
			return -1;
		out[4 + i] = (char)tolower(c);
	}
	out[n] = '\0';
	return 0;
}

int pchat_principal_normalize(const char *in, char *out, size_t outlen)
{
	size_t i, n = strlen(in);
	char uri[512];

	if (strncasecmp(in, "sip:", 4) == 0 || strncasecmp(in, "sips:", 5) == 0)
		return pchat_user_normalize(in, n, out, outlen);
	if (strchr(in, '@')) {
		/* user@host, as people type it: a SIP URI without its scheme (a name-addr keeps its
		 * own) */
		if (!strchr(in, '<') && n + 4 < sizeof(uri)) {
			snprintf(uri, sizeof(uri), "sip:%s", in);
			return pchat_user_normalize(uri, n + 4, out, outlen);
		}
		return pchat_user_normalize(in, n, out, outlen);
	}
	/* a domain: labels of letters, digits and hyphens, separated by dots */
	if (n == 0 || n >= outlen || in[0] == '.' || in[0] == '-' || in[n - 1] == '.')
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (!isalnum(c) && c != '-' && c != '.')
			return -1;
		if (c == '.' && in[i + 1] == '.')
			return -1;
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	return 0;
}

const char *pchat_user_domain(const char *user)
{
	const char *at = strchr(user, '@');

	return at ? at + 1 : user;
}

int pchat_random_bytes(unsigned char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, 0);

		if (r > 0)
			got += (size_t)r;
		else if (r < 0 && errno != EINTR)
			return -1;
	}
	return 0;
}

int pchat_random_guid(char *out)
{
	unsigned char b[16];

	if (pchat_random_bytes(b, sizeof(b)) < 0)
		return -1;
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	snprintf(out, PCHAT_GUID_LEN + 1,
			"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
			b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
			b[15]);
	return 0;
}

int pchat_random_hex(char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[64];
	size_t i;

	if (n > sizeof(b) || pchat_random_bytes(b, n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 0x0f];
	}
	out[2 * n] = '\0';
	return 0;
}
