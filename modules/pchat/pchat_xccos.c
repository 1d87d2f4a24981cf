/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "pchat_xccos.h"

void pchat_xccos_init(void)
{
	xmlInitParser();
}

static int in_xccos_ns(xmlNodePtr n)
{
	return n->ns && n->ns->href && strcmp((const char *)n->ns->href, PCHAT_XCCOS_NS) == 0;
}

/* An element of the XCCOS namespace with this local name: what a client means by a name is
 * decided by its namespace, not by how it spells a prefix. */
static int is_element(xmlNodePtr n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0
		   && in_xccos_ns(n);
}

xmlNodePtr pchat_xml_next(xmlNodePtr node, const char *name)
{
	for (node = node ? node->next : NULL; node; node = node->next)
		if (is_element(node, name))
			return node;
	return NULL;
}

xmlNodePtr pchat_xml_child(xmlNodePtr parent, const char *name)
{
	xmlNodePtr n;

	if (!parent)
		return NULL;
	for (n = parent->children; n; n = n->next)
		if (is_element(n, name))
			return n;
	return NULL;
}

xmlNodePtr pchat_xml_first_element(xmlNodePtr parent)
{
	xmlNodePtr n;

	for (n = parent->children; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE)
			return n;
	return NULL;
}

int pchat_xml_attr(xmlNodePtr node, const char *name, char *out, size_t outlen)
{
	xmlChar *v;
	size_t len;

	if (!node || outlen == 0)
		return -1;
	v = xmlGetNoNsProp(node, (const xmlChar *)name);
	if (!v)
		return -1;
	len = strlen((const char *)v);
	if (len >= outlen) {
		xmlFree(v);
		return -2;
	}
	memcpy(out, v, len + 1);
	xmlFree(v);
	return (int)len;
}

long long pchat_xml_attr_num(xmlNodePtr node, const char *name)
{
	char buf[24], *end;
	unsigned long long v;

	if (pchat_xml_attr(node, name, buf, sizeof(buf)) <= 0 || buf[0] < '0' || buf[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (*end || errno || v > (unsigned long long)INT64_MAX)
		return -1;
	return (long long)v;
}

void pchat_xml_text(xmlNodePtr node, pchat_buf_t *b)
{
	xmlChar *t = node ? xmlNodeGetContent(node) : NULL;

	pchat_buf_adds(b, t ? (const char *)t : "");
	xmlFree(t);
}

/* 1 when ns is declared on node or one of its ancestors up to top (within the subtree). */
static int declared_within(xmlNodePtr node, xmlNodePtr top, xmlNsPtr ns)
{
	xmlNsPtr d;

	for (; node; node = node->parent) {
		for (d = node->nsDef; d; d = d->next)
			if (d == ns)
				return 1;
		if (node == top)
			break;
	}
	return 0;
}

/* A namespace the subtree under top uses but takes from an ancestor outside it gets declared
 * on top, so the subtree is namespace-well-formed on its own (it is stored, and later embedded
 * in other envelopes). The XCCOS default namespace needs nothing: every envelope the server
 * sends declares it. */
static void declare_outer(xmlNodePtr top, xmlNodePtr user, xmlNsPtr ns)
{
	if (!ns || declared_within(user, top, ns)
			|| (ns->prefix && strcmp((const char *)ns->prefix, "xml") == 0)
			|| (!ns->prefix && ns->href
					&& strcmp((const char *)ns->href, PCHAT_XCCOS_NS) == 0))
		return;
	xmlNewNs(top, ns->href, ns->prefix); /* refused (NULL) when top declares the prefix already */
}

static void reconcile(xmlNodePtr top, xmlNodePtr n)
{
	xmlAttrPtr a;
	xmlNodePtr c;

	if (n->type != XML_ELEMENT_NODE)
		return;
	declare_outer(top, n, n->ns);
	for (a = n->properties; a; a = a->next)
		declare_outer(top, n, a->ns);
	for (c = n->children; c; c = c->next)
		reconcile(top, c);
}

void pchat_xml_inner(xmlNodePtr node, pchat_buf_t *b)
{
	xmlBufferPtr xb = xmlBufferCreate();
	xmlNodePtr n;

	if (!xb) {
		b->failed = 1;
		return;
	}
	for (n = node->children; n; n = n->next) {
		reconcile(n, n);
		xmlNodeDump(xb, node->doc, n, 0, 0);
	}
	pchat_buf_add(b, (const char *)xmlBufferContent(xb), (size_t)xmlBufferLength(xb));
	xmlBufferFree(xb);
}

size_t pchat_utf8_chars(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/* "cmd:join" -> "join"; the name must be a plain token. */
static int command_name(xmlNodePtr cmd, char *out, size_t outlen)
{
	char id[PCHAT_XCCOS_NAME_MAX + 4];
	size_t i;

	if (pchat_xml_attr(cmd, "id", id, sizeof(id)) < 5 || strncmp(id, "cmd:", 4) != 0)
		return -1;
	for (i = 4; id[i]; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z')
					|| (id[i] >= '0' && id[i] <= '9') || id[i] == '_' || id[i] == '-'))
			return -1;
	snprintf(out, outlen, "%s", id + 4);
	return 0;
}

static pchat_rc_t fail(pchat_env_t *env, pchat_rc_t st, char *err,
		size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	pchat_xccos_free(env);
	return st;
}

void pchat_xccos_stored_text(const char *content, pchat_buf_t *out)
{
	/* stored content was serialized from a parsed post: well-formed, no DOCTYPE; it is parsed
	 * as it was made, without network or entities all the same */
	const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
						| XML_PARSE_NOCDATA;
	xmlNodePtr chat;
	xmlDocPtr doc;
	pchat_buf_t wrapped;

	pchat_buf_init(&wrapped);
	/* stored without the envelope that declared its namespace */
	pchat_buf_adds(&wrapped, "<post xmlns=\"" PCHAT_XCCOS_NS "\">");
	pchat_buf_adds(&wrapped, content);
	pchat_buf_adds(&wrapped, "</post>");
	if (!pchat_buf_ok(&wrapped)) {
		out->failed = 1;
		pchat_buf_free(&wrapped);
		return;
	}
	doc = xmlReadMemory(wrapped.s, (int)wrapped.len, NULL, "UTF-8", options);
	chat = doc ? pchat_xml_child(xmlDocGetRootElement(doc), "chat") : NULL;
	if (chat)
		pchat_xml_text(chat, out);
	xmlFreeDoc(doc);
	pchat_buf_free(&wrapped);
}

pchat_rc_t pchat_xml_read_safe(const char *body, size_t len, xmlDocPtr *doc, char *err,
		size_t errlen)
{
	/* No network, no entity substitution, no DTD loading, default (non-HUGE) limits; errors are
	 * reported through the return value, not printed. */
	const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
						| XML_PARSE_NOCDATA;
	xmlParserCtxtPtr ctxt;
	int ns_ok;

	*doc = NULL;
	if (len == 0 || len > INT_MAX) {
		snprintf(err, errlen, "%s", len ? "body too large" : "empty body");
		return len ? PCHAT_ERR_TOO_LARGE : PCHAT_ERR_MALFORMED;
	}
	/* Refused before parsing: an internal subset can declare entities that expand even when
	 * entity substitution is off. */
	if (memmem(body, len, "<!DOCTYPE", 9) || memmem(body, len, "<!ENTITY", 8)) {
		snprintf(err, errlen, "DOCTYPE/ENTITY present");
		return PCHAT_ERR_UNSAFE;
	}
	ctxt = xmlNewParserCtxt();
	if (!ctxt) {
		snprintf(err, errlen, "out of memory");
		return PCHAT_ERR_NO_MEMORY;
	}
	*doc = xmlCtxtReadMemory(ctxt, body, (int)len, NULL, "UTF-8", options);
	ns_ok = ctxt->nsWellFormed;
	if (!*doc) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);

		snprintf(err, errlen, "not well-formed: %s", e && e->message ? e->message : "?");
		if (errlen && strlen(err))
			err[strcspn(err, "\n")] = '\0';
		xmlFreeParserCtxt(ctxt);
		return PCHAT_ERR_MALFORMED;
	}
	xmlFreeParserCtxt(ctxt);
	/* An undeclared prefix would be stored and relayed as XML that no namespace-aware client
	 * can read, in every later copy and backchat. */
	if (!ns_ok || (*doc)->intSubset || (*doc)->extSubset) {
		snprintf(err, errlen, "%s", ns_ok ? "DOCTYPE present" : "not namespace-well-formed");
		xmlFreeDoc(*doc);
		*doc = NULL;
		return ns_ok ? PCHAT_ERR_UNSAFE : PCHAT_ERR_MALFORMED;
	}
	return PCHAT_OK;
}

pchat_rc_t pchat_xccos_parse(const char *body, size_t len, size_t max_len,
		pchat_env_t *env, char *err, size_t errlen)
{
	xmlNodePtr root, node;
	long long envid;
	pchat_rc_t rc;

	memset(env, 0, sizeof(*env));
	if (len > max_len)
		return fail(env, PCHAT_ERR_TOO_LARGE, err, errlen, "body over the size limit");
	if ((rc = pchat_xml_read_safe(body, len, &env->doc, err, errlen)) != PCHAT_OK)
		return rc;
	root = xmlDocGetRootElement(env->doc);
	if (!is_element(root, "xccos"))
		return fail(env, PCHAT_ERR_INVALID, err, errlen,
				"root element is not xccos in the XCCOS namespace");
	envid = pchat_xml_attr_num(root, "envid");
	env->envid = envid > 0 ? (uint64_t)envid : 0;
	node = pchat_xml_first_element(root);
	if (is_element(node, "cmd")) {
		env->kind = PCHAT_ENV_CMD;
		if (command_name(node, env->name, sizeof(env->name)) < 0)
			return fail(env, PCHAT_ERR_INVALID, err, errlen, "cmd without a valid id");
		env->data = pchat_xml_child(node, "data");
	} else if (is_element(node, "grpchat")) {
		env->kind = PCHAT_ENV_POST;
		snprintf(env->name, sizeof(env->name), "grpchat");
	} else {
		return fail(env, PCHAT_ERR_INVALID, err, errlen, "no cmd or grpchat in xccos");
	}
	env->node = node;
	if (pchat_xml_attr(node, "seqid", env->seqid, sizeof(env->seqid)) < 0
			|| !env->seqid[0] || strspn(env->seqid, "0123456789") != strlen(env->seqid))
		snprintf(env->seqid, sizeof(env->seqid), "1");
	return PCHAT_OK;
}

void pchat_xccos_free(pchat_env_t *env)
{
	if (env->doc)
		xmlFreeDoc(env->doc);
	env->doc = NULL;
	env->node = env->data = NULL;
}

void pchat_xccos_open(pchat_buf_t *b, uint64_t envid)
{
	pchat_buf_addf(b, "<xccos ver=\"1\" envid=\"%llu\" xmlns=\"" PCHAT_XCCOS_NS "\">",
			(unsigned long long)envid);
}

void pchat_xccos_close(pchat_buf_t *b)
{
	pchat_buf_adds(b, "</xccos>");
}

void pchat_xccos_rpl_open(pchat_buf_t *b, const pchat_env_t *cmd, const char *name, pchat_rc_t rc,
		const char *text)
{
	pchat_buf_adds(b, "<rpl id=\"rpl:");
	pchat_buf_adds_xml(b, name);
	pchat_buf_addf(b, "\" seqid=\"%s\"><commandid seqid=\"%s\" envid=\"%llu\"/><resp code=\"%d\">",
			cmd->seqid, cmd->seqid, (unsigned long long)cmd->envid, pchat_rc_xccos(rc));
	pchat_buf_adds_xml(b, text);
	pchat_buf_adds(b, "</resp><data>");
}

void pchat_xccos_rpl_close(pchat_buf_t *b)
{
	pchat_buf_adds(b, "</data></rpl>");
}

/* <ntc id="ntc:NAME"><data> ... </data></ntc>, around the notices built below. */
static void ntc_open(pchat_buf_t *b, const char *name)
{
	pchat_buf_addf(b, "<ntc id=\"ntc:%s\"><data>", name);
}

static void ntc_close(pchat_buf_t *b)
{
	pchat_buf_adds(b, "</data></ntc>");
}

void pchat_xccos_post(pchat_buf_t *b, const char *element, const char *chan_uri,
		const char *author, const char *ts, const char *content)
{
	pchat_buf_adds(b, "<");
	pchat_buf_adds(b, element);
	pchat_buf_adds(b, " id=\"grpchat\" seqid=\"1\" chanUri=\"");
	pchat_buf_adds_xml(b, chan_uri);
	pchat_buf_adds(b, "\" author=\"");
	pchat_buf_adds_xml(b, author);
	pchat_buf_adds(b, "\" ts=\"");
	pchat_buf_adds_xml(b, ts);
	pchat_buf_adds(b, "\">");
	pchat_buf_adds(b, content); /* well-formed: serialized by libxml2 from a parsed post */
	pchat_buf_adds(b, "</");
	pchat_buf_adds(b, element);
	pchat_buf_adds(b, ">");
}

void pchat_xccos_time(const char *dt, char *out, size_t outlen)
{
	/* "YYYY-MM-DD HH:MM:SS[.ffffff]" -> "YYYY-MM-DDTHH:MM:SS.fffffff0Z" */
	char frac[8] = "000000";
	const char *dot = strchr(dt, '.');

	if (dot) {
		size_t i;

		for (i = 0; i < 6 && dot[1 + i] >= '0' && dot[1 + i] <= '9'; i++)
			frac[i] = dot[1 + i];
	}
	snprintf(out, outlen, "%.10sT%.8s.%s0Z", dt, strlen(dt) > 11 ? dt + 11 : "00:00:00", frac);
}

void pchat_xccos_stored_post(pchat_buf_t *b, const char *element, const char *chan_uri,
		const pchat_post_t *post)
{
	char ts[32];

	pchat_xccos_time(post->ts, ts, sizeof(ts));
	pchat_xccos_post(b, element, chan_uri, post->author, ts, post->content);
}

void pchat_xccos_uib(pchat_buf_t *b, int id, const char *user)
{
	pchat_buf_adds(b, "<uib id=\"");
	pchat_buf_add_uint(b, (unsigned)id);
	pchat_buf_adds(b, "\" uri=\"");
	pchat_buf_adds_xml(b, user);
	pchat_buf_adds(b, "\"/>");
}

void pchat_xccos_uib_uri(pchat_buf_t *b, const char *uri)
{
	pchat_buf_adds(b, "<uib uri=\"");
	pchat_buf_adds_xml(b, uri);
	pchat_buf_adds(b, "\"/>");
}

void pchat_xccos_chanib_open(pchat_buf_t *b, const char *uri, const pchat_room_t *room)
{
	pchat_buf_adds(b, "<chanib uri=\"");
	pchat_buf_adds_xml(b, uri);
	pchat_buf_adds(b, "\" name=\"");
	pchat_buf_adds_xml(b, room->name);
	pchat_buf_adds(b, "\" description=\"");
	pchat_buf_adds_xml(b, room->description);
	pchat_buf_adds(b, "\" topic=\"");
	pchat_buf_adds_xml(b, room->topic);
	pchat_buf_adds(b, "\">");
}

void pchat_xccos_chanib_close(pchat_buf_t *b)
{
	pchat_buf_adds(b, "</chanib>");
}

/* The aib list of the users that are (or are not) managers. */
static void add_aib(pchat_buf_t *b, const int *ids, const unsigned *roles, int n, int managers)
{
	int i, listed = 0;

	for (i = 0; i < n; i++) {
		if (((roles[i] & PCHAT_ROLE_MANAGER) != 0) != managers)
			continue;
		if (listed++)
			pchat_buf_adds(b, ",");
		else
			pchat_buf_adds(b, managers ? "<aib key=\"" PCHAT_XCCOS_AIB_MANAGER "\" value=\""
									   : "<aib key=\"" PCHAT_XCCOS_AIB_PARTICIPANT "\" value=\"");
		pchat_buf_add_uint(b, (unsigned)ids[i]);
	}
	if (listed)
		pchat_buf_adds(b, "\"/>");
}

void pchat_xccos_aibs(pchat_buf_t *b, const int *ids, const unsigned *roles, int n)
{
	add_aib(b, ids, roles, n, 0);
	add_aib(b, ids, roles, n, 1);
}

void pchat_xccos_chanib_ref(pchat_buf_t *b, const char *uri)
{
	pchat_buf_adds(b, "<chanib uri=\"");
	pchat_buf_adds_xml(b, uri);
	pchat_buf_adds(b, "\"/>");
}

void pchat_xccos_backchat(pchat_buf_t *b, const char *uri, const char *msgs, size_t len)
{
	pchat_buf_adds(b, "<chanib uri=\"");
	pchat_buf_adds_xml(b, uri);
	pchat_buf_adds(b, "\">");
	if (len)
		pchat_buf_add(b, msgs, len);
	pchat_buf_adds(b, "</chanib>");
}

/* Echoes a client's attribute when it takes at most max bytes escaped, else nothing. */
static void echo_bounded(pchat_buf_t *b, const char *v, size_t max)
{
	if (pchat_buf_xml_size(v) <= max)
		pchat_buf_adds_xml(b, v);
}

void pchat_xccos_fib(pchat_buf_t *b, const char *value, const char *domain)
{
	pchat_buf_adds(b, "<fib key=\"OPERATION_FAILED\" value=\"");
	echo_bounded(b, value, PCHAT_XCCOS_FIB_VALUE_MAX);
	pchat_buf_adds(b, "\" domain=\"");
	echo_bounded(b, domain, PCHAT_XCCOS_FIB_DOMAIN_MAX);
	pchat_buf_adds(b, "\"/>");
}

void pchat_xccos_ntc_join(pchat_buf_t *b, const char *name, const char *user, int manager,
		const char *domain, const char *guid)
{
	ntc_open(b, name);
	pchat_buf_adds(b, "<uib uri=\"");
	pchat_buf_adds_xml(b, user);
	pchat_buf_addf(b, "\"><aib key=\"%s\" domain=\"",
			manager ? PCHAT_XCCOS_AIB_MANAGER : PCHAT_XCCOS_AIB_PARTICIPANT);
	pchat_buf_adds_xml(b, domain);
	pchat_buf_addf(b, "\" value=\"%s\"/></uib>", guid);
	ntc_close(b);
}

void pchat_xccos_ntc_part(pchat_buf_t *b, const char *uri, const char *user)
{
	ntc_open(b, "part");
	pchat_buf_adds(b, "<chanib uri=\"");
	pchat_buf_adds_xml(b, uri);
	pchat_buf_adds(b, "\"><uib uri=\"");
	pchat_buf_adds_xml(b, user);
	pchat_buf_adds(b, "\"/></chanib>");
	ntc_close(b);
}

void pchat_xccos_sib(pchat_buf_t *b, const char *info_type, const char *server_time,
		int search_limit, int message_size_limit, int story_size_limit, const char *root_uri,
		const char *room_management_url)
{
	pchat_buf_adds(b, "<sib infoType=\"");
	pchat_buf_adds_xml(b, info_type);
	pchat_buf_addf(b, "\" serverTime=\"%s\" searchLimit=\"%d\" messageSizeLimit=\"%d\" "
			"storySizeLimit=\"%d\" rootUri=\"", server_time, search_limit, message_size_limit,
			story_size_limit);
	pchat_buf_adds_xml(b, root_uri);
	/* the wire name of the SDK's RoomManagementUrl is not known (PROTOCOL.md 4.2): this is its
	 * name in the SDK, which clients that do not know it ignore */
	if (room_management_url && room_management_url[0]) {
		pchat_buf_adds(b, "\" roomManagementUrl=\"");
		pchat_buf_adds_xml(b, room_management_url);
	}
	pchat_buf_adds(b, "\"/>");
}

/* Room-list facts, with the URN spellings clients match (visibilty sic). */
#define URN_UCNT "urn:parlano:ma:info:ucnt"
#define URN_VISIBILITY "urn:parlano:ma:info:visibilty"
#define URN_FILEPOST "urn:parlano:ma:prop:filepost"
#define URN_INVITE "urn:parlano:ma:prop:invite"
#define URN_LOGGED "urn:parlano:ma:prop:logged"

static const char *tf(int v)
{
	return v ? "true" : "false";
}

void pchat_xccos_room_entry(pchat_buf_t *b, const char *uri, const pchat_room_summary_t *room,
		size_t *count_at)
{
	pchat_buf_adds(b, "<chanib name=\"");
	pchat_buf_adds_xml(b, room->name);
	pchat_buf_adds(b, "\" description=\"");
	pchat_buf_adds_xml(b, room->description);
	pchat_buf_adds(b, "\" uri=\"");
	pchat_buf_adds_xml(b, uri);
	pchat_buf_adds(b, "\"><info id=\"" URN_UCNT "\">");
	*count_at = b->len;
	pchat_buf_addf(b, "</info><info id=\"" URN_VISIBILITY "\">%s</info><prop id=\""
			URN_FILEPOST "\">%s</prop><prop id=\"" URN_INVITE "\">%s</prop><prop id=\""
			URN_LOGGED "\">%s</prop></chanib>", room->privacy == PCHAT_OPEN ? "public" : "private",
			tf(room->file_post), tf(room->invite), tf(room->logged));
}

void pchat_xccos_ftok(pchat_buf_t *b, const char *token, const char *service_base)
{
	pchat_buf_adds(b, "<token token=\"");
	pchat_buf_adds_xml(b, token);
	pchat_buf_adds(b, "\" serveruri=\"");
	pchat_buf_adds_xml(b, service_base);
	pchat_buf_adds(b, PCHAT_FILE_SERVICE_PATH "\"/>");
}

void pchat_xccos_inv_open(pchat_buf_t *b, const pchat_invitation_t *inv, const char *domain)
{
	char ts[32];

	pchat_xccos_time(inv->created, ts, sizeof(ts));
	pchat_buf_addf(b, "<inv inviteId=\"%llu\" domain=\"", (unsigned long long)inv->id);
	pchat_buf_adds_xml(b, domain);
	pchat_buf_addf(b, "\" created=\"%s\" inviter=\"", ts);
	pchat_buf_adds_xml(b, inv->inviter);
	pchat_buf_adds(b, "\">");
}

void pchat_xccos_inv_close(pchat_buf_t *b)
{
	pchat_buf_adds(b, "</inv>");
}

void pchat_xccos_pref(pchat_buf_t *b, const char *label, uint64_t seqid, const char *content)
{
	pchat_buf_adds(b, "<pref label=\"");
	pchat_buf_adds_xml(b, label);
	pchat_buf_addf(b, "\" seqid=\"%llu\" content=\"", (unsigned long long)seqid);
	pchat_buf_adds_xml(b, content);
	pchat_buf_adds(b, "\"/>");
}
