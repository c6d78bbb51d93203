#!/bin/bash
# The junk-command limit: a client may not hold a session without sending
# mail. More than 100 of HELO, EHLO, NOOP, VRFY, HELP and RSET since the
# session began or since the last accepted message: 421 4.7.0, exit 75.
. "$(dirname "$0")/lib.sh"

# junk N: N junk commands, the six kinds in turn (HELO and EHLO among them,
# so the session stays greeted).
junk() {
	local verbs=("NOOP" "VRFY x" "HELP" "RSET" "EHLO c" "HELO c") i
	for i in $(seq "$1"); do
		printf "%s\r\n" "${verbs[$((i % 6))]}"
	done
}

message() {
	printf "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n%s\r\n.\r\n" "$1"
}

test_expect_success '100 junk commands are answered; the 101st gets 421 and exit 75' '
	{ junk 100; printf "NOOP\r\nNOOP\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	tail -n 1 out | tr -d "\r" >last &&
	echo "421 4.7.0 mx.example Too many commands without mail, closing connection" | diff -u - last &&
	! grep -q "^5" out &&
	[ "$(grep -c "^[0-9][0-9][0-9] " out)" = 102 ] &&
	expect_status 75
'

test_expect_success 'an accepted message starts the count again' '
	{ junk 100; message x; junk 100; message y; junk 100; printf "QUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	expect_deliveries 2 &&
	tail -n 1 out | grep -q "^221 " &&
	expect_status 0
'

test_expect_success 'a refused message does not' '
	{ junk 60; message "bare LF:
"; junk 41; printf "QUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	grep -q "^554 5.6.0" out &&
	tail -n 1 out | grep -q "^421 4.7.0 " &&
	expect_status 75 &&
	expect_deliveries 0
'

test_expect_success 'a refused HELO or EHLO counts too' '
	{ printf "EHLO\r\nHELO\r\n"; junk 98; printf "EHLO\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	tail -n 1 out | grep -q "^421 4.7.0 " &&
	[ "$(grep -c "^501 " out)" = 2 ] &&
	expect_status 75
'

test_expect_success 'MAIL, RCPT within -r and DATA are not junk' '
	{ junk 100; printf "MAIL FROM:<a@example.org>\r\n";
	  for i in $(seq 100); do printf "RCPT TO:<b@example.org>\r\n"; done;
	  printf "DATA\r\nx\r\n.\r\nQUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	[ "$(grep -c "^250 2.1.5 " out)" = 100 ] &&
	tail -n 1 out | grep -q "^221 " &&
	expect_status 0 &&
	expect_deliveries 1
'

# The limit holds whatever a client loops on: answers that are neither
# errors nor mail count too.
test_expect_success 'RCPTs past -r count as junk' '
	{ printf "HELO c\r\nMAIL FROM:<a@example.org>\r\n";
	  for i in $(seq 5000); do printf "RCPT TO:<b@example.org>\r\n"; done;
	  printf "QUIT\r\n"; } >in &&
	raw_session -r 1 -- "$RECORD" <in &&
	[ "$(grep -c "^452 4.5.3 Too many recipients" out)" = 99 ] &&
	tail -n 1 out | grep -q "^421 4.7.0 " &&
	expect_status 75
'

test_expect_success 'messages that are refused count as junk' '
	{ printf "HELO c\r\n";
	  for i in $(seq 2000); do
		printf "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nbare\nLF\r\n.\r\n";
	  done; printf "QUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	[ "$(grep -c "^554 5.6.0" out)" = 100 ] &&
	tail -n 1 out | grep -q "^421 4.7.0 " &&
	expect_status 75 &&
	expect_deliveries 0
'

test_done
