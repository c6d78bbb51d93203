/*
 * floor - the least an SMTP receiver of the inetd kind must do, to show how
 * close smtpd comes to it: read the session in large blocks, answer each
 * command line with one short reply, and for each message run the sink once
 * with the message (from after DATA to the final dot) on its standard
 * input. No parsing, no checks, no dot-unstuffing, no spool file: a pipe.
 * With -l it also writes, through syslog(3), the one line per message and
 * one per session that every receiver keeping SPEC 8 writes, to show what
 * that costs alone.
 *
 *   floor [-l] sink [arg ...]
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <string.h>
#include <syslog.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char in[1 << 16], out[1 << 14];
static size_t in_len, out_len;
static int logging;

static void flush(void)
{
	if (out_len > 0 && write(1, out, out_len) < 0)
		_exit(75);
	out_len = 0;
}

static void reply(const char *text)
{
	size_t n = strlen(text);

	if (out_len + n > sizeof(out))
		flush();
	memcpy(out + out_len, text, n);
	out_len += n;
}

static int fill(void)
{
	ssize_t n;

	flush();
	n = read(0, in + in_len, sizeof(in) - in_len);
	if (n <= 0)
		return 0;
	in_len += (size_t)n;
	return 1;
}

/* Passes the message to a sink through a pipe, up to CR LF . CR LF. */
static void message(char **argv)
{
	posix_spawn_file_actions_t fa;
	int fds[2], status;
	pid_t pid;

	if (pipe(fds) != 0)
		_exit(71);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
	posix_spawn_file_actions_addclose(&fa, fds[1]);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		_exit(71);
	close(fds[0]);
	for (;;) {
		char *end = memmem(in, in_len, "\r\n.\r\n", 5);
		size_t take = end ? (size_t)(end - in) + 2
				  : (in_len > 4 ? in_len - 4 : 0);
		if (write(fds[1], in, take) < 0)
			_exit(71);
		memmove(in, in + take + (end ? 3 : 0),
			in_len - take - (end ? 3 : 0));
		in_len -= take + (end ? 3 : 0);
		if (end || !fill())
			break;
	}
	close(fds[1]);
	waitpid(pid, &status, 0);
	if (logging)
		syslog(LOG_INFO, "message status=%d", status);
	reply("250 ok\r\n");
}

int main(int argc, char **argv)
{
	(void)argc;
	if (argv[1] != NULL && strcmp(argv[1], "-l") == 0) {
		logging = 1;
		argv++;
		openlog("floor", LOG_PID | LOG_NDELAY, LOG_MAIL);
	}
	reply("220 floor\r\n");
	for (;;) {
		char *lf = memchr(in, '\n', in_len);
		size_t len;

		if (lf == NULL) {
			if (in_len == sizeof(in) || !fill())
				break;
			continue;
		}
		len = (size_t)(lf - in) + 1;
		if (len >= 6 && strncmp(in, "DATA", 4) == 0) {
			memmove(in, in + len, in_len - len);
			in_len -= len;
			reply("354 go\r\n");
			message(argv + 1);
			continue;
		}
		reply(strncmp(in, "QUIT", 4) == 0 ? "221 bye\r\n"
						  : "250 ok\r\n");
		memmove(in, in + len, in_len - len);
		in_len -= len;
		if (strncmp(out + out_len - 9, "221 bye\r\n", 9) == 0)
			break;
	}
	flush();
	if (logging)
		syslog(LOG_INFO, "session end=%s", "quit");
	return 0;
}
