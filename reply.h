/* reply.h - the one bounded builder for every line smtpd writes. */
#ifndef SMTPD_REPLY_H
#define SMTPD_REPLY_H

#include <stdarg.h>
#include <stddef.h>

/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets, CRLF included. */
#define REPLY_LINE_MAX 512
/* RFC 5322 2.1.1: a header line is at most 998 octets, CRLF excluded. */
#define HEADER_LINE_MAX 998
/* RFC 1035: a domain name is at most 255 octets. */
#define DOMAIN_MAX 255
/* Longest numeric address we print: IPv6 with a scope id. */
#define ADDR_TEXT_MAX 63
/* How much of a name the Received: header keeps. */
#define HEADER_NAME_MAX 255
/* The mark put before the kept end of a cut name. */
#define CUT_MARK "..."

/* Which bytes a sanitized field may keep. */
enum name_kind {
	NAME_HOST,    /* letters, digits, '-', '.', '_' (SPEC 3) */
	NAME_LITERAL, /* the same and "[]:", for a HELO address literal */
};

/*
 * Copies the first src_len bytes of src into dst (dst_size > 0), replacing
 * every byte that kind does not allow with '_'. When they do not fit in
 * max_len (or dst_size - 1) bytes, keeps CUT_MARK and the right-hand end.
 * Always NUL-terminates. Returns the length written.
 */
size_t name_sanitize(char *dst, size_t dst_size, const char *src,
		     size_t src_len, size_t max_len, enum name_kind kind);

/* True when name is 1 to 255 octets of letters, digits, '-' and '.'. */
int name_is_valid(const char *name);

/*
 * Formats "CODE TEXT\r\n" (or "CODE-TEXT\r\n" when more lines follow) into
 * line, which holds REPLY_LINE_MAX octets. Bytes of the formatted text that
 * are not printable ASCII become '?'; text that does not fit is cut.
 * Returns the line's length, CRLF included.
 */
size_t reply_line(char line[REPLY_LINE_MAX], int code, int more,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
size_t reply_vline(char line[REPLY_LINE_MAX], int code, int more,
		   const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

/*
 * Formats the greeting "CODE-NAME Hello PEER [ADDR]\r\n" (no " [ADDR]"
 * when addr is empty). Only PEER is ever cut, keeping its right-hand end;
 * NAME, " Hello " and " [ADDR]" always stand whole.
 */
size_t reply_hello(char line[REPLY_LINE_MAX], int code, int more,
		   const char *name, const char *peer, const char *addr);

/* What the Received: header says about one message. */
struct received {
	const char *helo;     /* the client's HELO/EHLO argument, raw */
	const char *peer;     /* sanitized peer name, "unknown" when none */
	int peer_confirmed;   /* forward lookup found the address */
	const char *addr;     /* numeric address, "" when none */
	const char *name;     /* this server's name */
	const char *protocol; /* "SMTP" or "ESMTP" */
	const char *date;     /* RFC 5322 date-time */
};

/*
 * Writes the Received: header (RFC 5321 4.4), LF line ends, every line at
 * most HEADER_LINE_MAX octets, into dst. Returns its length, or 0 when it
 * does not fit in dst_size (which a buffer of 2048 octets always avoids).
 */
size_t received_header(char *dst, size_t dst_size, const struct received *r);

/*
 * Copies src into dst for a message on one line: printable ASCII is kept, any
 * other byte becomes '?', and it is cut to dst_size - 1 bytes. Returns dst.
 */
char *log_field(char *dst, size_t dst_size, const char *src);

/*
 * Writes src_len octets of src into dst as one log field that nothing in
 * it can end or imitate: in double quotes, '"' and a backslash escaped with a
 * backslash, every other byte outside printable ASCII as \xHH. When it does not
 * fit in dst_size (at least 8), it is cut after a whole escape and ends in
 * "...". Returns dst.
 */
char *log_quote(char *dst, size_t dst_size, const char *src, size_t src_len);

#endif
