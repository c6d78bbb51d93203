/*
 * driver - runs a command COUNT times, one after the other, each with FILE
 * written into a pipe on its standard input (as a client's bytes arrive)
 * and standard output and error to /dev/null, and prints
 * "seconds=S cpu=C maxrss_kb=K failures=F fed=B": the wall time of all
 * runs; the CPU time (user and system) of all runs, each with the children
 * it waited for (wait4 counts them), which a busy machine disturbs less;
 * the largest peak resident size of one run (wait4's ru_maxrss); and the
 * octets written into the pipes in all (less than COUNT times the file's
 * size when a receiver hung up early). It is linked
 * statically: ru_maxrss also counts the driver's image that the child had
 * before its exec, and a static driver's is about 100 KB. A run that exits
 * non-zero counts as a failure.
 *
 *   driver COUNT FILE command [arg ...]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long fed;

/* Copies the input into the pipe, until its end or the reader goes. */
static void feed(int from, int to)
{
	static char buf[1 << 16];
	ssize_t n;

	while ((n = read(from, buf, sizeof(buf))) > 0) {
		char *p = buf;
		while (n > 0) {
			ssize_t w = write(to, p, (size_t)n);
			if (w <= 0)
				return;
			p += w;
			n -= w;
			fed += w;
		}
	}
}

int main(int argc, char **argv)
{
	struct timespec start, end;
	long count, i, maxrss = 0, failures = 0;
	double cpu = 0;
	int devnull = open("/dev/null", O_WRONLY);

	if (argc < 4 || (count = atol(argv[1])) <= 0) {
		fprintf(stderr, "usage: driver COUNT FILE command [arg ...]\n");
		return 64;
	}
	signal(SIGPIPE, SIG_IGN); /* a receiver may stop reading early */
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < count; i++) {
		posix_spawn_file_actions_t fa;
		struct rusage ru;
		int status, fds[2], in = open(argv[2], O_RDONLY);
		pid_t pid;

		if (in < 0 || pipe2(fds, O_CLOEXEC) != 0) {
			perror(argv[2]);
			return 66;
		}
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
		posix_spawn_file_actions_adddup2(&fa, devnull, 1);
		posix_spawn_file_actions_adddup2(&fa, devnull, 2);
		if (posix_spawnp(&pid, argv[3], &fa, NULL, argv + 3, environ)) {
			perror(argv[3]);
			return 69;
		}
		posix_spawn_file_actions_destroy(&fa);
		close(fds[0]);
		feed(in, fds[1]);
		close(fds[1]);
		close(in);
		if (wait4(pid, &status, 0, &ru) != pid)
			return 70;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failures++;
		cpu += (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) /
			       1e6;
		if (ru.ru_maxrss > maxrss)
			maxrss = ru.ru_maxrss;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	printf("seconds=%.6f cpu=%.6f maxrss_kb=%ld failures=%ld fed=%lld\n",
	       (double)(end.tv_sec - start.tv_sec) +
		       (double)(end.tv_nsec - start.tv_nsec) / 1e9,
	       cpu, maxrss, failures, fed);
	return 0;
}
