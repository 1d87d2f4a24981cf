/*
 * Fakes of the chat logic's store, live state and output (see fakes.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fakes.h"
#include "pchat_alloc.h"
#include "pchat_archive.h"

fake_t F;
fake_hooks_t fake_hooks;

static char *dup_or_fail(const char *s)
{
	char *d = strdup(s);

	FAKE_CHECK(d != NULL);
	return d;
}

static void step(const char *what)
{
	size_t len = strlen(F.log);

	if (len + strlen(what) + 2 <= sizeof(F.log)) {
		strcpy(F.log + len, what);
		strcat(F.log, " ");
	}
}

/* ------------------------------------------------------------------ state */

void fake_clear(void)
{
	fake_stored_t *p, *pn;
	fake_bundle_t *b, *bn;

	for (p = F.posts; p; p = pn) {
		pn = p->next;
		free(p->author);
		free(p->content);
		free(p);
	}
	for (b = F.bundles; b; b = bn) {
		bn = b->next;
		free(b->user);
		free(b->label);
		free(b->content);
		free(b);
	}
	free(F.tx_author);
	free(F.tx_content);
	F.posts = NULL;
	F.posts_tail = &F.posts;
	F.bundles = NULL;
	F.tx_author = F.tx_content = NULL;
	F.in_tx = 0;
}

static void add_member(pchat_sref_t session, const char *user, uint64_t room_id, int can_post)
{
	int i = F.members++;

	F.member[i] = session;
	snprintf(F.member_user[i], sizeof(F.member_user[i]), "%s", user);
	F.member_room[i] = room_id;
	F.member_can_post[i] = can_post;
	F.ready[i] = 0;
}

void fake_reset(const fake_world_t *world)
{
	int i;

	fake_clear();
	memset(&F, 0, offsetof(fake_t, reply));
	for (i = 0; i < FAKE_REPLIES; i++)
		F.reply[i][0] = '\0';
	F.world = world;
	F.posts_tail = &F.posts;
	for (i = world->nprefs - 1; i >= 0; i--) {
		fake_bundle_t *b = calloc(1, sizeof(*b));

		FAKE_CHECK(b != NULL);
		b->user = dup_or_fail(world->prefs[i].user);
		b->label = dup_or_fail(world->prefs[i].label);
		b->content = dup_or_fail(world->prefs[i].content);
		b->seqid = world->prefs[i].seqid;
		b->next = F.bundles;
		F.bundles = b;
	}
	for (i = 0; i < world->nmembers && F.members < FAKE_SESSIONS; i++) {
		add_member(world->members[i].session, world->members[i].user,
				world->members[i].room_id, 1);
		F.ready[F.members - 1] = 1;
	}
}

const fake_room_t *fake_room(uint64_t id)
{
	int i;

	for (i = 0; F.world && i < F.world->nrooms; i++)
		if (F.world->rooms[i].id == id)
			return &F.world->rooms[i];
	return NULL;
}

const fake_room_t *fake_room_by_guid(const char *guid)
{
	int i;

	for (i = 0; F.world && i < F.world->nrooms; i++)
		if (strcmp(F.world->rooms[i].guid, guid) == 0)
			return &F.world->rooms[i];
	return NULL;
}

static int stored_count(uint64_t room_id)
{
	const fake_stored_t *p;
	int n = 0;

	for (p = F.posts; p; p = p->next)
		n += p->room_id == room_id;
	return n;
}

/* Posts of a room's history: generated ones, the world's, then the ones stored since. */
static int filler_count(const fake_room_t *r)
{
	return F.history_n + r->filler;
}

uint64_t fake_room_seq(uint64_t room_id)
{
	const fake_room_t *r = fake_room(room_id);

	return r ? (uint64_t)(filler_count(r) + r->nposts + stored_count(room_id)) : 0;
}

static int user_is(const char *pattern, const char *user)
{
	return pattern == NULL || strcasecmp(pattern, user) == 0;
}

static pchat_access_t access_of(const char *guid, const char *user)
{
	pchat_access_t a = {1, 0, 0};
	int i;

	for (i = 0; i < F.world->ngrants; i++) {
		const fake_grant_t *g = &F.world->grants[i];

		if (strcasecmp(g->user, user) != 0 || (g->guid && strcmp(g->guid, guid) != 0))
			continue;
		a.roles |= g->roles;
		a.denied |= g->denied;
		if (g->outside)
			a.allowed = 0;
	}
	return a;
}

/* ------------------------------------------------------------------ store */

static int room_for(void *h, const char *guid, const char *user, pchat_room_t *room)
{
	const fake_room_t *r;

	(void)h;
	if (F.down)
		return PCHAT_ERR_DOWN;
	memset(room, 0, sizeof(*room));
	r = fake_room_by_guid(guid);
	if (!r)
		return PCHAT_ERR_NOT_FOUND;
	if (r->lookup_result)
		return r->lookup_result;
	room->id = r->id;
	snprintf(room->guid, sizeof(room->guid), "%s", r->guid);
	snprintf(room->name, sizeof(room->name), "%s", r->name ? r->name : "");
	snprintf(room->description, sizeof(room->description), "%s",
			r->description ? r->description : "");
	snprintf(room->topic, sizeof(room->topic), "%s", r->topic ? r->topic : "");
	room->privacy = r->privacy;
	room->type = r->type;
	room->disabled = r->disabled;
	room->file_post = r->file_post;
	room->invite = r->invite;
	room->logged = r->logged;
	room->access = access_of(r->guid, user);
	room->last_seq = fake_room_seq(r->id);
	return 0;
}

/* room_for for each place, as one query would answer: a failure fails the whole batch. */
static int rooms_for(void *h, const char *user, pchat_room_t *rooms, int n)
{
	char guid[PCHAT_GUID_LEN + 1];
	int i, rc;

	F.batch_lookups++;
	FAKE_CHECK(n <= PCHAT_ROOMS_BATCH);
	for (i = 0; i < n; i++) {
		if (!rooms[i].guid[0])
			continue;
		snprintf(guid, sizeof(guid), "%s", rooms[i].guid);
		rc = room_for(h, guid, user, &rooms[i]);
		if (rc == PCHAT_ERR_NOT_FOUND)
			snprintf(rooms[i].guid, sizeof(rooms[i].guid), "%s", guid);
		else if (rc < 0)
			return rc;
	}
	return 0;
}

static int post_begin(void *h, uint64_t room_id, const char *author, const char *ts,
		const char *content, uint64_t *seq)
{
	const fake_room_t *r = fake_room(room_id);

	(void)h;
	FAKE_CHECK(r != NULL);
	FAKE_CHECK(!F.in_tx);
	if (fake_hooks.store_post)
		fake_hooks.store_post(room_id, author, content);
	if (F.down)
		return PCHAT_ERR_DOWN;
	if (r && r->begin_result)
		return r->begin_result;
	step("begin");
	F.in_tx = 1;
	F.tx_events = F.nevents;
	F.tx_room = room_id;
	F.tx_seq = *seq = fake_room_seq(room_id) + 1;
	F.tx_author = dup_or_fail(author);
	F.tx_content = dup_or_fail(content);
	snprintf(F.tx_ts, sizeof(F.tx_ts), "%s", ts);
	snprintf(F.last_author, sizeof(F.last_author), "%s", author);
	snprintf(F.last_content, sizeof(F.last_content), "%s", content);
	return 0;
}

static void end_tx(void)
{
	free(F.tx_author);
	free(F.tx_content);
	F.tx_author = F.tx_content = NULL;
	F.in_tx = 0;
}

static int post_commit(void *h)
{
	const fake_room_t *r = fake_room(F.tx_room);
	fake_stored_t *p;

	(void)h;
	FAKE_CHECK(F.in_tx);
	step("commit");
	if (F.fail_commit || (r && r->commit_result)) {
		F.nevents = F.tx_events; /* rolled back with the post */
		end_tx();
		return F.fail_commit ? PCHAT_ERR_DOWN : r->commit_result;
	}
	p = calloc(1, sizeof(*p));
	FAKE_CHECK(p != NULL);
	p->room_id = F.tx_room;
	p->seq = F.tx_seq;
	p->author = F.tx_author;
	p->content = F.tx_content;
	memcpy(p->ts, F.tx_ts, sizeof(p->ts));
	F.tx_author = F.tx_content = NULL;
	*F.posts_tail = p;
	F.posts_tail = &p->next;
	F.stored++;
	end_tx();
	return 0;
}

static void post_abort(void *h)
{
	(void)h;
	FAKE_CHECK(F.in_tx);
	step("abort");
	F.nevents = F.tx_events;
	end_tx();
}

/* Post seq (from 1) of a room's history, given to cb; 0 when there is none such. */
static int history_post(const fake_room_t *r, uint64_t seq, pchat_post_f cb, void *ctx)
{
	int fill = filler_count(r);
	pchat_post_t p;
	char ts[32], content[1024];
	const fake_stored_t *s;

	if (seq == 0)
		return 0;
	if (seq <= (uint64_t)fill) {
		int i = (int)seq - 1;

		p.seq = seq;
		p.author = "sip:bob@chat.test";
		snprintf(ts, sizeof(ts), "2026-01-01 00:00:%02d.000000", i % 60);
		content[0] = '\0';
		if (F.world->filler)
			F.world->filler(r->id, i, content, sizeof(content), &p.author);
		p.ts = ts;
		p.content = content;
		cb(ctx, &p);
		return 1;
	}
	if (seq <= (uint64_t)(fill + r->nposts)) {
		p = r->posts[seq - fill - 1];
		p.seq = seq;
		cb(ctx, &p);
		return 1;
	}
	for (s = F.posts; s; s = s->next) {
		if (s->room_id == r->id && s->seq == seq) {
			p = (pchat_post_t){s->seq, s->author, s->ts, s->content};
			cb(ctx, &p);
			return 1;
		}
	}
	return 0;
}

static int posts_between(void *h, uint64_t room_id, uint64_t after, uint64_t before, int limit,
		pchat_post_f cb, void *ctx)
{
	const fake_room_t *r = fake_room(room_id);
	uint64_t last = fake_room_seq(room_id), seq;
	int n = 0;

	(void)h;
	FAKE_CHECK(r != NULL);
	if (!r)
		return 0;
	for (seq = after + 1; seq <= last && seq < before && n < limit; seq++)
		n += history_post(r, seq, cb, ctx);
	return n;
}

static int text_failure(const char *text)
{
	if (strcmp(text, FAKE_TEXT_STORE_DOWN) == 0)
		return PCHAT_ERR_DOWN;
	if (strcmp(text, FAKE_TEXT_STORE_ERROR) == 0)
		return PCHAT_ERR_FAILED;
	return 0;
}

static int search(void *h, const char *user, pchat_search_kind_t kind, const char *text,
		int limit, pchat_room_f cb, void *ctx)
{
	int i, n = 0, rc = text_failure(text);

	(void)h;
	if (F.down)
		return PCHAT_ERR_DOWN;
	if (rc)
		return rc;
	for (i = 0; i < F.world->nlistings && n < limit; i++) {
		const fake_listing_t *l = &F.world->listings[i];
		int match = 0;

		if (!user_is(l->user, user))
			continue;
		switch (kind) {
			case PCHAT_SEARCH_NAME: match = strstr(l->room.name, text) != NULL; break;
			case PCHAT_SEARCH_DESCRIPTION:
				match = strstr(l->room.description, text) != NULL;
				break;
			case PCHAT_SEARCH_MEMBER: match = l->member && strcasecmp(l->member, text) == 0; break;
			case PCHAT_SEARCH_MANAGER:
				match = l->manager && strcasecmp(l->manager, text) == 0;
				break;
		}
		if (match) {
			n++;
			if (cb(ctx, &l->room))
				break;
		}
	}
	return 0;
}

static int associations(void *h, const char *user, enum pchat_role role, int limit,
		pchat_room_f cb, void *ctx)
{
	int i, n = 0;

	(void)h;
	if (F.down)
		return PCHAT_ERR_DOWN;
	for (i = 0; i < F.world->nassociations && n < limit; i++) {
		const fake_association_t *a = &F.world->associations[i];

		if (a->role == role && user_is(a->user, user)) {
			n++;
			if (cb(ctx, &a->room))
				break;
		}
	}
	return 0;
}

static int invitations(void *h, const char *user, uint64_t after, int limit,
		pchat_invitation_f cb, void *ctx)
{
	int i, n = 0;

	(void)h;
	if (F.down)
		return PCHAT_ERR_DOWN;
	for (i = 0; i < F.world->ninvitations && n < limit; i++) {
		const fake_invitation_t *inv = &F.world->invitations[i];

		if (inv->inv.id > after && user_is(inv->user, user)) {
			n++;
			if (cb(ctx, &inv->inv))
				break;
		}
	}
	return 0;
}

static fake_bundle_t *bundle(const char *user, const char *label)
{
	fake_bundle_t *b;

	for (b = F.bundles; b; b = b->next)
		if (strcmp(b->user, user) == 0 && strcmp(b->label, label) == 0)
			return b;
	return NULL;
}

static int pref_get(void *h, const char *user, const char *label, pchat_pref_t *pref)
{
	const fake_bundle_t *b;
	int rc = text_failure(label);

	(void)h;
	if (F.down)
		return PCHAT_ERR_DOWN;
	if (rc)
		return rc;
	b = bundle(user, label);
	pref->seqid = b ? b->seqid : 0;
	pref->content = NULL;
	if (b && !(pref->content = pchat_strdup(b->content)))
		return PCHAT_ERR_FAILED;
	return 0;
}

/* The bundles user keeps. */
static int bundles_of(const char *user)
{
	fake_bundle_t *b;
	int n = 0;

	for (b = F.bundles; b; b = b->next)
		n += strcmp(b->user, user) == 0;
	return n;
}

static int pref_set(void *h, const char *user, const char *label, const char *content, int max,
		uint64_t *seqid)
{
	fake_bundle_t *b;
	int rc = text_failure(label);

	(void)h;
	if (F.down)
		return PCHAT_ERR_DOWN;
	if (rc)
		return rc;
	b = bundle(user, label);
	if (!b && bundles_of(user) >= max)
		return PCHAT_ERR_FULL;
	if (!b) {
		b = calloc(1, sizeof(*b));
		FAKE_CHECK(b != NULL);
		b->user = dup_or_fail(user);
		b->label = dup_or_fail(label);
		b->next = F.bundles;
		F.bundles = b;
	}
	free(b->content);
	b->content = dup_or_fail(content);
	*seqid = ++b->seqid;
	return 0;
}

static int is_creator(void *h, const char *user)
{
	int i;

	(void)h;
	if (F.down)
		return PCHAT_ERR_DOWN;
	for (i = 0; i < F.world->ncreators; i++)
		if (strcasecmp(F.world->creators[i], user) == 0)
			return 1;
	return 0;
}

static int policy_enabled(void *h, const char *user)
{
	(void)h;
	(void)user;
	return F.down ? PCHAT_ERR_DOWN : 1;
}

/* The chat logic never asks for it (the node's housekeeper does). */
static int last_seqs(void *h, const uint64_t *rooms, int n, uint64_t *seqs)
{
	(void)h;
	(void)rooms;
	(void)n;
	(void)seqs;
	FAKE_CHECK(!"last_seqs is not the chat logic's");
	return PCHAT_ERR_FAILED;
}

static int record(void *h, const pchat_record_t *ev)
{
	fake_event_t *e;

	(void)h;
	FAKE_CHECK(ev->kind >= 0 && ev->kind < PCHAT_EV_KINDS);
	FAKE_CHECK(strncmp(ev->room_uri, "ma-chan://", 10) == 0);
	FAKE_CHECK(ev->ts && strlen(ev->ts) == 26);
	FAKE_CHECK(ev->user && ev->content);
	if (F.down)
		return PCHAT_ERR_DOWN;
	if (F.record_result)
		return F.record_result;
	step("record");
	if (F.nevents++ >= FAKE_EVENTS)
		return 0; /* counted, not kept */
	e = &F.events[F.nevents - 1];
	e->kind = ev->kind;
	e->room = ev->room_id;
	e->msg_id = ev->msg_id;
	snprintf(e->user, sizeof(e->user), "%s", ev->user);
	snprintf(e->content, sizeof(e->content), "%s", ev->content);
	snprintf(e->detail, sizeof(e->detail), "%s", ev->detail ? ev->detail : "");
	return 0;
}

/* The one file the store knows (F.file_room, F.file_name); tokens are numbered. */
static int file_token(void *h, const char *user, uint64_t room_id, int upload,
		const char *name, int lifetime, char *token)
{
	(void)h;
	FAKE_CHECK(lifetime > 0 && user && name);
	if (F.down)
		return PCHAT_ERR_DOWN;
	if (!upload && (room_id != F.file_room || strcmp(name, F.file_name) != 0))
		return PCHAT_ERR_NOT_FOUND;
	F.tokens++;
	F.token_upload = upload;
	F.token_room = room_id;
	snprintf(F.token_name, sizeof(F.token_name), "%s", name);
	snprintf(token, 64, "00000000-0000-4000-8000-%012d", F.tokens);
	return 0;
}

static int file_exists(void *h, uint64_t room_id, const char *name)
{
	(void)h;
	if (F.down)
		return PCHAT_ERR_DOWN;
	return room_id == F.file_room && strcmp(name, F.file_name) == 0;
}

const pchat_store_ops_t fake_store_ops = {room_for, rooms_for, post_begin, post_commit, post_abort,
	posts_between, search, associations, invitations, pref_get, pref_set, is_creator,
	policy_enabled, last_seqs, record, file_token, file_exists};

/* ------------------------------------------------------------------ live state */

static int find(pchat_sref_t ref, uint64_t room_id)
{
	int i;

	for (i = 0; i < F.members; i++)
		if (F.member[i].slot == ref.slot && F.member[i].gen == ref.gen
				&& F.member_room[i] == room_id)
			return i;
	return -1;
}

static int user_there(const char *user, uint64_t room_id, int skip)
{
	int i;

	for (i = 0; i < F.members; i++)
		if (i != skip && F.member_room[i] == room_id && strcmp(F.member_user[i], user) == 0)
			return 1;
	return 0;
}

static int users_in(uint64_t room_id, int max, pchat_user_f cb, void *ctx);

/* The pool lists the room's users with the join, as Redis does, unless the session was there. */
static int live_join(void *h, const pchat_caller_t *c, const pchat_room_t *room, int can_post,
		pchat_listing_t *list)
{
	const fake_room_t *r = fake_room(room->id);
	int first, i = find(c->session, room->id);

	(void)h;
	FAKE_CHECK(r != NULL && strcmp(r->guid, room->guid) == 0);
	if (i >= 0) {
		F.member_can_post[i] = can_post;
		return PCHAT_JOIN_AGAIN;
	}
	if (F.members >= FAKE_SESSIONS)
		return PCHAT_ERR_NO_MEMORY; /* no room in the fake's table */
	first = !user_there(c->user, room->id, -1);
	add_member(c->session, c->user, room->id, can_post);
	if (list)
		list->users = users_in(room->id, list->max, list->cb, list->ctx);
	return first;
}

static void live_ready(void *h, const pchat_caller_t *c, uint64_t room_id)
{
	int i = find(c->session, room_id);

	(void)h;
	FAKE_CHECK(i >= 0);
	if (i >= 0)
		F.ready[i] = 1;
}

static int live_part(void *h, const pchat_caller_t *c, uint64_t room_id)
{
	int i = find(c->session, room_id), last;

	(void)h;
	if (i < 0)
		return PCHAT_ERR_FAILED;
	last = !user_there(c->user, room_id, i);
	F.members--;
	if (i != F.members) {
		F.member[i] = F.member[F.members];
		memcpy(F.member_user[i], F.member_user[F.members], sizeof(F.member_user[i]));
		F.member_room[i] = F.member_room[F.members];
		F.member_can_post[i] = F.member_can_post[F.members];
		F.ready[i] = F.ready[F.members];
	}
	return last;
}

static uint64_t live_joined(void *h, const pchat_caller_t *c, const char *guid, int *can_post)
{
	const fake_room_t *r = fake_room_by_guid(guid);
	int i = r ? find(c->session, r->id) : -1;

	(void)h;
	if (can_post)
		*can_post = i >= 0 ? F.member_can_post[i] : 0;
	return i >= 0 ? r->id : 0;
}

/* Distinct users in a room; their roles are what the world grants them there. */
static int users_in(uint64_t room_id, int max, pchat_user_f cb, void *ctx)
{
	const fake_room_t *r = fake_room(room_id);
	int i, j, n = 0;

	for (i = 0; i < F.members; i++) {
		if (F.member_room[i] != room_id)
			continue;
		for (j = 0; j < i; j++)
			if (F.member_room[j] == room_id && strcmp(F.member_user[j], F.member_user[i]) == 0)
				break;
		if (j < i)
			continue;
		if (n++ < max && cb)
			cb(ctx, F.member_user[i], r ? access_of(r->guid, F.member_user[i]).roles : 0);
	}
	return n;
}

static int live_participants(void *h, uint64_t room_id, int max, pchat_user_f cb, void *ctx)
{
	(void)h;
	F.participant_queries++;
	return users_in(room_id, max, cb, ctx);
}

static void live_counts(void *h, const uint64_t *rooms, int n, int *counts)
{
	int i;

	(void)h;
	for (i = 0; i < n; i++)
		counts[i] = users_in(rooms[i], 0, NULL, NULL);
}

static int live_rooms_of(void *h, const pchat_caller_t *c, pchat_room_ref_t **out)
{
	pchat_room_ref_t *rooms = pchat_calloc(F.members ? F.members : 1, sizeof(*rooms));
	int i, n = 0;

	(void)h;
	*out = rooms;
	if (!rooms)
		return PCHAT_ERR_FAILED;
	for (i = 0; i < F.members; i++) {
		const fake_room_t *r;

		if (F.member[i].slot != c->session.slot || F.member[i].gen != c->session.gen)
			continue;
		r = fake_room(F.member_room[i]);
		FAKE_CHECK(r != NULL);
		rooms[n].id = F.member_room[i];
		snprintf(rooms[n].guid, sizeof(rooms[n].guid), "%s", r ? r->guid : "");
		n++;
	}
	return n;
}

static int live_members(void *h, uint64_t room_id, char *guid, pchat_member_t **out)
{
	const fake_room_t *r = fake_room(room_id);
	int i, n = 0;

	(void)h;
	*out = pchat_calloc(F.members ? F.members : 1, sizeof(**out));
	if (!*out)
		return PCHAT_ERR_FAILED;
	snprintf(guid, PCHAT_GUID_LEN + 1, "%s", r ? r->guid : "");
	for (i = 0; i < F.members; i++) {
		if (F.member_room[i] != room_id)
			continue;
		(*out)[n].session = F.member[i];
		memcpy((*out)[n].user, F.member_user[i], sizeof((*out)[n].user));
		n++;
	}
	return n;
}

static void live_update(void *h, const pchat_caller_t *c, uint64_t room_id, unsigned roles,
		int can_post)
{
	int i = find(c->session, room_id);

	(void)h;
	(void)roles;
	FAKE_CHECK(i >= 0);
	if (i >= 0)
		F.member_can_post[i] = can_post;
	F.updates++;
}

static void live_categorize(void *h, uint64_t room_id, uint64_t category_id)
{
	(void)h;
	FAKE_CHECK(fake_room(room_id) != NULL);
	(void)category_id;
}

const pchat_live_ops_t fake_live_ops = {live_join, live_ready, live_part, live_joined,
	live_participants, live_counts, live_rooms_of, live_members, live_update, live_categorize};

/* ------------------------------------------------------------------ output */

static uint64_t next_envid(void *h)
{
	(void)h;
	return ++F.envid;
}

static int out_reply(void *h, const pchat_caller_t *c, const char *body, size_t len)
{
	(void)h;
	if (fake_hooks.reply)
		fake_hooks.reply(c, body, len);
	FAKE_CHECK(strlen(body) == len);
	FAKE_CHECK(len < sizeof(F.reply[0]));
	if (len < sizeof(F.reply[0]))
		memcpy(F.reply[F.replies % FAKE_REPLIES], body, len + 1);
	F.replies++;
	return 0;
}

static int out_notice(void *h, uint64_t room_id, const char *except, const char *element,
		size_t len)
{
	int i = F.notices++ % FAKE_NOTICES;

	(void)h;
	if (fake_hooks.notice)
		fake_hooks.notice(room_id, except, element, len);
	FAKE_CHECK(strlen(element) == len);
	snprintf(F.notice[i], sizeof(F.notice[i]), "%s", element);
	snprintf(F.notice_except[i], sizeof(F.notice_except[i]), "%s", except ? except : "");
	return 0;
}

static void post_lock(void *h, uint64_t room_id)
{
	(void)h;
	FAKE_CHECK(!F.locked);
	F.locked = 1;
	F.locked_room = room_id;
	step("lock");
}

static int post_fanout(void *h, uint64_t room_id, uint64_t seq, const char *element, size_t len)
{
	(void)h;
	FAKE_CHECK(F.locked && F.locked_room == room_id);
	FAKE_CHECK(seq == fake_room_seq(room_id));
	FAKE_CHECK(strlen(element) == len);
	if (fake_hooks.fanout)
		fake_hooks.fanout(room_id, seq, element, len);
	step("fanout");
	F.fanouts++;
	snprintf(F.fanout, sizeof(F.fanout), "%s", element);
	return 0;
}

static void post_unlock(void *h, uint64_t room_id)
{
	(void)h;
	FAKE_CHECK(F.locked && F.locked_room == room_id);
	F.locked = 0;
	step("unlock");
}

const pchat_out_ops_t fake_out_ops = {next_envid, out_reply, out_notice, post_lock, post_fanout,
	post_unlock};

/* ------------------------------------------------------------------ a rich world for fuzzing */

#define RICH_GUID(n) "10000000-0000-4000-8000-0000000000" #n
#define ALICE FAKE_RICH_USER
#define BOB "sip:bob@chat.test"
#define CAROL "sip:carol@chat.test"
#define DAVE "sip:dave@chat.test"
#define OHARA "sip:o'hara&co@chat.test"  /* ' and & are allowed in a SIP user part */
#define MALLORY "sip:mal'lory&x@chat.test"
#define LISTENERS 80                     /* above the participant update limit (75) */

static const pchat_post_t lobby_posts[] = {
	{0, BOB, "2026-02-01 10:00:00.250000",
		"<chat>Hello &amp; welcome &lt;everyone&gt; \xe2\x80\x94 \xc3\xbcn\xc3\xaf"
		"c\xc3\xb6" "d\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80</chat>"},
	{0, CAROL, "2026-02-01 10:00:01.000000", "<chat>line one&#13;\nline two\ttabbed</chat>"},
	{0, OHARA, "2026-02-01 10:00:02.500000",
		"<chat>see the story</chat><story xmlns=\"urn:x-test:story\" title=\"Q&amp;A "
		"&quot;live&quot; &lt;now&gt;\"><p>first</p><p>second &amp; last</p></story>"},
	{0, BOB, "2026-02-01 10:00:03.000000",
		"<chat alert=\"true\">fire drill</chat><rtf:rtf xmlns:rtf=\"urn:x-test:rtf\">"
		"{\\rtf1\\ansi\\b Hi\\b0}</rtf:rtf>"},
};

static void rich_filler(uint64_t room_id, int i, char *content, size_t len, const char **author)
{
	static const char *const authors[] = {BOB, CAROL, OHARA};
	int n;

	*author = authors[i % 3];
	n = snprintf(content, len, "<chat>message %03d of room %llu: caf\xc3\xa9 &amp; &lt;b&gt;bold"
			"&lt;/b&gt; \"quoted\" 'apos' \xe2\x9c\x93 \xf0\x9f\x98\x80 %s</chat>", i,
			(unsigned long long)room_id, "Lorem ipsum dolor sit amet, consectetur adipiscing "
			"elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad "
			"minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea "
			"commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse.");
	if (i % 3 == 0 && n > 0 && (size_t)n < len)
		snprintf(content + n, len - (size_t)n, "<x:rtf xmlns:x=\"urn:x-test:rtf\">{\\rtf1\\ansi "
				"message %03d}</x:rtf>", i);
}

static char big_name[1025];         /* 256 characters of 4 bytes: the longest name */
static char big_description[4097];  /* 1024 characters of 4 bytes */

static const fake_room_t rich_rooms[] = {
	{1, RICH_GUID(01), "Lobby & <friends> \xc2\xab" "caf\xc3\xa9\xc2\xbb \"quoted\" 'single'",
		"Where everyone meets \xe2\x80\x94 \xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 \xe6\x97\xa5\xe6"
		"\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80 <tags> & \"quotes\" 'apos'\ttab\nnewline bell\x07",
		"<b>Release 2</b> & \"planning\" \xe2\x9c\x93", PCHAT_OPEN, PCHAT_NORMAL, 0, 1, 1, 1, 120,
		lobby_posts, 4, 0, 0, 0},
	{2, RICH_GUID(02), "Closed: members only", "a closed room alice is a member of", "members",
		PCHAT_CLOSED, PCHAT_NORMAL, 0, 0, 1, 1, 5, NULL, 0, 0, 0, 0},
	{3, RICH_GUID(03), "Closed: not for alice", "closed, no role", "", PCHAT_CLOSED, PCHAT_NORMAL,
		0, 1, 0, 1, 3, NULL, 0, 0, 0, 0},
	{4, RICH_GUID(04), "Secret & <hidden>", "secret, alice is a member", "shh", PCHAT_SECRET,
		PCHAT_NORMAL, 0, 1, 1, 1, 2, NULL, 0, 0, 0, 0},
	{5, RICH_GUID(05), "Secret: not for alice", "secret, no role", "", PCHAT_SECRET, PCHAT_NORMAL,
		0, 0, 0, 1, 2, NULL, 0, 0, 0, 0},
	{6, RICH_GUID(06), "Stage (alice presents)", "auditorium", "talks", PCHAT_OPEN,
		PCHAT_AUDITORIUM, 0, 0, 0, 1, 4, NULL, 0, 0, 0, 0},
	{7, RICH_GUID(07), "Town hall", "auditorium above the participant update limit", "Q&A",
		PCHAT_OPEN, PCHAT_AUDITORIUM, 0, 0, 1, 1, 10, NULL, 0, 0, 0, 0},
	{8, RICH_GUID(08), "Disabled", "disabled room", "", PCHAT_OPEN, PCHAT_NORMAL, 1, 0, 0, 1, 1,
		NULL, 0, 0, 0, 0},
	{9, RICH_GUID(09), "Ethical wall", "the category denies alice", "", PCHAT_OPEN, PCHAT_NORMAL,
		0, 0, 0, 1, 1, NULL, 0, 0, 0, 0},
	{10, RICH_GUID(0a), "Other scope", "alice is outside the category", "", PCHAT_OPEN,
		PCHAT_NORMAL, 0, 0, 0, 1, 1, NULL, 0, 0, 0, 0},
	{11, RICH_GUID(0b), big_name, big_description, big_description, PCHAT_OPEN, PCHAT_NORMAL, 0,
		1, 1, 0, 3, NULL, 0, 0, 0, 0},
	{12, RICH_GUID(0c), "Store down", "", "", PCHAT_OPEN, PCHAT_NORMAL, 0, 0, 0, 1, 0, NULL, 0,
		PCHAT_ERR_DOWN, 0, 0},
	{13, RICH_GUID(0d), "Store error", "", "", PCHAT_OPEN, PCHAT_NORMAL, 0, 0, 0, 1, 0, NULL, 0,
		PCHAT_ERR_FAILED, 0, 0},
	{14, RICH_GUID(0e), "Posts fail to begin", "", "", PCHAT_OPEN, PCHAT_NORMAL, 0, 0, 0, 1, 0,
		NULL, 0, 0, PCHAT_ERR_DOWN, 0},
	{15, RICH_GUID(0f), "Posts fail to commit", "", "", PCHAT_OPEN, PCHAT_NORMAL, 0, 0, 0, 1, 0,
		NULL, 0, 0, 0, PCHAT_ERR_FAILED},
	{16, RICH_GUID(10), "", "", "", PCHAT_OPEN, PCHAT_NORMAL, 0, 0, 0, 1, 0, NULL, 0, 0, 0, 0},
};
#define RICH_ROOMS ((int)(sizeof(rich_rooms) / sizeof(rich_rooms[0])))

static const fake_grant_t rich_grants[] = {
	{CAROL, NULL, PCHAT_ROLE_MANAGER, 0, 0},
	{CAROL, RICH_GUID(07), PCHAT_ROLE_PRESENTER, 0, 0},
	{ALICE, RICH_GUID(02), PCHAT_ROLE_MEMBER, 0, 0},
	{ALICE, RICH_GUID(04), PCHAT_ROLE_MEMBER, 0, 0},
	{ALICE, RICH_GUID(06), PCHAT_ROLE_PRESENTER, 0, 0},
	{ALICE, RICH_GUID(09), 0, 1, 0},
	{ALICE, RICH_GUID(0a), 0, 0, 1},
	{ALICE, RICH_GUID(10), PCHAT_ROLE_MANAGER, 0, 0},
	{DAVE, RICH_GUID(02), PCHAT_ROLE_MEMBER, 0, 0},
	{BOB, RICH_GUID(04), PCHAT_ROLE_MEMBER, 0, 0},
	{OHARA, RICH_GUID(01), PCHAT_ROLE_MEMBER, 0, 0},
};

static pchat_room_summary_t summary_of(const fake_room_t *r)
{
	return (pchat_room_summary_t){r->id, r->guid, r->name, r->description, r->privacy,
		r->file_post, r->invite, r->logged};
}

static fake_listing_t rich_listings[RICH_ROOMS];
static fake_association_t rich_associations[4];
static fake_invitation_t rich_invitations[4];
static fake_member_t rich_members[10 + LISTENERS];
static char listener_users[LISTENERS][40];

static const fake_pref_t rich_prefs[] = {
	{ALICE, "GroupChannels", 7, "PGNoYW5uZWxzIGNvdW50PSIzIi8+"},
	{ALICE, "x.\"quoted\" & <label> \xc3\xa9", 2,
		"a<b>&c\"d'e\tf\ng \xc3\xbc \xf0\x9f\x98\x80 control\x01"},
	{BOB, "GroupChannels", 3, "Ym9i"},
};

static const char *const rich_creators[] = {ALICE, CAROL};

const fake_world_t *fake_world_rich(void)
{
	static fake_world_t w;
	int i, n;

	if (w.rooms)
		return &w;
	for (i = 0; i < 256; i++)
		memcpy(big_name + 4 * i, "\xf0\x9f\x98\x80", 4);
	for (i = 0; i < 1024; i++)
		memcpy(big_description + 4 * i, i % 2 ? "\xf0\x9f\x8e\x89" : "\xf0\x9f\x98\x80", 4);
	/* search finds every room alice may see; secret ones only by their members */
	for (i = n = 0; i < RICH_ROOMS; i++) {
		const fake_room_t *r = &rich_rooms[i];

		if (r->disabled || r->lookup_result)
			continue;
		rich_listings[n] = (fake_listing_t){NULL, NULL, NULL, summary_of(r)};
		if (r->id == 4)
			rich_listings[n].user = rich_listings[n].member = ALICE;
		if (r->id == 5)
			rich_listings[n].user = CAROL;
		if (r->id == 2)
			rich_listings[n].member = ALICE;
		if (r->id == 16)
			rich_listings[n].manager = ALICE;
		if (r->id == 1)
			rich_listings[n].manager = CAROL;
		n++;
	}
	w.listings = rich_listings;
	w.nlistings = n;
	rich_associations[0] = (fake_association_t){ALICE, PCHAT_ROLE_MEMBER, summary_of(&rich_rooms[1])};
	rich_associations[1] = (fake_association_t){ALICE, PCHAT_ROLE_MEMBER, summary_of(&rich_rooms[3])};
	rich_associations[2] = (fake_association_t){ALICE, PCHAT_ROLE_MANAGER,
		summary_of(&rich_rooms[15])};
	rich_associations[3] = (fake_association_t){CAROL, PCHAT_ROLE_MANAGER,
		summary_of(&rich_rooms[0])};
	w.associations = rich_associations;
	w.nassociations = 4;
	rich_invitations[0] = (fake_invitation_t){ALICE, {3, "2026-03-04 05:06:07.123456", OHARA,
		summary_of(&rich_rooms[1])}};
	rich_invitations[1] = (fake_invitation_t){ALICE, {5, "2026-03-05 00:00:00", CAROL,
		summary_of(&rich_rooms[3])}};
	rich_invitations[2] = (fake_invitation_t){NULL, {9, "2026-03-06 23:59:59.999999", BOB,
		summary_of(&rich_rooms[10])}};
	rich_invitations[3] = (fake_invitation_t){ALICE, {12, "", MALLORY,
		summary_of(&rich_rooms[15])}};
	w.invitations = rich_invitations;
	w.ninvitations = 4;
	n = 0;
	rich_members[n++] = (fake_member_t){{2, 1}, BOB, 1};
	rich_members[n++] = (fake_member_t){{3, 1}, CAROL, 1};
	rich_members[n++] = (fake_member_t){{4, 1}, OHARA, 1};
	rich_members[n++] = (fake_member_t){{5, 1}, BOB, 1};          /* bob's second session */
	rich_members[n++] = (fake_member_t){{6, 1}, MALLORY, 2};      /* no role there any more */
	rich_members[n++] = (fake_member_t){{7, 1}, DAVE, 2};
	rich_members[n++] = (fake_member_t){{9, 1}, ALICE, 4};        /* alice's other session */
	rich_members[n++] = (fake_member_t){{1, 1}, ALICE, 2};        /* joined at login */
	rich_members[n++] = (fake_member_t){{2, 1}, BOB, 4};
	rich_members[n++] = (fake_member_t){{3, 1}, CAROL, 7};
	for (i = 0; i < LISTENERS; i++) {
		snprintf(listener_users[i], sizeof(listener_users[i]), "sip:listener%02d@chat.test", i);
		rich_members[n++] = (fake_member_t){{100 + (uint32_t)i, 1}, listener_users[i], 7};
	}
	w.members = rich_members;
	w.nmembers = n;
	w.grants = rich_grants;
	w.ngrants = (int)(sizeof(rich_grants) / sizeof(rich_grants[0]));
	w.prefs = rich_prefs;
	w.nprefs = (int)(sizeof(rich_prefs) / sizeof(rich_prefs[0]));
	w.creators = rich_creators;
	w.ncreators = 2;
	w.filler = rich_filler;
	w.nrooms = RICH_ROOMS;
	w.rooms = rich_rooms;
	return &w;
}

/* ------------------------------------------------------------------ memory */

static struct {
	int count;    /* allocations since fake_alloc_fail_at */
	int fail_at;  /* the one that fails, 0 for none */
	int failed;
} alloc_state;

/* Counts an allocation; 1 when it is the one to fail. */
static int alloc_fails(void)
{
	if (++alloc_state.count != alloc_state.fail_at)
		return 0;
	alloc_state.failed = 1;
	return 1;
}

static void *failing_malloc(size_t size)
{
	return alloc_fails() ? NULL : malloc(size);
}

static void *failing_realloc(void *ptr, size_t size)
{
	return alloc_fails() ? NULL : realloc(ptr, size);
}

static const pchat_allocator_t failing_allocator = {failing_malloc, failing_realloc, free};

void fake_alloc_fail_at(int n)
{
	alloc_state.count = 0;
	alloc_state.fail_at = n;
	alloc_state.failed = 0;
	pchat_set_allocator(&failing_allocator);
}

int fake_alloc_count(void)
{
	return alloc_state.count;
}

int fake_alloc_failed(void)
{
	return alloc_state.failed;
}
