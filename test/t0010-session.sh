#!/bin/bash
# The command set, reply codes, sequence and limits (SPEC 4, 5).
. "$(dirname "$0")/lib.sh"

test_expect_success 'banner, EHLO with its extensions, QUIT' '
	session_record <<-\EOF &&
	EHLO client.example
	QUIT
	EOF
	expect_replies <<-\EOF &&
	220 mx.example ESMTP smtpd
	250-mx.example Hello unknown [192.0.2.1]
	250-PIPELINING
	250-SIZE 10485760
	250-8BITMIME
	250-ENHANCEDSTATUSCODES
	250-CHUNKING
	250-SMTPUTF8
	250 HELP
	221 2.0.0 mx.example closing connection
	EOF
	expect_status 0
'

test_expect_success 'HELO is one line' '
	session_record <<-\EOF &&
	HELO client.example
	EOF
	expect_replies <<-\EOF &&
	220 mx.example ESMTP smtpd
	250 mx.example Hello unknown [192.0.2.1]
	EOF
	expect_status 0
'

test_expect_success 'no address at all: no " [ADDR]"' '
	PEER_IP= session_record <<-\EOF &&
	HELO c
	EOF
	grep -q "^250 mx.example Hello unknown.$" out
'

test_expect_success '$REMOTE_ADDR (systemd) when $TCPREMOTEIP is unset' '
	PEER_IP= REMOTE_ADDR=2001:db8::7 session_record <<-\EOF &&
	HELO c
	EOF
	grep -q "^250 mx.example Hello unknown \[2001:db8::7\].$" out
'

test_expect_success 'an address in $TCPREMOTEIP that is not one is dropped' '
	PEER_IP="1.2.3.4 [evil]" session_record <<-\EOF &&
	HELO c
	EOF
	grep -q "^250 mx.example Hello unknown.$" out
'

test_expect_success 'an IPv4-mapped IPv6 address is shown as IPv4' '
	PEER_IP=::ffff:192.0.2.9 session_record <<-\EOF &&
	HELO c
	EOF
	grep -q "^250 mx.example Hello unknown \[192.0.2.9\].$" out
'

test_expect_success 'NOOP, RSET, VRFY, HELP before and after HELO' '
	session_record <<-\EOF &&
	NOOP
	HELP
	EHLO c
	VRFY root
	RSET
	noop
	QUIT
	EOF
	expect_codes <<-\EOF
	220
	250
	214
	250-
	250-
	250-
	250-
	250-
	250-
	250-
	250
	252
	250
	250
	221
	EOF
'

test_expect_success 'unknown commands: 500; the session goes on' '
	session_record <<-\EOF &&
	FOO bar
	STARTTLS
	MAILFROM:<a@b>
	EHLO c
	QUIT
	EOF
	expect_replies <<-\EOF
	220 mx.example ESMTP smtpd
	500 5.5.1 Command unrecognized
	500 5.5.1 Command unrecognized
	500 5.5.1 Command unrecognized
	250-mx.example Hello unknown [192.0.2.1]
	250-PIPELINING
	250-SIZE 10485760
	250-8BITMIME
	250-ENHANCEDSTATUSCODES
	250-CHUNKING
	250-SMTPUTF8
	250 HELP
	221 2.0.0 mx.example closing connection
	EOF
'

test_expect_success 'bad sequence: 503' '
	session_record <<-\EOF &&
	MAIL FROM:<a@b.example>
	HELO c
	RCPT TO:<x@y.example>
	DATA
	MAIL FROM:<a@b.example>
	MAIL FROM:<a@b.example>
	DATA
	QUIT
	EOF
	expect_replies <<-\EOF &&
	220 mx.example ESMTP smtpd
	503 5.5.1 Send HELO or EHLO first
	250 mx.example Hello unknown [192.0.2.1]
	503 5.5.1 Send MAIL first
	503 5.5.1 Send MAIL first
	250 2.1.0 Sender ok
	503 5.5.1 Sender already given
	503 5.5.1 Send RCPT first
	221 2.0.0 mx.example closing connection
	EOF
	expect_deliveries 0
'

test_expect_success 'bad syntax: 501' '
	session_record <<-\EOF &&
	EHLO
	HELO
	HELO c
	MAIL TO:<a@b>
	MAIL FROM:<a@b
	MAIL FROM:<a@b>x
	MAIL FROM:<a@b>
	RCPT FROM:<a@b>
	RCPT TO:<>
	DATA now
	QUIT
	EOF
	expect_codes <<-\EOF
	220
	501
	501
	250
	501
	501
	501
	250
	501
	501
	501
	221
	EOF
'

test_expect_success 'a line of 512 octets with CRLF is a command' '
	printf "HELO %0505d\r\nQUIT\r\n" 0 >in &&
	[ "$(head -n 1 in | wc -c)" = 512 ] &&
	raw_session -- "$RECORD" <in &&
	expect_codes <<-\EOF
	220
	250
	221
	EOF
'

test_expect_success 'a line of 513 octets: 500, and the rest is dropped' '
	printf "HELO %0506d\r\nQUIT\r\n" 0 >in &&
	raw_session -- "$RECORD" <in &&
	expect_replies <<-\EOF
	220 mx.example ESMTP smtpd
	500 5.5.2 Line too long
	221 2.0.0 mx.example closing connection
	EOF
'

test_expect_success 'a line of 1 MB with a command in its middle runs nothing' '
	{ printf "NOOP "; head -c 500000 /dev/zero | tr "\0" a;
	  printf "\rQUIT\r"; head -c 500000 /dev/zero | tr "\0" b;
	  printf "\r\nNOOP\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	expect_codes <<-\EOF &&
	220
	500
	250
	EOF
	expect_status 0
'

test_expect_success 'a bare LF ends a command line too' '
	printf "HELO c\nNOOP\nQUIT\n" >in &&
	raw_session -- "$RECORD" <in &&
	expect_codes <<-\EOF
	220
	250
	250
	221
	EOF
'

test_expect_success 'a NUL in a command line: 500, nothing after it runs' '
	printf "HELO c\r\nNOOP\0QUIT\r\nNOOP\r\n" >in &&
	raw_session -- "$RECORD" <in &&
	expect_codes <<-\EOF &&
	220
	250
	500
	250
	EOF
	expect_status 0
'

test_expect_success 'a CR inside a command line is not a line end' '
	printf "HELO c\r\nMAIL FROM:<a@b>\rRSET\r\nRSET\r\n" >in &&
	raw_session -- "$RECORD" <in &&
	expect_codes <<-\EOF
	220
	250
	501
	250
	EOF
'

test_expect_success 'the 20th error: 421, exit 75' '
	for i in $(seq 25); do echo BAD; done | session_record &&
	[ "$(grep -c "^500 " out)" = 20 ] &&
	tail -n 1 out | grep -q "^421 4.7.0 mx.example Too many errors" &&
	expect_status 75
'

test_expect_success 'end of input without QUIT: exit 0' '
	printf "HELO c\r\nNOOP" >in &&
	raw_session -- "$RECORD" <in &&
	expect_codes <<-\EOF &&
	220
	250
	EOF
	expect_status 0
'

test_expect_success 'no input for -t seconds: 421, exit 75' '
	sleep 5 | raw_session -t 1 -- "$RECORD" &&
	expect_replies <<-\EOF &&
	220 mx.example ESMTP smtpd
	421 4.4.2 mx.example Timeout, closing connection
	EOF
	expect_status 75
'

test_expect_success 'a command line trickled past -t: 421' '
	{ printf "NO"; sleep 1; printf "O"; sleep 1; printf "P"; sleep 1;
	  printf "\r\n"; } | raw_session -t 2 -- "$RECORD" &&
	expect_codes <<-\EOF &&
	220
	421
	EOF
	expect_status 75
'

test_done
