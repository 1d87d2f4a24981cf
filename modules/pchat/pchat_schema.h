/*
 * The table versions this build of the module needs (Kamailio's `version` table convention).
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_SCHEMA_H
#define PCHAT_SCHEMA_H

#include <stddef.h>

#include "pchat_db.h"

/* The statement table for pchat_db_new() used by pchat_schema_check(). */
extern const char *const pchat_schema_sql[];
extern const int pchat_schema_nsql;

/* Compares the versions found in the database with the ones needed.
 * Returns 0 when every table is recent enough; -1 with a message in err naming the migration to
 * apply; PCHAT_DB_UNAVAILABLE when the database cannot be reached. */
int pchat_schema_check(pchat_db_t *db, char *err, size_t errlen);

#endif
