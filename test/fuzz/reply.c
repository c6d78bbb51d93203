/*
 * Fuzz target: the reply builder, the name sanitizer and the log quoting
 * (reply.c) with any name, peer, address and HELO argument. Every line
 * must be at most 512 octets, end in CRLF with no other CR or LF, hold
 * only printable bytes; the greeting must never cut NAME or " [ADDR]";
 * Received: lines must stay within 998 octets.
 *
 * log_quote() gets the whole input, NULs and all, into a buffer of exactly
 * 8 to 263 octets (the first input octet says) and into one that always
 * has room: the field is in double quotes, printable ASCII, within the
 * buffer, with no '"' inside but as \", and read back (\", \\ and \xHH)
 * it is the input, or when cut (ending in "...") a prefix of the input
 * that stops only where the next octet's escape would not have fitted.
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

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* How long the escape of one octet is: \" \\ \xHH, or the octet. */
static size_t escape_length(unsigned char c)
{
	if (c == '"' || c == '\\')
		return 2;
	return c >= 0x20 && c < 0x7f ? 1 : 4;
}

/* Reads back the inside of a quoted field into out; 0 when it holds a
 * bare '"', an escape that is not \\", \\\\ or \\xHH, or an \\xHH of an
 * octet that stands as itself. */
static int unquote(const char *p, size_t n, unsigned char *out, size_t *len)
{
	size_t i = 0;

	*len = 0;
	while (i < n) {
		if (p[i] == '"')
			return 0;
		if (p[i] != '\\') {
			out[(*len)++] = (unsigned char)p[i++];
		} else if (i + 1 < n && (p[i + 1] == '"' || p[i + 1] == '\\')) {
			out[(*len)++] = (unsigned char)p[i + 1];
			i += 2;
		} else if (i + 3 < n && p[i + 1] == 'x' &&
			   hex_digit(p[i + 2]) >= 0 &&
			   hex_digit(p[i + 3]) >= 0) {
			unsigned char c =
				(unsigned char)(hex_digit(p[i + 2]) * 16 +
						hex_digit(p[i + 3]));

			if (escape_length(c) != 4)
				return 0;
			out[(*len)++] = c;
			i += 4;
		} else {
			return 0;
		}
	}
	return 1;
}

static void check_quote(const uint8_t *src, size_t src_len, size_t dst_size)
{
	static unsigned char back[1 << 16];
	char *dst = malloc(dst_size); /* exactly: ASan sees one octet past */
	size_t len, i, inside, escaped = 0, back_len;
	int whole;

	FUZZ_ASSERT(dst != NULL);
	FUZZ_ASSERT(log_quote(dst, dst_size, (const char *)src, src_len) ==
		    dst);
	len = strlen(dst);
	FUZZ_ASSERT(len < dst_size && len >= 2);
	FUZZ_ASSERT(dst[0] == '"' && dst[len - 1] == '"');
	for (i = 0; i < len; i++)
		FUZZ_ASSERT(dst[i] >= 0x20 && dst[i] < 0x7f);
	for (i = 0; i < src_len; i++)
		escaped += escape_length(src[i]);
	inside = len - 2;
	whole = unquote(dst + 1, inside, back, &back_len) &&
		back_len == src_len && memcmp(back, src, src_len) == 0;
	if (!whole) {
		/* Cut after a whole escape, then "...": a prefix of the input,
		 * and the next octet's escape would not have fitted. */
		FUZZ_ASSERT(inside >= 3 &&
			    memcmp(dst + 1 + inside - 3, "...", 3) == 0);
		inside -= 3;
		FUZZ_ASSERT(unquote(dst + 1, inside, back, &back_len));
		FUZZ_ASSERT(back_len < src_len &&
			    memcmp(back, src, back_len) == 0);
		FUZZ_ASSERT(1 + inside + escape_length(src[back_len]) + 3 + 1 +
				    1 >
			    dst_size);
	}
	/* All of it when it fits with room for "..." to spare (log_quote
	 * keeps that room even for the last escape). */
	if (1 + escaped + 3 + 1 + 1 <= dst_size)
		FUZZ_ASSERT(whole);
	free(dst);
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

	check_quote(data, size, 8 + (size > 0 ? data[0] : 0));
	check_quote(data, size, size * 4 + 8);
	return 0;
}
