/*
 * ftp.h - the FTP protocol core: control-channel bytes in, decisions out.
 *
 * Pure code: no I/O, no clock, no globals, no allocation. The packet path
 * (one instance per TCP control connection) and the TLS proxy both drive a
 * struct ftp_sess with the bytes of each direction as they arrive, in any
 * chunking, and act on the events it returns.
 *
 * The core never holds a whole line. It parses each line as a stream and,
 * when the line ends, reports what to do with it as an edit of the byte
 * stream: "replace the bytes [edit_start, edit_start + edit_len) of this
 * direction with out[0..out_len)". Stream offsets count every byte ever fed
 * in that direction from 0 (the packet path maps them to TCP sequence
 * numbers). An edit always lies inside its line, so a caller that still has
 * the line's bytes (one segment, or held and coalesced segments) can apply it.
 *
 * Ownership: the caller allocates struct ftp_sess (sizeof is public so it
 * can be embedded in a session slot) and struct ftp_event; the policy is
 * referenced, not copied, and must outlive the session (swap the pointer
 * with ftp_sess_set_policy() on reload).
 */
#ifndef FTPGW_FTP_H
#define FTPGW_FTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FTP_LINE_MIN 64        /* smallest max_line accepted */
#define FTP_LINE_MAX 65535     /* largest max_line accepted */
#define FTP_LINE_DEFAULT 1024  /* default max_line (RFC 959 needs far less) */
#define FTP_OUT_MAX 96         /* longest replacement text an event carries */
#define FTP_ARG_MAX 96         /* longest address argument or tuple parsed */
#define FTP_LOWPORT_EXC_MAX 8  /* low-port exceptions in a policy */

enum ftp_dir {
	FTP_DIR_CLIENT = 0,    /* client -> server: commands */
	FTP_DIR_SERVER = 1,    /* server -> client: replies */
};

/* An IP address. family 4: a[0..3]; family 6: a[0..15]; 0: none. */
struct ftp_addr {
	uint8_t family;
	uint8_t a[16];
};

/*
 * The control connection's endpoints, each seen from both sides of the
 * gateway. "priv" is the address on the endpoint's own side (what it
 * binds to and announces), "pub" what the other side sees. Without NAT
 * priv and pub are equal. All four must have the control connection's
 * family.
 *   client behind PAT:   client_priv 192.168.1.10  client_pub 203.0.113.1
 *   server behind DNAT:  server_priv 10.0.0.5      server_pub 203.0.113.1
 */
struct ftp_endpoints {
	struct ftp_addr client_priv, client_pub;
	struct ftp_addr server_priv, server_pub;
};

/* What to do with a line the policy refuses. */
enum ftp_action {
	FTP_ACT_PASS = 0,      /* let it through unchanged (no data channel) */
	FTP_ACT_REJECT,        /* replace it so the peer sees an error */
	FTP_ACT_RESET,         /* the caller resets the control connection */
};

struct ftp_portrange {
	uint16_t lo, hi;       /* inclusive, 1 <= lo <= hi */
};

/*
 * Policy. Every field has a safe default (ftp_policy_default); every
 * field can be set by name with ftp_policy_set(), which the config file
 * and tools use, so the names below are the option names.
 */
struct ftp_policy {
	uint32_t max_line;           /* max-line: 64..65535, default 1024 */
	bool allow_fxp;              /* allow-fxp: PORT/EPRT may name a host
	                                other than the client (default no) */
	bool allow_foreign_pasv;     /* allow-foreign-pasv: 227/228 may name a
	                                host other than the server (default no) */
	bool allow_low_ports;        /* allow-low-ports: data ports < 1024
	                                (default no) */
	uint16_t low_port_exc[FTP_LOWPORT_EXC_MAX]; /* low-port-exceptions */
	uint8_t n_low_port_exc;
	struct ftp_portrange active_ports;  /* active-ports: PORT/EPRT ports
	                                       (default 1-65535) */
	struct ftp_portrange passive_ports; /* passive-ports: 227/228/229 ports
	                                       (default 1-65535) */
	bool allow_lprt;             /* allow-lprt: LPRT/LPSV/228 (default no) */
	bool require_greeting;       /* require-greeting: address commands only
	                                after the server's 220 and only if the
	                                client did not speak first (default yes) */
	uint8_t on_violation;        /* on-violation: reject|reset (default
	                                reject) */
	uint8_t on_malformed;        /* on-malformed: pass|reject|reset (default
	                                reject) */
	uint8_t on_overlong;         /* on-overlong: pass|reset (default pass) */
};

void ftp_policy_default(struct ftp_policy *p);

/*
 * Set one policy option from text, e.g. ("passive-ports", "30000-30100").
 * Returns 0, or -1 with a message in err (always NUL-terminated).
 */
int ftp_policy_set(struct ftp_policy *p, const char *key, const char *value,
                   char *err, size_t errlen);

/* Write "key=value" lines for every option into buf; returns the length
 * that a large enough buffer would need (like snprintf). */
size_t ftp_policy_format(const struct ftp_policy *p, char *buf, size_t len);

/* Commands the core knows. */
enum ftp_cmd {
	FTP_CMD_NONE = 0,    /* not a command (a reply, or nothing yet) */
	FTP_CMD_OTHER,       /* a command the core does not track */
	FTP_CMD_PORT, FTP_CMD_EPRT, FTP_CMD_LPRT,
	FTP_CMD_PASV, FTP_CMD_EPSV, FTP_CMD_LPSV,
	FTP_CMD_AUTH, FTP_CMD_PBSZ, FTP_CMD_PROT, FTP_CMD_CCC,
	FTP_CMD_REIN, FTP_CMD_QUIT, FTP_CMD_USER, FTP_CMD_PASS,
	FTP_CMD_ABOR,
	FTP_CMD__COUNT
};
const char *ftp_cmd_str(enum ftp_cmd c);

enum ftp_verdict {
	FTP_V_PASS = 0,      /* forward unchanged */
	FTP_V_REWRITE,       /* apply the edit */
	FTP_V_REJECT,        /* apply the edit (it turns the line into an
	                        error); the policy refused the line */
	FTP_V_RESET,         /* reset the control connection */
};
const char *ftp_verdict_str(enum ftp_verdict v);

/* Why. Each is a counter in the daemon; FTP_R_NONE means nothing to say. */
enum ftp_reason {
	FTP_R_NONE = 0,
	FTP_R_MALFORMED,     /* an address argument or reply did not parse */
	FTP_R_OVERLONG,      /* a line longer than max-line */
	FTP_R_BOUNCE,        /* PORT/EPRT names a host other than the client */
	FTP_R_FOREIGN_PASV,  /* 227/228 names a host other than the server */
	FTP_R_LOW_PORT,      /* data port below 1024 */
	FTP_R_PORT_RANGE,    /* data port outside the allowed range */
	FTP_R_PORT_ZERO,     /* data port 0 */
	FTP_R_BAD_ADDR,      /* unspecified, multicast, broadcast, loopback,
	                        mapped or link-local address not the peer's */
	FTP_R_FAMILY,        /* address family differs from the control
	                        connection's, or unknown EPRT protocol */
	FTP_R_LPRT,          /* LPRT/LPSV/228 while allow-lprt is off */
	FTP_R_UNSOLICITED,   /* 227/228/229 not answering PASV/LPSV/EPSV */
	FTP_R_NO_GREETING,   /* address command before the 220 greeting, or
	                        in a session whose client spoke first */
	FTP_R_EPSV_ALL,      /* PORT/EPRT/LPRT/227/228 after EPSV ALL */
	FTP_R_BAD_REPLY,     /* a server line that is not a reply (passed) */
	FTP_R_TLS,           /* AUTH accepted (234) or implicit TLS: the
	                        session is no longer inspected (passed) */
	FTP_R_TLS_END,       /* plaintext again after CCC (passed) */
	FTP_R_PINHOLE,       /* the data connection could not be opened
	                        (set by the caller, ftp_event_refuse) */
	FTP_R__COUNT
};
const char *ftp_reason_str(enum ftp_reason r);

enum ftp_data_mode {
	FTP_DATA_NONE = 0,
	FTP_DATA_ACTIVE,     /* PORT/EPRT/LPRT: the server connects to the client */
	FTP_DATA_PASSIVE,    /* 227/228/229: the client connects to the server */
};

/*
 * The data connection the gateway should admit. The listener is the
 * client (active) or the server (passive); it really listens on
 * listen_addr:listen_port, and the connecting side was told (after the
 * rewrite) pub_addr:pub_port. The connecting side is the other endpoint of
 * the control connection (see struct ftp_endpoints).
 */
struct ftp_data {
	uint8_t mode;                /* enum ftp_data_mode */
	struct ftp_addr listen_addr;
	uint16_t listen_port;
	struct ftp_addr pub_addr;
	uint16_t pub_port;
};

/* How an address is written, so it can be written again the same way. */
enum ftp_style {
	FTP_STYLE_NONE = 0,
	FTP_STYLE_TUPLE,     /* h1,h2,h3,h4,p1,p2 (PORT, 227) */
	FTP_STYLE_EXT,       /* <d>proto<d>addr<d>port<d> (EPRT) */
	FTP_STYLE_EXTPORT,   /* the port of <d><d><d>port<d> (229) */
	FTP_STYLE_LONG,      /* af,hal,h...,pal,p... (LPRT, 228) */
};

/* event flags */
#define FTP_EVF_MULTILINE  0x01u /* the line is part of a multi-line reply */
#define FTP_EVF_FINAL      0x02u /* the last line of a reply */
#define FTP_EVF_PARTIAL    0x04u /* reported before the line ended (overlong):
                                    line_len is what was seen so far */
#define FTP_EVF_SECRET     0x08u /* the line carries a secret (PASS): never
                                    log its bytes */
#define FTP_EVF_ENCRYPTED  0x10u /* from here on the direction is TLS */

struct ftp_event {
	uint8_t dir;                 /* enum ftp_dir */
	uint8_t verdict;             /* enum ftp_verdict */
	uint8_t reason;              /* enum ftp_reason */
	uint8_t cmd;                 /* enum ftp_cmd (client lines) */
	uint16_t code;               /* reply code (server lines), 0 if none */
	uint8_t flags;               /* FTP_EVF_* */
	uint64_t line_start;         /* stream offset of the line's first byte */
	uint64_t line_len;           /* raw length including the line end */
	/* The edit, valid for FTP_V_REWRITE and FTP_V_REJECT. */
	uint64_t edit_start;
	uint32_t edit_len;
	uint16_t out_len;
	char out[FTP_OUT_MAX];       /* not NUL-terminated */
	/* The data connection to admit, if data.mode != FTP_DATA_NONE. */
	struct ftp_data data;
	/* private: how to re-render for ftp_event_remap() and
	 * ftp_event_refuse() */
	uint8_t style;
	uint8_t delim;
	uint8_t ref_kind;
	uint32_t ref_len;
	uint64_t ref_start;
};

/* session flags for ftp_sess_init */
#define FTP_SESS_MIDSTREAM  0x01u /* picked up mid-connection (e.g. after a
                                     restart): no greeting expected, replies
                                     need not match a seen command until the
                                     first full command/reply exchange */
#define FTP_SESS_REPORT_ALL 0x02u /* an event for every line (tools, tests) */

#define FTP_PIPELINE 16          /* outstanding commands tracked */

/* Per-direction parse state. Private: use the functions. */
struct ftp_dirstate {
	uint64_t off;                /* bytes consumed so far */
	uint64_t line_start;
	uint64_t tok_start;          /* stream offset of tok[0] */
	uint64_t verb_start;
	uint32_t line_len;           /* saturating */
	uint8_t mode;                /* line / skip / TLS record walking */
	uint8_t phase;
	uint8_t iac;                 /* telnet state */
	uint8_t flags;
	uint8_t tok_len;
	uint8_t aux;                 /* phase-specific small state */
	uint16_t code;               /* reply code of this line */
	uint16_t tls_need;           /* TLS record bytes left to skip */
	uint8_t cmd;                 /* client: this line's command */
	uint8_t tls_hdr[5];
	uint8_t tls_hdr_len;
	char tok[FTP_ARG_MAX];       /* verb, argument or candidate tuple */
};

struct ftp_sess {
	const struct ftp_policy *pol;
	struct ftp_endpoints ep;
	struct ftp_dirstate d[2];
	uint8_t pending[FTP_PIPELINE]; /* commands awaiting a final reply */
	uint8_t pend_head, pend_n;
	uint16_t pend_lost;          /* untracked commands queued after them */
	uint8_t flags;               /* FTP_SESS_* and internal state bits */
	uint8_t state;               /* internal: greeting, lenient, epsv all,
	                                tls, client spoke first */
	uint16_t ml_code;            /* open multi-line reply's code, or 0 */
	uint8_t ml_found;            /* address already seen in that reply */
	uint8_t prot;                /* last PROT level ('C','S','E','P') */
	/* the address found in the reply being read */
	uint8_t rep_found, rep_len, rep_delim;
	uint16_t rep_port;
	uint64_t rep_start;
	struct ftp_addr rep_addr;
};

/* Set up a session; ep is copied. */
void ftp_sess_init(struct ftp_sess *s, const struct ftp_policy *pol,
                   const struct ftp_endpoints *ep, unsigned flags);
void ftp_sess_set_policy(struct ftp_sess *s, const struct ftp_policy *pol);

/*
 * Feed bytes of one direction. Consumes input up to and including the
 * first byte that completes an event, stores the count in *used, and
 * returns 1 with *ev filled; or consumes all input and returns 0 (more
 * bytes needed). Call again with the rest. Never fails; every input,
 * however hostile, has a defined outcome.
 */
int ftp_feed(struct ftp_sess *s, enum ftp_dir dir, const uint8_t *buf,
             size_t len, size_t *used, struct ftp_event *ev);

/*
 * Change the port the connecting side is told (the caller allocated a
 * public port) and re-render the edit. Only for FTP_V_REWRITE or an
 * unrewritten FTP_V_PASS event with a data connection. Returns 0, or -1
 * if the event has no address to rewrite.
 */
int ftp_event_remap(struct ftp_event *ev, uint16_t pub_port);

/*
 * Turn an accepted address event into a refusal after the fact (the
 * caller could not open its data connection): the edit becomes the same
 * error a policy refusal makes, reason r, no data connection. Returns 0,
 * or -1 if the event is not an address line.
 */
int ftp_event_refuse(struct ftp_event *ev, enum ftp_reason r);

/*
 * Is the current line of dir unfinished, and could it still need an edit?
 * Returns 0 at a line boundary (or while TLS), 1 mid-line in a line that
 * will not be edited, 2 mid-line in a line that may be. *line_start gets
 * the stream offset where the unfinished line began.
 */
int ftp_partial(const struct ftp_sess *s, enum ftp_dir dir,
                uint64_t *line_start);

bool ftp_sess_encrypted(const struct ftp_sess *s);

/*
 * Address argument parsers and formatters, exposed for tests, fuzzers and
 * the tools. Parsers take text without the line end and return 0 or -1.
 * Formatters return the length written (no NUL) or -1 if it does not fit.
 */
int ftp_parse_tuple(const char *s, size_t n, struct ftp_addr *a,
                    uint16_t *port);
int ftp_parse_ext(const char *s, size_t n, struct ftp_addr *a,
                  uint16_t *port, char *delim);
int ftp_parse_extport(const char *s, size_t n, uint16_t *port, char *delim);
int ftp_parse_long(const char *s, size_t n, struct ftp_addr *a,
                   uint16_t *port);
int ftp_format_tuple(char *out, size_t len, const struct ftp_addr *a,
                     uint16_t port);
int ftp_format_ext(char *out, size_t len, const struct ftp_addr *a,
                   uint16_t port, char delim);
int ftp_format_long(char *out, size_t len, const struct ftp_addr *a,
                    uint16_t port);

/* Text form of an address (inet_ntop-like); returns out. */
const char *ftp_addr_str(const struct ftp_addr *a, char *out, size_t len);
/* Parse a textual IPv4/IPv6 address; 0 or -1. */
int ftp_addr_parse(struct ftp_addr *a, const char *s);
bool ftp_addr_eq(const struct ftp_addr *x, const struct ftp_addr *y);

#endif
