/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pchat_alloc.h"

static const pchat_allocator_t libc_allocator = {malloc, realloc, free};
static const pchat_allocator_t *allocator = &libc_allocator;

void pchat_set_allocator(const pchat_allocator_t *a)
{
	allocator = a ? a : &libc_allocator;
}

void *pchat_malloc(size_t size)
{
	return allocator->malloc(size ? size : 1);
}

void *pchat_calloc(size_t nmemb, size_t size)
{
	void *p;

	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	p = pchat_malloc(nmemb * size);
	if (p)
		memset(p, 0, nmemb * size);
	return p;
}

void *pchat_realloc(void *ptr, size_t size)
{
	return allocator->realloc(ptr, size ? size : 1);
}

void pchat_free(void *ptr)
{
	if (ptr)
		allocator->free(ptr);
}

char *pchat_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = pchat_malloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

char *pchat_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = pchat_malloc(len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}
