/*
 * check.h - what every fuzz target asserts about smtpd's output, and the
 * reference readers the targets hold smtpd's own against. A reference is
 * written from the RFC, not from smtpd.c: it may be slow and plain, and it
 * shares no code with what it checks.
 */
#ifndef SMTPD_FUZZ_CHECK_H
#define SMTPD_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__,     \
				#cond);                                        \
			abort();                                               \
		}                                                              \
	} while (0)

/* Replies: every line "DDD[ -]" + printable ASCII + CRLF, at most 512
 * octets with its CRLF, and nothing after the last line end. */
static inline void check_reply_stream(const char *p, size_t n)
{
	while (n > 0) {
		const char *lf = memchr(p, '\n', n);
		size_t len, i;

		FUZZ_ASSERT(lf != NULL);
		len = (size_t)(lf - p) + 1;
		FUZZ_ASSERT(len >= 6 && len <= 512);
		FUZZ_ASSERT(p[len - 2] == '\r');
		FUZZ_ASSERT(p[0] >= '2' && p[0] <= '5');
		FUZZ_ASSERT(p[1] >= '0' && p[1] <= '9');
		FUZZ_ASSERT(p[2] >= '0' && p[2] <= '9');
		FUZZ_ASSERT(p[3] == ' ' || p[3] == '-');
		for (i = 4; i < len - 2; i++)
			FUZZ_ASSERT(p[i] >= 0x20 && p[i] < 0x7f);
		p += len;
		n -= len;
	}
}

/*
 * The reference UTF-8 reader: decodes each sequence to its code point and
 * then judges it (RFC 3629 section 3): the lead octet's high bits give the
 * length, every other octet is 10xxxxxx, and the value must need that
 * length (no overlong form), be no surrogate (U+D800..U+DFFF) and be at
 * most U+10FFFF. smtpd's own rule on top: no C1 control (U+0080..U+009F).
 */
static inline int ref_utf8_valid(const unsigned char *p, size_t n)
{
	static const unsigned long least[5] = {0, 0, 0x80, 0x800, 0x10000};
	size_t i = 0;

	while (i < n) {
		unsigned char lead = p[i];
		unsigned long cp;
		size_t len, k;

		if ((lead & 0x80) == 0) {
			len = 1;
			cp = lead;
		} else if ((lead & 0xe0) == 0xc0) {
			len = 2;
			cp = lead & 0x1fu;
		} else if ((lead & 0xf0) == 0xe0) {
			len = 3;
			cp = lead & 0x0fu;
		} else if ((lead & 0xf8) == 0xf0) {
			len = 4;
			cp = lead & 0x07u;
		} else {
			return 0; /* 10xxxxxx, or a 5- or 6-octet lead */
		}
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3fu);
		}
		if (cp < least[len] || (cp >= 0xd800 && cp <= 0xdfff) ||
		    cp > 0x10ffff || (cp >= 0x80 && cp <= 0x9f))
			return 0;
		i += len;
	}
	return 1;
}

/*
 * The reference message reader (RFC 5321 4.5.2 and 2.3.8, RFC 3030): what
 * a message of these octets is, read in one piece. DATA: the data ends at
 * the first line that is "." alone (a line starts at the start of the data
 * or after CR LF, never after a bare CR or LF), and a leading dot of any
 * other line is dropped. BDAT: the octets are all message, dots included.
 * Either way a CR LF is one line end (kept as LF, counted as 2 octets);
 * a CR not before an LF, an LF not after a CR, and a NUL make the message
 * bad; other octets are kept and count 1.
 */
enum ref_tail {
	REF_BOL,    /* at the start of a line */
	REF_TEXT,   /* inside a line */
	REF_CR,	    /* the last octet was a CR whose LF may still come */
	REF_DOT,    /* DATA: "." at the start of a line */
	REF_DOT_CR, /* DATA: ".CR" at the start of a line */
	REF_ENDED,  /* DATA: the end of the data was read */
};

struct ref_message {
	enum ref_tail tail;
	size_t wire; /* octets read: through the end of the data, else all */
	int bare_cr, bare_lf, nul;
	unsigned long long size; /* octets counted against -s */
	size_t kept;		 /* octets of the message with LF line ends */
};

/* Reads p[0..n); the kept message goes to out (n octets are enough). */
static inline void ref_message(const unsigned char *p, size_t n, int bdat,
			       struct ref_message *r, char *out)
{
	size_t i = 0;
	int bol = 1;

	memset(r, 0, sizeof(*r));
	r->tail = REF_TEXT;
	while (i < n) {
		unsigned char c = p[i];

		if (!bdat && bol && c == '.') {
			size_t left = n - i;

			if (left >= 3 && p[i + 1] == '\r' && p[i + 2] == '\n') {
				r->tail = REF_ENDED;
				r->wire = i + 3;
				return;
			}
			if (left == 1 || (left == 2 && p[i + 1] == '\r')) {
				r->tail = left == 1 ? REF_DOT : REF_DOT_CR;
				r->wire = n;
				return;
			}
			i++; /* the stuffed dot */
			bol = 0;
			continue;
		}
		bol = 0;
		if (c == '\r' && i + 1 == n) {
			r->tail = REF_CR;
			r->wire = n;
			return;
		}
		if (c == '\r' && p[i + 1] == '\n') {
			out[r->kept++] = '\n';
			r->size += 2;
			i += 2;
			bol = 1;
			continue;
		}
		if (c == '\r') {
			r->bare_cr = 1;
			r->size++;
		} else if (c == '\n') {
			r->bare_lf = 1;
			r->size++;
		} else if (c == '\0') {
			r->nul = 1;
		} else {
			out[r->kept++] = (char)c;
			r->size++;
		}
		i++;
	}
	r->tail = bol ? REF_BOL : REF_TEXT;
	r->wire = n;
}

static inline int ref_message_bad(const struct ref_message *r)
{
	return r->bare_cr || r->bare_lf || r->nul;
}

#endif
