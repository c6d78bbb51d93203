/*
 * Fuzz target: the DATA fast path against the byte machine alone. The same
 * bytes, cut into the same reads, go through data_feed() (memchr runs plus
 * the byte machine, unstuffing in place in the read buffer) and through
 * data_byte() one byte at a time into a buffer of its own; both must stop
 * at the same octet, agree on the state, the size and every refusal bit,
 * and spool the same bytes whenever the message can be delivered (within
 * -s and not refused: no other spool is ever read). data_feed() must leave
 * the octets after the end of the data as they came.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "check.h"

static _Noreturn void session_end(int status)
{
	(void)status;
	abort(); /* nothing here may end a session */
}

#define exit(status) session_end(status)
#define main smtpd_main
#include "../../smtpd.c"
#undef exit
#undef main

static struct message fast, slow;

static void start(struct message *m)
{
	memset(m, 0, sizeof(*m));
	m->spool = memfd_create("spool", 0);
	FUZZ_ASSERT(m->spool >= 0);
}

/* The byte machine alone, keeping into out (not in place). */
static size_t by_bytes(struct message *m, const char *p, size_t n, char *out)
{
	size_t i = 0;

	m->out = out;
	while (i < n && m->state != D_END)
		data_byte(m, p[i++]);
	spool_kept(m, out);
	m->wire += i;
	return i;
}

static size_t spooled(struct message *m, char *buf, size_t size)
{
	ssize_t n;

	n = pread(m->spool, buf, size, 0);
	FUZZ_ASSERT(n >= 0);
	close(m->spool);
	return (size_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char a[1 << 17], b[1 << 17], chunk[1 << 16], kept[1 << 16];
	size_t pos = 0, cut = size > 0 ? data[0] % 7 + 1 : 1, na, nb;
	const char *p = (const char *)data;

	if (size > 60000)
		return 0;
	cfg.size_limit = size > 1 ? data[1] * 16u : 0;
	start(&fast);
	start(&slow);
	/* Reads of 1 to 7 octets, then the rest, as a slow client makes. */
	while (pos < size && fast.state != D_END) {
		size_t n = pos == 0 ? cut : size - pos;
		size_t took_fast, took_slow;

		if (n > size - pos)
			n = size - pos;
		memcpy(chunk, p + pos, n);
		took_fast = data_feed(&fast, chunk, n);
		took_slow = by_bytes(&slow, p + pos, n, kept);
		FUZZ_ASSERT(took_fast == took_slow);
		FUZZ_ASSERT(memcmp(chunk + took_fast, p + pos + took_fast,
				   n - took_fast) == 0);
		pos += took_fast;
	}
	FUZZ_ASSERT(fast.state == slow.state);
	FUZZ_ASSERT(fast.bad == slow.bad);
	FUZZ_ASSERT(fast.size == slow.size);
	FUZZ_ASSERT(fast.too_big == slow.too_big);
	FUZZ_ASSERT(fast.wire == slow.wire);
	na = spooled(&fast, a, sizeof(a));
	nb = spooled(&slow, b, sizeof(b));
	FUZZ_ASSERT(keeping(&fast) == keeping(&slow));
	if (keeping(&fast))
		FUZZ_ASSERT(na == nb && memcmp(a, b, na) == 0);
	return 0;
}
