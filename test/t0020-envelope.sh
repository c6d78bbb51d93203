#!/bin/bash
# MAIL and RCPT: paths, parameters, limits, and addresses that could become
# options or injections in the maildrop's argv (SPEC 5).
. "$(dirname "$0")/lib.sh"

# Sends HELO, then the given MAIL/RCPT lines, then DATA with one line.
# Arguments: smtpd's options, "--", the maildrop and its arguments.
envelope() {
	{ echo HELO c; cat; echo DATA; echo hello; echo .; echo QUIT; } |
		session "$@"
}

test_expect_success 'null sender, two recipients, SIZE and BODY' '
	envelope -- "$RECORD" %F <<-\EOF &&
	MAIL FROM:<> SIZE=100 BODY=8BITMIME
	RCPT TO:<one@x.example>
	RCPT TO:<two@y.example>
	EOF
	expect_codes <<-\EOF &&
	220
	250
	250
	250
	250
	354
	250
	221
	EOF
	expect_deliveries 1 &&
	expect_argv 1 <<-\EOF
	
	one@x.example
	two@y.example
	EOF
'

test_expect_success 'keywords in any case, a space after the colon, no <>' '
	envelope -- "$RECORD" <<-\EOF &&
	mail from: <a@b.example> body=7bit size=5
	rcpt to:c@d.example
	EOF
	expect_codes <<-\EOF &&
	220
	250
	250
	250
	354
	250
	221
	EOF
	expect_argv 1 <<-\EOF
	c@d.example
	EOF
'

test_expect_success 'a source route is dropped' '
	envelope -- "$RECORD" %F <<-\EOF &&
	MAIL FROM:<@relay.example:a@b.example>
	RCPT TO:<@one.example,@two.example:c@d.example>
	EOF
	expect_argv 1 <<-\EOF
	a@b.example
	c@d.example
	EOF
'

test_expect_success 'addresses that start with "-" are refused' '
	envelope -- "$RECORD" <<-\EOF &&
	MAIL FROM:<-oQ/tmp/@evil.example>
	MAIL FROM:<a@b.example>
	RCPT TO:<-X/tmp/log@evil.example>
	RCPT TO:<@relay.example:-oQ/tmp@evil.example>
	RCPT TO:-be
	EOF
	expect_replies <<-\EOF &&
	220 mx.example ESMTP smtpd
	250 mx.example Hello unknown [192.0.2.1]
	553 5.1.7 sender address refused: it starts with '"'"'-'"'"' or holds a space or control byte
	250 2.1.0 Sender ok
	553 5.1.3 recipient address refused: it starts with '"'"'-'"'"' or holds a space or control byte
	553 5.1.3 recipient address refused: it starts with '"'"'-'"'"' or holds a space or control byte
	553 5.1.3 recipient address refused: it starts with '"'"'-'"'"' or holds a space or control byte
	503 5.5.1 Send RCPT first
	500 5.5.1 Command unrecognized
	500 5.5.1 Command unrecognized
	221 2.0.0 mx.example closing connection
	EOF
	expect_deliveries 0
'

test_expect_success 'spaces, tabs, control and 8-bit bytes in addresses are refused' '
	printf "HELO c\r\nMAIL FROM:<a@b>\r\n" >in &&
	printf "RCPT TO:<\"a b\"@x.example>\r\n" >>in &&
	printf "RCPT TO:<a\tb@x.example>\r\n" >>in &&
	printf "RCPT TO:<a\033[31m@x.example>\r\n" >>in &&
	printf "RCPT TO:<a\177@x.example>\r\n" >>in &&
	printf "RCPT TO:<\303\244@x.example>\r\n" >>in &&
	printf "RCPT TO:<a\0b@x.example>\r\n" >>in &&
	raw_session -- "$RECORD" <in &&
	expect_codes <<-\EOF
	220
	250
	250
	553
	553
	553
	553
	553
	500
	EOF
'

test_expect_success 'shell and quoting bytes stay one inert argument' '
	envelope -- "$RECORD" %F <<-\EOF &&
	MAIL FROM:<`touch${IFS}pwned`@b.example>
	RCPT TO:<x|y&z$HOME*?@d.example>
	RCPT TO:<"quoted'"'"'x"@d.example>
	EOF
	expect_deliveries 1 &&
	[ ! -e pwned ] && [ ! -e drops/pwned ] &&
	expect_argv 1 <<-\EOF
	`touch${IFS}pwned`@b.example
	x|y&z$HOME*?@d.example
	"quoted'"'"'x"@d.example
	EOF
'

test_expect_success 'a 254-octet address is taken, 255 and 5,000 are not' '
	a254=$(printf "%0244d@x.example" 0) &&
	a255=$(printf "%0245d@x.example" 0) &&
	a5000=$(printf "%04990d@x.example" 0) &&
	envelope -- "$RECORD" <<-EOF &&
	MAIL FROM:<a@b.example>
	RCPT TO:<$a254>
	RCPT TO:<$a255>
	RCPT TO:<$a5000>
	EOF
	expect_codes <<-\EOF &&
	220
	250
	250
	250
	501
	500
	354
	250
	221
	EOF
	expect_argv 1 <<-EOF
	$a254
	EOF
'

test_expect_success 'MAIL parameters: SIZE over -s is 552, unknown is 555' '
	session -s 1000 -- "$RECORD" <<-\EOF &&
	HELO c
	MAIL FROM:<a@b> SIZE=1000
	RSET
	MAIL FROM:<a@b> SIZE=1001
	MAIL FROM:<a@b> SIZE=18446744073709551615
	MAIL FROM:<a@b> SIZE=18446744073709551616
	MAIL FROM:<a@b> SIZE=99999999999999999999999
	MAIL FROM:<a@b> SIZE=
	MAIL FROM:<a@b> SIZE=-1
	MAIL FROM:<a@b> SIZE=1k
	MAIL FROM:<a@b> BODY=BINARYMIME
	MAIL FROM:<a@b> AUTH=<>
	MAIL FROM:<a@b> SIZE=0
	EOF
	expect_codes <<-\EOF
	220
	250
	250
	250
	552
	552
	552
	552
	501
	501
	501
	555
	555
	250
	EOF
'

test_expect_success 'SIZE with -s 0 (no limit) is never too big' '
	session -s 0 -- "$RECORD" <<-\EOF &&
	EHLO c
	MAIL FROM:<a@b> SIZE=18446744073709551616
	EOF
	grep -q "^250-SIZE 0.$" out &&
	tail -n 1 out | grep -q "^250 2.1.0"
'

test_expect_success 'RCPT parameters are refused' '
	session_record <<-\EOF &&
	HELO c
	MAIL FROM:<a@b>
	RCPT TO:<c@d> NOTIFY=NEVER
	EOF
	tail -n 1 out | grep -q "^555 5.5.4"
'

test_expect_success '-a: only its domains, any case; bare postmaster always' '
	envelope -a one.example -a TWO.example -- "$RECORD" <<-\EOF &&
	MAIL FROM:<a@b.example>
	RCPT TO:<x@one.example>
	RCPT TO:<y@two.EXAMPLE>
	RCPT TO:<z@three.example>
	RCPT TO:<z@sub.one.example>
	RCPT TO:<w@one.example.evil>
	RCPT TO:<nodomain>
	RCPT TO:<PostMaster>
	RCPT TO:<postmaster@three.example>
	EOF
	expect_codes <<-\EOF &&
	220
	250
	250
	250
	250
	550
	550
	550
	553
	250
	550
	354
	250
	221
	EOF
	expect_argv 1 <<-\EOF
	x@one.example
	y@two.EXAMPLE
	PostMaster
	EOF
'

test_expect_success 'without -a every mailbox is taken, and only a mailbox' '
	envelope -- "$RECORD" <<-\EOF &&
	MAIL FROM:<a@b.example>
	RCPT TO:<nodomain>
	RCPT TO:<x@[192.0.2.3]>
	RCPT TO:<y@[IPv6:2001:db8::1]>
	RCPT TO:<user%other.example@d.example>
	RCPT TO:<postmaster>
	EOF
	expect_codes <<-\EOF &&
	220
	250
	250
	553
	250
	250
	250
	250
	354
	250
	221
	EOF
	expect_argv 1 <<-\EOF
	x@[192.0.2.3]
	y@[IPv6:2001:db8::1]
	user%other.example@d.example
	postmaster
	EOF
'

test_expect_success 'more than -r recipients: 452, the message goes to -r' '
	envelope -r 2 -- "$RECORD" <<-\EOF &&
	MAIL FROM:<a@b.example>
	RCPT TO:<1@x>
	RCPT TO:<2@x>
	RCPT TO:<3@x>
	RCPT TO:<4@x>
	EOF
	expect_codes <<-\EOF &&
	220
	250
	250
	250
	250
	452
	452
	354
	250
	221
	EOF
	expect_argv 1 <<-\EOF
	1@x
	2@x
	EOF
'

test_expect_success 'RSET and a new EHLO drop the envelope' '
	session_record <<-\EOF &&
	HELO c
	MAIL FROM:<a@b>
	RCPT TO:<c@d>
	RSET
	DATA
	MAIL FROM:<a@b>
	RCPT TO:<c@d>
	EHLO c
	DATA
	EOF
	expect_codes <<-\EOF &&
	220
	250
	250
	250
	250
	503
	250
	250
	250-
	250-
	250-
	250-
	250-
	250-
	250-
	250
	503
	EOF
	expect_deliveries 0
'

test_done
