/*
 * XCCOS wire format: parsing what clients send (a <cmd> or a <grpchat> post in an <xccos>
 * envelope) and building what the server sends (<rpl>, <ntc>, <grpchat>).
 *
 * Every byte comes from the network: the parser refuses documents over the size limit, any
 * DOCTYPE (no entity expansion of any kind), documents that are not well-formed or not valid
 * UTF-8, and never loads anything from the network. Only libxml2 is used.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_XCCOS_H
#define PCHAT_XCCOS_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "pchat_buf.h"
#include "pchat_model.h"
#include "pchat_result.h"

#define PCHAT_XCCOS_NS "urn:parlano:xml:ns:xccos"
#define PCHAT_XCCOS_NAME_MAX 64

typedef enum pchat_env_kind {
	PCHAT_ENV_CMD,  /* <cmd id="cmd:NAME"> */
	PCHAT_ENV_POST, /* <grpchat> */
} pchat_env_kind_t;

typedef struct pchat_env {
	xmlDocPtr doc;
	pchat_env_kind_t kind;
	uint64_t envid;                    /* the sender's envelope number (0 when absent) */
	char name[PCHAT_XCCOS_NAME_MAX];   /* command name without "cmd:"; "grpchat" for a post */
	char seqid[24];                    /* echoed in the reply */
	xmlNodePtr node;                   /* the <cmd> or <grpchat> element */
	xmlNodePtr data;                   /* <data> of a command, NULL when absent */
} pchat_env_t;

/* Call once per process before parsing (xmlInitParser). */
void pchat_xccos_init(void);

/* Parses XML from the network into *doc: without network access, entities or DTDs (a body
 * with DOCTYPE or ENTITY is refused unread) and within libxml2's default limits; it must be
 * namespace-well-formed. PCHAT_OK (xmlFreeDoc releases *doc), or PCHAT_ERR_MALFORMED,
 * PCHAT_ERR_UNSAFE, PCHAT_ERR_TOO_LARGE or PCHAT_ERR_NO_MEMORY with *doc NULL and err saying
 * why. Used for XCCOS and SOAP alike. */
pchat_rc_t pchat_xml_read_safe(const char *body, size_t len, xmlDocPtr *doc, char *err,
		size_t errlen);

/* Parses one INFO body. On PCHAT_OK env holds the document (pchat_xccos_free releases it);
 * otherwise PCHAT_ERR_TOO_LARGE (over max_len), PCHAT_ERR_UNSAFE (a DOCTYPE: entities),
 * PCHAT_ERR_MALFORMED (not well-formed XML or not UTF-8), PCHAT_ERR_INVALID (well-formed, but
 * no xccos envelope with a cmd or grpchat) or PCHAT_ERR_NO_MEMORY (no parser could be had), and
 * err says why, for the log. */
pchat_rc_t pchat_xccos_parse(const char *body, size_t len, size_t max_len,
		pchat_env_t *env, char *err, size_t errlen);
void pchat_xccos_free(pchat_env_t *env);

/* The first child element of parent with this local name, or NULL. */
xmlNodePtr pchat_xml_child(xmlNodePtr parent, const char *name);
/* The first element child, whatever its name and namespace; NULL when there is none. */
xmlNodePtr pchat_xml_first_element(xmlNodePtr parent);
/* The next sibling element of node with this local name, or NULL. */
xmlNodePtr pchat_xml_next(xmlNodePtr node, const char *name);

/* Copies attribute name of node into out (NUL-terminated). Returns its length, -1 when absent,
 * -2 when longer than outlen - 1. */
int pchat_xml_attr(xmlNodePtr node, const char *name, char *out, size_t outlen);

/* Attribute as an unsigned number; -1 when absent or not a number. */
long long pchat_xml_attr_num(xmlNodePtr node, const char *name);

/* Text content of node (concatenated text of all descendants) into b. */
void pchat_xml_text(xmlNodePtr node, pchat_buf_t *b);

/* Serializes the children of node (the content of a post, stored and relayed as received). */
void pchat_xml_inner(xmlNodePtr node, pchat_buf_t *b);

/* The text of the <chat> element of a stored post's content (what pchat_xml_inner wrote), as
 * pchat_xml_text gives it when the post arrives; nothing when there is none. */
void pchat_xccos_stored_text(const char *content, pchat_buf_t *out);

/* Number of Unicode characters in a UTF-8 string. */
size_t pchat_utf8_chars(const char *s, size_t len);

/* ---- building server messages ---- */

/* <xccos ver="1" envid="E" xmlns="urn:parlano:xml:ns:xccos"> ... </xccos> */
void pchat_xccos_open(pchat_buf_t *b, uint64_t envid);
void pchat_xccos_close(pchat_buf_t *b);

/* <rpl id="rpl:NAME" seqid="S"><commandid seqid="S" envid="E"/><resp code="C">TEXT</resp><data>
 * ... pchat_xccos_rpl_close() adds </data></rpl>. C is the XCCOS code of rc (pchat_result.h). */
void pchat_xccos_rpl_open(pchat_buf_t *b, const pchat_env_t *cmd, const char *name, pchat_rc_t rc,
		const char *text);
void pchat_xccos_rpl_close(pchat_buf_t *b);

/* A post as the server sends it: element "grpchat" (live copy) or "msg" (in backchat), with
 * id="grpchat", the room URI, author and server time; content is the stored XML content. */
void pchat_xccos_post(pchat_buf_t *b, const char *element, const char *chan_uri,
		const char *author, const char *ts, const char *content);

/* pchat_xccos_post of a stored post: its MySQL time is written as pchat_xccos_time says. */
void pchat_xccos_stored_post(pchat_buf_t *b, const char *element, const char *chan_uri,
		const pchat_post_t *post);

/* ---- the elements inside a <data> (the chat logic decides what goes in; these write it) ---- */

/* aib keys of Lync's participant lists: ordinary participant, room manager (operator). */
#define PCHAT_XCCOS_AIB_PARTICIPANT "3984"
#define PCHAT_XCCOS_AIB_MANAGER "12276"

/* <uib id="ID" uri="USER"/>: a user of a join reply, whose aib lists name it by id (its
 * position in the reply, >= 0, as are the ids of the aib lists). */
void pchat_xccos_uib(pchat_buf_t *b, int id, const char *user);
/* <uib uri="URI"/>: the chat service's URI (requri). */
void pchat_xccos_uib_uri(pchat_buf_t *b, const char *uri);

/* <chanib uri="URI" name="..." description="..." topic="...">: a joined room, before its
 * participants; pchat_xccos_chanib_close ends it. */
void pchat_xccos_chanib_open(pchat_buf_t *b, const char *uri, const pchat_room_t *room);
void pchat_xccos_chanib_close(pchat_buf_t *b);
/* <aib key="PARTICIPANT" value="ids"/><aib key="MANAGER" value="ids"/>: the n users ids of a
 * room, split by roles[i], the roles of user ids[i] in this room (PCHAT_ROLE_MANAGER or not);
 * a list without users is left out. */
void pchat_xccos_aibs(pchat_buf_t *b, const int *ids, const unsigned *roles, int n);

/* <chanib uri="URI"/>: the room a part reply names. */
void pchat_xccos_chanib_ref(pchat_buf_t *b, const char *uri);
/* <chanib uri="URI">MSGS</chanib>: backchat, msgs being <msg> elements (len bytes). */
void pchat_xccos_backchat(pchat_buf_t *b, const char *uri, const char *msgs, size_t len);

/* The most bytes of value and domain a <fib> echoes, escaped, and the most a <fib> takes. */
#define PCHAT_XCCOS_FIB_VALUE_MAX 64
#define PCHAT_XCCOS_FIB_DOMAIN_MAX 128
#define PCHAT_XCCOS_FIB_MAX (PCHAT_XCCOS_FIB_VALUE_MAX + PCHAT_XCCOS_FIB_DOMAIN_MAX + 64)
/* <fib key="OPERATION_FAILED" value="V" domain="D"/>: a room of a batch join that was not
 * joined, named as the client named it. A value or domain over its bound is left empty, so a
 * fib never takes more than PCHAT_XCCOS_FIB_MAX bytes. */
void pchat_xccos_fib(pchat_buf_t *b, const char *value, const char *domain);

/* <ntc id="ntc:NAME"><data><uib uri="USER"><aib key="K" domain="D" value="GUID"/></uib>
 * </data></ntc>: user joined the room (NAME join or bjoin), as a manager or not. */
void pchat_xccos_ntc_join(pchat_buf_t *b, const char *name, const char *user, int manager,
		const char *domain, const char *guid);
/* <ntc id="ntc:part"><data><chanib uri="URI"><uib uri="USER"/></chanib></data></ntc>: user
 * left the room. */
void pchat_xccos_ntc_part(pchat_buf_t *b, const char *uri, const char *user);

/* <sib .../>: what getserverinfo tells of the service; server_time as pchat_xccos_time;
 * room_management_url NULL or "" when there is no page. */
void pchat_xccos_sib(pchat_buf_t *b, const char *info_type, const char *server_time,
		int search_limit, int message_size_limit, int story_size_limit, const char *root_uri,
		const char *room_management_url);

/* <chanib name description uri><info ucnt>COUNT</info>... </chanib>: a room of a list
 * (chansrch, getassociations, getinv). Its user count is not written: *count_at is where in b
 * it goes, for the list to fill in once every room's count is known. */
void pchat_xccos_room_entry(pchat_buf_t *b, const char *uri, const pchat_room_summary_t *room,
		size_t *count_at);
/* <inv inviteId domain created inviter>: an invitation, around its room's entry;
 * pchat_xccos_inv_close ends it. */
/* Lync's file web service, under the pool's public base URL. */
#define PCHAT_FILE_SERVICE_PATH "/PersistentChat/MGCWebService.asmx"

/* Inside rpl:getftok's data: the token and the web service's address (service_base, the pool's
 * public base URL, followed by PCHAT_FILE_SERVICE_PATH). */
void pchat_xccos_ftok(pchat_buf_t *b, const char *token, const char *service_base);

void pchat_xccos_inv_open(pchat_buf_t *b, const pchat_invitation_t *inv, const char *domain);
void pchat_xccos_inv_close(pchat_buf_t *b);

/* <pref label="L" seqid="N" content="C"/>: a preference bundle. */
void pchat_xccos_pref(pchat_buf_t *b, const char *label, uint64_t seqid, const char *content);

/* ISO 8601 UTC with 7 fractional digits, as the Microsoft server sends it, from a MySQL
 * DATETIME(6) text ("2026-11-24 08:00:00.123456"). out must hold 32 bytes. */
void pchat_xccos_time(const char *mysql_datetime, char *out, size_t outlen);


#endif
