/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pchat_outbox.h"
#include "pchat_settings.h"

enum {
	O_CONF_GET,
	O_CONF_SET_ADAPTER,
	O_CONF_SET_OUTPUT_DIR,
	O_CONF_SET_RUN_INTERVAL,
	O_CONF_SET_ONE_ROOM,
	O_CONF_SET_USER_DETAILS,
	O_CONF_SET_ROOM_DETAILS,
	O_CONF_SET_XSLT,
	O_CONF_SET_BATCH_SIZE,
	O_STATUS,
	O_COUNTS,
	O_WAITING_ESTIMATE,
	O_LEASE,
	O_REQUEST_RUN,
	O_TAKE_RUN_REQUEST,
	O_RUN_OK,
	O_RUN_FAILED,
	O_OPEN_BATCH,
	O_BATCH_INSERT,
	O_BATCH_TAKE,
	O_BATCH_NAME,
	O_BATCH_ATTEMPTED,
	O_BATCH_SETTINGS,
	O_NUMBER_USERS,
	O_ROOMS,
	O_EVENTS,
	O_EVENTS_OF_ROOM,
	O_LEASE_RENEW,
	O_DUE_IN,
	O_LAST_ID,
	O_DELETE_EVENTS,
	O_DELETE_BATCH,
	O_EXPORTED,
	O_RECORD,
	O_COUNT
};

#define SET_CONF(col) "UPDATE pchat_compliance_config SET " col " = ?, modified = " \
	"UTC_TIMESTAMP(6) WHERE id = 1"
#define BATCH_COLUMNS "id, name, adapter, output_dir, one_room_per_file, add_user_details, " \
	"add_room_details, xslt, events, attempts"
/* the event with its user's number, its time in microseconds since 1970 (no time zone is
 * involved: ts is UTC) and the room's details as they are now */
#define EVENT_COLUMNS                                                                     \
	"SELECT e.id, e.kind, TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', e.ts), "       \
	"e.room_id, e.room_uri, e.room_name, e.room_logged, e.user, COALESCE(u.id, 0), "       \
	"e.msg_id, e.content, e.detail, IF(r.id IS NULL, NULL, JSON_OBJECT('description', "    \
	"r.description, 'category', c.name, 'privacy', r.privacy)) FROM pchat_compliance_event " \
	"e LEFT JOIN pchat_compliance_user u ON u.uri = e.user LEFT JOIN pchat_room r ON r.id = " \
	"e.room_id LEFT JOIN pchat_category c ON c.id = r.category_id "

static const char *const outbox_sql[] = {
	[O_CONF_GET] = "SELECT adapter, output_dir, run_interval, one_room_per_file, "
				   "add_user_details, add_room_details, xslt, batch_size FROM "
				   "pchat_compliance_config WHERE id = 1",
	[O_CONF_SET_ADAPTER] = SET_CONF("adapter"),
	[O_CONF_SET_OUTPUT_DIR] = SET_CONF("output_dir"),
	[O_CONF_SET_RUN_INTERVAL] = SET_CONF("run_interval"),
	[O_CONF_SET_ONE_ROOM] = SET_CONF("one_room_per_file"),
	[O_CONF_SET_USER_DETAILS] = SET_CONF("add_user_details"),
	[O_CONF_SET_ROOM_DETAILS] = SET_CONF("add_room_details"),
	[O_CONF_SET_XSLT] = SET_CONF("xslt"),
	[O_CONF_SET_BATCH_SIZE] = SET_CONF("batch_size"),
	[O_STATUS] = "SELECT node, " PCHAT_SQL_ISO("lease_expires") ", lease_expires > UTC_TIMESTAMP(6), "
				 "last_processed_id, exported, COALESCE(" PCHAT_SQL_ISO("last_run") ", ''), COALESCE("
				 PCHAT_SQL_ISO("last_success") ", ''), last_error, run_requested FROM "
				 "pchat_compliance_state WHERE id = 1",
	/* from the ends of the primary key: no scan of a large backlog every few seconds (an
	 * upper bound: ids can have gaps) */
	[O_WAITING_ESTIMATE] = "SELECT COALESCE(MAX(id) - MIN(id) + 1, 0) FROM "
						   "pchat_compliance_event",
	[O_COUNTS] = "SELECT (SELECT COUNT(*) FROM pchat_compliance_event), (SELECT COUNT(*) FROM "
				 "pchat_compliance_batch)",
	/* the database's clock decides, so the nodes' clocks need not agree */
	[O_LEASE] = "UPDATE pchat_compliance_state SET node = ?, lease_expires = UTC_TIMESTAMP(6) + "
				"INTERVAL ? SECOND WHERE id = 1 AND (node = ? OR lease_expires < "
				"UTC_TIMESTAMP(6))",
	[O_REQUEST_RUN] = "UPDATE pchat_compliance_state SET run_requested = 1 WHERE id = 1",
	[O_TAKE_RUN_REQUEST] = "UPDATE pchat_compliance_state SET run_requested = 0 WHERE id = 1 "
						   "AND run_requested = 1",
	[O_RUN_OK] = "UPDATE pchat_compliance_state SET last_run = UTC_TIMESTAMP(6), last_success = "
				 "UTC_TIMESTAMP(6), last_error = '' WHERE id = 1",
	[O_RUN_FAILED] = "UPDATE pchat_compliance_state SET last_run = UTC_TIMESTAMP(6), "
					 "last_error = LEFT(?, 1024) WHERE id = 1",
	[O_OPEN_BATCH] = "SELECT " BATCH_COLUMNS " FROM pchat_compliance_batch ORDER BY id LIMIT 1",
	[O_BATCH_INSERT] = "INSERT INTO pchat_compliance_batch (name, adapter, output_dir, "
					   "one_room_per_file, add_user_details, add_room_details, xslt, events, "
					   "node) VALUES ('', ?, ?, ?, ?, ?, ?, 0, ?)",
	/* waiting events in the order of the one index, (batch_id, room_id, id): a room's events
	 * oldest first; ordered by id, the server sorted every waiting event for each batch
	 * (seconds, with a backlog of a million). A run takes all that waits, so no room waits
	 * for the next run behind another. */
	[O_BATCH_TAKE] = "UPDATE pchat_compliance_event FORCE INDEX (compliance_batch_idx) SET "
					 "batch_id = ? WHERE batch_id IS NULL ORDER BY batch_id, room_id, id "
					 "LIMIT ?",
	[O_BATCH_NAME] = "UPDATE pchat_compliance_batch SET name = CONCAT('pchat-compliance-', "
					 "DATE_FORMAT(created, '%Y%m%dT%H%i%sZ'), '-', LPAD(id, GREATEST(10, "
					 "LENGTH(id)), '0')), events = "
					 "? WHERE id = ?",
	[O_BATCH_ATTEMPTED] = "UPDATE pchat_compliance_batch SET attempts = attempts + 1 WHERE "
						  "id = ?",
	[O_BATCH_SETTINGS] = "UPDATE pchat_compliance_batch SET adapter = ?, output_dir = ?, "
						 "one_room_per_file = ?, add_user_details = ?, add_room_details = ?, "
						 "xslt = ? WHERE id = ?",
	[O_NUMBER_USERS] = "INSERT IGNORE INTO pchat_compliance_user (uri) SELECT DISTINCT e.user "
					   "FROM pchat_compliance_event e WHERE e.batch_id = ? AND e.user <> '' AND "
					   "NOT EXISTS (SELECT 1 FROM pchat_compliance_user u WHERE u.uri = e.user)",
	[O_ROOMS] = "SELECT DISTINCT room_id FROM pchat_compliance_event WHERE batch_id = ? AND "
				"room_id > ? ORDER BY room_id LIMIT ?",
	/* spelt out, not (room_id, id) > (?, ?): the server positions the index range only on
	 * this form; on the row comparison it reads the batch from its start for every page */
	[O_EVENTS] = EVENT_COLUMNS "WHERE e.batch_id = ? AND e.room_id >= ? AND (e.room_id > ? OR "
							   "(e.room_id = ? AND e.id > ?)) ORDER BY e.room_id, e.id LIMIT ?",
	[O_EVENTS_OF_ROOM] = EVENT_COLUMNS "WHERE e.batch_id = ? AND e.room_id = ? AND e.id > ? "
									   "ORDER BY e.id LIMIT ?",
	/* still this node's (no other took over): renewed, and the row stays locked until the
	 * transaction ends, so no other worker takes over in between */
	[O_LEASE_RENEW] = "UPDATE pchat_compliance_state SET lease_expires = UTC_TIMESTAMP(6) + "
					  "INTERVAL ? SECOND WHERE id = 1 AND node = ?",
	/* seconds until the next run is due by the last one (a failed one is retried sooner) */
	[O_DUE_IN] = "SELECT COALESCE(TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(6), last_run + INTERVAL "
				 "IF(last_error = '', ?, LEAST(?, ?)) SECOND), 0) FROM pchat_compliance_state "
				 "WHERE id = 1",
	[O_LAST_ID] = "SELECT COALESCE(MAX(id), 0) FROM pchat_compliance_event WHERE batch_id = ?",
	[O_DELETE_EVENTS] = "DELETE FROM pchat_compliance_event WHERE batch_id = ?",
	[O_DELETE_BATCH] = "DELETE FROM pchat_compliance_batch WHERE id = ?",
	[O_EXPORTED] = "UPDATE pchat_compliance_state SET exported = exported + ?, "
				   "last_processed_id = GREATEST(last_processed_id, ?) WHERE id = 1",
	/* The room's name and history switch as they are now; a room deleted meanwhile (its members
	 * are put out) still gets its PART events. VALUES, not INSERT ... SELECT: a statement whose
	 * row count the server knows takes no table-wide AUTO-INC lock, so events of different
	 * rooms never queue behind each other. */
	[O_RECORD] = PCHAT_OUTBOX_INSERT "VALUES (?, COALESCE(?, UTC_TIMESTAMP(6)), ?, ?, COALESCE((SELECT r.name FROM "
				 "pchat_room r WHERE r.id = ?), ''), COALESCE((SELECT c.chat_history FROM "
				 "pchat_room r JOIN pchat_category c ON c.id = r.category_id WHERE r.id = ?), 1), "
				 "?, ?, ?, ?)",
};
const pchat_db_sqlset_t pchat_outbox_sqlset = {"outbox", outbox_sql, O_COUNT};

static const char *const adapter_names[] = {"none", "xml", "jsonl"};

const char *pchat_adapter_name(pchat_adapter_t adapter)
{
	return (unsigned)adapter < 3 ? adapter_names[adapter] : "none";
}

/* The adapter a name stands for, -1 for none of them. */
static int adapter_of(const char *s)
{
	int i;

	for (i = 0; i < 3; i++)
		if (strcmp(s, adapter_names[i]) == 0)
			return i;
	return -1;
}

/* An adapter as the tables store it (an ENUM of the names). */
static pchat_adapter_t adapter_col(const pchat_db_val_t *v)
{
	int a = adapter_of(v->type == PCHAT_DB_STR ? v->s : "");

	return a < 0 ? PCHAT_ADAPTER_NONE : (pchat_adapter_t)a;
}

static int exec(pchat_db_t *db, int stmt, const pchat_db_val_t *p, int n, pchat_db_row_f cb,
		void *ctx)
{
	long long rc = pchat_db_exec(db, &pchat_outbox_sqlset, stmt, p, n, cb, ctx);

	return rc < 0 ? (int)rc : (int)(rc > 0x7fffffff ? 0x7fffffff : rc);
}

static void copy_col(char *dst, size_t len, const pchat_db_val_t *v)
{
	snprintf(dst, len, "%s", v->type == PCHAT_DB_STR ? v->s : "");
}

static int read_int(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	if (ncols < 1)
		return PCHAT_ERR_FAILED;
	*(long long *)ctx = pchat_db_int(&cols[0]);
	return 0;
}

/* ------------------------------------------------------------------ settings */

static int read_conf(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	pchat_compliance_conf_t *conf = ctx;

	if (ncols != 8)
		return PCHAT_ERR_FAILED;
	conf->adapter = adapter_col(&cols[0]);
	copy_col(conf->output_dir, sizeof(conf->output_dir), &cols[1]);
	conf->run_interval = (int)pchat_db_int(&cols[2]);
	conf->one_room_per_file = pchat_db_int(&cols[3]) != 0;
	conf->add_user_details = pchat_db_int(&cols[4]) != 0;
	conf->add_room_details = pchat_db_int(&cols[5]) != 0;
	copy_col(conf->xslt, sizeof(conf->xslt), &cols[6]);
	conf->batch_size = (int)pchat_db_int(&cols[7]);
	return 0;
}

int pchat_outbox_conf_get(pchat_db_t *db, pchat_compliance_conf_t *conf)
{
	int rc;

	memset(conf, 0, sizeof(*conf));
	rc = exec(db, O_CONF_GET, NULL, 0, read_conf, conf);
	if (rc == 0)
		return PCHAT_ERR_NOT_FOUND; /* the migration inserts the row */
	return rc < 0 ? rc : PCHAT_OK;
}

/* A path the worker can use on any node: absolute, without control characters. */
static int valid_path(const char *v, int may_be_empty)
{
	const unsigned char *p;

	if (!*v)
		return may_be_empty;
	if (v[0] != '/' || strlen(v) >= PCHAT_PATH_MAX)
		return 0;
	for (p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static const struct {
	const char *name;
	int stmt;
	enum { T_ADAPTER, T_DIR, T_XSLT, T_INTERVAL, T_BATCH, T_BOOL } type;
} conf_fields[] = {
	{"adapter", O_CONF_SET_ADAPTER, T_ADAPTER},
	{"output_dir", O_CONF_SET_OUTPUT_DIR, T_DIR},
	{"run_interval", O_CONF_SET_RUN_INTERVAL, T_INTERVAL},
	{"one_room_per_file", O_CONF_SET_ONE_ROOM, T_BOOL},
	{"add_user_details", O_CONF_SET_USER_DETAILS, T_BOOL},
	{"add_room_details", O_CONF_SET_ROOM_DETAILS, T_BOOL},
	{"xslt", O_CONF_SET_XSLT, T_XSLT},
	{"batch_size", O_CONF_SET_BATCH_SIZE, T_BATCH},
};
#define NFIELDS (int)(sizeof(conf_fields) / sizeof(conf_fields[0]))

static int __attribute__((format(printf, 3, 4))) refuse(char *err, size_t errlen,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The value to store for field i, or -1 with the reason in err. */
static int conf_value(int i, const char *value, pchat_db_val_t *out, char *err, size_t errlen)
{
	long n = 0;

	switch (conf_fields[i].type) {
	case T_ADAPTER:
		if (adapter_of(value) < 0)
			return refuse(err, errlen, "adapter must be none, xml or jsonl");
		*out = PCHAT_DB_CS(value);
		return 0;
	case T_DIR:
		if (!valid_path(value, 0))
			return refuse(err, errlen, "output_dir must be an absolute path (shared by the "
					"pool's nodes), below %d bytes", PCHAT_PATH_MAX);
		*out = PCHAT_DB_CS(value);
		return 0;
	case T_XSLT:
		if (!valid_path(value, 1))
			return refuse(err, errlen, "xslt must be an absolute path, or empty for none");
		*out = PCHAT_DB_CS(value);
		return 0;
	case T_INTERVAL:
		if (pchat_parse_whole(value, PCHAT_COMPLIANCE_MIN_INTERVAL,
					PCHAT_COMPLIANCE_MAX_INTERVAL, &n) < 0)
			return refuse(err, errlen, "run_interval must be seconds from %d to %d",
					PCHAT_COMPLIANCE_MIN_INTERVAL, PCHAT_COMPLIANCE_MAX_INTERVAL);
		break;
	case T_BATCH:
		if (pchat_parse_whole(value, PCHAT_COMPLIANCE_MIN_BATCH, PCHAT_COMPLIANCE_MAX_BATCH,
					&n) < 0)
			return refuse(err, errlen, "batch_size must be from %d to %d",
					PCHAT_COMPLIANCE_MIN_BATCH, PCHAT_COMPLIANCE_MAX_BATCH);
		break;
	case T_BOOL:
		if ((n = pchat_parse_yes_no(value)) < 0)
			return refuse(err, errlen, "%s must be yes or no", conf_fields[i].name);
		break;
	}
	*out = PCHAT_DB_I(n);
	return 0;
}

int pchat_outbox_conf_set(pchat_db_t *db, const char *name, const char *value, char *err,
		size_t errlen)
{
	pchat_db_val_t p[1];
	int i;

	for (i = 0; i < NFIELDS; i++)
		if (name && strcmp(name, conf_fields[i].name) == 0)
			break;
	if (i == NFIELDS) {
		snprintf(err, errlen, "unknown setting '%s': adapter, output_dir, run_interval, "
				"one_room_per_file, add_user_details, add_room_details, xslt, batch_size",
				name ? name : "");
		return PCHAT_ERR_INVALID;
	}
	if (conf_value(i, value ? value : "", &p[0], err, errlen) < 0)
		return PCHAT_ERR_INVALID;
	i = exec(db, conf_fields[i].stmt, p, 1, NULL, NULL);
	return i < 0 ? i : PCHAT_OK;
}

/* ------------------------------------------------------------------ state */

static int read_status(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	pchat_compliance_status_t *st = ctx;

	if (ncols != 9)
		return PCHAT_ERR_FAILED;
	copy_col(st->node, sizeof(st->node), &cols[0]);
	copy_col(st->lease_expires, sizeof(st->lease_expires), &cols[1]);
	st->lease_valid = pchat_db_int(&cols[2]) != 0;
	st->last_processed_id = pchat_db_int(&cols[3]);
	st->exported = pchat_db_int(&cols[4]);
	copy_col(st->last_run, sizeof(st->last_run), &cols[5]);
	copy_col(st->last_success, sizeof(st->last_success), &cols[6]);
	copy_col(st->last_error, sizeof(st->last_error), &cols[7]);
	st->run_requested = pchat_db_int(&cols[8]) != 0;
	return 0;
}

static int read_counts(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	pchat_compliance_status_t *st = ctx;

	if (ncols != 2)
		return PCHAT_ERR_FAILED;
	st->waiting = pchat_db_int(&cols[0]);
	st->open_batches = pchat_db_int(&cols[1]);
	return 0;
}

int pchat_outbox_status(pchat_db_t *db, pchat_compliance_status_t *st)
{
	int rc;

	memset(st, 0, sizeof(*st));
	rc = exec(db, O_STATUS, NULL, 0, read_status, st);
	if (rc >= 0)
		rc = exec(db, O_COUNTS, NULL, 0, read_counts, st);
	return rc < 0 ? rc : PCHAT_OK;
}

long long pchat_outbox_waiting_estimate(pchat_db_t *db)
{
	long long n = 0;
	int rc = exec(db, O_WAITING_ESTIMATE, NULL, 0, read_int, &n);

	return rc < 0 ? rc : n;
}

int pchat_outbox_lease(pchat_db_t *db, const char *node, int seconds)
{
	pchat_db_val_t p[3] = {PCHAT_DB_CS(node), PCHAT_DB_I(seconds), PCHAT_DB_CS(node)};

	return exec(db, O_LEASE, p, 3, NULL, NULL);
}

int pchat_outbox_request_run(pchat_db_t *db)
{
	int rc = exec(db, O_REQUEST_RUN, NULL, 0, NULL, NULL);

	return rc < 0 ? rc : PCHAT_OK;
}

int pchat_outbox_take_run_request(pchat_db_t *db)
{
	return exec(db, O_TAKE_RUN_REQUEST, NULL, 0, NULL, NULL);
}

int pchat_outbox_due_in(pchat_db_t *db, int interval, int retry)
{
	pchat_db_val_t p[3] = {PCHAT_DB_I(interval), PCHAT_DB_I(interval), PCHAT_DB_I(retry)};
	long long s = 0;
	int rc = exec(db, O_DUE_IN, p, 3, read_int, &s);

	return rc < 0 ? rc : s > 0 ? (int)(s > 0x7fffffff ? 0x7fffffff : s) : 0;
}

int pchat_outbox_run_done(pchat_db_t *db, const char *error)
{
	pchat_db_val_t p[1];
	int rc;

	if (error) {
		p[0] = PCHAT_DB_CS(error);
		rc = exec(db, O_RUN_FAILED, p, 1, NULL, NULL);
	} else {
		rc = exec(db, O_RUN_OK, NULL, 0, NULL, NULL);
	}
	return rc < 0 ? rc : PCHAT_OK;
}

/* ------------------------------------------------------------------ batches */

static int read_batch(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	pchat_batch_t *b = ctx;

	if (ncols != 10)
		return PCHAT_ERR_FAILED;
	b->id = (uint64_t)pchat_db_int(&cols[0]);
	copy_col(b->name, sizeof(b->name), &cols[1]);
	b->adapter = adapter_col(&cols[2]);
	copy_col(b->output_dir, sizeof(b->output_dir), &cols[3]);
	b->one_room_per_file = pchat_db_int(&cols[4]) != 0;
	b->add_user_details = pchat_db_int(&cols[5]) != 0;
	b->add_room_details = pchat_db_int(&cols[6]) != 0;
	copy_col(b->xslt, sizeof(b->xslt), &cols[7]);
	b->events = (int)pchat_db_int(&cols[8]);
	b->attempts = (int)pchat_db_int(&cols[9]);
	return 0;
}

int pchat_outbox_open_batch(pchat_db_t *db, pchat_batch_t *b)
{
	memset(b, 0, sizeof(*b));
	return exec(db, O_OPEN_BATCH, NULL, 0, read_batch, b);
}

/* Ends a transaction that must not be committed: rc when it is an error, else otherwise (what
 * the outcome of a statement means, e.g. PCHAT_ERR_FAILED for a wrong number of rows). */
static long long rolled_back(pchat_db_t *db, long long rc, int otherwise)
{
	pchat_db_rollback(db);
	return rc < 0 ? rc : otherwise;
}

/* The six settings a batch is written with, as parameters p[0..5] of its statements. */
static void batch_settings(pchat_db_val_t *p, const pchat_compliance_conf_t *conf)
{
	p[0] = PCHAT_DB_CS(pchat_adapter_name(conf->adapter));
	p[1] = PCHAT_DB_CS(conf->output_dir);
	p[2] = PCHAT_DB_I(conf->one_room_per_file);
	p[3] = PCHAT_DB_I(conf->add_user_details);
	p[4] = PCHAT_DB_I(conf->add_room_details);
	p[5] = PCHAT_DB_CS(conf->xslt);
}

/* Inside a transaction: 1 when node still holds the lease (renewed, and locked until the
 * transaction ends), 0 when another node took it, or a negative pchat_rc_t. */
static int lease_held(pchat_db_t *db, const char *node, int lease_s)
{
	pchat_db_val_t p[2] = {PCHAT_DB_I(lease_s), PCHAT_DB_CS(node)};

	return exec(db, O_LEASE_RENEW, p, 2, NULL, NULL);
}

int pchat_outbox_claim(pchat_db_t *db, const pchat_compliance_conf_t *conf, const char *node,
		int lease_s, pchat_batch_t *b)
{
	pchat_db_val_t p[7];
	uint64_t id;
	int rc, taken;

	if (conf->adapter == PCHAT_ADAPTER_NONE)
		return 0;
	if ((rc = pchat_db_begin(db)) != 0)
		return rc < 0 ? rc : PCHAT_ERR_FAILED;
	if ((rc = lease_held(db, node, lease_s)) != 1)
		return (int)rolled_back(db, rc, PCHAT_ERR_CONFLICT);
	batch_settings(p, conf);
	p[6] = PCHAT_DB_CS(node);
	if ((rc = exec(db, O_BATCH_INSERT, p, 7, NULL, NULL)) != 1)
		return (int)rolled_back(db, rc, PCHAT_ERR_FAILED);
	id = pchat_db_insert_id(db);
	p[0] = PCHAT_DB_I((long long)id);
	p[1] = PCHAT_DB_I(conf->batch_size);
	if ((taken = exec(db, O_BATCH_TAKE, p, 2, NULL, NULL)) <= 0)
		return (int)rolled_back(db, taken, 0); /* nothing waits */
	p[0] = PCHAT_DB_I(taken);
	p[1] = PCHAT_DB_I((long long)id);
	if ((rc = exec(db, O_BATCH_NAME, p, 2, NULL, NULL)) != 1)
		return (int)rolled_back(db, rc, PCHAT_ERR_FAILED);
	if ((rc = pchat_db_commit(db)) != 0)
		return rc < 0 ? rc : PCHAT_ERR_FAILED;
	/* read back as stored (the server made the name); callers claim only when no other
	 * batch is open, so the oldest open batch is this one */
	rc = pchat_outbox_open_batch(db, b);
	return rc < 0 ? rc : rc == 1 && b->id == id ? 1 : PCHAT_ERR_FAILED;
}

int pchat_outbox_attempted(pchat_db_t *db, uint64_t batch_id)
{
	pchat_db_val_t p = PCHAT_DB_I((long long)batch_id);
	int rc = exec(db, O_BATCH_ATTEMPTED, &p, 1, NULL, NULL);

	return rc < 0 ? rc : PCHAT_OK;
}

int pchat_outbox_batch_settings(pchat_db_t *db, pchat_batch_t *b,
		const pchat_compliance_conf_t *conf)
{
	pchat_db_val_t p[7];
	int rc;

	batch_settings(p, conf);
	p[6] = PCHAT_DB_I((long long)b->id);
	if ((rc = exec(db, O_BATCH_SETTINGS, p, 7, NULL, NULL)) < 0)
		return rc;
	b->adapter = conf->adapter;
	snprintf(b->output_dir, sizeof(b->output_dir), "%s", conf->output_dir);
	b->one_room_per_file = conf->one_room_per_file;
	b->add_user_details = conf->add_user_details;
	b->add_room_details = conf->add_room_details;
	snprintf(b->xslt, sizeof(b->xslt), "%s", conf->xslt);
	return PCHAT_OK;
}

int pchat_outbox_number_users(pchat_db_t *db, uint64_t batch_id)
{
	pchat_db_val_t p = PCHAT_DB_I((long long)batch_id);
	int rc = exec(db, O_NUMBER_USERS, &p, 1, NULL, NULL);

	return rc < 0 ? rc : PCHAT_OK;
}

typedef struct rooms_ctx {
	pchat_room_id_f cb;
	void *ctx;
} rooms_ctx_t;

static int read_room_id(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	rooms_ctx_t *rc = ctx;

	if (ncols != 1)
		return PCHAT_ERR_FAILED;
	return rc->cb(rc->ctx, (uint64_t)pchat_db_int(&cols[0]));
}

int pchat_outbox_rooms(pchat_db_t *db, uint64_t batch_id, uint64_t after, int limit,
		pchat_room_id_f cb, void *ctx)
{
	pchat_db_val_t p[3] = {PCHAT_DB_I((long long)batch_id), PCHAT_DB_I((long long)after),
		PCHAT_DB_I(limit)};
	rooms_ctx_t rc = {cb, ctx};

	return exec(db, O_ROOMS, p, 3, read_room_id, &rc);
}

typedef struct events_ctx {
	pchat_event_f cb;
	void *ctx;
} events_ctx_t;

static const char *str_or(const pchat_db_val_t *v, const char *dflt)
{
	return v->type == PCHAT_DB_STR ? v->s : dflt;
}

static int read_event(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	events_ctx_t *ec = ctx;
	pchat_event_t ev;
	int kind;

	if (ncols != 13 || (kind = pchat_event_kind_of(str_or(&cols[1], ""))) < 0)
		return PCHAT_ERR_FAILED;
	ev.id = (uint64_t)pchat_db_int(&cols[0]);
	ev.kind = (pchat_event_kind_t)kind;
	ev.unix_us = pchat_db_int(&cols[2]);
	ev.room_id = (uint64_t)pchat_db_int(&cols[3]);
	ev.room_uri = str_or(&cols[4], "");
	ev.room_name = str_or(&cols[5], "");
	ev.room_logged = pchat_db_int(&cols[6]) != 0;
	ev.user = str_or(&cols[7], "");
	ev.user_id = pchat_db_int(&cols[8]);
	ev.user_internal = -1;
	ev.msg_id = (uint64_t)pchat_db_int(&cols[9]);
	ev.content = str_or(&cols[10], "");
	ev.detail = str_or(&cols[11], NULL);
	ev.room_details = str_or(&cols[12], NULL);
	return ec->cb(ec->ctx, &ev);
}

int pchat_outbox_events(pchat_db_t *db, uint64_t batch_id, uint64_t room_id,
		uint64_t after_room, uint64_t after_id, int limit, pchat_event_f cb, void *ctx)
{
	pchat_db_val_t p[6];
	events_ctx_t ec = {cb, ctx};

	p[0] = PCHAT_DB_I((long long)batch_id);
	if (room_id) {
		p[1] = PCHAT_DB_I((long long)room_id);
		p[2] = PCHAT_DB_I((long long)after_id);
		p[3] = PCHAT_DB_I(limit);
		return exec(db, O_EVENTS_OF_ROOM, p, 4, read_event, &ec);
	}
	p[1] = p[2] = p[3] = PCHAT_DB_I((long long)after_room);
	p[4] = PCHAT_DB_I((long long)after_id);
	p[5] = PCHAT_DB_I(limit);
	return exec(db, O_EVENTS, p, 6, read_event, &ec);
}

long long pchat_outbox_finish(pchat_db_t *db, const pchat_batch_t *b, const char *node,
		int lease_s)
{
	pchat_db_val_t p[2], id = PCHAT_DB_I((long long)b->id);
	long long last = 0, deleted;
	int rc;

	if ((rc = pchat_db_begin(db)) != 0)
		return rc < 0 ? rc : PCHAT_ERR_FAILED;
	/* The lease only has to be still this node's, not unexpired: a long batch may have
	 * outlived it while no other node took over, and is finished rather than written again. */
	if ((rc = lease_held(db, node, lease_s)) != 1)
		return rolled_back(db, rc, PCHAT_ERR_CONFLICT);
	if ((rc = exec(db, O_LAST_ID, &id, 1, read_int, &last)) < 0)
		return rolled_back(db, rc, PCHAT_ERR_FAILED);
	deleted = pchat_db_exec(db, &pchat_outbox_sqlset, O_DELETE_EVENTS, &id, 1, NULL, NULL);
	if (deleted < 0)
		return rolled_back(db, deleted, PCHAT_ERR_FAILED);
	if (deleted != b->events)
		return rolled_back(db, 0, PCHAT_ERR_INVALID);
	if ((rc = exec(db, O_DELETE_BATCH, &id, 1, NULL, NULL)) != 1)
		return rolled_back(db, rc, PCHAT_ERR_FAILED);
	p[0] = PCHAT_DB_I(deleted);
	p[1] = PCHAT_DB_I(last);
	if ((rc = exec(db, O_EXPORTED, p, 2, NULL, NULL)) < 0)
		return rolled_back(db, rc, PCHAT_ERR_FAILED);
	if ((rc = pchat_db_commit(db)) != 0)
		return rc < 0 ? rc : PCHAT_ERR_FAILED;
	return deleted;
}

int pchat_outbox_record(pchat_db_t *db, const pchat_record_t *ev)
{
	const char *kind = pchat_event_kind_name((pchat_event_kind_t)ev->kind);
	pchat_db_val_t p[10];
	long long rc;

	if (!kind)
		return PCHAT_ERR_INVALID;
	p[0] = PCHAT_DB_CS(kind);
	p[1] = ev->ts ? PCHAT_DB_CS(ev->ts) : PCHAT_DB_NUL;
	p[2] = PCHAT_DB_I((long long)ev->room_id);
	p[3] = PCHAT_DB_CS(ev->room_uri);
	p[4] = p[5] = PCHAT_DB_I((long long)ev->room_id);
	p[6] = PCHAT_DB_CS(ev->user);
	p[7] = PCHAT_DB_I((long long)ev->msg_id);
	p[8] = PCHAT_DB_CS(ev->content);
	p[9] = ev->detail ? PCHAT_DB_CS(ev->detail) : PCHAT_DB_NUL;
	rc = exec(db, O_RECORD, p, 10, NULL, NULL);
	return rc == 1 ? PCHAT_OK : rc < 0 ? pchat_db_failure(rc) : PCHAT_ERR_FAILED;
}
