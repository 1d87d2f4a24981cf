/*
 * The ordering of a room's posts on one node: in sequence, once, gaps filled from the store in
 * time, and nothing held back for ever.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pchat_order.h"

#define GAP_MS 100
#define MAX_WAITING 5
#define MAX_WAITING_BYTES 4096

/* One room (id 7) that this node has members in, unless absent; the store holds posts
 * 1..stored except those in missing. */
typedef struct fake {
	int absent;
	uint64_t delivered;
	int store_down;
	uint64_t stored;
	uint64_t missing;      /* a post the store lacks (0: none) */
	char log[65536];       /* delivered posts: "seq:element " */
	int fills;             /* fill calls */
} fake_t;

static fake_t F;

static int delivered(void *ctx, uint64_t room, uint64_t *seq)
{
	(void)ctx;
	if (F.absent || room != 7)
		return -1;
	*seq = F.delivered;
	return 0;
}

static void deliver(void *ctx, uint64_t room, uint64_t seq, const char *element, size_t len)
{
	char entry[64];

	(void)ctx;
	assert_int_equal(room, 7);
	assert_true(seq > F.delivered); /* never twice, never backwards */
	F.delivered = seq;
	snprintf(entry, sizeof(entry), "%llu:%.*s ", (unsigned long long)seq, (int)len, element);
	strcat(F.log, entry);
}

static int fill(void *ctx, uint64_t room, uint64_t after, uint64_t before, int limit)
{
	uint64_t s;
	int n = 0;

	F.fills++;
	if (F.store_down)
		return -1;
	for (s = after + 1; s < before && s <= F.stored && n < limit; s++) {
		if (s == F.missing)
			continue;
		deliver(ctx, room, s, "db", 2);
		n++;
	}
	return n;
}

static const pchat_order_ops_t ops = {delivered, deliver, fill};

static int setup(void **state)
{
	memset(&F, 0, sizeof(F));
	F.stored = 100;
	*state = pchat_order_new(&ops, NULL, GAP_MS, MAX_WAITING, MAX_WAITING_BYTES);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	pchat_order_free(*state);
	return 0;
}

static void post(pchat_order_t *o, uint64_t seq, int64_t now)
{
	pchat_order_post(o, 7, seq, "live", 4, now);
}

static void in_order_goes_out_at_once(void **state)
{
	pchat_order_t *o = *state;

	post(o, 1, 0);
	post(o, 2, 0);
	assert_string_equal(F.log, "1:live 2:live ");
	assert_int_equal(pchat_order_next_timeout(o, 0), -1);
}

static void early_posts_wait_for_their_predecessors(void **state)
{
	pchat_order_t *o = *state;
	int rooms, posts;

	post(o, 3, 0);
	post(o, 2, 10);
	assert_string_equal(F.log, "");
	pchat_order_waiting(o, &rooms, &posts);
	assert_int_equal(rooms, 1);
	assert_int_equal(posts, 2);
	assert_int_equal(pchat_order_next_timeout(o, 10), GAP_MS - 10);
	post(o, 1, 20);
	assert_string_equal(F.log, "1:live 2:live 3:live ");
	assert_int_equal(pchat_order_stats(o)->waited, 2);
	assert_int_equal(pchat_order_next_timeout(o, 20), -1);
	assert_int_equal(F.fills, 0);
}

static void duplicates_are_dropped(void **state)
{
	pchat_order_t *o = *state;

	post(o, 1, 0);
	post(o, 1, 0);  /* delivered already */
	post(o, 3, 0);
	post(o, 3, 0);  /* waiting already */
	post(o, 2, 0);
	assert_string_equal(F.log, "1:live 2:live 3:live ");
	assert_int_equal(pchat_order_stats(o)->duplicates, 2);
}

static void a_gap_is_filled_from_the_store_when_its_time_is_up(void **state)
{
	pchat_order_t *o = *state;

	post(o, 1, 0);
	post(o, 4, 0);
	pchat_order_tick(o, GAP_MS - 1);
	assert_string_equal(F.log, "1:live ");
	pchat_order_tick(o, GAP_MS);
	assert_string_equal(F.log, "1:live 2:db 3:db 4:live ");
	assert_int_equal(pchat_order_stats(o)->filled, 2);
	/* the relays of 2 and 3 arrive late: duplicates */
	post(o, 2, GAP_MS + 1);
	post(o, 3, GAP_MS + 1);
	assert_string_equal(F.log, "1:live 2:db 3:db 4:live ");
	assert_int_equal(pchat_order_stats(o)->duplicates, 2);
}

static void what_the_store_lacks_is_skipped(void **state)
{
	pchat_order_t *o = *state;

	F.missing = 2;
	post(o, 1, 0);
	post(o, 3, 0);
	pchat_order_tick(o, GAP_MS);
	assert_string_equal(F.log, "1:live 3:live ");
	assert_int_equal(pchat_order_stats(o)->skipped, 1);
	/* a store that cannot answer does not hold the room back either */
	F.store_down = 1;
	post(o, 6, GAP_MS);
	pchat_order_tick(o, 2 * GAP_MS);
	assert_string_equal(F.log, "1:live 3:live 6:live ");
	assert_int_equal(pchat_order_stats(o)->skipped, 3);
}

static void too_many_waiting_posts_fill_the_gap_at_once(void **state)
{
	pchat_order_t *o = *state;
	uint64_t s;

	for (s = 2; s <= MAX_WAITING + 2; s++)
		post(o, s, 0);
	assert_string_equal(F.log, "1:db 2:live 3:live 4:live 5:live 6:live 7:live ");
}

static void posts_of_a_room_without_members_are_dropped(void **state)
{
	pchat_order_t *o = *state;
	int rooms, posts;

	post(o, 5, 0);
	F.absent = 1;
	post(o, 6, 0);
	pchat_order_waiting(o, &rooms, &posts);
	assert_int_equal(rooms, 0);
	assert_int_equal(posts, 0);
	pchat_order_tick(o, 10 * GAP_MS);
	assert_string_equal(F.log, "");
}

static void catch_up_delivers_what_the_store_has(void **state)
{
	pchat_order_t *o = *state;

	F.stored = 1203;
	F.delivered = 1;
	post(o, 1205, 0);
	pchat_order_catch_up(o, 7, 0);
	assert_int_equal(F.delivered, 1203);
	assert_int_equal(F.fills, 3); /* batches of 500, the last one short */
	F.stored = 1205;
	pchat_order_tick(o, GAP_MS);
	assert_int_equal(F.delivered, 1205);
	assert_non_null(strstr(F.log, "1204:db 1205:live "));
}

/* A gap is filled in batches: one larger than a batch, or than an int can count, is filled as
 * far as the store has posts, and only the rest is skipped. */
static void a_wide_gap_is_filled_batch_by_batch(void **state)
{
	pchat_order_t *o = *state;
	const uint64_t far = 1 + (1ULL << 32) + 3;

	F.stored = 1203;
	F.delivered = 1;
	post(o, 1205, 0);
	pchat_order_tick(o, GAP_MS);
	assert_int_equal(F.fills, 3); /* batches of 500, the last one short */
	assert_int_equal(pchat_order_stats(o)->filled, 1202);
	assert_int_equal(pchat_order_stats(o)->skipped, 1);
	assert_int_equal(F.delivered, 1205);
	post(o, far, GAP_MS);
	F.stored = 1300;
	pchat_order_tick(o, 2 * GAP_MS);
	assert_int_equal(pchat_order_stats(o)->filled, 1202 + 95);
	assert_int_equal(F.delivered, far);
}

/* Big posts waiting fill their gap before there are too many of them. */
static void too_many_waiting_bytes_fill_the_gap_at_once(void **state)
{
	pchat_order_t *o = *state;
	static char big[MAX_WAITING_BYTES / 3 + 1];
	int rooms, posts;

	memset(big, 'x', sizeof(big));
	pchat_order_post(o, 7, 2, big, sizeof(big), 0);
	pchat_order_post(o, 7, 3, big, sizeof(big), 0);
	assert_int_equal(F.delivered, 0);
	pchat_order_post(o, 7, 4, big, sizeof(big), 0); /* the third is over the bytes */
	assert_int_equal(F.fills, 1);
	assert_int_equal(F.delivered, 4);
	assert_int_equal(pchat_order_stats(o)->filled, 1);
	pchat_order_waiting(o, &rooms, &posts);
	assert_int_equal(rooms, 0);
	assert_int_equal(posts, 0);
	/* what was delivered no longer counts: the next early post waits again */
	pchat_order_post(o, 7, 6, big, sizeof(big), 0);
	pchat_order_post(o, 7, 7, big, sizeof(big), 0);
	assert_int_equal(F.fills, 1);
	pchat_order_waiting(o, &rooms, &posts);
	assert_int_equal(posts, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(in_order_goes_out_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(early_posts_wait_for_their_predecessors, setup,
				teardown),
		cmocka_unit_test_setup_teardown(duplicates_are_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(a_gap_is_filled_from_the_store_when_its_time_is_up,
				setup, teardown),
		cmocka_unit_test_setup_teardown(what_the_store_lacks_is_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(too_many_waiting_posts_fill_the_gap_at_once, setup,
				teardown),
		cmocka_unit_test_setup_teardown(too_many_waiting_bytes_fill_the_gap_at_once, setup,
				teardown),
		cmocka_unit_test_setup_teardown(posts_of_a_room_without_members_are_dropped, setup,
				teardown),
		cmocka_unit_test_setup_teardown(catch_up_delivers_what_the_store_has, setup, teardown),
		cmocka_unit_test_setup_teardown(a_wide_gap_is_filled_batch_by_batch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
