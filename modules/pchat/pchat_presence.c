/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pchat_alloc.h"
#include "pchat_log.h"
#include "pchat_presence.h"

/* ARGV: room, guid, node, session, user, roles. 1 when the user is new in the room. */
#define JOIN_FUNCTION                                                                     \
	"local function join()\n"                                                              \
	"  local p = 'pchat:room:' .. ARGV[1]\n"                                                \
	"  redis.call('HSET', p .. ':roles', ARGV[5], ARGV[6])\n"                               \
	"  if redis.call('HSETNX', p .. ':sessions', ARGV[4], ARGV[5]) == 0 then return 0 end\n" \
	"  redis.call('HINCRBY', p .. ':nodes', ARGV[3], 1)\n"                                  \
	"  redis.call('SADD', 'pchat:node:' .. ARGV[3] .. ':memberships',\n"                    \
	"    ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[4] .. '|' .. ARGV[5])\n"                  \
	"  if redis.call('HINCRBY', p .. ':users', ARGV[5], 1) == 1 then return 1 end\n"        \
	"  return 0\n"                                                                          \
	"end\n"

/* {the room's user count, up to max users with their roles}. The roles hash has exactly the
 * room's users as fields. */
#define LIST_FUNCTION                                                                     \
	"local function list(room, max)\n"                                                     \
	"  local k = 'pchat:room:' .. room .. ':roles'\n"                                       \
	"  local n = redis.call('HLEN', k)\n"                                                   \
	"  if n <= max then return {n, redis.call('HGETALL', k)} end\n"                         \
	"  return {n, redis.call('HRANDFIELD', k, max, 'WITHVALUES')}\n"                        \
	"end\n"

static const char join_script[] = JOIN_FUNCTION "return join()\n";

/* ARGV: join's, then max: a join and the room's users after it, in one round trip. */
static const char join_list_script[] = JOIN_FUNCTION LIST_FUNCTION
	"local first = join()\n"
	"local l = list(ARGV[1], tonumber(ARGV[7]))\n"
	"return {first, l[1], l[2]}\n";

/* ARGV: room, guid, node, session */
/* part_script answers this when the session was not recorded in the room (eval_int's own
 * failure is PCHAT_ERR_DOWN, another number). */
#define PART_SCRIPT_ABSENT (-1)
static const char part_script[] =
	"local p = 'pchat:room:' .. ARGV[1]\n"
	"local user = redis.call('HGET', p .. ':sessions', ARGV[4])\n"
	"if not user then return -1 end\n"
	"redis.call('HDEL', p .. ':sessions', ARGV[4])\n"
	"redis.call('SREM', 'pchat:node:' .. ARGV[3] .. ':memberships',\n"
	"  ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[4] .. '|' .. user)\n"
	"if redis.call('HINCRBY', p .. ':nodes', ARGV[3], -1) <= 0 then\n"
	"  redis.call('HDEL', p .. ':nodes', ARGV[3])\n"
	"end\n"
	"if redis.call('HINCRBY', p .. ':users', user, -1) > 0 then return 0 end\n"
	"redis.call('HDEL', p .. ':users', user)\n"
	"redis.call('HDEL', p .. ':roles', user)\n"
	"return 1\n";

/* ARGV: room, user, roles */
static const char roles_script[] =
	"local p = 'pchat:room:' .. ARGV[1]\n"
	"if redis.call('HEXISTS', p .. ':users', ARGV[2]) == 0 then return 0 end\n"
	"redis.call('HSET', p .. ':roles', ARGV[2], ARGV[3])\n"
	"return 1\n";

/* ARGV: room, max */
static const char participants_script[] = LIST_FUNCTION
	"return list(ARGV[1], tonumber(ARGV[2]))\n";

/* ARGV: room ids */
static const char counts_script[] =
	"local out = {}\n"
	"for i, id in ipairs(ARGV) do\n"
	"  out[i] = redis.call('HLEN', 'pchat:room:' .. id .. ':roles')\n"
	"end\n"
	"return out\n";

/* ARGV: room, self, max_len, kind, seq, except, to, element. to: "room" for the nodes with
 * sessions in the room, "pool" for every node of the pool. */
static const char relay_script[] =
	"local nodes\n"
	"if ARGV[7] == 'pool' then nodes = redis.call('SMEMBERS', 'pchat:nodes')\n"
	"else nodes = redis.call('HKEYS', 'pchat:room:' .. ARGV[1] .. ':nodes') end\n"
	"local n = 0\n"
	"for _, node in ipairs(nodes) do\n"
	"  if node ~= ARGV[2] then\n"
	"    redis.call('XADD', 'pchat:stream:' .. node, 'MAXLEN', '~', ARGV[3], '*',\n"
	"      'k', ARGV[4], 'r', ARGV[1], 's', ARGV[5], 'x', ARGV[6], 'e', ARGV[8])\n"
	"    n = n + 1\n"
	"  end\n"
	"end\n"
	"return n\n";

/* ARGV: node, run, ttl_ms, sessions, now_ms */
static const char heartbeat_script[] =
	"redis.call('SET', 'pchat:node:' .. ARGV[1] .. ':alive', ARGV[2], 'PX', ARGV[3])\n"
	"redis.call('SADD', 'pchat:nodes', ARGV[1])\n"
	"redis.call('HSET', 'pchat:node:' .. ARGV[1] .. ':info', 'run', ARGV[2],\n"
	"  'sessions', ARGV[4], 'heartbeat', ARGV[5])\n"
	"return 1\n";

static const char nodes_script[] =
	"local out = {}\n"
	"for _, n in ipairs(redis.call('SMEMBERS', 'pchat:nodes')) do\n"
	"  local i = redis.call('HMGET', 'pchat:node:' .. n .. ':info', 'run', 'sessions',\n"
	"    'heartbeat')\n"
	"  out[#out + 1] = {n, redis.call('EXISTS', 'pchat:node:' .. n .. ':alive'),\n"
	"    i[1] or '0', i[2] or '0', i[3] or '0'}\n"
	"end\n"
	"return out\n";

/* ARGV: node, self, lock_ms */
static const char claim_script[] =
	"if redis.call('SISMEMBER', 'pchat:nodes', ARGV[1]) == 0 then return 0 end\n"
	"if redis.call('EXISTS', 'pchat:node:' .. ARGV[1] .. ':alive') == 1 then return 0 end\n"
	"if redis.call('SET', 'pchat:gc:' .. ARGV[1], ARGV[2], 'NX', 'PX', ARGV[3]) then\n"
	"  return 1\n"
	"end\n"
	"return 0\n";

/* ARGV: node */
static const char forget_script[] =
	"local n = 'pchat:node:' .. ARGV[1]\n"
	"if redis.call('EXISTS', n .. ':alive') == 1 then return 0 end\n"
	"if redis.call('SCARD', n .. ':memberships') > 0 then return 0 end\n"
	"redis.call('DEL', 'pchat:stream:' .. ARGV[1], n .. ':info', 'pchat:gc:' .. ARGV[1])\n"
	"redis.call('SREM', 'pchat:nodes', ARGV[1])\n"
	"return 1\n";

#define EVAL_ARGS_MAX 10

/* EVAL script 0 args...; argv entries are NUL-terminated except the last may be given a
 * length (binary elements). */
static redisReply *eval(pchat_redis_t *r, const char *script, int nargs, const char **args,
		size_t last_len)
{
	const char *argv[EVAL_ARGS_MAX + 3];
	size_t lens[EVAL_ARGS_MAX + 3];
	int i;

	argv[0] = "EVAL";
	argv[1] = script;
	argv[2] = "0";
	for (i = 0; i < nargs; i++)
		argv[3 + i] = args[i];
	for (i = 0; i < nargs + 3; i++)
		lens[i] = strlen(argv[i]);
	if (last_len)
		lens[nargs + 2] = last_len;
	return pchat_redis_command_argv(r, nargs + 3, argv, lens);
}

/* The integer result of a script, or PCHAT_ERR_DOWN. */
static int eval_int(pchat_redis_t *r, const char *script, int nargs, const char **args,
		size_t last_len)
{
	redisReply *rep = eval(r, script, nargs, args, last_len);
	int v = PCHAT_ERR_DOWN;

	if (rep && rep->type == REDIS_REPLY_INTEGER)
		v = (int)rep->integer;
	else if (rep)
		PLOG_ERR("unexpected reply type %d from a presence script\n", rep->type);
	if (rep)
		freeReplyObject(rep);
	return v;
}

static long long reply_ll(const redisReply *e)
{
	if (e->type == REDIS_REPLY_INTEGER)
		return e->integer;
	if (e->type == REDIS_REPLY_STRING)
		return strtoll(e->str, NULL, 10);
	return 0;
}

static int is_string(const redisReply *e)
{
	return e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS;
}

void pchat_presence_session_key(const char *node, long long run, uint32_t slot, uint32_t gen,
		char *out, size_t len)
{
	snprintf(out, len, "%s:%lld:%" PRIu32 ":%" PRIu32, node, run, slot, gen);
}

int pchat_presence_join(pchat_redis_t *r, uint64_t room, const char *guid, const char *node,
		const char *session, const char *user, unsigned roles)
{
	char id[24], rl[16];
	const char *args[] = {id, guid, node, session, user, rl};

	snprintf(id, sizeof(id), "%" PRIu64, room);
	snprintf(rl, sizeof(rl), "%u", roles);
	return eval_int(r, join_script, 6, args, 0);
}

/* Reads {count, [user, roles]...} at e[0] and e[1] of a script's answer: calls cb for each
 * user and returns the count, or PCHAT_ERR_DOWN when the answer is not of that shape. */
static int read_list(redisReply *const *e, pchat_presence_user_f cb, void *ctx)
{
	size_t i;

	if (e[0]->type != REDIS_REPLY_INTEGER || e[1]->type != REDIS_REPLY_ARRAY)
		return PCHAT_ERR_DOWN;
	for (i = 0; i + 1 < e[1]->elements; i += 2)
		if (is_string(e[1]->element[i]))
			cb(ctx, e[1]->element[i]->str, (unsigned)reply_ll(e[1]->element[i + 1]));
	return (int)e[0]->integer;
}

int pchat_presence_join_list(pchat_redis_t *r, uint64_t room, const char *guid,
		const char *node, const char *session, const char *user, unsigned roles, int max,
		pchat_presence_user_f cb, void *ctx, int *users)
{
	char id[24], rl[16], mx[16];
	const char *args[] = {id, guid, node, session, user, rl, mx};
	redisReply *rep;
	int first = PCHAT_ERR_DOWN, n;

	snprintf(id, sizeof(id), "%" PRIu64, room);
	snprintf(rl, sizeof(rl), "%u", roles);
	snprintf(mx, sizeof(mx), "%d", max);
	rep = eval(r, join_list_script, 7, args, 0);
	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3
			&& rep->element[0]->type == REDIS_REPLY_INTEGER
			&& (n = read_list(rep->element + 1, cb, ctx)) >= 0) {
		first = (int)rep->element[0]->integer;
		*users = n;
	} else if (rep) {
		PLOG_ERR("unexpected reply type %d from the join script\n", rep->type);
	}
	if (rep)
		freeReplyObject(rep);
	return first;
}

int pchat_presence_part(pchat_redis_t *r, uint64_t room, const char *guid, const char *node,
		const char *session)
{
	char id[24];
	const char *args[] = {id, guid, node, session};

	int v;

	snprintf(id, sizeof(id), "%" PRIu64, room);
	v = eval_int(r, part_script, 4, args, 0);
	return v == PART_SCRIPT_ABSENT ? PCHAT_ERR_NOT_FOUND : v;
}

int pchat_presence_set_roles(pchat_redis_t *r, uint64_t room, const char *user, unsigned roles)
{
	char id[24], rl[16];
	const char *args[] = {id, user, rl};

	snprintf(id, sizeof(id), "%" PRIu64, room);
	snprintf(rl, sizeof(rl), "%u", roles);
	return eval_int(r, roles_script, 3, args, 0);
}

int pchat_presence_participants(pchat_redis_t *r, uint64_t room, int max,
		pchat_presence_user_f cb, void *ctx)
{
	char id[24], mx[16];
	const char *args[] = {id, mx};
	redisReply *rep;
	int n = PCHAT_ERR_DOWN;

	if (max <= 0) {
		rep = pchat_redis_command(r, "HLEN pchat:room:%" PRIu64 ":roles", room);
		if (rep && rep->type == REDIS_REPLY_INTEGER)
			n = (int)rep->integer;
		if (rep)
			freeReplyObject(rep);
		return n;
	}
	snprintf(id, sizeof(id), "%" PRIu64, room);
	snprintf(mx, sizeof(mx), "%d", max);
	rep = eval(r, participants_script, 2, args, 0);
	if (!rep)
		return PCHAT_ERR_DOWN;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2)
		n = read_list(rep->element, cb, ctx);
	freeReplyObject(rep);
	return n;
}

int pchat_presence_counts(pchat_redis_t *r, const uint64_t *rooms, int n, int *counts)
{
	const char **argv = pchat_malloc((size_t)(n + 3) * sizeof(*argv));
	char (*ids)[24] = pchat_malloc((size_t)(n ? n : 1) * sizeof(*ids));
	redisReply *rep = NULL;
	int i, rc = PCHAT_ERR_DOWN;

	if (argv && ids) {
		argv[0] = "EVAL";
		argv[1] = counts_script;
		argv[2] = "0";
		for (i = 0; i < n; i++) {
			snprintf(ids[i], sizeof(ids[i]), "%" PRIu64, rooms[i]);
			argv[3 + i] = ids[i];
		}
		rep = pchat_redis_command_argv(r, n + 3, argv, NULL);
	}
	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == (size_t)n) {
		for (i = 0; i < n; i++)
			counts[i] = (int)reply_ll(rep->element[i]);
		rc = 0;
	}
	if (rep)
		freeReplyObject(rep);
	pchat_free(argv);
	pchat_free(ids);
	return rc;
}

int pchat_presence_sessions(pchat_redis_t *r, uint64_t room, pchat_presence_session_f cb,
		void *ctx)
{
	redisReply *rep = pchat_redis_command(r, "HGETALL pchat:room:%" PRIu64 ":sessions", room);
	int n = PCHAT_ERR_DOWN;
	size_t i;

	if (!rep)
		return n;
	if (rep->type == REDIS_REPLY_ARRAY) {
		for (i = 0; i + 1 < rep->elements; i += 2)
			if (is_string(rep->element[i]) && is_string(rep->element[i + 1]))
				cb(ctx, rep->element[i]->str, rep->element[i + 1]->str);
		n = (int)(rep->elements / 2);
	}
	freeReplyObject(rep);
	return n;
}

/* ------------------------------------------------------------------ queues */

static int relay_to(pchat_redis_t *r, const char *to, const char *self,
		const pchat_relay_t *rel, long max_len)
{
	char id[24], ml[24], kind[2] = {(char)rel->kind, 0}, seq[24];
	const char *args[] = {id, self, ml, kind, seq, rel->except ? rel->except : "", to,
		rel->element ? rel->element : ""};

	snprintf(id, sizeof(id), "%" PRIu64, rel->room);
	snprintf(ml, sizeof(ml), "%ld", max_len);
	snprintf(seq, sizeof(seq), "%" PRIu64, rel->seq);
	/* the element goes last, with its length (binary); an empty one is sent as "" (a zero
	 * length would mean "use strlen") */
	return eval_int(r, relay_script, 8, args, rel->element ? rel->len : 0);
}

int pchat_presence_relay(pchat_redis_t *r, const char *self, const pchat_relay_t *rel,
		long max_len)
{
	return relay_to(r, "room", self, rel, max_len);
}

int pchat_presence_broadcast(pchat_redis_t *r, const char *self, const pchat_relay_t *rel,
		long max_len)
{
	return relay_to(r, "pool", self, rel, max_len);
}

int pchat_presence_queue_end(pchat_redis_t *r, const char *node, char *position)
{
	redisReply *rep = pchat_redis_command(r, "XREVRANGE pchat:stream:%s + - COUNT 1", node);
	int rc = PCHAT_ERR_DOWN;

	if (!rep)
		return rc;
	if (rep->type == REDIS_REPLY_ARRAY) {
		rc = 0;
		snprintf(position, PCHAT_STREAM_POS_MAX, "0-0");
		if (rep->elements == 1 && rep->element[0]->type == REDIS_REPLY_ARRAY
				&& rep->element[0]->elements == 2 && is_string(rep->element[0]->element[0]))
			snprintf(position, PCHAT_STREAM_POS_MAX, "%s", rep->element[0]->element[0]->str);
	}
	freeReplyObject(rep);
	return rc;
}

/* Fills rel from the fields of one stream entry; 0 when it is complete. */
static int parse_entry(const redisReply *fields, pchat_relay_t *rel)
{
	int have = 0;
	size_t i;

	memset(rel, 0, sizeof(*rel));
	rel->except = "";
	for (i = 0; i + 1 < fields->elements; i += 2) {
		const redisReply *k = fields->element[i], *v = fields->element[i + 1];

		if (!is_string(k) || !is_string(v) || k->len != 1)
			continue;
		switch (k->str[0]) {
			case 'k':
				rel->kind = (pchat_relay_kind_t)v->str[0];
				have |= 1;
				break;
			case 'r':
				rel->room = strtoull(v->str, NULL, 10);
				have |= 2;
				break;
			case 's':
				rel->seq = strtoull(v->str, NULL, 10);
				break;
			case 'x':
				rel->except = v->str;
				break;
			case 'e':
				rel->element = v->str;
				rel->len = v->len;
				break;
		}
	}
	if (have != 3 || (rel->room == 0 && rel->kind != PCHAT_RELAY_POLICY))
		return -1;
	switch (rel->kind) {
		case PCHAT_RELAY_POST:
			return rel->seq && rel->element ? 0 : -1;
		case PCHAT_RELAY_NOTICE:
			return rel->element ? 0 : -1;
		case PCHAT_RELAY_REFRESH:
		case PCHAT_RELAY_CATEGORY:
			return 0;
		case PCHAT_RELAY_POLICY:
			return rel->element ? 0 : -1;
	}
	return -1;
}

int pchat_presence_receive(pchat_redis_t *r, const char *node, char *position, int block_ms,
		int count, pchat_relay_f cb, void *ctx)
{
	redisReply *rep, *entries;
	pchat_relay_t rel;
	int n = 0;
	size_t i;

	rep = pchat_redis_command(r, "XREAD COUNT %d BLOCK %d STREAMS pchat:stream:%s %s", count,
			block_ms, node, position);
	if (!rep)
		return PCHAT_ERR_DOWN;
	/* nil on timeout; else [[stream, [[id, [field, value, ...]], ...]]] */
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1
			&& rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2
			&& rep->element[0]->element[1]->type == REDIS_REPLY_ARRAY) {
		entries = rep->element[0]->element[1];
		for (i = 0; i < entries->elements; i++) {
			const redisReply *e = entries->element[i];

			if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !is_string(e->element[0]))
				continue;
			snprintf(position, PCHAT_STREAM_POS_MAX, "%s", e->element[0]->str);
			if (e->element[1]->type == REDIS_REPLY_ARRAY && parse_entry(e->element[1], &rel) == 0) {
				cb(ctx, &rel);
				n++;
			} else {
				PLOG_WARN("entry %s of pchat:stream:%s is malformed; skipped\n",
						e->element[0]->str, node);
			}
		}
	}
	freeReplyObject(rep);
	return n;
}

/* ------------------------------------------------------------------ nodes */

int pchat_presence_heartbeat(pchat_redis_t *r, const char *node, long long run, int ttl_ms,
		int sessions, long long now_ms)
{
	char rn[24], ttl[16], ns[16], now[24];
	const char *args[] = {node, rn, ttl, ns, now};

	snprintf(rn, sizeof(rn), "%lld", run);
	snprintf(ttl, sizeof(ttl), "%d", ttl_ms);
	snprintf(ns, sizeof(ns), "%d", sessions);
	snprintf(now, sizeof(now), "%lld", now_ms);
	return eval_int(r, heartbeat_script, 5, args, 0) == 1 ? 0 : PCHAT_ERR_DOWN;
}

int pchat_presence_nodes(pchat_redis_t *r, pchat_node_f cb, void *ctx)
{
	redisReply *rep = eval(r, nodes_script, 0, NULL, 0);
	pchat_node_info_t info;
	int n = 0;
	size_t i;

	if (!rep)
		return PCHAT_ERR_DOWN;
	for (i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
		const redisReply *e = rep->element[i];

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 5 || !is_string(e->element[0]))
			continue;
		info.node = e->element[0]->str;
		info.alive = reply_ll(e->element[1]) == 1;
		info.run = reply_ll(e->element[2]);
		info.sessions = (int)reply_ll(e->element[3]);
		info.heartbeat_ms = reply_ll(e->element[4]);
		cb(ctx, &info);
		n++;
	}
	freeReplyObject(rep);
	return n;
}

int pchat_presence_claim_dead(pchat_redis_t *r, const char *node, const char *self, int lock_ms)
{
	char ms[16];
	const char *args[] = {node, self, ms};

	snprintf(ms, sizeof(ms), "%d", lock_ms);
	return eval_int(r, claim_script, 3, args, 0) == 1;
}

int pchat_presence_memberships(pchat_redis_t *r, const char *node, pchat_membership_f cb,
		void *ctx)
{
	redisReply *rep = pchat_redis_command(r, "SMEMBERS pchat:node:%s:memberships", node);
	int n = 0;
	size_t i;

	if (!rep)
		return PCHAT_ERR_DOWN;
	for (i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
		/* "<room>|<guid>|<session>|<user>": the user comes last, whatever it contains */
		char *m = rep->element[i]->str, *guid, *session, *user, *end;
		uint64_t room;

		if (!is_string(rep->element[i]) || !(guid = strchr(m, '|'))
				|| !(session = strchr(guid + 1, '|')) || !(user = strchr(session + 1, '|')))
			continue;
		room = strtoull(m, &end, 10);
		if (end != guid || room == 0)
			continue;
		*guid++ = *session++ = *user++ = '\0';
		cb(ctx, room, guid, session, user);
		n++;
	}
	freeReplyObject(rep);
	return n;
}

int pchat_presence_forget_node(pchat_redis_t *r, const char *node)
{
	const char *args[] = {node};

	return eval_int(r, forget_script, 1, args, 0) == 1;
}
