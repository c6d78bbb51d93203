/*
 * Fuzz target: a whole SMTP session, in-process. The input is the client's
 * bytes. smtpd.c is compiled in as it is, with two stand-ins: the end of a
 * session returns here instead of leaving the process, and the maildrop is
 * a recorder that checks each delivery.
 *
 * Checked: no crash or hang; every reply line well-formed; a delivery never
 * holds a CR or NUL (it has LF line ends) and no more deliveries are made
 * than there are end markers in the input. An end is ".CR LF" at the start
 * of a line, and a line starts after the LF of CR LF inside the data, or
 * after the DATA command's own line end, which may be a bare LF ("DATA\n"
 * then ".\r\n" is an empty message): so the bound counts "\n.\r\n".
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "check.h"

static jmp_buf session_over;
static unsigned deliveries;

static _Noreturn void session_end(int status)
{
	(void)status;
	longjmp(session_over, 1);
}

struct drop_result;
static void record_drop(int spool, struct drop_result *d);

#define exit(status) session_end(status)
#define MAILDROP_RUN record_drop
#define main smtpd_main
#include "../../smtpd.c"
#undef exit
#undef main

static void record_drop(int spool, struct drop_result *d)
{
	static char buf[1 << 17];
	ssize_t n;

	memset(d, 0, sizeof(*d));
	while ((n = read(spool, buf, sizeof(buf))) > 0) {
		FUZZ_ASSERT(memchr(buf, '\r', (size_t)n) == NULL);
		FUZZ_ASSERT(memchr(buf, '\0', (size_t)n) == NULL);
	}
	FUZZ_ASSERT(n == 0);
	/* No argument the client gave may look like an option. */
	FUZZ_ASSERT(ss.sender[0] != '-');
	for (size_t i = 0; i < ss.rcpt_count; i++)
		FUZZ_ASSERT(ss.rcpt[i][0] != '-' && ss.rcpt[i][0] != '\0');
	deliveries++;
	d->ran = 1; /* status 0: exited 0, the message was taken */
}

static size_t count_markers(const uint8_t *p, size_t n)
{
	size_t count = 0, i;

	for (i = 0; i + 4 <= n; i++)
		if (memcmp(p + i, "\n.\r\n", 4) == 0)
			count++;
	return count;
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
	static char replies[1 << 20];
	int saved_in = dup(0), saved_out = dup(1);
	int in_fd = memfd_with(data, size), out_fd = memfd_with("", 0);
	ssize_t n;

	dup2(in_fd, 0);
	dup2(out_fd, 1);
	memset(&in, 0, sizeof(in));
	memset(&out, 0, sizeof(out));
	out.not_socket = 1;
	transaction_reset();
	memset(&ss, 0, offsetof(struct session, rcpt));
	ss.errors = ss.messages = 0;
	deliveries = 0;
	if (setjmp(session_over) == 0) {
		session_start();
		serve();
	}
	spool_close();
	transaction_reset();
	FUZZ_ASSERT(deliveries <= count_markers(data, size));
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "deliveries=%u markers=%zu\n", deliveries,
			count_markers(data, size));

	n = pread(out_fd, replies, sizeof(replies), 0);
	FUZZ_ASSERT(n > 0);
	check_reply_stream(replies, (size_t)n);

	dup2(saved_in, 0);
	dup2(saved_out, 1);
	close(saved_in);
	close(saved_out);
	close(in_fd);
	close(out_fd);
	return 0;
}
