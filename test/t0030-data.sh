#!/bin/bash
# DATA: the end marker, dot-stuffing, refused bytes, the size limit and the
# Received: header; the exact bytes the maildrop gets (SPEC 6).
. "$(dirname "$0")/lib.sh"

# HELO, MAIL, RCPT, DATA, then the raw bytes of stdin, then QUIT.
data_session() {
	{ printf "HELO client.example\r\nMAIL FROM:<a@b.example>\r\n";
	  printf "RCPT TO:<c@d.example>\r\nDATA\r\n"; cat;
	  printf "QUIT\r\n"; } >in &&
	raw_session "$@" <in
}

test_expect_success 'the message arrives whole, with LF line ends' '
	printf "Subject: hi\r\n\r\nline one\r\n\r\nline three\r\n.\r\n" |
		data_session -- "$RECORD" &&
	expect_codes <<-\EOF &&
	220
	250
	250
	250
	354
	250
	221
	EOF
	expect_message 1 <<-\EOF
	Subject: hi
	
	line one
	
	line three
	EOF
'

test_expect_success 'dot-stuffing is removed; dots elsewhere are kept' '
	printf "..\r\n...x\r\n.y\r\na.b\r\n. \r\n..\r\n.\r\n" |
		data_session -- "$RECORD" &&
	expect_message 1 <<-\EOF
	.
	..x
	y
	a.b
	 
	.
	EOF
'

test_expect_success 'an empty message (the end marker at once) is delivered' '
	printf ".\r\n" | data_session -- "$RECORD" &&
	expect_deliveries 1 &&
	[ "$(tail -n +4 drops/1.msg | wc -c)" = 0 ]
'

test_expect_success 'DATA ended by a bare LF, then .CRLF: one empty message' '
	printf "HELO c\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA\n.\r\nQUIT\n" >in &&
	raw_session -- "$RECORD" <in &&
	expect_codes <<-\EOF &&
	220
	250
	250
	250
	354
	250
	221
	EOF
	expect_deliveries 1 &&
	[ "$(tail -n +4 drops/1.msg | wc -c)" = 0 ]
'

test_expect_success 'the Received: header, RFC 5321 4.4' '
	printf "x\r\n.\r\n" | data_session -- "$RECORD" &&
	head -n 3 drops/1.msg >received &&
	sed -n 1p received | grep -qx "Received: from client.example (unknown \[192.0.2.1\])" &&
	sed -n 2p received | grep -qx "	by mx.example (smtpd) with SMTP;" &&
	sed -n 3p received | grep -qE "^	(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}$"
'

test_expect_success 'EHLO makes the protocol ESMTP' '
	printf "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\n" >in &&
	raw_session -- "$RECORD" <in &&
	sed -n 2p drops/1.msg | grep -qx "	by mx.example (smtpd) with ESMTP;"
'

test_expect_success 'a hostile HELO argument is sanitized and cut in Received:' '
	helo=$(printf "evil\033]0;x\007\"(a)%%s%0480d" 0) &&
	printf "HELO %s\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\n" "$helo" >in &&
	raw_session -- "$RECORD" <in &&
	expect_deliveries 1 &&
	head -n 1 drops/1.msg >line &&
	grep -qE "^Received: from \.\.\.0+ \(unknown \[192\.0\.2\.1\]\)$" line &&
	[ "$(wc -c <line)" -le 999 ] &&
	! grep -qP "[^\t\x20-\x7e]" drops/1.msg
'

test_expect_success 'several messages in one session, each delivered once' '
	printf "HELO c\r\n" >in &&
	for i in 1 2 3; do
		printf "MAIL FROM:<s$i@x>\r\nRCPT TO:<r$i@y>\r\nDATA\r\nmsg $i\r\n.\r\n" >>in
	done &&
	printf "QUIT\r\n" >>in &&
	raw_session -- "$RECORD" %F <in &&
	expect_deliveries 3 &&
	for i in 1 2 3; do
		expect_message $i <<-EOF &&
		msg $i
		EOF
		expect_argv $i <<-EOF || return 1
		s$i@x
		r$i@y
		EOF
	done
'

for case in 'bare LF:a\nb' 'bare CR:a\rb' 'NUL:a\0b' 'bare LF at a line start:\n.\n' \
	'CR CR LF:a\r\r\n' 'dot then bare LF:.\nx'; do
	what=${case%%:*} bytes=${case#*:}
	test_expect_success "a message with a $what: 554 after the end, nothing delivered" '
		printf "x\r\n$bytes\r\ny\r\n.\r\nNOOP\r\n" |
			data_session -- "$RECORD" &&
		expect_codes <<-\EOF &&
		220
		250
		250
		250
		354
		554
		250
		221
		EOF
		expect_deliveries 0
	'
done

test_expect_success 'the 554 names what was found' '
	printf "a\nb\rc\0d\r\n.\r\n" | data_session -- "$RECORD" &&
	grep -q "^554 5.6.0 Message refused: it holds a bare LF, a bare CR and a NUL; lines must end in CR LF.$" out &&
	printf "a\nb\r\n.\r\n" | data_session -- "$RECORD" &&
	grep -q "^554 5.6.0 Message refused: it holds a bare LF; lines must end in CR LF.$" out
'

test_expect_success 'a message of exactly -s octets is taken (CRLF counts 2)' '
	printf "123456789\r\n.\r\n" | data_session -s 11 -- "$RECORD" &&
	expect_deliveries 1
'

test_expect_success 'one octet over -s: read to its end, 552, nothing delivered' '
	printf "123456789\r\n.\r\nNOOP\r\n" | data_session -s 10 -- "$RECORD" &&
	expect_codes <<-\EOF &&
	220
	250
	250
	250
	354
	552
	250
	221
	EOF
	expect_deliveries 0
'

test_expect_success 'a stuffed dot does not count against -s' '
	printf "..23456789\r\n.\r\n" | data_session -s 11 -- "$RECORD" &&
	expect_deliveries 1
'

test_expect_success 'a 3 MB message arrives byte for byte' '
	python3 -c "
import sys
for i in range(40000):
    sys.stdout.write((\".\" if i % 7 == 0 else \"\") + \"line %06d \" % i + \"x\" * 60 + \"\\n\")
" >expect_body &&
	sed "s/^\./../; s/\$/\r/" expect_body >wire &&
	printf ".\r\n" >>wire &&
	data_session -- "$RECORD" <wire &&
	expect_deliveries 1 &&
	tail -n +4 drops/1.msg | cmp - expect_body
'

test_expect_success 'every SIZE-limit reply is within the line limit' '
	printf "x\r\n.\r\n" | data_session -s 1 -- "$RECORD" &&
	grep -q "^552 5.3.4 Message size exceeds fixed limit of 1 octets" out
'

test_done
