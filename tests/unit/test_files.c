/*
 * The rules of posted files (pchat_files.c) and Lync's file web service on the wire
 * (pchat_soap.c): stored names, links, chunk order, ranges, downloads' headers, base64, SOAP
 * requests read safely and the responses we write.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>

#include "pchat_files.h"
#include "pchat_soap.h"
#include "pchat_xccos.h"

/* ------------------------------------------------------------------ names */

static void extensions_are_ours_or_none(void **state)
{
	char ext[PCHAT_FILE_EXT_MAX + 1];

	(void)state;
	pchat_file_ext("Report.PDF", ext);
	assert_string_equal(ext, "pdf");
	pchat_file_ext("archive.tar.gz", ext);
	assert_string_equal(ext, "gz");
	pchat_file_ext("txt", ext);
	assert_string_equal(ext, "txt");
	pchat_file_ext(".txt", ext);
	assert_string_equal(ext, "txt");
	pchat_file_ext("evil.p/../../x", ext);
	assert_string_equal(ext, "");
	pchat_file_ext("a.ex e", ext);
	assert_string_equal(ext, "");
	pchat_file_ext("a.abcdefghijklmnopq", ext); /* 17 characters */
	assert_string_equal(ext, "");
	pchat_file_ext("a.", ext);
	assert_string_equal(ext, "");
	pchat_file_ext("a.t\xc3\xa4t", ext); /* not ASCII */
	assert_string_equal(ext, "");
}

static void stored_names_are_made_here_and_checked(void **state)
{
	char a[PCHAT_FILE_NAME_MAX], b[PCHAT_FILE_NAME_MAX];

	(void)state;
	assert_int_equal(pchat_file_new_name("pdf", a), 0);
	assert_int_equal(pchat_file_new_name("", b), 0);
	assert_int_equal(strlen(a), 36 + 4);
	assert_string_equal(a + 36, ".pdf");
	assert_int_equal(strlen(b), 36);
	assert_string_not_equal(a, b);
	assert_true(pchat_file_name_valid(a));
	assert_true(pchat_file_name_valid(b));
	/* what a client could send instead */
	assert_false(pchat_file_name_valid("../../etc/passwd"));
	assert_false(pchat_file_name_valid(""));
	assert_false(pchat_file_name_valid(NULL));
	assert_false(pchat_file_name_valid("3F2504E0-4F89-41D3-9A0C-0305E82C3301.pdf")); /* case */
	assert_false(pchat_file_name_valid("3f2504e0-4f89-41d3-9a0c-0305e82c3301.pdf/x"));
	assert_false(pchat_file_name_valid("3f2504e0-4f89-41d3-9a0c-0305e82c3301."));
	assert_false(pchat_file_name_valid("3f2504e0-4f89-41d3-9a0c-0305e82c3301.PDF"));
	assert_false(pchat_file_name_valid("3f2504e0-4f89-41d3-9a0c-0305e82c3301/pdf"));
	assert_true(pchat_file_name_valid("3f2504e0-4f89-41d3-9a0c-0305e82c3301.pdf"));
}

static void original_names_are_kept_only_as_text(void **state)
{
	char out[PCHAT_FILE_ORIGINAL_MAX + 1], in[1024];
	size_t i;

	(void)state;
	pchat_file_original_name("C:\\Users\\me\\report.pdf", out);
	assert_string_equal(out, "report.pdf");
	pchat_file_original_name("../../etc/passwd", out);
	assert_string_equal(out, "passwd");
	pchat_file_original_name("..", out);
	assert_string_equal(out, "file");
	pchat_file_original_name("", out);
	assert_string_equal(out, "file");
	pchat_file_original_name("a\tb\x7f" "c\xff.txt", out);
	assert_string_equal(out, "a_b_c_.txt");
	/* a right-to-left override would show "x\u202Efdp.exe" as a PDF; C1 controls go too */
	pchat_file_original_name("x\xe2\x80\xae" "fdp.exe", out);
	assert_string_equal(out, "x_fdp.exe");
	pchat_file_original_name("a\xc2\x85" "b\xe2\x81\xa6" "c", out);
	assert_string_equal(out, "a_b_c");
	/* a long name is cut at a character, never inside one */
	for (i = 0; i + 2 < sizeof(in); i += 2)
		memcpy(in + i, "\xc3\xa9", 2);
	in[i] = '\0';
	pchat_file_original_name(in, out);
	assert_int_equal(strlen(out), PCHAT_FILE_ORIGINAL_MAX - 1);
	assert_memory_equal(out + strlen(out) - 2, "\xc3\xa9", 2);
}

/* ------------------------------------------------------------------ links */

typedef struct seen {
	int n;
	char guid[4][40];
	char name[4][64];
} seen_t;

static int collect(void *ctx, const char *guid, const char *name)
{
	seen_t *s = ctx;

	snprintf(s->guid[s->n], sizeof(s->guid[0]), "%s", guid ? guid : "-");
	snprintf(s->name[s->n], sizeof(s->name[0]), "%s", name ? name : "-");
	s->n++;
	return s->n == 4 ? 99 : 0;
}

static void links_in_a_post_are_found_and_checked(void **state)
{
	seen_t s;
	pchat_buf_t b;

	(void)state;
	pchat_buf_init(&b);
	pchat_file_link(&b, "chat.test", "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
			"9b2c0d14-7d1e-4a51-9f7e-0b7a5c2d8e11.txt");
	assert_string_equal(b.s, "ma-filelink://chat.test/3f2504e0-4f89-41d3-9a0c-0305e82c3301/"
							 "9b2c0d14-7d1e-4a51-9f7e-0b7a5c2d8e11.txt");
	memset(&s, 0, sizeof(s));
	assert_int_equal(pchat_file_links("no link here", "chat.test", collect, &s), 0);
	assert_int_equal(s.n, 0);
	memset(&s, 0, sizeof(s));
	pchat_buf_adds(&b, ". And MA-FILELINK://chat.test/3F2504E0-4F89-41D3-9A0C-0305E82C3301/"
					   "9b2c0d14-7d1e-4a51-9f7e-0b7a5c2d8e11, then ma-filelink://other.test/"
					   "3f2504e0-4f89-41d3-9a0c-0305e82c3301/9b2c0d14-7d1e-4a51-9f7e-0b7a5c2d8e11"
					   " and ma-filelink://chat.test/3f2504e0-4f89-41d3-9a0c-0305e82c3301/../x");
	assert_int_equal(pchat_file_links(b.s, "chat.test", collect, &s), 99);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.guid[0], "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
	assert_string_equal(s.name[0], "9b2c0d14-7d1e-4a51-9f7e-0b7a5c2d8e11.txt");
	/* the scheme and the GUID in any case, the GUID given back in ours */
	assert_string_equal(s.guid[1], "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
	assert_string_equal(s.name[1], "9b2c0d14-7d1e-4a51-9f7e-0b7a5c2d8e11");
	/* another domain, a path trick: passed on as not ours */
	assert_string_equal(s.guid[2], "-");
	assert_string_equal(s.guid[3], "-");
	pchat_buf_free(&b);
}

/* ------------------------------------------------------------------ chunks and ranges */

static void chunks_come_in_order_within_the_limits(void **state)
{
	const char *why;

	(void)state;
	assert_int_equal(pchat_file_chunk_check(0, UINT64_MAX, 0, 10, 30, 100, &why), PCHAT_OK);
	assert_int_equal(pchat_file_chunk_check(10, 30, 10, 20, 30, 100, &why), PCHAT_OK);
	assert_int_equal(pchat_file_chunk_check(0, UINT64_MAX, 0, 0, 0, 100, &why), PCHAT_OK);
	assert_int_equal(pchat_file_chunk_check(10, 30, 5, 10, 30, 100, &why), PCHAT_ERR_CONFLICT);
	assert_string_equal(why, "the chunk overlaps bytes already received");
	assert_int_equal(pchat_file_chunk_check(10, 30, 15, 10, 30, 100, &why), PCHAT_ERR_CONFLICT);
	assert_string_equal(why, "the chunk skips bytes not received yet");
	assert_int_equal(pchat_file_chunk_check(10, 30, 10, 21, 30, 100, &why),
			PCHAT_ERR_TOO_LARGE);
	assert_int_equal(pchat_file_chunk_check(0, UINT64_MAX, 0, 10, 101, 100, &why),
			PCHAT_ERR_TOO_LARGE);
	assert_int_equal(pchat_file_chunk_check(10, 30, 10, 10, 31, 100, &why), PCHAT_ERR_INVALID);
	/* no wrap-around */
	assert_int_equal(pchat_file_chunk_check(10, 30, 10, UINT64_MAX, 30, 100, &why),
			PCHAT_ERR_TOO_LARGE);
}

static void ranges_are_single_and_satisfiable(void **state)
{
	uint64_t from = 0, len = 0;

	(void)state;
	assert_int_equal(pchat_file_range(NULL, 100, &from, &len), 0);
	assert_int_equal(pchat_file_range("bytes=0-9", 100, &from, &len), 1);
	assert_true(from == 0 && len == 10);
	assert_int_equal(pchat_file_range("bytes=90-", 100, &from, &len), 1);
	assert_true(from == 90 && len == 10);
	assert_int_equal(pchat_file_range("bytes=90-500", 100, &from, &len), 1);
	assert_true(from == 90 && len == 10);
	assert_int_equal(pchat_file_range("bytes=-30", 100, &from, &len), 1);
	assert_true(from == 70 && len == 30);
	assert_int_equal(pchat_file_range("bytes=-300", 100, &from, &len), 1);
	assert_true(from == 0 && len == 100);
	assert_int_equal(pchat_file_range("bytes=100-", 100, &from, &len), -1);
	assert_int_equal(pchat_file_range("bytes=-0", 100, &from, &len), -1);
	assert_int_equal(pchat_file_range("bytes=0-", 0, &from, &len), -1);
	/* ignored: the whole file */
	assert_int_equal(pchat_file_range("bytes=0-1,5-6", 100, &from, &len), 0);
	assert_int_equal(pchat_file_range("items=0-1", 100, &from, &len), 0);
	assert_int_equal(pchat_file_range("bytes=9-2", 100, &from, &len), 0);
	assert_int_equal(pchat_file_range("bytes=x-2", 100, &from, &len), 0);
	assert_int_equal(pchat_file_range("bytes=99999999999999999999-", 100, &from, &len), 0);
}

/* ------------------------------------------------------------------ downloads */

static void downloads_are_attachments_of_harmless_types(void **state)
{
	pchat_buf_t b;

	(void)state;
	pchat_buf_init(&b);
	pchat_file_disposition(&b, "r\xc3\xa9sum\xc3\xa9 \"final\".pdf");
	assert_string_equal(b.s, "attachment; filename=\"r__sum__ _final_.pdf\"; "
							 "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf");
	pchat_buf_free(&b);
	assert_string_equal(pchat_file_type_of("png"), "image/png");
	assert_string_equal(pchat_file_type_of("html"), "application/octet-stream");
	assert_string_equal(pchat_file_type_of("svg"), "application/octet-stream");
	assert_string_equal(pchat_file_served_type("image/png"), "image/png");
	assert_string_equal(pchat_file_served_type("text/html"), "application/octet-stream");
	assert_string_equal(pchat_file_served_type("image/svg+xml"), "application/octet-stream");
}

static void base64_both_ways(void **state)
{
	unsigned char data[256], out[400];
	pchat_buf_t b;
	size_t n;
	int i;

	(void)state;
	for (i = 0; i < 256; i++)
		data[i] = (unsigned char)i;
	for (n = 0; n <= 256; n += 1 + n / 3) {
		pchat_buf_init(&b);
		pchat_base64_encode(&b, data, n);
		assert_false(b.failed);
		assert_int_equal(b.len, (n + 2) / 3 * 4);
		assert_int_equal(pchat_base64_decode(b.s ? b.s : "", b.len, out), (long)n);
		assert_memory_equal(out, data, n);
		pchat_buf_free(&b);
	}
	assert_int_equal(pchat_base64_decode("aGVsbG8=", 8, out), 5);
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(pchat_base64_decode("aGVs\r\nbG8=", 10, out), 5);
	assert_int_equal(pchat_base64_decode("aGVsbG8", 7, out), 5); /* padding left out */
	assert_int_equal(pchat_base64_decode("aGVs*G8=", 8, out), -1);
	assert_int_equal(pchat_base64_decode("aGVsbG8=QQ==", 12, out), -1); /* after padding */
	assert_int_equal(pchat_base64_decode("aGVsbG9=", 8, out), -1); /* bits left over */
	assert_int_equal(pchat_base64_decode("", 0, out), 0);
}

/* ------------------------------------------------------------------ SOAP */

#define ENVELOPE(op)                                                                         \
	"<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope "                                \
	"xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>" op                  \
	"</soap:Body></soap:Envelope>"

static pchat_rc_t parse(const char *body, pchat_soap_req_t *req)
{
	char err[256];

	return pchat_soap_parse(body, strlen(body), req, err, sizeof(err));
}

static void soap_requests_are_read(void **state)
{
	pchat_soap_req_t req;

	(void)state;
	assert_int_equal(parse(ENVELOPE("<AppendChunk xmlns=\"http://www.microsoft.com\">"
			"<token>3f2504e0-4f89-41d3-9a0c-0305e82c3301</token><channelId>a-room</channelId>"
			"<uniqueFilename>n.txt</uniqueFilename><fileChunk>aGVsbG8=</fileChunk>"
			"<offset>10</offset><fileLength>15</fileLength></AppendChunk>"), &req), PCHAT_OK);
	assert_int_equal(req.op, PCHAT_SOAP_APPEND_CHUNK);
	assert_string_equal(req.token, "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
	assert_string_equal(req.channel_id, "a-room");
	assert_string_equal(req.file_name, "n.txt");
	assert_true(req.has_offset && req.offset == 10 && req.has_file_length
				&& req.file_length == 15 && !req.has_buffer_size);
	assert_int_equal(req.chunk_len, 5);
	assert_memory_equal(req.chunk, "hello", 5);
	pchat_soap_req_free(&req);

	assert_int_equal(parse(ENVELOPE("<m:DownloadChunk xmlns:m=\"http://www.microsoft.com\">"
			"<m:token>t</m:token><m:reposFileName>r.bin</m:reposFileName><m:offset>0</m:offset>"
			"<m:bufferSize>4096</m:bufferSize></m:DownloadChunk>"), &req), PCHAT_OK);
	assert_int_equal(req.op, PCHAT_SOAP_DOWNLOAD_CHUNK);
	assert_string_equal(req.file_name, "r.bin");
	assert_true(req.has_buffer_size && req.buffer_size == 4096);
	assert_null(req.chunk);
	pchat_soap_req_free(&req);

	assert_int_equal(parse(ENVELOPE("<GetMaxFileSizeInKB xmlns=\"http://www.microsoft.com\"/>"),
			&req), PCHAT_OK);
	assert_int_equal(req.op, PCHAT_SOAP_MAX_FILE_SIZE);
	pchat_soap_req_free(&req);
}

static void bad_soap_is_refused(void **state)
{
	char longtoken[200], body[1024];
	pchat_soap_req_t req;

	(void)state;
	/* not SOAP, not ours, not known */
	assert_int_equal(parse("<AppendChunk xmlns=\"http://www.microsoft.com\"/>", &req),
			PCHAT_ERR_INVALID);
	assert_int_equal(parse(ENVELOPE("<AppendChunk xmlns=\"urn:other\"/>"), &req),
			PCHAT_ERR_INVALID);
	assert_int_equal(parse(ENVELOPE("<DeleteEverything xmlns=\"http://www.microsoft.com\"/>"),
			&req), PCHAT_ERR_INVALID);
	/* entities are never read */
	assert_int_equal(parse("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM "
			"\"file:///etc/passwd\">]>" ENVELOPE("<GetFileSize xmlns=\"http://www.microsoft.com\">"
			"<token>&e;</token></GetFileSize>"), &req), PCHAT_ERR_UNSAFE);
	assert_int_equal(parse(ENVELOPE("<GetFileSize xmlns=\"http://www.microsoft.com\">"),
			&req), PCHAT_ERR_MALFORMED);
	/* children that do not fit or are not numbers or base64 */
	memset(longtoken, 'a', sizeof(longtoken) - 1);
	longtoken[sizeof(longtoken) - 1] = '\0';
	snprintf(body, sizeof(body), ENVELOPE("<GetFileSize xmlns=\"http://www.microsoft.com\">"
			"<token>%s</token></GetFileSize>"), longtoken);
	assert_int_equal(parse(body, &req), PCHAT_ERR_INVALID);
	assert_int_equal(parse(ENVELOPE("<DownloadChunk xmlns=\"http://www.microsoft.com\">"
			"<offset>-1</offset></DownloadChunk>"), &req), PCHAT_ERR_INVALID);
	assert_int_equal(parse(ENVELOPE("<DownloadChunk xmlns=\"http://www.microsoft.com\">"
			"<offset>99999999999999999999999</offset></DownloadChunk>"), &req),
			PCHAT_ERR_INVALID);
	assert_int_equal(parse(ENVELOPE("<AppendChunk xmlns=\"http://www.microsoft.com\">"
			"<fileChunk>not*base64</fileChunk></AppendChunk>"), &req), PCHAT_ERR_INVALID);
	assert_null(req.chunk); /* nothing left to free */
}

/* A response parses back, in the .asmx shape: OpResponse/OpResult in Microsoft's namespace. */
static void soap_responses_have_the_asmx_shape(void **state)
{
	pchat_buf_t b;
	xmlDocPtr doc;
	xmlNodePtr body, resp, result;

	(void)state;
	pchat_buf_init(&b);
	pchat_soap_result(&b, PCHAT_SOAP_UNIQUE_NAME, "a<b.txt");
	assert_true(pchat_buf_ok(&b));
	doc = xmlReadMemory(b.s, (int)b.len, NULL, "UTF-8", XML_PARSE_NONET);
	assert_non_null(doc);
	body = xmlDocGetRootElement(doc)->children;
	assert_string_equal((const char *)body->name, "Body");
	resp = body->children;
	assert_string_equal((const char *)resp->name, "RequestUniqueFilenameWithExtensionResponse");
	assert_string_equal((const char *)resp->ns->href, "http://www.microsoft.com");
	result = resp->children;
	assert_string_equal((const char *)result->name, "RequestUniqueFilenameWithExtensionResult");
	assert_string_equal((const char *)result->children->content, "a<b.txt");
	xmlFreeDoc(doc);
	pchat_buf_free(&b);

	pchat_buf_init(&b);
	pchat_soap_result_bytes(&b, PCHAT_SOAP_DOWNLOAD_CHUNK, (const unsigned char *)"hello", 5);
	assert_non_null(strstr(b.s, "<DownloadChunkResult>aGVsbG8=</DownloadChunkResult>"));
	pchat_buf_free(&b);

	pchat_buf_init(&b);
	pchat_soap_fault(&b, 1, "token expired & gone");
	assert_non_null(strstr(b.s, "<soap:Fault><faultcode>soap:Client</faultcode>"
								"<faultstring>token expired &amp; gone</faultstring></soap:Fault>"));
	pchat_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(extensions_are_ours_or_none),
		cmocka_unit_test(stored_names_are_made_here_and_checked),
		cmocka_unit_test(original_names_are_kept_only_as_text),
		cmocka_unit_test(links_in_a_post_are_found_and_checked),
		cmocka_unit_test(chunks_come_in_order_within_the_limits),
		cmocka_unit_test(ranges_are_single_and_satisfiable),
		cmocka_unit_test(downloads_are_attachments_of_harmless_types),
		cmocka_unit_test(base64_both_ways),
		cmocka_unit_test(soap_requests_are_read),
		cmocka_unit_test(bad_soap_is_refused),
		cmocka_unit_test(soap_responses_have_the_asmx_shape),
	};

	pchat_xccos_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
