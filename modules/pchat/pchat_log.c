/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>

#include "pchat_log.h"

static void stderr_sink(enum pchat_log_level level, const char *func, const char *fmt, va_list ap)
{
	static const char *names[] = {"ERROR", "WARNING", "INFO", "DEBUG"};

	if (level == PCHAT_LOG_DBG)
		return;
	fprintf(stderr, "pchat %s: %s(): ", names[level], func);
	vfprintf(stderr, fmt, ap);
}

static pchat_log_sink_f log_sink = stderr_sink;

void pchat_log_set_sink(pchat_log_sink_f sink)
{
	log_sink = sink ? sink : stderr_sink;
}

void pchat_log(enum pchat_log_level level, const char *func, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_sink(level, func, fmt, ap);
	va_end(ap);
}
