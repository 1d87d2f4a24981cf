/*
 * The service settings (Lync's Set-CsPersistentChatConfiguration): their names, limits and
 * validation. Modparams give the defaults; values stored pool-wide in the pchat_config table
 * override them on every node (see pchat_housekeeper.c).
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_SETTINGS_H
#define PCHAT_SETTINGS_H

#include <stddef.h>

typedef struct pchat_settings {
	int default_history;          /* posts a backchat query without a count returns */
	int max_file_size;            /* KB of a posted file */
	int message_size_limit;       /* characters of a post's text */
	int backchat_limit;           /* most posts one bccontext returns */
	int participant_update_limit; /* above this many users: capped lists, no join/part notices */
	int search_limit;
	int story_size_limit;
	size_t reply_size;            /* largest reply body (backchat is split to stay below) */
	size_t max_post_size;         /* bytes of a post's <grpchat> element as it is sent */
	int max_preferences;          /* preference bundles per user */
	size_t max_preference_size;   /* bytes of a bundle's label and content as sent */
	int file_token_lifetime;      /* s a file token is valid */
	int room_file_quota;          /* MB the files of a room may take, 0: no limit */
	int user_file_quota;          /* MB the files a user posted may take, 0: no limit */
} pchat_settings_t;

/* The module's defaults (Lync's where it has one), in one place: the module starts from them
 * (pchat_node.c) and the tests and the fuzzer check against the same values. */
#define PCHAT_DEFAULT_MAX_BODY_SIZE 24576 /* bytes of an XCCOS INFO body */
#define PCHAT_DEFAULT_MAX_POST_SIZE 30000
#define PCHAT_DEFAULT_MAX_PREFERENCES 64
#define PCHAT_DEFAULT_MAX_PREFERENCE_SIZE 16384
#define PCHAT_SETTINGS_DEFAULTS                                                                \
	{                                                                                          \
		.default_history = 30, .max_file_size = 20000, .message_size_limit = 8000,             \
		.backchat_limit = 100, .participant_update_limit = 75, .search_limit = 500,            \
		.story_size_limit = 8192, .reply_size = 60000,                                         \
		.max_post_size = PCHAT_DEFAULT_MAX_POST_SIZE,                                          \
		.max_preferences = PCHAT_DEFAULT_MAX_PREFERENCES,                                      \
		.max_preference_size = PCHAT_DEFAULT_MAX_PREFERENCE_SIZE,                              \
		.file_token_lifetime = 1800, .room_file_quota = 0, .user_file_quota = 0,               \
	}

typedef struct pchat_setting_def {
	const char *name;     /* in pchat_config and pchat.config.* */
	size_t offset;        /* of the int in pchat_settings_t */
	int min;
	int max;
	const char *doc;
} pchat_setting_def_t;

extern const pchat_setting_def_t pchat_setting_defs[];
extern const int pchat_setting_count;

const pchat_setting_def_t *pchat_setting_find(const char *name);

int *pchat_setting_ptr(pchat_settings_t *s, const pchat_setting_def_t *def);

/* The words of settings and options: yes/true/on/1 give 1, no/false/off/0 give 0 (any case),
 * anything else -1. */
int pchat_parse_yes_no(const char *v);

/* A whole number from lo to hi, all of v: 0 with *out set, -1 otherwise. */
int pchat_parse_whole(const char *v, long lo, long hi, long *out);

/* Parses value for def: 0 with *out set, -1 with a message in err. */
int pchat_setting_parse(const pchat_setting_def_t *def, const char *value, int *out, char *err,
		size_t errlen);

#endif
