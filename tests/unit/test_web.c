/* The web application's identities (pchat_web.c) that need no database: how a user's name as
 * typed on the sign-in form or sent by a single sign-on proxy becomes the chat's principal, and
 * the comparison of secrets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "pchat_model.h"
#include "pchat_uri.h"
#include "pchat_web.h"

static void names_become_the_chat_principal(void **state)
{
	char out[PCHAT_USER_MAX];

	(void)state;
	assert_int_equal(pchat_web_user("alice", "example.com", out), 0);
	assert_string_equal(out, "sip:alice@example.com");
	assert_int_equal(pchat_web_user("Alice@Example.COM", "example.com", out), 0);
	assert_string_equal(out, "sip:alice@example.com");
	assert_int_equal(pchat_web_user("sip:alice@example.com", "example.com", out), 0);
	assert_string_equal(out, "sip:alice@example.com");
	/* single sign-on: any domain the proxy vouches for */
	assert_int_equal(pchat_web_user("bob@corp.example", NULL, out), 0);
	assert_string_equal(out, "sip:bob@corp.example");
}

static void other_names_are_refused(void **state)
{
	static const char *const refused[] = {"", "alice@other.example", "sip:alice@other.example",
		"@example.com", "alice@", "a b@example.com", "alice\r\n@example.com",
		"tel:+15551234", NULL};
	char out[PCHAT_USER_MAX], big[PCHAT_USER_MAX + 10];
	int i;

	(void)state;
	for (i = 0; refused[i]; i++)
		assert_int_equal(pchat_web_user(refused[i], "example.com", out), -1);
	/* a bare name without a domain to complete it */
	assert_int_equal(pchat_web_user("alice", NULL, out), -1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pchat_web_user(big, "example.com", out), -1);
	assert_int_equal(pchat_web_user(NULL, "example.com", out), -1);
}

/* The principals of room and category lists (pchat_principal_normalize, which sign-in uses) */
static void principals_as_people_type_them(void **state)
{
	static const char *const cases[][2] = {
		{"Bob@Corp.Example", "sip:bob@corp.example"}, {"sip:bob@corp.example", "sip:bob@corp.example"},
		{"\"Bob\" <sip:bob@corp.example>", "sip:bob@corp.example"}, {"Corp.Example", "corp.example"}};
	static const char *const refused[] = {"bob@", "@corp.example", "bob@corp.example:5060",
		"\"Bob\" <bob@corp.example>", "corp..example", NULL};
	char out[PCHAT_USER_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(pchat_principal_normalize(cases[i][0], out, sizeof(out)), 0);
		assert_string_equal(out, cases[i][1]);
	}
	for (i = 0; refused[i]; i++)
		assert_int_equal(pchat_principal_normalize(refused[i], out, sizeof(out)), -1);
}

static void secrets_compare_whole(void **state)
{
	(void)state;
	assert_true(pchat_web_same_secret("3f2a", "3f2a"));
	assert_false(pchat_web_same_secret("3f2b", "3f2a"));
	assert_false(pchat_web_same_secret("3f2", "3f2a"));
	assert_false(pchat_web_same_secret("3f2aa", "3f2a"));
	assert_false(pchat_web_same_secret("", "3f2a"));
	assert_true(pchat_web_same_secret("", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_become_the_chat_principal),
		cmocka_unit_test(other_names_are_refused),
		cmocka_unit_test(principals_as_people_type_them),
		cmocka_unit_test(secrets_compare_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
