/*
 * dns - the benchmark's own DNS server, on 127.0.0.1:53 inside the
 * network namespace the benchmark makes: what a local cache such as
 * dnscache answers from memory, for the one client there is.
 *
 *   1.0.0.127.in-addr.arpa  PTR   client.bench.example
 *   client.bench.example    A     127.0.0.1
 *   client.bench.example    AAAA  (none: NOERROR, no answer)
 *   anything else                 NXDOMAIN
 *
 * On SIGUSR1 it prints "ptr=N a=N aaaa=N other=N" (queries so far) on
 * standard output, so the benchmark can check that a receiver really
 * looked the peer up. It stops on SIGTERM or after SECONDS.
 *
 *   dns SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define T_A 1
#define T_PTR 12
#define T_AAAA 28

static const char ptr_name[] = "1.0.0.127.in-addr.arpa";
static const char host_name[] = "client.bench.example";
/* host_name as labels on the wire */
static const char host_wire[] = "\6client\5bench\7example";

static volatile sig_atomic_t report, stop;
static unsigned long ptr_count, a_count, aaaa_count, other_count;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		report = 1;
	else
		stop = 1;
}

/* The question's name, dotted, into name; returns the octets after it
 * (type and class), or 0 for a name that is compressed or too long. */
static size_t question_name(const unsigned char *q, size_t n, char *name,
			    size_t size)
{
	size_t at = 12, used = 0;

	while (at < n && q[at] != 0) {
		size_t len = q[at];
		if (len > 63 || at + 1 + len >= n || used + len + 2 > size)
			return 0;
		if (used > 0)
			name[used++] = '.';
		memcpy(name + used, q + at + 1, len);
		used += len;
		at += 1 + len;
	}
	if (at + 5 > n)
		return 0;
	name[used] = '\0';
	return at + 1;
}

/* One answer record for the question's name (a pointer to offset 12). */
static size_t answer_record(unsigned char *r, unsigned type, const void *data,
			    size_t len)
{
	static const unsigned char ttl[4] = {0, 0, 1, 44}; /* 300 s */

	r[0] = 0xc0;
	r[1] = 12;
	r[2] = 0;
	r[3] = (unsigned char)type;
	r[4] = 0;
	r[5] = 1; /* IN */
	memcpy(r + 6, ttl, 4);
	r[10] = 0;
	r[11] = (unsigned char)len;
	memcpy(r + 12, data, len);
	return 12 + len;
}

/* Builds the reply to a query of n octets in buf, in place; returns its
 * length, or 0 to drop the query. */
static size_t reply(unsigned char *buf, size_t n, size_t size)
{
	static const unsigned char loopback[4] = {127, 0, 0, 1};
	char name[256];
	size_t end = question_name(buf, n, name, sizeof(name)), len;
	unsigned type;
	int rcode = 3, answers = 0;

	if (n < 12 || end == 0 || (buf[2] & 0x80) || buf[5] != 1 || buf[4] != 0)
		return 0;
	type = (unsigned)buf[end] << 8 | buf[end + 1];
	len = end + 4;
	if (size < len + 12 + sizeof(host_wire))
		return 0;
	if (strcasecmp(name, ptr_name) == 0 && type == T_PTR) {
		ptr_count++;
		rcode = 0;
		answers = 1;
		len += answer_record(buf + len, T_PTR, host_wire,
				     sizeof(host_wire));
	} else if (strcasecmp(name, host_name) == 0) {
		rcode = 0;
		if (type == T_A) {
			a_count++;
			answers = 1;
			len += answer_record(buf + len, T_A, loopback, 4);
		} else if (type == T_AAAA) {
			aaaa_count++;
		} else {
			other_count++;
		}
	} else {
		other_count++;
	}
	buf[2] = (unsigned char)(0x80 | (buf[2] & 0x01)); /* QR, keep RD */
	buf[3] = (unsigned char)(0x80 | rcode);		  /* RA */
	buf[6] = 0;
	buf[7] = (unsigned char)answers;
	memset(buf + 8, 0, 4); /* no authority, no additional (EDNS) */
	return len;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons(53)};
	struct sigaction sa = {.sa_handler = on_signal};
	time_t end;
	int fd;

	if (argc != 2 || atoi(argv[1]) <= 0) {
		fprintf(stderr, "usage: dns SECONDS\n");
		return 64;
	}
	end = time(NULL) + atoi(argv[1]);
	sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART: poll returns */
	sigaction(SIGTERM, &sa, NULL);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		perror("dns: 127.0.0.1:53");
		return 71;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop && time(NULL) < end) {
		unsigned char buf[512];
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;
		size_t len;

		if (report) {
			report = 0;
			printf("ptr=%lu a=%lu aaaa=%lu other=%lu\n", ptr_count,
			       a_count, aaaa_count, other_count);
			fflush(stdout);
		}
		if (poll(&p, 1, 1000) <= 0)
			continue;
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
			     &from_len);
		if (n <= 0)
			continue;
		len = reply(buf, (size_t)n, sizeof(buf));
		if (len > 0)
			sendto(fd, buf, len, 0, (struct sockaddr *)&from,
			       from_len);
	}
	return 0;
}
