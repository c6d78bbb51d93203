#!/bin/bash
# Usage errors: exit 64, one line on stderr, nothing on stdout (SPEC 2).
. "$(dirname "$0")/lib.sh"

usage_fails() {
	"$SMTPD" "$@" </dev/null >stdout 2>stderr
	echo $? >status
	expect_status 64 &&
		[ ! -s stdout ] || fail "stdout not empty" &&
		[ "$(wc -l <stderr)" = 1 ] || fail "stderr is not one line" &&
		grep -q '^smtpd: .*usage: smtpd ' stderr || fail "no usage line"
}

test_expect_success 'no maildrop command' 'usage_fails -R'
test_expect_success 'unknown option' 'usage_fails -x -- true'
test_expect_success 'option without its value' 'usage_fails -s'
test_expect_success '-s that is not a number' 'usage_fails -s 10k true'
test_expect_success '-s that is negative' 'usage_fails -s -1 true'
test_expect_success '-s beyond 2^64' 'usage_fails -s 18446744073709551616 true'
test_expect_success '-r 0' 'usage_fails -r 0 true'
test_expect_success '-t 0' 'usage_fails -t 0 true'
test_expect_success '-m 0' 'usage_fails -m 0 true'
test_expect_success '-n with a space' 'usage_fails -n "mx example" true'
test_expect_success '-n with a CR LF' 'usage_fails -n "$(printf "mx\r\n250 x")" true'
test_expect_success '-n of 256 octets' '
	usage_fails -n "$(printf "%0256d" 0)" true
'
test_expect_success '-a with a slash' 'usage_fails -a "a/b" true'
test_expect_success 'a value missing after grouped flags' 'usage_fails -RRn'
test_expect_success 'an unknown option among grouped flags' 'usage_fails -Rx true'
test_expect_success '"--" with nothing after it' 'usage_fails -R --'
test_expect_success 'an option after "--" is the maildrop' '
	printf "EHLO c\r\nQUIT\r\n" |
		"$SMTPD" -R -n mx.example -- -s 10 >out 2>stderr &&
	[ ! -s stderr ] &&
	grep -q "^250-SIZE 10485760" out
'

test_expect_success '-n of 255 octets is taken whole' '
	name=$(printf "%0255d" 0) &&
	printf "QUIT\r\n" | "$SMTPD" -R -n "$name" true >out &&
	[ "$(head -n 1 out)" = "$(printf "220 %s ESMTP smtpd\r" "$name")" ]
'

test_expect_success 'a valid $TCPLOCALHOST names the server' '
	printf "QUIT\r\n" | TCPLOCALHOST=local.example "$SMTPD" -R true >out &&
	grep -q "^220 local.example ESMTP" out
'

test_expect_success 'a bad $TCPLOCALHOST is ignored, -n wins' '
	printf "QUIT\r\n" | TCPLOCALHOST="bad name" "$SMTPD" -R true >out1 &&
	! grep -q "bad" out1 &&
	printf "QUIT\r\n" | TCPLOCALHOST=local.example \
		"$SMTPD" -R -n given.example true >out2 &&
	grep -q "^220 given.example ESMTP" out2
'

# The forms getopt(3) reads, which smtpd reads the same way: grouped flags,
# a value joined to its letter, a value that starts with '-', "--".
test_expect_success 'grouped flags and joined values' '
	printf "EHLO c\r\nQUIT\r\n" |
		"$SMTPD" -RRnjoined.example -s1000 -a -dash.example -t 5 true >out &&
	grep -q "^220 joined.example ESMTP" out &&
	grep -q "^250-SIZE 1000" out
'

test_expect_success 'a lone "-" is the maildrop, not an option' '
	printf "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n" |
		"$SMTPD" -R -n mx.example - >out &&
	grep -q "^451 4.3.0" out
'

test_expect_success 'options stop at the maildrop: its own options are its' '
	printf "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\n" |
		DROP_DIR=$PWD/drops "$SMTPD" -R -n mx.example "$RECORD" -R -n &&
	expect_argv 1 <<-\EOF
	-R
	-n
	c@d
	EOF
'

test_done
