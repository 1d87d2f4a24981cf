/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <string.h>

#include "pchat_log.h"
#include "pchat_schema.h"
#include "pchat_store_mysql.h"

enum {
	ST_SCHEMA_VERSIONS = 0, /* must stay first: pchat_schema_check runs statement 0 */
	ST_ROOM_BY_GUID,
	ST_POST_NEXT_SEQ,
	ST_POST_INSERT,
	ST_HISTORY,
	ST_SEARCH,
	ST_COUNT
};

#define ROOM_COLUMNS "id, guid, name, topic, privacy, type, disabled"

const char *const pchat_store_sql[] = {
	[ST_SCHEMA_VERSIONS] = PCHAT_SCHEMA_VERSIONS_SQL,
	[ST_ROOM_BY_GUID] = "SELECT " ROOM_COLUMNS " FROM pchat_room WHERE guid = ?",
	/* Takes the room's row lock until the transaction ends: posts of a room are numbered in
	 * commit order. LAST_INSERT_ID(expr) hands the new number back without another query. */
	[ST_POST_NEXT_SEQ] = "UPDATE pchat_room SET last_seq = LAST_INSERT_ID(last_seq + 1) "
						 "WHERE id = ?",
	[ST_POST_INSERT] = "INSERT INTO pchat_message (room_id, seq, author, ts, content) "
					   "VALUES (?, ?, ?, ?, ?)",
	[ST_HISTORY] = "SELECT seq, author, DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s.%f'), content FROM "
				   "(SELECT seq, author, ts, content FROM pchat_message WHERE room_id = ? "
				   "ORDER BY seq DESC LIMIT ?) newest ORDER BY seq",
	/* Rooms by name (the collation makes LIKE case-insensitive); secret rooms only for their
	 * members, managers and presenters (the user or the user's domain); disabled never. */
	[ST_SEARCH] = "SELECT r.id, r.guid, r.name, r.description, r.privacy, c.file_upload, "
				  "IF(r.invitations = 'inherit', c.invitations, r.invitations = 'on'), "
				  "c.chat_history FROM pchat_room r JOIN pchat_category c ON c.id = r.category_id "
				  "WHERE r.disabled = 0 AND r.name LIKE CONCAT('%', ?, '%') ESCAPE '!' AND "
				  "(r.privacy <> 'secret' OR EXISTS (SELECT 1 FROM pchat_room_principal p "
				  "WHERE p.room_id = r.id AND p.principal IN (?, ?))) ORDER BY r.name LIMIT ?",
};
const int pchat_store_nsql = ST_COUNT;

static int store_rc(long long rc)
{
	return rc == PCHAT_DB_UNAVAILABLE ? PCHAT_STORE_DOWN : PCHAT_STORE_ERROR;
}

static void copy_col(char *dst, size_t len, const pchat_db_val_t *v)
{
	snprintf(dst, len, "%s", v->type == PCHAT_DB_STR ? v->s : "");
}

static pchat_privacy_t privacy_of(const char *s)
{
	return strcmp(s, "open") == 0 ? PCHAT_OPEN
		   : strcmp(s, "secret") == 0 ? PCHAT_SECRET : PCHAT_CLOSED;
}

static int read_room(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	pchat_room_t *room = ctx;

	if (ncols != 7)
		return -1;
	room->id = (uint64_t)cols[0].i;
	copy_col(room->guid, sizeof(room->guid), &cols[1]);
	copy_col(room->name, sizeof(room->name), &cols[2]);
	copy_col(room->topic, sizeof(room->topic), &cols[3]);
	room->privacy = privacy_of(cols[4].s);
	room->type = strcmp(cols[5].s, "auditorium") == 0 ? PCHAT_AUDITORIUM : PCHAT_NORMAL;
	room->disabled = cols[6].i != 0;
	return 0;
}

static int room_by_guid(void *h, const char *guid, pchat_room_t *room)
{
	pchat_db_val_t p = PCHAT_DB_CS(guid);
	long long rc = pchat_db_exec(h, ST_ROOM_BY_GUID, &p, 1, read_room, room);

	if (rc < 0)
		return store_rc(rc);
	return rc == 0 ? PCHAT_NOT_FOUND : 0;
}

static int post_begin(void *h, uint64_t room_id, const char *author, const char *ts,
		const char *content, uint64_t *seq)
{
	pchat_db_val_t p[5];
	long long rc;

	if ((rc = pchat_db_begin(h)) != 0)
		return store_rc(rc);
	p[0] = PCHAT_DB_I((long long)room_id);
	rc = pchat_db_exec(h, ST_POST_NEXT_SEQ, p, 1, NULL, NULL);
	if (rc != 1) {
		pchat_db_rollback(h);
		if (rc == 0)
			PLOG_ERR("room %llu vanished while posting\n", (unsigned long long)room_id);
		return rc < 0 ? store_rc(rc) : PCHAT_STORE_ERROR;
	}
	*seq = pchat_db_insert_id(h);
	p[1] = PCHAT_DB_I((long long)*seq);
	p[2] = PCHAT_DB_CS(author);
	p[3] = PCHAT_DB_CS(ts);
	p[4] = PCHAT_DB_CS(content);
	rc = pchat_db_exec(h, ST_POST_INSERT, p, 5, NULL, NULL);
	if (rc != 1) {
		pchat_db_rollback(h);
		return rc < 0 ? store_rc(rc) : PCHAT_STORE_ERROR;
	}
	return 0;
}

static int post_commit(void *h)
{
	int rc = pchat_db_commit(h);

	return rc == 0 ? 0 : store_rc(rc);
}

static void post_abort(void *h)
{
	pchat_db_rollback(h);
}

typedef struct history_ctx {
	pchat_post_f cb;
	void *ctx;
} history_ctx_t;

static int read_post(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	history_ctx_t *hc = ctx;
	pchat_post_t post;

	if (ncols != 4)
		return -1;
	post.seq = (uint64_t)cols[0].i;
	post.author = cols[1].s;
	post.ts = cols[2].s;
	post.content = cols[3].s;
	return hc->cb(hc->ctx, &post);
}

static int history(void *h, uint64_t room_id, int n, pchat_post_f cb, void *ctx)
{
	pchat_db_val_t p[2] = {PCHAT_DB_I((long long)room_id), PCHAT_DB_I(n)};
	history_ctx_t hc = {cb, ctx};
	long long rc = pchat_db_exec(h, ST_HISTORY, p, 2, read_post, &hc);

	return rc < 0 ? store_rc(rc) : 0;
}

typedef struct search_ctx {
	pchat_room_f cb;
	void *ctx;
} search_ctx_t;

static int read_summary(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	search_ctx_t *sc = ctx;
	pchat_room_summary_t r;

	if (ncols != 8)
		return -1;
	r.id = (uint64_t)cols[0].i;
	r.guid = cols[1].s;
	r.name = cols[2].s;
	r.description = cols[3].s;
	r.privacy = privacy_of(cols[4].s);
	r.file_post = cols[5].i != 0;
	r.invite = cols[6].i != 0;
	r.logged = cols[7].i != 0;
	return sc->cb(sc->ctx, &r);
}

/* LIKE treats % and _ as wildcards: a search for "100%" means the text itself. The escape
 * character is '!' (a backslash would depend on the server's SQL mode). */
static void like_escape(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *in && o + 2 < outlen; in++) {
		if (*in == '%' || *in == '_' || *in == '!')
			out[o++] = '!';
		out[o++] = *in;
	}
	out[o] = '\0';
}

static int search(void *h, const char *user, const char *text, int limit, pchat_room_f cb,
		void *ctx)
{
	const char *at = strchr(user, '@');
	char pattern[2 * 1025 + 1];
	search_ctx_t sc = {cb, ctx};
	pchat_db_val_t p[4];
	long long rc;

	like_escape(text, pattern, sizeof(pattern));
	p[0] = PCHAT_DB_CS(pattern);
	p[1] = PCHAT_DB_CS(user);
	p[2] = PCHAT_DB_CS(at ? at + 1 : user);
	p[3] = PCHAT_DB_I(limit);
	rc = pchat_db_exec(h, ST_SEARCH, p, 4, read_summary, &sc);
	return rc < 0 ? store_rc(rc) : 0;
}

const pchat_store_ops_t pchat_store_mysql_ops = {
	.room_by_guid = room_by_guid,
	.post_begin = post_begin,
	.post_commit = post_commit,
	.post_abort = post_abort,
	.history = history,
	.search = search,
};
