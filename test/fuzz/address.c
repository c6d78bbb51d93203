/*
 * Fuzz target: the MAIL/RCPT path and parameter parser (parse_path and
 * mail_params in smtpd.c) on any argument: a source route, quoted local
 * parts, SIZE= and BODY= of any shape. An address it accepts is at most 254
 * octets, never starts with '-' and holds no space, control or 8-bit byte.
 * A SIZE= value is compared against -s as exactly as decimal strings are
 * (an oracle with no integer to overflow), at -s 1000 and -s 2^64-1.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

static jmp_buf session_over;

static _Noreturn void session_end(int status)
{
	(void)status;
	longjmp(session_over, 1);
}

#define exit(status) session_end(status)
#define main smtpd_main
#include "../../smtpd.c"
#undef exit
#undef main

static void check_address(const char *addr)
{
	size_t i, len = strlen(addr);

	FUZZ_ASSERT(len <= ADDRESS_MAX);
	FUZZ_ASSERT(addr[0] != '-');
	for (i = 0; i < len; i++)
		FUZZ_ASSERT((unsigned char)addr[i] > ' ' &&
			    (unsigned char)addr[i] < 0x7f);
}

/* Is the decimal string value greater than the decimal string limit? */
static int decimal_greater(const char *value, const char *limit)
{
	size_t vlen, llen;

	while (*value == '0' && value[1] != '\0')
		value++;
	vlen = strlen(value);
	llen = strlen(limit);
	return vlen != llen ? vlen > llen : strcmp(value, limit) > 0;
}

static void check_size(const char *v)
{
	static const struct {
		unsigned long long limit;
		const char *text;
	} limits[] = {{1000, "1000"}, {ULLONG_MAX, "18446744073709551615"}};
	size_t i;
	int over;

	if (*v == '\0' || strspn(v, "0123456789") != strlen(v)) {
		FUZZ_ASSERT(!size_param(v, &over));
		return;
	}
	for (i = 0; i < 2; i++) {
		cfg.size_limit = limits[i].limit;
		FUZZ_ASSERT(size_param(v, &over));
		FUZZ_ASSERT(over == decimal_greater(v, limits[i].text));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char arg[COMMAND_LINE_MAX + 1], addr[ADDRESS_MAX + 1], *params;
	const char *keyword = size > 0 && (data[0] & 1) ? "TO" : "FROM";

	if (size > COMMAND_LINE_MAX)
		return 0;
	memcpy(arg, data, size);
	arg[size] = '\0';
	if (size > 0 && data[0] == '=') {
		check_size(arg + 1);
		return 0;
	}
	cfg.size_limit = 1000;
	if (parse_path(arg, keyword, addr, &params) == PATH_OK) {
		check_address(addr);
		FUZZ_ASSERT(params >= arg && params <= arg + strlen(arg));
		ss.errors = 0;
		if (setjmp(session_over) == 0)
			mail_params(params);
		out.len = 0; /* the replies it made are not sent anywhere */
	}
	return 0;
}
