/*
 * Fuzz target: the MAIL/RCPT path and parameter parser (parse_path and
 * mail_params in smtpd.c) on any argument: a source route, quoted local
 * parts, SIZE= and BODY= of any shape. An address it accepts is at most 254
 * octets, never starts with '-' and holds no space, control or 8-bit byte.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char arg[COMMAND_LINE_MAX + 1], addr[ADDRESS_MAX + 1], *params;
	const char *keyword = size > 0 && (data[0] & 1) ? "TO" : "FROM";

	if (size > COMMAND_LINE_MAX)
		return 0;
	memcpy(arg, data, size);
	arg[size] = '\0';
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
