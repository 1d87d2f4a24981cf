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

#include "pchat_chat.h"

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

/* Parses value for def: 0 with *out set, -1 with a message in err. */
int pchat_setting_parse(const pchat_setting_def_t *def, const char *value, int *out, char *err,
		size_t errlen);

#endif
