/*
 * The compliance archive's output: events written as Lync's compliance XML (the built-in XML
 * adapter of Lync Server 2013 Persistent Chat) or as JSON Lines, streamed event by event so a
 * batch of any size is written in bounded memory; an optional XSLT applied to a written XML file
 * (Lync's CustomConfiguration) with file and network access forbidden; and the atomic
 * publication of a finished file in the output folder.
 *
 * No Kamailio header: unit-tested alone (tests/unit/test_archive.c), against an XSD of Lync's
 * output shape (tests/compliance/lync-compliance.xsd).
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_ARCHIVE_H
#define PCHAT_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What the compliance service records. The names are stored in the outbox and written to the
 * output as they are. The first six are Lync's ComplianceMessageType; the moderation kinds are
 * ours and go to the JSON Lines output only (Lync's schema has no type for them). */
typedef enum pchat_event_kind {
	PCHAT_EV_JOIN,
	PCHAT_EV_PART,
	PCHAT_EV_CHAT,
	PCHAT_EV_BACKCHAT,
	PCHAT_EV_FILEUPLOAD,
	PCHAT_EV_FILEDOWNLOAD,
	PCHAT_EV_REPLACE, /* an administrator replaced a message's content */
	PCHAT_EV_CLEAR,   /* an administrator deleted a room's messages */
	PCHAT_EV_KINDS
} pchat_event_kind_t;

/* "JOIN", "PART", ...; NULL for a kind out of range. */
const char *pchat_event_kind_name(pchat_event_kind_t kind);
/* The kind of a name, -1 when it is none. */
int pchat_event_kind_of(const char *name);
/* 1 when Lync's XML has a Message type for the kind. */
int pchat_event_kind_in_xml(pchat_event_kind_t kind);

/* One recorded event, as the worker reads it back from the outbox. Strings are UTF-8 and valid
 * during the call that receives the event; a NULL string is written as an empty one. */
typedef struct pchat_event {
	uint64_t id;            /* the outbox row's id (JSON Lines only) */
	pchat_event_kind_t kind;
	int64_t unix_us;        /* the server's time, microseconds since 1970-01-01 UTC */
	uint64_t room_id;
	const char *room_uri;   /* ma-chan://<domain>/<guid> */
	const char *room_name;
	int room_logged;        /* the room's chat history is on (Channel/@islogged) */
	const char *user;       /* the user's SIP URI (sip:alice@example.com); the administrator's
	                           principal, or "" for an RPC, for moderation */
	long long user_id;      /* Sender/@id: stable per user, assigned by the worker */
	int user_internal;      /* Sender/@internal: 1, 0, or -1 not known (left out) */
	uint64_t msg_id;        /* CHAT, REPLACE: the post's number in its room; 0 otherwise */
	const char *content;    /* CHAT: the post's text; REPLACE: the new text; file events: the
	                           stored file name; BACKCHAT: the numbers read ("12-41"; a read
	                           of nothing is not recorded); JOIN, PART, CLEAR: "" */
	const char *detail;     /* a JSON object with what the kind adds (PART's cause, BACKCHAT's
	                           range, REPLACE's previous content, CLEAR's bound and count), or
	                           NULL; written to JSON Lines only */
	const char *room_details; /* a JSON object (description, category, privacy as at export),
	                             or NULL; JSON Lines only, when add_room_details is on */
} pchat_event_t;

/* ------------------------------------------------------------------ time */

/* One instant in the three forms of Lync's time elements. */
typedef struct pchat_time_forms {
	long long since1970;   /* milliseconds since 1970, truncated */
	long long ticks;       /* .NET ticks: 100 ns since 0001-01-01 */
	char iso[32];          /* 2008-06-04T20:15:40.9535480Z: seven fractional digits */
} pchat_time_forms_t;

/* Fills f for unix_us (microseconds since 1970-01-01 UTC; before 1970 is allowed). since1970 is
 * rounded toward minus infinity (-1 us is -1 ms); ticks = unix_us * 10 + 621355968000000000.
 * Times outside .NET's DateTime range (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z) are
 * clamped to it: no overflow, and always a four-digit year. */
void pchat_time_forms(int64_t unix_us, pchat_time_forms_t *f);

/* ------------------------------------------------------------------ writers */

typedef enum pchat_archive_format {
	PCHAT_ARCHIVE_XML,
	PCHAT_ARCHIVE_JSONL,
} pchat_archive_format_t;

typedef struct pchat_archive_opts {
	pchat_archive_format_t format;
	int add_user_details; /* XML: Sender/@internal; JSON Lines: "internal" */
	int add_room_details; /* JSON Lines: "room_details" */
} pchat_archive_opts_t;

typedef struct pchat_archive pchat_archive_t;

/* Starts an output on out (the caller opens and closes the FILE). For XML, events must come
 * grouped by room (a room's events one after the other, oldest first): each group is one
 * Conversation (a room that comes back after another gets a second one). NULL when out of memory
 * or out or opts is NULL.
 *
 * XML: the declaration and Conversations are written at once; a Conversation is opened at the
 * first event of its room that XML can carry, so a room whose events are all skipped has none,
 * and an output with no event written is <Conversations ...></Conversations>. Its Channel is
 * the first event's room; FirstMessage is a copy of its first Message; StartTimeUTC and
 * EndTimeUTC are the times of its first and last Message. Attribute values are escaped (& < > "
 * and tab, LF, CR as character references, which attribute-value normalization would turn into
 * spaces); a character XML 1.0 cannot carry (U+0001-U+001F but tab, LF and CR; U+FFFE; U+FFFF)
 * and each ill-formed UTF-8 sequence are written as U+FFFD. Sender/@uri is the user without a
 * leading "sip:" (Microsoft's samples); Sender has no UserName or email (the store has neither).
 *
 * JSON Lines: one object per event and line, every kind, keys in this order: id, type, time (the
 * iso form), since1970, ticks, room {uri, name, logged}, user (as stored), user_id, internal
 * (add_user_details and user_internal >= 0), message_id, content, detail (non-NULL, non-empty),
 * room_details (add_room_details, non-NULL, non-empty). Strings are escaped as RFC 8259 says:
 * control characters are kept, as \uXXXX or their short forms; ill-formed UTF-8 sequences are
 * written as U+FFFD (JSON text must be UTF-8). detail and room_details must be JSON objects; they
 * are embedded as they are, but for raw CR and LF (whitespace between tokens), written as spaces
 * to keep the event on one line. */
pchat_archive_t *pchat_archive_open(FILE *out, const pchat_archive_opts_t *opts);

/* Writes one event. Events of a kind the format has no place for (moderation in XML) are
 * skipped. Returns 1 written, 0 skipped, -1 when writing failed (see pchat_archive_close). A NULL
 * ev or a kind out of range also fails the output (an event must not vanish silently); once
 * failed, nothing more is written and every call returns -1. A write failure may only show at
 * pchat_archive_close, when the FILE's buffer is flushed. */
int pchat_archive_add(pchat_archive_t *a, const pchat_event_t *ev);

/* Finishes the output (the XML's closing elements), flushes, and frees a. Returns how many
 * events were written, or -1 when any write failed (disk full, say) or a was NULL. */
long long pchat_archive_close(pchat_archive_t *a);

/* ------------------------------------------------------------------ XSLT */

/* Applies the stylesheet at xslt_path to the XML file in_path and writes the result to out_path
 * (the stylesheet's xsl:output decides the serialization). The transform may read no file but
 * its input and write none but its output, and reach no network: document() fails the transform
 * (document('') too: libxslt reads the stylesheet's file again for it), so do extension elements
 * that write files (xsl:document, saxon:output, ...); a stylesheet that contains xsl:import or
 * xsl:include is refused before it is compiled; external entities and DTDs are not loaded
 * (XML_PARSE_NONET, no XML_PARSE_NOENT). Returns 0, or -1 with the reason (parse error, runtime
 * error, xsl:message terminate="yes", refused access, write error, with libxml2's and libxslt's
 * messages) in err; out_path may then be left incomplete (write it under a temporary name and
 * publish it). libxml2's and libxslt's error handlers are replaced during the call and put back
 * after it. */
int pchat_archive_transform(const char *xslt_path, const char *in_path, const char *out_path,
		char *err, size_t errlen);

/* ------------------------------------------------------------------ files */

/* Makes the finished file dir/tmp_name appear as dir/final_name atomically: fsyncs the file,
 * renames it (replacing a file of that name: a batch written again replaces itself), fsyncs the
 * folder. tmp_name and final_name are names in dir (no '/', not "." or ".."). Returns 0, or -1
 * with the step and errno's reason in err. */
int pchat_archive_publish(const char *dir, const char *tmp_name, const char *final_name,
		char *err, size_t errlen);

#endif
