#!/bin/bash
# BDAT (CHUNKING, RFC 3030): chunks of a stated size, taken as they are, one
# maildrop run after the LAST chunk; the same line-end, NUL and size rules as
# DATA; and after any error the octets of every chunk are still read and
# thrown away, so that message data is never run as commands (go-smtp once
# ran a refused chunk's payload as commands).
. "$(dirname "$0")/lib.sh"

# chunk FORMAT [LAST]: "BDAT n[ LAST]" and the octets printf makes of FORMAT.
chunk() {
	printf "$1" >chunk.tmp
	printf "BDAT %d%s\r\n" "$(wc -c <chunk.tmp)" "${2:+ LAST}"
	cat chunk.tmp
}

envelope() {
	printf 'EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n'
}

# The EHLO reply's codes: 250- seven times, then 250.
ehlo_codes() {
	for i in 1 2 3 4 5 6 7; do echo 250-; done
	echo 250
}

test_expect_success 'one LAST chunk: taken as it is, no unstuffing, LF line ends' '
	{ envelope; chunk "Subject: x\r\n\r\n.hello\r\n..\r\n.\r\nend\r\n" LAST;
	  printf "QUIT\r\n"; } >in &&
	raw_session -- "$RECORD" %F <in &&
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
	250 2.1.0 Sender ok
	250 2.1.5 Recipient ok
	250 2.0.0 Ok: message accepted
	221 2.0.0 mx.example closing connection
	EOF
	expect_deliveries 1 &&
	expect_message 1 <<-\EOF &&
	Subject: x
	
	.hello
	..
	.
	end
	EOF
	expect_argv 1 <<-\EOF &&
	a@example.org
	b@example.org
	EOF
	head -n 1 drops/1.msg | grep -q "^Received: from c (unknown \[192.0.2.1\])$" &&
	sed -n 2p drops/1.msg | grep -q "by mx.example (smtpd) with ESMTP;$"
'

test_expect_success 'three chunks: 250 with each size, one delivery after LAST' '
	{ envelope; chunk "Subject: three\r\n"; chunk "\r\nbody line\r"; chunk "\nlast line\r\n";
	  chunk "" LAST; printf "QUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	grep "^250 2.0.0 [0-9]* octets received" out >sizes &&
	cat >expect <<-\EOF &&
	250 2.0.0 16 octets received
	250 2.0.0 12 octets received
	250 2.0.0 12 octets received
	EOF
	tr -d "\r" <sizes | diff -u expect - &&
	expect_deliveries 1 &&
	expect_message 1 <<-\EOF
	Subject: three
	
	body line
	last line
	EOF
'

test_expect_success 'a CR ending one chunk and an LF starting the next are a CR LF' '
	{ envelope; chunk "a\r"; chunk "\nb\r"; chunk "\n" LAST; printf "QUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	expect_deliveries 1 &&
	printf "a\nb\n" >want && tail -n +4 drops/1.msg | cmp - want
'

refused_554() {
	test_expect_success "$1: 554 after LAST, nothing delivered" "
		{ envelope; chunk 'Subject: x\r\n'; chunk '$2'; chunk 'end\r\n' LAST;
		  printf 'QUIT\r\n'; } >in &&
		raw_session -- \"\$RECORD\" <in &&
		{ echo 220; ehlo_codes; printf '%s\n' 250 250 250 250 554 221; } >want &&
		cut -c1-4 out | tr -d ' \r' | diff -u want - &&
		grep -q '^554 5.6.0 Message refused: it holds $3; lines must end in CR LF' out &&
		expect_deliveries 0
	"
}
refused_554 'a bare LF' 'x\ny\r\n' 'a bare LF'
refused_554 'a bare CR' 'x\ry\r\n' 'a bare CR'
refused_554 'a NUL' 'x\0y\r\n' 'a NUL'
refused_554 'a bare LF at the start of a chunk' '\ny\r\n' 'a bare LF'

test_expect_success 'a last chunk that ends in a CR is refused' '
	{ envelope; chunk "Subject: x\r\n\r\nbody\r" LAST; printf "QUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	grep -q "^554 5.6.0 Message refused: it holds a bare CR" out &&
	expect_deliveries 0
'

test_expect_success 'a last line without CR LF is delivered with an LF added' '
	{ envelope; chunk "Subject: x\r\n\r\nno line end" LAST; printf "QUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	expect_deliveries 1 &&
	printf "Subject: x\n\nno line end\n" >want && tail -n +4 drops/1.msg | cmp - want
'

test_expect_success 'BDAT 0 LAST alone is an empty message' '
	{ envelope; printf "BDAT 0 LAST\r\nQUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	expect_deliveries 1 &&
	[ "$(wc -l <drops/1.msg)" = 3 ] && head -n 1 drops/1.msg | grep -q "^Received: "
'

test_expect_success 'over -s: every octet read, 552 after LAST, the session goes on' '
	{ envelope; chunk "0123456789"; chunk "0123456789\r\n" LAST;
	  printf "MAIL FROM:<c@example.org>\r\nRCPT TO:<d@example.org>\r\n";
	  chunk "ok\r\n" LAST; printf "QUIT\r\n"; } >in &&
	raw_session -s 20 -- "$RECORD" %F <in &&
	grep -q "^552 5.3.4 Message size exceeds fixed limit of 20 octets" out &&
	expect_deliveries 1 &&
	head -n 1 drops/1.argv | grep -qx c@example.org &&
	tail -n 1 out | grep -q "^221 "
'

test_expect_success 'a size of exactly -s is taken' '
	{ envelope; chunk "0123456789"; chunk "01234567\r\n" LAST; printf "QUIT\r\n"; } >in &&
	raw_session -s 20 -- "$RECORD" <in &&
	expect_deliveries 1
'

# The heart of it: the payload of a refused chunk is SMTP commands, and
# none of them may run. Each would answer 250 or deliver if it did.
test_expect_success 'a refused chunk full of commands: its octets are dropped, not run' '
	payload="MAIL FROM:<x@example.org>\r\nRCPT TO:<y@example.org>\r\nDATA\r\nevil\r\n.\r\nQUIT\r\n" &&
	{ printf "EHLO c\r\n"; chunk "$payload"; chunk "$payload" LAST; printf "NOOP\r\nQUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	{ echo 220; ehlo_codes; printf "%s\n" 503 503 250 221; } >want &&
	cut -c1-4 out | tr -d " \r" | diff -u want - &&
	grep -q "^503 5.5.1 Send MAIL first" out &&
	expect_deliveries 0 &&
	expect_status 0
'

test_expect_success 'after a refused chunk the transaction stays failed until LAST' '
	payload="RSET\r\nMAIL FROM:<x@example.org>\r\nRCPT TO:<y@evil.example>\r\nBDAT 5 LAST\r\nevil!" &&
	{ printf "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@elsewhere.example>\r\n";
	  chunk "$payload"; chunk "$payload"; chunk "$payload" LAST;
	  printf "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n";
	  chunk "good\r\n" LAST; printf "QUIT\r\n"; } >in &&
	raw_session -a example.org -- "$RECORD" %F %T <in &&
	{ echo 220; ehlo_codes; printf "%s\n" 250 550 503 503 503 250 250 250 221; } >want &&
	cut -c1-4 out | tr -d " \r" | diff -u want - &&
	grep -c "^503 5.5.1 An earlier BDAT failed; send RSET" out | grep -qx 2 &&
	expect_deliveries 1 &&
	printf "a@example.org\nb@example.org\n" | cmp - drops/1.argv &&
	printf "good\n" | cmp - <(tail -n +4 drops/1.msg)
'

test_expect_success 'RSET ends a failed BDAT transaction' '
	{ printf "EHLO c\r\nMAIL FROM:<a@example.org>\r\n"; chunk "xxxx\r\n";
	  printf "RSET\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n";
	  chunk "ok\r\n" LAST; printf "QUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	{ echo 220; ehlo_codes; printf "%s\n" 250 503 250 250 250 250 221; } >want &&
	cut -c1-4 out | tr -d " \r" | diff -u want - &&
	expect_deliveries 1
'

test_expect_success 'DATA, MAIL and RCPT inside a BDAT transaction: 503' '
	{ envelope; chunk "part one\r\n";
	  printf "DATA\r\nMAIL FROM:<c@example.org>\r\nRCPT TO:<d@example.org>\r\n";
	  chunk "part two\r\n" LAST; printf "QUIT\r\n"; } >in &&
	raw_session -- "$RECORD" %T <in &&
	{ echo 220; ehlo_codes; printf "%s\n" 250 250 250 503 503 503 250 221; } >want &&
	cut -c1-4 out | tr -d " \r" | diff -u want - &&
	grep -q "^503 5.5.1 DATA not allowed in a BDAT transaction" out &&
	expect_deliveries 1 &&
	printf "b@example.org\n" | cmp - drops/1.argv &&
	printf "part one\npart two\n" | cmp - <(tail -n +4 drops/1.msg)
'

test_expect_success 'BDAT after DATA: a new transaction is needed (503), octets dropped' '
	{ envelope; printf "DATA\r\nx\r\n.\r\n"; chunk "RSET\r\nNOOP\r\n" LAST; printf "QUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	{ echo 220; ehlo_codes; printf "%s\n" 250 250 354 250 503 221; } >want &&
	cut -c1-4 out | tr -d " \r" | diff -u want - &&
	expect_deliveries 1
'

test_expect_success 'BDAT after HELO: 503, its octets dropped' '
	{ printf "HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n";
	  chunk "NOOP\r\nNOOP\r\n" LAST; printf "QUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	printf "%s\n" 220 250 250 250 503 221 >want &&
	cut -c1-4 out | tr -d " \r" | diff -u want - &&
	grep -q "^503 5.5.1 BDAT needs EHLO, not HELO" out &&
	expect_deliveries 0
'

bad_size() {
	test_expect_success "BDAT $1: 501, the session ends (exit 75), nothing after it runs" "
		{ envelope; printf 'BDAT $1\r\nRSET\r\nQUIT\r\n'; } >in &&
		raw_session -- \"\$RECORD\" <in &&
		tail -n 1 out | grep -q '^501 5.5.4 Syntax: BDAT octets \[LAST\]' &&
		! grep -q '^221' out &&
		expect_status 75 &&
		expect_deliveries 0
	"
}
bad_size ''
bad_size 'x'
bad_size '-1'
bad_size '+5'
bad_size '0x10'
bad_size '123456789012345678901'
bad_size '5 LASTX'
bad_size '5 LAST x'
bad_size '5  LAST'
bad_size '5 FIRST'

# A BDAT line smtpd cannot read is followed by data all the same: its
# payload (here a whole transaction) must never run.
unreadable_bdat() {
	test_expect_success "a BDAT line $1: 501, exit 75, its payload never runs" "
		payload='MAIL FROM:<e@evil.example>\r\nRCPT TO:<v@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n' &&
		{ printf 'EHLO c\r\n'; printf '$2' 86; printf \"\$payload\"; printf 'QUIT\r\n'; } >in &&
		raw_session -- \"\$RECORD\" %F %T <in &&
		tail -n 1 out | grep -q '^501 5.5.4 Syntax: BDAT octets \\[LAST\\]' &&
		! grep -q '^250 2.1.0' out &&
		expect_status 75 &&
		expect_deliveries 0
	"
}
unreadable_bdat 'over 512 octets' 'BDAT %d LAST                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 \r\n'
unreadable_bdat 'holding a NUL' 'BDAT %d\0 LAST\r\n'
unreadable_bdat 'with a tab' 'BDAT\t%d LAST\r\n'
unreadable_bdat 'after a space' ' BDAT %d LAST\r\n'
unreadable_bdat 'with a word after LAST' 'bdat %d last now\r\n'

test_expect_success 'a size of 20 digits past 2^64-1 is read as far as it goes' '
	{ envelope; printf "BDAT 99999999999999999999 LAST\r\nSubject: x\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	tail -n 1 out | grep -q "^250 2.1.5" &&
	expect_status 0 &&
	expect_deliveries 0
'

test_expect_success 'a chunk cut short by the end of input: nothing delivered' '
	{ envelope; printf "BDAT 1000 LAST\r\nSubject: short\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	expect_status 0 &&
	expect_deliveries 0
'

test_expect_success 'leading zeros and "last" in any case' '
	{ envelope; printf "BDAT 0003\r\nab\r"; printf "bdat 01 last\r\n\nQUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	expect_deliveries 1 &&
	printf "ab\n" | cmp - <(tail -n +4 drops/1.msg)
'

test_expect_success 'three BDAT transactions pipelined in one write' '
	{ printf "EHLO c\r\n";
	  for i in 1 2 3; do
		printf "MAIL FROM:<s$i@example.org>\r\nRCPT TO:<r$i@example.org>\r\n";
		chunk "Subject: $i\r\n\r\n"; chunk "body $i\r\n" LAST;
	  done; printf "QUIT\r\n"; } >in &&
	raw_session -- "$RECORD" %F <in &&
	expect_deliveries 3 &&
	for i in 1 2 3; do
		printf "s$i@example.org\nr$i@example.org\n" | cmp - drops/$i.argv &&
		printf "Subject: $i\n\nbody $i\n" | cmp - <(tail -n +4 drops/$i.msg) || return 1
	done &&
	[ "$(grep -c "^250 2.0.0 Ok: message accepted" out)" = 3 ]
'

dribbled() {
	test_expect_success "a chunked session fed in pieces of $*" "
		{ envelope; chunk 'Subject: d\r\n\r\n.x\r'; chunk '\n..\r\nend\r\n' LAST;
		  printf 'QUIT\r\n'; } >whole &&
		python3 \"\$TEST_DIR/bin/dribble.py\" $* <whole | raw_session -- \"\$RECORD\" &&
		expect_deliveries 1 &&
		printf 'Subject: d\n\n.x\n..\nend\n' | cmp - <(tail -n +4 drops/1.msg) &&
		tail -n 1 out | grep -q '^221 '
	"
}
dribbled 1
dribbled 3 7 2 5

test_expect_success 'a two-chunk session cut at every offset: delivered only if whole' '
	{ envelope; chunk "Subject: cut\r\n\r\n"; chunk "..x\r\nend\r\n" LAST; } >session &&
	end=$(wc -c <session) &&
	printf "QUIT\r\n" >>session &&
	size=$(wc -c <session) &&
	printf "Subject: cut\n\n..x\nend\n" >want &&
	for i in $(seq 0 $size); do
		head -c $i session >in &&
		rm -rf drops && mkdir drops &&
		raw_session -- "$RECORD" <in &&
		[ "$(cat status)" = 0 ] || { echo "cut at $i: exit $(cat status)"; return 1; }
		if [ $i -ge $end ]; then
			expect_deliveries 1 && tail -n +4 drops/1.msg | cmp - want || return 1
		else
			expect_deliveries 0 || { echo "cut at $i"; return 1; }
		fi
	done &&
	echo "$((size + 1)) cuts checked"
'

test_expect_success 'a client that stops sending inside a chunk: 421 after -t, no delivery' '
	{ envelope; printf "BDAT 100 LAST\r\nSubject: x\r\n"; sleep 4; } |
		raw_session -t 1 -- "$RECORD" &&
	tail -n 1 out | grep -q "^421 4.4.2 mx.example Timeout" &&
	expect_status 75 &&
	expect_deliveries 0
'

test_expect_success 'the maildrop'"'"'s exit code answers LAST as it answers DATA' '
	{ envelope; chunk "x\r\n" LAST; printf "QUIT\r\n"; } >in &&
	DROP_EXIT=67 raw_session -- "$RECORD" <in &&
	grep -q "^550 5.1.1 Recipient unknown" out &&
	DROP_EXIT=75 raw_session -- "$RECORD" <in &&
	grep -q "^451 4.3.0 " out
'

test_done
