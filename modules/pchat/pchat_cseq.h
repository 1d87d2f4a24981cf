/*
 * The requests of a session already carried out, by CSeq: what keeps a late retransmission
 * from posting twice.
 *
 * tm absorbs a retransmitted request while its transaction lives, which is wt_timer (5 s) after
 * the answer; a client over UDP retransmits a request whose answer it lost for up to 32 s
 * (RFC 3261 Timer F). A retransmission after wt_timer would be a new request to tm, and a post
 * would be stored a second time. So each session remembers the CSeqs of its client's requests
 * it has carried out (the last PCHAT_CSEQ_SPAN numbers) and the answers of the last
 * PCHAT_CSEQ_ANSWERS: a repeat gets its first answer again and is not carried out. Requests of
 * one client may arrive out of CSeq order (UDP, several in flight), so a CSeq below the highest
 * seen is new unless it was seen.
 *
 * Plain C without Kamailio headers: the caller keeps the log in the session, under its lock.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_CSEQ_H
#define PCHAT_CSEQ_H

#include <stdint.h>

#define PCHAT_CSEQ_SPAN 64   /* CSeqs below the highest that are told apart */
#define PCHAT_CSEQ_ANSWERS 8 /* answers kept, of the requests carried out last */

typedef struct pchat_cseq_log {
	uint32_t high;  /* the highest CSeq carried out (0: none yet) */
	uint64_t below; /* bit i: CSeq high - 1 - i was carried out */
	uint32_t cseq[PCHAT_CSEQ_ANSWERS];
	uint16_t code[PCHAT_CSEQ_ANSWERS]; /* 0: carried out, not answered yet */
	uint8_t next;                      /* the slot the next answer takes */
} pchat_cseq_log_t;

typedef enum pchat_cseq_verdict {
	PCHAT_CSEQ_NEW,    /* carry it out (it is now noted as begun) */
	PCHAT_CSEQ_REPEAT, /* carried out already: answer *code again (0 = still running) */
	PCHAT_CSEQ_OLD,    /* too old to tell, or carried out and its answer forgotten: the
						* request is out of order (RFC 3261 12.2.2: 500) */
} pchat_cseq_verdict_t;

/* Looks a request's CSeq up; a new one is noted as begun (its answer slot is taken, code 0). */
pchat_cseq_verdict_t pchat_cseq_begin(pchat_cseq_log_t *l, uint32_t cseq, int *code);

/* Notes the answer of a request begun with pchat_cseq_begin (a no-op when its slot was since
 * taken by later requests). */
void pchat_cseq_answered(pchat_cseq_log_t *l, uint32_t cseq, int code);

#endif
