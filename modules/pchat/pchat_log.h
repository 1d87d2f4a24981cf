/*
 * Logging for the parts of pchat that do not include Kamailio headers (wire format, chat logic,
 * MySQL and Redis clients), so they can be unit-tested and fuzzed alone. Inside Kamailio the module
 * installs a sink that forwards to Kamailio's logging (LM_ERR & co.); elsewhere messages go to stderr.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_LOG_H
#define PCHAT_LOG_H

#include <stdarg.h>

enum pchat_log_level {
	PCHAT_LOG_ERR,
	PCHAT_LOG_WARN,
	PCHAT_LOG_INFO,
	PCHAT_LOG_DBG,
};

/* Receives every message; returns quickly when the level is not printed. */
typedef void (*pchat_log_sink_f)(enum pchat_log_level level, const char *func,
		const char *fmt, va_list ap);

void pchat_log_set_sink(pchat_log_sink_f sink);

void pchat_log(enum pchat_log_level level, const char *func, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

#define PLOG_ERR(...) pchat_log(PCHAT_LOG_ERR, __func__, __VA_ARGS__)
#define PLOG_WARN(...) pchat_log(PCHAT_LOG_WARN, __func__, __VA_ARGS__)
#define PLOG_INFO(...) pchat_log(PCHAT_LOG_INFO, __func__, __VA_ARGS__)
#define PLOG_DBG(...) pchat_log(PCHAT_LOG_DBG, __func__, __VA_ARGS__)

#endif
