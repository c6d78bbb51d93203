#!/bin/bash
# SMTP smuggling (Postfix CVE-2023-51764, sendmail CVE-2023-51765, Exim
# CVE-2023-51766): an end-of-data that another server might honour, followed
# by a second message. Only CR LF . CR LF ends data here, and a message with
# a bare CR or LF is refused, so no variant ever hands on a second message,
# nor the first: whole, byte by byte, or cut in odd-sized chunks.
. "$(dirname "$0")/lib.sh"

smuggle() {
	local what=$1 eod=$2
	printf 'EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n' >in
	printf 'Subject: first\r\n\r\nx%b' "$eod" >>in
	printf 'MAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nsend money\r\n.\r\nQUIT\r\n' >>in
}

# After the smuggled block the real end comes: exactly one 554 for the one
# message; the MAIL/RCPT/DATA inside it are message text, never commands.
expect_refused_whole() {
	expect_codes <<-\EOF &&
	220
	250-
	250-
	250-
	250-
	250-
	250-
	250-
	250
	250
	250
	354
	554
	221
	EOF
	expect_deliveries 0
}

for v in 'LF.LF:\n.\n' 'LF.CRLF:\n.\r\n' 'CRLF.LF:\r\n.\n' 'CR.CR:\r.\r' \
	'CR.CRLF:\r.\r\n' 'CRLF.CR:\r\n.\r' 'LF.CR:\n.\r' \
	'CRLF NUL.CRLF:\r\n\0.\r\n' 'CRLF.NUL CRLF:\r\n.\0\r\n' \
	'CRLF.CR CR LF:\r\n.\r\r\n'; do
	what=${v%%:*} eod=${v#*:}
	test_expect_success "$what then a smuggled message: refused whole" "
		smuggle '$what' '$eod' &&
		raw_session -- \"\$RECORD\" <in &&
		expect_refused_whole
	"
	test_expect_success "$what, fed byte by byte" "
		smuggle '$what' '$eod' &&
		python3 \"\$TEST_DIR/bin/dribble.py\" 1 <in |
			raw_session -- \"\$RECORD\" &&
		expect_refused_whole
	"
	test_expect_success "$what, fed in chunks of 3, 7, 2, 5" "
		smuggle '$what' '$eod' &&
		python3 \"\$TEST_DIR/bin/dribble.py\" 3 7 2 5 <in |
			raw_session -- \"\$RECORD\" &&
		expect_refused_whole
	"
done

test_expect_success 'CRLF SP . CRLF is text: one message, the block inside it' '
	smuggle "CRLF SP.CRLF" "\r\n .\r\n" &&
	raw_session -- "$RECORD" <in &&
	expect_deliveries 1 &&
	expect_message 1 <<-\EOF
	Subject: first
	
	x
	 .
	MAIL FROM:<admin@bank.example>
	RCPT TO:<victim@example.org>
	DATA
	Subject: smuggled
	
	send money
	EOF
'

test_expect_success 'CRLF.CRLF split across every read boundary ends data once' '
	printf "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n" >in &&
	for chunk in 1 2 3 4 5 6 7 8 9 10 11 13; do
		rm -rf drops && mkdir drops &&
		python3 "$TEST_DIR/bin/dribble.py" $chunk <in |
			raw_session -- "$RECORD" &&
		expect_deliveries 1 &&
		expect_message 1 <<-\EOF &&
		body
		EOF
		expect_codes <<-\EOF || { echo "chunk $chunk"; return 1; }
		220
		250
		250
		250
		354
		250
		250
		221
		EOF
	done
'

test_expect_success 'a smuggled block after a real end is an ordinary second message' '
	printf "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\none\r\n.\r\nMAIL FROM:<e@f>\r\nRCPT TO:<g@h>\r\nDATA\r\ntwo\r\n.\r\n" >in &&
	raw_session -- "$RECORD" %F <in &&
	expect_deliveries 2 &&
	expect_argv 2 <<-\EOF
	e@f
	g@h
	EOF
'

test_done
