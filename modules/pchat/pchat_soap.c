/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "pchat_alloc.h"
#include "pchat_files.h"
#include "pchat_soap.h"
#include "pchat_xccos.h"

#define SOAP_ENV_NS "http://schemas.xmlsoap.org/soap/envelope/"

static const char *const op_names[] = {
	[PCHAT_SOAP_UNIQUE_NAME] = "RequestUniqueFilenameWithExtension",
	[PCHAT_SOAP_MAX_FILE_SIZE] = "GetMaxFileSizeInKB",
	[PCHAT_SOAP_MAX_REQUEST] = "GetMaxRequestContentInKB",
	[PCHAT_SOAP_APPEND_CHUNK] = "AppendChunk",
	[PCHAT_SOAP_FILE_SIZE] = "GetFileSize",
	[PCHAT_SOAP_DOWNLOAD_CHUNK] = "DownloadChunk",
};
#define NOPS ((int)(sizeof(op_names) / sizeof(op_names[0])))

static int in_ns(xmlNodePtr n, const char *ns)
{
	return n->ns && n->ns->href && strcmp((const char *)n->ns->href, ns) == 0;
}

static xmlNodePtr element_in(xmlNodePtr parent, const char *name, const char *ns)
{
	xmlNodePtr n;

	for (n = parent ? parent->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0
				&& in_ns(n, ns))
			return n;
	return NULL;
}

static pchat_rc_t fail(pchat_soap_req_t *req, char *err, size_t errlen, const char *why,
		const char *what)
{
	snprintf(err, errlen, "%s%s%s", why, what ? ": " : "", what ? what : "");
	pchat_soap_req_free(req);
	return PCHAT_ERR_INVALID;
}

/* A child's text into out; -1 when it does not fit. */
static int text_child(xmlNodePtr op, const char *name, char *out, size_t outlen)
{
	xmlNodePtr n = element_in(op, name, PCHAT_SOAP_NS);
	xmlChar *v;
	size_t len;

	out[0] = '\0';
	if (!n)
		return 0;
	v = xmlNodeGetContent(n);
	len = v ? strlen((const char *)v) : 0;
	if (len >= outlen) {
		xmlFree(v);
		return -1;
	}
	if (v)
		memcpy(out, v, len + 1);
	xmlFree(v);
	return 0;
}

/* A child that must be a non-negative whole number when present. */
static int number_child(xmlNodePtr op, const char *name, uint64_t *v, int *has)
{
	char text[32], *end;
	unsigned long long n;

	*has = 0;
	if (text_child(op, name, text, sizeof(text)) < 0)
		return -1;
	if (!element_in(op, name, PCHAT_SOAP_NS))
		return 0;
	if (text[0] < '0' || text[0] > '9')
		return -1;
	n = strtoull(text, &end, 10);
	if (*end || n == ULLONG_MAX)
		return -1;
	*v = n;
	*has = 1;
	return 0;
}

static int decode_chunk(xmlNodePtr op, pchat_soap_req_t *req)
{
	xmlNodePtr n = element_in(op, "fileChunk", PCHAT_SOAP_NS);
	xmlChar *v;
	size_t len;
	long got;

	if (!n)
		return 0;
	v = xmlNodeGetContent(n);
	len = v ? strlen((const char *)v) : 0;
	req->chunk = pchat_malloc(len / 4 * 3 + 3);
	if (!req->chunk) {
		xmlFree(v);
		return -2;
	}
	got = pchat_base64_decode(v ? (const char *)v : "", len, req->chunk);
	xmlFree(v);
	if (got < 0)
		return -1;
	req->chunk_len = (size_t)got;
	return 0;
}

static const char *read_children(xmlNodePtr op, pchat_soap_req_t *req, int *no_memory)
{
	int rc;

	*no_memory = 0;
	if (text_child(op, "token", req->token, sizeof(req->token)) < 0)
		return "token";
	if (text_child(op, "channelId", req->channel_id, sizeof(req->channel_id)) < 0)
		return "channelId";
	if (text_child(op, req->op == PCHAT_SOAP_APPEND_CHUNK ? "uniqueFilename" : "reposFileName",
				req->file_name, sizeof(req->file_name)) < 0)
		return "file name";
	if (text_child(op, "extension", req->extension, sizeof(req->extension)) < 0)
		return "extension";
	if (number_child(op, "offset", &req->offset, &req->has_offset) < 0)
		return "offset";
	if (number_child(op, "fileLength", &req->file_length, &req->has_file_length) < 0)
		return "fileLength";
	if (number_child(op, "bufferSize", &req->buffer_size, &req->has_buffer_size) < 0)
		return "bufferSize";
	rc = decode_chunk(op, req);
	*no_memory = rc == -2;
	return rc < 0 ? "fileChunk" : NULL;
}

pchat_rc_t pchat_soap_parse(const char *body, size_t len, pchat_soap_req_t *req, char *err,
		size_t errlen)
{
	xmlDocPtr doc;
	xmlNodePtr root, op;
	const char *bad;
	pchat_rc_t rc;
	int i, no_memory;

	memset(req, 0, sizeof(*req));
	if ((rc = pchat_xml_read_safe(body, len, &doc, err, errlen)) != PCHAT_OK)
		return rc;
	root = xmlDocGetRootElement(doc);
	op = root && strcmp((const char *)root->name, "Envelope") == 0 && in_ns(root, SOAP_ENV_NS)
				 ? element_in(root, "Body", SOAP_ENV_NS)
				 : NULL;
	op = op ? pchat_xml_first_element(op) : NULL;
	if (!op || !in_ns(op, PCHAT_SOAP_NS)) {
		xmlFreeDoc(doc);
		return fail(req, err, errlen, "no SOAP 1.1 envelope with an operation in "
				PCHAT_SOAP_NS, NULL);
	}
	for (i = 0; i < NOPS && strcmp((const char *)op->name, op_names[i]) != 0; i++)
		;
	if (i == NOPS) {
		snprintf(err, errlen, "unknown operation: %.64s", (const char *)op->name);
		xmlFreeDoc(doc);
		pchat_soap_req_free(req);
		return PCHAT_ERR_INVALID;
	}
	req->op = (pchat_soap_op_t)i;
	bad = read_children(op, req, &no_memory);
	xmlFreeDoc(doc);
	if (no_memory) {
		pchat_soap_req_free(req);
		snprintf(err, errlen, "out of memory");
		return PCHAT_ERR_NO_MEMORY;
	}
	return bad ? fail(req, err, errlen, "a child is too long, not a number or not base64", bad)
			   : PCHAT_OK;
}

void pchat_soap_req_free(pchat_soap_req_t *req)
{
	pchat_free(req->chunk);
	req->chunk = NULL;
	req->chunk_len = 0;
}

static void envelope_open(pchat_buf_t *b)
{
	pchat_buf_adds(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
					  "<soap:Envelope xmlns:soap=\"" SOAP_ENV_NS "\" "
					  "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
					  "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><soap:Body>");
}

static void envelope_close(pchat_buf_t *b)
{
	pchat_buf_adds(b, "</soap:Body></soap:Envelope>");
}

static void result_open(pchat_buf_t *b, pchat_soap_op_t op)
{
	envelope_open(b);
	pchat_buf_addf(b, "<%sResponse xmlns=\"" PCHAT_SOAP_NS "\"><%sResult>", op_names[op],
			op_names[op]);
}

static void result_close(pchat_buf_t *b, pchat_soap_op_t op)
{
	pchat_buf_addf(b, "</%sResult></%sResponse>", op_names[op], op_names[op]);
	envelope_close(b);
}

void pchat_soap_result(pchat_buf_t *b, pchat_soap_op_t op, const char *text)
{
	result_open(b, op);
	pchat_buf_adds_xml(b, text);
	result_close(b, op);
}

void pchat_soap_result_bytes(pchat_buf_t *b, pchat_soap_op_t op, const unsigned char *data,
		size_t len)
{
	result_open(b, op);
	pchat_base64_encode(b, data, len);
	result_close(b, op);
}

void pchat_soap_fault(pchat_buf_t *b, int client_fault, const char *reason)
{
	envelope_open(b);
	pchat_buf_addf(b, "<soap:Fault><faultcode>soap:%s</faultcode><faultstring>",
			client_fault ? "Client" : "Server");
	pchat_buf_adds_xml(b, reason);
	pchat_buf_adds(b, "</faultstring></soap:Fault>");
	envelope_close(b);
}
