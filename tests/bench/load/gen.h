/*
 * The generator's state: configuration, sessions with their client transactions, and the
 * figures of each step of a run.
 *
 * Copyright (C) 2026 kamailio-pchat authors. GPL-2.0-or-later.
 */
#ifndef GEN_H
#define GEN_H

#include <netinet/in.h>
#include <stdint.h>

#include "load.h"
#include "net.h"

#define MAX_SERVERS 16
#define MAX_SOCKETS 256
#define MAX_STEPS 32
#define TX_MAX 8
#define RETX_LEVELS 4     /* a request is sent at most 1 + RETX_LEVELS times */
#define LOGIN_ROOMS 3     /* login mode: rooms a login joins and reads */

typedef enum run_mode {
	RUN_OPTIONS, RUN_FANOUT, RUN_IMC, RUN_LOGIN, RUN_SESSIONS, RUN_QUERY, RUN_SOAK, RUN_RECONNECT
} run_mode_t;

/* Modes whose sessions log in fully (getserverinfo, bjoin, a backchat of each room). */
#define FULL_LOGIN(mode) ((mode) == RUN_LOGIN || (mode) == RUN_RECONNECT)

typedef struct conf {
	run_mode_t mode;
	struct sockaddr_in servers[MAX_SERVERS];
	int nservers;
	const char *domain;        /* of the users and of the chat service */
	const char *pool_uri;      /* the chat service (pchat) */
	int sockets;               /* UDP sockets the sessions share */
	int rooms, members;        /* fanout, imc: rooms and sessions per room; soak: rooms */
	char **guids;              /* fanout, soak: a GUID per room; login: LOGIN_ROOMS GUIDs */
	int nguids;
	double rates[MAX_STEPS];   /* offered rate of each step (posts/s, logins/s, requests/s) */
	int nrates;
	double step_s, drain_s, max_p99_ms;
	int sessions;              /* login (per step: rate x step_s), sessions, query, soak */
	double login_rate;         /* sessions/s while the sessions log in */
	double hold_s;             /* sessions: how long the sessions are kept */
	double pause_s;            /* posts: a pause before the first step and after the last */
	double duration_s;         /* query, soak */
	char **queries;            /* query: "command<TAB>data" */
	int nqueries;
	const char *expect;        /* query: a reply must hold this expect_count times */
	int expect_count;
	int listen_port;           /* imc: where the deliveries arrive */
	int *room_members;         /* soak: sessions of each room (from --guids) */
	double *room_rates;        /* soak: posts/s of each room (from --guids) */
	double churn_rate;         /* soak: joins/s by the churners */
	double stay_s;             /* soak: how long a churner stays in a room */
	double refresh_s;          /* soak: every session refreshes (UPDATE) this often */
	struct sockaddr_in again;  /* reconnect: where the sessions log in again (a front end) */
	int window;                /* reconnect: logins in progress at once */
} conf_t;

typedef enum tx_kind {
	TX_INVITE, TX_CMD, TX_POST, TX_BYE, TX_MESSAGE, TX_OPTIONS, TX_REFRESH
} tx_kind_t;

/* A request of ours waiting for its final response (retransmitted over UDP until then). */
typedef struct tx {
	uint32_t cseq;
	uint8_t kind;
	uint8_t level;      /* retransmissions so far */
	uint16_t step;      /* posts: the step it belongs to */
	double sent;
	char *msg;
	int len;
} tx_t;

typedef enum sess_state {
	S_NEW,
	S_INVITING,
	S_LOGGING_IN,  /* commands of the login sequence (join, or the login mode's five) */
	S_READY,
	S_HANGING_UP,
	S_GONE,
	S_FAILED
} sess_state_t;

/* soak: where a churner is in its cycle (its session stays S_READY throughout). */
typedef enum churn_phase {
	CH_IDLE,       /* in no room */
	CH_JOINING,    /* its join is out */
	CH_IN,         /* in its room until due */
	CH_OWED,       /* its stay is over: waits until due for the posts it is owed */
	CH_PARTING     /* its part is out */
} churn_phase_t;

typedef struct session {
	uint32_t idx;
	uint16_t sock;
	uint16_t server;
	uint8_t state;
	uint8_t login_step;
	uint8_t ntx;
	uint8_t busy;          /* query: a request is out */
	uint8_t churn;         /* soak churners: churn_phase_t */
	uint32_t cseq;
	int room;              /* fanout, imc, soak: the session's room (a churner's: -1 in none) */
	int prev_room;         /* soak churners: the room parted last (its late deliveries) */
	int64_t last_k;        /* soak churners: the post it got last in this stay, -1 none */
	int64_t owed_from;     /* soak churners: posts from this number on are owed to it, */
	int64_t owed_until;    /* up to this one, fixed when its stay ends */
	double due;            /* soak churners: when its stay or its wait ends */
	int step;              /* login, reconnect: the step its login counts in, -1 none */
	uint8_t attempts;      /* reconnect: logins tried */
	double retry_at;       /* reconnect: when a failed login is tried again */
	char rtag[48];
	char target[96];
	char *route;           /* the dialog's route set (a front end's Record-Route), or NULL */
	uint64_t envid;
	uint64_t cmd_envid;    /* the command whose reply is awaited */
	double cmd_sent;
	double login_started;
	uint32_t seen_hi;      /* highest CSeq of the server's requests, and the 64 below it */
	uint64_t seen_bits;
	uint32_t *got;         /* by post number: 0 not delivered, else the delivery's tag */
	uint32_t got_cap;
	uint32_t pos;          /* how far into its room's order the session has got */
	tx_t tx[TX_MAX];
} session_t;

typedef struct step_stats {
	double offered;
	double started, ended;        /* the sending window */
	uint64_t sent, acked, failed; /* posts, logins, requests */
	uint64_t deliveries, duplicates, wrong, misordered;
	uint64_t expected;            /* soak: deliveries owed by acked posts (rooms differ) */
	histo_t lat;                  /* delivery, login, request or answer latency */
	histo_t ack;                  /* posts: time to the 200 of the post */
} step_stats_t;

/* A room's order: the posts in the order its first recipients got them. Every other
 * recipient must get them in that same order (the room's order, which the server sets when it
 * stores a post; posts in flight together may be stored in either order). */
typedef struct room_order {
	int64_t *k;
	size_t len, cap;
} room_order_t;

typedef struct retx_entry {
	uint32_t sess;
	uint32_t cseq;
	double due;
} retx_entry_t;

typedef struct retx_queue {
	retx_entry_t *e;
	size_t head, tail, cap;
} retx_queue_t;

/* soak: what the churners did and met. */
typedef struct churn_stats {
	uint64_t joins, parts, failed;  /* failed: join or part answered other than 200, or not */
	uint64_t starved;               /* joins due when no churner was free */
	uint64_t deliveries, duplicates, misordered, wrong;
	uint64_t lost;                  /* owed posts that had not come when a churner parted */
	uint64_t late;                  /* posts of the room parted last, arriving after the part */
} churn_stats_t;

typedef struct gen {
	conf_t c;
	unsigned run;                  /* in Call-IDs: runs never mix */
	int fds[MAX_SOCKETS + 1];
	int ports[MAX_SOCKETS + 1];
	int nfds;
	int listen;                    /* imc: index of the delivery socket, -1 otherwise */
	net_loop_t *loop;
	session_t *s;
	int ns;
	retx_queue_t retx[RETX_LEVELS + 1];
	step_stats_t steps[MAX_STEPS];
	int nsteps;
	int cur;                       /* the step being sent, -1 outside */
	int64_t *room_k;               /* next post number of each room */
	int *room_first;               /* soak: where each room's members start in room_member */
	int *room_member;              /* soak: the sessions of each room, room after room */
	int first_churner;             /* soak: sessions from here on are churners */
	churn_stats_t churn;
	room_order_t *order;           /* each room's order as delivered */
	double *post_last;             /* one room: time to the last delivery of post k (ms) */
	size_t post_last_cap;
	double *opt_sent;              /* options: when request n left */
	size_t opt_n, opt_cap;
	uint64_t send_errors, retransmitted, timeouts, server_retransmissions, malformed;
	uint64_t logged_in, login_failed;
	uint64_t server_byes;          /* sessions the server ended */
	uint64_t refreshes, refresh_failed;
	uint64_t query_errors;
	uint64_t refused_503, refused_other; /* final responses >= 300 to our requests */
	double last_request;           /* when the servers last sent us a request */
	double last_login;             /* when a session last finished logging in */
	int back;                      /* reconnect: sessions logged in again at the end */
} gen_t;

double now_s(void);

/* main.c: the loop the modes share */
void gen_poll(gen_t *g, int timeout_ms);
long gen_due(double start, double rate, uint64_t sent);
int gen_stopping(void);
void gen_die(const char *what);

/* session.c: the SIP and XCCOS side of a session */
int gen_sessions_init(gen_t *g, int n);
void gen_start_session(gen_t *g, session_t *s);
/* Forgets the session's dialog (its server died), so it can log in again as a new one. */
void gen_forget_session(gen_t *g, session_t *s);
void gen_hang_up(gen_t *g, session_t *s);
void gen_post(gen_t *g, session_t *s, int64_t k, int step);
void gen_send_query(gen_t *g, session_t *s);
void gen_send_options(gen_t *g);
void gen_on_datagram(void *ctx, int sock, const struct sockaddr_in *from, char *buf, int len);
void gen_retransmit(gen_t *g, double now);
void gen_join(gen_t *g, session_t *s);
void gen_part(gen_t *g, session_t *s);
void gen_refresh(gen_t *g, session_t *s);
uint32_t *gen_got_slot(session_t *s, int64_t k);
int gen_follow_room_order(gen_t *g, session_t *s, int64_t k);

/* soak.c: the steady mixed load of the soak test */
void soak_read_rooms(conf_t *c);
int soak_place_sessions(gen_t *g);
void soak_tick(gen_t *g);
void soak_finish(gen_t *g);
void soak_churn_answer(gen_t *g, session_t *s, int code);
void soak_churn_delivery(gen_t *g, session_t *s, int room, int64_t k, uint32_t tag);
int soak_passed(const gen_t *g);
void soak_report(const gen_t *g, json_t *j);

#endif
