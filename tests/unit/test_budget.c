/* What one client and one node may hold (pchat_budget.c): a session's send window in INFOs and
 * bytes (what to send, queue or refuse, when to ask for a drain), a node's byte budget, a user's
 * request rate; and the Persistent Chat policy's order of rules (pchat_authz.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pchat_authz.h"
#include "pchat_budget.h"

static const pchat_window_limits_t limits = {2, 3, 1000};

static void window_sends_then_queues_then_overflows(void **state)
{
	pchat_window_t w = {0};

	(void)state;
	assert_int_equal(pchat_window_offer(&w, &limits, 100), PCHAT_WINDOW_SEND);
	assert_int_equal(pchat_window_sent(&w, 100), 100);
	assert_int_equal(pchat_window_offer(&w, &limits, 100), PCHAT_WINDOW_SEND);
	pchat_window_sent(&w, 100);
	/* two unanswered: the window is full, the next ones wait, in order */
	assert_int_equal(pchat_window_offer(&w, &limits, 100), PCHAT_WINDOW_WAIT);
	pchat_window_queued(&w, 100);
	pchat_window_queued(&w, 100);
	pchat_window_queued(&w, 100);
	/* three waiting: the client does not keep up */
	assert_int_equal(pchat_window_offer(&w, &limits, 10), PCHAT_WINDOW_OVER);
	assert_int_equal(w.bytes, 500);
}

static void window_counts_bytes_not_just_infos(void **state)
{
	pchat_window_t w = {0};

	(void)state;
	pchat_window_sent(&w, 600);
	assert_int_equal(pchat_window_offer(&w, &limits, 300), PCHAT_WINDOW_SEND);
	pchat_window_sent(&w, 300);
	/* 900 of 1000 bytes held: a 200-byte INFO would go over, whatever the counts say */
	assert_int_equal(pchat_window_offer(&w, &limits, 200), PCHAT_WINDOW_OVER);
	assert_int_equal(pchat_window_answered(&w, 600), 600);
	assert_int_equal(pchat_window_offer(&w, &limits, 200), PCHAT_WINDOW_SEND);
}

static void a_big_reply_goes_out_alone(void **state)
{
	pchat_window_t w = {0};

	(void)state;
	/* a reply bigger than the whole budget is not a reason to end the session */
	assert_int_equal(pchat_window_offer(&w, &limits, 5000), PCHAT_WINDOW_SEND);
	pchat_window_sent(&w, 5000);
	assert_int_equal(pchat_window_offer(&w, &limits, 10), PCHAT_WINDOW_OVER);
}

static void answers_let_the_queue_drain(void **state)
{
	pchat_window_t w = {0};

	(void)state;
	pchat_window_sent(&w, 100);
	pchat_window_sent(&w, 100);
	pchat_window_queued(&w, 50);
	assert_false(pchat_window_may_drain(&w, &limits));
	pchat_window_answered(&w, 100);
	assert_true(pchat_window_may_drain(&w, &limits));
	assert_int_equal(pchat_window_dequeued(&w, 50), 50);
	pchat_window_sent(&w, 50);
	assert_false(pchat_window_may_drain(&w, &limits));
	assert_int_equal(w.pending, 2);
	assert_int_equal(w.queued, 0);
	assert_int_equal(w.bytes, 150);
	/* releases never go below zero, whatever a late callback says */
	pchat_window_answered(&w, 1000);
	pchat_window_answered(&w, 1000);
	pchat_window_answered(&w, 1000);
	assert_int_equal(w.pending, 0);
	assert_int_equal(w.bytes, 0);
}

/* The answers come to processes that must not send: they ask a sender to drain, once until it
 * starts, and again when the ask could not be made. */
static void an_answer_asks_for_one_drain(void **state)
{
	pchat_window_t w = {0};

	(void)state;
	pchat_window_sent(&w, 100);
	pchat_window_sent(&w, 100);
	/* nothing waits: an answer asks nothing */
	pchat_window_answered(&w, 100);
	assert_false(pchat_window_ask_drain(&w, &limits));
	pchat_window_sent(&w, 100);
	pchat_window_queued(&w, 100);
	pchat_window_queued(&w, 100);
	/* the window is full: nothing may go out yet */
	assert_false(pchat_window_ask_drain(&w, &limits));
	pchat_window_answered(&w, 100);
	assert_true(pchat_window_ask_drain(&w, &limits));
	/* a second answer before the sender starts does not ask again */
	pchat_window_answered(&w, 100);
	assert_false(pchat_window_ask_drain(&w, &limits));
	/* the sender starts and sends while the window allows */
	pchat_window_drain_started(&w);
	while (pchat_window_may_drain(&w, &limits))
		pchat_window_sent(&w, pchat_window_dequeued(&w, 100));
	assert_int_equal(w.pending, 2);
	assert_int_equal(w.queued, 0);
	assert_int_equal(w.bytes, 200);
	/* nothing waits any more: the next answer asks nothing */
	pchat_window_answered(&w, 100);
	assert_false(pchat_window_ask_drain(&w, &limits));
}

static void a_failed_ask_is_made_again(void **state)
{
	pchat_window_t w = {0};

	(void)state;
	pchat_window_sent(&w, 100);
	pchat_window_sent(&w, 100);
	pchat_window_queued(&w, 100);
	pchat_window_answered(&w, 100);
	assert_true(pchat_window_ask_drain(&w, &limits));
	/* no sender could be asked (no shared memory for the job): the next answer asks */
	pchat_window_ask_failed(&w);
	pchat_window_answered(&w, 100);
	assert_true(pchat_window_ask_drain(&w, &limits));
}

static void a_send_that_fails_leaves_the_window(void **state)
{
	pchat_window_t w = {0};
	size_t charged;

	(void)state;
	/* counted before tm takes it (its answer may come first), taken back when tm refuses it */
	charged = pchat_window_sent(&w, 300);
	assert_int_equal(pchat_window_answered(&w, charged), 300);
	assert_int_equal(w.pending, 0);
	assert_int_equal(w.bytes, 0);
	assert_int_equal(pchat_window_offer(&w, &limits, 100), PCHAT_WINDOW_SEND);
}

static void an_info_costs_its_body_and_its_transaction(void **state)
{
	(void)state;
	assert_true(pchat_window_cost(100, 1 << 24) > 100);
	assert_true(pchat_window_cost(0, 1 << 24) > 0);
	/* never more than the caller can carry to the answer */
	assert_int_equal(pchat_window_cost(1 << 24, 1 << 24), 1 << 24);
}

static void node_budget_admits_below_its_limit(void **state)
{
	pchat_node_budget_t b = {0, 1000, 0};

	(void)state;
	assert_true(pchat_node_admits(&b));
	pchat_node_charge(&b, 999);
	assert_true(pchat_node_admits(&b));
	pchat_node_charge(&b, 1);
	assert_false(pchat_node_admits(&b));
	pchat_node_release(&b, 500);
	assert_true(pchat_node_admits(&b));
	assert_int_equal(b.peak, 1000);
}

static void rate_allows_a_burst_then_the_rate(void **state)
{
	pchat_rate_t r;
	int i, taken = 0;

	(void)state;
	pchat_rate_init(&r, 5, 1000);
	for (i = 0; i < 10; i++)
		taken += pchat_rate_take(&r, 10, 5, 1000);
	assert_int_equal(taken, 5);               /* the burst */
	assert_false(pchat_rate_take(&r, 10, 5, 1050));
	assert_true(pchat_rate_take(&r, 10, 5, 1100)); /* 10 a second: one more after 100 ms */
	assert_false(pchat_rate_take(&r, 10, 5, 1100));
	/* a long pause refills to the burst, not beyond */
	for (i = 0, taken = 0; i < 10; i++)
		taken += pchat_rate_take(&r, 10, 5, 100000);
	assert_int_equal(taken, 5);
	/* no limit */
	for (i = 0; i < 1000; i++)
		assert_true(pchat_rate_take(&r, 0, 5, 100000));
}

static void policy_most_specific_rule_wins(void **state)
{
	const int U = PCHAT_POLICY_UNSET;

	(void)state;
	assert_true(pchat_policy_enabled(U, U, U));   /* no rule: enabled, as Lync's default */
	assert_false(pchat_policy_enabled(0, U, U));
	assert_true(pchat_policy_enabled(0, 1, U));
	assert_false(pchat_policy_enabled(1, 0, U));
	assert_true(pchat_policy_enabled(0, 0, 1));
	assert_false(pchat_policy_enabled(1, 1, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(window_sends_then_queues_then_overflows),
		cmocka_unit_test(window_counts_bytes_not_just_infos),
		cmocka_unit_test(a_big_reply_goes_out_alone),
		cmocka_unit_test(answers_let_the_queue_drain),
		cmocka_unit_test(an_answer_asks_for_one_drain),
		cmocka_unit_test(a_failed_ask_is_made_again),
		cmocka_unit_test(a_send_that_fails_leaves_the_window),
		cmocka_unit_test(an_info_costs_its_body_and_its_transaction),
		cmocka_unit_test(node_budget_admits_below_its_limit),
		cmocka_unit_test(rate_allows_a_burst_then_the_rate),
		cmocka_unit_test(policy_most_specific_rule_wins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
