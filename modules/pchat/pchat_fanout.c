/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
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
#include "pchat_order.h"
#include "pchat_presence.h"
#include "pchat_service.h"
#include "pchat_sip.h"

typedef enum job_kind {
	JOB_POST,
	JOB_NOTICE,
	JOB_END_SESSION,
	JOB_DRAIN,
	JOB_REFRESH,
	JOB_CATCH_UP
} job_kind_t;

/* One unit of work in shm; the pipe carries its address (shm is mapped at the same address in
 * every Kamailio process). */
typedef struct fanout_job {
	job_kind_t kind;
	pchat_origin_t origin;
	uint64_t room_id;
	uint64_t seq;          /* JOB_POST */
	pchat_sref_t session;  /* JOB_END_SESSION, JOB_DRAIN */
	size_t len;            /* element length */
	int has_except;        /* JOB_NOTICE: data holds element NUL except_user NUL */
	char data[];
} fanout_job_t;

/* The pipe holds this many bytes: 128k queued jobs per sender before writers wait. */
#define QUEUE_BYTES (1 << 20)
#define READ_BATCH 512
/* Posts a room may hold back waiting for a predecessor before the store fills the gap. */
#define MAX_WAITING 1000
/* The receiver's longest wait for relays, and how many it takes at once. */
#define RECEIVE_BLOCK_MS 1000
#define RECEIVE_BATCH 256

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
	/* the senders and the receiver */
	register_procs(nworkers + 1);
	cfg_register_child(nworkers + 1);
	return 0;
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

static fanout_job_t *new_job(job_kind_t kind, pchat_origin_t origin, uint64_t room_id,
		size_t data_len)
{
	fanout_job_t *job = shm_malloc(sizeof(*job) + data_len);

	if (!job) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(job, 0, sizeof(*job));
	job->kind = kind;
	job->origin = origin;
	job->room_id = room_id;
	return job;
}

int pchat_fanout_post(uint64_t room_id, uint64_t seq, const char *element, size_t len,
		pchat_origin_t origin)
{
	fanout_job_t *job = new_job(JOB_POST, origin, room_id, len + 1);

	if (!job)
		return -1;
	job->seq = seq;
	job->len = len;
	memcpy(job->data, element, len);
	job->data[len] = '\0';
	return enqueue(sender_of_room(room_id), job);
}

int pchat_fanout_notice(uint64_t room_id, const char *except_user, const char *element,
		size_t len, pchat_origin_t origin)
{
	size_t except_len = except_user ? strlen(except_user) : 0;
	fanout_job_t *job = new_job(JOB_NOTICE, origin, room_id, len + 1 + except_len + 1);

	if (!job)
		return -1;
	job->len = len;
	memcpy(job->data, element, len);
	job->data[len] = '\0';
	job->has_except = except_user != NULL;
	memcpy(job->data + len + 1, except_user ? except_user : "", except_len + 1);
	return enqueue(sender_of_room(room_id), job);
}

/* Work on a session goes to one sender, whatever room it comes from. */
static int session_job(job_kind_t kind, pchat_sref_t ref)
{
	fanout_job_t *job = new_job(kind, PCHAT_LOCAL, 0, 0);

	if (!job)
		return -1;
	job->session = ref;
	return enqueue((int)(ref.slot % (uint32_t)nworkers), job);
}

int pchat_fanout_end_session(pchat_sref_t ref)
{
	return session_job(JOB_END_SESSION, ref);
}

int pchat_fanout_drain(pchat_sref_t ref)
{
	return session_job(JOB_DRAIN, ref);
}

int pchat_fanout_refresh_room(uint64_t room_id, pchat_origin_t origin)
{
	fanout_job_t *job = new_job(JOB_REFRESH, origin, room_id, 0);

	return job ? enqueue(sender_of_room(room_id), job) : -1;
}

int pchat_fanout_catch_up(uint64_t room_id)
{
	fanout_job_t *job = new_job(JOB_CATCH_UP, PCHAT_LOCAL, room_id, 0);

	return job ? enqueue(sender_of_room(room_id), job) : -1;
}

/* ------------------------------------------------------------------ delivery */

/* Sends an element in an envelope of this node to the room's ready sessions (see
 * pchat_live_recipients for seq and except). */
static void deliver(uint64_t room_id, uint64_t seq, const char *except, const char *element,
		size_t len)
{
	pchat_recipient_t *to;
	pchat_buf_t body;
	int n, i, sent = 0;

	n = pchat_live_recipients(room_id, seq, except, &to);
	if (n > 0) {
		pchat_buf_init(&body);
		pchat_xccos_open(&body, pchat_service_envid());
		pchat_buf_add(&body, element, len);
		pchat_xccos_close(&body);
		for (i = 0; pchat_buf_ok(&body) && i < n; i++)
			if (pchat_sip_send_info(to[i].session, body.s, body.len) == 0)
				sent++;
		pchat_buf_free(&body);
	}
	if (to)
		pkg_free(to);
	update_stat(pchat_stat_deliveries, sent);
}

static int order_delivered(void *ctx, uint64_t room, uint64_t *seq)
{
	(void)ctx;
	return pchat_live_delivered(room, seq);
}

static void order_deliver(void *ctx, uint64_t room, uint64_t seq, const char *element,
		size_t len)
{
	(void)ctx;
	deliver(room, seq, NULL, element, len);
}

typedef struct fill_ctx {
	uint64_t room;
	const char *guid;
	int delivered;
} fill_ctx_t;

static int fill_one(void *ctx, const pchat_post_t *post)
{
	fill_ctx_t *f = ctx;
	pchat_buf_t el;

	pchat_buf_init(&el);
	pchat_chat_post_element(pchat_service(), f->guid, post, &el);
	if (pchat_buf_ok(&el)) {
		deliver(f->room, post->seq, NULL, el.s, el.len);
		f->delivered++;
	}
	pchat_buf_free(&el);
	return 0;
}

/* Posts that did not arrive come from the store, which has every committed post. */
static int order_fill(void *ctx, uint64_t room, uint64_t after, uint64_t before, int limit)
{
	const pchat_chat_t *chat = pchat_service();
	char guid[PCHAT_GUID_LEN + 1];
	fill_ctx_t f = {room, guid, 0};
	int rc;

	(void)ctx;
	if (pchat_live_room_guid(room, guid) < 0)
		return 0;
	rc = chat->store->posts_between(chat->store_h, room, after, before, limit, fill_one, &f);
	if (rc < 0) {
		LM_WARN("room %llu: cannot read posts after %llu from the store (%d)\n",
				(unsigned long long)room, (unsigned long long)after, rc);
		return -1;
	}
	update_stat(pchat_stat_gap_fills, f.delivered);
	return f.delivered;
}

static const pchat_order_ops_t order_ops = {
	.delivered = order_delivered,
	.deliver = order_deliver,
	.fill = order_fill,
};

/* ------------------------------------------------------------------ the sender processes */

static pchat_order_t *order = NULL;

/* Work that started here goes to the other nodes with participants in the room too. */
static void relay(const fanout_job_t *job)
{
	pchat_redis_t *r = pchat_proc_redis();
	pchat_relay_t rel;
	int n;

	if (job->origin != PCHAT_LOCAL || !r)
		return;
	memset(&rel, 0, sizeof(rel));
	rel.room = job->room_id;
	switch (job->kind) {
		case JOB_POST:
			rel.kind = PCHAT_RELAY_POST;
			rel.seq = job->seq;
			break;
		case JOB_NOTICE:
			rel.kind = PCHAT_RELAY_NOTICE;
			rel.except = job->has_except ? job->data + job->len + 1 : "";
			break;
		case JOB_REFRESH:
			rel.kind = PCHAT_RELAY_REFRESH;
			break;
		default:
			return;
	}
	if (job->kind != JOB_REFRESH) {
		rel.element = job->data;
		rel.len = job->len;
	}
	n = pchat_presence_relay(r, pchat_params.node_id, &rel, pchat_params.relay_queue_len);
	if (n > 0)
		update_stat(pchat_stat_relayed, n);
}

static void run_job(fanout_job_t *job)
{
	relay(job);
	switch (job->kind) {
		case JOB_POST:
			pchat_order_post(order, job->room_id, job->seq, job->data, job->len, pchat_now_ms());
			break;
		case JOB_NOTICE:
			deliver(job->room_id, 0, job->has_except ? job->data + job->len + 1 : NULL,
					job->data, job->len);
			break;
		case JOB_END_SESSION:
			pchat_sip_end_session(job->session);
			break;
		case JOB_DRAIN:
			pchat_sip_drain(job->session);
			break;
		case JOB_REFRESH:
			pchat_chat_refresh_room(pchat_service(), job->room_id);
			break;
		case JOB_CATCH_UP:
			pchat_order_catch_up(order, job->room_id, pchat_now_ms());
			break;
	}
	shm_free(job);
}

/* The ordering's counters go to the module statistics as they grow. */
static void publish_order_stats(pchat_order_stats_t *seen)
{
	const pchat_order_stats_t *now = pchat_order_stats(order);

	update_stat(pchat_stat_duplicates, (long)(now->duplicates - seen->duplicates));
	update_stat(pchat_stat_skipped, (long)(now->skipped - seen->skipped));
	*seen = *now;
}

static void sender_loop(void)
{
	fanout_job_t *jobs[READ_BATCH];
	pchat_order_stats_t seen = {0};
	struct pollfd pfd = {queues[my_sender][0], POLLIN, 0};
	ssize_t n;
	size_t i;

	for (;;) {
		/* wake up for the next gap to fill, if a post waits for one */
		if (poll(&pfd, 1, pchat_order_next_timeout(order, pchat_now_ms())) > 0) {
			n = read(pfd.fd, jobs, sizeof(jobs));
			if (n == 0) {
				LM_CRIT("sender %d: its queue was closed\n", my_sender);
				return;
			}
			if (n < 0 && errno != EINTR && errno != EAGAIN)
				LM_ERR("sender %d cannot read its queue: %s\n", my_sender, strerror(errno));
			cfg_update();
			/* pointer-sized writes are atomic on a pipe, so reads come in whole pointers */
			for (i = 0; n > 0 && i < (size_t)n / sizeof(jobs[0]); i++)
				run_job(jobs[i]);
		}
		pchat_order_tick(order, pchat_now_ms());
		publish_order_stats(&seen);
	}
}

/* ------------------------------------------------------------------ the receiver process */

static void take_relay(void *ctx, const pchat_relay_t *rel)
{
	(void)ctx;
	switch (rel->kind) {
		case PCHAT_RELAY_POST:
			pchat_fanout_post(rel->room, rel->seq, rel->element, rel->len, PCHAT_REMOTE);
			break;
		case PCHAT_RELAY_NOTICE:
			pchat_fanout_notice(rel->room, rel->except[0] ? rel->except : NULL, rel->element,
					rel->len, PCHAT_REMOTE);
			break;
		case PCHAT_RELAY_REFRESH:
			pchat_fanout_refresh_room(rel->room, PCHAT_REMOTE);
			break;
	}
}

/* Reads this node's relay queue from where it left off: a Redis outage delays what other nodes
 * relayed meanwhile (if they could), it does not lose it. */
static void receiver_loop(pchat_redis_t *r)
{
	char position[PCHAT_STREAM_POS_MAX] = "";
	int n;

	for (;;) {
		cfg_update();
		if (!position[0] && pchat_presence_queue_end(r, pchat_params.node_id, position) < 0) {
			sleep(1);
			continue;
		}
		n = pchat_presence_receive(r, pchat_params.node_id, position, RECEIVE_BLOCK_MS,
				RECEIVE_BATCH, take_relay, NULL);
		if (n < 0)
			sleep(1);
		else if (n > 0)
			update_stat(pchat_stat_received, n);
	}
}

/* The receiver's connection waits for relays up to RECEIVE_BLOCK_MS, so its command timeout
 * is longer than the others'. */
static pchat_redis_t *receiver_redis(void)
{
	pchat_redis_conf_t conf = pchat_redis_conf;

	conf.timeout_ms += RECEIVE_BLOCK_MS;
	return pchat_redis_new(&conf, &pchat_shared->redis_health);
}

static int start_process(char *desc, int sender)
{
	pchat_redis_t *r;
	int pid;

	/* PROC_RPC rank: the other modules (tm) initialise for it as for RPC processes */
	pid = fork_process(PROC_RPC, desc, 1);
	if (pid < 0) {
		LM_ERR("cannot start %s\n", desc);
		return -1;
	}
	if (pid > 0)
		return 0;
	/* its connections were opened by child_init(PROC_RPC) in fork_process */
	if (cfg_child_init() < 0)
		exit(-1);
	if (sender >= 0) {
		my_sender = sender;
		order = pchat_order_new(&order_ops, NULL, pchat_params.gap_timeout, MAX_WAITING);
		if (!order) {
			LM_ERR("%s: out of memory\n", desc);
			exit(-1);
		}
		sender_loop();
	} else if ((r = receiver_redis()) != NULL) {
		receiver_loop(r);
	}
	exit(-1);
}

int pchat_fanout_start(void)
{
	char desc[32];
	int i;

	for (i = 0; i < nworkers; i++) {
		snprintf(desc, sizeof(desc), "pchat sender %d", i);
		if (start_process(desc, i) < 0)
			return -1;
	}
	snprintf(desc, sizeof(desc), "pchat receiver");
	return start_process(desc, -1);
}
