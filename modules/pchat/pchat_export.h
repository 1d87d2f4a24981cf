/*
 * One run of the compliance worker: the batches of the outbox written to the output folder by
 * the configured adapter, each deleted from the outbox only once its files are in place.
 *
 * A batch's files are named after the batch (its stem, recorded when it was taken):
 *   <stem>.xml or <stem>.jsonl                 the batch (XML: Lync's compliance XML)
 *   <stem>-room<room id>.xml|.jsonl            one per room with one_room_per_file
 *   <stem>[-room<room id>]-moderation.jsonl    XML adapter: the moderation events, which
 *                                              Lync's XML has no type for
 * where stem is pchat-compliance-<UTC time the batch was taken, YYYYMMDDTHHMMSSZ>-<batch id,
 * 10 digits>. A file is written under a hidden temporary name (.<name>.<node>.tmp), fsynced and
 * renamed, so it appears whole or not at all; a batch written again after a crash replaces its
 * own files. A file that would hold no event is not written.
 *
 * No Kamailio header: the worker process (pchat_compliance.c) calls it.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_EXPORT_H
#define PCHAT_EXPORT_H

#include "pchat_outbox.h"

typedef struct pchat_export {
	pchat_db_t *db;
	const char *node;      /* this worker's node (the lease's holder) */
	const char *domain;    /* users of this domain are internal (Sender/@internal) */
	/* asked before each batch and between the pages of events a batch is written from (it
	 * renews the lease); 0 stops the run (the worker lost its lease, or is stopping) */
	int (*keep_going)(void *ctx);
	void *ctx;
	int batch_pause_us;    /* the least rest between batches (it rests as long as the last
	                          batch took, up to a second) */
	int lease_s;           /* the lease's length: finishing a batch renews it */
	/* filled by the run */
	long long exported;    /* events written */
	int batches;
	int files;
	char error[512];       /* why the run failed */
} pchat_export_t;

/* Writes the open batches, then takes and writes new ones until a batch is not full (the
 * outbox was emptied) or keep_going says stop. PCHAT_OK, or a
 * negative pchat_rc_t with x->error set: the failed batch stays in the outbox, whole, for the
 * next run. conf supplies the settings of new batches, and of a batch written again when none
 * of its files was published yet (one that was keeps its own, to replace those files). */
int pchat_export_run(pchat_export_t *x, const pchat_compliance_conf_t *conf);

/* Hidden temporary files older than this were left by a worker that died while writing. */
#define PCHAT_EXPORT_STALE_TMP_S 600

#endif
