/*
 * Fuzz target: the reply builder and name sanitizer (reply.c) with any
 * name, peer, address and HELO argument. Every line must be at most 512
 * octets, end in CRLF with no other CR or LF, hold only printable bytes;
 * the greeting must never cut NAME or " [ADDR]"; Received: lines must stay
 * within 998 octets.
 */
#include <stdint.h>

#include "../../reply.h"
#include "check.h"

/* Splits the input at NUL bytes into up to four strings. */
static size_t split(const uint8_t *data, size_t size, char *buf,
		    const char *field[4])
{
	size_t n = 0, i, start = 0;

	memcpy(buf, data, size);
	buf[size] = '\0';
	for (i = 0; i < 4; i++)
		field[i] = "";
	for (i = 0; i <= size && n < 4; i++)
		if (buf[i] == '\0') {
			field[n++] = buf + start;
			start = i + 1;
		}
	return n;
}

static int only_name_bytes(const char *s, size_t n, const char *extra)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_' || strchr(extra, c) != NULL) ||
		    c == '\0')
			return 0;
	}
	return 1;
}

static void check_hello(const char *name, const char *peer, const char *addr)
{
	char line[REPLY_LINE_MAX], addr_s[ADDR_TEXT_MAX + 1], head[300];
	size_t len = reply_hello(line, 250, 1, name, peer, addr);
	size_t head_len, tail_len;

	check_reply_stream(line, len);
	if (!name_is_valid(name))
		return;
	head_len = (size_t)snprintf(head, sizeof(head), "250-%s Hello ", name);
	FUZZ_ASSERT(len >= head_len && memcmp(line, head, head_len) == 0);
	name_sanitize(addr_s, sizeof(addr_s), addr, strlen(addr), ADDR_TEXT_MAX,
		      NAME_LITERAL);
	if (addr_s[0] == '\0')
		return;
	tail_len = strlen(addr_s) + 5; /* " [" ADDR "]" CRLF */
	FUZZ_ASSERT(len >= head_len + tail_len);
	FUZZ_ASSERT(memcmp(line + len - tail_len, " [", 2) == 0);
	FUZZ_ASSERT(memcmp(line + len - tail_len + 2, addr_s, strlen(addr_s)) ==
		    0);
	/* What stands between is the peer name: name bytes only. */
	FUZZ_ASSERT(only_name_bytes(line + head_len, len - head_len - tail_len,
				    ""));
}

static void check_received(const char *helo, const char *peer, const char *addr,
			   const char *name)
{
	char header[2048];
	struct received r = {helo,
			     peer,
			     peer[0] & 1,
			     addr,
			     name,
			     "ESMTP",
			     "Sat, 28 Nov 2026 01:54:37 +0000"};
	size_t len = received_header(header, sizeof(header), &r), i, col = 0;

	FUZZ_ASSERT(len > 0 && header[len - 1] == '\n');
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)header[i];
		FUZZ_ASSERT(c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f));
		col = c == '\n' ? 0 : col + 1;
		FUZZ_ASSERT(col <= HEADER_LINE_MAX);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[1 << 16];
	char line[REPLY_LINE_MAX], out[1100], logged[300];
	const char *f[4];
	size_t len, max;

	if (size >= sizeof(buf))
		return 0;
	split(data, size, buf, f);
	check_hello(f[0], f[1], f[2]);
	check_hello("mx.example", f[1], f[2]);
	check_hello("mx.example", f[1], "2001:db8::1");
	check_received(f[3], f[1], f[2], f[0]);

	len = reply_line(line, 250, 0, "2.0.0 %s", f[1]);
	check_reply_stream(line, len);
	len = reply_line(line, 421, 0, "4.4.2 %s Timeout", f[0]);
	check_reply_stream(line, len);

	max = size % sizeof(out);
	len = name_sanitize(out, sizeof(out), f[1], strlen(f[1]), max,
			    NAME_HOST);
	FUZZ_ASSERT(len == strlen(out) && len <= max);
	FUZZ_ASSERT(only_name_bytes(out, len, ""));
	if (strlen(f[1]) <= max)
		FUZZ_ASSERT(len == strlen(f[1]));

	log_field(logged, sizeof(logged), f[1]);
	for (len = 0; logged[len] != '\0'; len++)
		FUZZ_ASSERT(logged[len] >= 0x20 && logged[len] < 0x7f);
	return 0;
}
