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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(transitions_reported_once),
		cmocka_unit_test(retry_allowed_after_interval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
