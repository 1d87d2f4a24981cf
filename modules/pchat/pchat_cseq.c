/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include "pchat_cseq.h"

/* 1 when cseq was carried out; below must already count from high. */
static int was_seen(const pchat_cseq_log_t *l, uint32_t cseq)
{
	return cseq == l->high || (l->below >> (l->high - cseq - 1) & 1);
}

static int answer_slot(const pchat_cseq_log_t *l, uint32_t cseq)
{
	int i;

	for (i = 0; i < PCHAT_CSEQ_ANSWERS; i++)
		if (l->cseq[i] == cseq)
			return i;
	return -1;
}

static void note(pchat_cseq_log_t *l, uint32_t cseq)
{
	uint32_t shift;

	if (l->high == 0) {
		l->below = 0;
		l->high = cseq;
	} else if (cseq > l->high) {
		/* the old high becomes bit shift - 1; what falls past the span is forgotten */
		shift = cseq - l->high;
		if (shift > PCHAT_CSEQ_SPAN)
			l->below = 0;
		else if (shift == PCHAT_CSEQ_SPAN)
			l->below = 1ULL << (PCHAT_CSEQ_SPAN - 1);
		else
			l->below = (l->below << shift) | (1ULL << (shift - 1));
		l->high = cseq;
	} else {
		l->below |= 1ULL << (l->high - cseq - 1);
	}
	l->cseq[l->next] = cseq;
	l->code[l->next] = 0;
	l->next = (uint8_t)((l->next + 1) % PCHAT_CSEQ_ANSWERS);
}

pchat_cseq_verdict_t pchat_cseq_begin(pchat_cseq_log_t *l, uint32_t cseq, int *code)
{
	int slot;

	*code = 0;
	if (l->high != 0 && cseq <= l->high) {
		if (l->high - cseq > PCHAT_CSEQ_SPAN)
			return PCHAT_CSEQ_OLD;
		if (was_seen(l, cseq)) {
			slot = answer_slot(l, cseq);
			if (slot < 0)
				return PCHAT_CSEQ_OLD;
			*code = l->code[slot];
			return PCHAT_CSEQ_REPEAT;
		}
	}
	note(l, cseq);
	return PCHAT_CSEQ_NEW;
}

void pchat_cseq_answered(pchat_cseq_log_t *l, uint32_t cseq, int code)
{
	int slot = answer_slot(l, cseq);

	if (slot >= 0)
		l->code[slot] = (uint16_t)code;
}
