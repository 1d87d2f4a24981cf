/*
 * The file repository: tokens, the metadata in MySQL (migration 006) and the bytes on disk
 * under the repository root, as ROOT/<room guid>/<stored name>. An upload is written to
 * ROOT/<room guid>/.<stored name>.part and renamed when its last byte is in and fsynced, so a
 * file is visible whole or not at all. Each operation is one transaction; the row of the file
 * is locked while a chunk is written, so chunks of one upload arriving at several nodes are
 * taken one at a time. A pool shares one repository: the root must be the same shared
 * folder on every node.
 *
 * Depends on the database, the outbox (FILEUPLOAD, FILEDOWNLOAD events) and the file rules.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_FILESTORE_H
#define PCHAT_FILESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "pchat_db.h"
#include "pchat_files.h"
#include "pchat_model.h"
#include "pchat_result.h"

extern const pchat_db_sqlset_t pchat_filestore_sqlset;

/* What an operation needs to know; the caller fills it from its node. */
typedef struct pchat_filestore {
	pchat_db_t *db;
	const char *root;        /* the repository's folder */
	const char *domain;      /* of room URIs (compliance events) */
	int record;              /* the compliance service records */
	uint64_t max_bytes;      /* the largest file */
	uint64_t room_quota;     /* bytes all files of a room may take, 0: no limit */
	uint64_t user_quota;     /* bytes all files of an uploader may take, 0: no limit */
	int token_lifetime;      /* s a token is valid */
} pchat_filestore_t;

/* A token's text: a GUID. */
#define PCHAT_FILE_TOKEN_LEN 36

/* What a valid token allows. */
typedef struct pchat_file_grant {
	char user[PCHAT_USER_MAX];
	uint64_t room_id;
	char room_guid[PCHAT_GUID_LEN + 1];
	int upload;                          /* 1 upload, 0 download */
	uint64_t file_id;                    /* 0: an upload token whose name was not asked yet */
	char requested_name[PCHAT_FILE_ORIGINAL_MAX + 1];
	char token[PCHAT_FILE_TOKEN_LEN + 1];
} pchat_file_grant_t;

/* A file as the repository describes it. */
typedef struct pchat_file_info {
	uint64_t id;
	char name[PCHAT_FILE_NAME_MAX];
	char original[PCHAT_FILE_ORIGINAL_MAX + 1];
	char content_type[128];
	uint64_t size;          /* bytes received (all of them once complete) */
	uint64_t length;        /* announced; 0 before the first chunk */
	char sha256[65];
	char uploader[PCHAT_USER_MAX];
	char created[32];       /* ISO 8601 UTC */
	char state[16];         /* uploading, complete, removing */
} pchat_file_info_t;

/* Gives a token to user for the room: an upload token remembers the name the user gave the
 * file; a download token is for the complete file of the room whose stored name is name (or,
 * failing that, the newest whose original name is name: Lync's client may ask by it).
 * token receives PCHAT_FILE_TOKEN_LEN + 1 bytes. PCHAT_OK, PCHAT_ERR_NOT_FOUND (no such file
 * to download), PCHAT_ERR_DOWN, PCHAT_ERR_FAILED. */
pchat_rc_t pchat_filestore_token(const pchat_filestore_t *fs, const char *user,
		uint64_t room_id, int upload, const char *name, char *token);

/* The grant of a token that is valid now, for a room (room_guid, or NULL for whatever room
 * the token is for) and a direction (upload 1 or 0, -1 for either). PCHAT_OK, PCHAT_ERR_FORBIDDEN (unknown, expired, of
 * another room or direction, its room gone), PCHAT_ERR_DOWN, PCHAT_ERR_FAILED. */
pchat_rc_t pchat_filestore_grant(const pchat_filestore_t *fs, const char *token,
		const char *room_guid, int upload, pchat_file_grant_t *g);

/* The stored name of the upload of g, made on the first call from ext (or the extension of
 * the requested name when ext is empty); the same name on each later call: a token covers
 * one upload. name receives PCHAT_FILE_NAME_MAX bytes. */
pchat_rc_t pchat_filestore_reserve(const pchat_filestore_t *fs, pchat_file_grant_t *g,
		const char *ext, char *name);

/* Appends len bytes at offset to the upload name of g, whose whole length is length (the
 * first chunk fixes it; a file of 0 bytes is one empty chunk). The last chunk completes the
 * file: fsynced, hashed, renamed into place and recorded (FILEUPLOAD). *size receives the
 * bytes now held. PCHAT_OK; PCHAT_ERR_FORBIDDEN (not this token's upload, or complete
 * already); PCHAT_ERR_CONFLICT (an offset that skips or overlaps: *why says which, *size the
 * offset expected); PCHAT_ERR_TOO_LARGE (past length, max_bytes or a quota); PCHAT_ERR_INVALID
 * (a length that differs from the announced one); PCHAT_ERR_FULL (the disk); PCHAT_ERR_DOWN;
 * PCHAT_ERR_FAILED. */
pchat_rc_t pchat_filestore_append(const pchat_filestore_t *fs, const pchat_file_grant_t *g,
		const char *name, uint64_t offset, const unsigned char *data, size_t len,
		uint64_t length, uint64_t *size, const char **why);

/* The complete file named by a download grant g: *info filled and *fd open for reading (the
 * caller closes it). With record, the first such use of a token records FILEDOWNLOAD (a HEAD
 * or a refused range does not). PCHAT_OK,
 * PCHAT_ERR_NOT_FOUND (another name, or the file is gone or being removed), PCHAT_ERR_DOWN,
 * PCHAT_ERR_FAILED. */
pchat_rc_t pchat_filestore_open(const pchat_filestore_t *fs, const pchat_file_grant_t *g,
		const char *name, int record, pchat_file_info_t *info, int *fd);

/* The file of an upload or download grant, without opening it (GetFileSize, upload status).
 * PCHAT_OK, PCHAT_ERR_NOT_FOUND, PCHAT_ERR_DOWN, PCHAT_ERR_FAILED. */
pchat_rc_t pchat_filestore_info(const pchat_filestore_t *fs, const pchat_file_grant_t *g,
		const char *name, pchat_file_info_t *info);

/* 1 when the room has a complete file with the stored name, 0 when not, or a negative
 * pchat_rc_t. */
int pchat_filestore_exists(pchat_db_t *db, uint64_t room_id, const char *name);

/* The files of a room (every state), newest first, at most limit. Returns how many. */
typedef int (*pchat_file_f)(void *ctx, const pchat_file_info_t *f);
int pchat_filestore_list(pchat_db_t *db, uint64_t room_id, int limit, pchat_file_f cb,
		void *ctx);

/* Marks a file (name) or every file of a room (name NULL) for removal: no longer served or
 * linkable; the bytes go once the compliance service exported every event that may name
 * them (pchat_filestore_sweep). Runs inside the caller's transaction when one is open.
 * Returns how many files were marked, or a negative pchat_rc_t. */
int pchat_filestore_remove(pchat_db_t *db, uint64_t room_id, const char *name);

/* Housekeeping, on any node, at most limit files per call: deletes the bytes and rows of
 * removed files whose events were exported, and of uploads left incomplete after their token
 * expired; forgets tokens a day after they expired. Returns the files deleted, or a negative
 * pchat_rc_t. */
int pchat_filestore_sweep(const pchat_filestore_t *fs, int limit);

#endif
