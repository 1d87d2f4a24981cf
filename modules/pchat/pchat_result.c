/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include "pchat_result.h"

typedef struct rc_map {
	pchat_rc_t rc;
	int sip;            /* also the XCCOS resp code and the RPC fault code */
	const char *reason; /* SIP reason phrase */
	const char *text;   /* for logs */
} rc_map_t;

/* XCCOS reuses SIP's numbers for its resp codes (PROTOCOL.md), and so do the RPC faults: one
 * column serves the three. A full session or user is refused like a forbidden action, as Lync
 * does; an unsafe body is a bad request like any malformed one. */
static const rc_map_t rc_map[] = {
	{PCHAT_OK, 200, "OK", "ok"},
	{PCHAT_ERR_FAILED, 500, "Server Internal Error", "failed"},
	{PCHAT_ERR_DOWN, 503, "Service Unavailable", "backend unreachable"},
	{PCHAT_ERR_DUPLICATE, 409, "Conflict", "duplicate"},
	{PCHAT_ERR_NOT_FOUND, 404, "Not Found", "not found"},
	{PCHAT_ERR_INVALID, 400, "Bad Request", "invalid"},
	{PCHAT_ERR_MALFORMED, 400, "Bad Request", "not well-formed XML or not UTF-8"},
	{PCHAT_ERR_UNSAFE, 400, "Bad Request", "DOCTYPE not allowed"},
	{PCHAT_ERR_FORBIDDEN, 403, "Forbidden", "forbidden"},
	{PCHAT_ERR_CONFLICT, 409, "Conflict", "conflict"},
	{PCHAT_ERR_FULL, 403, "Forbidden", "limit reached"},
	{PCHAT_ERR_TOO_LARGE, 413, "Request Entity Too Large", "too large"},
	{PCHAT_ERR_NO_MEMORY, 500, "Server Internal Error", "out of memory"},
	{PCHAT_ERR_NOT_SUPPORTED, 501, "Not Implemented", "not supported"},
	{PCHAT_ERR_STALE, 409, "Conflict", "changed meanwhile"},
};

static const rc_map_t *map_of(pchat_rc_t rc)
{
	unsigned i;

	if (rc > 0) /* a count or a size: success */
		rc = PCHAT_OK;
	for (i = 0; i < sizeof(rc_map) / sizeof(rc_map[0]); i++)
		if (rc_map[i].rc == rc)
			return &rc_map[i];
	return &rc_map[1]; /* an unknown failure is a server error */
}

int pchat_rc_sip(pchat_rc_t rc)
{
	return map_of(rc)->sip;
}

const char *pchat_rc_reason(pchat_rc_t rc)
{
	return map_of(rc)->reason;
}

int pchat_rc_xccos(pchat_rc_t rc)
{
	return map_of(rc)->sip;
}

int pchat_rc_rpc(pchat_rc_t rc)
{
	return map_of(rc)->sip;
}

const char *pchat_rc_text(pchat_rc_t rc)
{
	return map_of(rc)->text;
}

/* HTTP shares SIP's numbers but for a bound reached: on the file service that is the disk
 * (507 Insufficient Storage, RFC 4918), not the user's or session's share. */
int pchat_rc_http(pchat_rc_t rc)
{
	return rc == PCHAT_ERR_FULL ? 507 : map_of(rc)->sip;
}
