/*
 * Fuzz target: the message reader (data_feed in smtpd.c), for DATA and
 * for BDAT. The first input octet chooses: bit 3 BDAT (no dot handling,
 * no end of data: a chunk is all message), bits 0-2 the size of the first
 * read (1 to 8 octets), bits 4-5 how the rest is cut into reads (all in
 * one; reads of the first size; the first size and 64 octets in turn; a
 * read that ends after every CR, so that the CR of a CR LF is the last
 * octet of one read and its LF the first of the next, as a BDAT chunk may
 * cut it). The second octet is -s in units of 16 (0: no limit); the rest
 * is the message as it comes from the client.
 *
 * The same reads go through data_feed() (memchr runs plus the byte
 * machine, unstuffing in place in the read buffer) and through data_byte()
 * one octet at a time into a buffer of its own: both must stop at the same
 * octet, agree on the state, the size and every refusal bit, and spool the
 * same octets whenever the message can be delivered. data_feed() must leave
 * the octets after the end of the data as they came, and in BDAT must take
 * every octet it is given and never see an end.
 *
 * And both must be what the reference reader of check.h makes of the whole
 * message read at once (RFC 5321 4.5.2, RFC 3030): where the data ends, the
 * state it ends in, the bare CR, bare LF and NUL bits, and for a message
 * with none of those its size against -s and every octet it spools. So
 * how the octets were cut into reads never matters: a CR at the end of one
 * read and an LF at the start of the next are a CR LF.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "check.h"

#include "smtpd-in.h"

static struct message fast, slow;

static void start(struct message *m, int bdat)
{
	memset(m, 0, sizeof(*m));
	m->bdat = bdat;
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

/* How long the next read is. */
static size_t next_read(int cut, size_t first, size_t reads, const char *p,
			size_t left)
{
	const char *cr;

	if (reads == 0)
		return first;
	switch (cut) {
	case 0:
		return left;
	case 1:
		return first;
	case 2:
		return reads % 2 ? 64 : first;
	default:
		cr = memchr(p, '\r', left);
		return cr != NULL ? (size_t)(cr - p) + 1 : left;
	}
}

static enum data_state ref_state(enum ref_tail t)
{
	switch (t) {
	case REF_BOL:
		return D_BOL;
	case REF_TEXT:
		return D_TEXT;
	case REF_CR:
		return D_CR;
	case REF_DOT:
		return D_DOT;
	case REF_DOT_CR:
		return D_DOT_CR;
	default:
		return D_END;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char a[1 << 17], b[1 << 17], chunk[1 << 16], kept[1 << 16],
		want[1 << 16];
	const char *p = (const char *)data + 2;
	size_t n, pos = 0, reads = 0, first, na, nb;
	struct ref_message ref;
	int bdat, cut;

	if (size < 2 || size > 60000)
		return 0;
	n = size - 2;
	first = (data[0] & 7) + 1;
	bdat = (data[0] >> 3) & 1;
	cut = (data[0] >> 4) & 3;
	cfg.size_limit = data[1] * 16u;
	start(&fast, bdat);
	start(&slow, bdat);
	while (pos < n && fast.state != D_END) {
		size_t len = next_read(cut, first, reads++, p + pos, n - pos);
		size_t took_fast, took_slow;

		if (len > n - pos)
			len = n - pos;
		memcpy(chunk, p + pos, len);
		took_fast = data_feed(&fast, chunk, len);
		took_slow = by_bytes(&slow, p + pos, len, kept);
		FUZZ_ASSERT(took_fast == took_slow);
		FUZZ_ASSERT(memcmp(chunk + took_fast, p + pos + took_fast,
				   len - took_fast) == 0);
		FUZZ_ASSERT(!bdat || took_fast == len);
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

	/* The whole message at once, by the reference. */
	ref_message((const unsigned char *)p, n, bdat, &ref, want);
	FUZZ_ASSERT(fast.state == ref_state(ref.tail));
	FUZZ_ASSERT(fast.wire == ref.wire);
	FUZZ_ASSERT(!!(fast.bad & BAD_BARE_CR) == ref.bare_cr);
	FUZZ_ASSERT(!!(fast.bad & BAD_BARE_LF) == ref.bare_lf);
	FUZZ_ASSERT(!!(fast.bad & BAD_NUL) == ref.nul);
	if (ref_message_bad(&ref))
		return 0;
	FUZZ_ASSERT(fast.size == ref.size);
	FUZZ_ASSERT(fast.too_big ==
		    (cfg.size_limit != 0 && ref.size > cfg.size_limit));
	if (!fast.too_big)
		FUZZ_ASSERT(na == ref.kept && memcmp(a, want, na) == 0);
	return 0;
}
