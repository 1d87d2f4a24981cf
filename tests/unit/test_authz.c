/* Lync's rules of who may see, join and post: every privacy x type x role, and scope. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pchat_authz.h"

enum { NONE, MEMBER, PRESENTER, MANAGER, DENIED, OUTSIDE };

static pchat_access_t as(int who)
{
	pchat_access_t a = {1, 0, 0};

	switch (who) {
		case MEMBER: a.roles = PCHAT_ROLE_MEMBER; break;
		case PRESENTER: a.roles = PCHAT_ROLE_PRESENTER; break;
		case MANAGER: a.roles = PCHAT_ROLE_MANAGER; break;
		case DENIED: a.denied = 1; a.roles = PCHAT_ROLE_MEMBER; break; /* denied beats roles */
		case OUTSIDE: a.allowed = 0; a.roles = PCHAT_ROLE_MEMBER; break;
	}
	return a;
}

/* expected[privacy][who]: see, join, post in a normal room, post in an auditorium */
static const char *const expected[3][6] = {
	/*            none    member  presenter manager denied  outside */
	/* open   */ {"YYYN", "YYYN", "YYYY", "YYYN", "NNNN", "NNNN"},
	/* closed */ {"YNNN", "YYYN", "YYYY", "YYYN", "NNNN", "NNNN"},
	/* secret */ {"NNNN", "YYYN", "YYYY", "YYYN", "NNNN", "NNNN"},
};

static void the_matrix(void **state)
{
	int privacy, who;

	(void)state;
	for (privacy = PCHAT_OPEN; privacy <= PCHAT_SECRET; privacy++) {
		for (who = NONE; who <= OUTSIDE; who++) {
			pchat_access_t a = as(who);
			const char *e = expected[privacy][who];

			assert_int_equal(pchat_may_see(privacy, 0, &a) == PCHAT_ALLOW, e[0] == 'Y');
			assert_int_equal(pchat_may_join(privacy, 0, &a) == PCHAT_ALLOW, e[1] == 'Y');
			assert_int_equal(pchat_may_post(privacy, PCHAT_NORMAL, 0, &a) == PCHAT_ALLOW,
					e[2] == 'Y');
			assert_int_equal(pchat_may_post(privacy, PCHAT_AUDITORIUM, 0, &a) == PCHAT_ALLOW,
					e[3] == 'Y');
			/* a disabled room: nobody, whatever the role */
			assert_int_equal(pchat_may_join(privacy, 1, &a), PCHAT_DENY_DISABLED);
			assert_int_equal(pchat_may_see(privacy, 1, &a), PCHAT_DENY_DISABLED);
		}
	}
}

static void refusals_say_why(void **state)
{
	pchat_access_t none = as(NONE), outside = as(OUTSIDE), member = as(MEMBER);

	(void)state;
	assert_int_equal(pchat_may_join(PCHAT_CLOSED, 0, &none), PCHAT_DENY_MEMBERS);
	assert_int_equal(pchat_may_join(PCHAT_OPEN, 0, &outside), PCHAT_DENY_SCOPE);
	assert_int_equal(pchat_may_post(PCHAT_OPEN, PCHAT_AUDITORIUM, 0, &member),
			PCHAT_DENY_PRESENTER);
	assert_string_equal(pchat_verdict_text(PCHAT_DENY_PRESENTER),
			"only presenters may post in this auditorium");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_matrix),
		cmocka_unit_test(refusals_say_why),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
