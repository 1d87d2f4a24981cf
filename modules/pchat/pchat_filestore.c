/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "pchat_alloc.h"
#include "pchat_buf.h"
#include "pchat_filestore.h"
#include "pchat_log.h"
#include "pchat_outbox.h"
#include "pchat_uri.h"

enum {
	F_TOKEN_INSERT,
	F_FIND_BY_NAME,
	F_FIND_BY_ORIGINAL,
	F_GRANT,
	F_ROOM_SHARED,
	F_FILE_INSERT,
	F_TOKEN_BIND,
	F_TOKEN_FILE,
	F_LOCK_UPLOAD,
	F_USAGE_ROOM,
	F_USAGE_USER,
	F_PROGRESS,
	F_COMPLETE,
	F_INFO,
	F_INFO_SHARED,
	F_TOKEN_USE,
	F_EXISTS,
	F_LIST,
	F_REMOVE,
	F_EVENT_BOUND,
	F_SET_BOUND,
	F_SWEEPABLE,
	F_SWEEP_LOCK,
	F_DELETE_FILE,
	F_FORGET_TOKENS,
	F_COUNT
};

#define FILE_COLUMNS                                                                          \
	"f.id, f.name, f.original_name, f.content_type, f.size, COALESCE(f.length, 0), "           \
	"COALESCE(f.sha256, ''), f.uploader, " PCHAT_SQL_ISO("f.created") ", f.state "

/* a token is looked up by its SHA-256: the table never holds one that could be used */
#define TOKEN_HASH "UNHEX(SHA2(?, 256))"

static const char *const filestore_sql[] = {
	[F_TOKEN_INSERT] = "INSERT INTO pchat_file_token (token_hash, user, room_id, direction, "
					   "requested_name, file_id, created, expires) VALUES (" TOKEN_HASH ", ?, ?, "
					   "?, ?, NULLIF(?, 0), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL ? "
					   "SECOND)",
	[F_FIND_BY_NAME] = "SELECT id FROM pchat_file WHERE room_id = ? AND name = ? AND state = "
					   "'complete'",
	[F_FIND_BY_ORIGINAL] = "SELECT id FROM pchat_file WHERE room_id = ? AND original_name = ? "
						   "AND state = 'complete' ORDER BY id DESC LIMIT 1",
	/* a room disabled or removed since takes its tokens with it */
	[F_GRANT] = "SELECT t.user, t.room_id, r.guid, t.direction = 'upload', COALESCE(t.file_id, "
				"0), t.requested_name FROM pchat_file_token t JOIN pchat_room r ON r.id = "
				"t.room_id WHERE t.token_hash = " TOKEN_HASH " AND t.expires > "
				"UTC_TIMESTAMP(6) AND r.disabled = 0",
	/* an upload's room cannot go while its file's row is made */
	[F_ROOM_SHARED] = "SELECT id FROM pchat_room WHERE id = ? AND disabled = 0 LOCK IN SHARE "
					  "MODE",
	[F_FILE_INSERT] = "INSERT INTO pchat_file (room_id, room_guid, name, original_name, "
					  "content_type, uploader, created) VALUES (?, ?, ?, ?, ?, ?, "
					  "UTC_TIMESTAMP(6))",
	/* one upload per token: only the first name asked for binds */
	[F_TOKEN_BIND] = "UPDATE pchat_file_token SET file_id = ? WHERE token_hash = " TOKEN_HASH
					 " AND file_id IS NULL",
	[F_TOKEN_FILE] = "SELECT f.name, f.id FROM pchat_file_token t JOIN pchat_file f ON f.id = "
					 "t.file_id WHERE t.token_hash = " TOKEN_HASH,
	/* the row stays locked while the chunk is written: one chunk of an upload at a time, on
	 * whichever node */
	[F_LOCK_UPLOAD] = "SELECT f.size, COALESCE(f.length, -1), f.state, f.original_name FROM "
					  "pchat_file f WHERE f.id = ? AND f.name = ? AND f.room_id = ? FOR UPDATE",
	[F_USAGE_ROOM] = "SELECT COALESCE(SUM(COALESCE(length, size)), 0) FROM pchat_file WHERE "
					 "room_id = ? AND state <> 'removing' AND id <> ?",
	[F_USAGE_USER] = "SELECT COALESCE(SUM(COALESCE(length, size)), 0) FROM pchat_file WHERE "
					 "uploader = ? AND state <> 'removing' AND id <> ?",
	[F_PROGRESS] = "UPDATE pchat_file SET size = ?, length = ? WHERE id = ?",
	[F_COMPLETE] = "UPDATE pchat_file SET size = ?, length = ?, sha256 = ?, state = 'complete', "
				   "completed = UTC_TIMESTAMP(6) WHERE id = ?",
	[F_INFO] = "SELECT " FILE_COLUMNS "FROM pchat_file f WHERE f.id = ? AND f.name = ? AND "
			   "f.room_id = ?",
	/* a removal waits for a download that is recording its event, and the reverse: the
	 * removal's bound then covers the event (pchat_filestore_remove) */
	[F_INFO_SHARED] = "SELECT " FILE_COLUMNS "FROM pchat_file f WHERE f.id = ? AND f.name = ? "
					  "AND f.room_id = ? AND f.state = 'complete' LOCK IN SHARE MODE",
	[F_TOKEN_USE] = "UPDATE pchat_file_token SET used = 1 WHERE token_hash = " TOKEN_HASH " AND "
					"used = 0",
	/* inside the post's transaction: a removal waits for the post, so its bound covers the
	 * post's CHAT event */
	[F_EXISTS] = "SELECT 1 FROM pchat_file WHERE room_id = ? AND name = ? AND state = "
				 "'complete' LOCK IN SHARE MODE",
	[F_LIST] = "SELECT " FILE_COLUMNS "FROM pchat_file f WHERE f.room_id = ? ORDER BY f.id DESC "
			   "LIMIT ?",
	/* one file by its name, or every file of the room ('') */
	[F_REMOVE] = "UPDATE pchat_file SET state = 'removing', removed = UTC_TIMESTAMP(6) WHERE "
				 "room_id = ? AND (? = '' OR name = ?) AND state <> 'removing'",
	/* the events committed so far; one still being written that names the file (a download's,
	 * a post's link) holds the file's row, so the removal's mark waited for it */
	[F_EVENT_BOUND] = "SELECT COALESCE(MAX(id), 0) FROM pchat_compliance_event",
	[F_SET_BOUND] = "UPDATE pchat_file SET event_bound = ? WHERE room_id = ? AND state = "
					"'removing' AND event_bound = 0 AND (? = '' OR name = ?)",
	/* removed files none of whose events waits any more (the bound is set in the removal's
	 * transaction: 0 never passes), and uploads no valid token can go on with (no event names
	 * them); candidates only: each is locked and checked again before it goes */
#define SWEEPABLE                                                                             \
	"((f.state = 'removing' AND f.event_bound > 0 AND NOT EXISTS (SELECT 1 FROM "                \
	"pchat_compliance_event e WHERE e.id <= f.event_bound AND e.room_id = f.room_id)) OR "        \
	"(f.state = 'uploading' AND NOT EXISTS (SELECT 1 FROM pchat_file_token t WHERE t.file_id = "  \
	"f.id AND t.expires > UTC_TIMESTAMP(6))))"
	[F_SWEEPABLE] = "SELECT f.id, f.room_guid, f.name FROM pchat_file f WHERE " SWEEPABLE
					" LIMIT ?",
	[F_SWEEP_LOCK] = "SELECT f.id FROM pchat_file f WHERE f.id = ? AND " SWEEPABLE " FOR UPDATE",
	[F_DELETE_FILE] = "DELETE FROM pchat_file WHERE id = ?",
	[F_FORGET_TOKENS] = "DELETE FROM pchat_file_token WHERE expires < UTC_TIMESTAMP(6) - "
						"INTERVAL 1 DAY LIMIT 1000",
};
const pchat_db_sqlset_t pchat_filestore_sqlset = {"filestore", filestore_sql, F_COUNT};

static long long exec(pchat_db_t *db, int stmt, const pchat_db_val_t *p, int n,
		pchat_db_row_f cb, void *ctx)
{
	return pchat_db_exec(db, &pchat_filestore_sqlset, stmt, p, n, cb, ctx);
}

static pchat_rc_t rolled_back(pchat_db_t *db, pchat_rc_t rc)
{
	pchat_db_rollback(db);
	return rc;
}

static void copy_col(char *dst, size_t len, const pchat_db_val_t *v)
{
	snprintf(dst, len, "%s", v->type == PCHAT_DB_STR ? v->s : "");
}

static int read_id(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	(void)ncols;
	*(long long *)ctx = pchat_db_int(&cols[0]);
	return 0;
}

/* ------------------------------------------------------------------ tokens */

pchat_rc_t pchat_filestore_token(const pchat_filestore_t *fs, const char *user,
		uint64_t room_id, int upload, const char *name, char *token)
{
	char original[PCHAT_FILE_ORIGINAL_MAX + 1];
	pchat_db_val_t p[8], q[2];
	long long file_id = 0, rc;

	pchat_file_original_name(name, original);
	if (!upload) {
		q[0] = PCHAT_DB_I((long long)room_id);
		q[1] = PCHAT_DB_CS(name);
		rc = exec(fs->db, F_FIND_BY_NAME, q, 2, read_id, &file_id);
		if (rc == 0)
			rc = exec(fs->db, F_FIND_BY_ORIGINAL, q, 2, read_id, &file_id);
		if (rc < 0)
			return pchat_db_failure(rc);
		if (rc == 0)
			return PCHAT_ERR_NOT_FOUND;
	}
	if (pchat_random_guid(token) < 0)
		return PCHAT_ERR_FAILED;
	p[0] = PCHAT_DB_CS(token);
	p[1] = PCHAT_DB_CS(user);
	p[2] = PCHAT_DB_I((long long)room_id);
	p[3] = PCHAT_DB_CS(upload ? "upload" : "download");
	p[4] = PCHAT_DB_CS(original);
	p[5] = PCHAT_DB_I(file_id);
	p[6] = PCHAT_DB_I(fs->token_lifetime);
	rc = exec(fs->db, F_TOKEN_INSERT, p, 7, NULL, NULL);
	return rc == 1 ? PCHAT_OK : pchat_db_failure(rc);
}

static int read_grant(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	pchat_file_grant_t *g = ctx;

	(void)ncols;
	copy_col(g->user, sizeof(g->user), &cols[0]);
	g->room_id = (uint64_t)pchat_db_int(&cols[1]);
	copy_col(g->room_guid, sizeof(g->room_guid), &cols[2]);
	g->upload = pchat_db_int(&cols[3]) != 0;
	g->file_id = (uint64_t)pchat_db_int(&cols[4]);
	copy_col(g->requested_name, sizeof(g->requested_name), &cols[5]);
	return 0;
}

pchat_rc_t pchat_filestore_grant(const pchat_filestore_t *fs, const char *token,
		const char *room_guid, int upload, pchat_file_grant_t *g)
{
	char norm[PCHAT_GUID_LEN + 1], room[PCHAT_GUID_LEN + 1];
	pchat_db_val_t p;
	long long rc;

	memset(g, 0, sizeof(*g));
	/* only our own form is looked up: anything else cannot be a token */
	if (!token || strlen(token) != PCHAT_FILE_TOKEN_LEN || pchat_guid_normalize(token, norm) < 0)
		return PCHAT_ERR_FORBIDDEN;
	if (room_guid && pchat_guid_normalize(room_guid, room) < 0)
		return PCHAT_ERR_FORBIDDEN;
	p = PCHAT_DB_CS(norm);
	rc = exec(fs->db, F_GRANT, &p, 1, read_grant, g);
	if (rc < 0)
		return pchat_db_failure(rc);
	if (rc == 0 || (upload >= 0 && g->upload != upload)
			|| (room_guid && strcmp(room, g->room_guid) != 0))
		return PCHAT_ERR_FORBIDDEN;
	memcpy(g->token, norm, sizeof(norm));
	return PCHAT_OK;
}

/* ------------------------------------------------------------------ paths */

/* ROOT/GUID/NAME, or ROOT/GUID/.NAME.part for an upload under way. */
static int file_path(const pchat_filestore_t *fs, const char *guid, const char *name,
		int part, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s/%s%s%s", fs->root, guid, part ? "." : "", name,
			part ? ".part" : "");

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int room_dir(const pchat_filestore_t *fs, const char *guid)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", fs->root, guid);
	if (mkdir(path, 0750) < 0 && errno != EEXIST) {
		PLOG_ERR("files: cannot create the room folder %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The folder's entry is on disk (a rename or a new file survives a crash). */
static int sync_dir(const pchat_filestore_t *fs, const char *guid)
{
	char path[4096];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", fs->root, guid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* ------------------------------------------------------------------ upload */

typedef struct bound_file {
	char *name;        /* PCHAT_FILE_NAME_MAX bytes */
	uint64_t id;
} bound_file_t;

static int read_bound_file(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	bound_file_t *b = ctx;

	(void)ncols;
	copy_col(b->name, PCHAT_FILE_NAME_MAX, &cols[0]);
	b->id = (uint64_t)pchat_db_int(&cols[1]);
	return 0;
}

/* A new row and its name, bound to the token. */
static pchat_rc_t new_upload(const pchat_filestore_t *fs, pchat_file_grant_t *g,
		const char *ext, char *name)
{
	char original[PCHAT_FILE_ORIGINAL_MAX + 1], use_ext[PCHAT_FILE_EXT_MAX + 1];
	pchat_db_val_t p[6], b[2];
	long long rc;
	uint64_t id;

	pchat_file_original_name(g->requested_name, original);
	pchat_file_ext(ext && ext[0] ? ext : original, use_ext);
	if (pchat_file_new_name(use_ext, name) < 0)
		return PCHAT_ERR_FAILED;
	if ((rc = pchat_db_begin(fs->db)) != 0)
		return pchat_db_failure(rc < 0 ? rc : PCHAT_ERR_FAILED);
	p[0] = PCHAT_DB_I((long long)g->room_id);
	if ((rc = exec(fs->db, F_ROOM_SHARED, p, 1, NULL, NULL)) != 1)
		return rolled_back(fs->db, rc < 0 ? pchat_db_failure(rc) : PCHAT_ERR_FORBIDDEN);
	p[1] = PCHAT_DB_CS(g->room_guid);
	p[2] = PCHAT_DB_CS(name);
	p[3] = PCHAT_DB_CS(original);
	p[4] = PCHAT_DB_CS(pchat_file_type_of(use_ext));
	p[5] = PCHAT_DB_CS(g->user);
	if ((rc = exec(fs->db, F_FILE_INSERT, p, 6, NULL, NULL)) != 1)
		return rolled_back(fs->db, pchat_db_failure(rc));
	id = pchat_db_insert_id(fs->db);
	b[0] = PCHAT_DB_I((long long)id);
	b[1] = PCHAT_DB_CS(g->token);
	rc = exec(fs->db, F_TOKEN_BIND, b, 2, NULL, NULL);
	if (rc == 0) /* another request bound a name first: that one is the upload's */
		return rolled_back(fs->db, PCHAT_ERR_CONFLICT);
	if (rc < 0)
		return rolled_back(fs->db, pchat_db_failure(rc));
	if ((rc = pchat_db_commit(fs->db)) != 0)
		return pchat_db_failure(rc < 0 ? rc : PCHAT_ERR_FAILED);
	g->file_id = id;
	return PCHAT_OK;
}

pchat_rc_t pchat_filestore_reserve(const pchat_filestore_t *fs, pchat_file_grant_t *g,
		const char *ext, char *name)
{
	bound_file_t b = {name, 0};
	pchat_db_val_t p;
	pchat_rc_t rc;
	long long n;

	if (!g->upload)
		return PCHAT_ERR_FORBIDDEN;
	if (!g->file_id && (rc = new_upload(fs, g, ext, name)) != PCHAT_ERR_CONFLICT)
		return rc;
	/* bound before (or by a request that won the race): that upload is this token's */
	p = PCHAT_DB_CS(g->token);
	n = exec(fs->db, F_TOKEN_FILE, &p, 1, read_bound_file, &b);
	if (n < 0)
		return pchat_db_failure(n);
	if (n == 0) /* its file was swept or its room removed */
		return PCHAT_ERR_FORBIDDEN;
	g->file_id = b.id;
	return PCHAT_OK;
}

typedef struct upload_row {
	uint64_t size;
	long long length;  /* -1 before the first chunk */
	char state[16];
	char original[PCHAT_FILE_ORIGINAL_MAX + 1];
} upload_row_t;

static int read_upload(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	upload_row_t *u = ctx;

	(void)ncols;
	u->size = (uint64_t)pchat_db_int(&cols[0]);
	u->length = pchat_db_int(&cols[1]);
	copy_col(u->state, sizeof(u->state), &cols[2]);
	copy_col(u->original, sizeof(u->original), &cols[3]);
	return 0;
}

/* The first chunk announces the length: it must fit the room's and the uploader's quotas. */
static pchat_rc_t check_quotas(const pchat_filestore_t *fs, const pchat_file_grant_t *g,
		uint64_t length, const char **why)
{
	long long used = 0, rc;
	pchat_db_val_t p[2];

	p[1] = PCHAT_DB_I((long long)g->file_id);
	if (fs->room_quota) {
		p[0] = PCHAT_DB_I((long long)g->room_id);
		if ((rc = exec(fs->db, F_USAGE_ROOM, p, 2, read_id, &used)) < 0)
			return pchat_db_failure(rc);
		if ((uint64_t)used + length > fs->room_quota) {
			*why = "the room's file quota is used up";
			return PCHAT_ERR_TOO_LARGE;
		}
	}
	if (fs->user_quota) {
		p[0] = PCHAT_DB_CS(g->user);
		if ((rc = exec(fs->db, F_USAGE_USER, p, 2, read_id, &used)) < 0)
			return pchat_db_failure(rc);
		if ((uint64_t)used + length > fs->user_quota) {
			*why = "your file quota is used up";
			return PCHAT_ERR_TOO_LARGE;
		}
	}
	return PCHAT_OK;
}

/* Writes the chunk at offset, cuts the file there (whatever a failed earlier write left beyond
 * it goes) and puts it on disk before the progress is committed: the bytes a row counts are
 * there after a crash. A part file shorter than offset lost bytes it had (a crash of the file
 * system, or it was deleted): the upload cannot go on. */
static pchat_rc_t write_chunk(const char *path, uint64_t offset, const unsigned char *data,
		size_t len, const char **why)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640), err = 0;
	struct stat st;
	size_t done = 0;
	ssize_t n;

	if (fd < 0) {
		err = errno;
		*why = "the repository cannot be written";
		PLOG_ERR("files: cannot open %s: %s\n", path, strerror(err));
		return err == ENOSPC ? PCHAT_ERR_FULL : PCHAT_ERR_FAILED;
	}
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < offset) {
		close(fd);
		*why = "the bytes received so far were lost: start the upload again";
		PLOG_ERR("files: %s holds %lld bytes, its row %llu: refused\n", path,
				(long long)st.st_size, (unsigned long long)offset);
		return PCHAT_ERR_CONFLICT;
	}
	while (done < len && (n = pwrite(fd, data + done, len - done, (off_t)(offset + done))) > 0)
		done += (size_t)n;
	if (done < len || ftruncate(fd, (off_t)(offset + len)) < 0 || fdatasync(fd) < 0)
		err = errno ? errno : EIO;
	if (close(fd) < 0 && !err)
		err = errno;
	if (err) {
		*why = err == ENOSPC || err == EDQUOT ? "the repository is full"
											   : "the repository cannot be written";
		PLOG_ERR("files: cannot write %zu bytes at %llu to %s: %s\n", len,
				(unsigned long long)offset, path, strerror(err));
		return err == ENOSPC || err == EDQUOT ? PCHAT_ERR_FULL : PCHAT_ERR_FAILED;
	}
	return PCHAT_OK;
}

/* fsync and SHA-256 of a complete upload of length bytes, read back from disk. */
static int seal(const char *path, uint64_t length, char hex[65])
{
	unsigned char buf[65536], digest[32];
	gnutls_hash_hd_t h;
	int fd = open(path, O_RDONLY | O_CLOEXEC), i, rc = -1;
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size == length && fsync(fd) == 0
			&& gnutls_hash_init(&h, GNUTLS_DIG_SHA256) == 0) {
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			gnutls_hash(h, buf, (size_t)n);
		gnutls_hash_deinit(h, digest);
		if (n == 0) {
			for (i = 0; i < 32; i++)
				snprintf(hex + 2 * i, 3, "%02x", digest[i]);
			rc = 0;
		}
	}
	close(fd);
	return rc;
}

static pchat_rc_t record_file_event(const pchat_filestore_t *fs, const pchat_file_grant_t *g,
		int kind, const char *name, const char *original, uint64_t size, const char *sha256)
{
	char uri[PCHAT_ROOM_URI_MAX];
	pchat_buf_t detail;
	pchat_record_t ev;
	pchat_rc_t rc;

	if (!fs->record)
		return PCHAT_OK;
	pchat_room_uri(fs->domain, g->room_guid, uri, sizeof(uri));
	pchat_buf_init(&detail);
	pchat_buf_adds(&detail, "{\"original\":\"");
	pchat_buf_adds_json(&detail, original);
	pchat_buf_addf(&detail, "\",\"size\":%llu", (unsigned long long)size);
	if (sha256)
		pchat_buf_addf(&detail, ",\"sha256\":\"%s\"", sha256);
	pchat_buf_adds(&detail, "}");
	if (!pchat_buf_ok(&detail)) {
		pchat_buf_free(&detail);
		return PCHAT_ERR_NO_MEMORY;
	}
	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.room_id = g->room_id;
	ev.room_uri = uri;
	ev.user = g->user;
	ev.content = name;
	ev.detail = detail.s;
	rc = pchat_outbox_record(fs->db, &ev);
	pchat_buf_free(&detail);
	return rc;
}

/* The last chunk is in: sealed, marked complete with its event, then renamed into place. A
 * crash before the rename leaves a complete row whose bytes are still under the part name:
 * pchat_filestore_open finishes the rename. */
static pchat_rc_t complete(const pchat_filestore_t *fs, const pchat_file_grant_t *g,
		const char *name, const upload_row_t *u, uint64_t length, const char **why)
{
	char part[4096], final[4096], sha[65];
	pchat_db_val_t p[4];
	long long rc;

	if (file_path(fs, g->room_guid, name, 1, part, sizeof(part)) < 0
			|| file_path(fs, g->room_guid, name, 0, final, sizeof(final)) < 0
			|| seal(part, length, sha) < 0 || sync_dir(fs, g->room_guid) < 0) {
		*why = "the repository cannot be written";
		return PCHAT_ERR_FAILED;
	}
	p[0] = p[1] = PCHAT_DB_I((long long)length);
	p[2] = PCHAT_DB_CS(sha);
	p[3] = PCHAT_DB_I((long long)g->file_id);
	if ((rc = exec(fs->db, F_COMPLETE, p, 4, NULL, NULL)) != 1)
		return pchat_db_failure(rc);
	rc = record_file_event(fs, g, PCHAT_EV_FILEUPLOAD, name, u->original, length, sha);
	if (rc != PCHAT_OK)
		return (pchat_rc_t)rc;
	if ((rc = pchat_db_commit(fs->db)) != 0)
		return pchat_db_failure(rc < 0 ? rc : PCHAT_ERR_FAILED);
	if (rename(part, final) < 0 || sync_dir(fs, g->room_guid) < 0)
		PLOG_ERR("files: %s is complete but could not be put in place (%s); its first "
				 "download retries\n", final, strerror(errno));
	return PCHAT_OK;
}

pchat_rc_t pchat_filestore_append(const pchat_filestore_t *fs, const pchat_file_grant_t *g,
		const char *name, uint64_t offset, const unsigned char *data, size_t len,
		uint64_t length, uint64_t *size, const char **why)
{
	char part[4096];
	pchat_db_val_t p[3];
	upload_row_t u;
	pchat_rc_t rc;
	long long n;

	*why = "";
	*size = 0;
	if (!g->upload || !g->file_id || !pchat_file_name_valid(name)) {
		*why = "this token is not for that upload";
		return PCHAT_ERR_FORBIDDEN;
	}
	if (file_path(fs, g->room_guid, name, 1, part, sizeof(part)) < 0)
		return PCHAT_ERR_FAILED;
	if ((n = pchat_db_begin(fs->db)) != 0)
		return pchat_db_failure(n < 0 ? n : PCHAT_ERR_FAILED);
	p[0] = PCHAT_DB_I((long long)g->file_id);
	p[1] = PCHAT_DB_CS(name);
	p[2] = PCHAT_DB_I((long long)g->room_id);
	memset(&u, 0, sizeof(u));
	n = exec(fs->db, F_LOCK_UPLOAD, p, 3, read_upload, &u);
	if (n != 1 || strcmp(u.state, "uploading") != 0) {
		*why = n == 1 ? "the upload is complete already" : "this token is not for that upload";
		return rolled_back(fs->db, n < 0 ? pchat_db_failure(n) : PCHAT_ERR_FORBIDDEN);
	}
	*size = u.size;
	rc = pchat_file_chunk_check(u.size, u.length < 0 ? UINT64_MAX : (uint64_t)u.length, offset,
			len, length, fs->max_bytes, why);
	if (rc == PCHAT_OK && u.length < 0)
		rc = check_quotas(fs, g, length, why);
	if (rc == PCHAT_OK && room_dir(fs, g->room_guid) < 0) {
		*why = "the repository cannot be written";
		rc = PCHAT_ERR_FAILED;
	}
	if (rc == PCHAT_OK)
		rc = write_chunk(part, offset, data, len, why);
	/* the part file's entry on disk before a row counts bytes in it */
	if (rc == PCHAT_OK && offset == 0 && sync_dir(fs, g->room_guid) < 0) {
		*why = "the repository cannot be written";
		rc = PCHAT_ERR_FAILED;
	}
	if (rc != PCHAT_OK)
		return rolled_back(fs->db, rc);
	*size = offset + len;
	if (*size == length) {
		rc = complete(fs, g, name, &u, length, why);
		return rc == PCHAT_OK ? rc : rolled_back(fs->db, rc);
	}
	p[0] = PCHAT_DB_I((long long)*size);
	p[1] = PCHAT_DB_I((long long)length);
	p[2] = PCHAT_DB_I((long long)g->file_id);
	if ((n = exec(fs->db, F_PROGRESS, p, 3, NULL, NULL)) < 0)
		return rolled_back(fs->db, pchat_db_failure(n));
	if ((n = pchat_db_commit(fs->db)) != 0)
		return pchat_db_failure(n < 0 ? n : PCHAT_ERR_FAILED);
	return PCHAT_OK;
}

/* ------------------------------------------------------------------ download */

static int read_info(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	pchat_file_info_t *f = ctx;

	(void)ncols;
	f->id = (uint64_t)pchat_db_int(&cols[0]);
	copy_col(f->name, sizeof(f->name), &cols[1]);
	copy_col(f->original, sizeof(f->original), &cols[2]);
	copy_col(f->content_type, sizeof(f->content_type), &cols[3]);
	f->size = (uint64_t)pchat_db_int(&cols[4]);
	f->length = (uint64_t)pchat_db_int(&cols[5]);
	copy_col(f->sha256, sizeof(f->sha256), &cols[6]);
	copy_col(f->uploader, sizeof(f->uploader), &cols[7]);
	copy_col(f->created, sizeof(f->created), &cols[8]);
	copy_col(f->state, sizeof(f->state), &cols[9]);
	return 0;
}

static pchat_rc_t lookup(const pchat_filestore_t *fs, const pchat_file_grant_t *g,
		const char *name, int stmt, pchat_file_info_t *info)
{
	pchat_db_val_t p[3];
	long long n;

	memset(info, 0, sizeof(*info));
	if (!g->file_id || !pchat_file_name_valid(name))
		return PCHAT_ERR_NOT_FOUND;
	p[0] = PCHAT_DB_I((long long)g->file_id);
	p[1] = PCHAT_DB_CS(name);
	p[2] = PCHAT_DB_I((long long)g->room_id);
	n = exec(fs->db, stmt, p, 3, read_info, info);
	return n == 1 ? PCHAT_OK : n < 0 ? pchat_db_failure(n) : PCHAT_ERR_NOT_FOUND;
}

pchat_rc_t pchat_filestore_info(const pchat_filestore_t *fs, const pchat_file_grant_t *g,
		const char *name, pchat_file_info_t *info)
{
	pchat_rc_t rc = lookup(fs, g, name, F_INFO, info);

	/* a download sees only what may be downloaded */
	if (rc == PCHAT_OK && !g->upload && strcmp(info->state, "complete") != 0)
		return PCHAT_ERR_NOT_FOUND;
	return rc;
}

/* The bytes of a complete file; finishes a rename a crash interrupted. */
static int open_complete(const pchat_filestore_t *fs, const pchat_file_grant_t *g,
		const char *name)
{
	char final[4096], part[4096];
	int fd;

	if (file_path(fs, g->room_guid, name, 0, final, sizeof(final)) < 0
			|| file_path(fs, g->room_guid, name, 1, part, sizeof(part)) < 0)
		return -1;
	fd = open(final, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && rename(part, final) == 0) {
		PLOG_INFO("files: %s put in place after an interrupted upload\n", final);
		fd = open(final, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		PLOG_ERR("files: cannot open %s: %s\n", final, strerror(errno));
	return fd;
}

pchat_rc_t pchat_filestore_open(const pchat_filestore_t *fs, const pchat_file_grant_t *g,
		const char *name, int record, pchat_file_info_t *info, int *fd)
{
	pchat_db_val_t p = PCHAT_DB_CS(g->token);
	pchat_rc_t rc;
	long long n;

	*fd = -1;
	if (g->upload)
		return PCHAT_ERR_NOT_FOUND;
	if ((n = pchat_db_begin(fs->db)) != 0)
		return pchat_db_failure(n < 0 ? n : PCHAT_ERR_FAILED);
	if ((rc = lookup(fs, g, name, F_INFO_SHARED, info)) != PCHAT_OK)
		return rolled_back(fs->db, rc);
	*fd = open_complete(fs, g, name);
	if (*fd < 0)
		return rolled_back(fs->db, PCHAT_ERR_NOT_FOUND);
	/* the first use of the token is the download the compliance service records */
	n = record ? exec(fs->db, F_TOKEN_USE, &p, 1, NULL, NULL) : 0;
	rc = n < 0 ? pchat_db_failure(n)
			   : n == 1 ? record_file_event(fs, g, PCHAT_EV_FILEDOWNLOAD, name, info->original,
								  info->size, NULL)
						: PCHAT_OK;
	if (rc == PCHAT_OK && (n = pchat_db_commit(fs->db)) != 0)
		rc = pchat_db_failure(n < 0 ? n : PCHAT_ERR_FAILED);
	else if (rc != PCHAT_OK)
		pchat_db_rollback(fs->db);
	if (rc != PCHAT_OK) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

/* ------------------------------------------------------------------ the room's files */

int pchat_filestore_exists(pchat_db_t *db, uint64_t room_id, const char *name)
{
	pchat_db_val_t p[2];
	long long n;

	if (!pchat_file_name_valid(name))
		return 0;
	p[0] = PCHAT_DB_I((long long)room_id);
	p[1] = PCHAT_DB_CS(name);
	n = exec(db, F_EXISTS, p, 2, NULL, NULL);
	return n < 0 ? pchat_db_failure(n) : n > 0;
}

typedef struct list_ctx {
	pchat_file_f cb;
	void *ctx;
} list_ctx_t;

static int list_row(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	list_ctx_t *l = ctx;
	pchat_file_info_t f;

	read_info(&f, cols, ncols);
	return l->cb(l->ctx, &f);
}

int pchat_filestore_list(pchat_db_t *db, uint64_t room_id, int limit, pchat_file_f cb,
		void *ctx)
{
	list_ctx_t l = {cb, ctx};
	pchat_db_val_t p[2];
	long long n;

	p[0] = PCHAT_DB_I((long long)room_id);
	p[1] = PCHAT_DB_I(limit);
	n = exec(db, F_LIST, p, 2, list_row, &l);
	return n < 0 ? pchat_db_failure(n) : (int)n;
}

int pchat_filestore_remove(pchat_db_t *db, uint64_t room_id, const char *name)
{
	pchat_db_val_t p[4];
	long long n, bound = 0, rc;

	p[0] = PCHAT_DB_I((long long)room_id);
	p[1] = p[2] = PCHAT_DB_CS(name ? name : "");
	/* marked first: a download recording its event holds the row, so the bound read after
	 * this covers that event */
	if ((n = exec(db, F_REMOVE, p, 3, NULL, NULL)) <= 0)
		return n < 0 ? pchat_db_failure(n) : 0;
	if ((rc = exec(db, F_EVENT_BOUND, NULL, 0, read_id, &bound)) < 0)
		return pchat_db_failure(rc);
	p[0] = PCHAT_DB_I(bound > 0 ? bound : 1);
	p[1] = PCHAT_DB_I((long long)room_id);
	p[2] = p[3] = PCHAT_DB_CS(name ? name : "");
	if ((rc = exec(db, F_SET_BOUND, p, 4, NULL, NULL)) < 0)
		return pchat_db_failure(rc);
	return (int)n;
}

/* ------------------------------------------------------------------ housekeeping */

typedef struct sweep_row {
	uint64_t id;
	char guid[PCHAT_GUID_LEN + 1];
	char name[PCHAT_FILE_NAME_MAX];
} sweep_row_t;

typedef struct sweep_ctx {
	sweep_row_t *rows;
	int n, max;
} sweep_ctx_t;

static int read_sweep(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	sweep_ctx_t *s = ctx;

	(void)ncols;
	if (s->n >= s->max)
		return 0;
	s->rows[s->n].id = (uint64_t)pchat_db_int(&cols[0]);
	copy_col(s->rows[s->n].guid, sizeof(s->rows[s->n].guid), &cols[1]);
	copy_col(s->rows[s->n].name, sizeof(s->rows[s->n].name), &cols[2]);
	s->n++;
	return 0;
}

/* Under the row's lock, checked again (an upload may have gone on, a removal been undone by
 * nothing else): the bytes first, then the row, in one transaction; a crash in between leaves
 * a row the next sweep deletes. 1 deleted, 0 not (any more), or a negative pchat_rc_t. */
static int delete_file(const pchat_filestore_t *fs, const sweep_row_t *r)
{
	char path[4096];
	pchat_db_val_t p = PCHAT_DB_I((long long)r->id);
	int part, err;
	long long n;

	/* never a path from a name that is not ours */
	if (!pchat_file_name_valid(r->name))
		return 0;
	if ((n = pchat_db_begin(fs->db)) != 0)
		return pchat_db_failure(n < 0 ? n : PCHAT_ERR_FAILED);
	if ((n = exec(fs->db, F_SWEEP_LOCK, &p, 1, NULL, NULL)) != 1)
		return rolled_back(fs->db, n < 0 ? pchat_db_failure(n) : 0);
	for (part = 0; part <= 1; part++)
		if (file_path(fs, r->guid, r->name, part, path, sizeof(path)) == 0
				&& unlink(path) < 0 && errno != ENOENT) {
			err = errno;
			PLOG_ERR("files: cannot delete %s: %s\n", path, strerror(err));
			return rolled_back(fs->db, 0);
		}
	if ((n = exec(fs->db, F_DELETE_FILE, &p, 1, NULL, NULL)) < 0)
		return rolled_back(fs->db, pchat_db_failure(n));
	if ((n = pchat_db_commit(fs->db)) != 0)
		return pchat_db_failure(n < 0 ? n : PCHAT_ERR_FAILED);
	return 1;
}

int pchat_filestore_sweep(const pchat_filestore_t *fs, int limit)
{
	sweep_ctx_t s = {NULL, 0, limit};
	pchat_db_val_t p;
	long long n;
	int i, deleted = 0, rc;

	s.rows = pchat_malloc(sizeof(*s.rows) * (size_t)limit);
	if (!s.rows)
		return PCHAT_ERR_NO_MEMORY;
	/* an upload whose token expired cannot go on: no token for it can be had again */
	p = PCHAT_DB_I(limit);
	n = exec(fs->db, F_SWEEPABLE, &p, 1, read_sweep, &s);
	for (i = 0; n >= 0 && i < s.n; i++) {
		rc = delete_file(fs, &s.rows[i]);
		if (rc < 0) {
			n = rc;
			break;
		}
		deleted += rc;
	}
	pchat_free(s.rows);
	if (n < 0)
		return pchat_db_failure(n);
	if ((n = exec(fs->db, F_FORGET_TOKENS, NULL, 0, NULL, NULL)) < 0)
		return pchat_db_failure(n);
	return deleted;
}
