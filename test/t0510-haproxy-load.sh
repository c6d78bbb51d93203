#!/bin/bash
# Load through HAProxy, for correctness: the shipped etc/haproxy/smtpd.cfg
# (addresses and ports made local) spreads thousands of sessions from many
# concurrent clients over three smtpd -p backends, each under its own
# tcpserver on its own loopback address. Every message carries a unique id;
# test/bin/proxy-load.py holds every delivery against what was sent (the
# id, a SHA-256 of the bytes, the envelope, the client's address in
# Received:). Then again while one backend fails in the middle: its
# tcpserver is stopped and its sessions under way are killed; HAProxy must
# route around it, and no message may be lost or delivered twice.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-launch.sh"
. "$TEST_DIR/bin/proxy-lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] && test_skip_all "real-server tests run in the plain make check"
test_have_prereq EXPENSIVE || test_skip_all "set SMTPD_TEST_EXPENSIVE=1"
command -v haproxy >/dev/null || test_skip_all "no haproxy"
command -v tcpserver >/dev/null || test_skip_all "no tcpserver (ucspi-tcp)"
command -v openssl >/dev/null || test_skip_all "no openssl"

SESSIONS=${PROXY_LOAD_SESSIONS:-2000}
CLIENTS=${PROXY_LOAD_CLIENTS:-50}
# The clients' own address: not HAProxy's (127.0.0.1), not a backend's.
CLIENT=127.0.0.9
DROPMAIL=$TEST_DIR/bin/proxy-drop
FRONT=$(free_port)
TLS_FRONT=$(free_port)
for b in 2 3 4; do eval "PORT_$b=$(free_port_at 127.0.0.$b)"; done

# The shipped configuration, with local addresses, a certificate of the
# test's own, and health checks every second instead of every 5 s.
make_cert "$TRASH/mx.pem" || test_skip_all "openssl cannot make a certificate"
sed -e "s|bind :25\$|bind 127.0.0.1:$FRONT|" \
	-e "s|bind :465 ssl crt [^ ]*|bind 127.0.0.1:$TLS_FRONT ssl crt $TRASH/mx.pem|" \
	-e "s|192.0.2.11:25|127.0.0.2:$PORT_2|" \
	-e "s|192.0.2.12:25|127.0.0.3:$PORT_3|" \
	-e "s|192.0.2.13:25|127.0.0.4:$PORT_4|" \
	-e "s|inter 5s|inter 1s|" \
	"$SRC_DIR/etc/haproxy/smtpd.cfg" >"$TRASH/smtpd.cfg"

# start_backends RUN: the three backends, delivering into $TRASH/RUN/bN.
start_backends() {
	local b
	for b in 2 3 4; do
		eval "port=\$PORT_$b"
		start_backend "b$b" 127.0.0.$b "$port" "$TRASH/$1/b$b" \
			"$SMTPD" -p -R -n mx.example -- "$DROPMAIL" %F %T || return 1
	done
}

# The run's figures, for the log of the test.
figures() {
	cat "$TRASH/$1/run.out" "$TRASH/$1/check.out"
}

# setup RUN: backends and HAProxy, outside any test body (a body runs in a
# subshell, and the EXIT trap must know every PID); a test reports it.
setup() {
	mkdir -p "$TRASH/$1"
	{ start_backends "$1" && start_haproxy "$TRASH/smtpd.cfg"; } \
		>"$TRASH/$1/setup.out" 2>&1
	echo $? >"$TRASH/$1/setup.status"
}
setup_ok() {
	cat "$TRASH/$1/setup.out" &&
	[ "$(cat "$TRASH/$1/setup.status")" = 0 ]
}

setup clean
test_expect_success 'HAProxy runs the shipped etc/haproxy/smtpd.cfg, all servers up' '
	grep -q "127.0.0.3:$PORT_3" "$TRASH/smtpd.cfg" &&
	grep -q "bind 127.0.0.1:$TLS_FRONT ssl" "$TRASH/smtpd.cfg" &&
	setup_ok clean
'

test_expect_success "$SESSIONS sessions from $CLIENTS clients: each message delivered once" '
	python3 "$TEST_DIR/bin/proxy-load.py" run 127.0.0.1 $FRONT $CLIENT \
		$SESSIONS $CLIENTS "$TRASH/clean/results" >"$TRASH/clean/run.out" &&
	python3 "$TEST_DIR/bin/proxy-load.py" check "$TRASH/clean/results" \
		$CLIENT "$TRASH/clean/b2" "$TRASH/clean/b3" "$TRASH/clean/b4" \
		>"$TRASH/clean/check.out"
	status=$?
	figures clean
	[ $status = 0 ] &&
	grep -q "outcomes {\"ok\": $SESSIONS}" "$TRASH/clean/check.out" &&
	grep -q ", lost 0, duplicated 0," "$TRASH/clean/check.out"
'

test_expect_success 'every backend took some' '
	for b in 2 3 4; do
		n=$(ls "$TRASH/clean/b$b" | grep -c "\.msg$")
		echo "backend 127.0.0.$b: $n" &&
		[ "$n" -gt 0 ] || exit 1
	done
'

test_expect_success 'no smtpd is left running' '
	wait_no_smtpd
'
proxy_stop_all
figures clean 2>/dev/null | sed 's/^/# /'

# The fault, run by the load driver once a third of the sessions are done:
# backend 127.0.0.3 stops accepting (its tcpserver is stopped) and the
# sessions it has under way die (their smtpd processes are killed by PID),
# as when a host fails.
setup faulty
test_expect_success 'again while a backend fails: none lost, none twice' '
	setup_ok faulty &&
	fault="kids=\$(ps -o pid= --ppid $b3_PID); kill -TERM $b3_PID; for k in \$kids; do kill -KILL \$k && echo killed \$k; done >$TRASH/faulty/killed" &&
	python3 "$TEST_DIR/bin/proxy-load.py" run 127.0.0.1 $FRONT $CLIENT \
		$SESSIONS $CLIENTS "$TRASH/faulty/results" --tries 3 \
		--at $(($SESSIONS / 3)) --run "$fault" >"$TRASH/faulty/run.out" &&
	python3 "$TEST_DIR/bin/proxy-load.py" check "$TRASH/faulty/results" \
		$CLIENT "$TRASH/faulty/b2" "$TRASH/faulty/b3" "$TRASH/faulty/b4" \
		>"$TRASH/faulty/check.out"
	status=$?
	figures faulty
	echo "sessions under way that were killed: $(grep -c killed "$TRASH/faulty/killed")"
	[ $status = 0 ] &&
	grep -q killed "$TRASH/faulty/killed" &&
	grep -q ", lost 0, duplicated 0," "$TRASH/faulty/check.out"
'

test_expect_success 'HAProxy marked the backend down; every backend took some' '
	[ "$(server_status smtpd mx2)" = DOWN ] &&
	for b in 2 3 4; do
		n=$(ls "$TRASH/faulty/b$b" | grep -c "\.msg$")
		echo "backend 127.0.0.$b: $n" &&
		[ "$n" -gt 0 ] || exit 1
	done &&
	n3=$(ls "$TRASH/faulty/b3" | grep -c "\.msg$") &&
	[ "$n3" -lt $(($SESSIONS / 2)) ]
'

test_expect_success 'no smtpd is left running after the fault either' '
	wait_no_smtpd
'
proxy_stop_all
figures faulty 2>/dev/null | sed 's/^/# /'
echo "# sessions under way that the fault killed: $(grep -c killed "$TRASH/faulty/killed" 2>/dev/null)"

test_done
