#!/bin/bash
# STARTTLS through real launchers with real clients: tcpserver and
# systemd-socket-activate run `tlswrapper -n` (Debian's tlswrapper), which
# runs smtpd -S. Python smtplib (starttls()), swaks --tls, openssl s_client
# -starttls smtp (driven line by line, EHLO again after TLS) and curl
# --ssl-reqd each verify the test's certificate, deliver a message, and the
# maildrop gets it byte for byte with a Received: that says ESMTPS and the
# client's address (which smtpd, reading a pipe, has from tlswrapper's
# TCPREMOTEIP).
#
# Then CVE-2011-0411 as a man in the middle does it, a transaction sent as
# a TCP segment of its own right after STARTTLS, a hundred times, through
# tlswrapper -n and through the UCSPI-TLS stand-in (test/bin/tls-ucspi.py).
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-launch.sh"
. "$TEST_DIR/bin/tls-lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] && test_skip_all "real-server tests run in the plain make check"
command -v tlswrapper >/dev/null || test_skip_all "no tlswrapper"
# tlswrapper chroots its network and key processes into an empty directory
# under random uids: it must start as root.
test_have_prereq ROOT || test_skip_all "tlswrapper must start as root"

tls_cert || test_skip_all "openssl could not make a certificate"
INFO=$TRASH/tls-info
# -T: tlswrapper's bound on the handshake.
TLSWRAPPER="tlswrapper -n -T 10 -f $PEM"
SMTPD_S="$SMTPD -S -R -n mx.example -- $RECORD %F %T"

# starttls_clients HOST PORT ADDR LABEL: the four clients, each checked.
starttls_clients() {
	local host=$1 port=$2 addr=$3 label=$4
	test_expect_success "smtplib starttls(), three recipients$label" "
		make_message smtplib msg &&
		python3 \"\$TEST_DIR/bin/tls-smtplib.py\" starttls $host $port \"\$CA\" msg \
			a@example.org b@example.org c@example.org d@example.org >py.out &&
		grep -qx 'before: 250-mx.example Hello unknown \[$addr\]' py.out &&
		grep -qx 'before STARTTLS: listed' py.out &&
		grep -qx 'starttls: 220 2.0.0 Ready to start TLS' py.out &&
		grep -qx 'after STARTTLS: not listed' py.out &&
		sed -n 's/^tls: /smtplib$label: /p' py.out >>\"\$INFO\" &&
		expect_drop msg a@example.org b@example.org c@example.org d@example.org $addr &&
		received_with ESMTPS
	"
	test_expect_success SWAKS "swaks --tls$label" "
		make_message swaks msg && without_last_newline msg data &&
		swaks --server $host --port $port --tls --tls-verify --tls-ca-path \"\$CA\" \
			--helo swaks.example --from a@example.org --to b@example.org \
			--data @data --timeout 20 >swaks.out 2>&1 || { cat swaks.out; false; } &&
		grep -q '^<-  250-STARTTLS' swaks.out &&
		grep -q '^<-  220 2.0.0 Ready to start TLS' swaks.out &&
		grep -q '^<~  250-mx.example Hello unknown \[$addr\]' swaks.out &&
		! grep -q '^<~  250-STARTTLS' swaks.out &&
		grep -q '^<~  250 2.0.0 Ok: message accepted' swaks.out &&
		sed -n 's/^=== TLS started with cipher /swaks$label: /p' swaks.out >>\"\$INFO\" &&
		expect_drop msg a@example.org b@example.org $addr &&
		received_with ESMTPS
	"
	test_expect_success "openssl s_client -starttls smtp, EHLO again, lock-step$label" "
		make_message sclient msg &&
		python3 \"\$TEST_DIR/bin/tls-sclient.py\" $host $port \"\$CA\" msg \
			a@example.org b@example.org >sc.out 2>&1 || { cat sc.out; false; } &&
		grep -q '^S: 250-mx.example Hello unknown \[$addr\]' sc.out &&
		! grep -q '^S: 250-STARTTLS' sc.out &&
		grep -q '^Verification: OK' sc.out &&
		echo \"s_client$label: \$(sed -n 's/^Protocol version: //p' sc.out) \$(sed -n 's/^Ciphersuite: //p' sc.out)\" >>\"\$INFO\" &&
		expect_drop msg a@example.org b@example.org $addr &&
		received_with ESMTPS
	"
	test_expect_success CURL "curl --ssl-reqd smtp://$label" "
		make_message curl msg &&
		url_host=$host && case $host in *:*) url_host=\"[$host]\" ;; esac &&
		curl -sS -v --max-time 20 --crlf --ssl-reqd --cacert \"\$CA\" \
			--url \"smtp://\$url_host:$port/curl.example\" \
			--mail-from a@example.org --mail-rcpt b@example.org -T msg \
			>curl.out 2>&1 || { cat curl.out; false; } &&
		grep -q '^< 220 2.0.0 Ready to start TLS' curl.out &&
		grep -q '^< 250 2.0.0 Ok: message accepted' curl.out &&
		sed -n 's/^\* SSL connection using /curl$label: /p' curl.out >>\"\$INFO\" &&
		expect_drop msg a@example.org b@example.org $addr &&
		received_with ESMTPS
	"
}

# big_message FILE: about 5 MB, every fifth line beginning with a dot.
big_message() {
	python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    f.write("Subject: big\n\n")
    for i in range(70000):
        f.write(("." if i % 5 == 0 else "") + "%08d " % i + "z" * 64 + "\n")
' "$1" && [ "$(wc -c <"$1")" -gt 5000000 ]
}

# Waits (at most 20 s) until the launcher has no session left running.
wait_sessions() {
	local i
	for i in $(seq 200); do
		pgrep -P "$LAUNCHER_PID" >/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# The deliveries whose Subject is "injected".
injected() {
	grep -l "^Subject: injected" "$DROPS"/*.msg 2>/dev/null | wc -l
}

PORT=$(free_port)
tcpserver -H -R 127.0.0.1 "$PORT" $TLSWRAPPER $SMTPD_S >"$TRASH/tcpserver.log" 2>&1 &
LAUNCHER_PID=$!
wait_listening "$PORT" || test_skip_all "tcpserver did not listen"

starttls_clients 127.0.0.1 $PORT 127.0.0.1 " (tcpserver)"

test_expect_success 'a 5 MB message through tlswrapper -n, byte for byte' '
	big_message big &&
	python3 "$TEST_DIR/bin/tls-smtplib.py" starttls 127.0.0.1 $PORT "$CA" big \
		a@example.org big@example.org >py.out &&
	expect_drop big a@example.org big@example.org 127.0.0.1 &&
	received_with ESMTPS
'

test_expect_success 'TLS 1.3 is refused (tlswrapper 0~20230101 stops at 1.2)' '
	! timeout 20 openssl s_client -starttls smtp -connect 127.0.0.1:$PORT \
		-tls1_3 </dev/null >tls13.out 2>&1 &&
	grep -q "alert handshake failure\|alert protocol version" tls13.out
'

# tlswrapper -t ends a session in which nothing moved for that long, the
# time a maildrop runs included: then the message is stored, but the client
# never hears 250 and sends it again. So the shipped units and the man page
# give tlswrapper -t 660, longer than smtpd's -t and -m.
test_expect_success 'tlswrapper -t shorter than the maildrop: stored, but no 250 reaches the client' '
	printf "#!/bin/sh\nsleep 4\nexec \"\$@\"\n" >slow && chmod +x slow &&
	printf "C: EHLO c\nC: STARTTLS\nTLS\nC: EHLO c\nC: MAIL FROM:<a@example.org>\nC: RCPT TO:<b@example.org>\nC: DATA\nC: slow\\\\r\\\\n.\nEOF\n" >script &&
	DROP_DIR=$PWD/drops python3 "$TEST_DIR/bin/tls-session.py" -w 20 script -- \
		tlswrapper -n -t 2 -f "$PEM" "$SMTPD" -S -R -n mx.example \
		-- ./slow "$RECORD" %F %T >transcript 2>err &&
	sed -n "/^C: slow/,\$p" transcript >after &&
	sed -n 2p after | grep -qx "EOF" &&
	! grep -q "^S: 250 2.0.0" after &&
	expect_deliveries 1
'

# A race in tlswrapper's delayed encryption (0~20230101): smtpd refuses
# input it has already been sent past STARTTLS (421), and looks again once
# tlswrapper has taken the 220 from descriptor 5, but bytes that reach
# tlswrapper after that and before it has seen descriptor 5 close are
# still forwarded in plaintext down the pipe, and smtpd reads them as if
# they had come inside TLS. Measured on loopback: about 1 in 200 injected
# transactions is delivered, with "ESMTPS" in Received: (7 to 13 in 100
# before the second look). A known breakage, until tlswrapper can say when
# it switched.
test_expect_failure 'tlswrapper -n: a transaction injected right after STARTTLS, 100 times, never delivered' '
	before=$(injected) &&
	python3 "$TEST_DIR/bin/tls-inject.py" 127.0.0.1 $PORT 100 >inject.out &&
	wait_sessions &&
	echo "replies: $(cat inject.out), injected deliveries: $(($(injected) - before))" &&
	[ "$(injected)" = "$before" ]
'
stop_launcher

PORT=$(free_port)
systemd-socket-activate --inetd -a -l "127.0.0.1:$PORT" -E DROP_DIR="$DROPS" \
	$TLSWRAPPER $SMTPD_S >"$TRASH/launcher.log" 2>&1 &
LAUNCHER_PID=$!
if wait_listening "$PORT"; then
	starttls_clients 127.0.0.1 $PORT 127.0.0.1 " (systemd-socket-activate)"
fi
stop_launcher

PORT=$(free_port)
systemd-socket-activate --inetd -a -l "[::1]:$PORT" -E DROP_DIR="$DROPS" \
	$TLSWRAPPER $SMTPD_S >"$TRASH/launcher6.log" 2>&1 &
LAUNCHER_PID=$!
if wait_listening "$PORT"; then
	test_expect_success 'over ::1: smtplib starttls(), Received: [::1] from TCPREMOTEIP' '
		make_message smtplib6 msg &&
		python3 "$TEST_DIR/bin/tls-smtplib.py" starttls ::1 $PORT "$CA" msg \
			a@example.org b@example.org >py.out &&
		grep -qx "before: 250-mx.example Hello unknown \[::1\]" py.out &&
		expect_drop msg a@example.org b@example.org ::1 &&
		received_with ESMTPS
	'
fi
stop_launcher

# The same injection through UCSPI-TLS: smtpd reads the socket itself until
# STARTTLS, so what it has not read stays in the socket, and the launcher's
# handshake fails on it.
PORT=$(free_port)
python3 "$TEST_DIR/bin/tls-ucspi.py" -l "127.0.0.1:$PORT" -T 10 -f "$PEM" -- \
	$SMTPD_S >"$TRASH/ucspi.log" 2>&1 &
LAUNCHER_PID=$!
if wait_listening "$PORT"; then
	test_expect_success 'UCSPI-TLS: a transaction injected right after STARTTLS, 100 times, never delivered' '
		before=$(injected) &&
		python3 "$TEST_DIR/bin/tls-inject.py" 127.0.0.1 $PORT 100 >inject.out &&
		wait_sessions &&
		echo "replies: $(cat inject.out), injected deliveries: $(($(injected) - before))" &&
		[ "$(injected)" = "$before" ] &&
		grep -q "421=" inject.out
	'
	test_expect_success 'UCSPI-TLS (listening stand-in): a 5 MB message, byte for byte' '
		big_message big &&
		python3 "$TEST_DIR/bin/tls-smtplib.py" starttls 127.0.0.1 $PORT "$CA" big \
			a@example.org big@example.org >py.out &&
		expect_drop big a@example.org big@example.org 127.0.0.1 &&
		received_with ESMTPS
	'
	test_expect_success 'UCSPI-TLS (listening stand-in): smtplib starttls() delivers' '
		make_message ucspi msg &&
		python3 "$TEST_DIR/bin/tls-smtplib.py" starttls 127.0.0.1 $PORT "$CA" msg \
			a@example.org b@example.org >py.out &&
		sed -n "s/^tls: /smtplib (UCSPI-TLS stand-in): /p" py.out >>"$INFO" &&
		expect_drop msg a@example.org b@example.org 127.0.0.1 &&
		received_with ESMTPS
	'
fi
stop_launcher

sort -u "$INFO" 2>/dev/null | sed 's/^/# /'
test_done
