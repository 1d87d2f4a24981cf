/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include "core/dprint.h"
#include "core/locking.h"

#include "pchat_dialog.h"
#include "pchat_fanout.h"
#include "pchat_filesvc.h"
#include "pchat_live.h"
#include "pchat_node.h"
#include "pchat_service.h"
#include "pchat_webapi.h"
#include "pchat_store_mysql.h"

/* Locks that keep a room's commits and their hand-over to the sender in one order; rooms share
 * them by hash, which only ever serialises two rooms' commits that collide. */
#define POST_LOCKS 1024

static gen_lock_set_t *post_locks = NULL;

/* The live state as the chat core sees it: a session that joined becomes ready in its room's
 * sender (pchat_fanout_ready), so a post stored while its join is answered is not missed; at
 * once only when that cannot be queued. */
static void ready_in_order(void *h, const pchat_caller_t *c, uint64_t room_id)
{
	if (pchat_fanout_ready(room_id, c->session) < 0) {
		LM_ERR("no shared memory to queue the join of a session to room %llu: it is made "
			   "ready at once, and may miss a post stored meanwhile\n",
				(unsigned long long)room_id);
		pchat_live_ops.ready(h, c, room_id);
	}
}

static pchat_live_ops_t live_ops;

int pchat_service_init(void)
{
	post_locks = lock_set_alloc(POST_LOCKS);
	if (!post_locks || !lock_set_init(post_locks)) {
		SHM_MEM_ERROR;
		return -1;
	}
	live_ops = pchat_live_ops;
	live_ops.ready = ready_in_order;
	return 0;
}

void pchat_service_destroy(void)
{
	if (post_locks) {
		lock_set_destroy(post_locks);
		lock_set_dealloc(post_locks);
		post_locks = NULL;
	}
}

static uint64_t next_envid(void *h)
{
	(void)h;
	return pchat_node_envid();
}

static int reply(void *h, const pchat_caller_t *c, const char *body, size_t len)
{
	(void)h;
	return pchat_dialog_send_info(c->session, body, len);
}

static int notice(void *h, uint64_t room_id, const char *except_user, const char *element,
		size_t len)
{
	(void)h;
	return pchat_fanout_notice(room_id, except_user, element, len, PCHAT_LOCAL);
}

static unsigned post_lock_of(uint64_t room_id)
{
	return (unsigned)(room_id % POST_LOCKS);
}

static void post_lock(void *h, uint64_t room_id)
{
	(void)h;
	lock_set_get(post_locks, post_lock_of(room_id));
}

static void post_unlock(void *h, uint64_t room_id)
{
	(void)h;
	lock_set_release(post_locks, post_lock_of(room_id));
}

static int post_fanout(void *h, uint64_t room_id, uint64_t seq, const char *element,
		size_t len)
{
	(void)h;
	update_stat(pchat_stat_posts, 1);
	return pchat_fanout_post(room_id, seq, element, len, PCHAT_LOCAL);
}

static const pchat_out_ops_t out_ops = {
	.next_envid = next_envid,
	.reply = reply,
	.notice = notice,
	.post_lock = post_lock,
	.post_fanout = post_fanout,
	.post_unlock = post_unlock,
};


/* pchat_service runs for every request: the context is built once per process. */
static pchat_chat_t chat = {
	.store = &pchat_store_mysql_ops,
	.live = &live_ops,
	.out = &out_ops,
};

const pchat_chat_t *pchat_service(void)
{
	/* The store's handle is the process's own connection, made in child_init; until then (and
	 * in processes without one) it is NULL and asked for again. */
	if (!chat.store_h) {
		chat.store_h = pchat_proc_db();
		chat.settings = &pchat_shared->settings;
		chat.domain = pchat_params.domain;
		chat.pool_uri = pchat_params.pool_uri;
		chat.recording = &pchat_shared->compliance_recording;
		chat.recorded = &pchat_shared->compliance_recorded;
		chat.files_url = pchat_filesvc_url();
		chat.room_management_url = pchat_webapi_page_url();
	}
	return &chat;
}
