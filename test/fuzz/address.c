/*
 * Fuzz target: the readers of MAIL, RCPT and BDAT arguments (path_parse,
 * mailbox_parse, mail_params, size_param and bdat_args in smtpd.c).
 *
 * The oracle is a reference grammar written here from RFC 5321 4.1.2 and
 * RFC 6531 3.3, by recursive descent (smtpd scans and splits): Mailbox =
 * Local-part "@" (Domain / address-literal), the local part a Dot-string or
 * a Quoted-string (whose content smtpd also refuses to hold @ , ; : < > or
 * a space or control), a Domain of labels of letters, digits and hyphens
 * (1-63 octets, no hyphen at either end, at most 255), with SMTPUTF8 every
 * octet >= 0x80 a letter; an address literal [IPv4] or [IPv6:...] as
 * inet_pton reads it; for RCPT also the bare Postmaster. On top, the rules
 * of the argv: at most 254 octets, no leading '-', no space or control,
 * 8-bit octets only with SMTPUTF8 and then well-formed UTF-8 without C1.
 *
 * Every input is read four ways by mailbox_parse() (MAIL or RCPT, with or
 * without SMTPUTF8), which must accept exactly what the reference accepts
 * and refuse the rest with the reference's reason; it is given exactly the
 * input's octets, so a read past them stops the run (ASan). As a command
 * argument ("FROM:<...> params" or "TO:<...>") it goes through
 * path_parse(), which drops a source route, mail_params() and
 * mailbox_parse() as do_mail() and do_rcpt() call them, and must accept
 * the same address as the reference path reader (which takes, as smtpd
 * does by choice, spaces after the colon and a path without its
 * brackets). An accepted address holds exactly one '@' outside quotes
 * (or is postmaster) and no ',' outside quotes; domain points just after
 * that '@'; routing is set exactly when the local part holds '@', '%' or
 * '!'.
 *
 * An input starting with '=' is a SIZE= value, compared against -s as
 * exactly as decimal strings are (an oracle with no integer to overflow),
 * at -s 1000 and -s 2^64-1. One starting with '#' is BDAT's argument
 * ("n" or "n LAST", n of 1 to 20 digits), held against the same decimal
 * strings.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

static jmp_buf session_over;

#define SESSION_ENDS 1
static _Noreturn void session_end(int status)
{
	(void)status;
	longjmp(session_over, 1);
}

#include "smtpd-in.h"

/* ---- the reference grammar ---- */

/*
 * Where the reference (the RFC) and smtpd part, by smtpd's choice; each is
 * harmless, because the source route is dropped before anything reads the
 * address. RFC 5321: At-domain = "@" Domain (no address literal), and a
 * source route is not allowed before the bare <Postmaster>; RFC 6531 3.3
 * lets a route's Domain hold U-labels, which smtpd refuses.
 */
#define ROUTE_LITERAL_ACCEPTED 1
#define ROUTE_POSTMASTER_ACCEPTED 1
#define ROUTE_U_LABEL_REFUSED 1

struct cursor {
	const unsigned char *p;
	size_t n, i;
	int utf8;
};

static int at(const struct cursor *c)
{
	return c->i < c->n ? c->p[c->i] : -1;
}

static int ascii_letter_digit(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9');
}

/* Let-dig, and with SMTPUTF8 an octet of a U-label. */
static int let_dig(const struct cursor *c, int ch)
{
	return ascii_letter_digit(ch) || (c->utf8 && ch >= 0x80);
}

/* RFC 5322 3.2.3 atext, and RFC 6531 UTF8-non-ascii. */
static int atext(const struct cursor *c, int ch)
{
	switch (ch) {
	case '!':
	case '#':
	case '$':
	case '%':
	case '&':
	case '\'':
	case '*':
	case '+':
	case '-':
	case '/':
	case '=':
	case '?':
	case '^':
	case '_':
	case '`':
	case '{':
	case '|':
	case '}':
	case '~':
		return 1;
	default:
		return ascii_letter_digit(ch) || (c->utf8 && ch >= 0x80);
	}
}

/* Atom = 1*atext */
static int atom(struct cursor *c)
{
	size_t start = c->i;

	while (atext(c, at(c)))
		c->i++;
	return c->i > start;
}

/* Dot-string = Atom *("." Atom) */
static int dot_string_ref(struct cursor *c)
{
	if (!atom(c))
		return 0;
	while (at(c) == '.') {
		c->i++;
		if (!atom(c))
			return 0;
	}
	return 1;
}

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE, at least one; the content,
 * escaped or not, holds none of smtpd's delimiters. */
static int quoted_string_ref(struct cursor *c)
{
	size_t count = 0;

	if (at(c) != '"')
		return 0;
	c->i++;
	for (;;) {
		int ch = at(c);

		if (ch == '"') {
			c->i++;
			return count > 0;
		}
		if (ch == '\\') { /* quoted-pairSMTP = %d92 %d32-126 */
			c->i++;
			ch = at(c);
			if (ch < 32 || ch > 126)
				return 0;
		} else if (!(ch == 32 || ch == 33 || (ch >= 35 && ch <= 91) ||
			     (ch >= 93 && ch <= 126) ||
			     (c->utf8 && ch >= 0x80))) {
			return 0; /* not qtextSMTP (nor the end of the text) */
		}
		if (ch == '@' || ch == ',' || ch == ';' || ch == ':' ||
		    ch == '<' || ch == '>')
			return 0;
		c->i++;
		count++;
	}
}

/* sub-domain = Let-dig [Ldh-str], at most 63 octets. */
static int sub_domain(struct cursor *c)
{
	size_t start = c->i;

	if (!let_dig(c, at(c)))
		return 0;
	while (let_dig(c, at(c)) || at(c) == '-')
		c->i++;
	return c->p[c->i - 1] != '-' && c->i - start <= 63;
}

/* Domain = sub-domain *("." sub-domain), at most 255 octets. */
static int domain_ref(struct cursor *c)
{
	size_t start = c->i;

	if (!sub_domain(c))
		return 0;
	while (at(c) == '.') {
		c->i++;
		if (!sub_domain(c))
			return 0;
	}
	return c->i - start <= 255;
}

/* address-literal = "[" (IPv4 / "IPv6:" IPv6) "]", as inet_pton reads the
 * addresses; it is the rest of the text. */
static int address_literal_ref(struct cursor *c)
{
	char text[300];
	unsigned char scratch[16];
	size_t len;

	if (at(c) != '[' || c->n - c->i < 2 || c->p[c->n - 1] != ']')
		return 0;
	len = c->n - c->i - 2;
	if (len >= sizeof(text))
		return 0;
	memcpy(text, c->p + c->i + 1, len);
	text[len] = '\0';
	c->i = c->n;
	if (strlen(text) != len)
		return 0;
	if (strncasecmp(text, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, text + 5, scratch) == 1;
	return inet_pton(AF_INET, text, scratch) == 1;
}

/* The octets alone: what may stand in one argument of the maildrop. */
static enum addr_error ref_octets(const unsigned char *p, size_t n, int utf8)
{
	size_t i;
	int eight_bit = 0;

	if (n > 254)
		return ADDR_TOO_LONG;
	if (n > 0 && p[0] == '-')
		return ADDR_UNSAFE;
	for (i = 0; i < n; i++) {
		if (p[i] < 0x21 || p[i] == 0x7f)
			return ADDR_UNSAFE;
		if (p[i] >= 0x80)
			eight_bit = 1;
	}
	if (eight_bit && !utf8)
		return ADDR_EIGHT_BIT;
	if (eight_bit && !ref_utf8_valid(p, n))
		return ADDR_BAD_UTF8;
	return ADDR_OK;
}

/* Mailbox = Local-part "@" (Domain / address-literal), the whole text. */
static int ref_mailbox_grammar(const unsigned char *p, size_t n, int utf8)
{
	struct cursor c = {p, n, 0, utf8};

	if (at(&c) == '"' ? !quoted_string_ref(&c) : !dot_string_ref(&c))
		return 0;
	if (at(&c) != '@')
		return 0;
	c.i++;
	if (at(&c) == '[')
		return address_literal_ref(&c);
	return domain_ref(&c) && c.i == n;
}

static enum addr_error ref_mailbox(const unsigned char *p, size_t n, int utf8,
				   int rcpt)
{
	enum addr_error e = ref_octets(p, n, utf8);

	if (e != ADDR_OK)
		return e;
	/* RFC 5321 4.5.1: <Postmaster> with no domain, any case. */
	if (rcpt && n == 10 &&
	    strncasecmp((const char *)p, "postmaster", 10) == 0)
		return ADDR_OK;
	return ref_mailbox_grammar(p, n, utf8) ? ADDR_OK : ADDR_NOT_MAILBOX;
}

/* A-d-l = At-domain *( "," At-domain ), At-domain = "@" Domain; the cursor
 * ends on the ':' after it. */
static int ref_route(struct cursor *c)
{
	for (;;) {
		struct cursor d;

		if (at(c) != '@')
			return 0;
		c->i++;
		d = *c;
		if (ROUTE_U_LABEL_REFUSED)
			d.utf8 = 0;
		if (!domain_ref(&d)) {
			/* An address literal, up to the next ',' or ':'. */
			size_t end = c->i;

			if (!ROUTE_LITERAL_ACCEPTED || at(c) != '[')
				return 0;
			while (end < c->n && c->p[end] != ',' &&
			       c->p[end] != ':')
				end++;
			d = *c;
			d.n = end;
			if (!address_literal_ref(&d))
				return 0;
			d.n = c->n;
		}
		c->i = d.i;
		if (at(c) != ',')
			return at(c) == ':';
		c->i++;
	}
}

/* A Mailbox that starts at the cursor, by the grammar (with SMTPUTF8, the
 * widest): moves the cursor past it. A bare Postmaster is one too here;
 * whether it may be is ref_mailbox()'s to say. */
static int mailbox_prefix(struct cursor *c)
{
	if (c->n - c->i >= 10 &&
	    strncasecmp((const char *)c->p + c->i, "postmaster", 10) == 0 &&
	    (c->n - c->i == 10 || c->p[c->i + 10] == '>' ||
	     c->p[c->i + 10] == ' ')) {
		c->i += 10;
		return 1;
	}
	if (at(c) == '"' ? !quoted_string_ref(c) : !dot_string_ref(c))
		return 0;
	if (at(c) != '@')
		return 0;
	c->i++;
	if (at(c) == '[') {
		const unsigned char *close =
			memchr(c->p + c->i, ']', c->n - c->i);
		struct cursor d = *c;

		if (close == NULL)
			return 0;
		d.n = (size_t)(close - c->p) + 1;
		if (!address_literal_ref(&d))
			return 0;
		c->i = d.n;
		return 1;
	}
	return domain_ref(c);
}

/*
 * "KEYWORD:" [spaces] ("<" [A-d-l ":"] Mailbox ">" / "<>" / the same
 * without brackets) [" " params]. Sets the address (after a route) and
 * the params; returns 0 when there is no such path. Whether the address
 * may be taken is ref_mailbox()'s to say.
 */
static int ref_path(const char *arg, const char *keyword, const char **addr,
		    size_t *len, const char **params, int *route)
{
	struct cursor c = {(const unsigned char *)arg, strlen(arg), 0, 1};
	size_t klen = strlen(keyword), start;
	int bracket;

	*route = 0;
	if (strncasecmp(arg, keyword, klen) != 0 || arg[klen] != ':')
		return 0;
	c.i = klen + 1;
	while (at(&c) == ' ')
		c.i++;
	if (c.i == c.n)
		return 0;
	bracket = at(&c) == '<';
	c.i += bracket;
	start = c.i;
	if (!(bracket && at(&c) == '>')) { /* not the null path "<>" */
		if (at(&c) == '@') {
			if (!ref_route(&c))
				return 0;
			c.i++;
			*route = 1;
		}
		start = c.i;
		if (!mailbox_prefix(&c))
			return 0;
	}
	*addr = arg + start;
	*len = c.i - start;
	if (bracket && at(&c) != '>')
		return 0;
	c.i += bracket;
	if (c.i < c.n && at(&c) != ' ')
		return 0;
	*params = arg + c.i;
	return 1;
}

/* Is the decimal string value greater than the decimal string limit? */
static int decimal_greater(const char *value, const char *limit)
{
	size_t vlen, llen;

	while (*value == '0' && value[1] != '\0')
		value++;
	vlen = strlen(value);
	llen = strlen(limit);
	return vlen != llen ? vlen > llen : strcmp(value, limit) > 0;
}

/* MAIL parameters (RFC 5321 4.1.2 Mail-parameters, RFC 1870, 6152, 6531)
 * at -s 1000: returns 1 when all are good, noting SMTPUTF8 in *utf8. */
static int ref_params(const char *params, int *utf8)
{
	char copy[COMMAND_LINE_MAX + 1], *word, *save = NULL;

	*utf8 = 0;
	snprintf(copy, sizeof(copy), "%s", params);
	for (word = strtok_r(copy, " ", &save); word != NULL;
	     word = strtok_r(NULL, " ", &save)) {
		if (strncasecmp(word, "SIZE=", 5) == 0) {
			const char *v = word + 5;

			if (*v == '\0' ||
			    strspn(v, "0123456789") != strlen(v) ||
			    decimal_greater(v, "1000"))
				return 0;
		} else if (strcasecmp(word, "SMTPUTF8") == 0) {
			*utf8 = 1;
		} else if (strcasecmp(word, "BODY=7BIT") != 0 &&
			   strcasecmp(word, "BODY=8BITMIME") != 0) {
			return 0;
		}
	}
	return 1;
}

/* ---- what smtpd gives back ---- */

/* What an accepted Mailbox must look like, whoever reads it next. */
static void check_mailbox(const struct mailbox *mb, const char *addr,
			  size_t len, int rcpt)
{
	size_t i, ats = 0, at_pos = 0;
	int quoted = 0;

	FUZZ_ASSERT(strlen(mb->text) == len &&
		    memcmp(mb->text, addr, len) == 0);
	if (mb->domain == NULL) {
		FUZZ_ASSERT(rcpt && strcasecmp(mb->text, "postmaster") == 0);
		FUZZ_ASSERT(!mb->routing);
		return;
	}
	for (i = 0; i < len; i++) {
		char ch = mb->text[i];

		if (quoted && ch == '\\')
			i++;
		else if (ch == '"')
			quoted = !quoted;
		else if (!quoted && ch == '@') {
			ats++;
			at_pos = i;
		} else
			FUZZ_ASSERT(quoted || ch != ',');
	}
	FUZZ_ASSERT(!quoted && ats == 1);
	FUZZ_ASSERT(mb->local_len == at_pos);
	FUZZ_ASSERT(mb->domain == mb->text + at_pos + 1);
	FUZZ_ASSERT(mb->routing == (memchr(mb->text, '@', at_pos) != NULL ||
				    memchr(mb->text, '%', at_pos) != NULL ||
				    memchr(mb->text, '!', at_pos) != NULL));
}

/* mailbox_parse on any octets, the four ways, against the reference. */
static void check_raw(const uint8_t *data, size_t size)
{
	int rcpt, utf8;

	for (rcpt = 0; rcpt < 2; rcpt++)
		for (utf8 = 0; utf8 < 2; utf8++) {
			struct mailbox mb;
			enum addr_error e = mailbox_parse(
				(const char *)data, size, utf8, rcpt, &mb);

			if (e != ref_mailbox(data, size, utf8, rcpt)) {
				fprintf(stderr,
					"rcpt=%d utf8=%d smtpd=%d ref=%d\n",
					rcpt, utf8, e,
					ref_mailbox(data, size, utf8, rcpt));
				abort();
			}
			if (e == ADDR_OK)
				check_mailbox(&mb, (const char *)data, size,
					      rcpt);
		}
}

/* mail_params() replies to a bad parameter: the reply goes nowhere, and
 * the error count is kept from ending the session. */
static int run_mail_params(char *params, int *utf8)
{
	int ok = 0;

	ss.errors = 0;
	if (setjmp(session_over) == 0)
		ok = mail_params(params, utf8);
	check_reply_stream(out.buf, out.len);
	out.len = 0;
	return ok;
}

static void same_verdict(const char *what, int ok, int ref_ok)
{
	if (ok == ref_ok)
		return;
	fprintf(stderr, "%s: smtpd %s, the reference %s\n", what,
		ok ? "accepts" : "refuses", ref_ok ? "accepts" : "refuses");
	abort();
}

/* MAIL as do_mail() reads it: path, then params, then the address. */
static void check_mail(const char *line)
{
	char arg[COMMAND_LINE_MAX + 1], *params;
	const char *addr, *ref_addr, *ref_params_at;
	size_t len, ref_len;
	int utf8 = 0, ref_utf8 = 0, ok = 0, ref_ok = 0, route;
	struct mailbox mb;

	snprintf(arg, sizeof(arg), "%s", line);
	if (path_parse(arg, "FROM", &addr, &len, &params) == ADDR_OK &&
	    run_mail_params(params, &utf8))
		ok = len == 0 || /* the null sender */
		     mailbox_parse(addr, len, utf8, 0, &mb) == ADDR_OK;
	if (ref_path(line, "FROM", &ref_addr, &ref_len, &ref_params_at,
		     &route) &&
	    ref_params(ref_params_at, &ref_utf8))
		ref_ok = ref_len == 0 ||
			 ref_mailbox((const unsigned char *)ref_addr, ref_len,
				     ref_utf8, 0) == ADDR_OK;
	same_verdict("MAIL", ok, ref_ok);
	if (!ok)
		return;
	FUZZ_ASSERT(utf8 == ref_utf8);
	FUZZ_ASSERT(addr - arg == ref_addr - line && len == ref_len);
	if (len > 0)
		check_mailbox(&mb, addr, len, 0);
}

/* RCPT as do_rcpt() reads it, in a transaction with or without SMTPUTF8. */
static void check_rcpt(const char *line, int utf8)
{
	char arg[COMMAND_LINE_MAX + 1], *params;
	const char *addr, *ref_addr, *ref_params_at;
	size_t len, ref_len;
	int ok = 0, ref_ok = 0, route;
	struct mailbox mb;

	snprintf(arg, sizeof(arg), "%s", line);
	if (path_parse(arg, "TO", &addr, &len, &params) == ADDR_OK && len > 0)
		ok = mailbox_parse(addr, len, utf8, 1, &mb) == ADDR_OK;
	if (ref_path(line, "TO", &ref_addr, &ref_len, &ref_params_at, &route) &&
	    ref_len > 0) {
		int bare_postmaster =
			ref_len == 10 &&
			strncasecmp(ref_addr, "postmaster", 10) == 0;

		ref_ok = ref_mailbox((const unsigned char *)ref_addr, ref_len,
				     utf8, 1) == ADDR_OK &&
			 (!route || !bare_postmaster ||
			  ROUTE_POSTMASTER_ACCEPTED);
	}
	same_verdict(utf8 ? "RCPT (SMTPUTF8)" : "RCPT", ok, ref_ok);
	if (!ok)
		return;
	FUZZ_ASSERT(addr - arg == ref_addr - line && len == ref_len);
	check_mailbox(&mb, addr, len, 1);
}

/* ---- numbers ---- */

static void check_size(const char *v)
{
	static const struct {
		unsigned long long limit;
		const char *text;
	} limits[] = {{1000, "1000"}, {ULLONG_MAX, "18446744073709551615"}};
	size_t i;
	int over;

	if (*v == '\0' || strspn(v, "0123456789") != strlen(v)) {
		FUZZ_ASSERT(!size_param(v, &over));
		return;
	}
	for (i = 0; i < 2; i++) {
		cfg.size_limit = limits[i].limit;
		FUZZ_ASSERT(size_param(v, &over));
		FUZZ_ASSERT(over == decimal_greater(v, limits[i].text));
	}
}

/* RFC 3030: "BDAT" SP chunk-size [SP end-marker], chunk-size = 1*DIGIT
 * (smtpd: at most 20), end-marker = "LAST" in any case. A size past
 * 2^64-1 is read as 2^64-1: more than any limit. */
static void check_bdat(const char *arg)
{
	size_t digits = strspn(arg, "0123456789");
	const char *rest = arg + digits;
	unsigned long long size = 0;
	int last = 0, ref_last = strcasecmp(rest, " LAST") == 0;
	char value[32], text[32];
	const char *v = value;

	FUZZ_ASSERT(
		bdat_args(arg, &size, &last) ==
		(digits >= 1 && digits <= 20 && (*rest == '\0' || ref_last)));
	if (digits < 1 || digits > 20 || (*rest != '\0' && !ref_last))
		return;
	FUZZ_ASSERT(last == ref_last);
	snprintf(value, sizeof(value), "%.*s", (int)digits, arg);
	while (*v == '0' && v[1] != '\0')
		v++;
	snprintf(text, sizeof(text), "%llu", size);
	if (decimal_greater(v, "18446744073709551615"))
		FUZZ_ASSERT(size == ULLONG_MAX);
	else
		FUZZ_ASSERT(strcmp(text, v) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[COMMAND_LINE_MAX + 1];

	if (size > COMMAND_LINE_MAX)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (size > 0 && data[0] == '=') {
		check_size(line + 1);
		return 0;
	}
	if (size > 0 && data[0] == '#') {
		if (strlen(line) == size)
			check_bdat(line + 1);
		return 0;
	}
	cfg.size_limit = 1000;
	check_raw(data, size);
	if (strlen(line) != size)
		return 0; /* a command line with a NUL gets 500 */
	check_mail(line);
	check_rcpt(line, 0);
	check_rcpt(line, 1);
	return 0;
}
