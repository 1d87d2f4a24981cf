/*
 * The pool's presence and relay queues (pchat_presence) against a real Redis: the lab's, named by
 * PCHAT_REDIS_HOST and PCHAT_REDIS_PORT, in database 9 so the lab's own nodes never see the
 * made-up nodes of these tests. Run by tests/integration/test_backends.py.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "pchat_presence.h"

#define TEST_DB 9
#define ROOM 4242
#define GUID "00000000-0000-0000-0000-000000004242"

/* A port from the environment; main() skips the tests when it is not set. */
static unsigned int env_port(const char *name)
{
	const char *v = getenv(name);

	return v ? (unsigned int)atoi(v) : 0;
}

static int setup(void **state)
{
	pchat_redis_conf_t c = {0};
	pchat_redis_t *r;
	redisReply *rep;

	c.host = getenv("PCHAT_REDIS_HOST");
	c.port = env_port("PCHAT_REDIS_PORT");
	c.db = TEST_DB;
	c.timeout_ms = 2000;
	c.retry_ms = 1000;
	r = pchat_redis_new(&c, NULL);
	if (!r)
		return -1;
	rep = pchat_redis_command(r, "FLUSHDB");
	if (!rep) {
		pchat_redis_free(r);
		return -1;
	}
	freeReplyObject(rep);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	pchat_redis_free(*state);
	return 0;
}

typedef struct seen_users {
	int n;
	char users[8][64];
	unsigned roles[8];
} seen_users_t;

static void see_user(void *ctx, const char *user, unsigned roles)
{
	seen_users_t *s = ctx;

	assert_true(s->n < 8);
	snprintf(s->users[s->n], sizeof(s->users[0]), "%s", user);
	s->roles[s->n++] = roles;
}

static int has_user(const seen_users_t *s, const char *user, unsigned roles)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->users[i], user) == 0 && s->roles[i] == roles)
			return 1;
	return 0;
}

static void joins_and_parts_count_users_pool_wide(void **state)
{
	pchat_redis_t *r = *state;
	seen_users_t seen = {0};

	assert_int_equal(pchat_presence_join(r, ROOM, GUID, "a", "a:1:0:1", "sip:u1@t", 0), 1);
	/* the same user on another node is not new in the room */
	assert_int_equal(pchat_presence_join(r, ROOM, GUID, "b", "b:1:0:1", "sip:u1@t", 0), 0);
	/* publishing a session again changes nothing */
	assert_int_equal(pchat_presence_join(r, ROOM, GUID, "a", "a:1:0:1", "sip:u1@t", 0), 0);
	assert_int_equal(pchat_presence_join(r, ROOM, GUID, "b", "b:1:1:1", "sip:u2@t", 2), 1);
	assert_int_equal(pchat_presence_participants(r, ROOM, 0, NULL, NULL), 2);
	assert_int_equal(pchat_presence_participants(r, ROOM, 10, see_user, &seen), 2);
	{
		uint64_t rooms[] = {ROOM + 1, ROOM, ROOM + 2};
		int counts[3] = {-1, -1, -1};

		assert_int_equal(pchat_presence_counts(r, rooms, 3, counts), 0);
		assert_int_equal(counts[0], 0);
		assert_int_equal(counts[1], 2);
		assert_int_equal(counts[2], 0);
	}
	assert_true(has_user(&seen, "sip:u1@t", 0));
	assert_true(has_user(&seen, "sip:u2@t", 2));
	assert_int_equal(pchat_presence_set_roles(r, ROOM, "sip:u1@t", 1), 1);
	assert_int_equal(pchat_presence_set_roles(r, ROOM, "sip:nobody@t", 1), 0);

	assert_int_equal(pchat_presence_part(r, ROOM, GUID, "a", "a:1:0:1"), 0);
	assert_int_equal(pchat_presence_part(r, ROOM, GUID, "a", "a:1:0:1"), PCHAT_ERR_NOT_FOUND);
	assert_int_equal(pchat_presence_part(r, ROOM, GUID, "b", "b:1:0:1"), 1);
	assert_int_equal(pchat_presence_participants(r, ROOM, 0, NULL, NULL), 1);
	assert_int_equal(pchat_presence_part(r, ROOM, GUID, "b", "b:1:1:1"), 1);
	assert_int_equal(pchat_presence_participants(r, ROOM, 0, NULL, NULL), 0);
}

static void big_rooms_list_a_sample(void **state)
{
	pchat_redis_t *r = *state;
	seen_users_t seen = {0};
	char session[32], user[32];
	int i, j;

	for (i = 0; i < 20; i++) {
		snprintf(session, sizeof(session), "a:1:%d:1", i);
		snprintf(user, sizeof(user), "sip:u%d@t", i);
		pchat_presence_join(r, ROOM, GUID, "a", session, user, 0);
	}
	assert_int_equal(pchat_presence_participants(r, ROOM, 5, see_user, &seen), 20);
	assert_int_equal(seen.n, 5);
	for (i = 0; i < seen.n; i++)
		for (j = 0; j < i; j++)
			assert_string_not_equal(seen.users[i], seen.users[j]);
}

/* A join that lists the room's users answers as a join and participants one after the other
 * would: the user's first session counts, the joining user is among the listed, a big room is
 * sampled, and a session joined twice is listed without being counted twice. */
static void a_join_lists_the_room_in_the_same_round_trip(void **state)
{
	pchat_redis_t *r = *state;
	seen_users_t seen = {0};
	char session[32], user[32];
	int i, users = -1;

	assert_int_equal(pchat_presence_join_list(r, ROOM, GUID, "a", "a:1:0:1", "sip:u1@t", 2, 5,
			see_user, &seen, &users), 1);
	assert_int_equal(users, 1);
	assert_true(has_user(&seen, "sip:u1@t", 2));
	seen.n = 0;
	assert_int_equal(pchat_presence_join_list(r, ROOM, GUID, "b", "b:1:0:1", "sip:u1@t", 2, 5,
			see_user, &seen, &users), 0);
	assert_int_equal(users, 1);
	assert_int_equal(pchat_presence_participants(r, ROOM, 0, NULL, NULL), 1);
	for (i = 2; i <= 9; i++) {
		snprintf(session, sizeof(session), "a:1:%d:1", i);
		snprintf(user, sizeof(user), "sip:u%d@t", i);
		seen.n = 0;
		assert_int_equal(pchat_presence_join_list(r, ROOM, GUID, "a", session, user, 0, 5,
				see_user, &seen, &users), 1);
		assert_int_equal(users, i);
		assert_int_equal(seen.n, i < 5 ? i : 5);
	}
	seen.n = 0;
	assert_int_equal(pchat_presence_join_list(r, ROOM, GUID, "a", "a:1:0:1", "sip:u1@t", 2, 5,
			see_user, &seen, &users), 0);
	assert_int_equal(users, 9);
}

typedef struct received {
	int n;
	pchat_relay_t rel[4];
	char element[4][128];
	char except[4][64];
} received_t;

static void receive_one(void *ctx, const pchat_relay_t *rel)
{
	received_t *got = ctx;

	assert_true(got->n < 4);
	got->rel[got->n] = *rel;
	memcpy(got->element[got->n], rel->element ? rel->element : "", rel->element ? rel->len : 0);
	snprintf(got->except[got->n], sizeof(got->except[0]), "%s", rel->except);
	got->n++;
}

static void relays_reach_the_other_nodes_of_the_room_in_order(void **state)
{
	static const char element[] = "<grpchat id=\"grpchat\"><chat>Grüße &amp; \"quotes\"</chat>"
								  "</grpchat>";
	pchat_redis_t *r = *state;
	char pos_b[PCHAT_STREAM_POS_MAX], pos_c[PCHAT_STREAM_POS_MAX];
	pchat_relay_t post = {PCHAT_RELAY_POST, ROOM, 17, NULL, element, sizeof(element) - 1};
	pchat_relay_t notice = {PCHAT_RELAY_NOTICE, ROOM, 0, "sip:u1@t", "<ntc/>", 6};
	pchat_relay_t refresh = {PCHAT_RELAY_REFRESH, ROOM, 0, NULL, NULL, 0};
	received_t got = {0};

	pchat_presence_join(r, ROOM, GUID, "a", "a:1:0:1", "sip:u1@t", 0);
	pchat_presence_join(r, ROOM, GUID, "b", "b:1:0:1", "sip:u2@t", 0);
	pchat_presence_join(r, ROOM, GUID, "c", "c:1:0:1", "sip:u3@t", 0);
	assert_int_equal(pchat_presence_queue_end(r, "b", pos_b), 0);
	assert_string_equal(pos_b, "0-0");
	assert_int_equal(pchat_presence_queue_end(r, "c", pos_c), 0);

	/* a node relays to the others, never to itself */
	assert_int_equal(pchat_presence_relay(r, "a", &post, 1000), 2);
	assert_int_equal(pchat_presence_relay(r, "a", &notice, 1000), 2);
	assert_int_equal(pchat_presence_relay(r, "a", &refresh, 1000), 2);
	/* a node that left the room gets nothing more */
	pchat_presence_part(r, ROOM, GUID, "c", "c:1:0:1");
	assert_int_equal(pchat_presence_relay(r, "a", &post, 1000), 1);

	assert_int_equal(pchat_presence_receive(r, "b", pos_b, 100, 3, receive_one, &got), 3);
	assert_int_equal(got.rel[0].kind, PCHAT_RELAY_POST);
	assert_int_equal(got.rel[0].room, ROOM);
	assert_int_equal(got.rel[0].seq, 17);
	assert_int_equal(got.rel[0].len, sizeof(element) - 1);
	assert_memory_equal(got.element[0], element, sizeof(element) - 1);
	assert_int_equal(got.rel[1].kind, PCHAT_RELAY_NOTICE);
	assert_string_equal(got.except[1], "sip:u1@t");
	assert_string_equal(got.element[1], "<ntc/>");
	assert_int_equal(got.rel[2].kind, PCHAT_RELAY_REFRESH);
	/* the remembered position goes on where the last read stopped */
	got.n = 0;
	assert_int_equal(pchat_presence_receive(r, "b", pos_b, 100, 10, receive_one, &got), 1);
	assert_int_equal(got.rel[0].seq, 17);
	assert_int_equal(pchat_presence_receive(r, "b", pos_b, 50, 10, receive_one, &got), 0);
	got.n = 0;
	assert_int_equal(pchat_presence_receive(r, "c", pos_c, 100, 10, receive_one, &got), 3);
}

typedef struct node_list {
	int n;
	char names[4][16];
	int alive[4];
} node_list_t;

static void see_node(void *ctx, const pchat_node_info_t *node)
{
	node_list_t *l = ctx;

	assert_true(l->n < 4);
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", node->node);
	l->alive[l->n++] = node->alive;
	if (strcmp(node->node, "a") == 0) {
		assert_int_equal(node->run, 1234);
		assert_int_equal(node->sessions, 7);
		assert_int_equal(node->heartbeat_ms, 99);
	}
}

typedef struct membership_seen {
	int n;
	char session[4][32];
	char user[4][32];
} membership_seen_t;

static void see_membership(void *ctx, uint64_t room, const char *guid, const char *session,
		const char *user)
{
	membership_seen_t *m = ctx;

	assert_int_equal(room, ROOM);
	assert_string_equal(guid, GUID);
	assert_true(m->n < 4);
	snprintf(m->session[m->n], sizeof(m->session[0]), "%s", session);
	snprintf(m->user[m->n++], sizeof(m->user[0]), "%s", user);
}

static void dead_nodes_are_claimed_once_and_forgotten(void **state)
{
	pchat_redis_t *r = *state;
	membership_seen_t m = {0};
	node_list_t nodes = {0};

	assert_int_equal(pchat_presence_heartbeat(r, "a", 1234, 300, 7, 99), 0);
	assert_int_equal(pchat_presence_heartbeat(r, "b", 5678, 60000, 1, 100), 0);
	pchat_presence_join(r, ROOM, GUID, "a", "a:1234:0:1", "sip:odd|user@t", 0);
	assert_int_equal(pchat_presence_nodes(r, see_node, &nodes), 2);
	assert_int_equal(nodes.alive[0] + nodes.alive[1], 2);
	assert_int_equal(pchat_presence_claim_dead(r, "a", "b", 5000), 0); /* alive */

	usleep(400 * 1000);
	nodes.n = 0;
	pchat_presence_nodes(r, see_node, &nodes);
	assert_int_equal(nodes.alive[0] + nodes.alive[1], 1);
	assert_int_equal(pchat_presence_claim_dead(r, "a", "b", 5000), 1);
	assert_int_equal(pchat_presence_claim_dead(r, "a", "c", 5000), 0); /* b cleans up */
	assert_int_equal(pchat_presence_claim_dead(r, "x", "b", 5000), 0); /* not in the pool */

	assert_int_equal(pchat_presence_memberships(r, "a", see_membership, &m), 1);
	assert_string_equal(m.session[0], "a:1234:0:1");
	assert_string_equal(m.user[0], "sip:odd|user@t");
	assert_int_equal(pchat_presence_forget_node(r, "a"), 0); /* memberships left */
	assert_int_equal(pchat_presence_part(r, ROOM, GUID, "a", m.session[0]), 1);
	assert_int_equal(pchat_presence_memberships(r, "a", see_membership, &m), 0);
	assert_int_equal(pchat_presence_forget_node(r, "a"), 1);
	assert_int_equal(pchat_presence_forget_node(r, "b"), 0); /* alive */
	nodes.n = 0;
	assert_int_equal(pchat_presence_nodes(r, see_node, &nodes), 1);
	assert_string_equal(nodes.names[0], "b");
}

static void unreachable_redis_answers_down(void **state)
{
	pchat_redis_conf_t c = {0};
	pchat_redis_t *r;
	char pos[PCHAT_STREAM_POS_MAX] = "0-0";
	int users = -1;

	(void)state;
	c.host = "127.0.0.1";
	c.port = 1;
	c.timeout_ms = 200;
	c.retry_ms = 1000;
	r = pchat_redis_new(&c, NULL);
	assert_int_equal(pchat_presence_join(r, ROOM, GUID, "a", "a:1:0:1", "sip:u@t", 0),
			PCHAT_ERR_DOWN);
	assert_int_equal(pchat_presence_join_list(r, ROOM, GUID, "a", "a:1:0:1", "sip:u@t", 0, 5,
			see_user, NULL, &users), PCHAT_ERR_DOWN);
	assert_int_equal(users, -1);
	assert_int_equal(pchat_presence_participants(r, ROOM, 5, see_user, NULL),
			PCHAT_ERR_DOWN);
	assert_int_equal(pchat_presence_receive(r, "a", pos, 10, 10, receive_one, NULL),
			PCHAT_ERR_DOWN);
	pchat_redis_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(joins_and_parts_count_users_pool_wide, setup, teardown),
		cmocka_unit_test_setup_teardown(big_rooms_list_a_sample, setup, teardown),
		cmocka_unit_test_setup_teardown(a_join_lists_the_room_in_the_same_round_trip, setup,
				teardown),
		cmocka_unit_test_setup_teardown(relays_reach_the_other_nodes_of_the_room_in_order, setup,
				teardown),
		cmocka_unit_test_setup_teardown(dead_nodes_are_claimed_once_and_forgotten, setup,
				teardown),
		cmocka_unit_test(unreachable_redis_answers_down),
	};

	if (!getenv("PCHAT_REDIS_PORT")) {
		fprintf(stderr, "set the PCHAT_REDIS_* variables of a lab.env\n");
		return 2;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
