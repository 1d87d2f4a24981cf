/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dprint.h"

#include "pchat_alloc.h"
#include "pchat_filestore.h"
#include "pchat_filesvc.h"
#include "pchat_node.h"
#include "pchat_soap.h"
#include "pchat_xccos.h"

#define FILES_PREFIX "/PersistentChat/files/"
#define UPLOAD_PATH FILES_PREFIX "upload"
/* The SOAP envelope around a chunk, on top of the chunk's base64. */
#define SOAP_OVERHEAD 16384
/* A streamed upload is written in pieces of up to this many bytes, each one transaction. */
#define PUT_PIECE (1024 * 1024)
/* The largest PUT body the route lets through; the file's own limit is max_file_size. */
#define PUT_BODY_MAX ((size_t)2097152 * 1024)
/* A download is a sandboxed attachment: nothing in it runs on the service's origin, which the
 * room-management pages share. */
#define DOWNLOAD_CSP "default-src 'none'; sandbox"
#define JSON "application/json"

static int enabled;

const char *pchat_filesvc_url(void)
{
	return enabled ? pchat_http_public_url() : "";
}

int pchat_filesvc_init(void)
{
	struct stat st;

	/* libxml2 refuses a text node over 10 MB (the base64 of a chunk), and a chunk is held in the
	 * worker's private memory three times (request, decoded, answer) */
	if (pchat_params.file_chunk_size < 1 || pchat_params.file_chunk_size > 4096) {
		LM_ERR("file_chunk_size must be 1 to 4096 (KB)\n");
		return -1;
	}
	if (!pchat_params.file_root || !pchat_params.file_root[0]) {
		LM_INFO("files: no file_root: files cannot be posted to rooms\n");
		return 0;
	}
	if (pchat_params.file_root[0] != '/' || stat(pchat_params.file_root, &st) < 0
			|| !S_ISDIR(st.st_mode) || access(pchat_params.file_root, W_OK | X_OK) < 0) {
		LM_ERR("file_root %s must be an absolute path to a folder this process can write\n",
				pchat_params.file_root);
		return -1;
	}
	/* before the HTTPS service's own init, which takes these routes */
	if (!pchat_params.http_listen[0]) {
		LM_WARN("files: file_root is set but http_listen is not: files cannot be posted\n");
		return 0;
	}
	enabled = 1;
	LM_INFO("files: repository %s, served by the HTTPS service at " PCHAT_FILE_SERVICE_PATH
			"\n", pchat_params.file_root);
	return 0;
}

/* What the repository needs of this node, as the settings are now. */
static pchat_filestore_t store(void)
{
	const pchat_settings_t *s = &pchat_shared->settings;
	pchat_filestore_t fs;

	memset(&fs, 0, sizeof(fs));
	fs.db = pchat_proc_db();
	fs.root = pchat_params.file_root;
	fs.domain = pchat_params.domain;
	/* -1 (not known yet) records: compliance fails closed */
	fs.record = __atomic_load_n(&pchat_shared->compliance_recording, __ATOMIC_RELAXED) != 0;
	fs.max_bytes = (uint64_t)s->max_file_size * 1024;
	fs.room_quota = (uint64_t)s->room_file_quota << 20;
	fs.user_quota = (uint64_t)s->user_file_quota << 20;
	fs.token_lifetime = s->file_token_lifetime;
	return fs;
}

static uint64_t chunk_max(void)
{
	return (uint64_t)pchat_params.file_chunk_size * 1024;
}

/* A failure the client caused (soap:Client), not the server (soap:Server). */
static int client_fault(pchat_rc_t rc)
{
	return rc != PCHAT_ERR_DOWN && rc != PCHAT_ERR_FAILED && rc != PCHAT_ERR_NO_MEMORY
		   && rc != PCHAT_ERR_FULL;
}

/* The token of a plain request: Authorization: Bearer, or the query's token. */
static const char *token_of(pchat_http_req_t *r)
{
	const char *auth = pchat_http_header(r, "Authorization");

	if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
		return auth + 7;
	return pchat_http_query(r, "token");
}

static const char *rc_words(pchat_rc_t rc, const char *why)
{
	if (why && why[0])
		return why;
	switch (rc) {
	case PCHAT_ERR_FORBIDDEN: return "the token is not valid for this";
	case PCHAT_ERR_NOT_FOUND: return "no such file";
	case PCHAT_ERR_DOWN: return "the service is unavailable, try again later";
	default: return pchat_rc_text(rc);
	}
}

/* ------------------------------------------------------------------ Lync's web service */

static void soap_send(pchat_http_req_t *r, int status, pchat_buf_t *b)
{
	if (!pchat_buf_ok(b) || pchat_http_respond(r, status, "text/xml; charset=utf-8", b->s,
									b->len) < 0)
		pchat_http_respond(r, 500, NULL, "", 0);
	pchat_buf_free(b);
}

/* What every refusal of both interfaces does besides its answer: counted, logged, and a
 * client told when to come back if the database is away. */
static void note_refusal(pchat_http_req_t *r, pchat_rc_t rc, const char *why)
{
	update_stat(pchat_stat_file_refusals, 1);
	pchat_http_log_note(r, "refused: %s", why);
	if (rc == PCHAT_ERR_DOWN)
		pchat_http_add_header(r, "Retry-After", "5");
}

/* A refusal as Lync's client expects it: HTTP 500 with a SOAP fault (it stops on a 4xx). */
static void soap_refuse(pchat_http_req_t *r, pchat_rc_t rc, const char *why)
{
	pchat_buf_t b;

	note_refusal(r, rc, rc_words(rc, why));
	pchat_buf_init(&b);
	pchat_soap_fault(&b, client_fault(rc), rc_words(rc, why));
	soap_send(r, 500, &b);
}

static void soap_text(pchat_http_req_t *r, pchat_soap_op_t op, const char *text)
{
	pchat_buf_t b;

	pchat_buf_init(&b);
	pchat_soap_result(&b, op, text);
	soap_send(r, 200, &b);
}

static void soap_number(pchat_http_req_t *r, pchat_soap_op_t op, uint64_t n)
{
	char text[32];

	snprintf(text, sizeof(text), "%" PRIu64, n);
	soap_text(r, op, text);
}

static const char *channel_of(const pchat_soap_req_t *q)
{
	return q->channel_id[0] ? q->channel_id : NULL;
}

static void soap_unique_name(pchat_http_req_t *r, const pchat_filestore_t *fs,
		const pchat_soap_req_t *q)
{
	char name[PCHAT_FILE_NAME_MAX];
	pchat_file_grant_t g;
	pchat_rc_t rc = pchat_filestore_grant(fs, q->token, channel_of(q), 1, &g);

	if (rc == PCHAT_OK)
		rc = pchat_filestore_reserve(fs, &g, q->extension, name);
	if (rc != PCHAT_OK)
		soap_refuse(r, rc, NULL);
	else
		soap_text(r, q->op, name);
}

static void soap_append(pchat_http_req_t *r, const pchat_filestore_t *fs,
		const pchat_soap_req_t *q)
{
	const char *why = "";
	pchat_file_grant_t g;
	uint64_t size;
	pchat_rc_t rc;

	if (!q->has_offset || !q->has_file_length) {
		soap_refuse(r, PCHAT_ERR_INVALID, "offset and fileLength are needed");
		return;
	}
	if (q->chunk_len > chunk_max()) {
		soap_refuse(r, PCHAT_ERR_TOO_LARGE, "the chunk is larger than GetMaxRequestContentInKB");
		return;
	}
	rc = pchat_filestore_grant(fs, q->token, channel_of(q), 1, &g);
	if (rc == PCHAT_OK)
		rc = pchat_filestore_append(fs, &g, q->file_name, q->offset, q->chunk, q->chunk_len,
				q->file_length, &size, &why);
	if (rc != PCHAT_OK) {
		soap_refuse(r, rc, why);
		return;
	}
	update_stat(pchat_stat_file_bytes_in, (int)q->chunk_len);
	if (size == q->file_length)
		update_stat(pchat_stat_file_uploads, 1);
	pchat_http_log_note(r, "%s at %" PRIu64 ": %" PRIu64 " of %" PRIu64, q->file_name, q->offset,
			size, q->file_length);
	soap_number(r, q->op, size);
}

static void soap_file_size(pchat_http_req_t *r, const pchat_filestore_t *fs,
		const pchat_soap_req_t *q)
{
	pchat_file_info_t info;
	pchat_file_grant_t g;
	/* a download asks the size of the file; an upload being resumed, what arrived */
	pchat_rc_t rc = pchat_filestore_grant(fs, q->token, channel_of(q), -1, &g);

	if (rc == PCHAT_OK)
		rc = pchat_filestore_info(fs, &g, q->file_name, &info);
	if (rc != PCHAT_OK)
		soap_refuse(r, rc, NULL);
	else
		soap_number(r, q->op, info.size);
}

/* len bytes at offset: 0, or -1 when they cannot all be read (an error, or a file shorter
 * than its row says: a client would ask for the same chunk forever). */
static int read_at(int fd, uint64_t offset, unsigned char *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, buf + done, len - done, (off_t)(offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static void soap_download(pchat_http_req_t *r, const pchat_filestore_t *fs,
		const pchat_soap_req_t *q)
{
	pchat_file_info_t info;
	pchat_file_grant_t g;
	unsigned char *buf = NULL;
	uint64_t want;
	pchat_rc_t rc;
	pchat_buf_t b;
	int fd = -1;

	rc = pchat_filestore_grant(fs, q->token, channel_of(q), 0, &g);
	if (rc == PCHAT_OK)
		rc = pchat_filestore_open(fs, &g, q->file_name, 1, &info, &fd);
	if (rc == PCHAT_OK && q->offset > info.size)
		rc = PCHAT_ERR_INVALID;
	if (rc != PCHAT_OK) {
		soap_refuse(r, rc, rc == PCHAT_ERR_INVALID ? "the offset is past the file's end" : NULL);
		goto done;
	}
	want = q->has_buffer_size && q->buffer_size < chunk_max() ? q->buffer_size : chunk_max();
	if (want > info.size - q->offset)
		want = info.size - q->offset;
	buf = pchat_malloc(want ? want : 1);
	if (!buf || read_at(fd, q->offset, buf, want) < 0) {
		LM_ERR("files: %s of room %s cannot be read at %" PRIu64 "\n", q->file_name,
				g.room_guid, q->offset);
		soap_refuse(r, PCHAT_ERR_FAILED, "the file cannot be read");
		goto done;
	}
	if (q->offset == 0)
		update_stat(pchat_stat_file_downloads, 1);
	update_stat(pchat_stat_file_bytes_out, (int)want);
	pchat_http_log_note(r, "%s at %" PRIu64 ": %" PRIu64 " bytes", q->file_name, q->offset,
			want);
	pchat_buf_init(&b);
	pchat_soap_result_bytes(&b, q->op, buf, (size_t)want);
	soap_send(r, 200, &b);
done:
	pchat_free(buf);
	if (fd >= 0)
		close(fd);
}

static void soap_finish(pchat_http_req_t *r)
{
	pchat_filestore_t fs = store();
	pchat_soap_req_t q;
	char err[256];
	const char *body;
	pchat_rc_t rc;
	size_t len;

	body = pchat_http_body(r, &len);
	rc = pchat_soap_parse(body ? body : "", body ? len : 0, &q, err, sizeof(err));
	if (rc != PCHAT_OK) {
		soap_refuse(r, rc, err);
		return;
	}
	switch (q.op) {
	case PCHAT_SOAP_MAX_FILE_SIZE:
		soap_number(r, q.op, (uint64_t)pchat_shared->settings.max_file_size);
		break;
	case PCHAT_SOAP_MAX_REQUEST:
		soap_number(r, q.op, (uint64_t)pchat_params.file_chunk_size);
		break;
	case PCHAT_SOAP_UNIQUE_NAME: soap_unique_name(r, &fs, &q); break;
	case PCHAT_SOAP_APPEND_CHUNK: soap_append(r, &fs, &q); break;
	case PCHAT_SOAP_FILE_SIZE: soap_file_size(r, &fs, &q); break;
	case PCHAT_SOAP_DOWNLOAD_CHUNK: soap_download(r, &fs, &q); break;
	}
	pchat_soap_req_free(&q);
}

/* ------------------------------------------------------------------ the plain interface */

static void json_send(pchat_http_req_t *r, int status, pchat_buf_t *b)
{
	if (!pchat_buf_ok(b) || pchat_http_respond(r, status, JSON, b->s, b->len) < 0)
		pchat_http_respond(r, 500, NULL, "", 0);
	pchat_buf_free(b);
}

/* {"error": why} with an HTTP status (the refusal noted by the caller). */
static void json_error(pchat_http_req_t *r, int status, const char *why)
{
	pchat_buf_t b;

	pchat_buf_init(&b);
	pchat_buf_adds(&b, "{\"error\":\"");
	pchat_buf_adds_json(&b, why);
	pchat_buf_adds(&b, "\"}");
	json_send(r, status, &b);
}

static void json_refuse(pchat_http_req_t *r, pchat_rc_t rc, const char *why)
{
	note_refusal(r, rc, rc_words(rc, why));
	json_error(r, pchat_rc_http(rc), rc_words(rc, why));
}

/* {"name":..., "size":..., "length":..., "complete":..., "link":...} of an upload. */
static void upload_state(pchat_http_req_t *r, const pchat_file_grant_t *g, const char *name,
		uint64_t size, uint64_t length, int complete)
{
	pchat_buf_t b;

	pchat_buf_init(&b);
	pchat_buf_addf(&b, "{\"name\":\"%s\",\"size\":%" PRIu64 ",\"length\":%" PRIu64
					   ",\"complete\":%s,\"link\":\"", name, size, length,
			complete ? "true" : "false");
	pchat_file_link(&b, pchat_params.domain, g->room_guid, name);
	pchat_buf_adds(&b, "\"}");
	json_send(r, 200, &b);
}

/* GET .../upload: where an upload stands, to resume it (the name is made if not yet). */
static void upload_status(pchat_http_req_t *r)
{
	pchat_filestore_t fs = store();
	char name[PCHAT_FILE_NAME_MAX];
	pchat_file_info_t info;
	pchat_file_grant_t g;
	pchat_rc_t rc = pchat_filestore_grant(&fs, token_of(r), NULL, 1, &g);

	if (rc == PCHAT_OK)
		rc = pchat_filestore_reserve(&fs, &g, "", name);
	if (rc == PCHAT_OK)
		rc = pchat_filestore_info(&fs, &g, name, &info);
	if (rc != PCHAT_OK)
		json_refuse(r, rc, NULL);
	else
		upload_state(r, &g, name, info.size, info.length, strcmp(info.state, "complete") == 0);
}

typedef struct put_state {
	pchat_filestore_t fs;
	pchat_file_grant_t g;
	char name[PCHAT_FILE_NAME_MAX];
	uint64_t offset;      /* where the piece in buf goes */
	uint64_t length;      /* of the whole file */
	uint64_t size;        /* what the repository holds */
	unsigned char *buf;
	size_t used;
	int written;          /* a piece went to the repository */
} put_state_t;

/* A whole number from the query; -1 when present but not one. */
static int query_u64(pchat_http_req_t *r, const char *name, uint64_t *v, int *present)
{
	const char *s = pchat_http_query(r, name);
	char *end;

	*present = s != NULL;
	if (!s)
		return 0;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return *end || errno ? -1 : 0;
}

/* The file's length: the query's, or the body's for a whole file sent at once. */
static int put_length(pchat_http_req_t *r, put_state_t *p)
{
	const char *cl = pchat_http_header(r, "Content-Length");
	int has_len, has_off;
	char *end;

	if (query_u64(r, "offset", &p->offset, &has_off) < 0
			|| query_u64(r, "length", &p->length, &has_len) < 0)
		return -1;
	if (has_len)
		return 0;
	if (p->offset != 0 || !cl)
		return -1;
	errno = 0;
	p->length = strtoull(cl, &end, 10);
	return *end || errno ? -1 : 0;
}

static int put_flush(pchat_http_req_t *r, put_state_t *p)
{
	const char *why = "";
	pchat_file_grant_t now;
	pchat_rc_t rc;

	/* a long upload may outlive its token, or its room: each piece asks again */
	rc = pchat_filestore_grant(&p->fs, p->g.token, p->g.room_guid, 1, &now);
	if (rc == PCHAT_OK && now.file_id != p->g.file_id)
		rc = PCHAT_ERR_FORBIDDEN;
	if (rc == PCHAT_OK)
		rc = pchat_filestore_append(&p->fs, &p->g, p->name, p->offset, p->buf, p->used,
				p->length, &p->size, &why);
	if (rc != PCHAT_OK) {
		json_refuse(r, rc, why);
		return PCHAT_HTTP_DONE;
	}
	update_stat(pchat_stat_file_bytes_in, (int)p->used);
	p->offset += p->used;
	p->used = 0;
	p->written = 1;
	return PCHAT_HTTP_CONTINUE;
}

static int put_start(pchat_http_req_t *r)
{
	put_state_t *p = pchat_malloc(sizeof(*p));
	pchat_rc_t rc;

	if (!p) {
		json_refuse(r, PCHAT_ERR_NO_MEMORY, NULL);
		return PCHAT_HTTP_DONE;
	}
	memset(p, 0, sizeof(*p));
	pchat_http_set_state(r, p);
	p->fs = store();
	if (put_length(r, p) < 0) {
		json_refuse(r, PCHAT_ERR_INVALID, "give the file's length (length=) and where this part "
				"starts (offset=), or send the whole file with a Content-Length");
		return PCHAT_HTTP_DONE;
	}
	rc = pchat_filestore_grant(&p->fs, token_of(r), NULL, 1, &p->g);
	if (rc == PCHAT_OK)
		rc = pchat_filestore_reserve(&p->fs, &p->g, "", p->name);
	if (rc == PCHAT_OK && p->length > p->fs.max_bytes)
		rc = PCHAT_ERR_TOO_LARGE;
	p->buf = rc == PCHAT_OK ? pchat_malloc(PUT_PIECE) : NULL;
	if (rc == PCHAT_OK && !p->buf)
		rc = PCHAT_ERR_NO_MEMORY;
	if (rc != PCHAT_OK) {
		json_refuse(r, rc, rc == PCHAT_ERR_TOO_LARGE ? "the file is larger than the maximum "
				"file size" : NULL);
		return PCHAT_HTTP_DONE;
	}
	pchat_http_log_note(r, "%s from %" PRIu64 " of %" PRIu64, p->name, p->offset, p->length);
	return PCHAT_HTTP_CONTINUE;
}

static int put_body(pchat_http_req_t *r, const char *data, size_t len)
{
	put_state_t *p = pchat_http_state(r);
	size_t take;

	while (len > 0) {
		take = PUT_PIECE - p->used < len ? PUT_PIECE - p->used : len;
		memcpy(p->buf + p->used, data, take);
		p->used += take;
		data += take;
		len -= take;
		if (p->used == PUT_PIECE && put_flush(r, p) == PCHAT_HTTP_DONE)
			return PCHAT_HTTP_DONE;
	}
	return PCHAT_HTTP_CONTINUE;
}

static void put_finish(pchat_http_req_t *r)
{
	put_state_t *p = pchat_http_state(r);

	/* the rest, or the one empty chunk of an empty file */
	if ((p->used > 0 || !p->written) && put_flush(r, p) == PCHAT_HTTP_DONE)
		return;
	/* the piece that brought the size to the length completed the file (an empty one too) */
	if (p->size == p->length)
		update_stat(pchat_stat_file_uploads, 1);
	upload_state(r, &p->g, p->name, p->size, p->length, p->size == p->length);
}

static void put_cleanup(pchat_http_req_t *r, int completed)
{
	put_state_t *p = pchat_http_state(r);

	(void)completed;
	if (p) {
		pchat_free(p->buf);
		pchat_free(p);
	}
}

/* The path's room GUID and stored name: /PersistentChat/files/GUID/NAME. */
static int download_target(const char *path, char *guid, char *name)
{
	const char *rest = path + strlen(FILES_PREFIX), *slash = strchr(rest, '/');

	if (!slash || slash - rest != PCHAT_GUID_LEN || strlen(slash + 1) >= PCHAT_FILE_NAME_MAX)
		return -1;
	memcpy(guid, rest, PCHAT_GUID_LEN);
	guid[PCHAT_GUID_LEN] = '\0';
	strcpy(name, slash + 1);
	return pchat_file_name_valid(name) ? 0 : -1;
}

static void download_headers(pchat_http_req_t *r, const pchat_file_info_t *info)
{
	pchat_buf_t b;

	pchat_buf_init(&b);
	pchat_file_disposition(&b, info->original);
	if (pchat_buf_ok(&b))
		pchat_http_add_header(r, "Content-Disposition", b.s);
	pchat_buf_free(&b);
	pchat_http_add_header(r, "Content-Security-Policy", DOWNLOAD_CSP);
	pchat_http_add_header(r, "Accept-Ranges", "bytes");
	pchat_http_add_header(r, "Cache-Control", "private, no-store");
}

/* GET .../files/GUID/NAME: the file, whole or one range of it. */
static void download(pchat_http_req_t *r)
{
	char guid[PCHAT_GUID_LEN + 1], name[PCHAT_FILE_NAME_MAX], range[96];
	pchat_filestore_t fs = store();
	pchat_file_info_t info;
	pchat_file_grant_t g;
	uint64_t from = 0, len;
	pchat_rc_t rc;
	int fd = -1, partial;

	if (download_target(pchat_http_path(r), guid, name) < 0) {
		json_refuse(r, PCHAT_ERR_NOT_FOUND, NULL);
		return;
	}
	rc = pchat_filestore_grant(&fs, token_of(r), guid, 0, &g);
	if (rc == PCHAT_OK)
		rc = pchat_filestore_info(&fs, &g, name, &info);
	if (rc != PCHAT_OK) {
		json_refuse(r, rc, NULL);
		return;
	}
	len = info.size;
	partial = pchat_file_range(pchat_http_header(r, "Range"), info.size, &from, &len);
	download_headers(r, &info);
	if (partial < 0) {
		snprintf(range, sizeof(range), "bytes */%" PRIu64, info.size);
		pchat_http_add_header(r, "Content-Range", range);
		note_refusal(r, PCHAT_ERR_INVALID, "the range is not satisfiable");
		json_error(r, 416, "the range is not satisfiable");
		return;
	}
	/* a HEAD is no download: it neither records one nor uses the token up */
	rc = pchat_filestore_open(&fs, &g, name, !pchat_http_is_head(r), &info, &fd);
	if (rc != PCHAT_OK) {
		json_refuse(r, rc, NULL);
		return;
	}
	if (partial) {
		snprintf(range, sizeof(range), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from,
				from + len - 1, info.size);
		pchat_http_add_header(r, "Content-Range", range);
	}
	if (!pchat_http_is_head(r)) {
		if (from == 0)
			update_stat(pchat_stat_file_downloads, 1);
		update_stat(pchat_stat_file_bytes_out, (int)len);
	}
	pchat_http_log_note(r, "%s: %" PRIu64 " bytes from %" PRIu64, name, len, from);
	pchat_http_respond_fd(r, partial ? 206 : 200, pchat_file_served_type(info.content_type), fd,
			from, len);
}

/* ------------------------------------------------------------------ routes */

static pchat_http_route_t routes[4];

const pchat_http_route_t *pchat_filesvc_routes(int *n)
{
	/* a chunk in base64 is a third larger, in its envelope */
	size_t soap_max = (size_t)chunk_max() / 3 * 4 + 4 + SOAP_OVERHEAD;

	if (!enabled) {
		*n = 0;
		return routes;
	}
	routes[0] = (pchat_http_route_t){"POST", PCHAT_FILE_SERVICE_PATH, soap_max, NULL, NULL,
			soap_finish, NULL};
	routes[1] = (pchat_http_route_t){"GET", UPLOAD_PATH, 0, NULL, NULL, upload_status, NULL};
	routes[2] = (pchat_http_route_t){"PUT", UPLOAD_PATH, PUT_BODY_MAX, put_start, put_body,
			put_finish, put_cleanup};
	routes[3] = (pchat_http_route_t){"GET", FILES_PREFIX, 0, NULL, NULL, download, NULL};
	*n = 4;
	return routes;
}

/* ------------------------------------------------------------------ housekeeping */

#define SWEEP_BATCH 100

void pchat_filesvc_sweep(void)
{
	pchat_filestore_t fs;
	int n;

	if (!enabled)
		return;
	fs = store();
	n = pchat_filestore_sweep(&fs, SWEEP_BATCH);
	if (n > 0)
		LM_INFO("files: %d removed or abandoned files deleted from the repository\n", n);
	else if (n < 0 && n != PCHAT_ERR_DOWN)
		LM_ERR("files: the repository's housekeeping failed: %s\n",
				pchat_rc_text((pchat_rc_t)n));
}
