/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 *
 * Makes pidgin-sipe parse XML again on Debian 12's libxml2.
 *
 * sipe hands libxml2 a SAX handler that says "SAX2" (initialized =
 * XML_SAX2_MAGIC) but fills in only the SAX1 startElement/endElement
 * callbacks. Upstream libxml2 falls back to SAX1 for such a handler; the
 * libxml2 shipped in bookworm (2.9.14+dfsg-1.3~deb12u4 and later) does not,
 * so sipe never sees an element and silently drops every XML body it
 * receives (in-band provisioning, every XCCOS reply): group chat never starts.
 *
 * This file defines xmlSAXUserParseMemory() itself. Whoever gets to the
 * symbol first wins: the sipe-driver exports it (linked with -rdynamic), and
 * libsipe-xmlfix.so gets there through LD_PRELOAD. For exactly sipe's handler
 * shape it passes libxml2 a copy marked as a plain SAX1 handler; every other
 * caller (libpurple's own SAX2 parser, for one) goes through unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>

#include <libxml/parser.h>

typedef int (*parse_memory_fn)(xmlSAXHandlerPtr sax, void *user_data,
			       const char *buffer, int size);

/* SAX2 magic, no SAX2 element callbacks, but SAX1 ones: sipe's handler. */
static int is_sax1_only(const xmlSAXHandler *sax)
{
	return sax != NULL && sax->initialized == XML_SAX2_MAGIC &&
	       sax->startElementNs == NULL && sax->endElementNs == NULL &&
	       (sax->startElement != NULL || sax->endElement != NULL);
}

int xmlSAXUserParseMemory(xmlSAXHandlerPtr sax, void *user_data,
			  const char *buffer, int size)
{
	static parse_memory_fn real;
	xmlSAXHandler sax1;

	if (real == NULL)
		real = (parse_memory_fn)dlsym(RTLD_NEXT, "xmlSAXUserParseMemory");
	if (real == NULL)
		return -1;
	if (!is_sax1_only(sax))
		return real(sax, user_data, buffer, size);

	/* libxml2 only borrows the handler for the duration of the call. */
	sax1 = *sax;
	sax1.initialized = 1;
	return real(&sax1, user_data, buffer, size);
}
