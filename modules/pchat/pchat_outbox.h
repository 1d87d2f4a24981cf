/*
 * The compliance service's tables (db/mysql/005-compliance.sql): its settings, the active
 * worker's lease and status, and the outbox of events taken in batches. The chat path only
 * inserts events (PCHAT_OUTBOX_INSERT, in the store's and the administration's statements);
 * everything else here is the worker's and the RPCs'.
 *
 * No Kamailio header; tested against a real MariaDB through the module, by
 * tests/integration/test_compliance.py.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_OUTBOX_H
#define PCHAT_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "pchat_archive.h"
#include "pchat_db.h"
#include "pchat_ports.h"

/* The columns an event is written with; a statement goes on with VALUES (or a SELECT) of them
 * in order:
 * kind, ts, room_id, room_uri, room_name, room_logged, user, msg_id, content, detail. */
#define PCHAT_OUTBOX_INSERT                                                                  \
	"INSERT INTO pchat_compliance_event (kind, ts, room_id, room_uri, room_name, "            \
	"room_logged, user, msg_id, content, detail) "

extern const pchat_db_sqlset_t pchat_outbox_sqlset;

/* What the worker's own connection runs on each connect: its statements must not lock the gap
 * new events are inserted into. Under REPEATABLE READ, taking waiting events, numbering a
 * batch's users and deleting a batch lock the gap between the waiting events (batch_id NULL)
 * and the batch's, where every new event goes, and posts would wait for the worker. */
#define PCHAT_OUTBOX_SESSION_SQL "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"

/* ------------------------------------------------------------------ settings */

typedef enum pchat_adapter {
	PCHAT_ADAPTER_NONE, /* nothing is recorded */
	PCHAT_ADAPTER_XML,  /* Lync's compliance XML */
	PCHAT_ADAPTER_JSONL,
} pchat_adapter_t;

#define PCHAT_PATH_MAX 1025

/* Lync's Set-CsPersistentChatComplianceConfiguration, and our batch size. */
typedef struct pchat_compliance_conf {
	pchat_adapter_t adapter;
	char output_dir[PCHAT_PATH_MAX];
	int run_interval;      /* seconds between runs (Lync: RunInterval, 1 minute to 30 days) */
	int one_room_per_file; /* OneChatRoomPerOutputFile */
	int add_user_details;  /* AddUserDetails */
	int add_room_details;  /* AddChatRoomDetails */
	char xslt[PCHAT_PATH_MAX]; /* CustomConfiguration: a stylesheet applied per XML file */
	int batch_size;        /* events per batch, so per file at most */
} pchat_compliance_conf_t;

#define PCHAT_COMPLIANCE_MIN_INTERVAL 60
#define PCHAT_COMPLIANCE_MAX_INTERVAL 2592000
#define PCHAT_COMPLIANCE_MIN_BATCH 100
#define PCHAT_COMPLIANCE_MAX_BATCH 100000

/* "none", "xml", "jsonl". */
const char *pchat_adapter_name(pchat_adapter_t adapter);

/* Reads the settings. PCHAT_OK, or a negative pchat_rc_t. */
int pchat_outbox_conf_get(pchat_db_t *db, pchat_compliance_conf_t *conf);

/* Checks and stores one setting (names as in pchat_compliance_conf_t; booleans yes|no).
 * Returns PCHAT_OK, PCHAT_ERR_INVALID with the reason in err, or a database error. */
int pchat_outbox_conf_set(pchat_db_t *db, const char *name, const char *value, char *err,
		size_t errlen);

/* ------------------------------------------------------------------ the worker's state */

typedef struct pchat_compliance_status {
	char node[64];           /* the active worker's node, "" when none ever was */
	char lease_expires[32];  /* ISO 8601 */
	int lease_valid;         /* the lease has not expired */
	long long last_processed_id;
	long long exported;      /* events exported since the service was installed */
	long long waiting;       /* events in the outbox, in open batches included */
	long long open_batches;
	char last_run[32];       /* ISO 8601, "" never */
	char last_success[32];
	char last_error[1025];   /* "" after a run that succeeded */
	int run_requested;
} pchat_compliance_status_t;

int pchat_outbox_status(pchat_db_t *db, pchat_compliance_status_t *st);

/* About how many events the outbox holds, cheaply (from the ends of its ids: an upper bound),
 * or a negative pchat_rc_t. */
long long pchat_outbox_waiting_estimate(pchat_db_t *db);

/* Takes or renews the pool's lease for node for seconds, by the database's clock. Returns 1 when
 * node holds it, 0 when another node's lease is still valid, or a negative pchat_rc_t. */
int pchat_outbox_lease(pchat_db_t *db, const char *node, int seconds);

/* Asks the active worker for a run now (pchat.compliance.run, from any node). */
int pchat_outbox_request_run(pchat_db_t *db);
/* 1 when a run was asked for (the request is consumed), 0 when not, or a negative pchat_rc_t. */
int pchat_outbox_take_run_request(pchat_db_t *db);

/* Seconds until the next run is due: run_interval after the last run, retry after a failed
 * one (whichever node ran it); 0 when due now or never run. A negative pchat_rc_t when the
 * database cannot tell. */
int pchat_outbox_due_in(pchat_db_t *db, int interval, int retry);

/* Notes a run's outcome: error NULL for success. */
int pchat_outbox_run_done(pchat_db_t *db, const char *error);

/* ------------------------------------------------------------------ batches */

typedef struct pchat_batch {
	uint64_t id;
	char name[65];           /* the stem of its file names */
	pchat_adapter_t adapter;
	char output_dir[PCHAT_PATH_MAX];
	int one_room_per_file;
	int add_user_details;
	int add_room_details;
	char xslt[PCHAT_PATH_MAX];
	int events;
	int attempts;            /* runs that tried to write it before */
} pchat_batch_t;

/* The oldest batch taken but not finished (a run failed or its node died). 1 with *b filled,
 * 0 when there is none, or a negative pchat_rc_t. */
int pchat_outbox_open_batch(pchat_db_t *db, pchat_batch_t *b);

/* Takes up to conf->batch_size waiting events, in the order of the outbox's index (room by
 * room, each room's oldest first), into a new batch that records conf's adapter and options
 * and its name; the events that will be written are
 * exactly these, committed before anything is written. Only while node holds the lease (it is
 * renewed for lease_s seconds). 1 with *b filled, 0 when nothing is waiting,
 * PCHAT_ERR_CONFLICT when another node holds the lease, or a negative pchat_rc_t. */
int pchat_outbox_claim(pchat_db_t *db, const pchat_compliance_conf_t *conf, const char *node,
		int lease_s, pchat_batch_t *b);

/* Counts one more attempt at writing batch b. */
int pchat_outbox_attempted(pchat_db_t *db, uint64_t batch_id);

/* The batch is written with conf's adapter and options from now on (a batch that failed, none
 * of whose files was published); *b follows. PCHAT_OK, or a negative pchat_rc_t. */
int pchat_outbox_batch_settings(pchat_db_t *db, pchat_batch_t *b,
		const pchat_compliance_conf_t *conf);

/* Gives every user of the batch a stable Sender/@id. */
int pchat_outbox_number_users(pchat_db_t *db, uint64_t batch_id);

/* The rooms of a batch, ascending, from after on, at most limit; returns how many. */
typedef int (*pchat_room_id_f)(void *ctx, uint64_t room_id);
int pchat_outbox_rooms(pchat_db_t *db, uint64_t batch_id, uint64_t after, int limit,
		pchat_room_id_f cb, void *ctx);

/* A batch's events in (room_id, id) order, after the position (after_room, after_id), at most
 * limit; room_id non-zero keeps to that room. ev->user_internal is left -1. Returns how many,
 * or a negative pchat_rc_t. */
typedef int (*pchat_event_f)(void *ctx, const pchat_event_t *ev);
int pchat_outbox_events(pchat_db_t *db, uint64_t batch_id, uint64_t room_id,
		uint64_t after_room, uint64_t after_id, int limit, pchat_event_f cb, void *ctx);

/* The batch's files are in place: deletes its events and itself, provided no other node took
 * the lease (it is renewed for lease_s seconds; a worker that lost it leaves the batch to the
 * new holder, who writes the same files again) and the batch still holds the b->events it was
 * taken with. Returns the number of events deleted, PCHAT_ERR_CONFLICT when the lease is
 * another node's, PCHAT_ERR_INVALID when the count differs (nothing deleted), or a negative
 * pchat_rc_t. */
long long pchat_outbox_finish(pchat_db_t *db, const pchat_batch_t *b, const char *node,
		int lease_s);

/* Writes one event to the outbox (inside the caller's transaction, if one is open): the chat's
 * events (the store's record operation) and the file repository's; ev->ts NULL is the
 * database's time now. PCHAT_OK, PCHAT_ERR_DOWN,
 * PCHAT_ERR_INVALID (an unknown kind) or PCHAT_ERR_FAILED. */
int pchat_outbox_record(pchat_db_t *db, const pchat_record_t *ev);

#endif
