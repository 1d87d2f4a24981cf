/*
 * The module's one set of result codes, and what each becomes on the wire.
 *
 * Every part (database, Redis, store, presence, administration, XCCOS parser, chat logic) returns
 * PCHAT_OK (0), or a count or size (>= 0) where its contract says so, on success and a negative
 * pchat_rc_t on failure. The SIP status, the XCCOS resp code and the RPC fault code a result
 * becomes are decided here and nowhere else, so a reply code stays the same whichever part
 * refused (the module docs list them; keep them stable). ARCHITECTURE.md, section 3, lists the
 * statuses that do not come from a result (SIP's own refusals of an INVITE, say).
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_RESULT_H
#define PCHAT_RESULT_H

typedef enum pchat_rc {
	PCHAT_OK = 0,
	PCHAT_ERR_FAILED = -1,        /* a backend refused (statement, script): logged where seen */
	PCHAT_ERR_DOWN = -2,          /* MySQL or Redis unreachable: try again later */
	PCHAT_ERR_DUPLICATE = -3,     /* a unique key would be duplicated */
	PCHAT_ERR_NOT_FOUND = -4,     /* no such room, category, bundle, member */
	PCHAT_ERR_INVALID = -5,       /* a missing or invalid argument; not an XCCOS command */
	PCHAT_ERR_MALFORMED = -6,     /* not well-formed XML, or not UTF-8 */
	PCHAT_ERR_UNSAFE = -7,        /* a DOCTYPE (entities): refused before parsing */
	PCHAT_ERR_FORBIDDEN = -8,     /* the caller may not do this */
	PCHAT_ERR_CONFLICT = -9,      /* a name already taken, a category still in use */
	PCHAT_ERR_FULL = -10,         /* a bound of the user's or session's data was reached */
	PCHAT_ERR_TOO_LARGE = -11,    /* over a size limit */
	PCHAT_ERR_NO_MEMORY = -12,
	PCHAT_ERR_NOT_SUPPORTED = -13,
	PCHAT_ERR_STALE = -14,        /* changed by someone else since the version given */
} pchat_rc_t;

/* The SIP status a request that ended with rc is answered with, and its reason phrase. */
int pchat_rc_sip(pchat_rc_t rc);
const char *pchat_rc_reason(pchat_rc_t rc);
/* The resp code of an XCCOS reply (<resp code="...">). */
int pchat_rc_xccos(pchat_rc_t rc);
/* The status of an HTTP response of the file service. */
int pchat_rc_http(pchat_rc_t rc);
/* The fault code of an RPC command. */
int pchat_rc_rpc(pchat_rc_t rc);
/* A few words for logs ("database unreachable"). */
const char *pchat_rc_text(pchat_rc_t rc);

#endif
