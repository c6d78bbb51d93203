/*
 * Fuzz target: the PROXY protocol header reader (proxy_parse in smtpd.c),
 * v1 and v2, driven as proxy_read() drives it: start with no octets, read
 * at most *need more, parse again, until DONE or BAD. The input's first
 * octet seeds the read sizes; the rest is what the connection carries.
 *
 * Every input is fed three ways: exactly *need octets a read (what
 * proxy_read asks for), one octet a read, and reads of 1 to *need octets
 * chosen by the seed; a read may always bring fewer than asked. The octets
 * not yet read are poisoned (ASan), so a parse that looks past what it was
 * given stops the run. Checked:
 *
 * - *need is at least 1 and never more than the reader's buffer holds;
 * - DONE has read the header and not one octet more: what was read is
 *   h->length octets, for v1 a line ending in CR LF (its only LF) of at
 *   most 107 octets, for v2 16 octets plus its length field; what follows
 *   the header is left to the session;
 * - the three ways reach the same verdict and the same header;
 * - the verdict and the header are what a reference reader written here
 *   from HAProxy's proxy-protocol.txt makes of the whole input: v1's
 *   "PROXY" SP ("UNKNOWN" [SP anything] / ("TCP4"/"TCP6") SP src SP dst SP
 *   sport SP dport) CRLF, addresses as inet_pton reads them, ports 0 to
 *   65535 without leading zeros; v2's signature, version 2, command LOCAL
 *   or PROXY, a known family whose address block fits in the length, TLVs
 *   that end inside the header, and PP2_TYPE_SSL (0x20) with the
 *   PP2_CLIENT_SSL bit meaning TLS. The source address of a DONE TCP
 *   header is the one in its text (v1, by inet_pton) or its first octets
 *   (v2).
 */
#define _GNU_SOURCE
#include <sanitizer/asan_interface.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

#include "smtpd-in.h"

/* ---- the reference ---- */

/*
 * Where smtpd chose among readings proxy-protocol.txt leaves open: a v1
 * line is text, and one that holds a NUL anywhere is malformed (even after
 * UNKNOWN, whose rest is otherwise ignored); a LOCAL header is taken
 * whatever its family and length say (the document says they are to be
 * ignored), and its TLVs are not read; a PP2_TYPE_SSL TLV counts only
 * with its 5 octets (the document's pp2_tlv_ssl), else it is skipped.
 */
#define LOCAL_FAMILY_CHECKED 0

struct verdict {
	enum proxy_status status; /* MORE: the input ended first */
	size_t length;
	int version, keep_peer, tls;
	int family; /* AF_INET, AF_INET6, or 0 when the peer is kept */
	unsigned char src[16];
};

static int port_ok(const char *p, size_t n)
{
	char text[8];
	size_t i;

	if (n == 0 || n > 5 || (p[0] == '0' && n > 1))
		return 0;
	for (i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	memcpy(text, p, n);
	text[n] = '\0';
	return atoi(text) <= 65535;
}

static int addr_ok(const char *p, size_t n, int af, unsigned char *out)
{
	char text[128];
	unsigned char scratch[16];

	if (n >= sizeof(text) || memchr(p, '\0', n) != NULL)
		return 0;
	memcpy(text, p, n);
	text[n] = '\0';
	return inet_pton(af, text, out != NULL ? out : scratch) == 1;
}

/* v1: "PROXY " then the rest of the line, in tokens split at each SP. */
static void ref_v1(const unsigned char *p, size_t n, struct verdict *v)
{
	static const char prefix[] = "PROXY ";
	const unsigned char *lf;
	const char *tok[5], *line = (const char *)p;
	size_t toklen[5], count = 0, len, i, start;
	int af;

	v->status = PROXY_BAD;
	if (memcmp(p, prefix, n < 6 ? n : 6) != 0)
		return;
	lf = memchr(p, '\n', n < PROXY_V1_MAX ? n : PROXY_V1_MAX);
	if (lf == NULL) {
		v->status = n >= PROXY_V1_MAX ? PROXY_BAD : PROXY_MORE;
		return;
	}
	len = (size_t)(lf - p) + 1;
	if (len < 8 || p[len - 2] != '\r' || memchr(p, '\0', len) != NULL)
		return;
	v->version = 1;
	v->length = len;
	/* "UNKNOWN": the rest of the line is to be ignored. */
	if (len >= 15 && memcmp(line + 6, "UNKNOWN", 7) == 0 &&
	    (len == 15 || line[13] == ' ')) {
		v->status = PROXY_DONE;
		v->keep_peer = 1;
		return;
	}
	/* Else exactly five tokens between "PROXY " and CR LF. */
	for (start = 6, i = 6; i <= len - 2; i++) {
		if (i < len - 2 && line[i] != ' ')
			continue;
		if (count == 5)
			return;
		tok[count] = line + start;
		toklen[count++] = i - start;
		start = i + 1;
	}
	if (count != 5 || toklen[0] != 4)
		return;
	if (memcmp(tok[0], "TCP4", 4) == 0)
		af = AF_INET;
	else if (memcmp(tok[0], "TCP6", 4) == 0)
		af = AF_INET6;
	else
		return;
	if (!addr_ok(tok[1], toklen[1], af, v->src) ||
	    !addr_ok(tok[2], toklen[2], af, NULL) ||
	    !port_ok(tok[3], toklen[3]) || !port_ok(tok[4], toklen[4]))
		return;
	v->family = af;
	v->status = PROXY_DONE;
}

/* v2: 12 octets of signature, ver_cmd, fam, len (16 bits, big-endian),
 * then len octets: the address block and TLVs. */
static void ref_v2(const unsigned char *p, size_t n, struct verdict *v)
{
	static const unsigned char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a,
					      0x00, 0x0d, 0x0a, 0x51,
					      0x55, 0x49, 0x54, 0x0a};
	size_t len, block, i;
	int cmd;

	v->status = PROXY_BAD;
	if (memcmp(p, sig, n < 12 ? n : 12) != 0)
		return;
	if (n > 12 && (p[12] >> 4 != 2 || (p[12] & 0x0f) > 1))
		return; /* version 2; LOCAL or PROXY */
	if (n < 16 || n < 16 + ((size_t)p[14] << 8 | p[15])) {
		v->status = PROXY_MORE;
		return;
	}
	len = (size_t)p[14] << 8 | p[15];
	cmd = p[12] & 0x0f;
	v->version = 2;
	v->length = 16 + len;
	if (cmd == 0 && !LOCAL_FAMILY_CHECKED) {
		v->keep_peer = 1;
		v->status = PROXY_DONE;
		return;
	}
	switch (p[13]) {
	case 0x00: /* UNSPEC */
		block = 0;
		break;
	case 0x11: /* TCP over IPv4 */
	case 0x12: /* UDP over IPv4 */
		block = 12;
		break;
	case 0x21: /* TCP over IPv6 */
	case 0x22: /* UDP over IPv6 */
		block = 36;
		break;
	case 0x31: /* UNIX stream */
	case 0x32: /* UNIX datagram */
		block = 216;
		break;
	default:
		return;
	}
	if (len < block)
		return;
	v->keep_peer = 1;
	if (cmd == 0) { /* LOCAL: the connection's own endpoints */
		v->status = PROXY_DONE;
		return;
	}
	for (i = 16 + block; i < 16 + len;) {
		size_t tlv_len;

		if (16 + len - i < 3)
			return;
		tlv_len = (size_t)p[i + 1] << 8 | p[i + 2];
		if (i + 3 + tlv_len > 16 + len)
			return;
		if (p[i] == 0x20 && tlv_len >= 5 && (p[i + 3] & 0x01))
			v->tls = 1;
		i += 3 + tlv_len;
	}
	if (p[13] == 0x11 || p[13] == 0x21) {
		v->keep_peer = 0;
		v->family = p[13] == 0x11 ? AF_INET : AF_INET6;
		memcpy(v->src, p + 16, p[13] == 0x11 ? 4 : 16);
	}
	v->status = PROXY_DONE;
}

static void ref_proxy(const unsigned char *p, size_t n, struct verdict *v)
{
	memset(v, 0, sizeof(*v));
	if (n == 0)
		v->status = PROXY_MORE;
	else if (p[0] == 'P')
		ref_v1(p, n, v);
	else if (p[0] == 0x0d)
		ref_v2(p, n, v);
	else
		v->status = PROXY_BAD;
	if (v->status != PROXY_DONE) {
		struct verdict keep = *v;

		memset(v, 0, sizeof(*v));
		v->status = keep.status;
	}
}

/* ---- the driver ---- */

static unsigned char window[PROXY_MAX] __attribute__((aligned(16)));

/* What smtpd made of a header: the same shape as the reference's. */
static void from_header(const struct proxy_header *h, enum proxy_status st,
			struct verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->status = st;
	if (st != PROXY_DONE)
		return;
	v->length = h->length;
	v->version = h->version;
	v->keep_peer = h->keep_peer;
	v->tls = h->tls;
	if (h->keep_peer)
		return;
	v->family = h->src.ss_family;
	if (v->family == AF_INET) {
		FUZZ_ASSERT(h->src_len == sizeof(struct sockaddr_in));
		memcpy(v->src, &((const struct sockaddr_in *)&h->src)->sin_addr,
		       4);
	} else {
		FUZZ_ASSERT(v->family == AF_INET6 &&
			    h->src_len == sizeof(struct sockaddr_in6));
		memcpy(v->src,
		       &((const struct sockaddr_in6 *)&h->src)->sin6_addr, 16);
	}
}

enum feed { FEED_NEED, FEED_ONE, FEED_SOME };

/*
 * Feeds p[0..n) as reads into the window, the octets not yet read
 * poisoned; returns how many were read when the parse stopped.
 */
static size_t drive(const unsigned char *p, size_t n, enum feed how,
		    uint32_t seed, struct verdict *v)
{
	struct proxy_header h;
	enum proxy_status st;
	size_t have = 0, need;
	const char *why;

	ASAN_POISON_MEMORY_REGION(window, sizeof(window));
	while ((st = proxy_parse(window, have, &h, &need, &why)) ==
	       PROXY_MORE) {
		size_t take;

		FUZZ_ASSERT(need >= 1 && need <= sizeof(window) - have);
		if (have == n)
			break; /* the connection ended inside the header */
		if (how == FEED_NEED)
			take = need;
		else if (how == FEED_ONE)
			take = 1;
		else {
			seed = seed * 1103515245u + 12345u;
			take = 1 + (seed >> 8) % need;
		}
		if (take > n - have)
			take = n - have; /* a short read */
		ASAN_UNPOISON_MEMORY_REGION(window + have, take);
		memcpy(window + have, p + have, take);
		have += take;
	}
	FUZZ_ASSERT(st != PROXY_BAD || *why != '\0');
	from_header(&h, st, v);
	ASAN_UNPOISON_MEMORY_REGION(window, sizeof(window));
	return have;
}

static int same_verdict(const struct verdict *a, const struct verdict *b)
{
	return a->status == b->status && a->length == b->length &&
	       a->version == b->version && a->keep_peer == b->keep_peer &&
	       a->tls == b->tls && a->family == b->family &&
	       memcmp(a->src, b->src, sizeof(a->src)) == 0;
}

static void show(const char *who, const struct verdict *v)
{
	fprintf(stderr,
		"%s: status=%d length=%zu version=%d keep_peer=%d tls=%d "
		"family=%d\n",
		who, v->status, v->length, v->version, v->keep_peer, v->tls,
		v->family);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"need", "one", "some"};
	struct verdict ref, got[3];
	const unsigned char *p = data + 1;
	size_t n, read[3], i;

	if (size < 1 || size - 1 > PROXY_MAX + 64)
		return 0;
	n = size - 1;
	ref_proxy(p, n, &ref);
	for (i = 0; i < 3; i++) {
		read[i] = drive(p, n, (enum feed)i, data[0], &got[i]);
		if (!same_verdict(&got[i], &ref)) {
			show("reference", &ref);
			show(names[i], &got[i]);
			abort();
		}
	}
	if (ref.status == PROXY_MORE)
		for (i = 0; i < 3; i++)
			FUZZ_ASSERT(read[i] == n);
	if (ref.status != PROXY_DONE)
		return 0;
	for (i = 0; i < 3; i++)
		FUZZ_ASSERT(read[i] == ref.length); /* not one octet more */
	if (ref.version == 1) {
		FUZZ_ASSERT(ref.length <= PROXY_V1_MAX);
		FUZZ_ASSERT(memcmp(p + ref.length - 2, "\r\n", 2) == 0);
		FUZZ_ASSERT(memchr(p, '\n', ref.length - 1) == NULL);
	} else {
		FUZZ_ASSERT(ref.length == 16 + ((size_t)p[14] << 8 | p[15]));
	}
	return 0;
}
