#!/bin/bash
# The address grammar (RFC 5321 4.1.2): a path holds one Mailbox, a
# Dot-string or Quoted-string local part, one "@" outside quotes, and a
# domain name or address literal; with -a, the local part holds no routing
# syntax. The next program (sendmail, an MTA) reads the address again its
# own way: nothing smtpd passes on may read as two addresses or as a route.
. "$(dirname "$0")/lib.sh"

# rcpt_reply [smtpd options --] ADDRESS: the reply to RCPT TO:<ADDRESS>
# (in ./reply), and what the maildrop got (./drops).
rcpt_reply() {
	local opts=() addr
	while [ $# -gt 1 ]; do opts+=("$1"); shift; done
	addr=$1
	printf "HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n" "$addr" >in &&
	raw_session "${opts[@]}" -- "$RECORD" %T <in &&
	sed -n 4p out | tr -d "\r" >reply
}

# These were relayed by Postfix's and Exim's sendmail behind "-a example.org"
# before the grammar: refused now, and never handed on.
for addr in \
	'victim@evil.test,x@example.org' \
	'x@example.org,victim@evil.test' \
	'victim%evil.test@example.org' \
	'evil.test!victim@example.org' \
	'"victim@evil.test"@example.org' \
	'"victim%evil.test"@example.org' \
	'"evil.test!victim"@example.org' \
	'victim@evil.test@example.org' \
	'@evil.test:victim@evil.test' \
	'victim@evil.test (x@example.org)' \
	'victim@evil.test>,<x@example.org' \
	'x@example.org.' \
	'x@example.org.evil.test' \
	'x@[127.0.0.1]' \
	'"x,y"@example.org' \
	'"x;y"@example.org' \
	'"x:y"@example.org' \
	'"<x>"@example.org' \
	'x(comment)@example.org' \
	'x@example.org(comment)' \
	':include:/etc/passwd@example.org' \
	'x..y@example.org' \
	'.x@example.org' \
	'x.@example.org' \
	'""@example.org' \
	'x@-example.org' \
	'x@example-.org' \
	'x@exa_mple.org' \
	'x@' \
	'@example.org' \
	'x' \
	'root'; do
	# test_expect_success runs the body at once: $addr is this one.
	test_expect_success "-a example.org refuses <$addr>" '
		rcpt_reply -a example.org "$addr" &&
		grep -qE "^5(50 5.7.1|53 5.1.3|01 5.5.4) " reply ||
			fail "$(cat reply)" &&
		expect_deliveries 0
	'
done

test_expect_success 'the reply says why: routing, domain, not a mailbox' '
	for a in "v%e@example.org" "v@elsewhere.example" "v@e@example.org"; do
		rcpt_reply -a example.org "$a" && cat reply
	done >actual &&
	cat >expect <<-\EOF &&
	550 5.7.1 Recipient refused: its local part holds '"'"'@'"'"', '"'"'%'"'"' or '"'"'!'"'"'
	550 5.7.1 Recipient domain not accepted here
	553 5.1.3 recipient address is not a mailbox (local@domain)
	EOF
	diff -u expect actual
'

# Mailboxes the grammar allows, for a listed domain: taken, passed on as
# one argument each, exactly as sent.
for addr in \
	'x@example.org' \
	'X.Y-z+tag@EXAMPLE.ORG' \
	"o'brien@example.org" \
	'"quoted.local"@example.org' \
	'|/bin/sh@example.org' \
	'/etc/passwd@example.org' \
	'"john..doe"@example.org' \
	'"x\"y"@example.org' \
	'a{b}|c~d=e?f^g`h#i$j&k*l/m@example.org' \
	'@relay.example:x@example.org' \
	'@r1.example,@r2.example:x@example.org' \
	'postmaster' \
	'POSTMASTER'; do
	test_expect_success "-a example.org takes <$addr>" '
		rcpt_reply -a example.org "$addr" &&
		grep -q "^250 2.1.5 " reply || fail "$(cat reply)" &&
		expect_deliveries 1 &&
		want=${addr##*:} &&
		printf "%s\n" "$want" | cmp - drops/1.argv
	'
done

test_expect_success 'a quoted local part with a space is refused (it would split)' '
	rcpt_reply "\"quoted local\"@example.org" &&
	grep -q "^553 5.1.3 recipient address refused" reply
'

test_expect_success 'without -a the percent hack and bang paths are the maildrop'"'"'s business' '
	rcpt_reply "u%v@example.org" && grep -q "^250 " reply &&
	rcpt_reply "h!u@example.org" && grep -q "^250 " reply &&
	rcpt_reply "u@v@example.org" && grep -q "^553 " reply &&
	rcpt_reply "u@v,w@example.org" && grep -q "^553 " reply
'

test_expect_success 'one RCPT is one recipient: a comma list cannot pass -r' '
	printf "HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<a@example.org,b@example.org,c@example.org>\r\nRCPT TO:<d@example.org>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n" >in &&
	raw_session -r 1 -- "$RECORD" %T <in &&
	printf "%s\n" 220 250 250 553 250 354 250 221 >want &&
	cut -c1-3 out | diff -u want - &&
	printf "d@example.org\n" | cmp - drops/1.argv
'

test_expect_success 'MAIL FROM: with no path, or a route and no mailbox: 501' '
	printf "HELO c\r\nMAIL FROM:\r\nMAIL FROM: \r\nMAIL FROM:<@a.example,@b.example:>\r\nMAIL FROM:<@a.example:>\r\nMAIL FROM:<@:a@b.example>\r\nMAIL FROM:<@a.example,:x@b.example>\r\nMAIL FROM:<>\r\nQUIT\r\n" >in &&
	raw_session -- "$RECORD" <in &&
	printf "%s\n" 220 250 501 501 501 501 501 501 250 221 >want &&
	cut -c1-3 out | diff -u want - &&
	grep -c "^501 5.5.4 Syntax: MAIL FROM:<address>" out | grep -qx 6
'

test_expect_success 'the null sender and a routed sender reach argv right' '
	printf "HELO c\r\nMAIL FROM:<@r.example:s@example.org>\r\nRCPT TO:<t@example.org>\r\nDATA\r\nx\r\n.\r\n" >in &&
	printf "MAIL FROM:<>\r\nRCPT TO:<t@example.org>\r\nDATA\r\ny\r\n.\r\nQUIT\r\n" >>in &&
	raw_session -- "$RECORD" %F <in &&
	printf "s@example.org\nt@example.org\n" | cmp - drops/1.argv &&
	printf "\nt@example.org\n" | cmp - drops/2.argv
'

test_expect_success 'a sender that is not a mailbox: 553' '
	printf "HELO c\r\nMAIL FROM:<postmaster>\r\nMAIL FROM:<a,b@example.org>\r\nMAIL FROM:<a@b@example.org>\r\nQUIT\r\n" >in &&
	raw_session -- "$RECORD" <in &&
	[ "$(grep -c "^553 5.1.7 sender address is not a mailbox" out)" = 3 ]
'

test_expect_success 'EHLO or HELO with only spaces: 501' '
	printf "EHLO   \r\nHELO  \r\nMAIL FROM:<a@example.org>\r\nEHLO  c  \r\nQUIT\r\n" >in &&
	raw_session -- "$RECORD" <in &&
	sed -n 2,4p out | cut -c1-3 >codes &&
	printf "501\n501\n503\n" | diff -u - codes &&
	grep -q "^250-mx.example Hello" out
'

test_expect_success 'VRFY: 252 2.0.0, a valid enhanced code (X.5.2 is a syntax error)' '
	printf "VRFY root\r\nQUIT\r\n" >in &&
	raw_session -- "$RECORD" <in &&
	sed -n 2p out | grep -q "^252 2.0.0 Cannot VRFY"
'

test_done
