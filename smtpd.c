/*
 * smtpd - a small SMTP receiver of the inetd kind.
 *
 * One process serves one connection on standard input and output (or on
 * the descriptors a TLS launcher hands over). Every byte it writes to the
 * client is built by reply.c; every byte it reads comes through in_fill()
 * or, before the session, proxy_read(). man/smtpd.8 is the contract.
 *
 * Sections: limits and state; output; input; the PROXY header; the peer;
 * logging; addresses; the envelope; the message (DATA and BDAT); the
 * maildrop; STARTTLS; commands; start-up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "reply.h"

/* ---- limits and state ---- */

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with CRLF. */
#define COMMAND_LINE_MAX 512
/* RFC 5321 4.5.3.1.3: a path is at most 256 octets with its "<>". */
#define ADDRESS_MAX 254
/* Replies of 5xx to commands before the session is cut off with 421. */
#define ERROR_LIMIT 20
/* HELO, EHLO, NOOP, VRFY, HELP and RSET allowed between two messages. */
#define JUNK_LIMIT 100
/* The most the peer's name lookup may take, in seconds. */
#define RESOLVE_SECONDS 5
/* The most the PROXY header may take to arrive, in seconds. */
#define PROXY_SECONDS 5
/* DATA must go on at this rate, on average, after its first -t seconds. */
#define DATA_MIN_RATE 10240
/* A BDAT size has at most this many digits (2^64-1 has 20). */
#define BDAT_DIGITS_MAX 20
#define RCPT_LIMIT_MAX 100000
#define SECONDS_MAX 86400
#define IN_BUF_SIZE 65536
#define OUT_BUF_SIZE 8192
/* A message is spooled in memory up to this size, then in a file. */
#define SPOOL_MEMORY_MAX (256ULL * 1024)
/* How much of the maildrop's output the log line keeps. */
#define MAILDROP_LOG_MAX 200
/* The PROXY protocol: a v1 line is at most 107 octets with its CRLF; a v2
 * header is 16 octets and at most 65535 more. */
#define PROXY_V1_MAX 107
#define PROXY_V1_MIN 15 /* "PROXY UNKNOWN\r\n" */
#define PROXY_V2_HEAD 16
#define PROXY_MAX (PROXY_V2_HEAD + 65535)

/*
 * What an idle session writes lies together, in as few pages as can be:
 * the peer, the session and the look-up's answer, stack and flag in .data
 * beside cfg and io (which the linker would otherwise scatter over the
 * .bss between the big buffers), and each buffer's counters before its
 * octets. All of .data is one page (under 4 KiB). Measured with 200
 * sessions idle after EHLO: two pages less of private memory per session,
 * and one more with a look-up (make bench, measure 5).
 */
#define HOT __attribute__((section(".data")))

static const char usage_text[] =
	"usage: smtpd [-pRS] [-n name] [-a domain]... [-s bytes] [-r count] "
	"[-t seconds] [-m seconds] [--] maildrop [arg ...]";

static struct config {
	char name[DOMAIN_MAX + 1];
	int resolve;
	int proxy;    /* -p: a PROXY header comes first */
	int starttls; /* -S: offer STARTTLS */
	char **domains;
	size_t domain_count;
	unsigned long long size_limit;
	unsigned long rcpt_limit;
	int timeout;
	int maildrop_timeout;
	char **maildrop;
	int maildrop_argc;
} cfg = {
	.resolve = 1,
	.size_limit = 10485760,
	.rcpt_limit = 100,
	.timeout = 300,
	.maildrop_timeout = 300,
};

/*
 * The one place that knows the session's descriptors: reads come from
 * in_fd, replies go to out_fd. STARTTLS under UCSPI-TLS switches both;
 * under tlswrapper -n they stay 0 and 1 and only tls_ctl_fd is used.
 */
static struct {
	int in_fd, out_fd;
	enum { LAUNCHER_NONE, LAUNCHER_TLSWRAPPER, LAUNCHER_UCSPI } launcher;
	int tls_ctl_fd;		       /* tlswrapper's 5, or SSLCTLFD */
	int tls_read_fd, tls_write_fd; /* SSLREADFD, SSLWRITEFD */
} io = {.in_fd = 0, .out_fd = 1, .tls_ctl_fd = -1};

static struct peer {
	struct sockaddr_storage sa;
	socklen_t sa_len;
	char addr[ADDR_TEXT_MAX + 1]; /* "" when the peer has no address */
	char name[NI_MAXHOST];	      /* sanitized; "unknown" when none */
	int confirmed;
	/* With -p: the connection's own address (the proxy's), or "local"
	 * when the header kept it as the peer. */
	char proxy[ADDR_TEXT_MAX + 1];
	enum { LOOKUP_NONE, LOOKUP_RUNNING, LOOKUP_DONE } lookup;
	int lookup_fd;
	long long lookup_deadline;
} peer HOT;

/* How the message of the transaction arrives; a failed BDAT transaction
 * reads and drops its chunks until RSET or LAST. */
enum body { BODY_NONE, BODY_BDAT, BODY_BDAT_FAILED };

static struct session {
	char helo[COMMAND_LINE_MAX];
	int greeted;
	int esmtp;
	int tls; /* STARTTLS done, or the PROXY header said TLS */
	int in_mail;
	int utf8; /* this transaction's MAIL carried SMTPUTF8 */
	enum body body;
	char sender[ADDRESS_MAX + 1];
	char **rcpt;
	size_t rcpt_count;
	size_t rcpt_cap;
	unsigned errors;
	unsigned junk;
	unsigned messages;
} ss HOT;

static struct {
	size_t len;
	int not_socket;
	char buf[OUT_BUF_SIZE];
} out;

static struct {
	size_t pos, end;
	char buf[IN_BUF_SIZE];
} in;

static void session_exit(int status, const char *why) __attribute__((noreturn));

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int poll_ms(long long deadline)
{
	long long left = deadline - now_ms();

	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/*
 * SIGTERM (systemctl stop, RuntimeMaxSec=, a launcher shutting down) ends
 * the session at its next wait for the client: 421 4.3.2 (RFC 5321 3.8
 * asks for a 421 before a forced exit), the session's log line, exit 75.
 * It stays blocked, and every wait for the client also watches a signalfd
 * that becomes readable once one is pending: no handler, and no moment in
 * which the signal could fall between a look and a wait, nor be left
 * pending while the client keeps input coming. A maildrop that is running
 * is waited for and answered first, since stopping it could leave a
 * message delivered that the client is never told of; one that has not
 * started is not started (term_pending()).
 */
static int term_fd = -1;
static int terminating;

/* poll() on the client's descriptor and on term_fd; sets terminating. */
static int client_poll(int fd, short events, long long deadline)
{
	struct pollfd p[2] = {
		{.fd = fd, .events = events},
		{.fd = terminating ? -1 : term_fd, .events = POLLIN}};
	int r = poll(p, 2, poll_ms(deadline));

	if (r > 0 && (p[1].revents & POLLIN))
		terminating = 1;
	return r;
}

/* Has a SIGTERM come, even while the client left nothing to wait for? */
static int term_pending(void)
{
	struct pollfd p = {.fd = term_fd, .events = POLLIN};

	if (!terminating && term_fd >= 0 && poll(&p, 1, 0) > 0)
		terminating = 1;
	return terminating;
}

/* ---- output: every byte goes through reply.c, then here ---- */

static ssize_t out_write(const char *buf, size_t len)
{
	ssize_t n;

	/* MSG_DONTWAIT: a full socket must not block past the deadline. */
	if (!out.not_socket) {
		n = send(io.out_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0 || errno != ENOTSOCK)
			return n;
		out.not_socket = 1;
	}
	/* A pipe that polls writable takes PIPE_BUF octets without blocking. */
	return write(io.out_fd, buf, len > PIPE_BUF ? PIPE_BUF : len);
}

static void out_flush(void)
{
	long long deadline = now_ms() + cfg.timeout * 1000LL;
	size_t done = 0;

	while (done < out.len) {
		int r;
		ssize_t n;

		/* Stopping: a client that does not read gets a second. */
		if (terminating && deadline > now_ms() + 1000)
			deadline = now_ms() + 1000;
		r = client_poll(io.out_fd, POLLOUT, deadline);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			out.len = 0;
			session_exit(EX_TEMPFAIL,
				     r == 0 ? "write timeout" : "write error");
		}
		n = out_write(out.buf + done, out.len - done);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			out.len = 0;
			session_exit(EX_TEMPFAIL, "write error");
		}
		done += (size_t)n;
	}
	out.len = 0;
}

static void out_put(const char *line, size_t len)
{
	if (out.len + len > sizeof(out.buf))
		out_flush();
	memcpy(out.buf + out.len, line, len);
	out.len += len;
}

static void vsay(int code, int more, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void vsay(int code, int more, const char *fmt, va_list ap)
{
	char line[REPLY_LINE_MAX];
	size_t len = reply_vline(line, code, more, fmt, ap);

	out_put(line, len);
}

/* One reply line; more != 0 when lines of the same reply follow. */
static void say(int code, int more, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(int code, int more, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(code, more, fmt, ap);
	va_end(ap);
}

/* A 421 that ends the session: written, flushed, and the exit is 75. */
static void close_with_421(const char *status, const char *text,
			   const char *why) __attribute__((noreturn));
static void close_with_421(const char *status, const char *text,
			   const char *why)
{
	say(421, 0, "%s %s %s, closing connection", status, cfg.name, text);
	session_exit(EX_TEMPFAIL, why);
}

/* A 5xx reply to a command: counted, and too many end the session. */
static void refuse(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void refuse(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(code, 0, fmt, ap);
	va_end(ap);
	if (++ss.errors >= ERROR_LIMIT)
		close_with_421("4.7.0", "Too many errors", "too many errors");
}

/* ---- input: one wrapper owns every read from the client ---- */

/*
 * Flushes pending replies (all PIPELINING needs), then waits for input
 * until deadline, and at most -t seconds. Returns 0 at end of input; a
 * timeout, a reset or a read error ends the session here.
 */
static int in_fill(long long deadline)
{
	long long read_deadline = now_ms() + cfg.timeout * 1000LL;
	ssize_t n;

	out_flush();
	if (deadline > read_deadline)
		deadline = read_deadline;
	if (in.pos > 0) {
		memmove(in.buf, in.buf + in.pos, in.end - in.pos);
		in.end -= in.pos;
		in.pos = 0;
	}
	for (;;) {
		int r = terminating ? 0
				    : client_poll(io.in_fd, POLLIN, deadline);

		if (terminating)
			close_with_421("4.3.2", "Shutting down", "terminated");
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			close_with_421("4.4.2", "Timeout", "timeout");
		if (r < 0)
			session_exit(EX_TEMPFAIL, "poll error");
		n = read(io.in_fd, in.buf + in.end, sizeof(in.buf) - in.end);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			session_exit(EX_TEMPFAIL, errno == ECONNRESET
							  ? "connection reset"
							  : "read error");
		if (n == 0)
			return 0;
		in.end += (size_t)n;
		return 1;
	}
}

enum line_result { LINE_OK, LINE_TOO_LONG, LINE_EOF };

/*
 * Reads one command line, ended by LF (CRLF or a bare LF), into line
 * (COMMAND_LINE_MAX + 1 octets), without its line end. The whole line must
 * arrive within -t seconds. An over-long line is read to its end and
 * dropped; line keeps its first COMMAND_LINE_MAX octets, so that the
 * caller can tell what it named.
 */
static enum line_result read_line(char *line, size_t *len)
{
	long long deadline = now_ms() + cfg.timeout * 1000LL;
	size_t have = 0, seen = 0;

	for (;;) {
		const char *start = in.buf + in.pos;
		size_t avail = in.end - in.pos;
		const char *lf = memchr(start, '\n', avail);
		size_t take = lf ? (size_t)(lf - start) + 1 : avail;
		size_t keep = take;

		if (keep > COMMAND_LINE_MAX - have)
			keep = COMMAND_LINE_MAX - have;
		memcpy(line + have, start, keep);
		have += keep;
		seen += take;
		in.pos += take;
		if (lf)
			break;
		if (!in_fill(deadline))
			return LINE_EOF;
	}
	if (seen > COMMAND_LINE_MAX) {
		line[have] = '\0';
		*len = have;
		return LINE_TOO_LONG;
	}
	have--;
	if (have > 0 && line[have - 1] == '\r')
		have--;
	line[have] = '\0';
	*len = have;
	return LINE_OK;
}

/* ---- the PROXY header (HAProxy's PROXY protocol, v1 and v2) ---- */

struct proxy_header {
	size_t length; /* octets of the whole header, once complete */
	int version;
	int keep_peer; /* UNKNOWN, LOCAL or another family: no address */
	int tls;       /* v2: PP2_TYPE_SSL with PP2_CLIENT_SSL */
	struct sockaddr_storage src;
	socklen_t src_len;
};

enum proxy_status { PROXY_MORE, PROXY_DONE, PROXY_BAD };

static const unsigned char proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* A v1 port: 0 to 65535, digits only, no leading zero. */
static int proxy_port(const char *p, size_t n)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 5 || (n > 1 && p[0] == '0'))
		return 0;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	return v <= 65535;
}

/* A v1 address of family af, parsed with inet_pton (which refuses
 * leading zeros in IPv4); the source one is kept in *sa. */
static int proxy_addr(const char *p, size_t n, int af,
		      struct sockaddr_storage *sa, socklen_t *sa_len)
{
	char text[INET6_ADDRSTRLEN];
	struct sockaddr_in s4 = {.sin_family = AF_INET};
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
	int ok;

	if (n == 0 || n >= sizeof(text))
		return 0;
	memcpy(text, p, n);
	text[n] = '\0';
	if (af == AF_INET)
		ok = inet_pton(AF_INET, text, &s4.sin_addr) == 1;
	else
		ok = inet_pton(AF_INET6, text, &s6.sin6_addr) == 1;
	if (!ok || sa == NULL)
		return ok;
	memset(sa, 0, sizeof(*sa));
	if (af == AF_INET)
		memcpy(sa, &s4, sizeof(s4));
	else
		memcpy(sa, &s6, sizeof(s6));
	*sa_len = af == AF_INET ? sizeof(s4) : sizeof(s6);
	return 1;
}

/* Splits the v1 fields after "PROXY " at single spaces: at most 5. */
static size_t proxy_v1_fields(const char *p, size_t n, const char *f[5],
			      size_t len[5])
{
	size_t count = 0, start = 0, i;

	for (i = 0; i <= n; i++) {
		if (i < n && p[i] != ' ')
			continue;
		if (count == 5)
			return 6;
		f[count] = p + start;
		len[count++] = i - start;
		start = i + 1;
	}
	return count;
}

/* The v1 line "PROXY proto src dst sport dport\r\n", complete in p[0..n). */
static enum proxy_status proxy_v1_line(const char *p, size_t n,
				       struct proxy_header *h, const char **why)
{
	const char *f[5];
	size_t len[5], count;
	int af;

	*why = "malformed PROXY v1 header";
	if (n < 8 || p[n - 2] != '\r' || memchr(p, '\0', n) != NULL)
		return PROXY_BAD;
	count = proxy_v1_fields(p + 6, n - 8, f, len);
	h->version = 1;
	h->length = n;
	if (count >= 1 && len[0] == 7 && memcmp(f[0], "UNKNOWN", 7) == 0) {
		h->keep_peer = 1; /* the rest of the line does not matter */
		return PROXY_DONE;
	}
	if (count != 5 || len[0] != 4 || memcmp(f[0], "TCP", 3) != 0 ||
	    (f[0][3] != '4' && f[0][3] != '6'))
		return PROXY_BAD;
	af = f[0][3] == '4' ? AF_INET : AF_INET6;
	if (!proxy_addr(f[1], len[1], af, &h->src, &h->src_len) ||
	    !proxy_addr(f[2], len[2], af, NULL, NULL) ||
	    !proxy_port(f[3], len[3]) || !proxy_port(f[4], len[4]))
		return PROXY_BAD;
	return PROXY_DONE;
}

static enum proxy_status proxy_v1(const unsigned char *buf, size_t n,
				  struct proxy_header *h, size_t *need,
				  const char **why)
{
	const unsigned char *lf = memchr(buf, '\n', n);

	if (memcmp(buf, "PROXY ", n < 6 ? n : 6) != 0) {
		*why = "not a PROXY header";
		return PROXY_BAD;
	}
	if (lf != NULL)
		return proxy_v1_line((const char *)buf, (size_t)(lf - buf) + 1,
				     h, why);
	if (n >= PROXY_V1_MAX) {
		*why = "PROXY v1 header longer than 107 octets";
		return PROXY_BAD;
	}
	/* No valid line is shorter than PROXY_V1_MIN; past that, one octet
	 * at a time, so that nothing after the LF is ever read. */
	*need = n < PROXY_V1_MIN ? PROXY_V1_MIN - n : 1;
	return PROXY_MORE;
}

/* v2 TLVs after the addresses: each must end inside the header. */
static enum proxy_status proxy_v2_tlvs(const unsigned char *p, size_t n,
				       struct proxy_header *h, const char **why)
{
	size_t i = 0;

	while (i < n) {
		size_t len;

		if (n - i < 3) {
			*why = "PROXY v2 TLV runs past the header";
			return PROXY_BAD;
		}
		len = (size_t)p[i + 1] << 8 | p[i + 2];
		if (len > n - i - 3) {
			*why = "PROXY v2 TLV runs past the header";
			return PROXY_BAD;
		}
		/* PP2_TYPE_SSL (0x20): a client octet, whose bit
		 * PP2_CLIENT_SSL says the client spoke TLS to the proxy, and
		 * 4 octets of verify result. */
		if (p[i] == 0x20 && len >= 5 && (p[i + 3] & 0x01))
			h->tls = 1;
		i += 3 + len;
	}
	return PROXY_DONE;
}

/* The v2 header, complete in p[0..n): command, family, addresses, TLVs. */
static enum proxy_status proxy_v2_header(const unsigned char *p, size_t n,
					 struct proxy_header *h,
					 const char **why)
{
	static const struct {
		unsigned char family;
		size_t block;
	} families[] = {{0x00, 0},  {0x11, 12},	 {0x12, 12}, {0x21, 36},
			{0x22, 36}, {0x31, 216}, {0x32, 216}};
	size_t body = n - PROXY_V2_HEAD, block = 0, i;
	int command = p[12] & 0x0f, known = 0;

	h->version = 2;
	h->length = n;
	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if (families[i].family == p[13]) {
			block = families[i].block;
			known = 1;
		}
	*why = "malformed PROXY v2 header";
	if ((p[12] >> 4) != 2 || command > 1)
		return PROXY_BAD;
	if (command == 0) { /* LOCAL: the rest is to be ignored */
		h->keep_peer = 1;
		return PROXY_DONE;
	}
	if (!known || body < block)
		return PROXY_BAD;
	h->keep_peer = p[13] != 0x11 && p[13] != 0x21;
	if (!h->keep_peer) {
		struct sockaddr_in s4 = {.sin_family = AF_INET};
		struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};

		memset(&h->src, 0, sizeof(h->src));
		if (p[13] == 0x11) {
			memcpy(&s4.sin_addr, p + PROXY_V2_HEAD, 4);
			memcpy(&h->src, &s4, sizeof(s4));
			h->src_len = sizeof(s4);
		} else {
			memcpy(&s6.sin6_addr, p + PROXY_V2_HEAD, 16);
			memcpy(&h->src, &s6, sizeof(s6));
			h->src_len = sizeof(s6);
		}
	}
	return proxy_v2_tlvs(p + PROXY_V2_HEAD + block, body - block, h, why);
}

static enum proxy_status proxy_v2(const unsigned char *buf, size_t n,
				  struct proxy_header *h, size_t *need,
				  const char **why)
{
	size_t total;

	if (memcmp(buf, proxy_v2_sig, n < 12 ? n : 12) != 0) {
		*why = "not a PROXY header";
		return PROXY_BAD;
	}
	/* A bad version or command is refused before its length is read. */
	if (n > 12 && ((buf[12] >> 4) != 2 || (buf[12] & 0x0f) > 1)) {
		*why = "malformed PROXY v2 header";
		return PROXY_BAD;
	}
	if (n < PROXY_V2_HEAD) {
		*need = PROXY_V2_HEAD - n;
		return PROXY_MORE;
	}
	total = PROXY_V2_HEAD + ((size_t)buf[14] << 8 | buf[15]);
	if (n < total) {
		*need = total - n;
		return PROXY_MORE;
	}
	return proxy_v2_header(buf, total, h, why);
}

/*
 * Reads a PROXY header from the n octets in buf, which hold no more than
 * the header. PROXY_MORE sets *need to how many more octets may be read
 * without passing the header's end; PROXY_DONE fills h; PROXY_BAD sets
 * *why. The version is told by the first octet.
 */
static enum proxy_status proxy_parse(const unsigned char *buf, size_t n,
				     struct proxy_header *h, size_t *need,
				     const char **why)
{
	memset(h, 0, sizeof(*h));
	*need = 0;
	*why = "";
	if (n == 0) {
		*need = 1;
		return PROXY_MORE;
	}
	if (buf[0] == 'P')
		return proxy_v1(buf, n, h, need, why);
	if (buf[0] == proxy_v2_sig[0])
		return proxy_v2(buf, n, h, need, why);
	*why = "not a PROXY header";
	return PROXY_BAD;
}

/* Reads exactly the PROXY header, within PROXY_SECONDS; anything wrong
 * ends the session before the banner. */
static void proxy_read(struct proxy_header *h)
{
	static unsigned char buf[PROXY_MAX];
	long long deadline = now_ms() + PROXY_SECONDS * 1000LL;
	size_t have = 0, need;
	const char *why;
	enum proxy_status st;

	while ((st = proxy_parse(buf, have, h, &need, &why)) == PROXY_MORE) {
		int r = terminating ? 0
				    : client_poll(io.in_fd, POLLIN, deadline);
		ssize_t n;

		if (terminating)
			session_exit(EX_TEMPFAIL, "terminated");
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			session_exit(EX_TEMPFAIL,
				     "PROXY header not complete in time");
		n = r < 0 ? -1 : read(io.in_fd, buf + have, need);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			session_exit(EX_TEMPFAIL,
				     n == 0 ? "end of input in PROXY header"
					    : "read error in PROXY header");
		have += (size_t)n;
	}
	if (st == PROXY_BAD)
		session_exit(EX_TEMPFAIL, why);
}

/* ---- the peer ---- */

/* Reads a numeric IPv4 or IPv6 address (no scope id) into p->sa. */
static int sockaddr_from_text(const char *text, struct peer *p)
{
	struct sockaddr_in s4 = {.sin_family = AF_INET};
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};

	memset(&p->sa, 0, sizeof(p->sa));
	if (text != NULL && inet_pton(AF_INET, text, &s4.sin_addr) == 1) {
		memcpy(&p->sa, &s4, sizeof(s4));
		p->sa_len = sizeof(s4);
		return 1;
	}
	if (text != NULL && inet_pton(AF_INET6, text, &s6.sin6_addr) == 1) {
		memcpy(&p->sa, &s6, sizeof(s6));
		p->sa_len = sizeof(s6);
		return 1;
	}
	return 0;
}

/* Writes the peer's address as text; inet_ntop, so no resolver code runs
 * for it. */
static int address_text(const struct peer *p, char *buf, size_t size)
{
	const void *addr =
		p->sa.ss_family == AF_INET
			? (const void *)&((const struct sockaddr_in *)&p->sa)
				  ->sin_addr
			: (const void *)&((const struct sockaddr_in6 *)&p->sa)
				  ->sin6_addr;

	return inet_ntop(p->sa.ss_family, addr, buf, (socklen_t)size) != NULL;
}

/* An IPv4 client of a dual-stack socket is shown and looked up as IPv4. */
static void unmap_v4(struct peer *p)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&p->sa;
	struct sockaddr_in s4 = {.sin_family = AF_INET};

	if (p->sa.ss_family != AF_INET6 ||
	    !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return;
	memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
	s4.sin_port = s6->sin6_port;
	memset(&p->sa, 0, sizeof(p->sa));
	memcpy(&p->sa, &s4, sizeof(s4));
	p->sa_len = sizeof(s4);
}

/* Sets peer.addr from peer.sa, when that holds an IP address. */
static void peer_address_text(int ok)
{
	if (ok &&
	    (peer.sa.ss_family == AF_INET || peer.sa.ss_family == AF_INET6)) {
		unmap_v4(&peer);
		if (address_text(&peer, peer.addr, sizeof(peer.addr)))
			return;
	}
	peer.addr[0] = '\0';
}

/* The connection's own peer: the socket's, else the launcher's word. */
static void peer_address(void)
{
	int ok;

	peer.sa_len = sizeof(peer.sa);
	ok = getpeername(io.in_fd, (struct sockaddr *)&peer.sa, &peer.sa_len) ==
	     0;
	if (!ok) {
		const char *ip = getenv("TCPREMOTEIP");
		if (ip == NULL || *ip == '\0')
			ip = getenv("REMOTE_ADDR");
		ok = sockaddr_from_text(ip, &peer);
	}
	peer_address_text(ok);
}

/* With -p: the header's source becomes the peer; the connection's own
 * address (the proxy's) is kept for the log. */
static void peer_from_proxy(const struct proxy_header *h)
{
	if (h->keep_peer) {
		snprintf(peer.proxy, sizeof(peer.proxy), "local");
		return;
	}
	snprintf(peer.proxy, sizeof(peer.proxy), "%s",
		 peer.addr[0] ? peer.addr : "unknown");
	memcpy(&peer.sa, &h->src, sizeof(peer.sa));
	peer.sa_len = h->src_len;
	peer_address_text(1);
}

static int same_address(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			      &((const struct sockaddr_in *)b)->sin_addr,
			      sizeof(struct in_addr)) == 0;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return 0;
}

/* Forward confirmation: does the name lead back to the peer's address?
 * Only addresses of the peer's family can (and no AAAA query for IPv4). */
static int name_confirms(const char *name)
{
	struct addrinfo hints = {.ai_family = peer.sa.ss_family,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *res, *ai;
	int found = 0;

	if (getaddrinfo(name, NULL, &hints, &res) != 0)
		return 0;
	for (ai = res; ai != NULL && !found; ai = ai->ai_next)
		found = same_address(ai->ai_addr, (struct sockaddr *)&peer.sa);
	freeaddrinfo(res);
	return found;
}

/*
 * The lookup runs in a thread of its own, started before the banner, so
 * that the resolver works while the client reads the banner and writes
 * EHLO, and a resolver that never answers can be left behind: the thread
 * fills lookup_answer, publishes it with lookup_done, and wakes the
 * session through a pipe; once the session has stopped waiting it never
 * reads lookup_answer again, and the thread ends with the process.
 */
static struct {
	char host[NI_MAXHOST]; /* "" when there is no name */
	int confirmed;
	int wake[2]; /* the thread writes one octet to wake[1] when done */
	pthread_t thread;
} lookup_answer HOT;
static atomic_int lookup_done HOT;

/*
 * The thread's stack: the session's own mapping, unmapped once the thread
 * has been joined (glibc would keep a stack it made, in its cache). Its
 * lowest page is a guard: glibc puts none below a stack it is given, and
 * a resolver that ran past the end must fault, not write over whatever
 * lies below.
 */
#define LOOKUP_STACK_SIZE ((size_t)256 * 1024)
static struct {
	char *map;
	size_t len, guard;
} lookup_stack HOT;

/* Maps the stack and its guard page; 0 when it cannot. */
static int lookup_stack_map(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p;

	if (page <= 0)
		return 0;
	p = mmap(NULL, LOOKUP_STACK_SIZE + (size_t)page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	if (mprotect(p, (size_t)page, PROT_NONE) != 0) {
		munmap(p, LOOKUP_STACK_SIZE + (size_t)page);
		return 0;
	}
	lookup_stack.map = p;
	lookup_stack.guard = (size_t)page;
	lookup_stack.len = LOOKUP_STACK_SIZE + (size_t)page;
	return 1;
}

static void *lookup_thread(void *unused)
{
	(void)unused;
	if (getnameinfo((struct sockaddr *)&peer.sa, peer.sa_len,
			lookup_answer.host, sizeof(lookup_answer.host), NULL, 0,
			NI_NAMEREQD) != 0)
		lookup_answer.host[0] = '\0';
	else
		lookup_answer.confirmed = name_confirms(lookup_answer.host);
	atomic_store_explicit(&lookup_done, 1, memory_order_release);
	if (write(lookup_answer.wake[1], "", 1) < 0) {
		/* the session stopped waiting and closed its end */
	}
	close(lookup_answer.wake[1]);
	return NULL;
}

static void peer_lookup_start(void)
{
	pthread_attr_t attr;
	int started;

	snprintf(peer.name, sizeof(peer.name), "unknown");
	peer.lookup = LOOKUP_DONE;
	if (!cfg.resolve || peer.addr[0] == '\0')
		return;
	if (!lookup_stack_map())
		return;
	if (pipe2(lookup_answer.wake, O_CLOEXEC) != 0) {
		munmap(lookup_stack.map, lookup_stack.len);
		return;
	}
	/* The resolver's few allocations need no malloc arena of their own
	 * (a 64 MB mapping, and dirty pages for the rest of the session). */
	mallopt(M_ARENA_MAX, 1);
	pthread_attr_init(&attr);
	started = pthread_attr_setstack(&attr,
					lookup_stack.map + lookup_stack.guard,
					LOOKUP_STACK_SIZE) == 0 &&
		  pthread_create(&lookup_answer.thread, &attr, lookup_thread,
				 NULL) == 0;
	pthread_attr_destroy(&attr);
	if (!started) {
		close(lookup_answer.wake[0]);
		close(lookup_answer.wake[1]);
		munmap(lookup_stack.map, lookup_stack.len);
		return;
	}
	peer.lookup_fd = lookup_answer.wake[0];
	peer.lookup_deadline = now_ms() + RESOLVE_SECONDS * 1000LL;
	peer.lookup = LOOKUP_RUNNING;
}

/* A name is usable when it has a letter or digit and is not an address
 * in disguise (a PTR record may say "127.0.0.1"). */
static int name_usable(const char *name)
{
	unsigned char scratch[sizeof(struct in6_addr)];
	const char *c;

	for (c = name; *c != '\0'; c++)
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9'))
			break;
	if (*c == '\0')
		return 0;
	return inet_pton(AF_INET, name, scratch) != 1 &&
	       inet_pton(AF_INET6, name, scratch) != 1;
}

/* Stops waiting for the lookup. A thread that has ended is joined, and
 * the memory it used given back; one still running is left to end with
 * the process, and its answer is never read. */
static void peer_lookup_stop(void)
{
	if (peer.lookup != LOOKUP_RUNNING)
		return;
	close(peer.lookup_fd);
	peer.lookup = LOOKUP_DONE;
	if (!atomic_load_explicit(&lookup_done, memory_order_acquire)) {
		pthread_detach(lookup_answer.thread);
		return;
	}
	pthread_join(lookup_answer.thread, NULL);
	munmap(lookup_stack.map, lookup_stack.len);
	malloc_trim(0);
}

/* Waits, within the lookup's bound, for the peer's name. */
static void peer_lookup_finish(void)
{
	struct pollfd p = {.fd = peer.lookup_fd, .events = POLLIN};
	int r;

	if (peer.lookup != LOOKUP_RUNNING)
		return;
	do
		r = poll(&p, 1, poll_ms(peer.lookup_deadline));
	while (r < 0 && errno == EINTR);
	peer_lookup_stop();
	if (!atomic_load_explicit(&lookup_done, memory_order_acquire) ||
	    lookup_answer.host[0] == '\0')
		return;
	name_sanitize(peer.name, sizeof(peer.name), lookup_answer.host,
		      strlen(lookup_answer.host), sizeof(peer.name) - 1,
		      NAME_HOST);
	peer.confirmed = lookup_answer.confirmed;
	if (!name_usable(peer.name)) {
		snprintf(peer.name, sizeof(peer.name), "unknown");
		peer.confirmed = 0;
	}
}

/* ---- logging: syslog only, never the client ---- */

/*
 * Every field that comes from the client is written by log_quote(): in
 * quotes, with escapes, so that "EHLO x messages=9 end=quit" cannot make
 * a line that seems to say more than it does. The rest are smtpd's own.
 */
static void session_exit(int status, const char *why)
{
	char helo[COMMAND_LINE_MAX * 2], proxy[ADDR_TEXT_MAX + 8] = "";

	out_flush();
	peer_lookup_stop();
	if (cfg.proxy)
		snprintf(proxy, sizeof(proxy), " proxy=%s",
			 peer.proxy[0] ? peer.proxy : "none");
	syslog(LOG_INFO,
	       "session peer=%s [%s] helo=%s tls=%s%s messages=%u end=%s",
	       peer.name[0] ? peer.name : "unknown", peer.addr,
	       log_quote(helo, sizeof(helo), ss.helo, strlen(ss.helo)),
	       ss.tls ? "yes" : "no", proxy, ss.messages, why);
	exit(status);
}

/* ---- addresses: the RFC 5321 grammar, read once ---- */

/*
 * RFC 3629: well-formed UTF-8 (no overlong forms, no surrogates, nothing
 * past U+10FFFF), and no C1 control (U+0080 to U+009F), which some
 * terminals and log readers obey like their 7-bit twins.
 */
/* How long a UTF-8 sequence that starts with c is; 0 when none may. */
static size_t utf8_length(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0; /* a continuation octet, C0, C1 (overlong) or F5-FF */
}

static int utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = p[i];
		size_t len = utf8_length(c);
		unsigned char lo = 0x80, hi = 0xbf;
		size_t k;

		if (len == 0 || len > n - i)
			return 0;
		if (c == 0xe0 || c == 0xc2)
			lo = 0xa0; /* E0: overlong; C2: C1 controls */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
		else if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* past U+10FFFF */
		for (k = 1; k < len; k++) {
			unsigned char b = p[i + k];
			if (b < (k == 1 ? lo : 0x80) ||
			    b > (k == 1 ? hi : 0xbf))
				return 0;
		}
		i += len;
	}
	return 1;
}

static int is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* RFC 5322 atext, and with SMTPUTF8 any octet of a UTF-8 sequence (RFC
 * 6531 3.3; the sequences were checked as a whole before). */
static int is_atext(unsigned char c, int utf8)
{
	return is_alnum(c) ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL) ||
	       (utf8 && c >= 0x80);
}

/* Dot-string = Atom *("." Atom). */
static int dot_string(const unsigned char *p, size_t n, int utf8)
{
	size_t i;

	if (n == 0 || p[0] == '.' || p[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (p[i] == '.' ? p[i + 1] == '.' : !is_atext(p[i], utf8))
			return 0;
	return 1;
}

/*
 * Quoted-string = DQUOTE *QcontentSMTP DQUOTE, p[0] being the opening
 * quote; returns the length through the closing quote, or 0. Besides the
 * grammar's own limits, the content may not hold '@', ',', ';', ':', '<'
 * or '>', quoted or escaped: sendmail and MTAs read those as list, route
 * or address delimiters even inside quotes, so such a local part could
 * become more than one address, or one somewhere else.
 */
static size_t quoted_string(const unsigned char *p, size_t n, int utf8)
{
	size_t i;

	for (i = 1; i < n; i++) {
		unsigned char c = p[i];

		if (c == '"')
			return i > 1 ? i + 1
				     : 0; /* "" is an empty local part */
		if (c == '\\' && i + 1 < n && p[i + 1] >= 32 && p[i + 1] < 127)
			c = p[++i];
		else if (c == '\\' || (c < 32 && c != 0) || c == 127 ||
			 (c >= 0x80 && !utf8))
			return 0;
		if (c == 0 || strchr("@,;:<>", c) != NULL)
			return 0;
	}
	return 0;
}

/* Domain = sub-domain *("." sub-domain), each a letter or digit, then
 * letters, digits and '-', ending in a letter or digit, at most 63; with
 * SMTPUTF8 a U-label's octets count as letters (RFC 6531 3.3). */
static int domain_name(const unsigned char *p, size_t n, int utf8)
{
	size_t i, label = 0;

	if (n == 0 || n > DOMAIN_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		int letter = is_alnum(p[i]) || (utf8 && p[i] >= 0x80);

		if (p[i] == '.') {
			if (label == 0 || p[i - 1] == '-')
				return 0;
			label = 0;
		} else if (letter || (p[i] == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	return label > 0 && p[n - 1] != '-';
}

/* address-literal: "[" IPv4 or "IPv6:" IPv6 "]", read by inet_pton. */
static int address_literal(const unsigned char *p, size_t n)
{
	char text[INET6_ADDRSTRLEN + 8];
	unsigned char scratch[sizeof(struct in6_addr)];

	if (n < 3 || p[0] != '[' || p[n - 1] != ']' || n - 2 >= sizeof(text))
		return 0;
	memcpy(text, p + 1, n - 2);
	text[n - 2] = '\0';
	if (strncasecmp(text, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, text + 5, scratch) == 1;
	return inet_pton(AF_INET, text, scratch) == 1;
}

/* A Mailbox as the grammar read it: what -a checks, what the log shows
 * and what the maildrop's argv gets are this, never another reading. */
struct mailbox {
	char text[ADDRESS_MAX + 1]; /* as sent, without a source route */
	size_t local_len;	    /* text[0..local_len) is the local part */
	const char *domain;	    /* in text; NULL for bare postmaster */
	int routing;		    /* '@', '%' or '!' in the local part */
};

enum addr_error {
	ADDR_OK,
	ADDR_SYNTAX,	  /* no path: 501 */
	ADDR_TOO_LONG,	  /* 501 */
	ADDR_UNSAFE,	  /* leading '-', space or control: 553 */
	ADDR_EIGHT_BIT,	  /* 8-bit without SMTPUTF8: 550/553 5.6.7 */
	ADDR_BAD_UTF8,	  /* 553 */
	ADDR_NOT_MAILBOX, /* 553 */
};

/*
 * The address becomes one argv element of the maildrop. A leading '-'
 * would make it an option (sendmail -oQ, -X: CVE-2020-7247's kin), and
 * control bytes or spaces could split or forge a line downstream.
 */
static enum addr_error address_bytes(const unsigned char *p, size_t n, int utf8)
{
	size_t i;
	int eight_bit = 0;

	if (n > ADDRESS_MAX)
		return ADDR_TOO_LONG;
	if (n > 0 && p[0] == '-')
		return ADDR_UNSAFE;
	for (i = 0; i < n; i++) {
		if (p[i] <= ' ' || p[i] == 0x7f)
			return ADDR_UNSAFE;
		eight_bit |= p[i] >= 0x80;
	}
	if (eight_bit && !utf8)
		return ADDR_EIGHT_BIT;
	if (eight_bit && !utf8_valid(p, n))
		return ADDR_BAD_UTF8;
	return ADDR_OK;
}

/*
 * Reads p[0..n) as a Mailbox (RFC 5321 4.1.2: Local-part "@" (Domain /
 * address-literal)), or for a recipient also the bare "postmaster" (RFC
 * 5321 4.5.1). utf8: the transaction's MAIL carried SMTPUTF8.
 */
static enum addr_error mailbox_parse(const char *text, size_t n, int utf8,
				     int rcpt, struct mailbox *mb)
{
	const unsigned char *p = (const unsigned char *)text;
	enum addr_error e = address_bytes(p, n, utf8);
	size_t local;
	const unsigned char *domain;

	if (e != ADDR_OK)
		return e;
	memcpy(mb->text, text, n);
	mb->text[n] = '\0';
	mb->domain = NULL;
	mb->routing = 0;
	mb->local_len = n;
	if (rcpt && n == 10 && strncasecmp(text, "postmaster", 10) == 0)
		return ADDR_OK;
	if (n > 0 && p[0] == '"') {
		local = quoted_string(p, n, utf8);
	} else {
		const unsigned char *at = memchr(p, '@', n);
		local = at != NULL ? (size_t)(at - p) : n;
	}
	if (local == 0 || local >= n || p[local] != '@' ||
	    (p[0] != '"' && !dot_string(p, local, utf8)))
		return ADDR_NOT_MAILBOX;
	domain = p + local + 1;
	if (local + 1 == n ||
	    (domain[0] == '[' ? !address_literal(domain, n - local - 1)
			      : !domain_name(domain, n - local - 1, utf8)))
		return ADDR_NOT_MAILBOX;
	mb->local_len = local;
	mb->domain = mb->text + local + 1;
	mb->routing = memchr(p, '@', local) != NULL ||
		      memchr(p, '%', local) != NULL ||
		      memchr(p, '!', local) != NULL;
	return ADDR_OK;
}

/* A-d-l = At-domain *( "," At-domain ), At-domain = "@" Domain. */
static int source_route(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const char *comma = memchr(p + i, ',', n - i);
		size_t end = comma != NULL ? (size_t)(comma - p) : n;

		const unsigned char *d = (const unsigned char *)p + i + 1;

		if (p[i] != '@' || end == i + 1 ||
		    !(d[0] == '[' ? address_literal(d, end - i - 1)
				  : domain_name(d, end - i - 1, 0)))
			return 0;
		i = end + (comma != NULL);
		if (comma != NULL && i == n)
			return 0;
	}
	return 1;
}

/*
 * Finds the path of "KEYWORD:<path> params" (keyword "FROM" or "TO"):
 * sets *addr and *len to the address without a source route, and *params
 * to what follows the path. The address itself is mailbox_parse()'s.
 */
static enum addr_error path_parse(char *arg, const char *keyword,
				  const char **addr, size_t *len, char **params)
{
	size_t klen = strlen(keyword);
	char *p = arg, *end;

	if (strncasecmp(p, keyword, klen) != 0 || p[klen] != ':')
		return ADDR_SYNTAX;
	p += klen + 1;
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return ADDR_SYNTAX;
	if (*p == '<') {
		int quoted = 0;

		/* The '>' that closes the path, past quoted strings. */
		for (end = ++p; *end != '\0'; end++) {
			if (quoted && *end == '\\' && end[1] != '\0')
				end++;
			else if (*end == '"')
				quoted = !quoted;
			else if (!quoted && *end == '>')
				break;
		}
		if (*end != '>')
			return ADDR_SYNTAX;
		*params = end + 1;
	} else {
		end = strchrnul(p, ' ');
		*params = end;
	}
	if (**params != '\0' && **params != ' ')
		return ADDR_SYNTAX;
	/* RFC 5321 4.1.2: a source route (A-d-l ":") is accepted and
	 * dropped; what is left must still be a whole Mailbox. */
	if (*p == '@') {
		char *colon = memchr(p, ':', (size_t)(end - p));
		if (colon == NULL || colon + 1 == end ||
		    !source_route(p, (size_t)(colon - p)))
			return ADDR_SYNTAX;
		p = colon + 1;
	}
	*addr = p;
	*len = (size_t)(end - p);
	return ADDR_OK;
}

/* ---- the envelope ---- */

/*
 * A client may not hold a session without sending mail: past JUNK_LIMIT
 * junk commands (HELO, EHLO, NOOP, VRFY, HELP, RSET, a RCPT past -r, a
 * message that was not accepted) since the session began or since the
 * last accepted message, the session ends, whatever each was answered.
 */
static void count_junk(void)
{
	if (++ss.junk > JUNK_LIMIT)
		close_with_421("4.7.0", "Too many commands without mail",
			       "too many commands without mail");
}

static void refuse_address(enum addr_error e, int rcpt)
{
	const char *what = rcpt ? "recipient" : "sender";
	char sub = rcpt ? '3' : '7'; /* X.1.3 and X.1.7: bad syntax */

	switch (e) {
	case ADDR_OK:
		break;
	case ADDR_SYNTAX:
		refuse(501, "5.5.4 Syntax: %s",
		       rcpt ? "RCPT TO:<address>" : "MAIL FROM:<address>");
		break;
	case ADDR_TOO_LONG:
		refuse(501, "5.1.%c %s address too long", sub, what);
		break;
	case ADDR_UNSAFE:
		refuse(553,
		       "5.1.%c %s address refused: it starts with '-' or "
		       "holds a space or control byte",
		       sub, what);
		break;
	case ADDR_EIGHT_BIT: /* RFC 6531 3.5 */
		refuse(rcpt ? 553 : 550,
		       "5.6.7 %s address holds 8-bit octets; MAIL needs "
		       "SMTPUTF8",
		       what);
		break;
	case ADDR_BAD_UTF8:
		refuse(553, "5.1.%c %s address is not well-formed UTF-8", sub,
		       what);
		break;
	case ADDR_NOT_MAILBOX:
		refuse(553, "5.1.%c %s address is not a mailbox (local@domain)",
		       sub, what);
		break;
	}
}

/*
 * Reads a decimal number of one or more digits and nothing else: returns 0
 * when s is not one. A value past 2^64-1 sets *overflow and is not cut to
 * 2^64-1, which would make SIZE=18446744073709551616 equal
 * -s 18446744073709551615 (the qmail CVE-2005-1513 family).
 */
static int decimal(const char *s, unsigned long long *value, int *overflow)
{
	unsigned long long n = 0;

	*overflow = 0;
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		unsigned digit = (unsigned)(*s - '0');

		if (*s < '0' || *s > '9')
			return 0;
		if (n > (ULLONG_MAX - digit) / 10)
			*overflow = 1;
		else
			n = n * 10 + digit;
	}
	*value = n;
	return 1;
}

/* Reads a SIZE= value: returns 0 when it is not a decimal number, else sets
 * *over when it exceeds -s. */
static int size_param(const char *v, int *over)
{
	unsigned long long n = 0;
	int overflow;

	if (!decimal(v, &n, &overflow))
		return 0;
	*over = cfg.size_limit != 0 && (overflow || n > cfg.size_limit);
	return 1;
}

/* Cuts the next space-separated word out of *rest, in place; NULL when
 * there is none. */
static char *next_word(char **rest)
{
	char *word = *rest, *end;

	while (*word == ' ')
		word++;
	if (*word == '\0')
		return NULL;
	end = strchrnul(word, ' ');
	*rest = *end != '\0' ? end + 1 : end;
	*end = '\0';
	return word;
}

/* Checks MAIL parameters, noting SMTPUTF8 in *utf8; returns 0 after
 * replying when one is bad. */
static int mail_params(char *params, int *utf8)
{
	char *param;

	*utf8 = 0;
	while ((param = next_word(&params)) != NULL) {
		int over = 0;

		if (strncasecmp(param, "SIZE=", 5) == 0) {
			if (!size_param(param + 5, &over)) {
				refuse(501, "5.5.4 Syntax: SIZE=octets");
				return 0;
			}
			if (over) {
				refuse(552,
				       "5.3.4 Message size exceeds fixed "
				       "limit of %llu octets",
				       cfg.size_limit);
				return 0;
			}
		} else if (strcasecmp(param, "SMTPUTF8") == 0) {
			*utf8 = 1; /* RFC 6531: no value; SMTPUTF8=x is 555 */
		} else if (strcasecmp(param, "BODY=7BIT") != 0 &&
			   strcasecmp(param, "BODY=8BITMIME") != 0) {
			refuse(555, "5.5.4 Unsupported MAIL parameter");
			return 0;
		}
	}
	return 1;
}

static int domain_accepted(const struct mailbox *mb)
{
	size_t i;

	if (cfg.domain_count == 0)
		return 1;
	for (i = 0; mb->domain != NULL && i < cfg.domain_count; i++)
		if (strcasecmp(mb->domain, cfg.domains[i]) == 0)
			return 1;
	return 0;
}

static int rcpt_add(const char *addr)
{
	if (ss.rcpt_count == ss.rcpt_cap) {
		size_t cap = ss.rcpt_cap ? ss.rcpt_cap * 2 : 8;
		char **grown = realloc(ss.rcpt, cap * sizeof(*grown));
		if (grown == NULL)
			return 0;
		ss.rcpt = grown;
		ss.rcpt_cap = cap;
	}
	ss.rcpt[ss.rcpt_count] = strdup(addr);
	if (ss.rcpt[ss.rcpt_count] == NULL)
		return 0;
	ss.rcpt_count++;
	return 1;
}

/* ---- the message: one path for DATA and BDAT ---- */

enum data_state {
	D_BOL,	  /* at the start of a line: after CR LF, or first */
	D_TEXT,	  /* inside a line */
	D_CR,	  /* after a CR inside a line */
	D_DOT,	  /* DATA: after a '.' that starts a line */
	D_DOT_CR, /* DATA: after ".CR" at the start of a line */
	D_END,	  /* DATA: after CR LF . CR LF: the message is complete */
};

enum { BAD_BARE_LF = 1, BAD_BARE_CR = 2, BAD_NUL = 4 };

/*
 * One byte machine reads both kinds of message. DATA's dots are its own
 * (unstuffing, the end marker); BDAT's chunks are taken as they are, but
 * line ends, NULs and the size are checked the same way, across chunks.
 *
 * The message is kept in place. What the machine keeps of a chunk of
 * input is never longer than what it has read of that chunk: it drops
 * dots and CRs, and keeps nothing of a message it refuses, the only kind
 * in which a CR held from the last chunk would have to be written late.
 * So the kept octets are written back at out, behind the read position,
 * and go to the spool from there, one write a chunk, with no buffer and
 * no copy of their own.
 */
struct message {
	enum data_state state;
	int bdat; /* chunks of BDAT, not DATA */
	int bad;  /* BAD_* bits: the message is refused */
	int too_big;
	int spool_error;
	int spool;
	int in_memory;		    /* the spool is a memfd, not yet a file */
	unsigned long long spooled; /* octets in the spool */
	long long start;	    /* when DATA or the first BDAT came */
	unsigned long long size;    /* unstuffed, CR LF counted as two */
	unsigned long long wire;    /* octets read for the message */
	char *out;		    /* where the next kept octet goes */
};

/* The message of the transaction; its spool is open only while the
 * message is being received. */
static struct message message = {.spool = -1};

static void spool_close(void)
{
	if (message.spool >= 0)
		close(message.spool);
	message.spool = -1;
}

static int spool_open(void)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	int fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	/* Unlinked from the start: nothing is left behind if smtpd dies. */
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if ((size_t)snprintf(path, sizeof(path), "%s/smtpd.XXXXXX", dir) >=
	    sizeof(path))
		return -1;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

/*
 * A message begins in memory (memfd_create), and moves to an unlinked
 * file in TMPDIR once it passes SPOOL_MEMORY_MAX: creating a file for
 * every small message cost more than the rest of a session (a new inode
 * on ext4, 50 to 300 us), while a big one must not hold memory.
 */
static int spool_begin(struct message *m)
{
	int fd = memfd_create("smtpd-spool", MFD_CLOEXEC);

	m->in_memory = fd >= 0;
	return fd >= 0 ? fd : spool_open();
}

/* Writes all n octets at p to fd; 0 on an error. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0;
		p += w;
		n -= (size_t)w;
	}
	return 1;
}

/* Copies the first size octets of from to to, where sendfile() cannot
 * (a file system that takes no splice: EINVAL). */
static int spool_copy_by_read(int to, int from, off_t at, off_t size)
{
	char buf[16384];

	while (at < size) {
		size_t want = size - at < (off_t)sizeof(buf)
				      ? (size_t)(size - at)
				      : sizeof(buf);
		ssize_t n = pread(from, buf, want, at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || !write_all(to, buf, (size_t)n))
			return 0;
		at += n;
	}
	return 1;
}

/* Moves the spool from memory to a file; 0 when it cannot. */
static int spool_to_file(struct message *m)
{
	int fd = spool_open();
	off_t from = 0, size = (off_t)m->spooled;
	int copied = 1;

	if (fd < 0)
		return 0;
	while (from < size) {
		ssize_t n =
			sendfile(fd, m->spool, &from, (size_t)(size - from));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
			copied = spool_copy_by_read(fd, m->spool, from, size);
			break;
		}
		if (n <= 0) {
			copied = 0;
			break;
		}
	}
	if (!copied) {
		close(fd);
		return 0;
	}
	close(m->spool);
	m->spool = fd;
	m->in_memory = 0;
	return 1;
}

static void spool_write(struct message *m, const char *p, size_t n)
{
	if (m->in_memory && !m->spool_error &&
	    m->spooled + n > SPOOL_MEMORY_MAX && !spool_to_file(m))
		m->spool_error = 1;
	m->spooled += n;
	if (!m->spool_error && !write_all(m->spool, p, n))
		m->spool_error = 1;
}

/* A refused, over-size or unspoolable message keeps nothing more. */
static int keeping(const struct message *m)
{
	return !m->bad && !m->too_big && !m->spool_error;
}

/* Spools what was kept of the chunk that starts at start. */
static void spool_kept(struct message *m, const char *start)
{
	if (keeping(m))
		spool_write(m, start, (size_t)(m->out - start));
}

/* Counts message octets against -s. */
static void size_add(struct message *m, size_t counted)
{
	m->size += counted;
	if (cfg.size_limit != 0 && m->size > cfg.size_limit)
		m->too_big = 1;
}

/* Message octets: counted against -s, and kept while the message may
 * still be delivered. */
static void body_put(struct message *m, const char *p, size_t n,
		     unsigned counted)
{
	size_add(m, counted);
	if (!keeping(m))
		return;
	memmove(m->out, p, n);
	m->out += n;
}

/* A whole line that ended in CR LF: its text and an LF are kept, and it
 * counts with both octets of its CR LF. */
static void spool_line(struct message *m, const char *p, size_t len)
{
	size_add(m, len + 2);
	if (!keeping(m))
		return;
	if (m->out != p)
		memmove(m->out, p, len);
	m->out[len] = '\n';
	m->out += len + 1;
}

/* One byte inside a line (D_TEXT's rules); NUL is noted, not kept. */
static void data_text_byte(struct message *m, char c)
{
	m->state = D_TEXT;
	if (c == '\r')
		m->state = D_CR;
	else if (c == '\n') {
		/* A bare LF ends no line: it can never start the ".CRLF" that
		 * ends the data (SMTP smuggling, CVE-2023-51764). */
		m->bad |= BAD_BARE_LF;
		size_add(m, 1); /* refused: counted, no longer kept */
	} else if (c == '\0')
		m->bad |= BAD_NUL;
	else
		body_put(m, &c, 1, 1);
}

static void data_byte(struct message *m, char c)
{
	switch (m->state) {
	case D_BOL:
		if (c == '.' && !m->bdat)
			m->state = D_DOT;
		else
			data_text_byte(m, c);
		break;
	case D_CR:
		if (c == '\n') {
			body_put(m, "\n", 1, 2);
			m->state = D_BOL;
			break;
		}
		m->bad |= BAD_BARE_CR;
		size_add(m, 1); /* the CR: counted, no longer kept */
		data_text_byte(m, c);
		break;
	case D_DOT: /* the leading dot is removed (RFC 5321 4.5.2) */
		if (c == '\r')
			m->state = D_DOT_CR;
		else
			data_text_byte(m, c);
		break;
	case D_DOT_CR:
		if (c == '\n') {
			m->state = D_END;
			break;
		}
		m->state = D_CR;
		data_byte(m, c);
		break;
	case D_TEXT:
	case D_END:
		data_text_byte(m, c);
		break;
	}
}

/*
 * The fast path, for a line's text (state D_TEXT, or D_BOL before anything
 * but a DATA dot), over octets that hold no NUL; to_cr is how far the next
 * CR is (n when there is none). Takes the text up to the next CR or LF,
 * with the CR LF after it when that comes first. Returns the octets taken;
 * 0 leaves the byte at p to data_byte(), which alone sees bare CRs, bare
 * LFs, NULs and dots at the start of a line, and so alone can end the
 * data. Each octet is searched once: a text of bare LFs costs no more than
 * one of CR LFs.
 */
static size_t data_text_run(struct message *m, const char *p, size_t to_cr,
			    size_t n)
{
	const char *lf = memchr(p, '\n', to_cr);
	size_t len = lf != NULL ? (size_t)(lf - p) : to_cr;

	if (lf == NULL && to_cr + 1 < n && p[to_cr + 1] == '\n') {
		spool_line(m, p, len);
		m->state = D_BOL;
		return len + 2;
	}
	if (len == 0)
		return 0;
	body_put(m, p, len, (unsigned)len);
	m->state = D_TEXT;
	return len;
}

/* Where the fast path must stop in p[from..n): at the next NUL. */
static size_t nul_free_end(const char *p, size_t from, size_t n)
{
	const char *nul = memchr(p + from, '\0', n - from);

	return nul != NULL ? (size_t)(nul - p) : n;
}

/* Where the next CR is in p[from..n), n when there is none. */
static size_t next_cr(const char *p, size_t from, size_t n)
{
	const char *cr = memchr(p + from, '\r', n - from);

	return cr != NULL ? (size_t)(cr - p) : n;
}

/* Feeds a chunk of received bytes to the machine, which keeps the message
 * in place in it and spools that; returns how many octets it took (DATA
 * stops after the end of the data and leaves what follows as it was). */
static size_t data_feed(struct message *m, char *p, size_t n)
{
	size_t i = 0, clean = nul_free_end(p, 0, n), cr = next_cr(p, 0, clean);

	m->out = p;
	while (i < n && m->state != D_END) {
		if (i < clean &&
		    (m->state == D_TEXT ||
		     (m->state == D_BOL && (p[i] != '.' || m->bdat)))) {
			size_t took;

			if (cr < i)
				cr = next_cr(p, i, clean);
			took = data_text_run(m, p + i, cr - i, clean - i);
			if (took > 0) {
				i += took;
				continue;
			}
		}
		data_byte(m, p[i++]);
		if (i > clean) {
			clean = nul_free_end(p, i, n);
			cr = next_cr(p, i, clean);
		}
	}
	spool_kept(m, p);
	m->wire += i;
	return i;
}

/*
 * The message's deadline: -t seconds, plus one second for every
 * DATA_MIN_RATE octets received (counting at most -s of them), so a client
 * must keep up an average of 10 KiB/s once the first -t seconds are spent.
 * For BDAT it runs from the first chunk across all of them.
 */
static long long data_deadline(long long start, unsigned long long wire)
{
	if (cfg.size_limit != 0 && wire > cfg.size_limit)
		wire = cfg.size_limit;
	return start + cfg.timeout * 1000LL +
	       (long long)(wire / DATA_MIN_RATE) * 1000;
}

/* RFC 3848 and RFC 6531 names for how the message came. */
static const char *protocol_name(void)
{
	if (ss.utf8)
		return ss.tls ? "UTF8SMTPS" : "UTF8SMTP";
	if (!ss.esmtp)
		return "SMTP";
	return ss.tls ? "ESMTPS" : "ESMTP";
}

static void received_put(struct message *m)
{
	char header[2048], date[64];
	struct received r = {
		.helo = ss.helo,
		.peer = peer.name,
		.peer_confirmed = peer.confirmed,
		.addr = peer.addr,
		.name = cfg.name,
		.protocol = protocol_name(),
		.date = date,
	};
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	spool_write(m, header, received_header(header, sizeof(header), &r));
}

/* A new message: its spool, with the Received: header first. */
static void message_begin(struct message *m, int bdat)
{
	spool_close();
	memset(m, 0, sizeof(*m));
	m->bdat = bdat;
	m->start = now_ms();
	m->spool = spool_begin(m);
	if (m->spool < 0)
		m->spool_error = 1;
	received_put(m);
}

/* ---- the maildrop ---- */

/* The session fuzzer (test/fuzz/) stands in its own recorder here. */
#ifndef MAILDROP_RUN
#define MAILDROP_RUN maildrop_run
#endif

struct drop_result {
	int status;	 /* from waitpid, when ran */
	int ran;	 /* the maildrop started */
	int spawn_errno; /* why it could not start */
	int timed_out;	 /* killed after -m seconds */
	int lost;	 /* reaped by someone else: its end is unknown */
	char output[MAILDROP_LOG_MAX + 1];
};

/* The maildrop's argv: %F is the sender, %T the recipients, one argument
 * each; without %T the recipients follow the last argument. */
static char **maildrop_argv(void)
{
	size_t n = 0, i, j, count = 1;
	int has_t = 0, a;
	char **argv;

	for (a = 0; a < cfg.maildrop_argc; a++) {
		int is_t = strcmp(cfg.maildrop[a], "%T") == 0;
		has_t |= is_t;
		count += is_t ? ss.rcpt_count : 1;
	}
	if (!has_t)
		count += ss.rcpt_count;
	argv = calloc(count, sizeof(*argv));
	if (argv == NULL)
		return NULL;
	for (a = 0; a < cfg.maildrop_argc; a++) {
		if (strcmp(cfg.maildrop[a], "%T") == 0)
			for (j = 0; j < ss.rcpt_count; j++)
				argv[n++] = ss.rcpt[j];
		else if (strcmp(cfg.maildrop[a], "%F") == 0)
			argv[n++] = ss.sender;
		else
			argv[n++] = cfg.maildrop[a];
	}
	for (i = 0; !has_t && i < ss.rcpt_count; i++)
		argv[n++] = ss.rcpt[i];
	argv[n] = NULL;
	return argv;
}

/*
 * The maildrop's child, between vfork() and exec: it shares smtpd's
 * memory, so it only calls what is safe there (smtpd installs no signal
 * handler that could run in it). It resets just what smtpd changed:
 * SIGPIPE and SIGXFSZ, ignored in smtpd, are the maildrop's to die of,
 * and SIGTERM, blocked in smtpd, is not blocked there. posix_spawn() does
 * the same job but resets every signal, about 130 system calls.
 */
static void maildrop_child(int spool, int output, char **argv, char **envp,
			   volatile int *child_errno)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t unblocked;

	sigemptyset(&unblocked);
	if (dup2(spool, 0) == 0 && dup2(output, 1) == 1 &&
	    dup2(output, 2) == 2 && setpgid(0, 0) == 0 &&
	    sigaction(SIGPIPE, &dfl, NULL) == 0 &&
	    sigaction(SIGXFSZ, &dfl, NULL) == 0 &&
	    sigprocmask(SIG_SETMASK, &unblocked, NULL) == 0)
		execvpe(argv[0], argv, envp);
	*child_errno = errno;
	_exit(127);
}

/* vfork() returns twice: kept in a function of its own, in which nothing
 * changes after it, so no variable can be clobbered. */
static __attribute__((noinline)) pid_t
vfork_exec(int spool, int output, char **argv, char **envp, int *err)
{
	volatile int child_errno = 0;
	/* The child calls only what is safe after vfork() (maildrop_child),
	 * and smtpd has no signal handler to run in it. */
	// NOLINTNEXTLINE(clang-analyzer-security.insecureAPI.vfork)
	pid_t pid = vfork();

	if (pid == 0)
		// NOLINTNEXTLINE(clang-analyzer-unix.Vfork)
		maildrop_child(spool, output, argv, envp, &child_errno);
	*err = pid < 0 ? errno : child_errno;
	return pid;
}

/*
 * The maildrop's environment: smtpd's, which holds no SMTPUTF8 of the
 * launcher's (removed at start), and for an SMTPUTF8 message SMTPUTF8=1
 * (RFC 6531). A copy, not setenv(): the lookup thread may be reading the
 * environment inside the resolver at this moment.
 */
static char **maildrop_envp(void)
{
	static char smtputf8[] = "SMTPUTF8=1";
	size_t n = 0;
	char **envp;

	while (environ[n] != NULL)
		n++;
	envp = calloc(n + 2, sizeof(*envp));
	if (envp == NULL)
		return NULL;
	memcpy(envp, environ, n * sizeof(*envp));
	if (ss.utf8)
		envp[n] = smtputf8;
	return envp;
}

static pid_t maildrop_spawn(int spool, int output, int *err)
{
	char **argv = maildrop_argv(), **envp = maildrop_envp();
	pid_t pid = -1;

	*err = ENOMEM;
	/* Every descriptor of smtpd's but 0-2 is close-on-exec. */
	if (argv != NULL && envp != NULL)
		pid = vfork_exec(spool, output, argv, envp, err);
	free(argv);
	free(envp);
	if (pid > 0 && *err != 0) { /* it could not exec: reap it here */
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	return *err == 0 ? pid : -1;
}

static int pidfd_for(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/*
 * Stops the maildrop and its process group. It has not been reaped (only
 * maildrop_wait() reaps it, and SIGCHLD is at its default, set at start),
 * so neither its PID nor its group can name another process yet; the
 * pidfd, where there is one, names it for certain.
 */
static void maildrop_kill(pid_t pid, int pidfd)
{
	kill(-pid, SIGKILL);
#ifdef SYS_pidfd_send_signal
	if (pidfd >= 0 &&
	    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == 0)
		return;
#endif
	(void)pidfd;
	kill(pid, SIGKILL);
}

/* Keeps the start of the maildrop's output for the log, drops the rest. */
static int drain_output(int fd, struct drop_result *d, size_t *kept)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	size_t take;

	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return 0;
	take = (size_t)n;
	if (take > MAILDROP_LOG_MAX - *kept)
		take = MAILDROP_LOG_MAX - *kept;
	memcpy(d->output + *kept, buf, take);
	*kept += take;
	return 1;
}

/* After the maildrop ended: keeps what it wrote that is still in the pipe
 * (a child of its may hold the pipe open, so only what is there now, and
 * at most 64 reads). */
static void drain_left(int output, struct drop_result *d, size_t *kept)
{
	struct pollfd p = {.fd = output, .events = POLLIN};
	int reads;

	for (reads = 0; reads < 64 && poll(&p, 1, 0) > 0; reads++)
		if (!drain_output(output, d, kept))
			break;
}

/* Waits for the maildrop, at most -m seconds, then stops it. */
static void maildrop_wait(pid_t pid, int output, struct drop_result *d)
{
	long long deadline = now_ms() + cfg.maildrop_timeout * 1000LL;
	int pidfd = pidfd_for(pid), open_output = 1;
	size_t kept = 0;

	for (;;) {
		struct pollfd p[2] = {
			{.fd = open_output ? output : -1, .events = POLLIN},
			{.fd = pidfd, .events = POLLIN}};
		int wait_ms = poll_ms(deadline);
		pid_t r = waitpid(pid, &d->status, WNOHANG);

		if (r == pid || (r < 0 && errno == ECHILD)) {
			d->lost = r != pid; /* never signalled after this */
			if (open_output)
				drain_left(output, d, &kept);
			break;
		}
		if (wait_ms == 0) {
			maildrop_kill(pid, pidfd);
			waitpid(pid, &d->status, 0);
			d->timed_out = 1;
			break;
		}
		/* Without a pidfd, look at the child every 50 ms. */
		if (pidfd < 0 && wait_ms > 50)
			wait_ms = 50;
		if (poll(p, 2, wait_ms) > 0 && p[0].revents)
			open_output = drain_output(output, d, &kept);
	}
	if (pidfd >= 0)
		close(pidfd);
	d->output[kept] = '\0';
}

static void maildrop_run(int spool, struct drop_result *d)
{
	int pipe_fds[2];
	pid_t pid;

	memset(d, 0, sizeof(*d));
	if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
		d->spawn_errno = errno;
		return;
	}
	pid = maildrop_spawn(spool, pipe_fds[1], &d->spawn_errno);
	close(pipe_fds[1]);
	if (pid > 0) {
		d->ran = 1;
		maildrop_wait(pid, pipe_fds[0], d);
	}
	close(pipe_fds[0]);
}

/* The one map from the maildrop's end to the client's reply (sysexits). */
static int maildrop_reply(const struct drop_result *d, const char **text)
{
	static const struct {
		int exit_code, reply;
		const char *text;
	} map[] = {
		{0, 250, "2.0.0 Ok: message accepted"},
		{EX_DATAERR, 554, "5.6.0 Message refused by the maildrop"},
		{EX_NOUSER, 550, "5.1.1 Recipient unknown"},
		{EX_NOHOST, 550, "5.1.2 Recipient domain unknown"},
		{EX_UNAVAILABLE, 554, "5.3.0 Mail delivery unavailable"},
		{EX_NOPERM, 554, "5.7.1 Delivery not permitted"},
	};
	size_t i;

	*text = "4.3.0 Temporary failure in delivery; try again later";
	if (!d->ran || d->timed_out || d->lost || !WIFEXITED(d->status))
		return 451;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].exit_code == WEXITSTATUS(d->status)) {
			*text = map[i].text;
			return map[i].reply;
		}
	return 451;
}

static void describe_drop(const struct drop_result *d, char *buf, size_t size)
{
	if (!d->ran)
		snprintf(buf, size, "not-started(%s)",
			 strerror(d->spawn_errno));
	else if (d->timed_out)
		snprintf(buf, size, "killed-after-%ds", cfg.maildrop_timeout);
	else if (d->lost)
		snprintf(buf, size, "lost");
	else if (WIFSIGNALED(d->status))
		snprintf(buf, size, "signal-%d", WTERMSIG(d->status));
	else
		snprintf(buf, size, "exit-%d", WEXITSTATUS(d->status));
}

/* ---- the end of a message, and of a transaction ---- */

/* The recipients for the log: whole quoted fields only, and ",..." when
 * the rest would not fit (recipients= says how many there were). */
static void log_recipients(char *to, size_t size)
{
	char one[ADDRESS_MAX * 4 + 8];
	size_t used = 0, i;

	to[0] = '\0';
	for (i = 0; i < ss.rcpt_count; i++) {
		size_t n = strlen(log_quote(one, sizeof(one), ss.rcpt[i],
					    strlen(ss.rcpt[i])));

		if (used + n + 1 + 4 >= size) {
			memcpy(to + used, ",...", 5);
			return;
		}
		if (i > 0)
			to[used++] = ',';
		memcpy(to + used, one, n + 1);
		used += n;
	}
}

static void log_message(const struct message *m, int code, const char *drop)
{
	char from[ADDRESS_MAX * 4 + 8], to[2048];

	log_recipients(to, sizeof(to));
	syslog(LOG_INFO,
	       "message from=%s to=%s recipients=%zu size=%llu via=%s "
	       "maildrop=%s reply=%d",
	       log_quote(from, sizeof(from), ss.sender, strlen(ss.sender)), to,
	       ss.rcpt_count, m->size, m->bdat ? "BDAT" : "DATA", drop, code);
}

/* What a refused message held, for its 554 (BAD_* bits as the index). */
static const char *bad_bytes_text(int bad)
{
	static const char *const text[8] = {
		"nothing wrong",
		"a bare LF",
		"a bare CR",
		"a bare LF and a bare CR",
		"a NUL",
		"a bare LF and a NUL",
		"a bare CR and a NUL",
		"a bare LF, a bare CR and a NUL",
	};

	return text[bad & 7];
}

/* Hands the message over and says what became of it; returns the code. */
static int message_deliver(struct message *m, char *drop, size_t drop_size)
{
	struct drop_result d;
	char output[MAILDROP_LOG_MAX * 4 + 8];
	const char *text;
	int code;

	MAILDROP_RUN(m->spool, &d);
	describe_drop(&d, drop, drop_size);
	code = maildrop_reply(&d, &text);
	say(code, 0, "%s", text);
	if (d.output[0] != '\0')
		syslog(LOG_NOTICE, "maildrop said: %s",
		       log_quote(output, sizeof(output), d.output,
				 strlen(d.output)));
	return code;
}

/* After the end of data or the LAST chunk: refuse, or hand over. */
static void message_finish(struct message *m)
{
	char drop[128] = "not-run";
	int code;

	if (m->bdat && m->state == D_CR)
		m->bad |= BAD_BARE_CR; /* the last chunk ended in a CR */
	else if (m->bdat && m->state == D_TEXT && keeping(m))
		spool_write(m, "\n", 1); /* a last line without CR LF */
	if (m->bad) {
		code = 554;
		say(code, 0,
		    "5.6.0 Message refused: it holds %s; lines must end in "
		    "CR LF",
		    bad_bytes_text(m->bad));
	} else if (m->too_big) {
		code = 552;
		say(code, 0,
		    "5.3.4 Message size exceeds fixed limit of %llu "
		    "octets",
		    cfg.size_limit);
	} else if (m->spool_error || lseek(m->spool, 0, SEEK_SET) != 0) {
		code = 452;
		say(code, 0, "4.3.1 Insufficient system storage; try later");
	} else if (term_pending()) {
		code = 421; /* stopping: no maildrop starts, the client keeps it
			     */
	} else {
		code = message_deliver(m, drop, sizeof(drop));
	}
	log_message(m, code, drop);
	ss.messages++;
	if (code == 421)
		close_with_421("4.3.2", "Shutting down", "terminated");
	if (code == 250)
		ss.junk = 0; /* the junk limit counts since the last message */
	else
		count_junk();
}

static void transaction_reset(void)
{
	size_t i;

	for (i = 0; i < ss.rcpt_count; i++)
		free(ss.rcpt[i]);
	ss.rcpt_count = 0;
	ss.in_mail = 0;
	ss.utf8 = 0;
	ss.body = BODY_NONE;
	ss.sender[0] = '\0';
	/* No delivery: the spool is an unlinked file and goes away. */
	spool_close();
}

/* ---- DATA ---- */

/* Reads the message up to its end; returns 0 when the client went away. */
static int data_receive(struct message *m)
{
	while (m->state != D_END) {
		if (in.pos == in.end &&
		    !in_fill(data_deadline(m->start, m->wire)))
			return 0;
		in.pos += data_feed(m, in.buf + in.pos, in.end - in.pos);
	}
	return 1;
}

static void data_phase(void)
{
	struct message *m = &message;

	message_begin(m, 0);
	say(354, 0, "End data with <CR><LF>.<CR><LF>");
	if (!data_receive(m)) {
		spool_close();
		session_exit(0, "end of input in DATA");
	}
	message_finish(m);
	transaction_reset();
}

/* ---- BDAT (RFC 3030): chunks of a known size ---- */

/*
 * Does this line name BDAT (after any spaces or tabs, in any case)? Such a
 * line is followed by message data whether or not smtpd can read it.
 */
static int names_bdat(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return len - i >= 4 && strncasecmp(line + i, "BDAT", 4) == 0 &&
	       (len - i == 4 || !is_alnum((unsigned char)line[i + 4]));
}

/* A BDAT line smtpd cannot read (too long, a NUL, a bad size): where its
 * data ends is unknown, so nothing after it can be read as a command. */
static void bdat_unreadable(void) __attribute__((noreturn));
static void bdat_unreadable(void)
{
	say(501, 0, "5.5.4 Syntax: BDAT octets [LAST]");
	session_exit(EX_TEMPFAIL, "unreadable BDAT line");
}

/* BDAT's argument, "n" or "n LAST": n is 1 to 20 digits, and a value past
 * 2^64-1 is simply more than any limit. Returns 0 when it is not that. */
static int bdat_args(const char *arg, unsigned long long *size, int *last)
{
	char digits[BDAT_DIGITS_MAX + 1];
	size_t n = 0;
	int overflow;

	while (arg[n] >= '0' && arg[n] <= '9' && n < BDAT_DIGITS_MAX) {
		digits[n] = arg[n];
		n++;
	}
	digits[n] = '\0';
	if (n == 0 || !decimal(digits, size, &overflow))
		return 0;
	if (overflow)
		*size = ULLONG_MAX;
	*last = strcasecmp(arg + n, " LAST") == 0;
	return *last || arg[n] == '\0';
}

/* Reads size octets of a chunk into m, or throws them away when m is
 * NULL; returns 0 when the client went away first. */
static int chunk_read(struct message *m, unsigned long long size)
{
	long long start = now_ms();
	unsigned long long dropped = 0;

	while (size > 0) {
		size_t take;

		if (in.pos == in.end &&
		    !in_fill(m != NULL ? data_deadline(m->start, m->wire)
				       : data_deadline(start, dropped)))
			return 0;
		take = in.end - in.pos;
		if (take > size)
			take = (size_t)size;
		if (m != NULL)
			data_feed(m, in.buf + in.pos, take);
		else
			dropped += take;
		in.pos += take;
		size -= take;
	}
	return 1;
}

/* Why a chunk cannot be taken, or NULL when it can. */
static const char *bdat_refusal(void)
{
	if (!ss.greeted)
		return "5.5.1 Send EHLO first";
	if (!ss.esmtp)
		return "5.5.1 BDAT needs EHLO, not HELO";
	if (ss.body == BODY_BDAT_FAILED)
		return "5.5.1 An earlier BDAT failed; send RSET";
	if (!ss.in_mail)
		return "5.5.1 Send MAIL first";
	if (ss.rcpt_count == 0)
		return "5.5.1 Send RCPT first";
	return NULL;
}

/*
 * A refused chunk's octets are still read and thrown away, and so are
 * those of every chunk after it until RSET or LAST: message data is never
 * taken as commands (go-smtp's bug). Discarding is a state of the session,
 * BODY_BDAT_FAILED, not a loop in this failure branch.
 */
static void bdat_refuse(const char *why, unsigned long long size, int last)
{
	if (!chunk_read(NULL, size))
		session_exit(0, "end of input in BDAT");
	if (last)
		transaction_reset();
	else
		ss.body = BODY_BDAT_FAILED;
	refuse(503, "%s", why);
}

static void do_bdat(char *arg)
{
	struct message *m = &message;
	unsigned long long size;
	int last;
	const char *why;

	if (!bdat_args(arg, &size, &last))
		bdat_unreadable();
	why = bdat_refusal();
	if (why != NULL) {
		bdat_refuse(why, size, last);
		return;
	}
	if (ss.body == BODY_NONE)
		message_begin(m, 1);
	ss.body = BODY_BDAT;
	if (now_ms() > data_deadline(m->start, m->wire))
		close_with_421("4.4.2", "Timeout", "timeout in BDAT");
	if (!chunk_read(m, size)) {
		spool_close();
		session_exit(0, "end of input in BDAT");
	}
	if (!last) {
		say(250, 0, "2.0.0 %llu octets received", size);
		return;
	}
	message_finish(m);
	transaction_reset();
}

/* ---- STARTTLS (RFC 3207): the launcher does the TLS ---- */

/* Is there client input that came after the STARTTLS line? */
static int input_pending(void)
{
	struct pollfd p = {.fd = io.in_fd, .events = POLLIN};

	return in.pos < in.end || poll(&p, 1, 0) > 0;
}

/* Everything learned before TLS is forgotten (RFC 3207 4.2); the error
 * and junk counts go on. */
static void tls_forget(void)
{
	transaction_reset();
	ss.greeted = 0;
	ss.esmtp = 0;
	ss.helo[0] = '\0';
	ss.tls = 1;
}

/*
 * CVE-2011-0411: what a client sends after STARTTLS before TLS is up could
 * be a man in the middle's, and must never be run as if it had come
 * inside TLS. Under tlswrapper it would come down the same pipe as the
 * decrypted session, so it is not dropped but refused.
 */
static void refuse_input_after_starttls(void)
{
	if (!input_pending())
		return;
	in.pos = in.end;
	close_with_421("4.5.0", "Input after STARTTLS", "input after STARTTLS");
}

/*
 * tlswrapper -n: the reply goes down descriptor 5, and closing it starts
 * the handshake; the session stays on 0 and 1. tlswrapper forwards what
 * it reads from the network down the session's pipe until it has taken
 * the reply from descriptor 5; waiting (at most a second) until the pipe
 * is empty before the last look at the input narrows the window in which
 * a man in the middle's plaintext can still come down that pipe. It does
 * not close it: see the man page.
 */
static void tlswrapper_handover(const char *line, size_t len)
{
	int left = 1, waits;

	if (write(io.tls_ctl_fd, line, len) != (ssize_t)len)
		session_exit(EX_TEMPFAIL, "TLS launcher went away");
	for (waits = 0; waits < 10000 && left > 0; waits++) {
		struct timespec pause = {.tv_nsec = 100000};

		if (ioctl(io.tls_ctl_fd, FIONREAD, &left) != 0)
			break;
		if (left > 0)
			nanosleep(&pause, NULL);
	}
	refuse_input_after_starttls();
}

static void tls_start(void)
{
	char line[REPLY_LINE_MAX];
	size_t len = reply_line(line, 220, 0, "2.0.0 Ready to start TLS");

	refuse_input_after_starttls();
	out_flush();
	if (io.launcher == LAUNCHER_UCSPI) {
		/* UCSPI-TLS: the reply on standard output, "y" to SSLCTLFD,
		 * then the launcher's descriptors; what the client sent on
		 * the socket after STARTTLS is never read. */
		out_put(line, len);
		out_flush();
		if (write(io.tls_ctl_fd, "y", 1) != 1)
			session_exit(EX_TEMPFAIL, "TLS launcher went away");
		io.in_fd = io.tls_read_fd;
		io.out_fd = io.tls_write_fd;
		out.not_socket = 0;
	} else {
		tlswrapper_handover(line, len);
	}
	close(io.tls_ctl_fd);
	io.tls_ctl_fd = -1;
	tls_forget();
}

static void do_starttls(char *arg)
{
	if (!cfg.starttls)
		refuse(500, "5.5.1 Command unrecognized");
	else if (ss.tls)
		refuse(503, "5.5.1 TLS is already on");
	else if (*arg != '\0')
		refuse(501, "5.5.4 Syntax: STARTTLS");
	else if (!ss.esmtp)
		refuse(503, "5.5.1 Send EHLO first");
	else if (ss.in_mail || ss.body != BODY_NONE)
		refuse(503, "5.5.1 Not inside a transaction; send RSET");
	else
		tls_start();
}

/* ---- commands ---- */

static void do_helo_ehlo(char *arg, int esmtp)
{
	char line[REPLY_LINE_MAX];

	if (*arg == '\0') {
		refuse(501, "5.5.4 Syntax: %s hostname",
		       esmtp ? "EHLO" : "HELO");
		return;
	}
	transaction_reset();
	snprintf(ss.helo, sizeof(ss.helo), "%s", arg);
	ss.greeted = 1;
	ss.esmtp = esmtp;
	peer_lookup_finish();
	out_put(line,
		reply_hello(line, 250, esmtp, cfg.name, peer.name, peer.addr));
	if (!esmtp)
		return;
	say(250, 1, "PIPELINING");
	say(250, 1, "SIZE %llu", cfg.size_limit);
	say(250, 1, "8BITMIME");
	say(250, 1, "ENHANCEDSTATUSCODES");
	say(250, 1, "CHUNKING");
	say(250, 1, "SMTPUTF8");
	if (cfg.starttls && !ss.tls)
		say(250, 1, "STARTTLS");
	say(250, 0, "HELP");
}

static void do_helo(char *arg)
{
	do_helo_ehlo(arg, 0);
}

static void do_ehlo(char *arg)
{
	do_helo_ehlo(arg, 1);
}

/* MAIL and RCPT in a BDAT transaction, or after one failed, get 503. */
static int refuse_in_bdat(void)
{
	if (ss.body == BODY_NONE)
		return 0;
	refuse(503, "5.5.1 %s",
	       ss.body == BODY_BDAT ? "Not after BDAT; send RSET"
				    : "An earlier BDAT failed; send RSET");
	return 1;
}

static void do_mail(char *arg)
{
	struct mailbox mb;
	const char *addr;
	char *params;
	size_t len;
	int utf8 = 0;
	enum addr_error e;

	if (!ss.greeted) {
		refuse(503, "5.5.1 Send HELO or EHLO first");
		return;
	}
	if (refuse_in_bdat())
		return;
	if (ss.in_mail) {
		refuse(503, "5.5.1 Sender already given");
		return;
	}
	e = path_parse(arg, "FROM", &addr, &len, &params);
	if (e == ADDR_OK && !mail_params(params, &utf8))
		return;
	if (e == ADDR_OK && len > 0) /* "<>" is the null sender */
		e = mailbox_parse(addr, len, utf8, 0, &mb);
	if (e != ADDR_OK) {
		refuse_address(e, 0);
		return;
	}
	snprintf(ss.sender, sizeof(ss.sender), "%s", len > 0 ? mb.text : "");
	ss.utf8 = utf8;
	ss.in_mail = 1;
	say(250, 0, "2.1.0 Sender ok");
}

static void do_rcpt(char *arg)
{
	struct mailbox mb;
	const char *addr;
	char *params;
	size_t len;
	enum addr_error e;

	if (refuse_in_bdat())
		return;
	if (!ss.in_mail) {
		refuse(503, "5.5.1 Send MAIL first");
		return;
	}
	e = path_parse(arg, "TO", &addr, &len, &params);
	if (e == ADDR_OK)
		e = len > 0 ? mailbox_parse(addr, len, ss.utf8, 1, &mb)
			    : ADDR_SYNTAX;
	if (e != ADDR_OK) {
		refuse_address(e, 1);
		return;
	}
	if (next_word(&params) != NULL) {
		refuse(555, "5.5.4 Unsupported RCPT parameter");
		return;
	}
	/* With -a, an MTA after smtpd must not route the local part again:
	 * user%host@, host!user@ and "user@host"@ are relayed by sendmail
	 * and most MTAs once they strip their own domain. */
	if (cfg.domain_count > 0 && mb.routing) {
		refuse(550, "5.7.1 Recipient refused: its local part holds "
			    "'@', '%%' or '!'");
		return;
	}
	if (mb.domain != NULL && !domain_accepted(&mb)) {
		refuse(550, "5.7.1 Recipient domain not accepted here");
		return;
	}
	if (ss.rcpt_count >= cfg.rcpt_limit) {
		count_junk(); /* 452 is no error, but no mail either */
		say(452, 0, "4.5.3 Too many recipients");
		return;
	}
	if (!rcpt_add(mb.text)) {
		say(452, 0, "4.3.1 Out of memory");
		return;
	}
	say(250, 0, "2.1.5 Recipient ok");
}

static void do_data(char *arg)
{
	if (*arg != '\0')
		refuse(501, "5.5.4 Syntax: DATA");
	else if (ss.body == BODY_BDAT_FAILED)
		refuse(503, "5.5.1 An earlier BDAT failed; send RSET");
	else if (ss.body != BODY_NONE)
		refuse(503, "5.5.1 DATA not allowed in a BDAT transaction");
	else if (!ss.in_mail)
		refuse(503, "5.5.1 Send MAIL first");
	else if (ss.rcpt_count == 0)
		refuse(503, "5.5.1 Send RCPT first");
	else
		data_phase();
}

static void do_rset(char *arg)
{
	(void)arg;
	transaction_reset();
	say(250, 0, "2.0.0 Ok");
}

static void do_noop(char *arg)
{
	(void)arg;
	say(250, 0, "2.0.0 Ok");
}

static void do_vrfy(char *arg)
{
	(void)arg;
	say(252, 0, "2.0.0 Cannot VRFY; send the message and it will be tried");
}

static void do_help(char *arg)
{
	(void)arg;
	say(214, 0,
	    "2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP VRFY "
	    "HELP QUIT%s",
	    cfg.starttls ? " STARTTLS" : "");
}

static void do_quit(char *arg)
{
	(void)arg;
	say(221, 0, "2.0.0 %s closing connection", cfg.name);
	session_exit(0, "quit");
}

static const struct verb {
	const char *name;
	void (*run)(char *arg);
	int junk; /* counts against JUNK_LIMIT */
} verbs[] = {
	{"EHLO", do_ehlo, 1}, {"HELO", do_helo, 1},
	{"MAIL", do_mail, 0}, {"RCPT", do_rcpt, 0},
	{"DATA", do_data, 0}, {"BDAT", do_bdat, 0},
	{"RSET", do_rset, 1}, {"NOOP", do_noop, 1},
	{"QUIT", do_quit, 0}, {"VRFY", do_vrfy, 1},
	{"HELP", do_help, 1}, {"STARTTLS", do_starttls, 0},
};

static void dispatch(char *line, size_t len)
{
	const char *space = memchr(line, ' ', len);
	size_t verb_len = space != NULL ? (size_t)(space - line) : len, i;
	char *arg = line + verb_len;

	if (names_bdat(line, len) && (memchr(line, '\0', len) != NULL ||
				      strncasecmp(line, "BDAT ", 5) != 0))
		bdat_unreadable();
	if (memchr(line, '\0', len) != NULL) {
		refuse(500, "5.5.2 NUL in command line");
		return;
	}
	while (len > verb_len && line[len - 1] == ' ')
		line[--len] = '\0';
	while (*arg == ' ')
		arg++;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verb_len == strlen(verbs[i].name) &&
		    strncasecmp(line, verbs[i].name, verb_len) == 0) {
			if (verbs[i].junk)
				count_junk();
			verbs[i].run(arg);
			return;
		}
	refuse(500, "5.5.1 Command unrecognized");
}

/* ---- start-up ---- */

/* A value quoted in a usage error, made printable so the error stays on
 * one line. */
static const char *printable(const char *value)
{
	static char buf[300];

	return log_field(buf, sizeof(buf), value);
}

/* A usage error is one line on stderr, before anything reaches stdout. */
static void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "smtpd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; %s\n", usage_text);
	exit(EX_USAGE);
}

static unsigned long long number_arg(int opt, const char *v,
				     unsigned long long min,
				     unsigned long long max)
{
	unsigned long long n = 0;
	int overflow;

	if (!decimal(v, &n, &overflow) || overflow || n < min || n > max)
		usage_error("-%c needs a number from %llu to %llu, not '%s'",
			    opt, min, max, printable(v));
	return n;
}

static void choose_name(const char *given)
{
	const char *env = getenv("TCPLOCALHOST");
	char host[DOMAIN_MAX + 2] = "";

	const char *name = "localhost";

	if (given != NULL && !name_is_valid(given))
		usage_error("-n needs letters, digits, '-' and dots, at most "
			    "255: '%s'",
			    printable(given));
	if (given != NULL)
		name = given;
	else if (env != NULL && name_is_valid(env))
		name = env;
	else if (gethostname(host, sizeof(host) - 1) == 0 &&
		 name_is_valid(host))
		name = host;
	snprintf(cfg.name, sizeof(cfg.name), "%s", name);
}

/* Takes the value of option opt (one of "nasrtm"); -a adds to domains. */
static void option_value(int opt, char *value, const char **name,
			 char **domains)
{
	switch (opt) {
	case 'n':
		*name = value;
		break;
	case 'a':
		if (!name_is_valid(value))
			usage_error("-a needs a domain name, not '%s'",
				    printable(value));
		domains[cfg.domain_count++] = value;
		break;
	case 's':
		cfg.size_limit = number_arg(opt, value, 0, ULLONG_MAX);
		break;
	case 'r':
		cfg.rcpt_limit = (unsigned long)number_arg(opt, value, 1,
							   RCPT_LIMIT_MAX);
		break;
	case 't':
		cfg.timeout = (int)number_arg(opt, value, 1, SECONDS_MAX);
		break;
	default: /* 'm' */
		cfg.maildrop_timeout =
			(int)number_arg(opt, value, 1, SECONDS_MAX);
		break;
	}
}

/* Takes the flags at p (of "pRS"); returns where they stop. */
static char *option_flags(char *p)
{
	for (;; p++) {
		if (*p == 'R')
			cfg.resolve = 0;
		else if (*p == 'p')
			cfg.proxy = 1;
		else if (*p == 'S')
			cfg.starttls = 1;
		else
			return p;
	}
}

/*
 * Reads the options as POSIX getopt("+pRSn:a:s:r:t:m:") does: flags may be
 * grouped (-Rn name), a value may be joined to its letter (-nname), and
 * "--" or the first word that is not an option ends them, so the
 * maildrop's own options stay its own. Written out rather than getopt(3):
 * the kernel maps libc's code 64 KB at a time, and getopt's code shares
 * its block with nothing else smtpd runs at most of libc's load addresses;
 * leaving it out saves 0.56 of a block on average (about 36 KB of peak
 * RSS, some 2%).
 */
static void parse_options(int argc, char **argv)
{
	const char *name = NULL;
	int i;

	static char *few_domains[16];
	/* No malloc in an idle session: its heap would be one page more. */
	char **domains = argc <= 16 ? few_domains
				    : calloc((size_t)argc, sizeof(*domains));

	if (domains == NULL)
		usage_error("%s", "out of memory");
	cfg.domains = domains;
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		char *p = argv[i] + 1;

		if (strcmp(p, "-") == 0) {
			i++;
			break;
		}
		p = option_flags(p);
		if (*p == '\0')
			continue;
		if (strchr("nasrtm", *p) == NULL)
			usage_error("unknown option -%c",
				    *p > ' ' && *p < 0x7f ? *p : '?');
		if (p[1] == '\0' && i + 1 >= argc)
			usage_error("-%c needs a value", *p);
		option_value(*p, p[1] != '\0' ? p + 1 : argv[++i], &name,
			     domains);
	}
	if (i >= argc)
		usage_error("%s", "no maildrop command given");
	cfg.maildrop = argv + i;
	cfg.maildrop_argc = argc - i;
	choose_name(name);
}

/* Descriptors 0-2 must exist: a closed one would be reused by a spool. */
static void descriptors_open(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			exit(EX_OSERR);
}

/* A descriptor number from the environment, when it names an open one. */
static int env_fd(const char *name)
{
	const char *v = getenv(name);
	unsigned long long fd;
	int overflow;

	if (v == NULL || !decimal(v, &fd, &overflow) || overflow || fd < 3 ||
	    fd > INT_MAX || fcntl((int)fd, F_GETFD) < 0)
		return -1;
	return (int)fd;
}

/* tlswrapper -n hands over descriptor 5, a pipe open for writing. */
static int tlswrapper_fd(void)
{
	struct stat st;
	int flags = fcntl(5, F_GETFL);

	if (flags < 0 || (flags & O_ACCMODE) != O_WRONLY ||
	    fstat(5, &st) != 0 || !S_ISFIFO(st.st_mode))
		return -1;
	return 5;
}

/* With -S: which launcher will do the TLS (UCSPI-TLS, named in the
 * environment, before tlswrapper's descriptor 5). */
static void tls_launcher_find(void)
{
	int ctl = env_fd("SSLCTLFD"), rd = env_fd("SSLREADFD"),
	    wr = env_fd("SSLWRITEFD");

	if (ctl >= 0 && rd >= 0 && wr >= 0) {
		io.launcher = LAUNCHER_UCSPI;
		io.tls_ctl_fd = ctl;
		io.tls_read_fd = rd;
		io.tls_write_fd = wr;
	} else if ((io.tls_ctl_fd = tlswrapper_fd()) >= 0) {
		io.launcher = LAUNCHER_TLSWRAPPER;
	} else {
		usage_error("-S needs a TLS launcher: tlswrapper -n "
			    "(descriptor 5) or UCSPI-TLS (SSLCTLFD, "
			    "SSLREADFD, SSLWRITEFD)");
	}
}

static int kept_fd(int fd)
{
	return fd == io.tls_ctl_fd ||
	       (io.launcher == LAUNCHER_UCSPI &&
		(fd == io.tls_read_fd || fd == io.tls_write_fd));
}

/* Nothing the launcher left open may reach the maildrop: every descriptor
 * but 0-2 and the TLS launcher's is closed, and those are close-on-exec. */
static void descriptors_setup(void)
{
	int fd, top = 2;

	if (cfg.starttls)
		tls_launcher_find();
	for (fd = 3; fd <= 1024; fd++)
		if (kept_fd(fd))
			top = fd;
	for (fd = 3; fd <= top; fd++)
		if (kept_fd(fd))
			fcntl(fd, F_SETFD, FD_CLOEXEC);
		else
			close(fd);
	closefrom(top + 1);
}

/*
 * The dispositions smtpd relies on, whatever the launcher left: SIGCHLD at
 * its default, so that waitpid() sees the maildrop end (under SIG_IGN the
 * kernel reaps it unseen), no signal blocked but SIGTERM (below), SIGPIPE
 * ignored (a write to a closed connection is an error, not a death), and
 * SIGXFSZ ignored (a spool past the launcher's file size limit,
 * RLIMIT_FSIZE, is a write error, EFBIG, so the client gets 452 instead
 * of no answer). SIGTERM at
 * its default (an ignored one would never be pending) and blocked, from
 * the start: one that comes before term_fd exists waits for it. The
 * look-up thread, made after this, has it blocked too.
 */
static void signals_setup(void)
{
	sigset_t blocked;

	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGTERM);
	sigprocmask(SIG_SETMASK, &blocked, NULL);
}

/* After descriptors_setup(), which would close it. Without a signalfd,
 * SIGTERM is let in at its default: smtpd dies of it, as it used to. */
static void term_fd_open(void)
{
	sigset_t term;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	term_fd = signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);
	if (term_fd < 0)
		sigprocmask(SIG_UNBLOCK, &term, NULL);
}

/* The PROXY header (with -p), the peer, its lookup, the banner. */
static void session_start(void)
{
	struct proxy_header h;

	peer_address();
	if (cfg.proxy) {
		proxy_read(&h);
		peer_from_proxy(&h);
		ss.tls = h.tls;
	}
	peer_lookup_start();
	say(220, 0, "%s ESMTP smtpd", cfg.name);
}

/* Reads and runs commands until the session ends (in session_exit). */
static void serve(void) __attribute__((noreturn));
static void serve(void)
{
	char line[COMMAND_LINE_MAX + 1];
	size_t len;

	for (;;) {
		switch (read_line(line, &len)) {
		case LINE_OK:
			dispatch(line, len);
			break;
		case LINE_TOO_LONG:
			if (names_bdat(line, len))
				bdat_unreadable();
			refuse(500, "5.5.2 Line too long");
			break;
		case LINE_EOF:
			session_exit(0, "end of input");
		}
	}
}

int main(int argc, char **argv)
{
	descriptors_open();
	signals_setup();
	parse_options(argc, argv);
	descriptors_setup();
	term_fd_open();
	unsetenv("SMTPUTF8");
	openlog("smtpd", LOG_PID | LOG_NDELAY, LOG_MAIL);
	session_start();
	serve();
}
