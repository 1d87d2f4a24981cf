/*
 * Where the Kamailio-free parts get their memory. Inside Kamailio the module points the hook at
 * its process's pkg memory (pchat_mod.c), so pkg.stats sees what the chat logic holds and the
 * memory limit of a process covers it; unit tests point it at an allocator that fails on demand.
 * Without a hook the C library's allocator is used.
 *
 * Contract: memory is freed by the process that allocated it, through pchat_free (the pure
 * parts never hand memory to another process: that goes through shm, owned by the shell).
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_ALLOC_H
#define PCHAT_ALLOC_H

#include <stddef.h>

typedef struct pchat_allocator {
	void *(*malloc)(size_t size);          /* NULL when out of memory */
	void *(*realloc)(void *ptr, size_t size); /* ptr may be NULL; NULL on failure, ptr kept */
	void (*free)(void *ptr);               /* never called with NULL */
} pchat_allocator_t;

/* Installs an allocator for the calling process (NULL: the C library's). Set it before any
 * allocation: memory must be freed by the allocator that gave it. */
void pchat_set_allocator(const pchat_allocator_t *a);

void *pchat_malloc(size_t size);
/* Zeroed; NULL also when nmemb * size overflows. */
void *pchat_calloc(size_t nmemb, size_t size);
void *pchat_realloc(void *ptr, size_t size);
/* Accepts NULL. */
void pchat_free(void *ptr);
char *pchat_strdup(const char *s);
/* At most n bytes of s, NUL-terminated. */
char *pchat_strndup(const char *s, size_t n);

#endif
