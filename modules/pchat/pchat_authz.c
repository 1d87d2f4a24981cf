/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#include "pchat_authz.h"

static pchat_verdict_t in_scope(int disabled, const pchat_access_t *a)
{
	if (disabled)
		return PCHAT_DENY_DISABLED;
	if (a->denied || !a->allowed)
		return PCHAT_DENY_SCOPE;
	return PCHAT_ALLOW;
}

pchat_verdict_t pchat_may_see(int privacy, int disabled, const pchat_access_t *a)
{
	pchat_verdict_t v = in_scope(disabled, a);

	if (v == PCHAT_ALLOW && privacy == PCHAT_SECRET && !a->roles)
		v = PCHAT_DENY_MEMBERS;
	return v;
}

pchat_verdict_t pchat_may_join(int privacy, int disabled, const pchat_access_t *a)
{
	pchat_verdict_t v = in_scope(disabled, a);

	if (v == PCHAT_ALLOW && privacy != PCHAT_OPEN && !a->roles)
		v = PCHAT_DENY_MEMBERS;
	return v;
}

pchat_verdict_t pchat_may_post(int privacy, int type, int disabled, const pchat_access_t *a)
{
	pchat_verdict_t v = pchat_may_join(privacy, disabled, a);

	if (v == PCHAT_ALLOW && type == PCHAT_AUDITORIUM && !(a->roles & PCHAT_ROLE_PRESENTER))
		v = PCHAT_DENY_PRESENTER;
	return v;
}

int pchat_policy_enabled(int everyone, int domain, int user)
{
	if (user != PCHAT_POLICY_UNSET)
		return user != 0;
	if (domain != PCHAT_POLICY_UNSET)
		return domain != 0;
	return everyone != 0; /* PCHAT_POLICY_UNSET, the default, enables */
}

const char *pchat_verdict_text(pchat_verdict_t v)
{
	switch (v) {
		case PCHAT_ALLOW: return "SUCCESS_OK";
		case PCHAT_DENY_DISABLED: return "the room is disabled";
		case PCHAT_DENY_SCOPE: return "you are not allowed in this room's category";
		case PCHAT_DENY_MEMBERS: return "only members of this room may enter it";
		case PCHAT_DENY_PRESENTER: return "only presenters may post in this auditorium";
	}
	return "not allowed";
}
