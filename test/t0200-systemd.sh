#!/bin/bash
# systemd socket activation, by hand: systemd-socket-activate --inetd -a
# accepts each connection and runs smtpd on it, as smtpd.socket would.
# Real clients deliver over IPv4 and IPv6 loopback.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-launch.sh"

command -v systemd-socket-activate >/dev/null ||
	test_skip_all "no systemd-socket-activate"

start_socket_activate() {
	local listen=$1
	systemd-socket-activate --inetd -a -l "$listen" -E DROP_DIR="$DROPS" \
		$SMTPD_WRAPPER "$SMTPD" -R -n mx.example -- "$RECORD" %F %T \
		>"$TRASH/launcher.log" 2>&1 &
	LAUNCHER_PID=$!
}

PORT=$(free_port)
start_socket_activate "127.0.0.1:$PORT"
wait_listening "$PORT" || test_skip_all "systemd-socket-activate did not listen"

test_expect_success SWAKS 'swaks over 127.0.0.1' '
	deliver_swaks 127.0.0.1 $PORT 127.0.0.1
'
test_expect_success SWAKS 'swaks --pipeline' '
	deliver_swaks 127.0.0.1 $PORT 127.0.0.1 --pipeline &&
	grep -q "PIPELINING" swaks.out
'
test_expect_success 'Python smtplib: three recipients, then 5 MB' '
	deliver_smtplib 127.0.0.1 $PORT 127.0.0.1
'
test_expect_success CURL 'curl' '
	deliver_curl 127.0.0.1 $PORT 127.0.0.1
'
stop_launcher

PORT6=$(free_port)
start_socket_activate "[::1]:$PORT6"
if wait_listening "$PORT6"; then
	test_expect_success SWAKS 'swaks over ::1' '
		deliver_swaks ::1 $PORT6 ::1
	'
	test_expect_success 'Python smtplib over ::1' '
		deliver_smtplib ::1 $PORT6 ::1
	'
	test_expect_success CURL 'curl over ::1' '
		deliver_curl ::1 $PORT6 ::1
	'
fi
stop_launcher

test_done
