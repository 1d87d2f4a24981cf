/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dprint.h"

#include "pchat_dialog.h"
#include "pchat_end.h"
#include "pchat_limits.h"
#include "pchat_node.h"
#include "pchat_service.h"
#include "pchat_session.h"

/* ------------------------------------------------------------------ a session's end */

void pchat_end_session(pchat_sref_t ref)
{
	char user[PCHAT_USER_MAX], source[PCHAT_SOURCE_MAX];
	pchat_caller_t caller;
	pchat_session_t *s;
	int owner;

	s = pchat_session_get(ref);
	if (!s)
		return;
	owner = pchat_session_begin_end(s);
	memcpy(user, s->user.s, s->user.len + 1);
	pchat_session_unlock(s);
	if (!owner)
		return;
	caller.session = ref;
	caller.user = user;
	pchat_chat_session_end(pchat_service(), &caller);
	s = pchat_session_get(ref);
	if (!s)
		return;
	if (s->bye_on_end && pchat_dialog_bye_locked(s, ref) < 0)
		LM_INFO("chat session %u.%u of %s: the BYE could not be sent\n", ref.slot, ref.gen,
				user);
	pchat_session_free_locked(s, source);
	pchat_limits_close(user, source);
	LM_DBG("chat session %u.%u of %s ended\n", ref.slot, ref.gen, user);
}

/* ------------------------------------------------------------------ policy */

/* The policy rules, read once for a sweep, by principal. */
typedef struct policy_rule {
	char principal[PCHAT_USER_MAX];
	int enabled;
} policy_rule_t;

typedef struct policy_sweep {
	const char *scope;
	policy_rule_t *rules;
	int n;
	int cap;
	int failed;
	int ended;
} policy_sweep_t;

static int keep_rule(void *ctx, const char *principal, int enabled, const char *modified)
{
	policy_sweep_t *sw = ctx;

	(void)modified;
	if (sw->n == sw->cap) {
		int cap = sw->cap ? 2 * sw->cap : 64;
		policy_rule_t *grown = realloc(sw->rules, cap * sizeof(*grown));

		if (!grown) {
			sw->failed = 1;
			return 1;
		}
		sw->rules = grown;
		sw->cap = cap;
	}
	snprintf(sw->rules[sw->n].principal, PCHAT_USER_MAX, "%s", principal);
	sw->rules[sw->n++].enabled = enabled;
	return 0;
}

static int by_principal(const void *a, const void *b)
{
	return strcasecmp(((const policy_rule_t *)a)->principal,
			((const policy_rule_t *)b)->principal);
}

static int rule_of(const policy_sweep_t *sw, const char *principal)
{
	policy_rule_t key, *found;

	snprintf(key.principal, sizeof(key.principal), "%s", principal);
	found = sw->n ? bsearch(&key, sw->rules, sw->n, sizeof(key), by_principal) : NULL;
	return found ? found->enabled : PCHAT_POLICY_UNSET;
}

static int in_scope(const char *scope, const char *user)
{
	if (strcmp(scope, "*") == 0)
		return 1;
	return strchr(scope, '@') ? strcasecmp(scope, user) == 0
							  : strcasecmp(scope, pchat_user_domain(user)) == 0;
}

static void end_if_disabled(pchat_sref_t ref, const char *user, void *ctx)
{
	policy_sweep_t *sw = ctx;

	if (!in_scope(sw->scope, user)
			|| pchat_policy_enabled(rule_of(sw, "*"), rule_of(sw, pchat_user_domain(user)),
					   rule_of(sw, user)))
		return;
	pchat_dialog_request_end(ref, "Persistent Chat is not enabled for its user by policy", 1);
	sw->ended++;
}

void pchat_end_by_policy(const char *scope)
{
	pchat_admin_t a = pchat_proc_admin();
	policy_sweep_t sw = {scope, NULL, 0, 0, 0, 0};

	/* the rules are few: read once, then every session is checked in memory */
	if (pchat_admin_policy_list(&a, keep_rule, &sw) < 0 || sw.failed) {
		LM_ERR("the policy rules cannot be read now (%s); the sessions of %s stay until the "
			   "change is repeated\n", sw.failed ? "out of memory" : a.err, scope);
		free(sw.rules);
		return;
	}
	qsort(sw.rules, sw.n, sizeof(*sw.rules), by_principal);
	pchat_sessions_each(end_if_disabled, &sw);
	if (sw.ended)
		LM_NOTICE("policy for %s changed: %d chat sessions of users it no longer enables "
				  "were ended\n", scope, sw.ended);
	free(sw.rules);
}

/* ------------------------------------------------------------------ the reaper */

static void end_expired(pchat_sref_t ref)
{
	pchat_dialog_request_end(ref,
			"it missed its Session-Expires refresh or was never confirmed by an ACK", 1);
}

/* A 2xx is retransmitted for 64*T1 (32 s) waiting for its ACK (RFC 3261 13.3.1.4). */
#define EARLY_TIMEOUT 32

void pchat_end_expired(unsigned int ticks, void *param)
{
	/* RFC 4028: the refresher sends at the latest min(32, expires / 3) seconds before expiry;
	 * the same margin is granted after it, for the network */
	int grace = pchat_params.session_expires / 3 < 32 ? pchat_params.session_expires / 3 : 32;

	(void)ticks;
	(void)param;
	pchat_sessions_expired(time(NULL), grace, EARLY_TIMEOUT, end_expired);
}
