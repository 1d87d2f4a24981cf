/*
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 *
 * sipe-driver: drives one pidgin-sipe (prpl-sipe) account headless, so that
 * tests can talk to the chat server through a real Lync-family client.
 *
 *   sipe-driver --server 127.0.0.1:5060 --user alice@pchat.test
 *               [--pool sip:pchat@pchat.test] [--timeout 60] [--seed N] [--debug]
 *               [--tls-peer SERVER.pem]
 *
 * --pool overrides the chat pool URI that in-band provisioning would give
 * (sipe's "groupchat_user" account option). --seed fixes the sequence sipe
 * draws Call-IDs, tags and envids from (see start_purple()). --debug copies
 * libpurple's debug log, SIP traffic included, to stderr. --tls-peer connects
 * over TLS instead of TCP and trusts the server certificate in that PEM file
 * (the lab's) for the --server host, as if the user had accepted it once:
 * libpurple 2.14 reads CAs only from system folders (/etc/ssl/certs), but
 * keeps accepted server certificates in certificates/x509/tls_peers/<host>.
 *
 * Commands arrive on stdin, one per line. A room is a bare word or a
 * "double-quoted string" (\" and \\ inside); it names a joined or listed
 * room by its name, or is a ma-chan:// URI.
 *
 *   login              sign on
 *   list               list rooms; waits for the group chat session to come up
 *   join ROOM          join a room (by name only after a list)
 *   send ROOM TEXT     post TEXT, the rest of the line; \n is a line break, \\ a backslash
 *   leave ROOM         leave a room
 *   quit               sign off and exit 0 (so does end of input)
 *
 * Events go to stdout, one JSON object per line, flushed at once. Every
 * command ends with exactly one of these (carrying "command" when an error):
 *
 *   login -> {"event":"signed-on"}         list  -> {"event":"list-done","count":N}
 *   join  -> {"event":"joined",...}        send  -> {"event":"sent","room":..,"uri":..}
 *   leave -> {"event":"left",...}          any   -> {"event":"error","command":..,"text":..}
 *
 * Other events:
 *   {"event":"ready","user":..,"sipe":<plugin version>}   once, at start
 *   {"event":"room","name":..,"uri":..,"users":N,"invite":B,"private":B,"logged":B,
 *    "description":..}                                     one per room of a list
 *   {"event":"joined","room":..,"uri":..}                  also for joins sipe makes itself
 *   {"event":"topic","room":..,"uri":..,"topic":..}
 *   {"event":"buddy-joined","room":..,"uri":..,"who":..,"new":B}   new=false: was already there
 *   {"event":"buddy-left","room":..,"uri":..,"who":..}
 *   {"event":"message","room":..,"uri":..,"who":..,"text":..,"time":EPOCH}
 *       live posts, one's own echoed posts and backchat alike; text is plain text
 *   {"event":"info","room":..,"uri":..,"text":..}          status line written into a room
 *   {"event":"error","room":..,"uri":..,"text":..}         error written into a room
 *                                                          (e.g. "message not delivered")
 *   {"event":"notify","type":"error"|"warning"|"info","title":..,"text":..}   dialog
 *   {"event":"disconnected","text":..}                     connection lost after sign-on
 *   {"event":"signed-off"}
 *
 * A command that does not complete within --timeout seconds (default 60)
 * emits its error event and makes the program exit with status 2; setup
 * errors exit with status 1.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include <purple.h>

#define UI_ID "sipe-driver"
/* Never used unless the server challenges; an empty one makes libpurple ask a UI. */
#define PASSWORD "unused"
/* Conversation data key under which the room's ma-chan URI is kept. */
#define URI_KEY "sipe-driver-uri"
/* How often "list" asks again while sipe's group chat session is not up. */
#define LIST_RETRY_MS 250

static struct {
	gchar *server;
	gchar *user;
	gchar *pool;
	gchar *tls_peer;
	gint timeout;
	gint seed;
	gboolean debug;
} opt = { .timeout = 60 };

/* A command waiting for libpurple to complete it. */
struct pending {
	const char *command;
	gchar *room;		/* join: the room as given */
	gchar *uri;		/* join: its URI */
	guint timer;
};

static FILE *events;
static GMainLoop *loop;
static int exit_status;
static PurpleAccount *account;
static GHashTable *listed;	/* room name -> URI, from the last list */
static GQueue pending = G_QUEUE_INIT;
static PurpleRoomlist *roomlist;	/* of the list in progress */
static guint list_retry;
static guint list_count;
static gboolean online;		/* signed on and not yet disconnected */

/* ---- JSON events --------------------------------------------------- */

static GString *event_new(const char *name)
{
	GString *ev = g_string_new("{\"event\":\"");

	g_string_append(ev, name);
	g_string_append_c(ev, '"');
	return ev;
}

static void json_string(GString *ev, const char *s)
{
	gchar *valid = g_utf8_make_valid(s, -1);
	const unsigned char *p;

	g_string_append_c(ev, '"');
	for (p = (const unsigned char *)valid; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(ev, "\\%c", *p);
		else if (*p == '\n')
			g_string_append(ev, "\\n");
		else if (*p == '\r')
			g_string_append(ev, "\\r");
		else if (*p == '\t')
			g_string_append(ev, "\\t");
		else if (*p < 0x20)
			g_string_append_printf(ev, "\\u%04x", *p);
		else
			g_string_append_c(ev, *p);
	}
	g_string_append_c(ev, '"');
	g_free(valid);
}

static void event_str(GString *ev, const char *key, const char *value)
{
	g_string_append_printf(ev, ",\"%s\":", key);
	if (value)
		json_string(ev, value);
	else
		g_string_append(ev, "null");
}

static void event_int(GString *ev, const char *key, gint64 value)
{
	g_string_append_printf(ev, ",\"%s\":%" G_GINT64_FORMAT, key, value);
}

static void event_bool(GString *ev, const char *key, gboolean value)
{
	g_string_append_printf(ev, ",\"%s\":%s", key, value ? "true" : "false");
}

static void event_emit(GString *ev)
{
	g_string_append(ev, "}\n");
	/* A reader that went away is as good as end of input. */
	if (fputs(ev->str, events) < 0 || fflush(events) != 0)
		g_main_loop_quit(loop);
	g_string_free(ev, TRUE);
}

static void emit_error(const char *command, const char *room, const char *text)
{
	GString *ev = event_new("error");

	event_str(ev, "command", command);
	if (room)
		event_str(ev, "room", room);
	event_str(ev, "text", text);
	event_emit(ev);
}

static const char *conv_uri(PurpleConversation *conv)
{
	return purple_conversation_get_data(conv, URI_KEY);
}

static GString *room_event(const char *name, PurpleConversation *conv)
{
	GString *ev = event_new(name);

	event_str(ev, "room", purple_conversation_get_name(conv));
	event_str(ev, "uri", conv_uri(conv));
	return ev;
}

/* ---- commands that wait for completion ----------------------------- */

static gboolean pending_expired(gpointer data)
{
	struct pending *p = data;
	gchar *text = g_strdup_printf("no answer within %d seconds", opt.timeout);

	emit_error(p->command, p->room, text);
	g_free(text);
	p->timer = 0;
	exit_status = 2;
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

static void pending_add(const char *command, const char *room, const char *uri)
{
	struct pending *p = g_new0(struct pending, 1);

	p->command = command;
	p->room = g_strdup(room);
	p->uri = g_strdup(uri);
	p->timer = g_timeout_add_seconds(opt.timeout, pending_expired, p);
	g_queue_push_tail(&pending, p);
}

/* The oldest pending COMMAND (for room URI, if given). */
static struct pending *pending_find(const char *command, const char *uri)
{
	GList *l;

	for (l = pending.head; l; l = l->next) {
		struct pending *p = l->data;

		if (strcmp(p->command, command) == 0 &&
		    (uri == NULL || g_strcmp0(p->uri, uri) == 0))
			return p;
	}
	return NULL;
}

static void pending_free(struct pending *p)
{
	g_queue_remove(&pending, p);
	if (p->timer)
		g_source_remove(p->timer);
	g_free(p->room);
	g_free(p->uri);
	g_free(p);
}

/* Ends the oldest pending COMMAND with an error. */
static gboolean pending_fail(const char *command, const char *text)
{
	struct pending *p = pending_find(command, NULL);

	if (p == NULL)
		return FALSE;
	emit_error(command, p->room, text);
	pending_free(p);
	return TRUE;
}

/* ---- glib main loop for libpurple (as in libpurple's nullclient) --- */

#define READ_COND  (G_IO_IN | G_IO_HUP | G_IO_ERR)
#define WRITE_COND (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL)

struct io_closure {
	PurpleInputFunction function;
	gpointer data;
};

static gboolean io_invoke(GIOChannel *source, GIOCondition condition, gpointer data)
{
	struct io_closure *closure = data;
	int cond = 0;

	if (condition & READ_COND)
		cond |= PURPLE_INPUT_READ;
	if (condition & WRITE_COND)
		cond |= PURPLE_INPUT_WRITE;
	closure->function(closure->data, g_io_channel_unix_get_fd(source), cond);
	return TRUE;
}

static guint io_add(gint fd, PurpleInputCondition condition,
		    PurpleInputFunction function, gpointer data)
{
	struct io_closure *closure = g_new0(struct io_closure, 1);
	GIOChannel *channel = g_io_channel_unix_new(fd);
	int cond = 0;
	guint id;

	closure->function = function;
	closure->data = data;
	if (condition & PURPLE_INPUT_READ)
		cond |= READ_COND;
	if (condition & PURPLE_INPUT_WRITE)
		cond |= WRITE_COND;
	id = g_io_add_watch_full(channel, G_PRIORITY_DEFAULT, cond, io_invoke,
				 closure, g_free);
	g_io_channel_unref(channel);
	return id;
}

static PurpleEventLoopUiOps eventloop_ops = {
	.timeout_add = g_timeout_add,
	.timeout_remove = g_source_remove,
	.input_add = io_add,
	.input_remove = g_source_remove,
	.timeout_add_seconds = g_timeout_add_seconds,
};

/* ---- libpurple UI operations ---------------------------------------- */

/*
 * Runs before the network subsystem starts: with its defaults it would
 * search for UPnP routers and ask them for our public address, i.e. send
 * traffic to somewhere other than the server under test. Set, not just
 * added, since a system-wide prefs.xml may already have been read.
 */
static void ui_prefs_init(void)
{
	purple_prefs_add_none("/purple/network");
	purple_prefs_set_bool("/purple/network/map_ports", FALSE);
	purple_prefs_set_bool("/purple/network/auto_ip", FALSE);
	purple_prefs_add_none("/purple/logging");
	purple_prefs_set_bool("/purple/logging/log_chats", FALSE);
	purple_prefs_set_bool("/purple/logging/log_ims", FALSE);
	purple_prefs_set_bool("/purple/logging/log_system", FALSE);
}

static PurpleCoreUiOps core_ops = {
	.ui_prefs_init = ui_prefs_init,
};

static void debug_print(PurpleDebugLevel level, const char *category, const char *arg)
{
	(void)level;
	fprintf(stderr, "%s: %s", category ? category : "-", arg);
}

static gboolean debug_enabled(PurpleDebugLevel level, const char *category)
{
	(void)level;
	(void)category;
	return opt.debug;
}

static PurpleDebugUiOps debug_ops = {
	.print = debug_print,
	.is_enabled = debug_enabled,
};

static const char *notify_type(PurpleNotifyMsgType type)
{
	switch (type) {
	case PURPLE_NOTIFY_MSG_ERROR:
		return "error";
	case PURPLE_NOTIFY_MSG_WARNING:
		return "warning";
	default:
		return "info";
	}
}

/*
 * sipe reports a refused join or room list only as an error dialog; its
 * title tells which command failed (libpurple runs in the C locale here).
 */
static void *notify_message(PurpleNotifyMsgType type, const char *title,
			    const char *primary, const char *secondary)
{
	GString *ev = event_new("notify");

	(void)title;
	event_str(ev, "type", notify_type(type));
	event_str(ev, "title", primary);
	event_str(ev, "text", secondary);
	event_emit(ev);

	if (type != PURPLE_NOTIFY_MSG_ERROR || primary == NULL)
		return NULL;
	if (strcmp(primary, "Error joining chat room") == 0)
		pending_fail("join", secondary ? secondary : primary);
	else if (strcmp(primary, "Error retrieving room list") == 0)
		pending_fail("list", secondary ? secondary : primary);
	return NULL;
}

static PurpleNotifyUiOps notify_ops = {
	.notify_message = notify_message,
};

/*
 * HTML to plain text. sipe leaves the CR LF line breaks of a post as they
 * are inside the HTML, where stripping would turn them into blanks.
 */
static gchar *html_to_text(const char *html)
{
	GString *marked = g_string_new(NULL);
	gchar *text;
	const char *p;

	for (p = html; *p; p++) {
		if (*p == '\n')
			g_string_append(marked, "<br>");
		else if (!(p[0] == '\r' && p[1] == '\n'))
			g_string_append_c(marked, *p);
	}
	text = purple_markup_strip_html(marked->str);
	g_string_free(marked, TRUE);
	return text;
}

/*
 * Everything shown in a room passes here: live posts, the server's echo
 * of our own posts, backchat history and sipe's status and error lines.
 * Only this path carries the message time.
 */
static void write_conv(PurpleConversation *conv, const char *who, const char *alias,
		       const char *message, PurpleMessageFlags flags, time_t mtime)
{
	gchar *text = html_to_text(message);
	GString *ev;

	(void)alias;
	if (purple_conversation_get_type(conv) != PURPLE_CONV_TYPE_CHAT) {
		g_free(text);
		return;
	}
	if (flags & PURPLE_MESSAGE_ERROR) {
		ev = room_event("error", conv);
	} else if (flags & (PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_NOTIFY)) {
		ev = room_event("info", conv);
	} else {
		ev = room_event("message", conv);
		event_str(ev, "who", who);
	}
	event_str(ev, "text", text);
	if (!(flags & (PURPLE_MESSAGE_ERROR | PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_NOTIFY)))
		event_int(ev, "time", (gint64)mtime);
	event_emit(ev);
	g_free(text);
}

static PurpleConversationUiOps conv_ops = {
	.write_conv = write_conv,
};

static void list_finish(void)
{
	struct pending *p = pending_find("list", NULL);
	GString *ev;

	if (list_retry)
		g_source_remove(list_retry);
	list_retry = 0;
	if (roomlist)
		purple_roomlist_unref(roomlist);
	roomlist = NULL;

	if (p == NULL)
		return;		/* already failed */
	pending_free(p);
	ev = event_new("list-done");
	event_int(ev, "count", list_count);
	event_emit(ev);
}

static void roomlist_add(PurpleRoomlist *list, PurpleRoomlistRoom *room)
{
	GList *field = purple_roomlist_get_fields(list);
	GList *value = purple_roomlist_room_get_fields(room);
	const char *name = purple_roomlist_room_get_name(room);
	GString *ev;

	if (list != roomlist)
		return;
	ev = event_new("room");
	event_str(ev, "name", name);
	/* sipe names its fields uri, users, invite, private, logged, description. */
	for (; field && value; field = field->next, value = value->next) {
		PurpleRoomlistField *f = field->data;

		switch (purple_roomlist_field_get_type(f)) {
		case PURPLE_ROOMLIST_FIELD_STRING:
			event_str(ev, f->name, value->data);
			break;
		case PURPLE_ROOMLIST_FIELD_INT:
			event_int(ev, f->name, GPOINTER_TO_INT(value->data));
			break;
		case PURPLE_ROOMLIST_FIELD_BOOL:
			event_bool(ev, f->name, value->data != NULL);
			break;
		}
		if (strcmp(f->name, "uri") == 0 && value->data)
			g_hash_table_replace(listed, g_strdup(name), g_strdup(value->data));
	}
	list_count++;
	event_emit(ev);
}

static void roomlist_in_progress(PurpleRoomlist *list, gboolean flag)
{
	if (!flag && list == roomlist)
		list_finish();
}

static PurpleRoomlistUiOps roomlist_ops = {
	.add_room = roomlist_add,
	.in_progress = roomlist_in_progress,
};

/* ---- signals -------------------------------------------------------- */

static void on_signed_on(PurpleConnection *gc)
{
	struct pending *p = pending_find("login", NULL);

	(void)gc;
	if (p)
		pending_free(p);
	online = TRUE;
	event_emit(event_new("signed-on"));
}

static void on_signed_off(PurpleConnection *gc)
{
	(void)gc;
	online = FALSE;
	event_emit(event_new("signed-off"));
}

/* sipe may report one lost connection twice (read error, then write error). */
static void on_connection_error(PurpleConnection *gc, PurpleConnectionError err,
				const char *desc)
{
	GString *ev;

	(void)gc;
	(void)err;
	if (pending_fail("login", desc) || !online)
		return;
	online = FALSE;
	ev = event_new("disconnected");
	event_str(ev, "text", desc);
	event_emit(ev);
}

/*
 * libpurple tells only the room's name; its URI comes from the last room
 * list, else from the oldest join still waiting (sipe answers in order).
 */
static void on_chat_joined(PurpleConversation *conv)
{
	const char *uri = g_hash_table_lookup(listed, purple_conversation_get_name(conv));
	struct pending *p = pending_find("join", uri);

	if (p == NULL && uri == NULL)
		p = pending_find("join", NULL);
	if (uri == NULL && p != NULL)
		uri = p->uri;
	/* Interned: the conversation may outlive any string we could free. */
	purple_conversation_set_data(conv, URI_KEY, (gpointer)g_intern_string(uri));
	if (p)
		pending_free(p);
	event_emit(room_event("joined", conv));
}

static void on_chat_left(PurpleConversation *conv)
{
	event_emit(room_event("left", conv));
}

static void on_buddy_joined(PurpleConversation *conv, const char *name,
			    PurpleConvChatBuddyFlags flags, gboolean new_arrival)
{
	GString *ev = room_event("buddy-joined", conv);

	(void)flags;
	event_str(ev, "who", name);
	event_bool(ev, "new", new_arrival);
	event_emit(ev);
}

static void on_buddy_left(PurpleConversation *conv, const char *name, const char *reason)
{
	GString *ev = room_event("buddy-left", conv);

	(void)reason;
	event_str(ev, "who", name);
	event_emit(ev);
}

static void on_topic_changed(PurpleConversation *conv, const char *who, const char *topic)
{
	GString *ev = room_event("topic", conv);

	(void)who;
	event_str(ev, "topic", topic);
	event_emit(ev);
}

static void connect_signals(void)
{
	static int handle;
	void *conn = purple_connections_get_handle();
	void *convs = purple_conversations_get_handle();

	purple_signal_connect(conn, "signed-on", &handle, PURPLE_CALLBACK(on_signed_on), NULL);
	purple_signal_connect(conn, "signed-off", &handle, PURPLE_CALLBACK(on_signed_off), NULL);
	purple_signal_connect(conn, "connection-error", &handle,
			      PURPLE_CALLBACK(on_connection_error), NULL);
	purple_signal_connect(convs, "chat-joined", &handle, PURPLE_CALLBACK(on_chat_joined), NULL);
	purple_signal_connect(convs, "chat-left", &handle, PURPLE_CALLBACK(on_chat_left), NULL);
	purple_signal_connect(convs, "chat-buddy-joined", &handle,
			      PURPLE_CALLBACK(on_buddy_joined), NULL);
	purple_signal_connect(convs, "chat-buddy-left", &handle,
			      PURPLE_CALLBACK(on_buddy_left), NULL);
	purple_signal_connect(convs, "chat-topic-changed", &handle,
			      PURPLE_CALLBACK(on_topic_changed), NULL);
}

/* ---- command parsing ------------------------------------------------ */

/* Cuts the next bare word or "quoted string" off *rest; NULL if none. */
static gchar *next_word(char **rest)
{
	GString *word = g_string_new(NULL);
	char *p = *rest;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			g_string_append_c(word, *p);
		}
		if (*p == '"')
			p++;
	} else {
		while (*p && *p != ' ' && *p != '\t')
			g_string_append_c(word, *p++);
	}
	while (*p == ' ' || *p == '\t')
		p++;
	*rest = p;
	if (word->len == 0) {
		g_string_free(word, TRUE);
		return NULL;
	}
	return g_string_free(word, FALSE);
}

/* Command-line text to the HTML libpurple hands to sipe: escaped, <br> per line break. */
static gchar *text_to_html(const char *text)
{
	GString *html = g_string_new(NULL);
	const char *p;

	for (p = text; *p; p++) {
		if (p[0] == '\\' && p[1] == 'n') {
			g_string_append(html, "<br>");
			p++;
		} else if (p[0] == '\\' && p[1] == '\\') {
			g_string_append_c(html, '\\');
			p++;
		} else if (*p == '<') {
			g_string_append(html, "&lt;");
		} else if (*p == '>') {
			g_string_append(html, "&gt;");
		} else if (*p == '&') {
			g_string_append(html, "&amp;");
		} else if (*p == '"') {
			g_string_append(html, "&quot;");
		} else {
			g_string_append_c(html, *p);
		}
	}
	return g_string_free(html, FALSE);
}

static PurpleConnection *connection(void)
{
	PurpleConnection *gc = purple_account_get_connection(account);

	if (gc == NULL || purple_connection_get_state(gc) != PURPLE_CONNECTED)
		return NULL;
	return gc;
}

/* A joined room by name or URI; libpurple keeps rooms we lost with the connection. */
static PurpleConversation *find_room(const char *room)
{
	GList *l;

	for (l = purple_get_chats(); l; l = l->next) {
		PurpleConversation *conv = l->data;

		if (purple_conv_chat_has_left(PURPLE_CONV_CHAT(conv)))
			continue;
		if (g_strcmp0(purple_conversation_get_name(conv), room) == 0 ||
		    g_strcmp0(conv_uri(conv), room) == 0)
			return conv;
	}
	return NULL;
}

/* ---- commands ------------------------------------------------------- */

static void cmd_login(char *args)
{
	(void)args;
	if (purple_account_is_connected(account) || purple_account_is_connecting(account)) {
		emit_error("login", NULL, "already signed on or signing on");
		return;
	}
	pending_add("login", NULL, NULL);
	purple_account_set_enabled(account, UI_ID, TRUE);
	if (!purple_account_is_connecting(account))
		purple_account_connect(account);
}

/*
 * sipe refuses a room list until its group chat session is up, which
 * happens some time after sign-on; ask again until then.
 */
static gboolean list_request(gpointer data)
{
	PurpleConnection *gc = connection();

	(void)data;
	if (gc == NULL) {
		list_retry = 0;
		pending_fail("list", "not signed on");
		return G_SOURCE_REMOVE;
	}
	roomlist = purple_roomlist_get_list(gc);
	if (roomlist == NULL)
		return G_SOURCE_CONTINUE;
	purple_roomlist_ref(roomlist);
	list_retry = 0;
	return G_SOURCE_REMOVE;
}

static void cmd_list(char *args)
{
	(void)args;
	if (connection() == NULL) {
		emit_error("list", NULL, "not signed on");
		return;
	}
	if (pending_find("list", NULL)) {
		emit_error("list", NULL, "a list is already in progress");
		return;
	}
	list_count = 0;
	pending_add("list", NULL, NULL);
	if (list_request(NULL))
		list_retry = g_timeout_add(LIST_RETRY_MS, list_request, NULL);
}

static void cmd_join(char *args)
{
	gchar *room = next_word(&args);
	const char *uri;
	PurpleConnection *gc = connection();
	GHashTable *components;

	if (room == NULL) {
		emit_error("join", NULL, "usage: join ROOM");
		return;
	}
	uri = g_str_has_prefix(room, "ma-chan://") ? room : g_hash_table_lookup(listed, room);
	if (gc == NULL)
		emit_error("join", room, "not signed on");
	else if (uri == NULL)
		emit_error("join", room, "unknown room: give its ma-chan:// URI or list first");
	else if (find_room(uri) || find_room(room))
		emit_error("join", room, "already in this room");
	else {
		pending_add("join", room, uri);
		/* The component sipe's chat_info() asks for. */
		components = g_hash_table_new(g_str_hash, g_str_equal);
		g_hash_table_insert(components, "uri", (gpointer)uri);
		serv_join_chat(gc, components);
		g_hash_table_destroy(components);
	}
	g_free(room);
}

static void cmd_send(char *args)
{
	gchar *room = next_word(&args);
	PurpleConversation *conv = room ? find_room(room) : NULL;
	gchar *html;

	if (room == NULL || *args == '\0')
		emit_error("send", room, "usage: send ROOM TEXT");
	else if (conv == NULL)
		emit_error("send", room, "not in this room");
	else {
		html = text_to_html(args);
		purple_conv_chat_send(PURPLE_CONV_CHAT(conv), html);
		g_free(html);
		event_emit(room_event("sent", conv));
	}
	g_free(room);
}

/* Closing the conversation is how Pidgin leaves: libpurple sends the part. */
static void cmd_leave(char *args)
{
	gchar *room = next_word(&args);
	PurpleConversation *conv = room ? find_room(room) : NULL;

	if (room == NULL)
		emit_error("leave", NULL, "usage: leave ROOM");
	else if (conv == NULL)
		emit_error("leave", room, "not in this room");
	else
		purple_conversation_destroy(conv);
	g_free(room);
}

static void cmd_quit(char *args)
{
	(void)args;
	g_main_loop_quit(loop);
}

static const struct command {
	const char *name;
	void (*run)(char *args);
} commands[] = {
	{ "login", cmd_login },
	{ "list", cmd_list },
	{ "join", cmd_join },
	{ "send", cmd_send },
	{ "leave", cmd_leave },
	{ "quit", cmd_quit },
	{ NULL, NULL }
};

static void run_command(char *line)
{
	gchar *name = next_word(&line);
	const struct command *c;

	if (name == NULL)
		return;
	for (c = commands; c->name; c++) {
		if (strcmp(c->name, name) == 0) {
			c->run(line);
			break;
		}
	}
	if (c->name == NULL)
		emit_error(name, NULL, "unknown command");
	g_free(name);
}

static gboolean stdin_ready(GIOChannel *channel, GIOCondition condition, gpointer data)
{
	gchar *line;
	gsize len;
	GIOStatus status;

	(void)condition;
	(void)data;
	while ((status = g_io_channel_read_line(channel, &line, &len, NULL, NULL)) ==
	       G_IO_STATUS_NORMAL) {
		line[strcspn(line, "\r\n")] = '\0';
		run_command(line);
		g_free(line);
	}
	if (status == G_IO_STATUS_AGAIN)
		return G_SOURCE_CONTINUE;
	/* End of input (or a read error) means the test is done with us. */
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

static void watch_stdin(void)
{
	GIOChannel *channel = g_io_channel_unix_new(STDIN_FILENO);

	g_io_channel_set_flags(channel, G_IO_FLAG_NONBLOCK, NULL);
	g_io_add_watch(channel, G_IO_IN | G_IO_HUP | G_IO_ERR, stdin_ready, NULL);
	g_io_channel_unref(channel);
}

static gboolean on_signal(gpointer data)
{
	(void)data;
	g_main_loop_quit(loop);
	return G_SOURCE_CONTINUE;
}

/* ---- setup ---------------------------------------------------------- */

static gboolean parse_options(int argc, char **argv)
{
	GOptionEntry entries[] = {
		{ "server", 0, 0, G_OPTION_ARG_STRING, &opt.server, "SIP server", "HOST:PORT" },
		{ "user", 0, 0, G_OPTION_ARG_STRING, &opt.user, "SIP user", "USER@DOMAIN" },
		{ "pool", 0, 0, G_OPTION_ARG_STRING, &opt.pool, "chat pool URI", "sip:USER@DOMAIN" },
		{ "timeout", 0, 0, G_OPTION_ARG_INT, &opt.timeout,
		  "seconds a command may take (default 60)", "SECONDS" },
		{ "seed", 0, 0, G_OPTION_ARG_INT, &opt.seed,
		  "seed for sipe's Call-IDs and tags (default: per process)", "N" },
		{ "debug", 0, 0, G_OPTION_ARG_NONE, &opt.debug, "libpurple debug log to stderr", NULL },
		{ "tls-peer", 0, 0, G_OPTION_ARG_FILENAME, &opt.tls_peer,
		  "connect over TLS, trusting this server certificate (PEM)", "FILE" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL }
	};
	GOptionContext *context = g_option_context_new("- drive one pidgin-sipe account");
	GError *error = NULL;
	gboolean ok;

	g_option_context_add_main_entries(context, entries, NULL);
	ok = g_option_context_parse(context, &argc, &argv, &error);
	if (!ok) {
		fprintf(stderr, "sipe-driver: %s\n", error->message);
		g_error_free(error);
	} else if (opt.server == NULL || opt.user == NULL || opt.timeout <= 0) {
		fprintf(stderr, "sipe-driver: --server and --user are required, --timeout > 0\n");
		ok = FALSE;
	}
	g_option_context_free(context);
	return ok;
}

static PurpleAccount *create_account(void)
{
	PurpleAccount *acc = purple_account_new(opt.user, "prpl-sipe");

	purple_account_set_password(acc, PASSWORD);
	/* An empty server would mean Lync autodiscovery over DNS and HTTP. */
	purple_account_set_string(acc, "server", opt.server);
	purple_account_set_string(acc, "transport", opt.tls_peer ? "tls" : "tcp");
	purple_account_set_bool(acc, "dont-publish", TRUE);
	/* sipe wants user@domain here; with "sip:" it would invite sip:sip:... */
	if (opt.pool)
		purple_account_set_string(acc, "groupchat_user",
					  g_str_has_prefix(opt.pool, "sip:") ? opt.pool + 4 : opt.pool);
	purple_accounts_add(acc);
	return acc;
}

/* Puts the certificate of --tls-peer where libpurple keeps the server certificates its user
 * accepted, under the host of --server. */
static gboolean trust_peer(const char *home)
{
	gchar *host = g_strndup(opt.server, strcspn(opt.server, ":"));
	gchar *dir = g_build_filename(home, "certificates", "x509", "tls_peers", NULL);
	gchar *dest = g_build_filename(dir, host, NULL);
	gchar *pem = NULL;
	GError *error = NULL;
	gboolean ok = g_mkdir_with_parents(dir, 0700) == 0 &&
		g_file_get_contents(opt.tls_peer, &pem, NULL, &error) &&
		g_file_set_contents(dest, pem, -1, &error);

	if (!ok)
		emit_error("start", NULL, error ? error->message : "cannot create the tls_peers folder");
	if (error)
		g_error_free(error);
	g_free(pem);
	g_free(dest);
	g_free(dir);
	g_free(host);
	return ok;
}

static gboolean start_purple(const char *home)
{
	PurplePlugin *sipe;
	GString *ev;

	if (opt.tls_peer && !trust_peer(home))
		return FALSE;
	purple_util_set_user_dir(home);
	purple_debug_set_ui_ops(&debug_ops);
	purple_core_set_ui_ops(&core_ops);
	purple_eventloop_set_ui_ops(&eventloop_ops);
	purple_notify_set_ui_ops(&notify_ops);
	purple_conversations_set_ui_ops(&conv_ops);
	purple_roomlist_set_ui_ops(&roomlist_ops);
	if (!purple_core_init(UI_ID)) {
		emit_error("start", NULL, "libpurple failed to start");
		return FALSE;
	}
	purple_set_blist(purple_blist_new());
	purple_blist_load();

	sipe = purple_find_prpl("prpl-sipe");
	if (sipe == NULL) {
		emit_error("start", NULL, "prpl-sipe not found: is pidgin-sipe installed?");
		return FALSE;
	}
	/*
	 * sipe seeded rand() with time(NULL) when it was loaded and draws its
	 * Call-IDs, tags, branches and envids from it, so drivers started in
	 * the same second would all send the same ones. Give each process its
	 * own sequence; the same --seed in two drivers brings the clash back.
	 */
	srand(opt.seed ? (unsigned)opt.seed : (unsigned)(g_get_real_time() ^ getpid()));
	connect_signals();
	account = create_account();

	ev = event_new("ready");
	event_str(ev, "user", opt.user);
	event_str(ev, "sipe", sipe->info->version);
	event_emit(ev);
	return TRUE;
}

static void remove_tree(const char *path)
{
	struct stat st;
	GDir *dir;
	const char *name;

	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && (dir = g_dir_open(path, 0, NULL))) {
		while ((name = g_dir_read_name(dir)) != NULL) {
			gchar *child = g_build_filename(path, name, NULL);

			remove_tree(child);
			g_free(child);
		}
		g_dir_close(dir);
	}
	g_remove(path);
}

int main(int argc, char **argv)
{
	GError *error = NULL;
	gchar *home;

	/*
	 * stdout carries only our events: keep a private handle on it and send
	 * whatever libraries print there to stderr instead.
	 */
	events = fdopen(dup(STDOUT_FILENO), "w");
	if (events == NULL || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		perror("sipe-driver");
		return 1;
	}
	if (!parse_options(argc, argv))
		return 1;

	home = g_dir_make_tmp("sipe-driver-XXXXXX", &error);
	if (home == NULL) {
		emit_error("start", NULL, error->message);
		g_error_free(error);
		return 1;
	}
	loop = g_main_loop_new(NULL, FALSE);
	listed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	/* Like Pidgin: a closed socket or pipe must not kill us before cleanup. */
	signal(SIGPIPE, SIG_IGN);
	g_unix_signal_add(SIGINT, on_signal, NULL);
	g_unix_signal_add(SIGTERM, on_signal, NULL);

	if (start_purple(home)) {
		watch_stdin();
		g_main_loop_run(loop);
		purple_account_set_enabled(account, UI_ID, FALSE);
	} else {
		exit_status = 1;
	}
	purple_core_quit();
	remove_tree(home);
	g_free(home);
	return exit_status;
}
