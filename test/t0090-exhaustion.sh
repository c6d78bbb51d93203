#!/bin/bash
# Clients that never stop: an endless line, a flood of pipelined commands, a
# message far over -s, a client that never reads. smtpd's peak resident
# size (VmHWM) stays under 4 MiB and each session ends within its deadline.
. "$(dirname "$0")/lib.sh"

# The memory bound holds for the plain build; ASan and valgrind builds
# are checked for everything else.
PEAK_KB=4096

# hostile KIND AMOUNT [smtpd options]
hostile() {
	local kind=$1 amount=$2
	shift 2
	python3 "$TEST_DIR/bin/hostile.py" "$kind" "$amount" -- \
		env TCPREMOTEIP=192.0.2.1 \
		$SMTPD_WRAPPER "$SMTPD" $SMTPD_OPTS -t 2 "$@" -- true >result &&
	cat result &&
	sed 's/ /\n/g' result >fields
}

field() {
	sed -n "s/^$1=//p" fields
}

# Fails unless field NAME is at most MAX (a decimal number).
at_most() {
	python3 -c "import sys; sys.exit(0 if float('$(field "$1")') <= $2 else 1)" ||
		fail "$1=$(field "$1"), more than $2"
}

test_expect_success 'a line of 8 MB that never ends: 421 after -t, memory flat' '
	hostile longline 8 &&
	[ "$(field status)" = 75 ] && [ "$(field signal)" = 0 ] &&
	check_reply_lines replies &&
	tail -n 1 replies | grep -q "^421 4.4.2 " &&
	at_most seconds 4 &&
	{ [ -n "${SMTPD_INSTRUMENTED:-}" ] || at_most maxrss_kb $PEAK_KB; }
'

# Recipients are kept, about 40 octets each here: 100,000 take some 4 MB.
test_expect_success '100,000 pipelined RCPTs under -r 100000: 100,004 replies, memory bounded' '
	hostile rcpts 100000 -r 100000 &&
	[ "$(field status)" = 0 ] &&
	[ "$(field replies)" = 100004 ] &&
	[ "$(grep -c "^250 2.1.5 " replies)" = 100000 ] &&
	check_reply_lines replies &&
	{ [ -n "${SMTPD_INSTRUMENTED:-}" ] || at_most maxrss_kb $((PEAK_KB + 6144)); }
'

test_expect_success '100,000 pipelined RCPTs under -r 100: 100 taken, then junk until 421' '
	hostile rcpts 100000 &&
	[ "$(field status)" = 75 ] &&
	[ "$(grep -c "^250 2.1.5 " replies)" = 100 ] &&
	[ "$(grep -c "^452 4.5.3 " replies)" = 99 ] &&
	tail -n 1 replies | grep -q "^421 4.7.0 " &&
	check_reply_lines replies
'

test_expect_success '100,000 pipelined NOOPs: the 101st junk command ends it' '
	hostile pipeline 100000 &&
	[ "$(field status)" = 75 ] &&
	[ "$(field replies)" = 102 ] &&
	[ "$(grep -c "^250 2.0.0 Ok" replies)" = 99 ] &&
	tail -n 1 replies | grep -q "^421 4.7.0 mx.example Too many commands without mail" &&
	check_reply_lines replies
'

test_expect_success 'a 100 MB message over the 10 MB -s: read to the end, 552, memory flat' '
	hostile bigdata 100 &&
	[ "$(field status)" = 0 ] &&
	grep -q "^552 5.3.4 " replies &&
	tail -n 1 replies | grep -q "^221 " &&
	{ [ -n "${SMTPD_INSTRUMENTED:-}" ] || at_most maxrss_kb $PEAK_KB; }
'

test_expect_success EXPENSIVE 'a 2 GB message: 552 with constant memory' '
	hostile bigdata 2048 &&
	[ "$(field status)" = 0 ] &&
	grep -q "^552 5.3.4 " replies &&
	{ [ -n "${SMTPD_INSTRUMENTED:-}" ] || at_most maxrss_kb $PEAK_KB; }
'

test_expect_success 'a client that never reads its replies: cut off after -t' '
	hostile noread 300000 -r 100000 &&
	[ "$(field status)" = 75 ] && [ "$(field signal)" = 0 ] &&
	at_most seconds 6
'

test_done
