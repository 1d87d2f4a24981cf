/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#define _GNU_SOURCE /* sync_file_range */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pchat_export.h"
#include "pchat_uri.h"

/* A page of events read from the outbox is held whole in memory (the client stores a result
 * before it is read): pages are sized in bytes, about PAGE_BYTES, from the size of the events
 * of the page before, between 1 and PAGE_MAX events; the first is small. An event is a few
 * hundred bytes, or up to some 100 KB for a moderation with the long post it replaced. */
#define PAGE_BYTES (4 << 20)
#define PAGE_MAX 500
#define PAGE_FIRST 32
/* Rooms of a batch handled per query with one_room_per_file. */
#define ROOM_PAGE 1000

#define TMP_PREFIX ".pchat-compliance-"
#define TMP_SUFFIX ".tmp"

static int failed(pchat_export_t *x, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->error, sizeof(x->error), fmt, ap);
	va_end(ap);
	return rc;
}

static int db_failed(pchat_export_t *x, int rc, const char *what)
{
	return failed(x, rc, "%s: %s", what,
			rc == PCHAT_ERR_DOWN ? "the database is unreachable" : pchat_db_last_error(x->db));
}

/* ------------------------------------------------------------------ one output file */

/* An output file being written: its writer, its names, how many events it holds. */
typedef struct out_file {
	FILE *f;
	pchat_archive_t *w;
	char final[128];
	char tmp[256];
	long long events;
} out_file_t;

static void out_names(out_file_t *o, const pchat_export_t *x, const pchat_batch_t *b,
		uint64_t room, const char *suffix)
{
	char room_part[32] = "";

	if (room)
		snprintf(room_part, sizeof(room_part), "-room%llu", (unsigned long long)room);
	snprintf(o->final, sizeof(o->final), "%s%s%s", b->name, room_part, suffix);
	snprintf(o->tmp, sizeof(o->tmp), ".%s.%s" TMP_SUFFIX, o->final, x->node);
}

static int out_open(pchat_export_t *x, out_file_t *o, const char *dir,
		const pchat_archive_opts_t *opts)
{
	char path[PCHAT_PATH_MAX + 256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, o->tmp);
	/* the name is predictable: a link planted under it is not followed */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
	o->f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!o->f) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return failed(x, PCHAT_ERR_FAILED, "cannot create %s: %s", path, strerror(e));
	}
	o->w = pchat_archive_open(o->f, opts);
	if (!o->w) {
		fclose(o->f);
		o->f = NULL;
		unlink(path);
		return failed(x, PCHAT_ERR_NO_MEMORY, "out of memory writing %s", path);
	}
	return 0;
}

/* Starts writing what a page added to disk, without waiting for it: the fsync before the
 * rename then has little left to do. One large fsync at the end queued the database's own
 * (every post's commit) behind it. */
static void out_writeback(out_file_t *o)
{
	if (o->f && fflush(o->f) == 0)
		sync_file_range(fileno(o->f), 0, 0, SYNC_FILE_RANGE_WRITE);
}

/* Finishes the writer and the file; -1 when anything failed to reach it. */
static int out_close(pchat_export_t *x, out_file_t *o, const char *dir)
{
	long long n;
	int rc = 0, closed, e;

	if (!o->f)
		return 0;
	errno = 0;
	n = pchat_archive_close(o->w);
	e = errno;
	closed = fclose(o->f); /* always: the descriptor of a full disk must not stay open */
	if (n < 0 || closed != 0) {
		e = n < 0 ? e : errno;
		rc = failed(x, PCHAT_ERR_FAILED, "cannot write %s/%s: %s", dir, o->tmp,
				e ? strerror(e) : "write error");
	}
	o->f = NULL;
	o->w = NULL;
	o->events = n;
	return rc;
}

static void out_discard(out_file_t *o, const char *dir)
{
	char path[PCHAT_PATH_MAX + 256];

	if (o->f) {
		pchat_archive_close(o->w);
		fclose(o->f);
		o->f = NULL;
		o->w = NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, o->tmp);
	unlink(path);
}

/* Applies the batch's stylesheet: the transformed file replaces the temporary one. */
static int out_transform(pchat_export_t *x, out_file_t *o, const char *dir, const char *xslt)
{
	char in[PCHAT_PATH_MAX + 256], out[PCHAT_PATH_MAX + 264], err[256];
	int rc;

	snprintf(in, sizeof(in), "%s/%s", dir, o->tmp);
	snprintf(out, sizeof(out), "%s/.%s.%s.xslt" TMP_SUFFIX, dir, o->final, x->node);
	rc = pchat_archive_transform(xslt, in, out, err, sizeof(err));
	if (rc == 0 && (rc = rename(out, in)) != 0)
		snprintf(err, sizeof(err), "cannot rename its output: %s", strerror(errno));
	if (rc == 0)
		return 0;
	unlink(out);
	return failed(x, PCHAT_ERR_FAILED, "the stylesheet %s failed on %s: %s", xslt, o->final, err);
}

/* The file appears under its final name, whole; one without events is not written. */
static int out_publish(pchat_export_t *x, out_file_t *o, const char *dir)
{
	char err[256];

	if (o->events <= 0) {
		out_discard(o, dir);
		return 0;
	}
	if (pchat_archive_publish(dir, o->tmp, o->final, err, sizeof(err)) < 0) {
		out_discard(o, dir);
		return failed(x, PCHAT_ERR_FAILED, "cannot publish %s/%s: %s", dir, o->final, err);
	}
	x->files++;
	return 0;
}

/* ------------------------------------------------------------------ a batch's events */

typedef struct batch_pass {
	pchat_export_t *x;
	const pchat_batch_t *b;
	pchat_archive_opts_t opts;
	out_file_t main;
	out_file_t moderation; /* XML adapter: opened at the first moderation event */
	uint64_t after_room, after_id;
	long long read;        /* events read from the outbox */
	long long page_bytes;  /* of the events of the page being read */
	int rc;
} batch_pass_t;

/* What an event takes beside its texts: its numbers, room and user */
#define EVENT_OVERHEAD 512

/* The events the next query asks for, from the bytes and number of the page before. */
static int next_page(long long bytes, int n)
{
	long long each = n > 0 ? bytes / n + 1 : EVENT_OVERHEAD, limit = PAGE_BYTES / each;

	return limit < 1 ? 1 : limit > PAGE_MAX ? PAGE_MAX : (int)limit;
}

static int write_event(void *ctx, const pchat_event_t *ev)
{
	batch_pass_t *p = ctx;
	pchat_event_t e = *ev;
	int rc;

	p->after_room = ev->room_id;
	p->after_id = ev->id;
	p->read++;
	p->page_bytes += EVENT_OVERHEAD + strlen(ev->content) + (ev->detail ? strlen(ev->detail) : 0)
			+ (ev->room_details ? strlen(ev->room_details) : 0);
	if (p->b->add_user_details && e.user[0])
		e.user_internal = strcasecmp(pchat_user_domain(e.user), p->x->domain) == 0;
	rc = pchat_archive_add(p->main.w, &e);
	if (rc == 0 && p->b->adapter == PCHAT_ADAPTER_XML) {
		pchat_archive_opts_t jsonl = p->opts;

		jsonl.format = PCHAT_ARCHIVE_JSONL;
		if (!p->moderation.f && (p->rc = out_open(p->x, &p->moderation, p->b->output_dir,
										  &jsonl)) < 0)
			return 1;
		rc = pchat_archive_add(p->moderation.w, &e);
	}
	if (rc < 0) {
		p->rc = failed(p->x, PCHAT_ERR_FAILED, "cannot write the events of batch %s to %s",
				p->b->name, p->b->output_dir);
		return 1;
	}
	return 0;
}

/* Renews the lease through the worker; a run that lost it stops. */
static int still_holding(pchat_export_t *x, const pchat_batch_t *b)
{
	if (!x->keep_going || x->keep_going(x->ctx))
		return 0;
	return failed(x, PCHAT_ERR_CONFLICT, "the run stopped while writing batch %s: this node no "
			"longer holds the lease", b->name);
}

/* The batch's events (of one room, or all) into their file(s); *read counts the events read. */
static int write_files(pchat_export_t *x, const pchat_batch_t *b, uint64_t room,
		long long *read)
{
	const char *dir = b->output_dir;
	batch_pass_t p;
	int n, full, limit = PAGE_FIRST;

	memset(&p, 0, sizeof(p));
	p.x = x;
	p.b = b;
	p.opts.format = b->adapter == PCHAT_ADAPTER_XML ? PCHAT_ARCHIVE_XML : PCHAT_ARCHIVE_JSONL;
	p.opts.add_user_details = b->add_user_details;
	p.opts.add_room_details = b->add_room_details;
	out_names(&p.main, x, b, room, b->adapter == PCHAT_ADAPTER_XML ? ".xml" : ".jsonl");
	out_names(&p.moderation, x, b, room, "-moderation.jsonl");
	if ((p.rc = out_open(x, &p.main, dir, &p.opts)) < 0)
		return p.rc;
	do {
		p.page_bytes = 0;
		n = pchat_outbox_events(x->db, b->id, room, p.after_room, p.after_id, limit,
				write_event, &p);
		if (n < 0 && p.rc == 0)
			p.rc = db_failed(x, n, "reading the batch's events");
		out_writeback(&p.main);
		full = n == limit;
		limit = next_page(p.page_bytes, n);
		/* a long batch outlasts the lease: it is renewed as the pages go */
		if (full && p.rc == 0)
			p.rc = still_holding(x, b);
	} while (full && p.rc == 0);
	if (p.rc == 0)
		p.rc = out_close(x, &p.main, dir);
	if (p.rc == 0)
		p.rc = out_close(x, &p.moderation, dir);
	if (p.rc == 0 && b->xslt[0] && b->adapter == PCHAT_ADAPTER_XML && p.main.events > 0)
		p.rc = out_transform(x, &p.main, dir, b->xslt);
	if (p.rc == 0)
		p.rc = still_holding(x, b); /* a stylesheet may take long */
	*read += p.read;
	if (p.rc == 0)
		p.rc = out_publish(x, &p.main, dir);
	if (p.rc == 0)
		p.rc = out_publish(x, &p.moderation, dir);
	if (p.rc < 0) {
		out_discard(&p.main, dir);
		out_discard(&p.moderation, dir);
	}
	return p.rc;
}

/* ------------------------------------------------------------------ batches */

typedef struct room_page {
	uint64_t ids[ROOM_PAGE];
	int n;
} room_page_t;

static int keep_room(void *ctx, uint64_t room_id)
{
	room_page_t *rp = ctx;

	rp->ids[rp->n++] = room_id;
	return 0;
}

static int write_per_room(pchat_export_t *x, const pchat_batch_t *b, long long *read)
{
	static room_page_t rp; /* 8 KB: off the stack */
	uint64_t after = 0;
	int n, i, rc;

	do {
		rp.n = 0;
		n = pchat_outbox_rooms(x->db, b->id, after, ROOM_PAGE, keep_room, &rp);
		if (n < 0)
			return db_failed(x, n, "reading the batch's rooms");
		for (i = 0; i < rp.n; i++)
			if ((rc = still_holding(x, b)) < 0 || (rc = write_files(x, b, rp.ids[i], read)) < 0)
				return rc;
		if (rp.n)
			after = rp.ids[rp.n - 1];
	} while (n == ROOM_PAGE);
	return 0;
}

/* 1 when a file of the batch named stem was published in dir, 0 when none was, -1 when that
 * cannot be told (the folder exists but cannot be read). */
static int published_in(const char *dir, const char *stem)
{
	size_t len = strlen(stem);
	struct dirent *de;
	int found = 0;
	DIR *d;

	if (!(d = opendir(dir)))
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	while (!found && (de = readdir(d)) != NULL)
		found = strncmp(de->d_name, stem, len) == 0;
	closedir(d);
	return found;
}

static int same_settings(const pchat_batch_t *b, const pchat_compliance_conf_t *conf)
{
	return b->adapter == conf->adapter && !strcmp(b->output_dir, conf->output_dir)
		   && b->one_room_per_file == conf->one_room_per_file
		   && b->add_user_details == conf->add_user_details
		   && b->add_room_details == conf->add_room_details && !strcmp(b->xslt, conf->xslt);
}

/* A batch written again takes the settings as they are now (the administrator fixed the
 * folder or the stylesheet that failed it), unless a file of it is already in its folder: it
 * then keeps its own, so that it replaces that file rather than appear twice. */
static int follow_settings(pchat_export_t *x, pchat_batch_t *b,
		const pchat_compliance_conf_t *conf)
{
	int rc;

	if (!b->attempts || conf->adapter == PCHAT_ADAPTER_NONE || !conf->output_dir[0]
			|| same_settings(b, conf) || published_in(b->output_dir, b->name) != 0)
		return 0;
	if ((rc = pchat_outbox_batch_settings(x->db, b, conf)) < 0)
		return db_failed(x, rc, "updating the batch's settings");
	return 0;
}

static int export_batch(pchat_export_t *x, pchat_batch_t *b, const pchat_compliance_conf_t *conf)
{
	long long deleted, read = 0;
	int rc;

	if ((rc = follow_settings(x, b, conf)) < 0)
		return rc;
	if ((rc = pchat_outbox_attempted(x->db, b->id)) < 0
			|| (rc = pchat_outbox_number_users(x->db, b->id)) < 0)
		return db_failed(x, rc, "preparing the batch");
	rc = b->one_room_per_file ? write_per_room(x, b, &read) : write_files(x, b, 0, &read);
	if (rc < 0)
		return rc;
	/* what is deleted must all have been written */
	if (read != b->events)
		return failed(x, PCHAT_ERR_FAILED, "batch %s holds %d events but %lld were read for "
				"its files; it stays in the outbox", b->name, b->events, read);
	deleted = pchat_outbox_finish(x->db, b, x->node, x->lease_s);
	if (deleted == PCHAT_ERR_CONFLICT)
		return failed(x, PCHAT_ERR_CONFLICT, "batch %s was written but the lease passed to "
				"another node before it was finished; that node writes it again", b->name);
	if (deleted == PCHAT_ERR_INVALID)
		return failed(x, PCHAT_ERR_FAILED, "batch %s no longer holds the %d events it was "
				"taken with; nothing was deleted", b->name, b->events);
	if (deleted < 0)
		return db_failed(x, (int)deleted, "finishing the batch");
	x->exported += deleted;
	x->batches++;
	return 0;
}

/* Removes the hidden temporary files a worker left when it died while writing. */
static void remove_stale_tmp(const char *dir)
{
	char path[PCHAT_PATH_MAX + 256];
	time_t now = time(NULL);
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);
	size_t len;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0
				|| len < strlen(TMP_SUFFIX)
				|| strcmp(de->d_name + len - strlen(TMP_SUFFIX), TMP_SUFFIX) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)
				&& now - st.st_mtime > PCHAT_EXPORT_STALE_TMP_S)
			unlink(path);
	}
	closedir(d);
}

static long long monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Between batches the worker rests as long as the last batch took, and at least
 * batch_pause_us: a backlog takes the database half of the time at most, and posts are not
 * held up behind it for long. */
static void rest_after(const pchat_export_t *x, long long batch_us)
{
	long long us = batch_us > x->batch_pause_us ? batch_us : x->batch_pause_us;

	if (us > 0)
		usleep((useconds_t)(us > 1000000 ? 1000000 : us));
}

int pchat_export_run(pchat_export_t *x, const pchat_compliance_conf_t *conf)
{
	pchat_batch_t b;
	long long batch_us = 0, started;
	int rc, claimed;

	x->exported = 0;
	x->batches = x->files = 0;
	x->error[0] = '\0';
	if (conf->adapter != PCHAT_ADAPTER_NONE && conf->output_dir[0])
		remove_stale_tmp(conf->output_dir);
	for (;;) {
		claimed = 0;
		if (x->batches)
			rest_after(x, batch_us);
		if (x->keep_going && !x->keep_going(x->ctx))
			return failed(x, PCHAT_ERR_CONFLICT, "the run stopped: this node no longer holds "
					"the lease");
		rc = pchat_outbox_open_batch(x->db, &b);
		if (rc == 0) {
			if (conf->adapter == PCHAT_ADAPTER_NONE)
				return PCHAT_OK; /* the waiting events wait for an adapter */
			if (!conf->output_dir[0])
				return failed(x, PCHAT_ERR_INVALID, "no output_dir is set "
						"(pchat.compliance.set output_dir /path)");
			rc = claimed = pchat_outbox_claim(x->db, conf, x->node, x->lease_s, &b);
		}
		if (rc < 0)
			return db_failed(x, rc, "taking a batch");
		if (rc == 0)
			return PCHAT_OK;
		started = monotonic_us();
		if ((rc = export_batch(x, &b, conf)) < 0)
			return rc;
		batch_us = monotonic_us() - started;
		/* a run takes what waits when it starts, not what chat adds while it exports: a
		 * batch that is not full has emptied the outbox */
		if (claimed == 1 && b.events < conf->batch_size)
			return PCHAT_OK;
	}
}
