/*
 * Fuzz target: a whole SMTP session, in-process. The first input octet
 * chooses the options (bit 0: -p, a PROXY header first; bit 1: no -a;
 * bit 2: -S, under a UCSPI-TLS stand-in); the rest is the client's bytes.
 * ('0' is the plain case: -R -n mx.example -s 4000 -r 5 -a example.org.)
 * smtpd.c is compiled in as it is, with three stand-ins: the end of a session
 * returns here instead of leaving the process, the maildrop is a recorder that
 * keeps each delivery (and takes it: exit 0), and syslog() checks each log line
 * instead of sending it.
 *
 * Checked: no crash or hang; every reply line well-formed; every log line
 * printable ASCII (whatever the client sent); a delivery never holds a CR
 * or NUL; no more deliveries than there are ends of data in the input:
 * "\n.\r\n" (a line starts after the LF of CR LF inside the data, or after
 * the DATA command's own line end, which may be a bare LF) and "BDAT n
 * LAST" commands.
 *
 * And after the session, a walk through the input and the replies side by
 * side, as RFC 5321 and RFC 3030 frame them, with nothing of smtpd's state
 * but what its replies said: each command line (up to LF) gets one reply;
 * a DATA that got 354 is followed by its data, up to CR LF . CR LF, and
 * then the message's reply; a BDAT n is followed by n octets of chunk,
 * whether it is refused or not, and then its reply; a line that names
 * BDAT but cannot be read gets 501 and ends it all, and so does a 421. The
 * walk reads each message that got 354 or was taken in chunks (BDAT 250s
 * since the last MAIL 250, and the LAST) with the reference reader of
 * check.h, and from that alone knows the reply its end must get: 554 for
 * a bare CR, bare LF or NUL (in BDAT also a last chunk that ends in CR),
 * 552 past -s, else 250 and a delivery of exactly its octets with LF line
 * ends (in BDAT with an LF added to a last line without one). The
 * deliveries the recorder saw must be exactly those, in order, octet for
 * octet after the Received: header. So data is never taken as commands,
 * nor commands as data, and a BDAT message is delivered whole.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <syslog.h>

#include "check.h"

static jmp_buf session_over;

#define SESSION_ENDS 1
static _Noreturn void session_end(int status)
{
	(void)status;
	longjmp(session_over, 1);
}

struct drop_result;
static void record_drop(int spool, struct drop_result *d);
static void check_syslog(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define MAILDROP_RUN record_drop
#define syslog check_syslog
#include "smtpd-in.h"
#undef syslog

/* Every delivery's octets after its Received: header, one after another. */
#define DROPS_MAX 256
static struct drops {
	char buf[1 << 17];
	size_t len, start[DROPS_MAX + 1];
	unsigned count;
} got, want;

static void drops_add(struct drops *d, const char *p, size_t n)
{
	FUZZ_ASSERT(d->count < DROPS_MAX && d->len + n <= sizeof(d->buf));
	memcpy(d->buf + d->len, p, n);
	d->start[d->count++] = d->len;
	d->len += n;
	d->start[d->count] = d->len;
}

static void record_drop(int spool, struct drop_result *d)
{
	static char buf[1 << 17];
	size_t n = 0, header = 0, lfs = 0;
	ssize_t r;

	memset(d, 0, sizeof(*d));
	while ((r = read(spool, buf + n, sizeof(buf) - n)) > 0)
		n += (size_t)r;
	FUZZ_ASSERT(r == 0 && n < sizeof(buf));
	FUZZ_ASSERT(memchr(buf, '\r', n) == NULL);
	FUZZ_ASSERT(memchr(buf, '\0', n) == NULL);
	/* Received: is three lines: "Received: from", "\tby", "\tdate". */
	FUZZ_ASSERT(n > 10 && memcmp(buf, "Received: ", 10) == 0);
	while (lfs < 3 && header < n)
		lfs += buf[header++] == '\n';
	FUZZ_ASSERT(lfs == 3);
	drops_add(&got, buf + header, n - header);
	/* No argument the client gave may look like an option. */
	FUZZ_ASSERT(ss.sender[0] != '-');
	for (size_t i = 0; i < ss.rcpt_count; i++)
		FUZZ_ASSERT(ss.rcpt[i][0] != '-' && ss.rcpt[i][0] != '\0');
	d->ran = 1; /* status 0: exited 0, the message was taken */
}

static void check_syslog(int priority, const char *fmt, ...)
{
	char line[8192];
	va_list ap;
	int n, i;

	(void)priority;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	FUZZ_ASSERT(n > 0 && (size_t)n < sizeof(line));
	for (i = 0; i < n; i++)
		FUZZ_ASSERT(line[i] >= 0x20 && line[i] < 0x7f);
}

/* ---- the bound ---- */

static size_t count_markers(const uint8_t *p, size_t n)
{
	size_t count = 0, i;

	for (i = 0; i + 4 <= n; i++)
		if (memcmp(p + i, "\n.\r\n", 4) == 0)
			count++;
	return count;
}

/* "BDAT", spaces, digits, " LAST", in any case, anywhere: a command may
 * follow a chunk directly, not only a line end. */
static size_t count_bdat_last(const uint8_t *p, size_t n)
{
	size_t count = 0, i, j;

	for (i = 0; i + 4 <= n; i++) {
		if (strncasecmp((const char *)p + i, "BDAT", 4) != 0)
			continue;
		for (j = i + 4; j < n && p[j] == ' '; j++)
			;
		if (j == i + 4 || j == n || p[j] < '0' || p[j] > '9')
			continue;
		while (j < n && p[j] >= '0' && p[j] <= '9')
			j++;
		if (n - j >= 5 &&
		    strncasecmp((const char *)p + j, " LAST", 5) == 0)
			count++;
	}
	return count;
}

/* ---- the walk ---- */

struct walk {
	const unsigned char *in;
	size_t n, pos;
	const char *out;
	size_t out_n, out_pos;
};

/* The next reply's code, past all its lines; 0 when there is none. */
static int next_reply(struct walk *w)
{
	for (;;) {
		const char *line = w->out + w->out_pos;
		const char *lf;

		if (w->out_pos == w->out_n)
			return 0;
		lf = memchr(line, '\n', w->out_n - w->out_pos);
		FUZZ_ASSERT(lf != NULL);
		w->out_pos += (size_t)(lf - line) + 1;
		if (line[3] == ' ')
			return atoi(line);
	}
}

static int peek_reply(const struct walk *w)
{
	struct walk copy = *w;

	return next_reply(&copy);
}

enum cmd_kind {
	V_OTHER,
	V_MAIL,
	V_DATA,
	V_BDAT,
	V_BDAT_UNREADABLE,
	V_QUIT,
	V_TOO_LONG
};

/* Does the line name BDAT: after spaces or tabs, "BDAT" in any case, and
 * no letter or digit after it (the man page's rule)? */
static int names_bdat_ref(const char *p, size_t n)
{
	size_t i = strspn(p, " \t");

	if (i > n || n - i < 4 || strncasecmp(p + i, "BDAT", 4) != 0)
		return 0;
	return n - i == 4 || !((p[i + 4] >= 'a' && p[i + 4] <= 'z') ||
			       (p[i + 4] >= 'A' && p[i + 4] <= 'Z') ||
			       (p[i + 4] >= '0' && p[i + 4] <= '9'));
}

/*
 * The next command line (RFC 5321 2.3.8, and a bare LF, as smtpd takes
 * it): its kind, and for a readable BDAT its size and LAST. A line that
 * names BDAT is readable only as exactly "BDAT" SP chunk-size [SP "LAST"]
 * (RFC 3030; smtpd: 1 to 20 digits, spaces after BDAT and at the end of
 * the line allowed), within 512 octets and without a NUL. 0 at the end of
 * input.
 */
static int next_command(struct walk *w, enum cmd_kind *kind,
			unsigned long long *size, int *last)
{
	const unsigned char *line = w->in + w->pos, *lf;
	char text[COMMAND_LINE_MAX + 1], *arg;
	size_t len, digits;

	lf = memchr(line, '\n', w->n - w->pos);
	if (lf == NULL)
		return 0;
	len = (size_t)(lf - line);
	w->pos += len + 1;
	*kind = V_OTHER;
	if (len + 1 > COMMAND_LINE_MAX) {
		/* smtpd looks at what it kept: the first 512 octets. */
		memcpy(text, line, COMMAND_LINE_MAX);
		text[COMMAND_LINE_MAX] = '\0';
		*kind = names_bdat_ref(text, COMMAND_LINE_MAX)
				? V_BDAT_UNREADABLE
				: V_TOO_LONG;
		return 1;
	}
	if (len > 0 && line[len - 1] == '\r')
		len--;
	memcpy(text, line, len);
	text[len] = '\0';
	if (names_bdat_ref(text, len) &&
	    (strlen(text) != len || strncasecmp(text, "BDAT ", 5) != 0)) {
		*kind = V_BDAT_UNREADABLE;
		return 1;
	}
	if (strlen(text) != len)
		return 1; /* a NUL: 500 */
	while (len > 0 && text[len - 1] == ' ')
		text[--len] = '\0';
	arg = strchrnul(text, ' ');
	if (arg - text != 4)
		return 1;
	if (strncasecmp(text, "MAIL", 4) == 0)
		*kind = V_MAIL;
	else if (strncasecmp(text, "DATA", 4) == 0)
		*kind = V_DATA;
	else if (strncasecmp(text, "QUIT", 4) == 0)
		*kind = V_QUIT;
	else if (strncasecmp(text, "BDAT", 4) != 0)
		return 1;
	else
		*kind = V_BDAT;
	if (*kind != V_BDAT)
		return 1;
	while (*arg == ' ')
		arg++;
	digits = strspn(arg, "0123456789");
	*last = strcasecmp(arg + digits, " LAST") == 0;
	if (digits < 1 || digits > 20 || !(*last || arg[digits] == '\0')) {
		*kind = V_BDAT_UNREADABLE;
		return 1;
	}
	arg[digits] = '\0';
	*size = strtoull(arg, NULL, 10); /* ULLONG_MAX past 2^64-1 */
	return 1;
}

/* The reply the end of a message got must be the one the reference
 * reader says it must get; a 250 is a delivery of exactly its octets. */
static void message_end(const unsigned char *msg, size_t n, int bdat,
			unsigned long long limit, int code)
{
	static char kept[1 << 17];
	struct ref_message r;
	int bad, expect;

	FUZZ_ASSERT(n < sizeof(kept));
	ref_message(msg, n, bdat, &r, kept);
	bad = ref_message_bad(&r) || (bdat && r.tail == REF_CR);
	expect = bad ? 554 : limit != 0 && r.size > limit ? 552 : 250;
	if (code != expect) {
		fprintf(stderr, "the end of a %s message got %d, not %d\n",
			bdat ? "BDAT" : "DATA", code, expect);
		abort();
	}
	if (code != 250)
		return;
	if (bdat && r.tail == REF_TEXT)
		kept[r.kept++] = '\n'; /* a last line without CR LF */
	drops_add(&want, kept, r.kept);
}

static void walk_session(struct walk *w, unsigned long long limit)
{
	static unsigned char chunks[1 << 17];
	static char scratch[1 << 17];
	size_t chunks_len = 0;
	int code = next_reply(w);

	FUZZ_ASSERT(code == 220);
	for (;;) {
		enum cmd_kind verb;
		unsigned long long size = 0;
		int last = 0;
		const unsigned char *payload = NULL;
		struct ref_message r;

		if (!next_command(w, &verb, &size, &last))
			break; /* the end of input, inside a line or not */
		if (verb == V_BDAT) {
			if (size > w->n - w->pos)
				break; /* the input ends inside the chunk */
			payload = w->in + w->pos;
			w->pos += size;
		}
		code = next_reply(w);
		FUZZ_ASSERT(code != 0);
		if (code == 421)
			break;
		FUZZ_ASSERT(verb != V_TOO_LONG || code == 500);
		if (verb == V_QUIT) {
			FUZZ_ASSERT(code == 221);
			break;
		}
		if (verb == V_BDAT_UNREADABLE) {
			FUZZ_ASSERT(code == 501); /* and the session ends */
			break;
		}
		if (verb == V_MAIL && code == 250)
			chunks_len = 0; /* a new transaction */
		if (verb == V_DATA && code == 354) {
			ref_message(w->in + w->pos, w->n - w->pos, 0, &r,
				    scratch);
			if (r.tail != REF_ENDED)
				break; /* the input ends inside the data */
			message_end(w->in + w->pos, r.wire, 0, limit,
				    next_reply(w));
			w->pos += r.wire;
		}
		/* A chunk is the message's when it got its 250, or for the
		 * LAST one anything but 503 (refused). */
		if (verb == V_BDAT && (last ? code != 503 : code == 250)) {
			FUZZ_ASSERT(chunks_len + size <= sizeof(chunks));
			memcpy(chunks + chunks_len, payload, size);
			chunks_len += size;
		}
		if (verb == V_BDAT && last && code != 503)
			message_end(chunks, chunks_len, 1, limit, code);
		if (verb == V_BDAT && last)
			chunks_len = 0;
		if (peek_reply(w) == 421) {
			next_reply(w); /* too many errors or junk commands */
			break;
		}
	}
	FUZZ_ASSERT(w->out_pos == w->out_n); /* one reply a command */
}

/* With -p: how long the header is, read as proxy_read() reads it; 0 when
 * it is bad or the input ends inside it. */
static size_t proxy_length(const unsigned char *p, size_t n)
{
	struct proxy_header h;
	size_t have = 0, need;
	const char *why;
	enum proxy_status st;

	while ((st = proxy_parse(p, have, &h, &need, &why)) == PROXY_MORE) {
		if (have == n)
			return 0;
		have += need < n - have ? need : n - have;
	}
	return st == PROXY_DONE ? have : 0;
}

static int memfd_with(const void *data, size_t size)
{
	int fd = memfd_create("fuzz", 0);

	FUZZ_ASSERT(fd >= 0);
	FUZZ_ASSERT(write(fd, data, size) == (ssize_t)size);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char *args[] = {"smtpd",	   "-R",	  "-n", "mx.example",
			       "-s",	   "4000",	  "-r", "5",
			       "-a",	   "example.org", "-t", "5",
			       "maildrop", "-f",	  "%F", NULL};

	(void)argc;
	(void)argv;
	parse_options(15, args);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char replies[1 << 21];
	const unsigned char *p = data + 1;
	size_t n = size - 1, header = 0;
	int saved_in, saved_out, in_fd, out_fd;
	struct walk w;
	ssize_t len;

	if (size < 1 || size > 65536)
		return 0;
	/* The options: parse_options() cannot run twice (it allocates, and
	 * its flags only ever go on), so these two are set here. */
	cfg.proxy = data[0] & 1;
	cfg.domain_count = data[0] & 2 ? 0 : 1;
	cfg.starttls = (data[0] & 4) != 0;
	if (cfg.starttls) {
		/* UCSPI-TLS whose "TLS" is the same stream, clear. */
		io.launcher = LAUNCHER_UCSPI;
		io.tls_ctl_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		io.tls_read_fd = 0;
		io.tls_write_fd = 1;
	}
	saved_in = dup(0);
	saved_out = dup(1);
	in_fd = memfd_with(p, n);
	out_fd = memfd_with("", 0);
	dup2(in_fd, 0);
	dup2(out_fd, 1);
	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	memset(&peer, 0, sizeof(peer));
	out.not_socket = 1;
	transaction_reset();
	memset(&ss, 0, offsetof(struct session, rcpt));
	ss.errors = ss.junk = ss.messages = 0;
	got.count = got.len = 0;
	want.count = want.len = 0;
	if (setjmp(session_over) == 0) {
		session_start();
		serve();
	}
	spool_close();
	transaction_reset();
	FUZZ_ASSERT(got.count <= count_markers(p, n) + count_bdat_last(p, n));
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "deliveries=%u markers=%zu last=%zu\n",
			got.count, count_markers(p, n), count_bdat_last(p, n));

	len = pread(out_fd, replies, sizeof(replies), 0);
	FUZZ_ASSERT(len >= 0 && (size_t)len < sizeof(replies));
	check_reply_stream(replies, (size_t)len);
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "%.*s", (int)len, replies);
	if (cfg.proxy && (header = proxy_length(p, n)) == 0) {
		/* A bad or cut header: not even a banner. */
		FUZZ_ASSERT(len == 0 && got.count == 0);
	} else {
		w = (struct walk){p, n, header, replies, (size_t)len, 0};
		walk_session(&w, cfg.size_limit);
		FUZZ_ASSERT(got.count == want.count && got.len == want.len);
		FUZZ_ASSERT(memcmp(got.start, want.start,
				   (got.count + 1) * sizeof(got.start[0])) ==
			    0);
		FUZZ_ASSERT(memcmp(got.buf, want.buf, got.len) == 0);
	}

	if (io.tls_ctl_fd >= 0)
		close(io.tls_ctl_fd);
	io.in_fd = 0;
	io.out_fd = 1;
	io.launcher = LAUNCHER_NONE;
	io.tls_ctl_fd = -1;
	dup2(saved_in, 0);
	dup2(saved_out, 1);
	close(saved_in);
	close(saved_out);
	close(in_fd);
	close(out_fd);
	return 0;
}
