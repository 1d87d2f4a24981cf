/*
 * Identifiers on the wire: room URIs (ma-chan://DOMAIN/GUID), category URIs, user URIs.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_URI_H
#define PCHAT_URI_H

#include <stddef.h>

#define PCHAT_GUID_LEN 36
#define PCHAT_USER_MAX 256   /* longest user URI kept (principals are VARCHAR(255)) */
#define PCHAT_ROOM_URI_MAX 192

/* Lower-cases a GUID (8-4-4-4-12 hex digits) into out (37 bytes). 0 when valid, -1 otherwise. */
int pchat_guid_normalize(const char *in, char *out);

/* "ma-chan://DOMAIN/GUID" of our domain -> GUID. 0 ok, -1 not a room URI of this service. */
int pchat_room_uri_guid(const char *uri, const char *domain, char *guid);

/* Builds "ma-chan://DOMAIN/GUID" (or ma-cat://) into out. */
void pchat_room_uri(const char *domain, const char *guid, char *out, size_t outlen);
void pchat_category_uri(const char *domain, const char *guid, char *out, size_t outlen);

/* Normalizes a user identity to "sip:user@host" in lower case, without display name, angle
 * brackets, parameters or headers. 0 ok, -1 when it is not a sip:/sips: URI with user@host. */
int pchat_user_normalize(const char *in, size_t len, char *out, size_t outlen);

/* A principal of a category or room: a user (sip:user@host, or user@host without the scheme,
 * normalized as above) or a whole domain (host name, lower case). 0 ok, -1 when it is
 * neither. */
int pchat_principal_normalize(const char *in, char *out, size_t outlen);

/* The domain of a normalized user URI ("sip:alice@example.com" -> "example.com"). */
const char *pchat_user_domain(const char *user);

/* Fills buf with n bytes from the kernel's random source (getrandom). 0 ok, -1 when the source
 * fails. */
int pchat_random_bytes(unsigned char *buf, size_t n);

/* A random version 4 GUID in lower case (37 bytes with the NUL). 0 ok, -1 as above. */
int pchat_random_guid(char *out);

/* n random bytes as 2n lower-case hex digits and a NUL (out holds 2n + 1 bytes): the local tag
 * of a chat session must not be guessable (it is what finds the session). 0 ok, -1 as above. */
int pchat_random_hex(char *out, size_t n);

#endif
