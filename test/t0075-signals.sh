#!/bin/bash
# What a launcher leaves behind must not change smtpd's ends: an ignored or
# blocked SIGCHLD (the kernel would reap the maildrop unseen, and smtpd
# would wait out -m, answer 451 for a message the maildrop took, then
# signal a PID that may belong to another process), and a connection reset
# by the client (an I/O error: exit 75, not 0).
. "$(dirname "$0")/lib.sh"

deliver() {
	printf "HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n"
}

test_expect_success 'SIGCHLD ignored and blocked by the launcher: the maildrop'"'"'s 0 is still 250' '
	deliver >in &&
	DROP_DIR=$PWD/drops TCPREMOTEIP=192.0.2.1 python3 "$TEST_DIR/bin/sigign.py" SIGCHLD -- \
		$SMTPD_WRAPPER "$SMTPD" $SMTPD_OPTS -m 3 -- "$RECORD" <in >out 2>&1 &&
	grep -q "^250 2.0.0 Ok: message accepted" out &&
	! grep -q "^451 " out &&
	expect_deliveries 1
'

test_expect_success 'SIGCHLD ignored: a maildrop that fails is still seen to fail' '
	deliver >in &&
	DROP_EXIT=67 DROP_DIR=$PWD/drops TCPREMOTEIP=192.0.2.1 python3 "$TEST_DIR/bin/sigign.py" SIGCHLD -- \
		$SMTPD_WRAPPER "$SMTPD" $SMTPD_OPTS -m 3 -- "$RECORD" <in >out 2>&1 &&
	grep -q "^550 5.1.1 Recipient unknown" out
'

test_expect_success 'SIGCHLD ignored: a maildrop past -m is stopped, 451' '
	deliver >in &&
	printf "#!/bin/sh\ncat >/dev/null\nsleep 30\n" >slow && chmod +x slow &&
	TCPREMOTEIP=192.0.2.1 python3 "$TEST_DIR/bin/sigign.py" SIGCHLD SIGTERM -- \
		$SMTPD_WRAPPER "$SMTPD" $SMTPD_OPTS -m 1 -- "$PWD/slow" <in >out 2>&1 &&
	grep -q "^451 4.3.0 " out &&
	! pgrep -f "$PWD/slow" >/dev/null
'

test_expect_success 'a connection reset by the client: exit 75' '
	python3 "$TEST_DIR/bin/rst.py" -- env TCPREMOTEIP=192.0.2.1 \
		$SMTPD_WRAPPER "$SMTPD" $SMTPD_OPTS -- "$RECORD" >status &&
	expect_status 75
'

# SIGTERM (systemctl stop, RuntimeMaxSec=): 421 at the next wait for the
# client, exit 75; a message not yet whole is not delivered, one whose
# maildrop runs is answered first.
term_session() {
	DROP_DIR=$PWD/drops TCPREMOTEIP=192.0.2.1 python3 "$TEST_DIR/bin/sigterm.py" "$@" >out
	echo $? >status
	check_reply_lines out
}

test_expect_success 'SIGTERM while the client is idle: 421 4.3.2, exit 75' '
	term_session "send:EHLO c\r\n" reply:250 term -- \
		$SMTPD_WRAPPER "$SMTPD" $SMTPD_OPTS -- "$RECORD" &&
	expect_status 75 &&
	tail -n 1 out | grep -q "^421 4.3.2 mx.example Shutting down, closing connection" &&
	expect_deliveries 0
'

test_expect_success 'SIGTERM in the middle of DATA: 421, nothing delivered' '
	term_session "send:EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n" \
		reply:354 "send:Subject: half\r\n\r\nthe first half\r\n" term -- \
		$SMTPD_WRAPPER "$SMTPD" $SMTPD_OPTS -- "$RECORD" &&
	expect_status 75 &&
	tail -n 1 out | grep -q "^421 4.3.2 " &&
	! grep -q "^250 2.0.0" out &&
	expect_deliveries 0
'

test_expect_success 'SIGTERM while the maildrop runs: it finishes, 250, then 421' '
	printf "#!/bin/sh\n: >\"%s\"\nsleep 1\nexec \"%s\" \"\$@\"\n" "$PWD/started" "$RECORD" >slow &&
	chmod +x slow &&
	term_session "send:EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n" \
		reply:354 "send:x\r\n.\r\n" "file:$PWD/started" term -- \
		$SMTPD_WRAPPER "$SMTPD" $SMTPD_OPTS -- "$PWD/slow" &&
	expect_status 75 &&
	tail -n 2 out | cut -c1-9 >actual &&
	printf "250 2.0.0\r\n421 4.3.2\r\n" | tr -d "\r" >expect &&
	tr -d "\r" <actual | diff -u expect - &&
	expect_deliveries 1
'

# The client reads nothing: smtpd is stuck writing replies when SIGTERM
# comes. It must not then wait out -t (30 s here; sigterm.py gives up
# after 20).
test_expect_success 'SIGTERM while smtpd is stuck writing: 421 once the client reads' '
	ehlos=$(for i in $(seq 60); do printf "EHLO c\\\\r\\\\n"; done) &&
	term_session smallpipe reply:220 "send:$ehlos" term -- \
		$SMTPD_WRAPPER "$SMTPD" $SMTPD_OPTS -t 30 -- "$RECORD" &&
	expect_status 75 &&
	tail -n 1 out | grep -q "^421 4.3.2 " &&
	expect_deliveries 0
'

# Pipelined messages, the first with its maildrop running when SIGTERM
# comes: the client's input is never waited for, yet no maildrop may start
# after the signal.
test_expect_success 'SIGTERM with pipelined messages: the running one is answered, no other starts' '
	printf "#!/bin/sh\n: >\"%s\"\nsleep 1\nexec \"%s\" \"\$@\"\n" "$PWD/started" "$RECORD" >slow &&
	chmod +x slow &&
	msg="MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nx\r\n.\r\n" &&
	term_session "send:EHLO c\r\n$msg$msg${msg}QUIT\r\n" "file:$PWD/started" term -- \
		$SMTPD_WRAPPER "$SMTPD" $SMTPD_OPTS -- "$PWD/slow" &&
	expect_status 75 &&
	grep -E "^(250 2\.0\.0|421|221)" out | cut -c1-9 | tr -d "\r" >actual &&
	printf "250 2.0.0\n421 4.3.2\n" | diff -u - actual &&
	expect_deliveries 1
'

test_done
