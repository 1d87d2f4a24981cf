/*
 * The chat logic's store, on MySQL/MariaDB: every query is a prepared statement of the table
 * below, run on the calling process's own connection.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_STORE_MYSQL_H
#define PCHAT_STORE_MYSQL_H

#include "pchat_chat.h"
#include "pchat_db.h"

/* The statement table a process's connection is created with (pchat_db_new). Statement 0 is
 * the schema version query of pchat_schema_check(). */
extern const char *const pchat_store_sql[];
extern const int pchat_store_nsql;

/* The store operations; their handle is the process's pchat_db_t. */
extern const pchat_store_ops_t pchat_store_mysql_ops;

#endif
