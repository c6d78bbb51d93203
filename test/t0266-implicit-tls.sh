#!/bin/bash
# Implicit TLS (port 465 style, RFC 8314): tlswrapper without -n does the
# TLS from the first octet and smtpd, without -S, sees only the decrypted
# session on a pipe. Real launchers (tcpserver; xinetd with the shipped
# etc/xinetd.d/smtps) and real clients that verify the certificate:
# smtplib.SMTP_SSL, swaks --tlsc, openssl s_client, curl smtps://.
#
# smtpd is not told that the session is encrypted (tlswrapper without -n
# has no way to say so, and smtpd has no option for it), so Received: says
# "with ESMTP" here, not ESMTPS. The tests pin that down, so that a change
# to it is seen.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-launch.sh"
. "$TEST_DIR/bin/tls-lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] && test_skip_all "real-server tests run in the plain make check"
command -v tlswrapper >/dev/null || test_skip_all "no tlswrapper"
command -v tcpserver >/dev/null || test_skip_all "no tcpserver (ucspi-tcp)"
# tlswrapper chroots its network and key processes into an empty directory
# under random uids: it must start as root.
test_have_prereq ROOT || test_skip_all "tlswrapper must start as root"

tls_cert || test_skip_all "openssl could not make a certificate"
INFO=$TRASH/tls-info

# The newest delivery is FILE msg from a@example.org to b@example.org, over
# 127.0.0.1, and its Received: says ESMTP: smtpd does not know of the TLS.
check_implicit() {
	expect_drop msg a@example.org b@example.org 127.0.0.1 &&
	received_with ESMTP
}

PORT=$(free_port)
tcpserver -H -R 127.0.0.1 "$PORT" \
	tlswrapper -f "$PEM" $SMTPD_WRAPPER "$SMTPD" -R -n mx.example -- "$RECORD" %F %T \
	>"$TRASH/tcpserver.log" 2>&1 &
LAUNCHER_PID=$!
wait_listening "$PORT" || test_skip_all "tcpserver did not listen"

test_expect_success 'smtplib.SMTP_SSL delivers, the certificate verified' '
	make_message smtplib msg &&
	python3 "$TEST_DIR/bin/tls-smtplib.py" ssl 127.0.0.1 $PORT "$CA" msg \
		a@example.org b@example.org >py.out &&
	grep -q "^tls: 250-mx.example Hello unknown \[127.0.0.1\]$" py.out &&
	grep -q "^tls STARTTLS: not listed$" py.out &&
	sed -n "s/^tls: \(TLS\)/smtplib.SMTP_SSL \1/p" py.out >>"$INFO" &&
	check_implicit
'

test_expect_success SWAKS 'swaks --tlsc delivers, the certificate verified' '
	make_message swaks msg && without_last_newline msg data &&
	swaks --server 127.0.0.1 --port $PORT --tlsc --tls-verify --tls-ca-path "$CA" \
		--helo swaks.example --from a@example.org --to b@example.org \
		--data @data --timeout 20 >swaks.out 2>&1 || { cat swaks.out; false; } &&
	grep -q "^<~  220 mx.example ESMTP" swaks.out &&
	grep -q "^<~  250 2.0.0 Ok: message accepted" swaks.out &&
	sed -n "s/^=== TLS started with cipher /swaks --tlsc /p" swaks.out >>"$INFO" &&
	check_implicit
'

test_expect_success 'openssl s_client delivers, in lock-step' '
	make_message sclient msg &&
	python3 "$TEST_DIR/bin/tls-sclient.py" -c 127.0.0.1 $PORT "$CA" msg \
		a@example.org b@example.org >sc.out 2>&1 || { cat sc.out; false; } &&
	grep -q "^Verification: OK" sc.out &&
	echo "openssl s_client $(sed -n "s/^Protocol version: //p" sc.out) $(sed -n "s/^Ciphersuite: //p" sc.out)" >>"$INFO" &&
	check_implicit
'

test_expect_success CURL 'curl smtps:// delivers, the certificate verified' '
	make_message curl msg &&
	curl -sS -v --max-time 20 --crlf --cacert "$CA" \
		--url "smtps://127.0.0.1:$PORT/curl.example" \
		--mail-from a@example.org --mail-rcpt b@example.org -T msg \
		>curl.out 2>&1 || { cat curl.out; false; } &&
	grep -q "< 250 2.0.0 Ok: message accepted" curl.out &&
	sed -n "s/^\* SSL connection using /curl smtps:\/\/ /p" curl.out >>"$INFO" &&
	check_implicit
'

test_expect_success 'a client that speaks plaintext gets no reply and delivers nothing' '
	before=$(ls "$DROPS" | grep -c "\.msg$") &&
	printf "EHLO plain\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n" >in &&
	timeout 30 python3 "$TEST_DIR/bin/tcp-exchange.py" 127.0.0.1 $PORT <in >got &&
	! grep -q "^[2-5][0-9][0-9][ -]" got &&
	after=$(ls "$DROPS" | grep -c "\.msg$") &&
	[ "$before" = "$after" ]
'

test_expect_success 'TLS 1.3 is refused: tlswrapper 0~20230101 stops at TLS 1.2' '
	! timeout 20 openssl s_client -connect 127.0.0.1:$PORT -tls1_3 \
		</dev/null >tls13.out 2>&1 &&
	grep -q "alert handshake failure\|alert protocol version" tls13.out &&
	timeout 20 openssl s_client -connect 127.0.0.1:$PORT -tls1_2 -brief \
		</dev/null >tls12.out 2>&1 &&
	grep -q "^Protocol version: TLSv1.2" tls12.out
'
stop_launcher

# The shipped xinetd service, with this build's paths, on a free port, and
# -u root (the test's maildrop writes where only root may).
if command -v xinetd >/dev/null; then
	PORT=$(free_port)
	sed -e "s,/usr/local/sbin/smtpd,$SMTPD," \
		-e "s,/etc/smtpd/tls.pem,$PEM," \
		-e "s,-u smtpd-tls,-u root," \
		-e "s,/usr/local/bin/maildir-deliver /var/mail/smtpd/Maildir,$RECORD %F %T," \
		-e "s,^\(	port[	 ]*=\).*,\1 $PORT," \
		-e "s,^\(	disable[	 ]*=.*\),\1\n	type = UNLISTED\n	bind = 127.0.0.1\n	env = DROP_DIR=$DROPS," \
		-e "s,^\(	log_type[	 ]*=\).*,\1 FILE $TRASH/xinetd.log," \
		"$SRC_DIR/etc/xinetd.d/smtps" >"$TRASH/xinetd.conf"
	xinetd -dontfork -f "$TRASH/xinetd.conf" -pidfile "$TRASH/xinetd.pid" \
		>"$TRASH/xinetd.out" 2>&1 &
	LAUNCHER_PID=$!
	if wait_listening "$PORT"; then
		test_expect_success SWAKS 'xinetd with etc/xinetd.d/smtps: swaks --tlsc delivers' '
			make_message xinetd msg && without_last_newline msg data &&
			swaks --server 127.0.0.1 --port $PORT --tlsc --tls-verify \
				--tls-ca-path "$CA" --helo swaks.example \
				--from a@example.org --to b@example.org \
				--data @data --timeout 20 >swaks.out 2>&1 ||
				{ cat swaks.out "$TRASH/xinetd.conf"; false; } &&
			grep -q "^<~  250 2.0.0 Ok: message accepted" swaks.out &&
			check_implicit
		'
		test_expect_success 'xinetd: a bad PEM path writes nothing into the connection (-q)' '
			mv "$PEM" "$PEM.away" &&
			printf "\\026\\003\\001\\000\\005hello" |
				timeout 30 python3 "$TEST_DIR/bin/tcp-exchange.py" 127.0.0.1 $PORT >got
			mv "$PEM.away" "$PEM" &&
			! grep -q "tlswrapper\|fatal" got
		'
	fi
	stop_launcher
fi

sed 's/^/# /' "$INFO" 2>/dev/null
test_done
