/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/cfg/cfg_struct.h"
#include "core/counters.h"
#include "core/dprint.h"
#include "core/pt.h"
#include "core/sr_module.h"

#include "pchat_compliance.h"
#include "pchat_export.h"
#include "pchat_node.h"

/* Seconds between estimates of the outbox (the statistic compliance_waiting). */
#define COUNT_INTERVAL 30
/* Seconds after a failed run before the next one, when run_interval is longer. */
#define RETRY_INTERVAL 60
/* The worker's nice value. */
#define WORKER_NICE 10
/* The least rest between two batches of one run (pchat_export.c rests as long as the batch
 * took): the database and the processor are the chat's meanwhile. */
#define BATCH_PAUSE_US 50000
/* Seconds between repeated backlog warnings while it stays above the threshold. */
#define WARN_INTERVAL 600

typedef struct worker {
	pchat_db_t *db;      /* its own connection, READ COMMITTED (PCHAT_OUTBOX_SESSION_SQL) */
	pchat_compliance_conf_t conf;
	int conf_known;
	int active;          /* this node holds the lease */
	int took_over;       /* it just became active: a batch left open is finished at once */
	time_t lease_renewed; /* when this worker last renewed it */
	time_t next_run;
	time_t next_count;
	time_t last_warning;
} worker_t;

static worker_t w;

int pchat_compliance_init(void)
{
	register_procs(1);
	cfg_register_child(1);
	return 0;
}

void pchat_compliance_apply(const pchat_compliance_conf_t *conf)
{
	int on = conf->adapter != PCHAT_ADAPTER_NONE;

	if (__atomic_exchange_n(&pchat_shared->compliance_recording, on, __ATOMIC_RELAXED) != on)
		LM_INFO("compliance: %s on this node\n", on ? "recording starts (adapter configured)"
				: "recording stops (no adapter)");
}

/* The next run comes run_interval after the last one, whichever node ran it: a restart or a
 * takeover does not start the interval over (a long one would never be reached). */
static void schedule_from_last_run(const pchat_compliance_conf_t *conf)
{
	int retry = conf->run_interval < RETRY_INTERVAL ? conf->run_interval : RETRY_INTERVAL;
	int due_in = pchat_outbox_due_in(w.db, conf->run_interval, retry);

	w.next_run = time(NULL) + (due_in >= 0 ? due_in : conf->run_interval);
}

static void reload_conf(void)
{
	pchat_compliance_conf_t conf;

	if (pchat_outbox_conf_get(w.db, &conf) < 0)
		return; /* the last settings stay (unknown at start: recorded) */
	if (w.conf_known && conf.run_interval != w.conf.run_interval)
		schedule_from_last_run(&conf);
	w.conf = conf;
	w.conf_known = 1;
	pchat_compliance_apply(&conf);
}

/* Takes or renews the lease: a renewal comes well before it expires. */
static void hold_lease(time_t now)
{
	int rc, was = w.active;

	if (w.active && now - w.lease_renewed < pchat_params.compliance_lease / 3)
		return;
	rc = pchat_outbox_lease(w.db, pchat_params.node_id,
			pchat_params.compliance_lease);
	if (rc < 0) {
		/* unreachable: this node cannot tell, and must not count on the lease it had */
		if (w.active && now - w.lease_renewed >= pchat_params.compliance_lease)
			w.active = 0;
		return;
	}
	w.active = rc == 1;
	w.took_over |= w.active && !was;
	if (w.active)
		w.lease_renewed = now;
	if (w.active && !was)
		schedule_from_last_run(&w.conf);
	if (w.active != was)
		LM_INFO("compliance: this node %s the active compliance worker\n",
				w.active ? "is now" : "is no longer");
}

/* Between batches and between the pages of a batch: the lease must still be this node's for
 * a while; a renewal comes due in a long batch too. */
static int keep_going(void *ctx)
{
	(void)ctx;
	hold_lease(time(NULL));
	return w.active;
}

/* The active worker estimates the backlog for the statistic and the warning; the others
 * report none. */
static void count_waiting(time_t now)
{
	long long waiting;

	if (now < w.next_count)
		return;
	waiting = w.active ? pchat_outbox_waiting_estimate(w.db) : 0;
	if (waiting < 0)
		return;
	w.next_count = now + COUNT_INTERVAL;
	__atomic_store_n(&pchat_shared->compliance_waiting, waiting, __ATOMIC_RELAXED);
	if (waiting > pchat_params.compliance_backlog_warning
			&& now - w.last_warning >= WARN_INTERVAL) {
		w.last_warning = now;
		LM_WARN("compliance: about %lld events wait for export (more than "
				"compliance_backlog_warning %d); status: kamcmd pchat.compliance.status\n",
				waiting, pchat_params.compliance_backlog_warning);
	}
}

static void run_export(const char *why)
{
	pchat_export_t x;
	time_t started = time(NULL);
	int rc;

	/* the settings as they are now: a run asked for right after pchat.compliance.set must not
	 * take its batches with those of up to config_reload_interval ago */
	reload_conf();
	memset(&x, 0, sizeof(x));
	x.db = w.db;
	x.node = pchat_params.node_id;
	x.domain = pchat_params.domain;
	x.keep_going = keep_going;
	x.batch_pause_us = BATCH_PAUSE_US;
	x.lease_s = pchat_params.compliance_lease;
	rc = pchat_export_run(&x, &w.conf);
	update_stat(pchat_stat_compliance_exported, x.exported);
	if (rc < 0) {
		update_stat(pchat_stat_compliance_runs_failed, 1);
		LM_ERR("compliance: run (%s) failed after %d batches, %lld events: %s; the events "
				"stay in the outbox and the next run retries\n", why, x.batches, x.exported,
				x.error);
	} else if (x.batches) {
		LM_INFO("compliance: run (%s): %d batches, %lld events, %d files written to %s in "
				"%ld s\n", why, x.batches, x.exported, x.files, w.conf.output_dir,
				(long)(time(NULL) - started));
	}
	pchat_outbox_run_done(x.db, rc < 0 ? x.error : NULL);
	w.next_count = 0;
	schedule_from_last_run(&w.conf);
}

/* The active worker runs when asked, when due, and at once after taking over from a worker
 * that left a batch open (its node died, or lost the lease). */
static void maybe_run(time_t now)
{
	pchat_batch_t open;
	const char *why = NULL;

	if (pchat_outbox_take_run_request(w.db) == 1)
		why = "asked for";
	else if (now >= w.next_run)
		why = "interval";
	else if (w.took_over && pchat_outbox_open_batch(w.db, &open) == 1)
		why = "taking over a batch left open";
	w.took_over = 0;
	if (why)
		run_export(why);
}

static void worker_loop(void)
{
	unsigned int tick = 0;
	time_t now;

	for (;;) {
		cfg_update();
		now = time(NULL);
		if (!w.conf_known || tick % (unsigned int)pchat_params.config_reload_interval == 0)
			reload_conf();
		if (w.conf_known) {
			hold_lease(now);
			if (w.active)
				maybe_run(now);
			count_waiting(now);
		}
		sleep(1);
		tick++;
	}
}

/* The worker's one connection: its session runs READ COMMITTED from every connect on. */
static pchat_db_t *worker_db(void)
{
	static const pchat_db_sqlset_t *const sets[] = {&pchat_outbox_sqlset};
	pchat_db_conf_t conf = pchat_db_conf;
	pchat_db_t *db;

	conf.session_sql = PCHAT_OUTBOX_SESSION_SQL;
	db = pchat_db_new(&conf, sets, 1, &pchat_shared->db_health);
	if (!db)
		LM_ERR("compliance: out of memory for the worker's database connection\n");
	return db;
}

int pchat_compliance_start(void)
{
	/* no child_init: the connections every other process gets (pchat_node_connect) would stay
	 * unused here, beside the worker's own */
	int pid = fork_process(PROC_NOCHLDINIT, "pchat compliance worker", 1);

	if (pid < 0) {
		LM_ERR("cannot start the pchat compliance worker\n");
		return -1;
	}
	if (pid == 0) {
		if (cfg_child_init() < 0)
			exit(-1);
		w.db = worker_db();
		if (!w.db)
			exit(-1);
		/* background work: the SIP workers and senders come first for the processor */
		if (setpriority(PRIO_PROCESS, 0, WORKER_NICE) < 0)
			LM_WARN("compliance: cannot lower the worker's priority: %s\n", strerror(errno));
		worker_loop();
		exit(-1);
	}
	return 0;
}
