#!/bin/bash
# Logging through syslog(3), facility mail: one line per session and one
# per message, every field printable. In a private mount namespace, /dev is
# a directory of the test's own holding /dev/null and a /dev/log socket
# that the test reads.
. "$(dirname "$0")/lib.sh"

test_have_prereq NAMESPACE || test_skip_all "needs root and unshare -m"

crlf() {
	sed 's/$/\r/'
}

# logged_session [smtpd args]: runs a session on stdin (live: a test may
# pause in it), the log in ./log.
logged_session() {
	mkdir -p devdir && : >devdir/null && : >devdir/log &&
	python3 "$TEST_DIR/bin/logcatch.py" "$PWD/log.sock" log 30 &
	local catcher=$!
	for i in $(seq 50); do [ -S log.sock ] && break; sleep 0.1; done
	unshare -m sh -c '
		mount --bind /dev/null devdir/null &&
		mount --bind log.sock devdir/log &&
		mount --rbind devdir /dev || exit 99
		env DROP_DIR="$PWD/drops" TCPREMOTEIP=192.0.2.7 "$@" >out 2>&1
		echo $? >status' sh $SMTPD_WRAPPER "$SMTPD" -R -n mx.example "$@"
	python3 -c "import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b\"STOP\", \"log.sock\")"
	wait $catcher
	cat log
}

test_expect_success 'one line per message and one per session, facility mail' '
	crlf <<-\EOF | logged_session -- "$RECORD" &&
	HELO client.example
	MAIL FROM:<a@example.org>
	RCPT TO:<b@example.org>
	RCPT TO:<c@example.org>
	DATA
	hello
	.
	QUIT
	EOF
	expect_deliveries 1 &&
	[ "$(wc -l <log)" = 2 ] &&
	grep -qE "^<22>.*smtpd\[[0-9]+\]: message from=<a@example.org> to=<b@example.org>,<c@example.org> recipients=2 size=7 maildrop=exit-0 reply=250$" log &&
	grep -qE "^<22>.*smtpd\[[0-9]+\]: session peer=unknown \[192.0.2.7\] helo=client.example messages=1 end=quit$" log
'

test_expect_success 'an end of input after a message is logged as such' '
	crlf <<-\EOF | logged_session -t 1 -- "$RECORD" &&
	HELO c
	MAIL FROM:<a@example.org>
	RCPT TO:<b@example.org>
	DATA
	x
	.
	EOF
	grep -q "message from=<a@example.org> to=<b@example.org> recipients=1 size=3 maildrop=exit-0 reply=250" log &&
	grep -q "session peer=unknown \[192.0.2.7\] helo=c messages=1 end=end of input$" log
'

test_expect_success 'the maildrop'"'"'s output goes to the log, made printable' '
	printf "#!/bin/sh\nprintf \"cannot deliver:\\\\033[31m disk\\\\r\\\\nfull\\\\n\" >&2\nexit 75\n" >noisy &&
	chmod +x noisy &&
	crlf <<-\EOF | logged_session -- ./noisy &&
	HELO c
	MAIL FROM:<a@example.org>
	RCPT TO:<b@example.org>
	DATA
	x
	.
	EOF
	grep -q "^451 4.3.0" out &&
	grep -q "^<21>.*smtpd\[[0-9]*\]: maildrop said: cannot deliver:?\[31m disk??full?$" log &&
	grep -q "maildrop=exit-75 reply=451$" log &&
	! grep -q "cannot deliver" out
'

test_expect_success 'hostile HELO and addresses are made printable in the log' '
	printf "HELO evil\033]0;x\007\r\nMAIL FROM:<a%%b!c@example.org>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\n" |
		logged_session -- "$RECORD" >/dev/null &&
	! grep -q "\\\\x" log &&
	grep -q "helo=evil?\]0;x? messages=1" log &&
	grep -q "from=<a%b!c@example.org>" log
'

test_expect_success 'a timeout and a 421 are logged' '
	{ printf "HELO c\r\n"; sleep 3; } | logged_session -t 1 -- "$RECORD" >/dev/null &&
	grep -q "session peer=unknown \[192.0.2.7\] helo=c messages=0 end=timeout$" log
'

test_done
