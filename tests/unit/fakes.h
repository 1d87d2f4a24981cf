/*
 * Fakes of the interfaces the chat logic reaches the world through (pchat_ports.h: store, live,
 * out), shared by the unit tests (test_chat.c, test_alloc.c) and the fuzz targets (tests/fuzz).
 *
 * The fakes serve a world described by data (fake_world_t): rooms with what the category and the
 * roles say about each user, their history, search results, associations, invitations,
 * preference bundles, and who is in which room at the start. The mutable state (F) records what
 * the chat logic did: replies, notices, posts handed to the sender, the order of the post steps.
 * fake_reset() starts over from a world; fake_clear() frees what the state holds.
 *
 * A fake that sees the chat logic break a rule of an interface (a post committed outside a
 * transaction, a fan-out outside the room's lock, a room it never gave out) calls fake_fail(),
 * which each program that links the fakes defines: a failed test in cmocka, abort() in a fuzzer.
 * Programs watch what goes out through fake_hooks.
 */
#ifndef PCHAT_TEST_FAKES_H
#define PCHAT_TEST_FAKES_H

#include <stddef.h>
#include <stdint.h>

#include "pchat_chat.h"

/* ------------------------------------------------------------------ the world */

/* What the category and a room say about a user (about every room when guid is NULL). A user's
 * grants add up. */
typedef struct fake_grant {
	const char *user;
	const char *guid;
	unsigned roles;  /* PCHAT_ROLE_* */
	int denied;      /* the category denies the user */
	int outside;     /* the user is outside the category's allowed members */
} fake_grant_t;

typedef struct fake_room {
	uint64_t id;
	const char *guid;  /* lower case, as the chat logic asks for it */
	const char *name;
	const char *description;
	const char *topic;
	pchat_privacy_t privacy;
	pchat_room_type_t type;
	int disabled;
	int file_post;
	int invite;
	int logged;
	int filler;                 /* generated posts at the start of its history (world->filler) */
	const pchat_post_t *posts;  /* stored posts after them (seq is given by position) */
	int nposts;
	int lookup_result;          /* room_for answers this instead (PCHAT_ERR_DOWN...) when set */
	int begin_result;           /* post_begin answers this when set */
	int commit_result;          /* post_commit answers this when set */
} fake_room_t;

/* A room in search results: seen by user (everyone when NULL), matched by name and description,
 * or by its member / manager principal (searches BYMEMBER / BYMANAGER). */
typedef struct fake_listing {
	const char *user;
	const char *member;
	const char *manager;
	pchat_room_summary_t room;
} fake_listing_t;

typedef struct fake_association {
	const char *user;
	enum pchat_role role;
	pchat_room_summary_t room;
} fake_association_t;

/* Invitations of user (of everyone when NULL), in increasing id order. */
typedef struct fake_invitation {
	const char *user;
	pchat_invitation_t inv;
} fake_invitation_t;

typedef struct fake_pref {
	const char *user;
	const char *label;
	uint64_t seqid;
	const char *content;
} fake_pref_t;

/* A session in a room when the world starts. */
typedef struct fake_member {
	pchat_sref_t session;
	const char *user;
	uint64_t room_id;
} fake_member_t;

typedef struct fake_world {
	const fake_room_t *rooms;
	int nrooms;
	const fake_grant_t *grants;
	int ngrants;
	const fake_listing_t *listings;
	int nlistings;
	const fake_association_t *associations;
	int nassociations;
	const fake_invitation_t *invitations;
	int ninvitations;
	const fake_pref_t *prefs;
	int nprefs;
	const char *const *creators;
	int ncreators;
	const fake_member_t *members;
	int nmembers;
	/* Generated post i (from 0) of a room's history: its content and author. */
	void (*filler)(uint64_t room_id, int i, char *content, size_t len, const char **author);
} fake_world_t;

/* A search text or preference label that makes the store fail as it says. */
#define FAKE_TEXT_STORE_DOWN "store-down"
#define FAKE_TEXT_STORE_ERROR "store-error"

/* A world for fuzzing. Its user sip:alice@chat.test (session {1, 1}) is already in room 2, a
 * closed room she is a member of (as after a batch join at login), and finds rooms of every
 * privacy and type she may or may not see, join, read and post in; names, descriptions, topics,
 * history, invitations and preferences with XML-special and non-ASCII characters; several
 * participants, one room above the participant update limit of 75; rooms whose store fails.
 * Domain chat.test. */
const fake_world_t *fake_world_rich(void);
#define FAKE_RICH_DOMAIN "chat.test"
#define FAKE_RICH_USER "sip:alice@chat.test"

/* ------------------------------------------------------------------ the state */

#define FAKE_SESSIONS 192  /* (session, room) pairs at once */
#define FAKE_REPLIES 16    /* copies kept of the last replies */
#define FAKE_NOTICES 8

typedef struct fake_stored {
	uint64_t room_id;
	uint64_t seq;
	char *author;
	char ts[32];
	char *content;
	struct fake_stored *next;
} fake_stored_t;

typedef struct fake_bundle {
	char *user;
	char *label;
	char *content;
	uint64_t seqid;
	struct fake_bundle *next;
} fake_bundle_t;

/* A compliance event the chat recorded. */
typedef struct fake_event {
	int kind;
	uint64_t room, msg_id;
	char user[PCHAT_USER_MAX];
	char content[256];
	char detail[128];
} fake_event_t;

#define FAKE_EVENTS 64

typedef struct fake {
	const fake_world_t *world;
	/* store */
	int down;             /* the store is unreachable */
	int fail_commit;      /* commits fail (PCHAT_ERR_DOWN) */
	int history_n;        /* generated posts added at the start of every room's history */
	int stored;           /* committed posts */
	char last_author[64];
	char last_content[256];
	char log[512];        /* order of post steps: begin lock commit fanout unlock abort */
	fake_stored_t *posts, **posts_tail;
	fake_bundle_t *bundles;
	int in_tx;            /* between post_begin and post_commit / post_abort */
	int record_result;    /* record answers this when set */
	int nevents;          /* compliance events recorded (and not rolled back); the first
	                         FAKE_EVENTS are kept */
	int tx_events;        /* nevents when the post's transaction began */
	fake_event_t events[FAKE_EVENTS];
	uint64_t tx_room, tx_seq;
	/* files: the one complete file the store has, and the tokens given out */
	uint64_t file_room;
	char file_name[64];
	int tokens;
	int token_upload;
	uint64_t token_room;
	char token_name[256];
	char *tx_author, *tx_content;
	char tx_ts[32];
	/* live: sessions in rooms */
	int members;
	pchat_sref_t member[FAKE_SESSIONS];
	char member_user[FAKE_SESSIONS][PCHAT_USER_MAX];
	uint64_t member_room[FAKE_SESSIONS];
	int member_can_post[FAKE_SESSIONS];
	int ready[FAKE_SESSIONS];
	int updates;
	int participant_queries; /* live participants calls (each a round trip to the pool) */
	int batch_lookups;       /* rooms_for calls (each one query) */
	/* out */
	uint64_t envid;
	int locked;           /* a room's post lock is held */
	uint64_t locked_room;
	int replies;
	int notices;
	char notice[FAKE_NOTICES][1024];
	char notice_except[FAKE_NOTICES][PCHAT_USER_MAX];
	int fanouts;
	char fanout[1024];
	/* last: not cleared by fake_reset */
	char reply[FAKE_REPLIES][65536];
} fake_t;

extern fake_t F;

/* Starts over from world (the previous state is freed). */
void fake_reset(const fake_world_t *world);
/* Frees what the state holds. */
void fake_clear(void);

/* The room of the world with this id or GUID, or NULL. */
const fake_room_t *fake_room(uint64_t id);
const fake_room_t *fake_room_by_guid(const char *guid);
/* The sequence number of a room's newest post. */
uint64_t fake_room_seq(uint64_t room_id);

extern const pchat_store_ops_t fake_store_ops;
extern const pchat_live_ops_t fake_live_ops;
extern const pchat_out_ops_t fake_out_ops;

/* ------------------------------------------------------------------ memory */

/* The memory of the chat logic (pchat_alloc.h), failing on demand: from this call on,
 * allocations are counted and the n-th (from 1) fails, once; 0 fails none. The allocator is
 * libc's underneath, so memory from before the call is freed alike. The fakes hand the chat
 * logic memory it frees (rooms_of, members, preference content) from the same allocator; their
 * own bookkeeping uses libc directly and never fails. */
void fake_alloc_fail_at(int n);
/* Allocations since fake_alloc_fail_at (the failed one included). */
int fake_alloc_count(void);
/* 1 when the armed allocation has failed. */
int fake_alloc_failed(void);

/* Called with what goes out, before the fakes keep their copies; any may be NULL. */
typedef struct fake_hooks {
	void (*reply)(const pchat_caller_t *c, const char *body, size_t len);
	void (*notice)(uint64_t room_id, const char *except_user, const char *element, size_t len);
	void (*fanout)(uint64_t room_id, uint64_t seq, const char *element, size_t len);
	/* the content of a post as post_begin is asked to store it */
	void (*store_post)(uint64_t room_id, const char *author, const char *content);
} fake_hooks_t;

extern fake_hooks_t fake_hooks;

/* Defined by the program that links the fakes: a rule of an interface was broken. It does not
 * return (the test or the fuzz run ends), which the static analyzer is told so it follows no path
 * past a failed check. */
__attribute__((noreturn)) void fake_fail(const char *file, int line, const char *what);

#define FAKE_CHECK(cond) \
	do { \
		if (!(cond)) \
			fake_fail(__FILE__, __LINE__, "fake: " #cond); \
	} while (0)

#endif
