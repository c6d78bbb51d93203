#!/bin/bash
# A message whose lines end in a bare LF, a bare CR, or not at all costs
# no more to read than one of CR LF lines: each octet is searched once. The
# measure is callgrind's count of instructions, which is the same from run
# to run whatever else the machine does: not a timed test. (A DATA of bare
# LF lines once cost one search of the rest of the read buffer per line.)
. "$(dirname "$0")/lib.sh"

command -v valgrind >/dev/null || test_skip_all "needs valgrind"
[ -n "${SMTPD_INSTRUMENTED:-}" ] &&
	test_skip_all "counts the plain build's instructions"

# body KIND: a session whose one message is 256 KiB of 76-octet lines
# ending in KIND (crlf, lf or cr), or one line of 256 KiB (one).
body() {
	python3 - "$1" <<-\PY
	import sys
	kind = sys.argv[1]
	head = b"HELO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n"
	end = {"crlf": b"\r\n", "lf": b"\n", "cr": b"\r", "one": b""}[kind]
	text = (b"y" * (76 - len(end)) + end) * 3449
	sys.stdout.buffer.write(head + text + b"\r\n.\r\nQUIT\r\n")
	PY
}

# instructions KIND: callgrind's total for smtpd reading body KIND.
instructions() {
	body "$1" >"in.$1" &&
	timeout 300 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"$SMTPD" -R -n mx.example -- true <"in.$1" 2>"cg.$1" >"out.$1" &&
	sed -n "s/.*Collected : \([0-9]*\)$/\1/p" "cg.$1"
}

test_expect_success 'bare LF, bare CR or one long line cost no more than CR LF lines' '
	crlf=$(instructions crlf) && [ -n "$crlf" ] &&
	grep -q "^250 2.0.0" out.crlf &&
	for kind in lf cr one; do
		n=$(instructions $kind) && [ -n "$n" ] &&
		echo "$kind: $n instructions, crlf: $crlf" &&
		[ "$n" -le $((crlf * 2)) ] || fail "$kind costs $n against $crlf"
	done &&
	grep -q "^554 5.6.0 Message refused: it holds a bare LF" out.lf &&
	grep -q "^554 5.6.0 Message refused: it holds a bare CR" out.cr &&
	grep -q "^250 2.0.0" out.one
'

test_done
