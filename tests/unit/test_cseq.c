/* The requests of a session already carried out (pchat_cseq.c): a late retransmission is told
 * from a new request, gets its first answer again, and requests that arrive out of CSeq order
 * are still carried out once each. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pchat_cseq.h"

static void a_repeat_gets_its_first_answer(void **state)
{
	pchat_cseq_log_t l = {0};
	int code;

	(void)state;
	assert_int_equal(pchat_cseq_begin(&l, 2, &code), PCHAT_CSEQ_NEW);
	/* still running: no answer yet */
	assert_int_equal(pchat_cseq_begin(&l, 2, &code), PCHAT_CSEQ_REPEAT);
	assert_int_equal(code, 0);
	pchat_cseq_answered(&l, 2, 200);
	assert_int_equal(pchat_cseq_begin(&l, 3, &code), PCHAT_CSEQ_NEW);
	pchat_cseq_answered(&l, 3, 503);
	assert_int_equal(pchat_cseq_begin(&l, 2, &code), PCHAT_CSEQ_REPEAT);
	assert_int_equal(code, 200);
	/* a refused post is refused again, never acknowledged by its repeat */
	assert_int_equal(pchat_cseq_begin(&l, 3, &code), PCHAT_CSEQ_REPEAT);
	assert_int_equal(code, 503);
}

static void requests_out_of_order_are_each_new_once(void **state)
{
	pchat_cseq_log_t l = {0};
	int code;

	(void)state;
	assert_int_equal(pchat_cseq_begin(&l, 10, &code), PCHAT_CSEQ_NEW);
	assert_int_equal(pchat_cseq_begin(&l, 13, &code), PCHAT_CSEQ_NEW);
	/* 11 and 12 were overtaken: new, once */
	assert_int_equal(pchat_cseq_begin(&l, 12, &code), PCHAT_CSEQ_NEW);
	assert_int_equal(pchat_cseq_begin(&l, 11, &code), PCHAT_CSEQ_NEW);
	assert_int_equal(pchat_cseq_begin(&l, 11, &code), PCHAT_CSEQ_REPEAT);
	assert_int_equal(pchat_cseq_begin(&l, 12, &code), PCHAT_CSEQ_REPEAT);
	assert_int_equal(pchat_cseq_begin(&l, 10, &code), PCHAT_CSEQ_REPEAT);
	/* a gap left by requests the log does not see (UPDATE) stays new */
	assert_int_equal(pchat_cseq_begin(&l, 20, &code), PCHAT_CSEQ_NEW);
	assert_int_equal(pchat_cseq_begin(&l, 19, &code), PCHAT_CSEQ_NEW);
	assert_int_equal(pchat_cseq_begin(&l, 13, &code), PCHAT_CSEQ_REPEAT);
}

static void the_span_and_the_answers_are_bounded(void **state)
{
	pchat_cseq_log_t l = {0};
	uint32_t c;
	int code;

	(void)state;
	for (c = 1; c <= 100; c++) {
		assert_int_equal(pchat_cseq_begin(&l, c, &code), PCHAT_CSEQ_NEW);
		pchat_cseq_answered(&l, c, 200);
	}
	/* the last PCHAT_CSEQ_ANSWERS have their answers */
	for (c = 100; c > 100 - PCHAT_CSEQ_ANSWERS; c--) {
		assert_int_equal(pchat_cseq_begin(&l, c, &code), PCHAT_CSEQ_REPEAT);
		assert_int_equal(code, 200);
	}
	/* carried out, answer forgotten; and past the span: out of order */
	assert_int_equal(pchat_cseq_begin(&l, 100 - PCHAT_CSEQ_ANSWERS, &code), PCHAT_CSEQ_OLD);
	assert_int_equal(pchat_cseq_begin(&l, 100 - PCHAT_CSEQ_SPAN - 1, &code), PCHAT_CSEQ_OLD);
	/* exactly the span below, and a jump of exactly the span */
	assert_int_equal(pchat_cseq_begin(&l, 100 - PCHAT_CSEQ_SPAN, &code), PCHAT_CSEQ_OLD);
	assert_int_equal(pchat_cseq_begin(&l, 100 + PCHAT_CSEQ_SPAN, &code), PCHAT_CSEQ_NEW);
	assert_int_equal(pchat_cseq_begin(&l, 100, &code), PCHAT_CSEQ_REPEAT);
	assert_int_equal(pchat_cseq_begin(&l, 99, &code), PCHAT_CSEQ_OLD);
	assert_int_equal(pchat_cseq_begin(&l, 101, &code), PCHAT_CSEQ_NEW);
	/* a jump past the span forgets everything below */
	assert_int_equal(pchat_cseq_begin(&l, 1000, &code), PCHAT_CSEQ_NEW);
	assert_int_equal(pchat_cseq_begin(&l, 999, &code), PCHAT_CSEQ_NEW);
	assert_int_equal(pchat_cseq_begin(&l, 1000 - PCHAT_CSEQ_SPAN, &code), PCHAT_CSEQ_NEW);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_repeat_gets_its_first_answer),
		cmocka_unit_test(requests_out_of_order_are_each_new_once),
		cmocka_unit_test(the_span_and_the_answers_are_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
