/*
 * pchat-load: a SIP load generator for the kamailio-pchat benchmarks. One process, one epoll
 * loop, UDP. It logs XCCOS sessions in, joins rooms, posts at a set rate, answers every INFO the
 * server sends (retransmissions recognised, not counted twice) and times every delivery; it also
 * speaks Kamailio imc (MESSAGE) and plain OPTIONS, so the anchors run through the same code.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef LOAD_H
#define LOAD_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ SIP messages (sip.c) */

#define SIP_MAX_VIA 8
#define SIP_MAX_RR 4

/* A parsed SIP message; every pointer points into the received datagram. */
typedef struct sip_msg {
	int is_request;
	int status;                  /* responses */
	const char *method;          /* requests */
	int method_len;
	const char *ruri;
	int ruri_len;
	const char *call_id;
	int call_id_len;
	uint32_t cseq;
	const char *cseq_method;
	int cseq_method_len;
	const char *to_tag;
	int to_tag_len;
	const char *from_tag;
	int from_tag_len;
	const char *contact;         /* the URI inside <> */
	int contact_len;
	const char *via[SIP_MAX_VIA], *from, *to, *cseq_line, *call_id_line;
	int via_len[SIP_MAX_VIA], from_len, to_len, cseq_line_len, call_id_line_len, nvia;
	const char *rr[SIP_MAX_RR];  /* Record-Route values, as they came */
	int rr_len[SIP_MAX_RR], nrr;
	const char *body;
	int body_len;
} sip_msg_t;

/* 0 when buf holds a SIP message with the headers the generator needs. */
int sip_parse(const char *buf, int len, sip_msg_t *m);

/* Writes the response with status to request m (its Via, From, To, Call-ID and CSeq echoed, a
 * To tag added when missing); returns its length, 0 when it does not fit. */
int sip_response(const sip_msg_t *m, int status, const char *to_tag, char *out, int size);

/* Finds needle (of length n) in hay (of length len); NULL when absent. */
const char *mem_find(const char *hay, int len, const char *needle, int n);

/* The value of attribute name="..." after p in [p, end); 0 when found. */
int xml_attr(const char *p, const char *end, const char *name, const char **val, int *len);

/* ------------------------------------------------------------------ figures (stats.c) */

/* Latencies in 50 µs buckets up to 20 s (beyond: the last bucket). */
#define HISTO_BUCKETS 400000

typedef struct histo {
	uint32_t *b;
	uint64_t n;
	double max_ms;
} histo_t;

int histo_init(histo_t *h);
void histo_free(histo_t *h);
void histo_add(histo_t *h, double ms);
double histo_pct(const histo_t *h, double pct);

/* A JSON object written to a buffer; append only. */
typedef struct json {
	char *s;
	size_t len, cap;
	int need_comma;
} json_t;

void json_open(json_t *j, const char *key);   /* key NULL inside arrays / at top */
void json_close(json_t *j);
void json_array(json_t *j, const char *key);
void json_array_end(json_t *j);
void json_num(json_t *j, const char *key, double v);
void json_int(json_t *j, const char *key, long long v);
void json_str(json_t *j, const char *key, const char *v);
void json_bool(json_t *j, const char *key, int v);
void json_latency(json_t *j, const char *key, const histo_t *h);

#endif
