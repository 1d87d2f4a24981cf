/* The HTTPS service's text (pchat_httptext.c): listen addresses and the public URL, routes and
 * the Allow header, Content-Length, the headers a handler may send, and the access log's
 * escaping and token redaction. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "pchat_httptext.h"

static void listen_addresses(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char out[64];

	(void)state;
	assert_int_equal(pchat_httptext_listen("127.0.0.1:8443", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	pchat_httptext_addr((struct sockaddr *)&ss, out, sizeof(out));
	assert_string_equal(out, "127.0.0.1:8443");
	assert_false(pchat_httptext_wildcard((struct sockaddr *)&ss));
	assert_int_equal(pchat_httptext_listen("[2001:db8::7]:443", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	pchat_httptext_addr((struct sockaddr *)&ss, out, sizeof(out));
	assert_string_equal(out, "[2001:db8::7]:443");
	pchat_httptext_host((struct sockaddr *)&ss, out, sizeof(out));
	assert_string_equal(out, "2001:db8::7");
	assert_int_equal(pchat_httptext_listen("0.0.0.0:1", &ss, &len), 0);
	assert_true(pchat_httptext_wildcard((struct sockaddr *)&ss));
	assert_int_equal(pchat_httptext_listen("[::]:65535", &ss, &len), 0);
	assert_true(pchat_httptext_wildcard((struct sockaddr *)&ss));
}

static void listen_addresses_refused(void **state)
{
	static const char *bad[] = {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
		"127.0.0.1:+80", "127.0.0.1: 80", "127.0.0.1:80x", "localhost:443", "::1:443",
		"[::1]443", "[127.0.0.1]:443", "[::1:443", ":443", "[]:443", NULL};
	struct sockaddr_storage ss;
	socklen_t len;
	int i;

	(void)state;
	for (i = 0; bad[i]; i++)
		assert_int_equal(pchat_httptext_listen(bad[i], &ss, &len), -1);
}

static void public_urls(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char url[64];

	(void)state;
	assert_int_equal(pchat_httptext_listen("[::1]:8443", &ss, &len), 0);
	assert_int_equal(pchat_httptext_public_url("", (struct sockaddr *)&ss, 1, url, sizeof(url)),
			0);
	assert_string_equal(url, "https://[::1]:8443");
	assert_int_equal(pchat_httptext_public_url(NULL, (struct sockaddr *)&ss, 0, url,
				sizeof(url)), 0);
	assert_string_equal(url, "http://[::1]:8443");
	assert_int_equal(pchat_httptext_public_url("https://chat.example.com/files//",
				(struct sockaddr *)&ss, 1, url, sizeof(url)), 0);
	assert_string_equal(url, "https://chat.example.com/files");
	assert_int_equal(pchat_httptext_public_url("HTTP://h", (struct sockaddr *)&ss, 1, url,
				sizeof(url)), 0);
	assert_string_equal(url, "HTTP://h");
}

static void public_urls_refused(void **state)
{
	static const char *bad[] = {"chat.example.com", "ftp://h", "https://", "https:///x",
		"https://h/a b", "https://h/\"", "https://h/\x01", "https://h/\xc3\xa9", NULL};
	struct sockaddr_storage ss;
	socklen_t len;
	char url[64];
	int i;

	(void)state;
	assert_int_equal(pchat_httptext_listen("127.0.0.1:1", &ss, &len), 0);
	for (i = 0; bad[i]; i++)
		assert_int_equal(pchat_httptext_public_url(bad[i], (struct sockaddr *)&ss, 1, url,
					sizeof(url)), -1);
	/* too long for the buffer */
	assert_int_equal(pchat_httptext_public_url("https://example.com/0123456789",
				(struct sockaddr *)&ss, 1, url, 20), -1);
}

static void routes_match(void **state)
{
	(void)state;
	assert_true(pchat_httptext_path_matches("/health", "/health"));
	assert_false(pchat_httptext_path_matches("/health", "/health/"));
	assert_false(pchat_httptext_path_matches("/health", "/healthz"));
	assert_false(pchat_httptext_path_matches("/health", "/"));
	assert_true(pchat_httptext_path_matches("/files/", "/files/"));
	assert_true(pchat_httptext_path_matches("/files/", "/files/3f2a/name.txt"));
	assert_false(pchat_httptext_path_matches("/files/", "/files"));
	assert_false(pchat_httptext_path_matches("/files/", "/filesx/"));
	assert_true(pchat_httptext_target_has_nul("/files/a%00.txt"));
	assert_true(pchat_httptext_target_has_nul("%00"));
	assert_false(pchat_httptext_target_has_nul("/files/a%200.txt"));
	assert_false(pchat_httptext_target_has_nul("/files/a.txt?token=%00"));
	assert_false(pchat_httptext_target_has_nul("/files/a%0"));
	assert_true(pchat_httptext_method_serves("GET", "GET"));
	assert_true(pchat_httptext_method_serves("GET", "HEAD"));
	assert_false(pchat_httptext_method_serves("GET", "get"));
	assert_false(pchat_httptext_method_serves("PUT", "HEAD"));
	assert_false(pchat_httptext_method_serves("HEAD", "GET"));
}

static void allow_lists_each_method_once(void **state)
{
	char allow[64] = "";

	(void)state;
	pchat_httptext_allow_add(allow, sizeof(allow), "GET");
	assert_string_equal(allow, "GET, HEAD");
	pchat_httptext_allow_add(allow, sizeof(allow), "PUT");
	pchat_httptext_allow_add(allow, sizeof(allow), "GET");
	pchat_httptext_allow_add(allow, sizeof(allow), "PUT");
	assert_string_equal(allow, "GET, HEAD, PUT");
	/* a method that is a part of another one's name is still added */
	memcpy(allow, "XPOST", 6);
	pchat_httptext_allow_add(allow, sizeof(allow), "POST");
	assert_string_equal(allow, "XPOST, POST");
	/* what does not fit whole is left out */
	allow[0] = '\0';
	pchat_httptext_allow_add(allow, 8, "GET");
	assert_string_equal(allow, "GET");
	pchat_httptext_allow_add(allow, 8, "DELETE");
	assert_string_equal(allow, "GET");
}

static void content_lengths(void **state)
{
	uint64_t n = 7;

	(void)state;
	assert_int_equal(pchat_httptext_content_length("0", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(pchat_httptext_content_length("20971520", &n), 0);
	assert_int_equal(n, 20971520);
	assert_int_equal(pchat_httptext_content_length("18446744073709551615", &n), 0);
	assert_true(n == UINT64_MAX);
	assert_int_equal(pchat_httptext_content_length("18446744073709551616", &n), -1);
	assert_int_equal(pchat_httptext_content_length("99999999999999999999999", &n), -1);
	assert_int_equal(pchat_httptext_content_length("", &n), -1);
	assert_int_equal(pchat_httptext_content_length(NULL, &n), -1);
	assert_int_equal(pchat_httptext_content_length("-1", &n), -1);
	assert_int_equal(pchat_httptext_content_length("1 ", &n), -1);
	assert_int_equal(pchat_httptext_content_length("0x10", &n), -1);
}

static void handler_headers(void **state)
{
	(void)state;
	assert_true(pchat_httptext_header_ok("Content-Disposition", "attachment; filename=\"a b\""));
	assert_true(pchat_httptext_header_ok("Cache-Control", "private, max-age=60"));
	assert_true(pchat_httptext_header_ok("ETag", "\"x\"\tok"));
	assert_false(pchat_httptext_header_ok("X-A", "one\r\nSet-Cookie: evil=1"));
	assert_false(pchat_httptext_header_ok("X-A", "a\nb"));
	assert_false(pchat_httptext_header_ok("X-A", "a\x7f"));
	assert_false(pchat_httptext_header_ok("X A", "v"));
	assert_false(pchat_httptext_header_ok("X:A", "v"));
	assert_false(pchat_httptext_header_ok("", "v"));
	assert_false(pchat_httptext_header_ok("content-length", "1"));
	assert_false(pchat_httptext_header_ok("Connection", "keep-alive"));
	assert_false(pchat_httptext_header_ok("Content-Type", "text/html"));
	assert_false(pchat_httptext_header_ok("strict-transport-security", "max-age=0"));
	assert_false(pchat_httptext_header_ok("Transfer-Encoding", "chunked"));
	assert_true(pchat_httptext_value_ok("text/plain; charset=utf-8"));
	assert_false(pchat_httptext_value_ok("text/plain\r\nX: y"));
}

static void escaping_for_a_log_line(void **state)
{
	static const char odd[] = "/a b\"c\\d\r\n\x01\xff";
	char out[64];

	(void)state;
	pchat_httptext_escape(odd, sizeof(odd) - 1, out, sizeof(out));
	assert_string_equal(out, "/a b\\x22c\\x5cd\\x0d\\x0a\\x01\\xff");
	pchat_httptext_escape("a\0b", 3, out, sizeof(out));
	assert_string_equal(out, "a\\x00b");
	/* cut, and said to be */
	pchat_httptext_escape("0123456789abcdef", 16, out, 12);
	assert_string_equal(out, "01234567...");
	pchat_httptext_escape("\n\n\n\n", 4, out, 12);
	assert_string_equal(out, "\\x0a\\x0a...");
	pchat_httptext_escape("abc", 3, out, 3);
	assert_string_equal(out, "");
}

static void token_values_are_redacted(void **state)
{
	char out[256];

	(void)state;
	pchat_httptext_log_query("token=SECRET123&a=1", out, sizeof(out));
	assert_string_equal(out, "token=[redacted]&a=1");
	pchat_httptext_log_query("a=1&TOKEN=SECRET123&Token=S2&b", out, sizeof(out));
	assert_string_equal(out, "a=1&TOKEN=[redacted]&Token=[redacted]&b");
	/* the name as the service decodes it: %HH, '+' a space, a NUL ends it */
	pchat_httptext_log_query("%74oken=S1&to%4Ben=S2&token%00x=S3&tok+en=kept", out, sizeof(out));
	assert_string_equal(out, "%74oken=[redacted]&to%4Ben=[redacted]&token%00x=[redacted]"
			"&tok+en=kept");
	/* a value with '=' in it goes whole, other names are left alone */
	pchat_httptext_log_query("token=a=b=c&tokens=x&xtoken=y&token", out, sizeof(out));
	assert_string_equal(out, "token=[redacted]&tokens=x&xtoken=y&token");
	pchat_httptext_log_query("token=\"\r\n", out, sizeof(out));
	assert_string_equal(out, "token=[redacted]");
	pchat_httptext_log_query("q=\"\\&&", out, sizeof(out));
	assert_string_equal(out, "q=\\x22\\x5c&&");
	pchat_httptext_log_query("", out, sizeof(out));
	assert_string_equal(out, "");
}

static void a_cut_query_never_shows_a_token(void **state)
{
	char out[24];

	(void)state;
	pchat_httptext_log_query("aaaaaaaaaa=1&token=SECRET123456789", out, sizeof(out));
	assert_null(strstr(out, "SECRET"));
	assert_string_equal(out, "aaaaaaaaaa=1&token=...");
	pchat_httptext_log_query("token=SECRET123456789&a=1", out, 12);
	assert_null(strstr(out, "SEC"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(listen_addresses),
		cmocka_unit_test(listen_addresses_refused),
		cmocka_unit_test(public_urls),
		cmocka_unit_test(public_urls_refused),
		cmocka_unit_test(routes_match),
		cmocka_unit_test(allow_lists_each_method_once),
		cmocka_unit_test(content_lengths),
		cmocka_unit_test(handler_headers),
		cmocka_unit_test(escaping_for_a_log_line),
		cmocka_unit_test(token_values_are_redacted),
		cmocka_unit_test(a_cut_query_never_shows_a_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
