/*
 * The table versions this build of the module needs (Kamailio's `version` table convention).
 * Plain C on a pchat_db connection, with its own statement set.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_SCHEMA_H
#define PCHAT_SCHEMA_H

#include <stddef.h>

#include "pchat_db.h"

/* The statement set of the check; a connection that runs it is created with this set. */
extern const pchat_db_sqlset_t pchat_schema_sqlset;

/* Compares the versions found in the database with the ones needed.
 * Returns 0 when every table is recent enough; PCHAT_ERR_FAILED with a message in err naming the
 * migration to apply; PCHAT_ERR_DOWN when the database cannot be reached. */
int pchat_schema_check(pchat_db_t *db, char *err, size_t errlen);

#endif
