/* reply.c - the one bounded reply builder and name sanitizer. */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int is_letter_digit(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static int name_byte_ok(unsigned char c, enum name_kind kind)
{
	if (is_letter_digit(c) || c == '-' || c == '.' || c == '_')
		return 1;
	return kind == NAME_LITERAL && (c == '[' || c == ']' || c == ':');
}

size_t name_sanitize(char *dst, size_t dst_size, const char *src,
		     size_t src_len, size_t max_len, enum name_kind kind)
{
	size_t keep, i, out = 0;
	const char *from = src;

	if (max_len > dst_size - 1)
		max_len = dst_size - 1;
	keep = src_len;
	if (src_len > max_len) {
		/*
		 * Keep the right-hand end: the registered domain that answers
		 * for the name is there; the left-hand labels are whatever the
		 * zone's owner chose to put in front of it.
		 */
		size_t mark = sizeof(CUT_MARK) - 1;
		keep = max_len > mark ? max_len - mark : 0;
		memcpy(dst, CUT_MARK, max_len < mark ? max_len : mark);
		out = max_len < mark ? max_len : mark;
		from = src + src_len - keep;
	}
	for (i = 0; i < keep; i++) {
		unsigned char c = (unsigned char)from[i];
		dst[out++] = (char)(name_byte_ok(c, kind) ? c : '_');
	}
	dst[out] = '\0';
	return out;
}

int name_is_valid(const char *name)
{
	size_t len = strlen(name), i;

	if (len == 0 || len > DOMAIN_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!is_letter_digit(c) && c != '-' && c != '.')
			return 0;
	}
	return 1;
}

/* Appends text to line at *len, turning anything unprintable into '?' and
 * stopping so that room for CRLF is left. */
static void put_text(char *line, size_t *len, const char *text, size_t n)
{
	size_t room = REPLY_LINE_MAX - 2 - *len, i;

	if (n > room)
		n = room;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];
		line[(*len)++] = (char)((c >= 0x20 && c < 0x7f) ? c : '?');
	}
}

static size_t put_code(char *line, int code, int more)
{
	if (code < 200 || code > 599)
		code = 451;
	line[0] = (char)('0' + code / 100);
	line[1] = (char)('0' + code / 10 % 10);
	line[2] = (char)('0' + code % 10);
	line[3] = more ? '-' : ' ';
	return 4;
}

static size_t end_line(char *line, size_t len)
{
	line[len++] = '\r';
	line[len++] = '\n';
	return len;
}

size_t reply_vline(char line[REPLY_LINE_MAX], int code, int more,
		   const char *fmt, va_list ap)
{
	char text[REPLY_LINE_MAX];
	size_t len = put_code(line, code, more);
	int n;

	/* Most replies are fixed text: copy it, cut and cleaned the same way.
	 */
	if (strchr(fmt, '%') == NULL) {
		put_text(line, &len, fmt, strlen(fmt));
		return end_line(line, len);
	}
	/* Every caller has run va_start; clang-analyzer 14 loses track of the
	 * x86-64 array-typed va_list across the call. */
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
	n = vsnprintf(text, sizeof(text), fmt, ap);

	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(text))
		n = (int)sizeof(text) - 1;
	put_text(line, &len, text, (size_t)n);
	return end_line(line, len);
}

size_t reply_line(char line[REPLY_LINE_MAX], int code, int more,
		  const char *fmt, ...)
{
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	len = reply_vline(line, code, more, fmt, ap);
	va_end(ap);
	return len;
}

size_t reply_hello(char line[REPLY_LINE_MAX], int code, int more,
		   const char *name, const char *peer, const char *addr)
{
	char name_s[DOMAIN_MAX + 1], addr_s[ADDR_TEXT_MAX + 1];
	char peer_s[REPLY_LINE_MAX];
	size_t len = put_code(line, code, more), fixed, room;

	name_sanitize(name_s, sizeof(name_s), name, strlen(name), DOMAIN_MAX,
		      NAME_HOST);
	name_sanitize(addr_s, sizeof(addr_s), addr, strlen(addr), ADDR_TEXT_MAX,
		      NAME_LITERAL);
	/* 4 + 255 + 7 + 65 + 2 = 333 < 512: the fixed parts always fit,
	 * and PEER gets what is left. */
	fixed = len + strlen(name_s) + strlen(" Hello ") + 2;
	if (addr_s[0] != '\0')
		fixed += strlen(" []") + strlen(addr_s);
	room = REPLY_LINE_MAX - fixed;
	name_sanitize(peer_s, sizeof(peer_s), peer, strlen(peer), room,
		      NAME_HOST);

	put_text(line, &len, name_s, strlen(name_s));
	put_text(line, &len, " Hello ", 7);
	put_text(line, &len, peer_s, strlen(peer_s));
	if (addr_s[0] != '\0') {
		put_text(line, &len, " [", 2);
		put_text(line, &len, addr_s, strlen(addr_s));
		put_text(line, &len, "]", 1);
	}
	return end_line(line, len);
}

size_t received_header(char *dst, size_t dst_size, const struct received *r)
{
	char helo[HEADER_NAME_MAX + 1], peer[HEADER_NAME_MAX + 1];
	char addr[ADDR_TEXT_MAX + 1], name[DOMAIN_MAX + 1];
	char literal[ADDR_TEXT_MAX + 4] = "";
	int n;

	name_sanitize(helo, sizeof(helo), r->helo, strlen(r->helo),
		      HEADER_NAME_MAX, NAME_LITERAL);
	name_sanitize(peer, sizeof(peer), r->peer, strlen(r->peer),
		      HEADER_NAME_MAX, NAME_HOST);
	name_sanitize(addr, sizeof(addr), r->addr, strlen(r->addr),
		      ADDR_TEXT_MAX, NAME_LITERAL);
	name_sanitize(name, sizeof(name), r->name, strlen(r->name), DOMAIN_MAX,
		      NAME_HOST);
	if (addr[0] != '\0')
		snprintf(literal, sizeof(literal), " [%s]", addr);
	/* Longest first line: 15 + 255 + 2 + 255 + 66 + 16 + 1 < 998. */
	n = snprintf(dst, dst_size,
		     "Received: from %s (%s%s%s)\n"
		     "\tby %s (smtpd) with %s;\n"
		     "\t%s\n",
		     helo[0] ? helo : "unknown", peer, literal,
		     r->peer_confirmed || strcmp(peer, "unknown") == 0
			     ? ""
			     : " (may be forged)",
		     name, r->protocol, r->date);
	if (n < 0 || (size_t)n >= dst_size)
		return 0;
	return (size_t)n;
}

char *log_field(char *dst, size_t dst_size, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < dst_size && src[i] != '\0'; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (char)((c >= 0x20 && c < 0x7f) ? c : '?');
	}
	dst[i] = '\0';
	return dst;
}

/* How one octet stands in a quoted log field; returns its length. */
static size_t quote_octet(char out[4], unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	if (c == '"' || c == '\\') {
		out[0] = '\\';
		out[1] = (char)c;
		return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		out[0] = (char)c;
		return 1;
	}
	out[0] = '\\';
	out[1] = 'x';
	out[2] = hex[c >> 4];
	out[3] = hex[c & 15];
	return 4;
}

char *log_quote(char *dst, size_t dst_size, const char *src, size_t src_len)
{
	size_t limit, out = 0, i, whole = 0;
	char esc[4];

	for (i = 0; i < src_len; i++)
		whole += quote_octet(esc, (unsigned char)src[i]);
	/* Room for the closing quote and the NUL; when it is cut, for "..."
	 * too. */
	limit = 1 + whole + 2 <= dst_size ? dst_size - 2 : dst_size - 5;
	dst[out++] = '"';
	for (i = 0; i < src_len; i++) {
		size_t n = quote_octet(esc, (unsigned char)src[i]);

		if (out + n > limit) {
			memcpy(dst + out, "...", 3);
			out += 3;
			break;
		}
		memcpy(dst + out, esc, n);
		out += n;
	}
	dst[out++] = '"';
	dst[out] = '\0';
	return dst;
}
