/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/cfg/cfg_struct.h"
#include "core/dprint.h"
#include "core/locking.h"
#include "core/mem/mem.h"
#include "core/mem/shm_mem.h"
#include "core/pt.h"
#include "core/sr_module.h"

#include "pchat_dialog.h"
#include "pchat_fanout.h"
#include "pchat_live.h"
#include "pchat_node.h"
#include "pchat_order.h"
#include "pchat_presence.h"

typedef enum job_kind {
	JOB_POST,
	JOB_NOTICE,
	JOB_END_SESSION,
	JOB_DRAIN,
	JOB_REFRESH,
	JOB_CATCH_UP,
	JOB_POLICY,
	JOB_READY
} job_kind_t;

/* One unit of work in shm, linked into its sender's queue. */
typedef struct fanout_job {
	struct fanout_job *next;
	job_kind_t kind;
	pchat_origin_t origin;
	uint64_t room_id;
	uint64_t seq;          /* JOB_POST */
	pchat_sref_t session;  /* JOB_END_SESSION, JOB_DRAIN, JOB_READY */
	size_t size;           /* bytes charged to the node's budget */
	size_t len;            /* element length */
	int has_except;        /* JOB_NOTICE: data holds element NUL except_user NUL */
	char data[];
} fanout_job_t;

/* A sender's queue: a list in shm that any process appends to under a short lock, and an
 * eventfd that wakes the sender. Nothing here ever blocks a writer (a pipe would, once full:
 * a SIP worker holding a room's post lock, tm's timer, or the sender itself writing to its own
 * pipe). What a queue holds is charged to the node's byte budget, which refuses new posts and
 * sessions before the queues could grow without bound (pchat_budget.h). */
typedef struct sender_queue {
	gen_lock_t lock;
	fanout_job_t *head;
	fanout_job_t *tail;
	int catch_up_all; /* work could not be queued: catch every room of the sender up */
} sender_queue_t;

/* Posts a room may hold back waiting for a predecessor before the store fills the gap. */
#define MAX_WAITING 1000
/* Bytes all the posts a sender holds back may take. They are copies in the sender's pkg memory
 * (16 MB a process in the lab), and posts of up to max_post_size (30000 B) make the count alone
 * allow 30 MB a room; past this, the gaps due first are filled from the store at once, as at
 * the gap timeout, only sooner. */
#define MAX_WAITING_BYTES (4 * 1024 * 1024)
/* Posts a session that just joined missed, read from the store at a time. */
#define MISSED_BATCH 500
/* The receiver's longest wait for relays, and how many it takes at once. */
#define RECEIVE_BLOCK_MS 1000
#define RECEIVE_BATCH 256

static pchat_fanout_jobs_t upper; /* what the senders run for the parts above */
static int nworkers = 0;
static sender_queue_t *queues = NULL; /* shm, one per sender */
static int *wake_fds = NULL;          /* eventfds, created before the fork */
static int my_sender = -1;            /* index of this process's sender, -1 elsewhere */
/* Work a sender queues for itself while it runs a job waits here, in its own memory, and runs
 * right after that job: a sender never writes to its own queue. */
static fanout_job_t *self_head = NULL, *self_tail = NULL;

int pchat_fanout_init(int workers, const pchat_fanout_jobs_t *jobs)
{
	int i;

	if (workers < 1) {
		LM_ERR("fanout_workers must be at least 1\n");
		return -1;
	}
	upper = *jobs;
	nworkers = workers;
	queues = shm_malloc(sizeof(*queues) * nworkers);
	wake_fds = pkg_malloc(sizeof(*wake_fds) * nworkers);
	if (!queues || !wake_fds) {
		LM_ERR("out of memory for the senders' queues\n");
		return -1;
	}
	memset(queues, 0, sizeof(*queues) * nworkers);
	for (i = 0; i < nworkers; i++) {
		/* created before the fork so every process inherits them */
		wake_fds[i] = eventfd(0, EFD_NONBLOCK);
		if (wake_fds[i] < 0 || !lock_init(&queues[i].lock)) {
			LM_ERR("cannot create the queue of sender %d: %s\n", i, strerror(errno));
			return -1;
		}
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

static void wake(int sender)
{
	uint64_t one = 1;

	/* an eventfd write fails only when its counter would overflow: it is awake anyway */
	if (write(wake_fds[sender], &one, sizeof(one)) < 0 && errno != EAGAIN)
		LM_ERR("cannot wake sender %d: %s\n", sender, strerror(errno));
}

static void enqueue(int sender, fanout_job_t *job)
{
	sender_queue_t *q = &queues[sender];
	int was_empty;

	job->next = NULL;
	pchat_node_charge(&pchat_shared->budget, job->size);
	if (sender == my_sender) {
		if (self_tail)
			self_tail->next = job;
		else
			self_head = job;
		self_tail = job;
		return;
	}
	lock_get(&q->lock);
	was_empty = q->head == NULL;
	if (q->tail)
		q->tail->next = job;
	else
		q->head = job;
	q->tail = job;
	lock_release(&q->lock);
	/* a sender empties its whole queue each time it wakes: only the first job needs a wake-up */
	if (was_empty)
		wake(sender);
}

/* Work for a room could not be queued (no shared memory): its sender catches all its rooms up
 * from the store, which has every committed post, as soon as it can. */
static int lost(int sender, const char *what, uint64_t room_id)
{
	LM_ERR("no shared memory to queue %s of room %llu; sender %d catches its rooms up from "
		   "the store\n", what, (unsigned long long)room_id, sender);
	__atomic_store_n(&queues[sender].catch_up_all, 1, __ATOMIC_RELEASE);
	wake(sender);
	return -1;
}

static fanout_job_t *new_job(job_kind_t kind, pchat_origin_t origin, uint64_t room_id,
		size_t data_len)
{
	size_t size = sizeof(fanout_job_t) + data_len;
	fanout_job_t *job = shm_malloc(size);

	if (!job) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(job, 0, sizeof(*job));
	job->kind = kind;
	job->origin = origin;
	job->room_id = room_id;
	job->size = size;
	return job;
}

/* Test hook (modparam fault_post_fanout): every n-th post's hand-over fails. */
static int fault_due(void)
{
	static unsigned long count = 0;

	return pchat_params.fault_post_fanout > 0
		   && ++count % (unsigned long)pchat_params.fault_post_fanout == 0;
}

int pchat_fanout_post(uint64_t room_id, uint64_t seq, const char *element, size_t len,
		pchat_origin_t origin)
{
	fanout_job_t *job = fault_due() ? NULL : new_job(JOB_POST, origin, room_id, len + 1);

	if (!job)
		return lost(sender_of_room(room_id), "a post", room_id);
	job->seq = seq;
	job->len = len;
	memcpy(job->data, element, len);
	job->data[len] = '\0';
	enqueue(sender_of_room(room_id), job);
	return 0;
}

int pchat_fanout_notice(uint64_t room_id, const char *except_user, const char *element,
		size_t len, pchat_origin_t origin)
{
	size_t except_len = except_user ? strlen(except_user) : 0;
	fanout_job_t *job = new_job(JOB_NOTICE, origin, room_id, len + 1 + except_len + 1);

	if (!job)
		return -1; /* a notice is not stored: it is lost, and logged */
	job->len = len;
	memcpy(job->data, element, len);
	job->data[len] = '\0';
	job->has_except = except_user != NULL;
	memcpy(job->data + len + 1, except_user ? except_user : "", except_len + 1);
	enqueue(sender_of_room(room_id), job);
	return 0;
}

/* Work on a session goes to one sender, whatever room it comes from. */
static int session_job(job_kind_t kind, pchat_sref_t ref)
{
	fanout_job_t *job = new_job(kind, PCHAT_LOCAL, 0, 0);

	if (!job)
		return -1;
	job->session = ref;
	enqueue((int)(ref.slot % (uint32_t)nworkers), job);
	return 0;
}

int pchat_fanout_end_session(pchat_sref_t ref)
{
	return session_job(JOB_END_SESSION, ref);
}

int pchat_fanout_drain(pchat_sref_t ref)
{
	return session_job(JOB_DRAIN, ref);
}

int pchat_fanout_ready(uint64_t room_id, pchat_sref_t ref)
{
	fanout_job_t *job = new_job(JOB_READY, PCHAT_LOCAL, room_id, 0);

	if (!job)
		return -1;
	job->session = ref;
	enqueue(sender_of_room(room_id), job);
	return 0;
}

int pchat_fanout_refresh_room(uint64_t room_id, pchat_origin_t origin)
{
	fanout_job_t *job = new_job(JOB_REFRESH, origin, room_id, 0);

	if (!job)
		return -1;
	enqueue(sender_of_room(room_id), job);
	return 0;
}

/* Tells every other node of the pool; -1 when Redis could not take it. */
static int broadcast(pchat_relay_t *rel, const char *what)
{
	pchat_redis_t *r = pchat_proc_redis();

	if (r && pchat_presence_broadcast(r, pchat_params.node_id, rel,
					 pchat_params.relay_queue_len) >= 0)
		return 0;
	LM_ERR("the other nodes could not be told that %s (Redis is unreachable): their "
		   "sessions keep their rights until the change is repeated\n", what);
	return -1;
}

int pchat_fanout_refresh_category(uint64_t category_id, pchat_origin_t origin)
{
	pchat_relay_t rel = {PCHAT_RELAY_CATEGORY, category_id, 0, "", NULL, 0};
	uint64_t *ids = NULL;
	int n, i, failed = 0;

	/* this node's sessions are checked even when the others could not be told */
	if (origin == PCHAT_LOCAL)
		failed = broadcast(&rel, "the scope of a category changed") < 0;
	n = pchat_live_rooms_in_category(category_id, &ids);
	/* each node checks its own sessions: nothing more is relayed */
	for (i = 0; i < n; i++)
		failed |= pchat_fanout_refresh_room(ids[i], PCHAT_REMOTE) < 0;
	free(ids);
	return n < 0 || failed ? -1 : 0;
}

/* Tells the other nodes of the pool of a change they must apply to their own sessions. */
int pchat_fanout_policy(const char *scope, pchat_origin_t origin)
{
	pchat_relay_t rel = {PCHAT_RELAY_POLICY, 0, 0, "", scope, strlen(scope)};
	fanout_job_t *job;
	int rc = 0;

	/* this node's sessions are checked even when the others could not be told */
	if (origin == PCHAT_LOCAL)
		rc = broadcast(&rel, "a policy rule changed");
	job = new_job(JOB_POLICY, origin, 0, rel.len + 1);
	if (!job)
		return -1;
	memcpy(job->data, scope, rel.len + 1);
	enqueue(0, job);
	return rc;
}

int pchat_fanout_catch_up(uint64_t room_id)
{
	fanout_job_t *job = new_job(JOB_CATCH_UP, PCHAT_LOCAL, room_id, 0);

	if (!job)
		return lost(sender_of_room(room_id), "a catch-up", room_id);
	enqueue(sender_of_room(room_id), job);
	return 0;
}

/* ------------------------------------------------------------------ delivery */

/* Sends an element in an envelope of this node to the room's ready sessions (see
 * pchat_live_recipients for seq and except). */
static void send_element(const pchat_recipient_t *to, int n, const char *element, size_t len)
{
	pchat_buf_t body;
	int i, sent = 0;

	pchat_buf_init(&body);
	pchat_xccos_open(&body, pchat_node_envid());
	pchat_buf_add(&body, element, len);
	pchat_xccos_close(&body);
	for (i = 0; pchat_buf_ok(&body) && i < n; i++)
		if (pchat_dialog_send_info(to[i].session, body.s, body.len) == 0)
			sent++;
	pchat_buf_free(&body);
	update_stat(pchat_stat_deliveries, sent);
}

static void deliver(uint64_t room_id, uint64_t seq, const char *except, const char *element,
		size_t len)
{
	pchat_recipient_t *to;
	int n;

	n = pchat_live_recipients(room_id, seq, except, &to);
	if (n > 0)
		send_element(to, n, element, len);
	if (to)
		pkg_free(to);
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
	pchat_chat_post_element(upper.chat(), f->guid, post, &el);
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
	const pchat_chat_t *chat = upper.chat();
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

/* Posts a session that just joined missed go to it alone, read from the store. */
typedef struct missed_ctx {
	pchat_recipient_t session;
	const char *guid;
	uint64_t last;
} missed_ctx_t;

static int send_missed(void *ctx, const pchat_post_t *post)
{
	missed_ctx_t *m = ctx;
	pchat_buf_t el;

	pchat_buf_init(&el);
	pchat_chat_post_element(upper.chat(), m->guid, post, &el);
	if (pchat_buf_ok(&el))
		send_element(&m->session, 1, el.s, el.len);
	pchat_buf_free(&el);
	m->last = post->seq;
	return 0;
}

/* A session that joined a room becomes ready here, in the room's sender, between two of the
 * room's posts: its join was answered first (clients take a room's posts only after they know
 * they are in it), and the posts the room got meanwhile, which its sender could not send to a
 * session not yet ready, are sent to it from the store before any later post. */
static void make_ready(uint64_t room_id, pchat_sref_t ref)
{
	const pchat_chat_t *chat = upper.chat();
	char guid[PCHAT_GUID_LEN + 1];
	missed_ctx_t m = {{ref}, guid, 0};
	uint64_t after, upto;
	int rc;

	if (!pchat_live_make_ready(room_id, ref, &after, &upto) || upto <= after
			|| pchat_live_room_guid(room_id, guid) < 0)
		return;
	while (after < upto) {
		m.last = after;
		rc = chat->store->posts_between(chat->store_h, room_id, after, upto + 1, MISSED_BATCH,
				send_missed, &m);
		if (rc <= 0 || m.last == after)
			break;
		after = m.last;
	}
	if (after < upto)
		LM_WARN("room %llu: a session that joined missed posts %llu to %llu and they could not "
				"be read from the store (they stay in its history)\n",
				(unsigned long long)room_id, (unsigned long long)after + 1,
				(unsigned long long)upto);
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

	if (job->origin != PCHAT_LOCAL)
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
	n = r ? pchat_presence_relay(r, pchat_params.node_id, &rel, pchat_params.relay_queue_len)
		  : PCHAT_ERR_DOWN;
	if (n > 0)
		update_stat(pchat_stat_relayed, n);
	/* a lost post is caught up from the store; nothing repeats a lost change of a room */
	if (n < 0 && job->kind == JOB_REFRESH)
		LM_ERR("room %llu changed, but the other nodes could not be told (Redis is "
			   "unreachable): their sessions keep their rights in it until the change is "
			   "repeated\n", (unsigned long long)job->room_id);
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
			upper.end_session(job->session);
			break;
		case JOB_DRAIN:
			pchat_dialog_drain(job->session);
			break;
		case JOB_REFRESH:
			pchat_chat_refresh_room(upper.chat(), job->room_id);
			break;
		case JOB_CATCH_UP:
			pchat_order_catch_up(order, job->room_id, pchat_now_ms());
			break;
		case JOB_POLICY:
			upper.enforce_policy(job->data);
			break;
		case JOB_READY:
			make_ready(job->room_id, job->session);
			break;
	}
	pchat_node_release(&pchat_shared->budget, job->size);
	shm_free(job);
}

/* Runs what this sender queued for itself (and what that queues in turn). */
static void run_own_work(void)
{
	fanout_job_t *job;

	while ((job = self_head) != NULL) {
		self_head = job->next;
		if (!self_head)
			self_tail = NULL;
		run_job(job);
	}
}

/* After work was lost: every room of this sender is caught up from the store. */
static void catch_up_own_rooms(void)
{
	uint64_t *ids = NULL;
	int n, i;

	n = pchat_live_room_ids(&ids);
	for (i = 0; i < n; i++)
		if (sender_of_room(ids[i]) == my_sender)
			pchat_order_catch_up(order, ids[i], pchat_now_ms());
	free(ids);
	if (n < 0)
		__atomic_store_n(&queues[my_sender].catch_up_all, 1, __ATOMIC_RELEASE);
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
	sender_queue_t *q = &queues[my_sender];
	pchat_order_stats_t seen = {0};
	struct pollfd pfd = {wake_fds[my_sender], POLLIN, 0};
	fanout_job_t *batch, *job;
	uint64_t wakes;

	for (;;) {
		/* wake up for the next gap to fill, if a post waits for one */
		if (poll(&pfd, 1, self_head ? 0 : pchat_order_next_timeout(order, pchat_now_ms())) > 0
				&& read(pfd.fd, &wakes, sizeof(wakes)) < 0 && errno != EAGAIN)
			LM_ERR("sender %d cannot read its wake-ups: %s\n", my_sender, strerror(errno));
		cfg_update();
		lock_get(&q->lock);
		batch = q->head;
		q->head = q->tail = NULL;
		lock_release(&q->lock);
		while ((job = batch) != NULL) {
			batch = job->next;
			run_job(job);
			run_own_work(); /* right after the job that made it */
		}
		if (__atomic_exchange_n(&q->catch_up_all, 0, __ATOMIC_ACQ_REL))
			catch_up_own_rooms();
		pchat_order_tick(order, pchat_now_ms());
		run_own_work(); /* what the catch-up and the gap fills made */
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
		case PCHAT_RELAY_CATEGORY:
			pchat_fanout_refresh_category(rel->room, PCHAT_REMOTE);
			break;
		case PCHAT_RELAY_POLICY:
			pchat_fanout_policy(rel->element, PCHAT_REMOTE);
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
	return pchat_redis_new(&conf, &pchat_shared->redis);
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
		order = pchat_order_new(&order_ops, NULL, pchat_params.gap_timeout, MAX_WAITING,
				MAX_WAITING_BYTES);
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
