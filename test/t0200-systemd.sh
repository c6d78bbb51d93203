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

test_real_clients 127.0.0.1 $PORT 127.0.0.1 ' over 127.0.0.1'
stop_launcher

PORT6=$(free_port)
start_socket_activate "[::1]:$PORT6"
if wait_listening "$PORT6"; then
	test_real_clients ::1 $PORT6 ::1 ' over ::1'
fi
stop_launcher

test_done
