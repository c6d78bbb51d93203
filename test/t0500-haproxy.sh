#!/bin/bash
# smtpd -p behind a real HAProxy (Debian's haproxy, in the foreground with
# this test's configuration). The clients connect to HAProxy from
# 127.0.0.9; HAProxy connects to the backends from 127.0.0.1; each backend
# is smtpd under its own tcpserver on its own loopback address. The
# greeting, Received: and the log must name the client (127.0.0.9), never
# the balancer. Also: TLS done by HAProxy (send-proxy-v2-ssl: ESMTPS), TLS
# done on the smtpd host by tlswrapper (STARTTLS with -n, and port-465
# style with -p 1), and what HAProxy's health checks leave in smtpd's log.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-launch.sh"
. "$TEST_DIR/bin/proxy-lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] && test_skip_all "real-server tests run in the plain make check"
command -v haproxy >/dev/null || test_skip_all "no haproxy"
command -v tcpserver >/dev/null || test_skip_all "no tcpserver (ucspi-tcp)"
command -v openssl >/dev/null || test_skip_all "no openssl"
test_have_prereq NAMESPACE || test_skip_all "needs root and unshare -m (the log)"

CLIENT=127.0.0.9
PEM=$TRASH/mx.pem
for p in V1 V2 TLS PLAIN STARTTLS SMTPS ALL BARE SHIP SHIPS; do
	eval "$p=$(free_port)"
done
for b in 2 3 4 5 6; do
	eval "B$b=$(free_port_at 127.0.0.$b)"
done
DROPMAIL="$RECORD %F %T"
SMTPD_P="$SMTPD -p -R -n mx.example"

# Backends, each delivering into $TRASH/bN:
#  b2, b3  smtpd -p; b2's tcpserver takes connections from HAProxy only
#  b4      tlswrapper -n (STARTTLS on the smtpd host) in front of smtpd -p -S;
#          the PROXY header passes through tlswrapper in plain text
#  b5      tlswrapper -p 1 (TLS from the first octet on the smtpd host): it
#          reads the v1 header itself and hands the address to smtpd in
#          $TCPREMOTEIP, so smtpd runs without -p
#  b6      smtpd -p behind a HAProxy server line without send-proxy: a
#          mistake, to see what it looks like
cat >"$TRASH/test.cfg" <<EOF
defaults unchecked
	mode tcp
	timeout connect 5s
	timeout client 1m
	timeout server 1m
	timeout check 5s
	option redispatch

# The health check of etc/haproxy/smtpd.cfg.
defaults checked
	mode tcp
	timeout connect 5s
	timeout client 1m
	timeout server 1m
	timeout check 5s
	option tcp-check
	tcp-check expect rstring ^220
	tcp-check send QUIT\r\n
	tcp-check expect rstring ^221

frontend v1 from checked
	bind 127.0.0.1:$V1
	default_backend be_v1
backend be_v1 from checked
	server b2 127.0.0.2:$B2 send-proxy check inter 500ms

frontend v2 from checked
	bind 127.0.0.1:$V2
	bind [::1]:$V2
	default_backend be_v2
backend be_v2 from checked
	server b3 127.0.0.3:$B3 send-proxy-v2 check inter 500ms

frontend tls from checked
	bind 127.0.0.1:$TLS ssl crt $PEM
	default_backend be_ssl
frontend plain from checked
	bind 127.0.0.1:$PLAIN
	default_backend be_ssl
backend be_ssl from checked
	server b3 127.0.0.3:$B3 send-proxy-v2-ssl check inter 500ms

frontend starttls from checked
	bind 127.0.0.1:$STARTTLS
	default_backend be_starttls
backend be_starttls from checked
	server b4 127.0.0.4:$B4 send-proxy-v2 check inter 500ms

frontend tlswrapper from checked
	bind 127.0.0.1:$SMTPS
	default_backend be_smtps
backend be_smtps from checked
	# The check speaks TLS as the clients do, after the v1 header.
	server b5 127.0.0.5:$B5 send-proxy check check-ssl verify none inter 500ms

frontend all from checked
	bind 127.0.0.1:$ALL
	default_backend be_all
backend be_all from checked
	balance roundrobin
	server b2 127.0.0.2:$B2 send-proxy-v2 check inter 500ms
	server b3 127.0.0.3:$B3 send-proxy-v2 check inter 500ms
	server b4 127.0.0.4:$B4 send-proxy-v2 check inter 500ms

frontend bare from unchecked
	bind 127.0.0.1:$BARE
	default_backend be_bare
backend be_bare from unchecked
	server b6 127.0.0.6:$B6
EOF

# The shipped etc/haproxy/smtpd.cfg beside it, on ports of its own, with
# b2, b3 and b4 for its three hosts (b2 twice without tlswrapper).
MX3="127.0.0.4:$B4"
command -v tlswrapper >/dev/null || MX3="127.0.0.2:$B2"
sed -e "s|bind :25\$|bind 127.0.0.1:$SHIP|" \
	-e "s|bind :465 ssl crt [^ ]*|bind 127.0.0.1:$SHIPS ssl crt $PEM|" \
	-e "s|192.0.2.11:25|127.0.0.2:$B2|" \
	-e "s|192.0.2.12:25|127.0.0.3:$B3|" \
	-e "s|192.0.2.13:25|$MX3|" \
	"$SRC_DIR/etc/haproxy/smtpd.cfg" >"$TRASH/shipped.cfg"

# Outside any test body (a body runs in a subshell; the EXIT trap must
# know every PID); the first test reports how it went.
{
	make_cert "$PEM" &&
	start_logcatch &&
	printf "127.0.0.1:allow\n:deny\n" >"$TRASH/rules" &&
	tcprules "$TRASH/rules.cdb" "$TRASH/rules.tmp" <"$TRASH/rules" &&
	PROXY_RULES=$TRASH/rules.cdb PROXY_LOG=1 \
		start_backend b2 127.0.0.2 $B2 "$TRASH/b2" $SMTPD_P -- $DROPMAIL &&
	PROXY_LOG=1 start_backend b3 127.0.0.3 $B3 "$TRASH/b3" $SMTPD_P -- $DROPMAIL &&
	if command -v tlswrapper >/dev/null; then
		PROXY_LOG=1 start_backend b4 127.0.0.4 $B4 "$TRASH/b4" \
			tlswrapper -n -f "$PEM" $SMTPD_P -S -- $DROPMAIL &&
		PROXY_LOG=1 start_backend b5 127.0.0.5 $B5 "$TRASH/b5" \
			tlswrapper -p 1 -f "$PEM" $SMTPD -R -n mx.example -- $DROPMAIL
	else
		sed -i '/server b4 /d; /server b5 /d' "$TRASH/test.cfg"
	fi &&
	PROXY_LOG=1 start_backend b6 127.0.0.6 $B6 "$TRASH/b6" $SMTPD_P -- $DROPMAIL &&
	start_haproxy "$TRASH/test.cfg" "$TRASH/shipped.cfg"
} >"$TRASH/setup.out" 2>&1
echo $? >"$TRASH/setup.status"

test_expect_success 'HAProxy (the test'"'"'s configuration and the shipped one) and five backends run' '
	cat "$TRASH/setup.out" &&
	[ "$(cat "$TRASH/setup.status")" = 0 ] &&
	[ "$(server_status be_v1 b2)" = UP ] &&
	[ "$(server_status be_v2 b3)" = UP ]
'

# deliver_via HOST PORT ADDR DROPDIR [swaks options]: one message with
# swaks; the greeting and the Received: line name [ADDR], the delivery in
# DROPDIR is the message byte for byte. swaks ends the data with CR LF and
# the dot itself, so the file it reads lacks the message's last LF.
deliver_via() {
	local host=$1 port=$2 addr=$3 drops=$4
	shift 4
	make_message "via $port" msg &&
	head -c -1 msg >msg.swaks &&
	swaks --server "$host" --port "$port" --helo swaks.example \
		--from a@example.org --to b@example.org,c@example.org \
		--data @msg.swaks --timeout 20 "$@" >swaks.out 2>&1 ||
		{ cat swaks.out; return 1; }
	grep -q "^<[-~]  250-mx.example Hello unknown \[$addr\]" swaks.out ||
		{ cat swaks.out; fail "greeting without [$addr]"; } &&
	grep -q "^<[-~]  250 2.0.0 Ok: message accepted" swaks.out &&
	DROPS=$drops check_drop msg a@example.org b@example.org c@example.org "$addr"
}

test_expect_success SWAKS 'send-proxy (v1): swaks from 127.0.0.9 is named 127.0.0.9' '
	deliver_via 127.0.0.1 $V1 $CLIENT "$TRASH/b2" --local-interface $CLIENT
'

test_expect_success 'a client that reaches the backend itself cannot claim an address' '
	python3 "$TEST_DIR/bin/proxy-header.py" v1 TCP4 203.0.113.1 127.0.0.2 1 25 >hdr &&
	{ cat hdr; printf "EHLO forged.example\r\n"; } |
		python3 "$TEST_DIR/bin/tcp-exchange.py" 127.0.0.2 $B2 $CLIENT >got &&
	[ ! -s got ] &&
	! grep -q 203.0.113.1 "$TRASH/syslog"
'

test_expect_success SWAKS 'send-proxy-v2: swaks --pipeline' '
	deliver_via 127.0.0.1 $V2 $CLIENT "$TRASH/b3" --local-interface $CLIENT --pipeline &&
	grep -q PIPELINING swaks.out
'

test_expect_success 'send-proxy-v2: Python smtplib, three recipients' '
	make_message smtplib msg &&
	python3 "$TEST_DIR/bin/proxy-smtplib.py" 127.0.0.1 $V2 $CLIENT msg \
		s@example.org r1@example.org r2@example.org r3@example.org >py.out &&
	grep -q "^greeting: 250-mx.example Hello unknown \[$CLIENT\]$" py.out &&
	DROPS=$TRASH/b3 check_drop msg s@example.org r1@example.org r2@example.org r3@example.org $CLIENT
'

test_expect_success SWAKS 'send-proxy-v2 from an IPv6 client to an IPv4 backend: [::1]' '
	deliver_via ::1 $V2 ::1 "$TRASH/b3"
'

# received_with DROPDIR PROTO: the newest delivery there says "with PROTO".
received_with() {
	local n
	n=$(DROPS=$1 last_drop) &&
	sed -n 2p "$1/$n.msg" | grep -q " with $2;\$" ||
		fail "not with $2: $(sed -n 1,2p "$1/$n.msg")"
}

test_expect_success SWAKS 'TLS done by HAProxy, send-proxy-v2-ssl: ESMTPS' '
	deliver_via 127.0.0.1 $TLS $CLIENT "$TRASH/b3" --local-interface $CLIENT --tlsc &&
	grep -q "^<~  220 mx.example ESMTP" swaks.out &&
	received_with "$TRASH/b3" ESMTPS
'

test_expect_success 'TLS done by HAProxy: smtplib over SMTP_SSL, ESMTPS, no STARTTLS' '
	make_message smtps msg &&
	python3 "$TEST_DIR/bin/proxy-smtplib.py" --tls 127.0.0.1 $TLS $CLIENT msg \
		s@example.org r@example.org >py.out &&
	grep -q "^greeting: 250-mx.example Hello unknown \[$CLIENT\]$" py.out &&
	! grep -qi starttls py.out &&
	DROPS=$TRASH/b3 check_drop msg s@example.org r@example.org $CLIENT &&
	received_with "$TRASH/b3" ESMTPS
'

test_expect_success SWAKS 'the same server line from a plain frontend (TLV without the client bit): ESMTP' '
	deliver_via 127.0.0.1 $PLAIN $CLIENT "$TRASH/b3" --local-interface $CLIENT &&
	received_with "$TRASH/b3" ESMTP
'

test_expect_success TLSWRAPPER 'STARTTLS on the smtpd host: HAProxy -> tlswrapper -n -> smtpd -p -S' '
	make_message starttls msg &&
	python3 "$TEST_DIR/bin/proxy-smtplib.py" --starttls 127.0.0.1 $STARTTLS $CLIENT msg \
		s@example.org r@example.org >py.out &&
	cat py.out &&
	grep -q "^greeting: 250-mx.example Hello unknown \[$CLIENT\]$" py.out &&
	grep -q "^offered: .*starttls" py.out &&
	grep -q "^after STARTTLS: 250-mx.example Hello unknown \[$CLIENT\]$" py.out &&
	DROPS=$TRASH/b4 check_drop msg s@example.org r@example.org $CLIENT &&
	received_with "$TRASH/b4" ESMTPS
'

test_expect_success TLSWRAPPER 'TLS from the first octet on the smtpd host: HAProxy send-proxy -> tlswrapper -p 1 -> smtpd' '
	[ "$(server_status be_smtps b5)" = UP ] &&
	make_message smtps msg &&
	python3 "$TEST_DIR/bin/proxy-smtplib.py" --tls 127.0.0.1 $SMTPS $CLIENT msg \
		s@example.org r@example.org >py.out &&
	grep -q "^greeting: 250-mx.example Hello unknown \[$CLIENT\]$" py.out &&
	DROPS=$TRASH/b5 check_drop msg s@example.org r@example.org $CLIENT
'

test_expect_success SWAKS 'the shipped smtpd.cfg, port 25: the client is named' '
	grep -q "bind 127.0.0.1:$SHIP\$" "$TRASH/shipped.cfg" &&
	[ "$(server_status smtpd mx2)" = UP ] &&
	make_message shipped msg &&
	swaks --server 127.0.0.1 --port $SHIP --local-interface $CLIENT \
		--helo swaks.example --from a@example.org --to b@example.org \
		--data @msg --timeout 20 >swaks.out 2>&1 &&
	grep -q "^<-  250-mx.example Hello unknown \[$CLIENT\]" swaks.out &&
	n=$(grep -lx "Subject: shipped" "$TRASH"/b[234]/*.msg | wc -l) &&
	[ "$n" = 1 ] &&
	f=$(grep -lx "Subject: shipped" "$TRASH"/b[234]/*.msg) &&
	sed -n 1,2p "$f" >received &&
	grep -q "^Received: from swaks.example (unknown \[$CLIENT\])$" received &&
	grep -q " with ESMTP;$" received
'

test_expect_success 'the shipped smtpd.cfg, port 465: TLS at HAProxy, ESMTPS, no STARTTLS' '
	make_message shipped-tls msg &&
	python3 "$TEST_DIR/bin/proxy-smtplib.py" --tls 127.0.0.1 $SHIPS $CLIENT msg \
		s@example.org r@example.org >py.out &&
	grep -q "^greeting: 250-mx.example Hello unknown \[$CLIENT\]$" py.out &&
	! grep -qi starttls py.out &&
	f=$(grep -lx "Subject: shipped-tls" "$TRASH"/b[234]/*.msg) &&
	[ "$(echo "$f" | wc -l)" = 1 ] &&
	sed -n 2p "$f" | grep -q " with ESMTPS;$"
'

test_expect_success 'roundrobin over three backends: each takes its share, each message once' '
	for i in $(seq 12); do
		printf "Subject: rr %s\n\nround robin\n" $i >m$i &&
		python3 "$TEST_DIR/bin/proxy-smtplib.py" 127.0.0.1 $ALL $CLIENT m$i \
			s$i@example.org r$i@example.org >py$i.out || exit 1
	done &&
	for i in $(seq 12); do
		n=$(grep -lx "Subject: rr $i" "$TRASH"/b[234]/*.msg | wc -l) &&
		[ "$n" = 1 ] || fail "message $i delivered $n times" || exit 1
	done &&
	bs="2 3" &&
	if command -v tlswrapper >/dev/null; then bs="2 3 4"; fi &&
	for b in $bs; do
		n=$(grep -lx "Subject: rr [0-9]*" "$TRASH/b$b"/*.msg | wc -l) &&
		echo "127.0.0.$b took $n" &&
		[ "$n" -ge 1 ] || exit 1
	done
'

test_expect_success SWAKS 'a HAProxy server line without send-proxy: no banner, smtpd gives up' '
	! swaks --server 127.0.0.1 --port $BARE --local-interface $CLIENT \
		--quit-after CONNECT --timeout 30 >swaks.out 2>&1 &&
	cat swaks.out &&
	! grep -q "<-  220" swaks.out &&
	[ -z "$(ls "$TRASH/b6")" ]
'

# The log: HAProxy's health checks against b2 (a v1 header that names the
# check's own addresses), b3, b4 (a v2 LOCAL header) and b5 (smtpd without
# -p behind tlswrapper -p 1) are sessions of 127.0.0.1 without HELO or
# message; the mail sessions are 127.0.0.9's.
test_expect_success 'the log names the client; health checks are the balancer'"'"'s own sessions' '
	cp "$TRASH/syslog" log &&
	grep "session peer=unknown \[127.0.0.1\]" log | grep -v "end=PROXY" >checks &&
	grep -c "proxy=local" checks &&
	grep -c "proxy=127.0.0.1" checks &&
	[ "$(wc -l <checks)" -ge 4 ] &&
	! grep -Ev "helo=\"\" tls=no( proxy=(local|127.0.0.1))? messages=0 end=quit$" checks &&
	grep -q "session peer=unknown \[$CLIENT\] helo=\"swaks.example\" tls=no proxy=127.0.0.1 messages=1 end=quit$" log &&
	grep -q "session peer=unknown \[$CLIENT\] helo=\"smtplib.example\" tls=yes proxy=127.0.0.1 messages=1 end=quit$" log &&
	grep -q "session peer=unknown \[::1\] helo=\"swaks.example\" tls=no proxy=127.0.0.1 messages=1 end=quit$" log
'

test_expect_success 'the log says why the header-less connection was refused' '
	grep "end=PROXY" "$TRASH/syslog" >refusals &&
	cat refusals &&
	[ "$(wc -l <refusals)" = 1 ] &&
	grep -q "session peer=unknown \[127.0.0.1\] helo=\"\" tls=no proxy=none messages=0 end=PROXY header not complete in time$" refusals
'

test_expect_success 'no smtpd is left running' '
	wait_no_smtpd
'
proxy_stop_all

test_done
