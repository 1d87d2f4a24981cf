/*
 * The chat logic's store, on MySQL/MariaDB: every query is a prepared statement of the table
 * of its set, run on the calling process's own connection.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_STORE_MYSQL_H
#define PCHAT_STORE_MYSQL_H

#include "pchat_ports.h"
#include "pchat_db.h"

/* The statement set of the store: a process's connection is created with it (pchat_db_new). */
extern const pchat_db_sqlset_t pchat_store_sqlset;

/* How long a post whose COMMIT went unanswered may wait for a database server that says whether
 * it is stored, before its author gets 503 (ms; set before the processes fork). */
void pchat_store_mysql_set_resolve_timeout(int ms);

/* The store operations; their handle is the process's pchat_db_t. */
extern const pchat_store_ops_t pchat_store_mysql_ops;

#endif
