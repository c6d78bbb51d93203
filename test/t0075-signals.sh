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

test_done
