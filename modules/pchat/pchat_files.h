/*
 * Files posted to rooms, the rules without the storage: stored names, the file links a post
 * carries, the order of an upload's chunks, byte ranges, what a download says about itself,
 * and base64. No I/O, no database: the repository (pchat_filestore.h) and the web service use
 * these.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_FILES_H
#define PCHAT_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "pchat_buf.h"
#include "pchat_result.h"

/* A stored name: a GUID and, when the original name had a usable one, a dot and an extension
 * of up to PCHAT_FILE_EXT_MAX lower-case letters and digits. */
#define PCHAT_FILE_EXT_MAX 16
#define PCHAT_FILE_NAME_MAX (36 + 1 + PCHAT_FILE_EXT_MAX + 1)
/* Bytes of the name a user gives a file (kept for display only). */
#define PCHAT_FILE_ORIGINAL_MAX 255

/* The extension of a name as the repository keeps it: after the last dot, lower-cased, only
 * when it is 1 to PCHAT_FILE_EXT_MAX ASCII letters and digits; "" otherwise. ext holds
 * PCHAT_FILE_EXT_MAX + 1 bytes. A bare extension ("txt", ".txt") is taken as one. */
void pchat_file_ext(const char *name, char *ext);

/* A new stored name from an extension (pchat_file_ext). 0, or -1 when there is no randomness. */
int pchat_file_new_name(const char *ext, char out[PCHAT_FILE_NAME_MAX]);

/* 1 when name is a stored name of the form pchat_file_new_name makes (so it is safe as a path
 * component), 0 otherwise. */
int pchat_file_name_valid(const char *name);

/* The name a user gave, made fit to keep and show: its last path component only (a client may
 * send "C:\dir\a.txt" or "../a"), at most PCHAT_FILE_ORIGINAL_MAX bytes of valid UTF-8 (cut
 * at a character); control characters, bidirectional controls and ill-formed UTF-8 each become
 * '_'. out holds PCHAT_FILE_ORIGINAL_MAX + 1 bytes. "", "." and ".." become "file". */
void pchat_file_original_name(const char *in, char *out);

/* The link a post carries to a file: ma-filelink://DOMAIN/ROOM-GUID/STORED-NAME. */
#define PCHAT_FILE_LINK_SCHEME "ma-filelink://"
void pchat_file_link(pchat_buf_t *b, const char *domain, const char *room_guid,
		const char *name);

/* Calls cb for each file link in text (a post's text), with the room GUID (normalised to lower
 * case) and stored name it names; a link of another domain, or one that is not of the form
 * above, is passed with guid and name NULL. Stops at cb's first non-zero return and returns
 * it; 0 when cb accepted all, or when there was none. */
typedef int (*pchat_file_link_f)(void *ctx, const char *guid, const char *name);
int pchat_file_links(const char *text, const char *domain, pchat_file_link_f cb, void *ctx);

/* Whether a chunk may be appended to an upload that holds size bytes so far: its offset must
 * be size exactly (no gap, no overlap); length is the size the upload announced (its first
 * chunk fixes it: pass UINT64_MAX before that), max the most bytes a file may have. PCHAT_OK,
 * PCHAT_ERR_CONFLICT (the offset is not size: *why says which), PCHAT_ERR_TOO_LARGE (past
 * length or max), PCHAT_ERR_INVALID (a length that differs from the announced one). */
pchat_rc_t pchat_file_chunk_check(uint64_t size, uint64_t length, uint64_t offset,
		uint64_t chunk, uint64_t new_length, uint64_t max, const char **why);

/* A Range header for a file of size bytes: 0 for the whole file (no header, or one that
 * cannot be honoured as a single range and is ignored as RFC 9110 allows: several ranges,
 * another unit), 1 with *from and *len set for one satisfiable range, -1 when the range is not
 * satisfiable (416). */
int pchat_file_range(const char *header, uint64_t size, uint64_t *from, uint64_t *len);

/* A Content-Disposition value that makes any browser save the file under its original name:
 * attachment; filename="ASCII fallback"; filename*=UTF-8''percent-encoded. */
void pchat_file_disposition(pchat_buf_t *b, const char *original);

/* The type a download is served with: the stored one when it is one of a few types that no
 * browser runs (images other than SVG, PDF, plain text, audio, video, archives), else
 * application/octet-stream. */
const char *pchat_file_served_type(const char *stored);

/* The type a file is stored with, from its extension (the client's claim is not trusted). */
const char *pchat_file_type_of(const char *ext);

/* Base64 (RFC 4648, with padding). */
void pchat_base64_encode(pchat_buf_t *b, const unsigned char *data, size_t len);
/* Decodes in (whitespace ignored) into out, which holds at least 3 * (inlen / 4) + 3 bytes;
 * returns the bytes decoded, or -1 for anything that is not base64. */
long pchat_base64_decode(const char *in, size_t inlen, unsigned char *out);

#endif
