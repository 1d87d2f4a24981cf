/* The shared up/down state: exactly one caller sees each transition. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pchat_health.h"

static void transitions_reported_once(void **state)
{
	pchat_health_t h = {0};

	(void)state;
	assert_true(pchat_health_may_try(&h));
	assert_int_equal(pchat_health_ok(&h), 0); /* already up: nothing to report */
	assert_int_equal(pchat_health_failed(&h, 60000), 1);
	assert_int_equal(pchat_health_failed(&h, 60000), 0);
	assert_true(pchat_health_is_down(&h));
	assert_false(pchat_health_may_try(&h));
	assert_int_equal(h.failures, 2);
	assert_int_equal(pchat_health_ok(&h), 1);
	assert_int_equal(pchat_health_ok(&h), 0);
	assert_true(pchat_health_may_try(&h));
}

static void retry_allowed_after_interval(void **state)
{
	pchat_health_t h = {0};

	(void)state;
	pchat_health_failed(&h, 0);
	assert_true(pchat_health_is_down(&h));
	assert_true(pchat_health_may_try(&h)); /* interval 0: may try again at once */
}

/* Processes that saw the same server fail move once, together: the first moves everyone, the
 * others find it moved and follow instead of moving again. */
static void one_switch_for_everyone(void **state)
{
	pchat_health_t h = {0};

	(void)state;
	assert_int_equal(pchat_health_server(&h), 0);
	assert_int_equal(pchat_health_switch(&h, 0, 1), 1);
	assert_int_equal(pchat_health_switch(&h, 0, 1), 0); /* a second process that saw 0 fail */
	assert_int_equal(pchat_health_switch(&h, 0, 2), 0);
	assert_int_equal(pchat_health_server(&h), 1);
	assert_int_equal(pchat_health_switch(&h, 1, 1), 0); /* no move is no switch */
	assert_int_equal(h.switches, 1);
	assert_int_equal(pchat_health_switch(&h, 1, 0), 1);
	assert_int_equal(h.switches, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(transitions_reported_once),
		cmocka_unit_test(retry_allowed_after_interval),
		cmocka_unit_test(one_switch_for_everyone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
