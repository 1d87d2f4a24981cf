/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pchat_settings.h"

#define SETTING(field, lo, hi, doc) \
	{#field, offsetof(pchat_settings_t, field), lo, hi, doc}

const pchat_setting_def_t pchat_setting_defs[] = {
	SETTING(default_history, 0, 1000, "posts a backchat query without a count returns"),
	SETTING(max_file_size, 1, 2097152, "KB of a file posted to a room"),
	SETTING(message_size_limit, 1, 1048576, "characters of a post"),
	SETTING(story_size_limit, 1, 1048576, "characters of a story"),
	SETTING(backchat_limit, 1, 1000, "most posts one backchat query returns"),
	SETTING(participant_update_limit, 1, 1000,
			"users above which join lists are capped and join/part notices stop"),
	SETTING(search_limit, 1, 10000, "most rooms a search returns"),
	SETTING(file_token_lifetime, 60, 86400, "seconds a file transfer token is valid"),
	SETTING(room_file_quota, 0, 1048576, "MB the files of a room may take (0: no limit)"),
	SETTING(user_file_quota, 0, 1048576, "MB the files a user posted may take (0: no limit)"),
};
const int pchat_setting_count = sizeof(pchat_setting_defs) / sizeof(pchat_setting_defs[0]);

const pchat_setting_def_t *pchat_setting_find(const char *name)
{
	int i;

	for (i = 0; i < pchat_setting_count; i++)
		if (strcmp(pchat_setting_defs[i].name, name) == 0)
			return &pchat_setting_defs[i];
	return NULL;
}

int *pchat_setting_ptr(pchat_settings_t *s, const pchat_setting_def_t *def)
{
	return (int *)((char *)s + def->offset);
}

int pchat_parse_yes_no(const char *v)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcmp(v, "1"))
		return 1;
	if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcasecmp(v, "off") || !strcmp(v, "0"))
		return 0;
	return -1;
}

int pchat_parse_whole(const char *v, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(v, &end, 10);
	return errno || end == v || *end || *out < lo || *out > hi ? -1 : 0;
}

int pchat_setting_parse(const pchat_setting_def_t *def, const char *value, int *out, char *err,
		size_t errlen)
{
	long v;

	if (pchat_parse_whole(value, def->min, def->max, &v) < 0) {
		snprintf(err, errlen, "%s must be a whole number from %d to %d", def->name, def->min,
				def->max);
		return -1;
	}
	*out = (int)v;
	return 0;
}
