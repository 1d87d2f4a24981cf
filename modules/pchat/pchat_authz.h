/*
 * Who may see, join, read and post in a room: Lync Persistent Chat's rules, in one place.
 *
 *   - a disabled room: nobody;
 *   - a user denied by the room's category: nobody (denied beats allowed: ethical walls);
 *   - a user outside the category's allowed members: nobody;
 *   - open rooms: every user in the category's scope may find, join, read and post;
 *   - closed rooms: everyone in scope finds them; members, managers and presenters join;
 *   - secret rooms: only members, managers and presenters find and join them;
 *   - auditorium rooms: only presenters post.
 * A principal is a user (sip:user@host) or a whole domain (host); a user holds every role given
 * to the user or to the user's domain.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef PCHAT_AUTHZ_H
#define PCHAT_AUTHZ_H

#include "pchat_model.h"

typedef enum pchat_verdict {
	PCHAT_ALLOW = 0,
	PCHAT_DENY_DISABLED,  /* the room is disabled */
	PCHAT_DENY_SCOPE,     /* outside the category's scope, or denied by it */
	PCHAT_DENY_MEMBERS,   /* a closed or secret room, and the user holds no role in it */
	PCHAT_DENY_PRESENTER, /* an auditorium, and the user is no presenter */
} pchat_verdict_t;

/* Room facts the rules need (pchat_privacy_t / pchat_room_type_t values). */
pchat_verdict_t pchat_may_see(int privacy, int disabled, const pchat_access_t *a);
pchat_verdict_t pchat_may_join(int privacy, int disabled, const pchat_access_t *a);
pchat_verdict_t pchat_may_post(int privacy, int type, int disabled, const pchat_access_t *a);

/* Persistent Chat policy (Lync: "any user enabled in the policy by an administrator can use
 * Persistent Chat"): rules for everyone, for the user's domain and for the user, each
 * PCHAT_POLICY_UNSET, 0 (disabled) or 1 (enabled). The most specific rule that is set wins;
 * without any, the user is enabled. */
#define PCHAT_POLICY_UNSET (-1)
int pchat_policy_enabled(int everyone, int domain, int user);

/* The readable reason of a refusal, shown by clients (stable texts, see the module docs). */
const char *pchat_verdict_text(pchat_verdict_t v);

#endif
