/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dprint.h"
#include "core/mem/mem.h"

#include "pchat_webpage.h"

#define PAGE_BARE "/PersistentChat/RM"
#define PAGE_PREFIX PAGE_BARE "/"
#define FILE_MAX (1024 * 1024)
#define PAGE_CSP \
	"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; " \
	"form-action 'self'"
#define JSON "application/json"

typedef struct page_file {
	const char *name;
	const char *type;
	char *data;
	size_t len;
	char etag[24]; /* "0123456789abcdef" with its quotes */
} page_file_t;

static page_file_t files[] = {
	{"index.html", "text/html; charset=utf-8", NULL, 0, ""},
	{"app.js", "text/javascript; charset=utf-8", NULL, 0, ""},
	{"app.css", "text/css; charset=utf-8", NULL, 0, ""},
};
#define NFILES ((int)(sizeof(files) / sizeof(files[0])))

static int loaded;

/* FNV-1a: the ETag only has to change when the file does. */
static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void forget_files(void)
{
	int i;

	for (i = 0; i < NFILES; i++) {
		if (files[i].data)
			pkg_free(files[i].data);
		files[i].data = NULL;
		files[i].len = 0;
	}
}

/* Reads root/f->name whole. 0 or -1 (logged). */
static int read_page_file(const char *root, page_file_t *f)
{
	char path[4096];
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", root, f->name) >= (int)sizeof(path)) {
		LM_ERR("web_root %s: the path is too long\n", root);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		LM_ERR("web_root: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		LM_ERR("web_root: %s is not a regular file\n", path);
		goto fail;
	}
	if (st.st_size > FILE_MAX) {
		LM_ERR("web_root: %s has %lld bytes, more than the %d a page file may have\n", path,
				(long long)st.st_size, FILE_MAX);
		goto fail;
	}
	f->len = (size_t)st.st_size;
	f->data = pkg_malloc(f->len + 1);
	if (!f->data) {
		LM_ERR("web_root: no pkg memory for the %zu bytes of %s\n", f->len, path);
		goto fail;
	}
	while (got < f->len) {
		n = read(fd, f->data + got, f->len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			LM_ERR("web_root: cannot read %s: %s\n", path,
					n < 0 ? strerror(errno) : "it became shorter");
			goto fail;
		}
		got += (size_t)n;
	}
	f->data[f->len] = '\0';
	snprintf(f->etag, sizeof(f->etag), "\"%016llx\"",
			(unsigned long long)fnv1a(f->data, f->len));
	close(fd);
	return 0;

fail:
	close(fd);
	return -1;
}

int pchat_webpage_init(const char *web_root)
{
	struct stat st;
	int i;

	if (!web_root || !web_root[0]) {
		LM_INFO("no web_root: the room-management page is not served\n");
		return 0;
	}
	/* the processes' working folder is not the configuration's */
	if (web_root[0] != '/' || stat(web_root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		LM_ERR("web_root %s must be an absolute path to a folder\n", web_root);
		return -1;
	}
	for (i = 0; i < NFILES; i++) {
		if (read_page_file(web_root, &files[i]) < 0) {
			forget_files();
			return -1;
		}
	}
	loaded = 1;
	LM_INFO("the room-management page from %s is served at " PAGE_PREFIX "\n", web_root);
	return 0;
}

static void refuse(pchat_http_req_t *r, const char *body, size_t len, const char *note)
{
	pchat_http_log_note(r, "%s", note);
	pchat_http_respond(r, 404, JSON, body, len);
}

static void not_configured(pchat_http_req_t *r)
{
	static const char body[] = "{\"error\":\"not_found\",\"message\":\"the room-management page "
							   "is not set up on this node\"}";

	refuse(r, body, sizeof(body) - 1, "no web_root");
}

/* Whether an If-None-Match value names etag (or is "*"); weak tags compare as equal, as
 * RFC 9110 wants for this header. */
static int etag_matches(const char *header, const char *etag)
{
	header += strspn(header, " \t");
	return strcmp(header, "*") == 0 || strstr(header, etag) != NULL;
}

static void page(pchat_http_req_t *r)
{
	static const char unknown[] = "{\"error\":\"not_found\",\"message\":\"no such file\"}";
	const char *name = pchat_http_path(r) + strlen(PAGE_PREFIX), *inm;
	const page_file_t *f = NULL;
	int i;

	if (!loaded) {
		not_configured(r);
		return;
	}
	if (!name[0])
		name = "index.html";
	for (i = 0; i < NFILES && !f; i++)
		if (strcmp(name, files[i].name) == 0)
			f = &files[i];
	if (!f) {
		refuse(r, unknown, sizeof(unknown) - 1, "no such page file");
		return;
	}
	/* the service adds no Cache-Control of its own when the handler set one */
	if (pchat_http_add_header(r, "Content-Security-Policy", PAGE_CSP) < 0
			|| pchat_http_add_header(r, "X-Frame-Options", "DENY") < 0
			|| pchat_http_add_header(r, "Cache-Control", "no-cache") < 0
			|| pchat_http_add_header(r, "ETag", f->etag) < 0) {
		pchat_http_respond(r, 500, NULL, "", 0);
		return;
	}
	inm = pchat_http_header(r, "If-None-Match");
	if (inm && etag_matches(inm, f->etag)) {
		pchat_http_respond(r, 304, NULL, "", 0);
		return;
	}
	if (pchat_http_respond(r, 200, f->type, f->data, f->len) < 0)
		pchat_http_respond(r, 500, NULL, "", 0);
}

static void bare(pchat_http_req_t *r)
{
	if (!loaded) {
		not_configured(r);
		return;
	}
	if (pchat_http_add_header(r, "Location", PAGE_PREFIX) < 0) {
		pchat_http_respond(r, 500, NULL, "", 0);
		return;
	}
	pchat_http_respond(r, 301, NULL, "", 0);
}

const pchat_http_route_t pchat_webpage_route = {"GET", PAGE_PREFIX, 0, NULL, NULL, page, NULL};
const pchat_http_route_t pchat_webpage_bare_route = {"GET", PAGE_BARE, 0, NULL, NULL, bare,
		NULL};
