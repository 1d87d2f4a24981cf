/*
 * Lync's file web service (MGCWebService.asmx) on the wire: SOAP 1.1 requests read safely and
 * the responses and faults we answer with. Body namespace http://www.microsoft.com; each
 * operation's response is <OpResponse><OpResult>value</OpResult></OpResponse> in that
 * namespace (the .asmx convention); a refusal is HTTP 500 with a SOAP fault, because Lync's
 * client stops a transfer on a 4xx.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_SOAP_H
#define PCHAT_SOAP_H

#include <stddef.h>
#include <stdint.h>

#include "pchat_buf.h"
#include "pchat_result.h"

#define PCHAT_SOAP_NS "http://www.microsoft.com"

typedef enum pchat_soap_op {
	PCHAT_SOAP_UNIQUE_NAME,     /* RequestUniqueFilenameWithExtension */
	PCHAT_SOAP_MAX_FILE_SIZE,   /* GetMaxFileSizeInKB */
	PCHAT_SOAP_MAX_REQUEST,     /* GetMaxRequestContentInKB */
	PCHAT_SOAP_APPEND_CHUNK,    /* AppendChunk */
	PCHAT_SOAP_FILE_SIZE,       /* GetFileSize */
	PCHAT_SOAP_DOWNLOAD_CHUNK,  /* DownloadChunk */
} pchat_soap_op_t;

/* A request's operation and the children it may carry (an absent one is "" or 0 with its
 * has_ flag 0). Strings are copies, bounded; the chunk is decoded. */
typedef struct pchat_soap_req {
	pchat_soap_op_t op;
	char token[64];
	char channel_id[64];    /* the bare room GUID */
	char file_name[256];    /* uniqueFilename or reposFileName */
	char extension[64];     /* RequestUniqueFilenameWithExtension: the extension asked for */
	uint64_t offset;
	uint64_t file_length;
	uint64_t buffer_size;
	int has_offset, has_file_length, has_buffer_size;
	unsigned char *chunk;   /* AppendChunk: the decoded fileChunk (pchat_malloc), or NULL */
	size_t chunk_len;
} pchat_soap_req_t;

/* Reads a request body. PCHAT_OK with *req filled (pchat_soap_req_free releases it), or
 * PCHAT_ERR_MALFORMED / _UNSAFE (not safe, well-formed XML), PCHAT_ERR_INVALID (no SOAP 1.1
 * envelope, an unknown operation, a child that is too long or not a number, a chunk that is
 * not base64), PCHAT_ERR_NO_MEMORY; err says why. */
pchat_rc_t pchat_soap_parse(const char *body, size_t len, pchat_soap_req_t *req, char *err,
		size_t errlen);
void pchat_soap_req_free(pchat_soap_req_t *req);

/* A response whose result is text (escaped here). */
void pchat_soap_result(pchat_buf_t *b, pchat_soap_op_t op, const char *text);
/* A response whose result is bytes, base64-encoded (DownloadChunk). */
void pchat_soap_result_bytes(pchat_buf_t *b, pchat_soap_op_t op, const unsigned char *data,
		size_t len);
/* A fault: faultcode soap:Client when the request is at fault, soap:Server otherwise, and the
 * reason as faultstring. */
void pchat_soap_fault(pchat_buf_t *b, int client_fault, const char *reason);

#endif
