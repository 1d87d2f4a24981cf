/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "pchat_alloc.h"
#include "pchat_archive.h"
#include "pchat_authz.h"
#include "pchat_filestore.h"
#include "pchat_log.h"
#include "pchat_outbox.h"
#include "pchat_store_mysql.h"
#include "pchat_uri.h"

enum {
	ST_ROOM_FOR,
	ST_ROOMS_FOR,
	ST_POST_NEXT_SEQ,
	ST_POST_INSERT,
	ST_POSTS_BETWEEN,
	ST_SEARCH_NAME,
	ST_SEARCH_NAME_TRIGRAMS,
	ST_SEARCH_DESCRIPTION,
	ST_SEARCH_ROLE,
	ST_ASSOCIATIONS,
	ST_INVITATIONS,
	ST_PREF_GET,
	ST_PREF_SET,
	ST_IS_CREATOR,
	ST_LAST_SEQS,
	ST_PREF_COUNT,
	ST_POLICY,
	ST_POST_BY_UID,
	ST_COUNT
};

/* A user's rights come from the user and from the user's domain: every rights query takes the
 * pair (user, domain) for each "principal IN (?, ?)". */
#define IN_PRINCIPALS "IN (?, ?)"

/* What a user may find (pchat_may_see in SQL): the room is enabled, its category allows the user
 * and does not deny the user, and a secret room only for its members, managers and presenters.
 * Written with IN subqueries, which the server materializes once: correlated EXISTS ran per room
 * and took 360 ms at 100,000 rooms, against 2 ms. Takes 3 principal pairs. */
#define VISIBLE                                                                          \
	"r.disabled = 0 AND r.category_id IN (SELECT a.category_id FROM "                     \
	"pchat_category_principal a WHERE a.role = 'allowed' AND a.principal " IN_PRINCIPALS   \
	") AND r.category_id NOT IN (SELECT d.category_id FROM pchat_category_principal d "    \
	"WHERE d.role = 'denied' AND d.principal " IN_PRINCIPALS ") AND (r.privacy <> "        \
	"'secret' OR r.id IN (SELECT p.room_id FROM pchat_room_principal p WHERE p.principal "  \
	IN_PRINCIPALS "))"

#define ROOMS "FROM pchat_room r "
/* Walks the rooms in name order through (disabled, name) and stops at the limit; left to
 * itself, the optimizer reads a whole category and sorts it (150 ms at 100,000 rooms). */
#define ROOMS_BY_NAME "FROM pchat_room r FORCE INDEX (room_listing_idx) "

/* pchat_room_summary_t: 8 columns. The category's switches come from subqueries, not a join:
 * joined, the tiny category table goes through a join buffer, which makes the server read and
 * sort every room before the limit applies. */
#define CATEGORY_OF(col) "(SELECT c." col " FROM pchat_category c WHERE c.id = r.category_id)"
#define SUMMARY_COLUMNS                                                                  \
	"r.id, r.guid, r.name, r.description, r.privacy, " CATEGORY_OF("file_upload") ", "    \
	"IF(r.invitations = 'inherit', " CATEGORY_OF("invitations") ", r.invitations = 'on'), " \
	CATEGORY_OF("chat_history") " "

/* PCHAT_STORE_BATCH parameters of an IN list; unused ones are bound to 0 (no room has id 0). */
#define TEN_MARKS "?,?,?,?,?,?,?,?,?,?"

#define NAME_LIKE "r.name LIKE CONCAT('%', ?, '%') ESCAPE '!' "
#define BY_NAME "ORDER BY r.name LIMIT ?"

/* A room with what its category and roles say about a user (pchat_room_t, read_room's 16
 * columns); takes 3 principal pairs, then the condition on r. */
#define ROOM_FOR                                                                          \
	"SELECT r.id, r.guid, r.name, r.description, r.topic, r.privacy, r.type, r.disabled, "  \
	"c.file_upload, IF(r.invitations = 'inherit', c.invitations, r.invitations = 'on'), "   \
	"c.chat_history, EXISTS (SELECT 1 FROM pchat_category_principal a WHERE "              \
	"a.category_id = r.category_id AND a.role = 'allowed' AND a.principal " IN_PRINCIPALS  \
	"), EXISTS (SELECT 1 FROM pchat_category_principal d WHERE d.category_id = "           \
	"r.category_id AND d.role = 'denied' AND d.principal " IN_PRINCIPALS "), "             \
	"(SELECT COALESCE(BIT_OR(CASE p.role WHEN 'member' THEN 1 WHEN 'manager' THEN 2 "       \
	"ELSE 4 END), 0) FROM pchat_room_principal p WHERE p.room_id = r.id AND p.principal "  \
	IN_PRINCIPALS "), (SELECT COALESCE(MAX(s.last_seq), 0) FROM pchat_room_sequence s "     \
	"WHERE s.room_id = r.id), r.category_id FROM pchat_room r JOIN pchat_category c ON "    \
	"c.id = r.category_id WHERE "

static const char *const store_sql[] = {
	[ST_ROOM_FOR] = ROOM_FOR "r.guid = ?",
	/* a batch join's rooms in one round trip; unused places are bound to '' (no room has an
	 * empty GUID) */
	[ST_ROOMS_FOR] = ROOM_FOR "r.guid IN (" TEN_MARKS ")",
	/* Takes the room's sequence row lock until the transaction ends: posts of a room are
	 * numbered in commit order. LAST_INSERT_ID(expr) hands the new number back without another
	 * query; a room's first post creates the row. */
	[ST_POST_NEXT_SEQ] = "INSERT INTO pchat_room_sequence (room_id, last_seq) VALUES "
						 "(?, LAST_INSERT_ID(1)) ON DUPLICATE KEY UPDATE last_seq = "
						 "LAST_INSERT_ID(last_seq + 1)",
	[ST_POST_INSERT] = "INSERT INTO pchat_message (room_id, seq, author, ts, content, uid) "
					   "VALUES (?, ?, ?, ?, ?, ?)",
	/* a range of the primary key, read in its order: a backchat's newest posts are the range
	 * ending at the room's last number */
	[ST_POSTS_BETWEEN] = "SELECT seq, author, DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s.%f'), content "
						 "FROM pchat_message WHERE room_id = ? AND seq > ? AND seq < ? "
						 "ORDER BY seq LIMIT ?",
	/* Short texts walk the name index (it stops after the limit); the collation makes LIKE
	 * case-insensitive. Texts of 3 or more characters first narrow the rooms down to those
	 * holding one of its trigrams (migration 002), then check the LIKE on those. One trigram,
	 * not several: two texts the collation holds equal ("Ab" and "ab") would make an
	 * intersection miss rooms. */
	[ST_SEARCH_NAME] = "SELECT " SUMMARY_COLUMNS ROOMS_BY_NAME "WHERE " VISIBLE
					   " AND " NAME_LIKE BY_NAME,
	[ST_SEARCH_NAME_TRIGRAMS] =
		"SELECT " SUMMARY_COLUMNS ROOMS "WHERE r.id IN (SELECT room_id FROM pchat_room_trigram "
		"WHERE trigram = ?) AND " VISIBLE " AND " NAME_LIKE BY_NAME,
	[ST_SEARCH_DESCRIPTION] = "SELECT " SUMMARY_COLUMNS ROOMS_BY_NAME "WHERE "
							  VISIBLE " AND r.description LIKE CONCAT('%', ?, '%') ESCAPE '!' "
							  BY_NAME,
	[ST_SEARCH_ROLE] = "SELECT " SUMMARY_COLUMNS ROOMS "WHERE " VISIBLE " AND EXISTS (SELECT 1 "
					   "FROM pchat_room_principal q WHERE q.room_id = r.id AND q.role = ? AND "
					   "q.principal = ?) " BY_NAME,
	[ST_ASSOCIATIONS] = "SELECT " SUMMARY_COLUMNS ROOMS "WHERE " VISIBLE " AND EXISTS (SELECT 1 "
						"FROM pchat_room_principal q WHERE q.room_id = r.id AND q.role = ? AND "
						"q.principal " IN_PRINCIPALS ") " BY_NAME,
	/* an invitation shows only a room the user may find now */
	[ST_INVITATIONS] = "SELECT i.id, DATE_FORMAT(i.created, '%Y-%m-%d %H:%i:%s.%f'), i.inviter, "
					   SUMMARY_COLUMNS "FROM pchat_invitation i JOIN pchat_room r ON r.id = "
					   "i.room_id WHERE i.user = ? AND i.id > ? AND " VISIBLE
					   " ORDER BY i.id LIMIT ?",
	[ST_PREF_GET] = "SELECT seqid, content FROM pchat_preference WHERE user = ? AND label = ?",
	/* a new bundle is revision 1; an existing one gets the next revision back through
	 * LAST_INSERT_ID(expr) */
	[ST_PREF_SET] = "INSERT INTO pchat_preference (user, label, seqid, content) VALUES "
					"(?, ?, 1, ?) ON DUPLICATE KEY UPDATE seqid = LAST_INSERT_ID(seqid + 1), "
					"content = VALUES(content), modified = UTC_TIMESTAMP(6)",
	[ST_IS_CREATOR] = "SELECT COUNT(*) FROM pchat_category_principal WHERE role = 'creator' "
					  "AND principal " IN_PRINCIPALS,
	[ST_POLICY] = "SELECT principal, enabled FROM pchat_policy WHERE principal IN ('*', ?, ?)",
	[ST_PREF_COUNT] = "SELECT COUNT(*) FROM pchat_preference WHERE user = ? AND label <> ?",
	[ST_LAST_SEQS] = "SELECT room_id, last_seq FROM pchat_room_sequence WHERE room_id IN ("
					 TEN_MARKS "," TEN_MARKS "," TEN_MARKS "," TEN_MARKS "," TEN_MARKS ","
					 TEN_MARKS "," TEN_MARKS "," TEN_MARKS "," TEN_MARKS "," TEN_MARKS ")",
	[ST_POST_BY_UID] = "SELECT room_id, seq FROM pchat_message WHERE uid = ?",
};
const pchat_db_sqlset_t pchat_store_sqlset = {"store", store_sql, ST_COUNT};

static void copy_col(char *dst, size_t len, const pchat_db_val_t *v)
{
	snprintf(dst, len, "%s", v->type == PCHAT_DB_STR ? v->s : "");
}

static pchat_privacy_t privacy_of(const char *s)
{
	return strcmp(s, "open") == 0 ? PCHAT_OPEN
		   : strcmp(s, "secret") == 0 ? PCHAT_SECRET : PCHAT_CLOSED;
}

/* Fills p[at..at+2n-1] with n (user, domain) pairs. */
static void principal_pairs(pchat_db_val_t *p, int at, int n, const char *user)
{
	int i;

	for (i = 0; i < n; i++) {
		p[at + 2 * i] = PCHAT_DB_CS(user);
		p[at + 2 * i + 1] = PCHAT_DB_CS(pchat_user_domain(user));
	}
}

/* ------------------------------------------------------------------ rooms */

static int read_room(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	pchat_room_t *room = ctx;

	if (ncols != 16)
		return PCHAT_ERR_FAILED;
	room->id = (uint64_t)pchat_db_int(&cols[0]);
	room->category_id = (uint64_t)pchat_db_int(&cols[15]);
	copy_col(room->guid, sizeof(room->guid), &cols[1]);
	copy_col(room->name, sizeof(room->name), &cols[2]);
	copy_col(room->description, sizeof(room->description), &cols[3]);
	copy_col(room->topic, sizeof(room->topic), &cols[4]);
	room->privacy = privacy_of(cols[5].s);
	room->type = strcmp(cols[6].s, "auditorium") == 0 ? PCHAT_AUDITORIUM : PCHAT_NORMAL;
	room->disabled = pchat_db_int(&cols[7]) != 0;
	room->file_post = pchat_db_int(&cols[8]) != 0;
	room->invite = pchat_db_int(&cols[9]) != 0;
	room->logged = pchat_db_int(&cols[10]) != 0;
	room->access.allowed = pchat_db_int(&cols[11]) != 0;
	room->access.denied = pchat_db_int(&cols[12]) != 0;
	room->access.roles = (unsigned)pchat_db_int(&cols[13]);
	room->last_seq = (uint64_t)pchat_db_int(&cols[14]);
	return 0;
}

static int room_for(void *h, const char *guid, const char *user, pchat_room_t *room)
{
	pchat_db_val_t p[7];
	long long rc;

	principal_pairs(p, 0, 3, user);
	p[6] = PCHAT_DB_CS(guid);
	rc = pchat_db_exec(h, &pchat_store_sqlset, ST_ROOM_FOR, p, 7, read_room, room);
	if (rc < 0)
		return pchat_db_failure(rc);
	return rc == 0 ? PCHAT_ERR_NOT_FOUND : 0;
}

typedef struct rooms_ctx {
	pchat_room_t *rooms;
	int n;
} rooms_ctx_t;

/* A row of ST_ROOMS_FOR goes to every place that asked for its GUID (a batch may name a room
 * twice); the places keep the GUID as they asked for it. */
static int read_batch_room(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	rooms_ctx_t *rc = ctx;
	pchat_room_t row;
	int i;

	if (read_room(&row, cols, ncols) < 0)
		return PCHAT_ERR_FAILED;
	for (i = 0; i < rc->n; i++)
		if (rc->rooms[i].guid[0] && strcasecmp(rc->rooms[i].guid, row.guid) == 0)
			rc->rooms[i] = row;
	return 0;
}

_Static_assert(PCHAT_ROOMS_BATCH == 10, "ST_ROOMS_FOR has TEN_MARKS places");

static int rooms_for(void *h, const char *user, pchat_room_t *rooms, int n)
{
	pchat_db_val_t p[6 + PCHAT_ROOMS_BATCH];
	rooms_ctx_t ctx = {rooms, n};
	long long rc;
	int i;

	if (n > PCHAT_ROOMS_BATCH)
		return PCHAT_ERR_FAILED;
	principal_pairs(p, 0, 3, user);
	for (i = 0; i < PCHAT_ROOMS_BATCH; i++) {
		p[6 + i] = PCHAT_DB_CS(i < n ? rooms[i].guid : "");
		if (i < n)
			rooms[i].id = 0;
	}
	rc = pchat_db_exec(h, &pchat_store_sqlset, ST_ROOMS_FOR, p, 6 + PCHAT_ROOMS_BATCH,
			read_batch_room, &ctx);
	return rc < 0 ? pchat_db_failure(rc) : 0;
}

/* ------------------------------------------------------------------ posts */

static int resolve_timeout_ms = 10000;

void pchat_store_mysql_set_resolve_timeout(int ms)
{
	resolve_timeout_ms = ms;
}

/* The post between post_begin and post_commit: one at a time, the handle being the process's
 * own connection. */
static struct {
	long long uid; /* random, unique in pchat_message (a clash fails the INSERT: 503, retry) */
	uint64_t room_id;
	uint64_t seq;
} pending;

static int post_begin(void *h, uint64_t room_id, const char *author, const char *ts,
		const char *content, uint64_t *seq)
{
	pchat_db_val_t p[6];
	long long rc;

	if (pchat_random_bytes((unsigned char *)&pending.uid, sizeof(pending.uid)) < 0) {
		PLOG_ERR("no random id for a post: the kernel's random source failed\n");
		return PCHAT_ERR_FAILED;
	}
	if ((rc = pchat_db_begin(h)) != 0)
		return pchat_db_failure(rc);
	p[0] = PCHAT_DB_I((long long)room_id);
	rc = pchat_db_exec(h, &pchat_store_sqlset, ST_POST_NEXT_SEQ, p, 1, NULL, NULL);
	*seq = pchat_db_insert_id(h);
	if (rc < 1 || *seq == 0) {
		pchat_db_rollback(h);
		if (rc >= 0)
			PLOG_ERR("room %llu: no sequence number for a post\n", (unsigned long long)room_id);
		return rc < 0 ? pchat_db_failure(rc) : PCHAT_ERR_FAILED;
	}
	p[1] = PCHAT_DB_I((long long)*seq);
	p[2] = PCHAT_DB_CS(author);
	p[3] = PCHAT_DB_CS(ts);
	p[4] = PCHAT_DB_CS(content);
	p[5] = PCHAT_DB_I(pending.uid);
	rc = pchat_db_exec(h, &pchat_store_sqlset, ST_POST_INSERT, p, 6, NULL, NULL);
	if (rc != 1) {
		pchat_db_rollback(h);
		/* a clash of random ids: as good as a conflict, the author may simply post again */
		return rc == PCHAT_ERR_DUPLICATE ? PCHAT_ERR_DOWN
			   : rc < 0					 ? pchat_db_failure(rc)
										 : PCHAT_ERR_FAILED;
	}
	pending.room_id = room_id;
	pending.seq = *seq;
	return 0;
}

static int read_stored_at(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	uint64_t *at = ctx;

	if (ncols != 2)
		return PCHAT_ERR_FAILED;
	at[0] = (uint64_t)pchat_db_int(&cols[0]);
	at[1] = (uint64_t)pchat_db_int(&cols[1]);
	return 0;
}

/* 1 when the pending post is stored, 0 when it is not, PCHAT_ERR_DOWN when no server answered
 * within resolve_timeout_ms. */
static int pending_post_stored(void *h)
{
	int64_t deadline = pchat_now_ms() + resolve_timeout_ms;
	pchat_db_val_t p = PCHAT_DB_I(pending.uid);
	uint64_t at[2] = {0, 0};
	long long rc;

	for (;;) {
		rc = pchat_db_sync_read(h, &pchat_store_sqlset, ST_POST_BY_UID, &p, 1, read_stored_at, at);
		if (rc >= 0)
			break;
		if (pchat_now_ms() >= deadline)
			return PCHAT_ERR_DOWN;
		/* the shared health state holds new connection attempts back for db_retry_interval */
		usleep(100 * 1000);
	}
	if (rc == 1 && (at[0] != pending.room_id || at[1] != pending.seq)) {
		PLOG_ERR("post %lld is stored as number %llu of room %llu, not %llu of room %llu\n",
				pending.uid, (unsigned long long)at[1], (unsigned long long)at[0],
				(unsigned long long)pending.seq, (unsigned long long)pending.room_id);
		return PCHAT_ERR_DOWN;
	}
	return rc == 1;
}

/* A COMMIT without an answer (the connection died, the server or a cluster node went down) may
 * have stored the post or not. The client is answered only once that is known: the post is
 * looked up by its id on whichever server answers now, after it applied what the cluster
 * committed. Stored: acknowledged and relayed. Not stored: 503, and the client's retry stores it
 * once. Unknown within resolve_timeout_ms: 503 too, and the log says the post may be stored
 * (the rooms' catch-up then relays it; the author may see it twice). */
static int resolve_commit(void *h)
{
	int stored = pending_post_stored(h);

	if (stored == 1) {
		PLOG_WARN("COMMIT of post %llu of room %llu went unanswered; it is stored (found by "
				  "its id), so it is acknowledged\n", (unsigned long long)pending.seq,
				(unsigned long long)pending.room_id);
		return 0;
	}
	if (stored == 0)
		PLOG_WARN("COMMIT of a post to room %llu went unanswered and it is not stored; the "
				  "author gets 503 and may retry\n", (unsigned long long)pending.room_id);
	else
		PLOG_ERR("COMMIT of post %llu of room %llu went unanswered and no database server "
				 "answered within %d ms: it may be stored; the author gets 503 (a stored post "
				 "is relayed by the room's catch-up)\n", (unsigned long long)pending.seq,
				(unsigned long long)pending.room_id, resolve_timeout_ms);
	return PCHAT_ERR_DOWN;
}

static int post_commit(void *h)
{
	int rc = pchat_db_commit(h);

	/* with the connection still open it was a conflict: rolled back, nothing to look up */
	if (rc == PCHAT_ERR_DOWN && !pchat_db_connected(h))
		rc = resolve_commit(h);
	return rc == 0 ? 0 : pchat_db_failure(rc);
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
		return PCHAT_ERR_FAILED;
	post.seq = (uint64_t)pchat_db_int(&cols[0]);
	post.author = cols[1].s;
	post.ts = cols[2].s;
	post.content = cols[3].s;
	return hc->cb(hc->ctx, &post);
}

static int posts_between(void *h, uint64_t room_id, uint64_t after, uint64_t before, int limit,
		pchat_post_f cb, void *ctx)
{
	pchat_db_val_t p[4] = {PCHAT_DB_I((long long)room_id), PCHAT_DB_I((long long)after),
		PCHAT_DB_I(before > INT64_MAX ? INT64_MAX : (long long)before), PCHAT_DB_I(limit)};
	history_ctx_t hc = {cb, ctx};
	long long rc = pchat_db_exec(h, &pchat_store_sqlset, ST_POSTS_BETWEEN, p, 4, read_post, &hc);

	return rc < 0 ? pchat_db_failure(rc) : (int)rc;
}

/* ------------------------------------------------------------------ room lists */

/* The 8 SUMMARY_COLUMNS starting at cols[0]. */
static void summary_of(const pchat_db_val_t *cols, pchat_room_summary_t *r)
{
	r->id = (uint64_t)pchat_db_int(&cols[0]);
	r->guid = cols[1].s;
	r->name = cols[2].s;
	r->description = cols[3].s;
	r->privacy = privacy_of(cols[4].s);
	r->file_post = pchat_db_int(&cols[5]) != 0;
	r->invite = pchat_db_int(&cols[6]) != 0;
	r->logged = pchat_db_int(&cols[7]) != 0;
}

typedef struct list_ctx {
	pchat_room_f room_cb;
	pchat_invitation_f inv_cb;
	void *ctx;
} list_ctx_t;

static int read_summary(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	list_ctx_t *lc = ctx;
	pchat_room_summary_t r;

	if (ncols != 8)
		return PCHAT_ERR_FAILED;
	summary_of(cols, &r);
	return lc->room_cb(lc->ctx, &r);
}

/* LIKE treats % and _ as wildcards: a search for "100%" means the text itself. The escape
 * character is '!' (a backslash would depend on the server's SQL mode). */
/* The middle trigram of text (3 UTF-8 characters) into t; 0 when text is shorter than that. */
static int middle_trigram(const char *text, char *t, size_t tlen)
{
	size_t chars = 0, i, from = 0, to = 0, mid;

	for (i = 0; text[i]; i++)
		if (((unsigned char)text[i] & 0xC0) != 0x80)
			chars++;
	if (chars < 3)
		return 0;
	mid = (chars - 3) / 2;
	for (i = 0, chars = 0; text[i]; i++) {
		if (((unsigned char)text[i] & 0xC0) == 0x80)
			continue;
		if (chars == mid)
			from = i;
		if (chars == mid + 3) {
			to = i;
			break;
		}
		chars++;
	}
	if (!to)
		to = i;
	if (to - from >= tlen)
		return 0;
	memcpy(t, text + from, to - from);
	t[to - from] = '\0';
	return 1;
}

static int search(void *h, const char *user, pchat_search_kind_t kind, const char *text,
		int limit, pchat_room_f cb, void *ctx)
{
	char trigram[16];
	list_ctx_t lc = {cb, NULL, ctx};
	pchat_buf_t pattern;
	pchat_db_val_t p[10];
	int n = 0, stmt;
	long long rc;

	pchat_buf_init(&pattern);
	if (kind == PCHAT_SEARCH_NAME && middle_trigram(text, trigram, sizeof(trigram))) {
		p[n++] = PCHAT_DB_CS(trigram);
		stmt = ST_SEARCH_NAME_TRIGRAMS;
	} else {
		stmt = kind == PCHAT_SEARCH_NAME ? ST_SEARCH_NAME
			   : kind == PCHAT_SEARCH_DESCRIPTION ? ST_SEARCH_DESCRIPTION : ST_SEARCH_ROLE;
	}
	principal_pairs(p, n, 3, user);
	n += 6;
	if (kind == PCHAT_SEARCH_MEMBER || kind == PCHAT_SEARCH_MANAGER) {
		p[n++] = PCHAT_DB_CS(kind == PCHAT_SEARCH_MEMBER ? "member" : "manager");
		p[n++] = PCHAT_DB_CS(text);
	} else {
		pchat_db_add_like(&pattern, text, strlen(text));
		if (pattern.failed) {
			pchat_buf_free(&pattern);
			return PCHAT_ERR_NO_MEMORY;
		}
		p[n++] = PCHAT_DB_CS(pattern.s ? pattern.s : "");
	}
	p[n++] = PCHAT_DB_I(limit);
	rc = pchat_db_exec(h, &pchat_store_sqlset, stmt, p, n, read_summary, &lc);
	pchat_buf_free(&pattern);
	return rc < 0 ? pchat_db_failure(rc) : 0;
}

static const char *role_name(enum pchat_role role)
{
	return role == PCHAT_ROLE_MEMBER ? "member" : role == PCHAT_ROLE_MANAGER ? "manager"
																			  : "presenter";
}

static int associations(void *h, const char *user, enum pchat_role role, int limit,
		pchat_room_f cb, void *ctx)
{
	list_ctx_t lc = {cb, NULL, ctx};
	pchat_db_val_t p[10];
	long long rc;

	principal_pairs(p, 0, 3, user);
	p[6] = PCHAT_DB_CS(role_name(role));
	principal_pairs(p, 7, 1, user);
	p[9] = PCHAT_DB_I(limit);
	rc = pchat_db_exec(h, &pchat_store_sqlset, ST_ASSOCIATIONS, p, 10, read_summary, &lc);
	return rc < 0 ? pchat_db_failure(rc) : 0;
}

static int read_invitation(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	list_ctx_t *lc = ctx;
	pchat_invitation_t inv;

	if (ncols != 11)
		return PCHAT_ERR_FAILED;
	inv.id = (uint64_t)pchat_db_int(&cols[0]);
	inv.created = cols[1].s;
	inv.inviter = cols[2].s;
	summary_of(cols + 3, &inv.room);
	return lc->inv_cb(lc->ctx, &inv);
}

static int invitations(void *h, const char *user, uint64_t after, int limit,
		pchat_invitation_f cb, void *ctx)
{
	pchat_db_val_t p[9];
	list_ctx_t lc = {NULL, cb, ctx};
	long long rc;

	p[0] = PCHAT_DB_CS(user);
	p[1] = PCHAT_DB_I((long long)after);
	principal_pairs(p, 2, 3, user);
	p[8] = PCHAT_DB_I(limit);
	rc = pchat_db_exec(h, &pchat_store_sqlset, ST_INVITATIONS, p, 9, read_invitation, &lc);

	return rc < 0 ? pchat_db_failure(rc) : 0;
}

/* ------------------------------------------------------------------ preferences, creators */

static int read_pref(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	pchat_pref_t *pref = ctx;

	if (ncols != 2)
		return PCHAT_ERR_FAILED;
	pref->seqid = (uint64_t)pchat_db_int(&cols[0]);
	pref->content = pchat_strdup(cols[1].type == PCHAT_DB_STR ? cols[1].s : "");
	return pref->content ? 0 : -1;
}

static int pref_get(void *h, const char *user, const char *label, pchat_pref_t *pref)
{
	pchat_db_val_t p[2] = {PCHAT_DB_CS(user), PCHAT_DB_CS(label)};
	long long rc;

	pref->seqid = 0;
	pref->content = NULL;
	rc = pchat_db_exec(h, &pchat_store_sqlset, ST_PREF_GET, p, 2, read_pref, pref);
	return rc < 0 ? pchat_db_failure(rc) : 0;
}

static int read_count(void *ctx, const pchat_db_val_t *cols, int ncols);

static int pref_set(void *h, const char *user, const char *label, const char *content, int max,
		uint64_t *seqid)
{
	pchat_db_val_t p[3] = {PCHAT_DB_CS(user), PCHAT_DB_CS(label), PCHAT_DB_CS(content)};
	long long others = 0, rc = pchat_db_exec(h, &pchat_store_sqlset, ST_PREF_COUNT, p, 2,
			read_count, &others);

	if (rc < 0)
		return pchat_db_failure(rc);
	if (others >= max)
		return PCHAT_ERR_FULL;
	rc = pchat_db_exec(h, &pchat_store_sqlset, ST_PREF_SET, p, 3, NULL, NULL);

	if (rc < 0)
		return pchat_db_failure(rc);
	/* 1 row affected: inserted (revision 1); 2: updated, revision from LAST_INSERT_ID */
	*seqid = rc == 1 ? 1 : pchat_db_insert_id(h);
	return 0;
}

static int read_count(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	if (ncols != 1)
		return PCHAT_ERR_FAILED;
	*(long long *)ctx = pchat_db_int(&cols[0]);
	return 0;
}

static int is_creator(void *h, const char *user)
{
	pchat_db_val_t p[2];
	long long n = 0, rc;

	principal_pairs(p, 0, 1, user);
	rc = pchat_db_exec(h, &pchat_store_sqlset, ST_IS_CREATOR, p, 2, read_count, &n);
	return rc < 0 ? pchat_db_failure(rc) : n > 0;
}

typedef struct policy_ctx {
	const char *user;
	int everyone, domain, user_rule;
} policy_ctx_t;

static int read_policy(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	policy_ctx_t *pc = ctx;
	int enabled;

	if (ncols != 2 || cols[0].type != PCHAT_DB_STR)
		return PCHAT_ERR_FAILED;
	enabled = pchat_db_int(&cols[1]) != 0;
	if (strcmp(cols[0].s, "*") == 0)
		pc->everyone = enabled;
	else if (strcasecmp(cols[0].s, pc->user) == 0)
		pc->user_rule = enabled;
	else
		pc->domain = enabled;
	return 0;
}

static int policy_enabled(void *h, const char *user)
{
	policy_ctx_t pc = {user, PCHAT_POLICY_UNSET, PCHAT_POLICY_UNSET, PCHAT_POLICY_UNSET};
	pchat_db_val_t p[2];
	long long rc;

	principal_pairs(p, 0, 1, user);
	rc = pchat_db_exec(h, &pchat_store_sqlset, ST_POLICY, p, 2, read_policy, &pc);
	if (rc < 0)
		return pchat_db_failure(rc);
	return pchat_policy_enabled(pc.everyone, pc.domain, pc.user_rule);
}

typedef struct seqs_ctx {
	const uint64_t *rooms;
	int n;
	uint64_t *seqs;
} seqs_ctx_t;

static int read_seq(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	seqs_ctx_t *sc = ctx;
	uint64_t room;
	int i;

	if (ncols != 2)
		return PCHAT_ERR_FAILED;
	room = (uint64_t)pchat_db_int(&cols[0]);
	for (i = 0; i < sc->n; i++)
		if (sc->rooms[i] == room)
			sc->seqs[i] = (uint64_t)pchat_db_int(&cols[1]);
	return 0;
}

static int last_seqs(void *h, const uint64_t *rooms, int n, uint64_t *seqs)
{
	pchat_db_val_t p[PCHAT_STORE_BATCH];
	seqs_ctx_t sc = {rooms, n, seqs};
	long long rc;
	int i;

	if (n > PCHAT_STORE_BATCH)
		return PCHAT_ERR_FAILED;
	for (i = 0; i < PCHAT_STORE_BATCH; i++) {
		p[i] = PCHAT_DB_I(i < n ? (long long)rooms[i] : 0);
		if (i < n)
			seqs[i] = 0;
	}
	rc = pchat_db_exec(h, &pchat_store_sqlset, ST_LAST_SEQS, p, PCHAT_STORE_BATCH, read_seq, &sc);
	return rc < 0 ? pchat_db_failure(rc) : 0;
}

/* ------------------------------------------------------------------ compliance */

static int record(void *h, const pchat_record_t *ev)
{
	return pchat_outbox_record(h, ev);
}

/* ------------------------------------------------------------------ files */

static int file_token(void *h, const char *user, uint64_t room_id, int upload,
		const char *name, int lifetime, char *token)
{
	pchat_filestore_t fs;

	memset(&fs, 0, sizeof(fs));
	fs.db = h;
	fs.token_lifetime = lifetime;
	return pchat_filestore_token(&fs, user, room_id, upload, name, token);
}

static int file_exists(void *h, uint64_t room_id, const char *name)
{
	return pchat_filestore_exists(h, room_id, name);
}

const pchat_store_ops_t pchat_store_mysql_ops = {
	.room_for = room_for,
	.rooms_for = rooms_for,
	.posts_between = posts_between,
	.post_begin = post_begin,
	.post_commit = post_commit,
	.post_abort = post_abort,
	.search = search,
	.associations = associations,
	.invitations = invitations,
	.pref_get = pref_get,
	.pref_set = pref_set,
	.is_creator = is_creator,
	.last_seqs = last_seqs,
	.record = record,
	.policy_enabled = policy_enabled,
	.file_token = file_token,
	.file_exists = file_exists,
};
