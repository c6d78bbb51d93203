/*
 * smtpd - a small SMTP receiver of the inetd kind.
 *
 * One process serves one connection on standard input and output. Every
 * byte it writes to the client is built by reply.c; every byte it reads
 * comes through in_fill(). See man/smtpd.8 and ../shared/SPEC.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "reply.h"

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with CRLF. */
#define COMMAND_LINE_MAX 512
/* RFC 5321 4.5.3.1.3: a path is at most 256 octets with its "<>". */
#define ADDRESS_MAX 254
/* Replies of 5xx to commands before the session is cut off with 421. */
#define ERROR_LIMIT 20
/* The most the peer's name lookup may take, in seconds. */
#define RESOLVE_SECONDS 5
/* DATA must go on at this rate, on average, after its first -t seconds. */
#define DATA_MIN_RATE 10240
#define RCPT_LIMIT_MAX 100000
#define SECONDS_MAX 86400
#define IN_BUF_SIZE 65536
#define OUT_BUF_SIZE 8192
/* How much of the maildrop's output the log line keeps. */
#define MAILDROP_LOG_MAX 200

static const char usage_text[] =
	"usage: smtpd [-R] [-n name] [-a domain]... [-s bytes] [-r count] "
	"[-t seconds] [-m seconds] [--] maildrop [arg ...]";

static struct config {
	char name[DOMAIN_MAX + 1];
	int resolve;
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

static struct peer {
	struct sockaddr_storage sa;
	socklen_t sa_len;
	char addr[ADDR_TEXT_MAX + 1]; /* "" when the peer has no address */
	char name[NI_MAXHOST];	      /* sanitized; "unknown" when none */
	int confirmed;
	enum { LOOKUP_NONE, LOOKUP_RUNNING, LOOKUP_DONE } lookup;
	pid_t lookup_pid;
	int lookup_fd;
	long long lookup_deadline;
} peer;

static struct session {
	char helo[COMMAND_LINE_MAX];
	int greeted;
	int esmtp;
	int in_mail;
	char sender[ADDRESS_MAX + 1];
	char **rcpt;
	size_t rcpt_count;
	size_t rcpt_cap;
	unsigned errors;
	unsigned messages;
} ss;

static struct {
	char buf[OUT_BUF_SIZE];
	size_t len;
	int not_socket;
} out;

static struct {
	char buf[IN_BUF_SIZE];
	size_t pos, end;
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

/* ---- output: every byte goes through reply.c, then here ---- */

static ssize_t out_write(const char *buf, size_t len)
{
	ssize_t n;

	/* MSG_DONTWAIT: a full socket must not block past the deadline. */
	if (!out.not_socket) {
		n = send(1, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0 || errno != ENOTSOCK)
			return n;
		out.not_socket = 1;
	}
	/* A pipe that polls writable takes PIPE_BUF octets without blocking. */
	return write(1, buf, len > PIPE_BUF ? PIPE_BUF : len);
}

static void out_flush(void)
{
	long long deadline = now_ms() + cfg.timeout * 1000LL;
	size_t done = 0;

	while (done < out.len) {
		struct pollfd p = {.fd = 1, .events = POLLOUT};
		int r = poll(&p, 1, poll_ms(deadline));
		ssize_t n;

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

/* A 5xx reply to a command: counted, and too many end the session. */
static void refuse(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void refuse(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(code, 0, fmt, ap);
	va_end(ap);
	if (++ss.errors >= ERROR_LIMIT) {
		say(421, 0, "4.7.0 %s Too many errors, closing connection",
		    cfg.name);
		session_exit(EX_TEMPFAIL, "too many errors");
	}
}

/* ---- input: one wrapper owns every read from the client ---- */

/*
 * Flushes pending replies (all PIPELINING needs), then waits for input
 * until deadline, and at most -t seconds. Returns 0 at end of input; a
 * timeout or a read error ends the session here.
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
		struct pollfd p = {.fd = 0, .events = POLLIN};
		int r = poll(&p, 1, poll_ms(deadline));

		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			say(421, 0, "4.4.2 %s Timeout, closing connection",
			    cfg.name);
			session_exit(EX_TEMPFAIL, "timeout");
		}
		if (r < 0)
			session_exit(EX_TEMPFAIL, "poll error");
		n = read(0, in.buf + in.end, sizeof(in.buf) - in.end);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0 && errno != ECONNRESET)
			session_exit(EX_TEMPFAIL, "read error");
		if (n <= 0)
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
 * dropped.
 */
static enum line_result read_line(char *line, size_t *len)
{
	long long deadline = now_ms() + cfg.timeout * 1000LL;
	size_t have = 0;
	int too_long = 0;

	for (;;) {
		const char *start = in.buf + in.pos;
		size_t avail = in.end - in.pos;
		const char *lf = memchr(start, '\n', avail);
		size_t take = lf ? (size_t)(lf - start) + 1 : avail;

		if (!too_long && have + take > COMMAND_LINE_MAX)
			too_long = 1;
		if (!too_long) {
			memcpy(line + have, start, take);
			have += take;
		}
		in.pos += take;
		if (lf)
			break;
		if (!in_fill(deadline))
			return LINE_EOF;
	}
	if (too_long)
		return LINE_TOO_LONG;
	have--;
	if (have > 0 && line[have - 1] == '\r')
		have--;
	line[have] = '\0';
	*len = have;
	return LINE_OK;
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

static void peer_address(void)
{
	int ok;

	peer.sa_len = sizeof(peer.sa);
	ok = getpeername(0, (struct sockaddr *)&peer.sa, &peer.sa_len) == 0;
	if (!ok) {
		const char *ip = getenv("TCPREMOTEIP");
		if (ip == NULL || *ip == '\0')
			ip = getenv("REMOTE_ADDR");
		ok = sockaddr_from_text(ip, &peer);
	}
	if (ok &&
	    (peer.sa.ss_family == AF_INET || peer.sa.ss_family == AF_INET6)) {
		unmap_v4(&peer);
		if (address_text(&peer, peer.addr, sizeof(peer.addr)))
			return;
	}
	peer.addr[0] = '\0';
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

/* Forward confirmation: does the name lead back to the peer's address? */
static int name_confirms(const char *name)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	struct addrinfo *res, *ai;
	int found = 0;

	if (getaddrinfo(name, NULL, &hints, &res) != 0)
		return 0;
	for (ai = res; ai != NULL && !found; ai = ai->ai_next)
		found = same_address(ai->ai_addr, (struct sockaddr *)&peer.sa);
	freeaddrinfo(res);
	return found;
}

/* The lookup runs in a child so that a resolver that never answers can
 * be cut off: the child writes "1name" (confirmed) or "0name". */
static void lookup_child(int fd)
{
	char host[NI_MAXHOST];
	char answer[NI_MAXHOST + 1];
	size_t len;
	int null = open("/dev/null", O_RDWR);

	/* Let go of the client's socket, so a lingering lookup never holds
	 * the connection open after smtpd has closed it. */
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	if (getnameinfo((struct sockaddr *)&peer.sa, peer.sa_len, host,
			sizeof(host), NULL, 0, NI_NAMEREQD) != 0)
		_exit(0);
	len = strlen(host);
	answer[0] = name_confirms(host) ? '1' : '0';
	memcpy(answer + 1, host, len);
	if (write(fd, answer, len + 1) < 0)
		_exit(1);
	_exit(0);
}

static void peer_lookup_start(void)
{
	int fds[2];

	snprintf(peer.name, sizeof(peer.name), "unknown");
	peer.lookup = LOOKUP_DONE;
	if (!cfg.resolve || peer.addr[0] == '\0')
		return;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return;
	peer.lookup_pid = fork();
	if (peer.lookup_pid == 0) {
		close(fds[0]);
		lookup_child(fds[1]);
	}
	close(fds[1]);
	if (peer.lookup_pid < 0) {
		close(fds[0]);
		return;
	}
	peer.lookup_fd = fds[0];
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

static void peer_lookup_stop(void)
{
	if (peer.lookup != LOOKUP_RUNNING)
		return;
	kill(peer.lookup_pid, SIGKILL);
	waitpid(peer.lookup_pid, NULL, 0);
	close(peer.lookup_fd);
	peer.lookup = LOOKUP_DONE;
}

/* Waits, within the lookup's bound, for the peer's name. */
static void peer_lookup_finish(void)
{
	char answer[NI_MAXHOST + 1];
	size_t have = 0;

	if (peer.lookup != LOOKUP_RUNNING)
		return;
	while (have < sizeof(answer) - 1) {
		struct pollfd p = {.fd = peer.lookup_fd, .events = POLLIN};
		ssize_t n;
		int r = poll(&p, 1, poll_ms(peer.lookup_deadline));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n = read(peer.lookup_fd, answer + have,
			 sizeof(answer) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	peer_lookup_stop();
	answer[have] = '\0';
	if (have < 2 || memchr(answer, '\0', have) != NULL)
		return;
	name_sanitize(peer.name, sizeof(peer.name), answer + 1, have - 1,
		      sizeof(peer.name) - 1, NAME_HOST);
	peer.confirmed = answer[0] == '1';
	if (!name_usable(peer.name)) {
		snprintf(peer.name, sizeof(peer.name), "unknown");
		peer.confirmed = 0;
	}
}

/* ---- logging: syslog only, never the client ---- */

static void session_exit(int status, const char *why)
{
	char helo[64], name[256];

	out_flush();
	peer_lookup_stop();
	syslog(LOG_INFO, "session peer=%s [%s] helo=%s messages=%u end=%s",
	       log_field(name, sizeof(name), peer.name), peer.addr,
	       log_field(helo, sizeof(helo), ss.helo), ss.messages, why);
	exit(status);
}

/* ---- envelope ---- */

static void transaction_reset(void)
{
	size_t i;

	for (i = 0; i < ss.rcpt_count; i++)
		free(ss.rcpt[i]);
	ss.rcpt_count = 0;
	ss.in_mail = 0;
	ss.sender[0] = '\0';
}

enum path_error { PATH_OK, PATH_SYNTAX, PATH_TOO_LONG, PATH_BAD_ADDRESS };

/* Finds the '>' that closes a path, past quoted strings. */
static char *path_end(char *p)
{
	int quoted = 0;

	for (; *p != '\0'; p++) {
		if (quoted && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '>')
			return p;
	}
	return NULL;
}

/*
 * The address becomes one argv element of the maildrop. A leading '-'
 * would make it an option (sendmail -oQ, -X: CVE-2020-7247's kin), and
 * control bytes or spaces could split or forge a line downstream; 8-bit
 * bytes need SMTPUTF8, which is not offered.
 */
static int address_is_safe(const char *a)
{
	if (*a == '-')
		return 0;
	for (; *a != '\0'; a++)
		if ((unsigned char)*a <= ' ' || (unsigned char)*a >= 0x7f)
			return 0;
	return 1;
}

/*
 * Parses "KEYWORD:<path> params" (keyword "FROM" or "TO"): copies the
 * address, without a source route, to addr, and points *params at what
 * follows the path.
 */
static enum path_error parse_path(char *arg, const char *keyword,
				  char addr[ADDRESS_MAX + 1], char **params)
{
	size_t klen = strlen(keyword), len;
	char *p = arg, *end;

	if (strncasecmp(p, keyword, klen) != 0 || p[klen] != ':')
		return PATH_SYNTAX;
	p += klen + 1;
	while (*p == ' ')
		p++;
	if (*p == '<') {
		end = path_end(++p);
		if (end == NULL)
			return PATH_SYNTAX;
		*params = end + 1;
	} else {
		end = strchrnul(p, ' ');
		*params = end;
	}
	if (**params != '\0' && **params != ' ')
		return PATH_SYNTAX;
	/* RFC 5321 4.1.2: a source route is accepted and dropped. */
	if (*p == '@') {
		char *colon = memchr(p, ':', (size_t)(end - p));
		if (colon == NULL)
			return PATH_SYNTAX;
		p = colon + 1;
	}
	len = (size_t)(end - p);
	if (len > ADDRESS_MAX)
		return PATH_TOO_LONG;
	memcpy(addr, p, len);
	addr[len] = '\0';
	if (memchr(p, '\0', len) != NULL || !address_is_safe(addr))
		return PATH_BAD_ADDRESS;
	return PATH_OK;
}

static void refuse_path(enum path_error e, const char *what)
{
	if (e == PATH_TOO_LONG)
		refuse(501, "5.1.%c %s address too long",
		       *what == 's' ? '7' : '3', what);
	else if (e == PATH_BAD_ADDRESS)
		refuse(553,
		       "5.1.%c %s address refused: it starts with '-' "
		       "or holds a space, control or 8-bit byte",
		       *what == 's' ? '7' : '3', what);
	else
		refuse(501, "5.5.4 Syntax: %s",
		       *what == 's' ? "MAIL FROM:<address>"
				    : "RCPT TO:<address>");
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

/* Checks MAIL parameters; returns 0 after replying when one is bad. */
static int mail_params(char *params)
{
	char *param;

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
		} else if (strcasecmp(param, "BODY=7BIT") != 0 &&
			   strcasecmp(param, "BODY=8BITMIME") != 0) {
			refuse(555, "5.5.4 Unsupported MAIL parameter");
			return 0;
		}
	}
	return 1;
}

static int is_postmaster(const char *rcpt)
{
	return strcasecmp(rcpt, "postmaster") == 0;
}

static int domain_accepted(const char *rcpt)
{
	const char *at = strrchr(rcpt, '@');
	size_t i;

	if (cfg.domain_count == 0)
		return 1;
	if (at == NULL)
		return 0;
	for (i = 0; i < cfg.domain_count; i++)
		if (strcasecmp(at + 1, cfg.domains[i]) == 0)
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

static pid_t maildrop_spawn(int spool, int output, int *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	char **argv = maildrop_argv();
	pid_t pid = -1;

	if (argv == NULL) {
		*err = ENOMEM;
		return -1;
	}
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults,
		  SIGPIPE); /* smtpd ignores it; the child must not */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, spool, 0);
	posix_spawn_file_actions_adddup2(&fa, output, 1);
	posix_spawn_file_actions_adddup2(&fa, output, 2);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
						POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	/* Every other descriptor of smtpd's is close-on-exec. */
	*err = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(argv);
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

		if (waitpid(pid, &d->status, WNOHANG) == pid) {
			if (open_output)
				drain_left(output, d, &kept);
			break;
		}
		if (wait_ms == 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
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
	if (!d->ran || d->timed_out || !WIFEXITED(d->status))
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
	else if (WIFSIGNALED(d->status))
		snprintf(buf, size, "signal-%d", WTERMSIG(d->status));
	else
		snprintf(buf, size, "exit-%d", WEXITSTATUS(d->status));
}

/* ---- DATA: a byte state machine ---- */

enum data_state {
	D_BOL,	  /* at the start of a line: after CR LF, or first */
	D_TEXT,	  /* inside a line */
	D_CR,	  /* after a CR inside a line */
	D_DOT,	  /* after a '.' that starts a line */
	D_DOT_CR, /* after ".CR" at the start of a line */
	D_END,	  /* after CR LF . CR LF: the message is complete */
};

enum { BAD_BARE_LF = 1, BAD_BARE_CR = 2, BAD_NUL = 4 };

/*
 * The message is unstuffed in place. What the machine keeps of a chunk of
 * input is never longer than what it has read of that chunk: it drops
 * dots and CRs, and keeps nothing of a message it refuses, the only kind
 * in which a CR held from the last chunk would have to be written late.
 * So the kept octets are written back at out, behind the read position,
 * and go to the spool from there, one write a chunk, with no buffer and
 * no copy of their own.
 */
struct message {
	enum data_state state;
	int bad; /* BAD_* bits: the message is refused */
	int too_big;
	int spool_error;
	int spool;
	unsigned long long size; /* unstuffed, CR LF counted as two */
	unsigned long long wire; /* octets read in DATA */
	char *out;		 /* where the next kept octet goes */
};

static void spool_write(struct message *m, const char *p, size_t n)
{
	while (n > 0 && !m->spool_error) {
		ssize_t w = write(m->spool, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			m->spool_error = 1;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
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
		if (c == '.')
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
 * but a dot), over octets that hold no NUL: takes a run of bytes up to the
 * next CR, and the CR LF after it, when the run holds no LF. Returns the
 * octets taken; 0 leaves the byte at p to data_byte(), which alone sees
 * bare CRs, bare LFs, NULs and dots at the start of a line, and so alone
 * can end the data.
 */
static size_t data_text_run(struct message *m, const char *p, size_t n)
{
	const char *cr = memchr(p, '\r', n);
	size_t len = cr != NULL ? (size_t)(cr - p) : n;

	if (memchr(p, '\n', len) != NULL)
		return 0;
	if (cr != NULL && len + 1 < n && cr[1] == '\n') {
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

/* Feeds a chunk of received bytes to the machine, which keeps the message
 * in place in it and spools that; returns how many octets it took (it
 * stops after the end of the data and leaves what follows as it was). */
static size_t data_feed(struct message *m, char *p, size_t n)
{
	size_t i = 0, clean = nul_free_end(p, 0, n);

	m->out = p;
	while (i < n && m->state != D_END) {
		if (i < clean && (m->state == D_TEXT ||
				  (m->state == D_BOL && p[i] != '.'))) {
			size_t took = data_text_run(m, p + i, clean - i);
			if (took > 0) {
				i += took;
				continue;
			}
		}
		data_byte(m, p[i++]);
		if (i > clean)
			clean = nul_free_end(p, i, n);
	}
	spool_kept(m, p);
	m->wire += i;
	return i;
}

/*
 * The DATA deadline: -t seconds, plus one second for every DATA_MIN_RATE
 * octets received (counting at most -s of them), so a client must keep up
 * an average of 10 KiB/s once the first -t seconds are spent.
 */
static long long data_deadline(const struct message *m, long long start)
{
	unsigned long long counted = m->wire;

	if (cfg.size_limit != 0 && counted > cfg.size_limit)
		counted = cfg.size_limit;
	return start + cfg.timeout * 1000LL +
	       (long long)(counted / DATA_MIN_RATE) * 1000;
}

/* Reads the message up to its end; returns 0 when the client went away. */
static int data_receive(struct message *m)
{
	long long start = now_ms();

	while (m->state != D_END) {
		if (in.pos == in.end && !in_fill(data_deadline(m, start)))
			return 0;
		in.pos += data_feed(m, in.buf + in.pos, in.end - in.pos);
	}
	return 1;
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

static void received_put(struct message *m)
{
	char header[2048], date[64];
	struct received r = {
		.helo = ss.helo,
		.peer = peer.name,
		.peer_confirmed = peer.confirmed,
		.addr = peer.addr,
		.name = cfg.name,
		.protocol = ss.esmtp ? "ESMTP" : "SMTP",
		.date = date,
	};
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	spool_write(m, header, received_header(header, sizeof(header), &r));
}

static void log_message(const struct message *m, int code, const char *drop)
{
	char from[ADDRESS_MAX + 1], to[512], one[ADDRESS_MAX + 1];
	size_t used = 0, i;

	to[0] = '\0';
	for (i = 0; i < ss.rcpt_count && used < sizeof(to); i++) {
		int n = snprintf(to + used, sizeof(to) - used, "%s<%s>",
				 i ? "," : "",
				 log_field(one, sizeof(one), ss.rcpt[i]));
		if (n < 0)
			break;
		used += (size_t)n;
	}
	syslog(LOG_INFO,
	       "message from=<%s> to=%s recipients=%zu size=%llu "
	       "maildrop=%s reply=%d",
	       log_field(from, sizeof(from), ss.sender), to, ss.rcpt_count,
	       m->size, drop, code);
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

/* After the end of data: refuse, or hand over and say what became of it. */
static void message_finish(struct message *m)
{
	struct drop_result d;
	char drop[128] = "not-run", output[MAILDROP_LOG_MAX + 1];
	const char *text;
	int code;

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
	} else {
		MAILDROP_RUN(m->spool, &d);
		describe_drop(&d, drop, sizeof(drop));
		code = maildrop_reply(&d, &text);
		say(code, 0, "%s", text);
		if (d.output[0] != '\0')
			syslog(LOG_NOTICE, "maildrop said: %s",
			       log_field(output, sizeof(output), d.output));
	}
	log_message(m, code, drop);
}

/* The message being received; its spool is open only inside DATA. */
static struct message message = {.spool = -1};

static void spool_close(void)
{
	if (message.spool >= 0)
		close(message.spool);
	message.spool = -1;
}

static void do_data_phase(void)
{
	struct message *m = &message;

	memset(m, 0, sizeof(*m));
	m->spool = spool_open();
	if (m->spool < 0)
		m->spool_error = 1;
	say(354, 0, "End data with <CR><LF>.<CR><LF>");
	received_put(m);
	if (!data_receive(m)) {
		/* No delivery: the spool is an unlinked file and goes away. */
		spool_close();
		session_exit(0, "end of input in DATA");
	}
	message_finish(m);
	spool_close();
	ss.messages++;
	transaction_reset();
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

static void do_mail(char *arg)
{
	char addr[ADDRESS_MAX + 1], *params;
	enum path_error e;

	if (!ss.greeted) {
		refuse(503, "5.5.1 Send HELO or EHLO first");
		return;
	}
	if (ss.in_mail) {
		refuse(503, "5.5.1 Sender already given");
		return;
	}
	e = parse_path(arg, "FROM", addr, &params);
	if (e != PATH_OK) {
		refuse_path(e, "sender");
		return;
	}
	if (!mail_params(params))
		return;
	snprintf(ss.sender, sizeof(ss.sender), "%s", addr);
	ss.in_mail = 1;
	say(250, 0, "2.1.0 Sender ok");
}

static void do_rcpt(char *arg)
{
	char addr[ADDRESS_MAX + 1], *params;
	enum path_error e;

	if (!ss.in_mail) {
		refuse(503, "5.5.1 Send MAIL first");
		return;
	}
	e = parse_path(arg, "TO", addr, &params);
	if (e == PATH_OK && addr[0] == '\0')
		e = PATH_SYNTAX;
	if (e != PATH_OK) {
		refuse_path(e, "recipient");
		return;
	}
	if (next_word(&params) != NULL) {
		refuse(555, "5.5.4 Unsupported RCPT parameter");
		return;
	}
	if (!is_postmaster(addr) && !domain_accepted(addr)) {
		refuse(550, "5.7.1 Recipient domain not accepted here");
		return;
	}
	if (ss.rcpt_count >= cfg.rcpt_limit) {
		say(452, 0, "4.5.3 Too many recipients");
		return;
	}
	if (!rcpt_add(addr)) {
		say(452, 0, "4.3.1 Out of memory");
		return;
	}
	say(250, 0, "2.1.5 Recipient ok");
}

static void do_data(char *arg)
{
	if (*arg != '\0')
		refuse(501, "5.5.4 Syntax: DATA");
	else if (!ss.in_mail)
		refuse(503, "5.5.1 Send MAIL first");
	else if (ss.rcpt_count == 0)
		refuse(503, "5.5.1 Send RCPT first");
	else
		do_data_phase();
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
	say(252, 0, "2.5.2 Cannot VRFY; send the message and it will be tried");
}

static void do_help(char *arg)
{
	(void)arg;
	say(214, 0,
	    "2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY "
	    "HELP QUIT");
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
} verbs[] = {
	{"EHLO", do_ehlo}, {"HELO", do_helo}, {"MAIL", do_mail},
	{"RCPT", do_rcpt}, {"DATA", do_data}, {"RSET", do_rset},
	{"NOOP", do_noop}, {"QUIT", do_quit}, {"VRFY", do_vrfy},
	{"HELP", do_help},
};

static void dispatch(char *line, size_t len)
{
	const char *space = memchr(line, ' ', len);
	size_t verb_len = space != NULL ? (size_t)(space - line) : len, i;
	char *arg = line + verb_len;

	if (memchr(line, '\0', len) != NULL) {
		refuse(500, "5.5.2 NUL in command line");
		return;
	}
	if (*arg == ' ')
		arg++;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verb_len == strlen(verbs[i].name) &&
		    strncasecmp(line, verbs[i].name, verb_len) == 0) {
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

/* Takes the value of option opt (one of "nasrtm"). */
static void option_value(int opt, char *value, const char **name)
{
	switch (opt) {
	case 'n':
		*name = value;
		break;
	case 'a':
		if (!name_is_valid(value))
			usage_error("-a needs a domain name, not '%s'",
				    printable(value));
		cfg.domains[cfg.domain_count++] = value;
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

/*
 * Reads the options as POSIX getopt("+Rn:a:s:r:t:m:") does: flags may be
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

	cfg.domains = calloc((size_t)argc, sizeof(*cfg.domains));
	if (cfg.domains == NULL)
		usage_error("%s", "out of memory");
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		char *p = argv[i] + 1;

		if (strcmp(p, "-") == 0) {
			i++;
			break;
		}
		while (*p == 'R') {
			cfg.resolve = 0;
			p++;
		}
		if (*p == '\0')
			continue;
		if (strchr("nasrtm", *p) == NULL)
			usage_error("unknown option -%c",
				    *p > ' ' && *p < 0x7f ? *p : '?');
		if (p[1] == '\0' && i + 1 >= argc)
			usage_error("-%c needs a value", *p);
		option_value(*p, p[1] != '\0' ? p + 1 : argv[++i], &name);
	}
	if (i >= argc)
		usage_error("%s", "no maildrop command given");
	cfg.maildrop = argv + i;
	cfg.maildrop_argc = argc - i;
	choose_name(name);
}

/* Descriptors 0-2 must exist (a closed one would be reused by a spool),
 * and nothing the launcher left open may reach the maildrop. */
static void descriptors_setup(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			exit(EX_OSERR);
	closefrom(3);
}

static void session_start(void)
{
	peer_address();
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
			refuse(500, "5.5.2 Line too long");
			break;
		case LINE_EOF:
			session_exit(0, "end of input");
		}
	}
}

int main(int argc, char **argv)
{
	descriptors_setup();
	signal(SIGPIPE, SIG_IGN);
	parse_options(argc, argv);
	openlog("smtpd", LOG_PID | LOG_NDELAY, LOG_MAIL);
	session_start();
	serve();
}
