/*
 * sink - the maildrop every receiver in the benchmark hands its messages
 * to: reads standard input to its end and exits 0. As "sink-qmail" (argv[0]
 * ends so) it is a qmail-queue (qmail-queue(8)): it also reads the
 * envelope on descriptor 1. Built with -DCOUNT_FILE='"path"' it also
 * appends one octet to that file for every message it took, so that the
 * benchmark can count what really arrived over TCP.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static void drain(int fd)
{
	static char buf[1 << 16];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int main(int argc, char **argv)
{
	size_t len = strlen(argv[0]);

	(void)argc;
	drain(0);
	if (len >= 5 && strcmp(argv[0] + len - 5, "qmail") == 0)
		drain(1);
#ifdef COUNT_FILE
	{
		int fd = open(COUNT_FILE, O_WRONLY | O_APPEND | O_CREAT, 0600);
		if (fd < 0 || write(fd, "1", 1) != 1)
			return 75;
		close(fd);
	}
#endif
	return 0;
}
