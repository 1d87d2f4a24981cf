/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <string.h>

#include "pchat_schema.h"

static const struct {
	const char *table;
	long long version;
	const char *migration; /* the file in db/mysql/ that brings the table to this version */
} required[] = {
	{"pchat_category", 1, "001-initial.sql"},
	{"pchat_category_principal", 1, "001-initial.sql"},
	{"pchat_room", 3, "007-web.sql"},
	{"pchat_room_principal", 1, "001-initial.sql"},
	{"pchat_message", 2, "008-ha.sql"},
	{"pchat_follow", 1, "001-initial.sql"},
	{"pchat_preference", 1, "001-initial.sql"},
	{"pchat_invitation", 1, "001-initial.sql"},
	{"pchat_config", 1, "001-initial.sql"},
	{"pchat_room_trigram", 1, "002-search-and-settings.sql"},
	{"pchat_room_sequence", 1, "002-search-and-settings.sql"},
	{"pchat_policy", 1, "004-policy.sql"},
	{"pchat_compliance_event", 1, "005-compliance.sql"},
	{"pchat_compliance_batch", 1, "005-compliance.sql"},
	{"pchat_compliance_user", 1, "005-compliance.sql"},
	{"pchat_compliance_config", 1, "005-compliance.sql"},
	{"pchat_compliance_state", 1, "005-compliance.sql"},
	{"pchat_file", 1, "006-files.sql"},
	{"pchat_file_token", 1, "006-files.sql"},
	{"pchat_web_session", 1, "007-web.sql"},
	{"pchat_web_token", 1, "007-web.sql"},
	{"pchat_web_admin", 1, "007-web.sql"},
	{"pchat_web_login_failure", 1, "007-web.sql"},
};
#define NREQUIRED (sizeof(required) / sizeof(required[0]))

static const char *const schema_sql[] = {
	"SELECT table_name, table_version FROM version WHERE table_name LIKE 'pchat%'",
};

const pchat_db_sqlset_t pchat_schema_sqlset = {"schema", schema_sql, 1};

struct found {
	long long version[NREQUIRED];
};

static int remember_version(void *ctx, const pchat_db_val_t *cols, int ncols)
{
	struct found *found = ctx;
	size_t i;

	if (ncols != 2 || cols[0].type != PCHAT_DB_STR)
		return 0;
	for (i = 0; i < NREQUIRED; i++)
		if (strcmp(cols[0].s, required[i].table) == 0)
			found->version[i] = pchat_db_int(&cols[1]);
	return 0;
}

int pchat_schema_check(pchat_db_t *db, char *err, size_t errlen)
{
	struct found found;
	long long rc;
	size_t i;

	memset(&found, 0, sizeof(found));
	rc = pchat_db_exec(db, &pchat_schema_sqlset, 0, NULL, 0, remember_version, &found);
	if (rc == PCHAT_ERR_DOWN)
		return PCHAT_ERR_DOWN;
	if (rc < 0) {
		snprintf(err, errlen, "cannot read the `version` table (%s): apply db/mysql/%s with "
				"scripts/db-migrate", pchat_db_last_error(db), required[0].migration);
		return PCHAT_ERR_FAILED;
	}
	for (i = 0; i < NREQUIRED; i++) {
		if (found.version[i] < required[i].version) {
			snprintf(err, errlen, "table %s is at version %lld but this module needs version "
					"%lld: apply db/mysql/%s (scripts/db-migrate)", required[i].table,
					found.version[i], required[i].version, required[i].migration);
			return PCHAT_ERR_FAILED;
		}
	}
	return 0;
}
