/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#endif
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/cfg/cfg_struct.h"
#include "core/dprint.h"
#include "core/mem/mem.h"
#include "core/mem/shm_mem.h"
#include "core/pt.h"
#include "core/sr_module.h"

#include "pchat_fanout.h"
#include "pchat_live.h"
#include "pchat_mod.h"
#include "pchat_service.h"
#include "pchat_sip.h"

typedef enum job_kind { JOB_POST, JOB_NOTICE, JOB_END_SESSION, JOB_REFRESH } job_kind_t;

/* One unit of work in shm; the pipe carries its address (shm is mapped at the same address in
 * every Kamailio process). */
typedef struct fanout_job {
	job_kind_t kind;
	uint64_t room_id;
	uint64_t seq;          /* JOB_POST */
	pchat_sref_t session;  /* JOB_END_SESSION */
	size_t len;            /* body length */
	int has_except;        /* JOB_NOTICE: data holds body NUL except_user NUL */
	char data[];
} fanout_job_t;

/* The pipe holds this many bytes: 128k queued jobs per sender before writers wait. */
#define QUEUE_BYTES (1 << 20)
#define READ_BATCH 512

static int nworkers = 0;
static int (*queues)[2] = NULL; /* [i][0] read end in sender i, [i][1] write end */
static int my_sender = -1;     /* index of this process's sender, -1 elsewhere */

int pchat_fanout_init(int workers)
{
	int i;

	if (workers < 1) {
		LM_ERR("fanout_workers must be at least 1\n");
		return -1;
	}
	nworkers = workers;
	/* Created before the fork so every process inherits the write ends. */
	queues = pkg_malloc(sizeof(*queues) * nworkers);
	if (!queues) {
		PKG_MEM_ERROR;
		return -1;
	}
	for (i = 0; i < nworkers; i++) {
		if (pipe(queues[i]) < 0) {
			LM_ERR("cannot create the queue of sender %d: %s\n", i, strerror(errno));
			return -1;
		}
		if (fcntl(queues[i][0], F_SETPIPE_SZ, QUEUE_BYTES) < 0)
			LM_WARN("cannot enlarge the queue of sender %d to %d bytes (%s); raise "
					"/proc/sys/fs/pipe-max-size\n", i, QUEUE_BYTES, strerror(errno));
	}
	register_procs(nworkers);
	cfg_register_child(nworkers);
	return 0;
}

int pchat_fanout_is_sender(void)
{
	return my_sender >= 0;
}

static int sender_of_room(uint64_t room_id)
{
	return (int)((room_id * 0x9E3779B97F4A7C15ULL >> 33) % (uint64_t)nworkers);
}

static int enqueue(int sender, fanout_job_t *job)
{
	ssize_t n;

	do {
		n = write(queues[sender][1], &job, sizeof(job));
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(job)) {
		LM_ERR("cannot queue work for sender %d: %s\n", sender, strerror(errno));
		shm_free(job);
		return -1;
	}
	return 0;
}

static fanout_job_t *new_job(job_kind_t kind, uint64_t room_id, size_t data_len)
{
	fanout_job_t *job = shm_malloc(sizeof(*job) + data_len);

	if (!job) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(job, 0, sizeof(*job));
	job->kind = kind;
	job->room_id = room_id;
	return job;
}

int pchat_fanout_post(uint64_t room_id, uint64_t seq, const char *body, size_t len)
{
	fanout_job_t *job = new_job(JOB_POST, room_id, len + 1);

	if (!job)
		return -1;
	job->seq = seq;
	job->len = len;
	memcpy(job->data, body, len);
	job->data[len] = '\0';
	return enqueue(sender_of_room(room_id), job);
}

int pchat_fanout_notice(uint64_t room_id, const char *except_user, const char *body,
		size_t len)
{
	size_t except_len = except_user ? strlen(except_user) : 0;
	fanout_job_t *job = new_job(JOB_NOTICE, room_id, len + 1 + except_len + 1);

	if (!job)
		return -1;
	job->len = len;
	memcpy(job->data, body, len);
	job->data[len] = '\0';
	job->has_except = except_user != NULL;
	memcpy(job->data + len + 1, except_user ? except_user : "", except_len + 1);
	return enqueue(sender_of_room(room_id), job);
}

int pchat_fanout_end_session(pchat_sref_t ref)
{
	fanout_job_t *job = new_job(JOB_END_SESSION, 0, 0);

	if (!job)
		return -1;
	job->session = ref;
	return enqueue((int)(ref.slot % (uint32_t)nworkers), job);
}

int pchat_fanout_refresh_room(uint64_t room_id)
{
	fanout_job_t *job = new_job(JOB_REFRESH, room_id, 0);

	return job ? enqueue(sender_of_room(room_id), job) : -1;
}

/* ------------------------------------------------------------------ the sender processes */

static void deliver(const fanout_job_t *job)
{
	const char *except = job->has_except ? job->data + job->len + 1 : NULL;
	pchat_recipient_t *to;
	int n, i, sent = 0;

	n = pchat_live_recipients(job->room_id, job->kind == JOB_POST ? job->seq : 0, except, &to);
	for (i = 0; i < n; i++)
		if (pchat_sip_send_info(to[i].session, job->data, job->len) == 0)
			sent++;
	if (to)
		pkg_free(to);
	update_stat(pchat_stat_deliveries, sent);
}

static void run_job(fanout_job_t *job)
{
	switch (job->kind) {
		case JOB_POST:
		case JOB_NOTICE:
			deliver(job);
			break;
		case JOB_END_SESSION:
			pchat_sip_end_session(job->session);
			break;
		case JOB_REFRESH:
			pchat_chat_refresh_room(pchat_service(), job->room_id);
			break;
	}
	shm_free(job);
}

static void sender_loop(void)
{
	fanout_job_t *jobs[READ_BATCH];
	ssize_t n;
	size_t i;

	for (;;) {
		n = read(queues[my_sender][0], jobs, sizeof(jobs));
		if (n < 0) {
			if (errno != EINTR)
				LM_ERR("sender %d cannot read its queue: %s\n", my_sender, strerror(errno));
			continue;
		}
		if (n == 0) {
			LM_CRIT("sender %d: its queue was closed\n", my_sender);
			return;
		}
		cfg_update();
		/* pointer-sized writes are atomic on a pipe, so reads come in whole pointers */
		for (i = 0; i < (size_t)n / sizeof(jobs[0]); i++)
			run_job(jobs[i]);
	}
}

int pchat_fanout_start(void)
{
	char desc[32];
	int i, pid;

	for (i = 0; i < nworkers; i++) {
		snprintf(desc, sizeof(desc), "pchat sender %d", i);
		/* PROC_RPC rank: the other modules (tm) initialise for it as for RPC processes */
		pid = fork_process(PROC_RPC, desc, 1);
		if (pid < 0) {
			LM_ERR("cannot start %s\n", desc);
			return -1;
		}
		if (pid == 0) {
			my_sender = i;
			/* its connections were opened by child_init(PROC_RPC) in fork_process */
			if (cfg_child_init() < 0)
				exit(-1);
			sender_loop();
			exit(-1);
		}
	}
	return 0;
}
