#!/bin/bash
# SMTPUTF8 (RFC 6531): UTF-8 addresses only in a transaction whose MAIL
# carried SMTPUTF8, and only well-formed UTF-8 (RFC 3629) without C1
# controls; the maildrop learns of it from SMTPUTF8=1 in its environment,
# and Received: says UTF8SMTP.
. "$(dirname "$0")/lib.sh"

# A maildrop that records its environment's SMTPUTF8 ("unset" when there
# is none) as N.env beside what test/bin/record keeps.
cat >"$TRASH/envdrop" <<-EOF
#!/bin/sh
n=\$(ls "\$DROP_DIR" | grep -c "\\.env\$")
printf "%s\\n" "\${SMTPUTF8-unset}" >"\$DROP_DIR/\$((n + 1)).env"
exec "$RECORD" "\$@"
EOF
chmod +x "$TRASH/envdrop"
ENVDROP=$TRASH/envdrop

# The UTF-8 addresses, as octets (the test scripts stay ASCII).
JOSE='j\303\266s\303\251@ex\303\244mple.org'     # jösé@exämple.org
USER='\347\224\250\346\210\267@\344\276\213\345\255\220.example' # 用户@例子.example

test_expect_success 'with SMTPUTF8: UTF-8 addresses taken, argv as sent, SMTPUTF8=1' '
	printf "EHLO c\r\nMAIL FROM:<$JOSE> SMTPUTF8\r\nRCPT TO:<$USER>\r\nDATA\r\nSubject: \303\274\r\n\r\nhi\r\n.\r\nQUIT\r\n" >in &&
	raw_session -- "$ENVDROP" %F %T <in &&
	grep -q "^250 2.0.0 Ok: message accepted" out &&
	expect_deliveries 1 &&
	printf "$JOSE\n$USER\n" | cmp - drops/1.argv &&
	echo 1 | cmp - drops/1.env &&
	sed -n 2p drops/1.msg | grep -q "by mx.example (smtpd) with UTF8SMTP;$" &&
	printf "Subject: \303\274\n\nhi\n" | cmp - <(tail -n +4 drops/1.msg)
'

test_expect_success 'without SMTPUTF8: 550 5.6.7 at MAIL, 553 5.6.7 at RCPT' '
	printf "EHLO c\r\nMAIL FROM:<$JOSE>\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<$USER>\r\nQUIT\r\n" >in &&
	raw_session -- "$RECORD" <in &&
	grep "^55" out | tr -d "\r" >actual &&
	cat >expect <<-\EOF &&
	550 5.6.7 sender address holds 8-bit octets; MAIL needs SMTPUTF8
	553 5.6.7 recipient address holds 8-bit octets; MAIL needs SMTPUTF8
	EOF
	diff -u expect actual &&
	expect_deliveries 0
'

test_expect_success 'SMTPUTF8 is per transaction, and an inherited SMTPUTF8 never reaches the maildrop' '
	printf "EHLO c\r\nMAIL FROM:<a@example.org> SMTPUTF8\r\nRCPT TO:<$USER>\r\nDATA\r\nx\r\n.\r\n" >in &&
	printf "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\ny\r\n.\r\n" >>in &&
	printf "MAIL FROM:<a@example.org>\r\nRCPT TO:<$USER>\r\nQUIT\r\n" >>in &&
	SMTPUTF8=inherited raw_session -- "$ENVDROP" <in &&
	expect_deliveries 2 &&
	echo 1 | cmp - drops/1.env &&
	echo unset | cmp - drops/2.env &&
	sed -n 2p drops/1.msg | grep -q "with UTF8SMTP;$" &&
	sed -n 2p drops/2.msg | grep -q "with ESMTP;$" &&
	tail -n 2 out | head -n 1 | grep -q "^553 5.6.7 "
'

test_expect_success 'SMTPUTF8 takes no value: 555' '
	printf "EHLO c\r\nMAIL FROM:<a@example.org> SMTPUTF8=yes\r\nMAIL FROM:<a@example.org> smtputf8 BODY=8BITMIME\r\nQUIT\r\n" >in &&
	raw_session -- "$RECORD" <in &&
	grep -q "^555 5.5.4 Unsupported MAIL parameter" out &&
	grep -q "^250 2.1.0 Sender ok" out
'

# Each is refused with 553 even with SMTPUTF8; the U+FEFF line is taken.
malformed() {
	test_expect_success "with SMTPUTF8, $1: 553" "
		printf 'EHLO c\r\nMAIL FROM:<a@example.org> SMTPUTF8\r\nRCPT TO:<$2@example.org>\r\nQUIT\r\n' >in &&
		raw_session -- \"\$RECORD\" <in &&
		grep -q '^553 5.1.3 recipient address is not well-formed UTF-8' out &&
		expect_deliveries 0
	"
}
malformed 'an overlong "/" (C0 AF)' 'a\300\257b'
malformed 'an overlong NUL (C0 80)' 'a\300\200b'
malformed 'a three-octet overlong (E0 80 AF)' 'a\340\200\257b'
malformed 'a four-octet overlong (F0 80 80 AF)' 'a\360\200\200\257b'
malformed 'a surrogate (ED A0 80)' 'a\355\240\200b'
malformed 'a code point past U+10FFFF (F4 90 80 80)' 'a\364\220\200\200b'
malformed 'F5, never in UTF-8' 'a\365\200\200\200b'
malformed 'a lone continuation octet' 'a\200b'
malformed 'a sequence cut short' 'a\342\202'
malformed 'a C1 control, U+0085 (C2 85)' 'a\302\205b'
malformed 'a C1 control, U+009B CSI (C2 9B)' 'a\302\233b'

test_expect_success 'with SMTPUTF8: U+FEFF, U+00A0 and U+10FFFF are well-formed and taken' '
	printf "EHLO c\r\nMAIL FROM:<a@example.org> SMTPUTF8\r\n" >in &&
	printf "RCPT TO:<a\357\273\277b@example.org>\r\nRCPT TO:<a\302\240b@example.org>\r\nRCPT TO:<a\364\217\277\277b@example.org>\r\n" >>in &&
	printf "DATA\r\nx\r\n.\r\nQUIT\r\n" >>in &&
	raw_session -- "$RECORD" <in &&
	[ "$(grep -c "^250 2.1.5 " out)" = 3 ] &&
	expect_deliveries 1
'

test_expect_success 'with SMTPUTF8 still no leading "-", space or control' '
	printf "EHLO c\r\nMAIL FROM:<a@example.org> SMTPUTF8\r\n" >in &&
	printf "RCPT TO:<-\303\266@example.org>\r\nRCPT TO:<\303\266 x@example.org>\r\nRCPT TO:<\303\266\033x@example.org>\r\nQUIT\r\n" >>in &&
	raw_session -- "$RECORD" <in &&
	[ "$(grep -c "^553 5.1.3 recipient address refused: it starts with" out)" = 3 ] &&
	expect_deliveries 0
'

test_expect_success 'with SMTPUTF8 and -a: a UTF-8 local part in a listed domain' '
	printf "EHLO c\r\nMAIL FROM:<$JOSE> SMTPUTF8\r\nRCPT TO:<\303\274ser@example.org>\r\nRCPT TO:<$USER>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n" >in &&
	raw_session -a example.org -- "$RECORD" %T <in &&
	grep -q "^550 5.7.1 Recipient domain not accepted here" out &&
	expect_deliveries 1 &&
	printf "\303\274ser@example.org\n" | cmp - drops/1.argv
'

test_done
