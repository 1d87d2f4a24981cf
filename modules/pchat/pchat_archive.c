/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libxml/entities.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlversion.h>
#include <libxslt/security.h>
#include <libxslt/transform.h>
#include <libxslt/xslt.h>
#include <libxslt/xsltInternals.h>
#include <libxslt/xsltutils.h>

#include "pchat_alloc.h"
#include "pchat_archive.h"
#include "pchat_buf.h"

/* ================================================================== kinds */

static const char *const kind_names[PCHAT_EV_KINDS] = {
	[PCHAT_EV_JOIN] = "JOIN",
	[PCHAT_EV_PART] = "PART",
	[PCHAT_EV_CHAT] = "CHAT",
	[PCHAT_EV_BACKCHAT] = "BACKCHAT",
	[PCHAT_EV_FILEUPLOAD] = "FILEUPLOAD",
	[PCHAT_EV_FILEDOWNLOAD] = "FILEDOWNLOAD",
	[PCHAT_EV_REPLACE] = "REPLACE",
	[PCHAT_EV_CLEAR] = "CLEAR",
};

static int kind_is_valid(pchat_event_kind_t kind)
{
	/* through unsigned: an enum's signedness is the compiler's choice */
	return (unsigned)kind < (unsigned)PCHAT_EV_KINDS;
}

const char *pchat_event_kind_name(pchat_event_kind_t kind)
{
	return kind_is_valid(kind) ? kind_names[kind] : NULL;
}

int pchat_event_kind_of(const char *name)
{
	int k;

	if (!name)
		return -1;
	for (k = 0; k < PCHAT_EV_KINDS; k++)
		if (strcmp(kind_names[k], name) == 0)
			return k;
	return -1;
}

int pchat_event_kind_in_xml(pchat_event_kind_t kind)
{
	/* Lync's ComplianceMessageType: JOIN .. FILEDOWNLOAD, nothing for moderation */
	return kind_is_valid(kind) && kind <= PCHAT_EV_FILEDOWNLOAD;
}

/* ================================================================== time */

#define US_PER_SECOND 1000000LL
#define SECONDS_PER_DAY 86400LL
/* .NET ticks (100 ns) from 0001-01-01 to 1970-01-01 */
#define TICKS_AT_1970 621355968000000000LL
/* .NET DateTime's range, in microseconds since 1970: 0001-01-01T00:00:00Z and
 * 9999-12-31T23:59:59.999999Z. Inside it the ticks fit in 64 bits and the year has four digits. */
#define FIRST_US (-62135596800000000LL)
#define LAST_US 253402300799999999LL

/* The quotient rounded toward minus infinity (C's / rounds toward zero), d > 0. */
static long long floor_div(long long n, long long d)
{
	long long q = n / d;

	return (n % d < 0) ? q - 1 : q;
}

/* The proleptic Gregorian date of a day number (days since 1970-01-01, negative before): Howard
 * Hinnant's civil_from_days, exact over the whole range, with no time zone or locale involved
 * (gmtime_r would be too, but depends on time_t's width). */
static void civil_from_days(long long days, long long *year, int *month, int *day)
{
	long long z = days + 719468; /* days since 0000-03-01 */
	long long era = floor_div(z, 146097);
	long long doe = z - era * 146097;                                     /* [0, 146096] */
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);              /* [0, 365] */
	long long mp = (5 * doy + 2) / 153;                                   /* [0, 11], March = 0 */

	*day = (int)(doy - (153 * mp + 2) / 5 + 1);
	*month = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = yoe + era * 400 + (*month <= 2);
}

/* Writes v's last `width` decimal digits at p, zero-padded; returns the end. (By hand rather than
 * snprintf: the ranges are known here, not to the compiler's truncation warnings.) */
static char *put_digits(char *p, long long v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

void pchat_time_forms(int64_t unix_us, pchat_time_forms_t *f)
{
	long long us = unix_us < FIRST_US ? FIRST_US : unix_us > LAST_US ? LAST_US : unix_us;
	long long secs = floor_div(us, US_PER_SECOND);
	long long micros = us - secs * US_PER_SECOND;          /* [0, 999999] */
	long long days = floor_div(secs, SECONDS_PER_DAY);
	long long in_day = secs - days * SECONDS_PER_DAY;      /* [0, 86399] */
	long long year;                                        /* [1, 9999] once clamped */
	int month, day;
	char *p = f->iso;

	f->since1970 = floor_div(us, 1000);
	f->ticks = us * 10 + TICKS_AT_1970;
	civil_from_days(days, &year, &month, &day);
	p = put_digits(p, year, 4);
	*p++ = '-';
	p = put_digits(p, month, 2);
	*p++ = '-';
	p = put_digits(p, day, 2);
	*p++ = 'T';
	p = put_digits(p, in_day / 3600, 2);
	*p++ = ':';
	p = put_digits(p, in_day / 60 % 60, 2);
	*p++ = ':';
	p = put_digits(p, in_day % 60, 2);
	*p++ = '.';
	p = put_digits(p, micros, 6);
	/* microseconds: the seventh fractional digit (100 ns) is always 0 */
	memcpy(p, "0Z", 3);
}

/* ================================================================== UTF-8 */

/* U+FFFD in UTF-8 */

/* ================================================================== the writer */

struct pchat_archive {
	FILE *out;
	pchat_archive_opts_t opts;
	int failed;              /* a write failed: the output is incomplete */
	long long written;       /* events written */
	/* XML: the Conversation being written (the room of the last event written) */
	int in_conversation;
	uint64_t room_id;
	int64_t first_us, last_us;
};

/* The writes: each does nothing once a write has failed, and marks the output failed when it
 * fails itself (a FILE's error may also show only at the flush of pchat_archive_close). */
static void put_bytes(pchat_archive_t *a, const char *s, size_t len)
{
	if (!a->failed && len > 0 && fwrite(s, 1, len, a->out) != len)
		a->failed = 1;
}

static void put(pchat_archive_t *a, const char *s)
{
	put_bytes(a, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3))) putf(pchat_archive_t *a, const char *fmt, ...)
{
	va_list ap;

	if (a->failed)
		return;
	va_start(ap, fmt);
	if (vfprintf(a->out, fmt, ap) < 0)
		a->failed = 1;
	va_end(ap);
}

/* A NULL string of an event is written as an empty one. */
static const char *or_empty(const char *s)
{
	return s ? s : "";
}

/* ------------------------------------------------------------------ XML */

/* How a character is written in the output, or NULL when as it is; buf may hold the form. */
typedef const char *(*escape_f)(long cp, char buf[8]);

/* Writes text decoded as UTF-8, each character as escape says; the runs between escaped
 * characters in one write each. */
static void put_escaped(pchat_archive_t *a, const char *text, escape_f escape)
{
	const unsigned char *s = (const unsigned char *)or_empty(text);
	size_t n = strlen((const char *)s), run = 0, i = 0, len;
	const char *esc;
	char buf[8];
	long cp;

	while (i < n) {
		len = pchat_utf8_next(s + i, n - i, &cp);
		esc = escape(cp, buf);
		if (esc) {
			put_bytes(a, (const char *)s + run, i - run);
			put(a, esc);
			run = i + len;
		}
		i += len;
	}
	put_bytes(a, (const char *)s + run, n - run);
}

/* How a character must be written inside a double-quoted attribute value, or NULL when it is
 * written as it is. Tab, LF and CR are written as references: an attribute value's
 * normalization would turn them into spaces (XML 1.0, 3.3.3). */
static const char *xml_attr_escape(long cp, char buf[8])
{
	(void)buf;
	switch (cp) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '"': return "&quot;";
	case '\t': return "&#9;";
	case '\n': return "&#10;";
	case '\r': return "&#13;";
	}
	if (cp == PCHAT_NOT_A_CHAR || !pchat_xml_char(cp))
		return PCHAT_REPLACEMENT_CHAR;
	return NULL;
}

/* Writes text as the content of a double-quoted attribute value. The rule, documented in
 * pchat_archive.h: a character XML 1.0 cannot carry (a control character other than tab, LF and
 * CR, U+FFFE, U+FFFF) and each ill-formed UTF-8 sequence become U+FFFD; everything else,
 * right-to-left text and 4-byte characters included, passes unchanged. The JSON Lines output
 * keeps them (escaped): it is the faithful archive. */
static void put_xml_attr(pchat_archive_t *a, const char *text)
{
	put_escaped(a, text, xml_attr_escape);
}

static void put_xml_time(pchat_archive_t *a, const char *element, int64_t unix_us)
{
	pchat_time_forms_t t;

	pchat_time_forms(unix_us, &t);
	putf(a, "<%s since1970=\"%lld\" string=\"%s\" long=\"%lld\" />", element, t.since1970,
			t.iso, t.ticks);
}

/* Microsoft's samples write the Sender's uri without the scheme. The scheme's case does not
 * matter (RFC 3261, 19.1.4); sips: and anything else stay as they are. */
static const char *without_sip_scheme(const char *uri)
{
	uri = or_empty(uri);
	return strncasecmp(uri, "sip:", 4) == 0 ? uri + 4 : uri;
}

/* Sender. UserName and email are never written: the store has neither a display name nor an
 * e-mail address (both are optional in Lync's schema). */
static void put_xml_sender(pchat_archive_t *a, const pchat_event_t *ev)
{
	putf(a, "<Sender id=\"%lld\"", ev->user_id);
	if (a->opts.add_user_details && ev->user_internal >= 0)
		putf(a, " internal=\"%s\"", ev->user_internal ? "true" : "false");
	put(a, " uri=\"");
	put_xml_attr(a, without_sip_scheme(ev->user));
	put(a, "\" />");
}

/* One Message or FirstMessage (the same shape): type, content, id; then Sender and DateTimeUTC.
 * id is the post's number for CHAT and 0 otherwise; Lync's schema types it xs:int, which a
 * room's post numbers stay below (not clamped here). */
static void put_xml_message(pchat_archive_t *a, const char *element, const pchat_event_t *ev)
{
	putf(a, "<%s type=\"%s\" content=\"", element, kind_names[ev->kind]);
	put_xml_attr(a, ev->content);
	putf(a, "\" id=\"%llu\">", ev->kind == PCHAT_EV_CHAT ? (unsigned long long)ev->msg_id : 0ULL);
	put_xml_sender(a, ev);
	put_xml_time(a, "DateTimeUTC", ev->unix_us);
	putf(a, "</%s>\n", element);
}

/* Opens the Conversation of ev's room: its Channel, and its first event as FirstMessage. */
static void open_conversation(pchat_archive_t *a, const pchat_event_t *ev)
{
	put(a, "  <Conversation>\n    <Channel uri=\"");
	put_xml_attr(a, ev->room_uri);
	put(a, "\" name=\"");
	put_xml_attr(a, ev->room_name);
	putf(a, "\" islogged=\"%s\" />\n    ", ev->room_logged ? "true" : "false");
	put_xml_message(a, "FirstMessage", ev);
	put(a, "    <Messages>\n");
	a->in_conversation = 1;
	a->room_id = ev->room_id;
	a->first_us = ev->unix_us;
}

/* Closes the open Conversation, with the span of the events written in it. */
static void close_conversation(pchat_archive_t *a)
{
	put(a, "    </Messages>\n    ");
	put_xml_time(a, "StartTimeUTC", a->first_us);
	put(a, "\n    ");
	put_xml_time(a, "EndTimeUTC", a->last_us);
	put(a, "\n  </Conversation>\n");
	a->in_conversation = 0;
}

/* Writes ev as a Message of its room's Conversation: 1, or 0 for a kind XML has no type for. */
static int add_xml(pchat_archive_t *a, const pchat_event_t *ev)
{
	/* Opened at the first event it can write: a room whose events are all skipped has none. */
	if (!pchat_event_kind_in_xml(ev->kind))
		return 0;
	if (a->in_conversation && a->room_id != ev->room_id)
		close_conversation(a);
	if (!a->in_conversation)
		open_conversation(a, ev);
	put(a, "      ");
	put_xml_message(a, "Message", ev);
	a->last_us = ev->unix_us;
	return 1;
}

/* The declaration and the root's start tag (with the prefixes Lync's output declares). */
static void put_xml_head(pchat_archive_t *a)
{
	put(a, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
			"<Conversations xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
			" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\n");
}

/* Closes the open Conversation, if any, and the root. */
static void put_xml_tail(pchat_archive_t *a)
{
	if (a->in_conversation)
		close_conversation(a);
	put(a, "</Conversations>\n");
}

/* ------------------------------------------------------------------ JSON Lines */

/* Writes text as a JSON string. Control characters are kept (escaped) and non-ASCII characters
 * written as they are; each ill-formed UTF-8 sequence becomes U+FFFD, since JSON text must be
 * UTF-8 (RFC 8259, 8.1). */
static void put_json_string(pchat_archive_t *a, const char *text)
{
	put(a, "\"");
	put_escaped(a, text, pchat_json_escape);
	put(a, "\"");
}

/* Embeds a JSON value the caller built, as it is but for line ends: in JSON text a raw CR or LF
 * can only be whitespace between tokens (inside strings they are escaped), so writing a space
 * instead changes nothing but keeps the event on its line. */
static void put_json_raw(pchat_archive_t *a, const char *json)
{
	size_t run = 0, i;

	for (i = 0; json[i]; i++) {
		if (json[i] == '\n' || json[i] == '\r') {
			put_bytes(a, json + run, i - run);
			put(a, " ");
			run = i + 1;
		}
	}
	put_bytes(a, json + run, i - run);
}

/* Writes ev as one line, whatever its kind: 1. */
static int add_jsonl(pchat_archive_t *a, const pchat_event_t *ev)
{
	pchat_time_forms_t t;

	pchat_time_forms(ev->unix_us, &t);
	putf(a, "{\"id\":%llu,\"type\":\"%s\",\"time\":\"%s\",\"since1970\":%lld,\"ticks\":%lld,",
			(unsigned long long)ev->id, kind_names[ev->kind], t.iso, t.since1970, t.ticks);
	put(a, "\"room\":{\"uri\":");
	put_json_string(a, ev->room_uri);
	put(a, ",\"name\":");
	put_json_string(a, ev->room_name);
	putf(a, ",\"logged\":%s},\"user\":", ev->room_logged ? "true" : "false");
	put_json_string(a, ev->user);
	putf(a, ",\"user_id\":%lld", ev->user_id);
	if (a->opts.add_user_details && ev->user_internal >= 0)
		putf(a, ",\"internal\":%s", ev->user_internal ? "true" : "false");
	putf(a, ",\"message_id\":%llu,\"content\":", (unsigned long long)ev->msg_id);
	put_json_string(a, ev->content);
	if (ev->detail && ev->detail[0]) {
		put(a, ",\"detail\":");
		put_json_raw(a, ev->detail);
	}
	if (a->opts.add_room_details && ev->room_details && ev->room_details[0]) {
		put(a, ",\"room_details\":");
		put_json_raw(a, ev->room_details);
	}
	put(a, "}\n");
	return 1;
}

/* ------------------------------------------------------------------ the API */

pchat_archive_t *pchat_archive_open(FILE *out, const pchat_archive_opts_t *opts)
{
	pchat_archive_t *a;

	if (!out || !opts)
		return NULL;
	a = pchat_calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->out = out;
	a->opts = *opts;
	if (a->opts.format == PCHAT_ARCHIVE_XML)
		put_xml_head(a);
	return a;
}

int pchat_archive_add(pchat_archive_t *a, const pchat_event_t *ev)
{
	int r;

	if (!a)
		return -1;
	/* An event that cannot be named is the caller's bug; the output would miss it, so it
	 * fails like a lost write rather than disappearing. */
	if (!ev || !kind_is_valid(ev->kind))
		a->failed = 1;
	if (a->failed)
		return -1;
	r = a->opts.format == PCHAT_ARCHIVE_XML ? add_xml(a, ev) : add_jsonl(a, ev);
	if (a->failed)
		return -1;
	a->written += r;
	return r;
}

long long pchat_archive_close(pchat_archive_t *a)
{
	long long written;

	if (!a)
		return -1;
	if (a->opts.format == PCHAT_ARCHIVE_XML)
		put_xml_tail(a);
	/* a buffered write fails here at the latest */
	if (fflush(a->out) != 0 || ferror(a->out))
		a->failed = 1;
	written = a->failed ? -1 : a->written;
	pchat_free(a);
	return written;
}

/* ================================================================== XSLT */

#define XSLT_NS "http://www.w3.org/1999/XSL/Transform"
/* No network, CDATA as text (what libxslt expects of a stylesheet), and neither
 * XML_PARSE_NOENT nor XML_PARSE_DTDLOAD: no external entity or DTD is read. */
#define PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOCDATA)

/* libxml2 2.12 made the structured handler's error const */
#if LIBXML_VERSION >= 21200
#define XML_ERROR_PTR const xmlError *
#else
#define XML_ERROR_PTR xmlErrorPtr
#endif

/* libxml2's and libxslt's messages during one transform, as one line. */
typedef struct captured {
	char text[1024];
	size_t used;
} captured_t;

static void capture_text(captured_t *c, const char *s)
{
	size_t room = sizeof(c->text) - 1 - c->used;
	size_t n = strlen(s);

	if (n > room)
		n = room;
	memcpy(c->text + c->used, s, n);
	c->used += n;
	c->text[c->used] = '\0';
}

/* libxml2's and libxslt's generic error channel: printf-like, a message in several pieces. */
static void __attribute__((format(printf, 2, 3))) capture_generic(void *ctx, const char *fmt, ...)
{
	char piece[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(piece, sizeof(piece), fmt, ap);
	va_end(ap);
	capture_text(ctx, piece);
}

/* libxml2's structured errors (parsing): file, line and message, without the source excerpt
 * the generic channel would add. */
static void capture_structured(void *ctx, XML_ERROR_PTR e)
{
	char piece[512];

	if (e->file)
		snprintf(piece, sizeof(piece), "%s:%d: %s", e->file, e->line, or_empty(e->message));
	else
		snprintf(piece, sizeof(piece), "%s", or_empty(e->message));
	capture_text(ctx, piece);
}

/* The error handlers in place before a transform, put back after it. libxml2's are per thread;
 * libxslt's generic one is process-wide (a Kamailio process runs one transform at a time). */
typedef struct error_handlers {
	xmlGenericErrorFunc xml_generic;
	void *xml_generic_ctx;
	xmlStructuredErrorFunc xml_structured;
	void *xml_structured_ctx;
	xmlGenericErrorFunc xslt_generic;
	void *xslt_generic_ctx;
} error_handlers_t;

static void capture_errors(captured_t *c, error_handlers_t *saved)
{
	c->used = 0;
	c->text[0] = '\0';
	saved->xml_generic = xmlGenericError;
	saved->xml_generic_ctx = xmlGenericErrorContext;
	saved->xml_structured = xmlStructuredError;
	saved->xml_structured_ctx = xmlStructuredErrorContext;
	saved->xslt_generic = xsltGenericError;
	saved->xslt_generic_ctx = xsltGenericErrorContext;
	xmlSetGenericErrorFunc(c, capture_generic);
	xmlSetStructuredErrorFunc(c, capture_structured);
	xsltSetGenericErrorFunc(c, capture_generic);
}

static void restore_errors(const error_handlers_t *saved)
{
	xmlSetGenericErrorFunc(saved->xml_generic_ctx, saved->xml_generic);
	xmlSetStructuredErrorFunc(saved->xml_structured_ctx, saved->xml_structured);
	xsltSetGenericErrorFunc(saved->xslt_generic_ctx, saved->xslt_generic);
}

/* err = "<what>: <captured messages>", on one line: the messages' line ends become "; ". */
static void set_error(char *err, size_t errlen, const char *what, const captured_t *c)
{
	char line[sizeof(c->text) * 2];
	size_t used = 0, i;
	int line_ended = 0;

	if (!err || errlen == 0)
		return;
	for (i = 0; i < c->used && used + 3 < sizeof(line); i++) {
		if (c->text[i] == '\n' || c->text[i] == '\r') {
			line_ended = 1;
			continue;
		}
		if (line_ended && used > 0) {
			line[used++] = ';';
			line[used++] = ' ';
		}
		line_ended = 0;
		line[used++] = c->text[i];
	}
	line[used] = '\0';
	snprintf(err, errlen, "%s%s%s", what, used ? ": " : "", line);
}

/* Why a file that did not parse could not even be read, in err (libxml2 would only say it
 * "failed to load external entity"): 1, or 0 when it can be read (its content is the problem). */
static int explain_unreadable(char *err, size_t errlen, const char *role, const char *path)
{
	if (access(path, R_OK) == 0)
		return 0;
	if (err && errlen)
		snprintf(err, errlen, "cannot read %s %s: %s", role, path, strerror(errno));
	return 1;
}

/* n is the XSLT element of this local name (whatever prefix the stylesheet gives it). */
static int is_xslt_element(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href
		&& strcmp((const char *)n->ns->href, XSLT_NS) == 0
		&& strcmp((const char *)n->name, name) == 0;
}

/* The first xsl:import or xsl:include among the nodes of list and their descendants, or NULL.
 * Entity contents count too: entities are not substituted and libxslt 1.1.35 does not follow an
 * xsl:include inside one, but nothing promises it never will. The depth is bounded by libxml2's
 * nesting limit (256 without XML_PARSE_HUGE). */
static const xmlNode *find_import(const xmlNode *list)
{
	const xmlNode *n, *found;
	xmlEntityPtr ent;

	for (n = list; n; n = n->next) {
		if (is_xslt_element(n, "import") || is_xslt_element(n, "include"))
			return n;
		if (n->type == XML_ELEMENT_NODE && (found = find_import(n->children)))
			return found;
		/* a reference's children point at its entity declaration, whose children are
		 * the parsed content */
		if (n->type == XML_ENTITY_REF_NODE && (ent = xmlGetDocEntity(n->doc, n->name))
				&& (found = find_import(ent->children)))
			return found;
	}
	return NULL;
}

/* Parses the stylesheet: NULL with err set when it does not parse, is not a stylesheet, or
 * imports or includes another (they would be read at parse time, before any security
 * preference applies, and reading another file is what the contract forbids). */
static xsltStylesheetPtr parse_stylesheet(const char *path, captured_t *c, char *err,
		size_t errlen)
{
	xmlDocPtr doc = xmlReadFile(path, NULL, PARSE_OPTIONS);
	const xmlNode *imp;
	xsltStylesheetPtr style;
	char what[512];

	if (!doc) {
		if (explain_unreadable(err, errlen, "stylesheet", path))
			return NULL;
		snprintf(what, sizeof(what), "stylesheet %s does not parse", path);
		set_error(err, errlen, what, c);
		return NULL;
	}
	imp = find_import(doc->children);
	if (imp) {
		snprintf(what, sizeof(what), "stylesheet %s: xsl:%s (line %ld) refused: a stylesheet"
				" may read no other file", path, (const char *)imp->name, xmlGetLineNo(imp));
		set_error(err, errlen, what, c);
		xmlFreeDoc(doc);
		return NULL;
	}
	/* on success the stylesheet owns doc; on failure it stays ours */
	style = xsltParseStylesheetDoc(doc);
	if (!style || style->errors) {
		snprintf(what, sizeof(what), "stylesheet %s is not a valid XSLT stylesheet", path);
		set_error(err, errlen, what, c);
		if (style)
			xsltFreeStylesheet(style);
		else
			xmlFreeDoc(doc);
		return NULL;
	}
	return style;
}

/* Security preferences that forbid every file and network access a transform could make. */
static xsltSecurityPrefsPtr sandbox_prefs(void)
{
	static const xsltSecurityOption forbidden[] = {
		XSLT_SECPREF_READ_FILE, XSLT_SECPREF_WRITE_FILE, XSLT_SECPREF_CREATE_DIRECTORY,
		XSLT_SECPREF_READ_NETWORK, XSLT_SECPREF_WRITE_NETWORK,
	};
	xsltSecurityPrefsPtr sec = xsltNewSecurityPrefs();
	size_t i;

	if (!sec)
		return NULL;
	for (i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		if (xsltSetSecurityPrefs(sec, forbidden[i], xsltSecurityForbid) != 0) {
			xsltFreeSecurityPrefs(sec);
			return NULL;
		}
	}
	return sec;
}

/* Runs style on doc with every file and network access forbidden: the result, or NULL with err
 * set when the transform failed or stopped (xsl:message terminate="yes", a refused access). */
static xmlDocPtr run_sandboxed(xsltStylesheetPtr style, xmlDocPtr doc, captured_t *c,
		char *err, size_t errlen)
{
	xsltSecurityPrefsPtr sec = sandbox_prefs();
	xsltTransformContextPtr ctxt = NULL;
	xmlDocPtr result = NULL;

	if (!sec || !(ctxt = xsltNewTransformContext(style, doc))
			|| xsltSetCtxtSecurityPrefs(sec, ctxt) != 0) {
		set_error(err, errlen, "cannot set up the transform", c);
		goto out;
	}
	result = xsltApplyStylesheetUser(style, doc, NULL, NULL, NULL, ctxt);
	if (!result || ctxt->state == XSLT_STATE_ERROR || ctxt->state == XSLT_STATE_STOPPED) {
		set_error(err, errlen, ctxt->state == XSLT_STATE_STOPPED ? "transform stopped"
				: "transform failed", c);
		xmlFreeDoc(result);
		result = NULL;
	}
out:
	if (ctxt)
		xsltFreeTransformContext(ctxt);
	if (sec)
		xsltFreeSecurityPrefs(sec);
	return result;
}

/* Writes the result as the stylesheet's xsl:output says, through our own FILE: a write error is
 * then seen at fflush/fclose whatever libxml2 reports, and out_path is a file name only (libxml2's
 * output by name would also take URLs). On failure err has errno's reason (libxml2's message
 * would say the same). */
static int save_result(xmlDocPtr result, xsltStylesheetPtr style, const char *out_path,
		char *err, size_t errlen)
{
	FILE *f = fopen(out_path, "w");
	int failed;

	if (!f) {
		if (err && errlen)
			snprintf(err, errlen, "cannot create %s: %s", out_path, strerror(errno));
		return -1;
	}
	errno = 0;
	failed = xsltSaveResultToFile(f, result, style) < 0;
	failed |= fflush(f) != 0 || ferror(f);
	failed |= fclose(f) != 0;
	if (failed && err && errlen)
		snprintf(err, errlen, "cannot write %s: %s", out_path,
				errno ? strerror(errno) : "write error");
	return failed ? -1 : 0;
}

int pchat_archive_transform(const char *xslt_path, const char *in_path, const char *out_path,
		char *err, size_t errlen)
{
	error_handlers_t saved;
	xsltStylesheetPtr style = NULL;
	xmlDocPtr doc = NULL, result = NULL;
	char what[512];
	captured_t c;
	int r = -1;

	if (err && errlen)
		err[0] = '\0';
	if (!xslt_path || !in_path || !out_path) {
		if (err && errlen)
			snprintf(err, errlen, "transform: missing path");
		return -1;
	}
	xmlInitParser();
	xsltInit();
	capture_errors(&c, &saved);
	style = parse_stylesheet(xslt_path, &c, err, errlen);
	if (!style)
		goto out;
	c.used = 0;
	c.text[0] = '\0';
	doc = xmlReadFile(in_path, NULL, PARSE_OPTIONS);
	if (!doc) {
		if (explain_unreadable(err, errlen, "input", in_path))
			goto out;
		snprintf(what, sizeof(what), "input %s does not parse", in_path);
		set_error(err, errlen, what, &c);
		goto out;
	}
	result = run_sandboxed(style, doc, &c, err, errlen);
	if (!result)
		goto out;
	r = save_result(result, style, out_path, err, errlen);
out:
	restore_errors(&saved);
	xmlFreeDoc(result);
	xmlFreeDoc(doc);
	if (style)
		xsltFreeStylesheet(style);
	return r;
}

/* ================================================================== publication */

/* err = "<what>: <errno's reason>"; returns -1. errno is read before anything can change it. */
static int __attribute__((format(printf, 3, 4))) publish_failed(char *err, size_t errlen,
		const char *fmt, ...)
{
	int e = errno;
	size_t used;
	va_list ap;

	if (!err || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	used = strlen(err);
	snprintf(err + used, errlen - used, ": %s", strerror(e));
	return -1;
}

/* Closes fd keeping errno (the reason of the step that failed). */
static void close_keeping_errno(int fd)
{
	int e = errno;

	close(fd);
	errno = e;
}

/* A plain name in the folder: the folder fsynced must be the one that holds the entry. */
static int is_plain_name(const char *name)
{
	return name && name[0] && !strchr(name, '/') && strcmp(name, ".") != 0
		&& strcmp(name, "..") != 0;
}

/* Opens name in dirfd and fsyncs it, so its content is on disk before its new name is. */
static int sync_file(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fsync(fd) != 0) {
		close_keeping_errno(fd);
		return -1;
	}
	return close(fd);
}

int pchat_archive_publish(const char *dir, const char *tmp_name, const char *final_name,
		char *err, size_t errlen)
{
	int dirfd;

	if (!dir || !is_plain_name(tmp_name) || !is_plain_name(final_name)) {
		errno = EINVAL;
		return publish_failed(err, errlen, "publish in %s: the names must be file names"
				" of the folder (\"%s\", \"%s\")", or_empty(dir), or_empty(tmp_name),
				or_empty(final_name));
	}
	/* One descriptor for every step: the file synced, the rename and the folder synced are
	 * in the same folder even if its path changes meanwhile. */
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return publish_failed(err, errlen, "publish: cannot open folder %s", dir);
	if (sync_file(dirfd, tmp_name) != 0) {
		close_keeping_errno(dirfd);
		return publish_failed(err, errlen, "publish: cannot fsync %s/%s", dir, tmp_name);
	}
	if (renameat(dirfd, tmp_name, dirfd, final_name) != 0) {
		close_keeping_errno(dirfd);
		return publish_failed(err, errlen, "publish: cannot rename %s/%s to %s", dir,
				tmp_name, final_name);
	}
	/* The new name is on disk once the folder is. Some network file systems (CIFS) cannot
	 * sync a folder and say EINVAL: their server commits the rename itself. */
	if (fsync(dirfd) != 0 && errno != EINVAL) {
		close_keeping_errno(dirfd);
		return publish_failed(err, errlen, "publish: cannot fsync folder %s", dir);
	}
	if (close(dirfd) != 0)
		return publish_failed(err, errlen, "publish: cannot close folder %s", dir);
	return 0;
}
