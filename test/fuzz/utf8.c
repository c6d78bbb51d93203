/*
 * Fuzz target: the UTF-8 check of addresses (utf8_valid in smtpd.c, RFC
 * 3629 and no C1 control) against the reference decoder of check.h, which
 * decodes every sequence to its code point and judges the number; smtpd's
 * reads octet ranges from a table. They must agree on every input. Before
 * the first input, both are held against Python's own decoder: the table
 * in utf8-python.h (written by utf8-seeds.py, which also writes the seeds:
 * every boundary of the ranges, truncated sequences, lone continuations,
 * C0, C1 and F5..FF leads).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "utf8-python.h"

#include "smtpd-in.h"

static size_t from_hex(const char *hex, unsigned char *out)
{
	size_t n = 0;

	for (; hex[0] != '\0' && hex[1] != '\0'; hex += 2) {
		unsigned v;

		FUZZ_ASSERT(sscanf(hex, "%2x", &v) == 1);
		out[n++] = (unsigned char)v;
	}
	return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned char buf[64];
	size_t i;

	(void)argc;
	(void)argv;
	for (i = 0; i < sizeof(python_utf8) / sizeof(python_utf8[0]); i++) {
		size_t n = from_hex(python_utf8[i].hex, buf);

		if (ref_utf8_valid(buf, n) != python_utf8[i].valid ||
		    utf8_valid(buf, n) != python_utf8[i].valid) {
			fprintf(stderr,
				"utf8: %s: Python says %d, the reference %d, "
				"smtpd %d\n",
				python_utf8[i].hex, python_utf8[i].valid,
				ref_utf8_valid(buf, n), utf8_valid(buf, n));
			abort();
		}
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_ASSERT(utf8_valid(data, size) == ref_utf8_valid(data, size));
	return 0;
}
