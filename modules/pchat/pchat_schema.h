/*
 * The table versions this build of the module needs (Kamailio's `version` table convention).
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_SCHEMA_H
#define PCHAT_SCHEMA_H

#include <stddef.h>

#include "pchat_db.h"

/* The query pchat_schema_check() runs as statement 0 of the connection's statement table. */
#define PCHAT_SCHEMA_VERSIONS_SQL \
	"SELECT table_name, table_version FROM version WHERE table_name LIKE 'pchat%'"

/* Compares the versions found in the database with the ones needed.
 * Returns 0 when every table is recent enough; -1 with a message in err naming the migration to
 * apply; PCHAT_DB_UNAVAILABLE when the database cannot be reached. */
int pchat_schema_check(pchat_db_t *db, char *err, size_t errlen);

#endif
