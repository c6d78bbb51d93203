#!/bin/bash
# UCSPI tcpserver (Debian ucspi-tcp): the socket on stdin and stdout,
# $TCPREMOTEIP and $TCPLOCALHOST in the environment. Without -n, smtpd takes
# its name from $TCPLOCALHOST (tcpserver -l).
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-launch.sh"

command -v tcpserver >/dev/null || test_skip_all "no tcpserver (ucspi-tcp)"

PORT=$(free_port)
tcpserver -R -H -l mx.example 127.0.0.1 "$PORT" \
	$SMTPD_WRAPPER "$SMTPD" -R -- "$RECORD" %F %T >"$TRASH/tcpserver.log" 2>&1 &
LAUNCHER_PID=$!
wait_listening "$PORT" || test_skip_all "tcpserver did not listen"

test_real_clients 127.0.0.1 $PORT 127.0.0.1
test_expect_success SWAKS 'without -n the name comes from $TCPLOCALHOST' '
	deliver_swaks 127.0.0.1 $PORT 127.0.0.1 &&
	grep -q "<-  220 mx.example ESMTP smtpd" swaks.out
'
test_expect_success 'ten sessions at once each deliver once' '
	before=$(ls "$DROPS" | grep -c "\.msg$") &&
	for i in $(seq 10); do
		python3 "$TEST_DIR/bin/smtplib-client.py" 127.0.0.1 $PORT \
			/dev/null s$i@example.org r$i@example.org >py$i.out &
	done &&
	wait &&
	after=$(ls "$DROPS" | grep -c "\.msg$") &&
	[ $((after - before)) = 10 ] || fail "$((after - before)) deliveries"
'
stop_launcher

test_done
