/* check.h - the invariants every fuzz target asserts about smtpd's output. */
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

#endif
