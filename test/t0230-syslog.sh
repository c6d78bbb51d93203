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
	grep -qE "^<22>.*smtpd\[[0-9]+\]: message from=\"a@example.org\" to=\"b@example.org\",\"c@example.org\" recipients=2 size=7 via=DATA maildrop=exit-0 reply=250$" log &&
	grep -qE "^<22>.*smtpd\[[0-9]+\]: session peer=unknown \[192.0.2.7\] helo=\"client.example\" tls=no messages=1 end=quit$" log
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
	grep -q "message from=\"a@example.org\" to=\"b@example.org\" recipients=1 size=3 via=DATA maildrop=exit-0 reply=250" log &&
	grep -q "session peer=unknown \[192.0.2.7\] helo=\"c\" tls=no messages=1 end=end of input$" log
'

# logcatch.py shows a backslash smtpd wrote as two, and a raw byte as \xNN:
# so "\\x1b" below is smtpd's four-octet escape, never a raw ESC.
test_expect_success 'the maildrop'"'"'s output goes to the log, quoted' '
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
	cat >expect <<-\EOF &&
	maildrop said: "cannot deliver:\\x1b[31m disk\\x0d\\x0afull\\x0a"
	EOF
	grep -qF -f expect log &&
	grep -q "^<21>.*smtpd\[[0-9]*\]: maildrop said: " log &&
	grep -q "maildrop=exit-75 reply=451$" log &&
	! grep -q "cannot deliver" out
'

test_expect_success 'hostile HELO and addresses are quoted and escaped in the log' '
	{ printf "HELO evil\033]0;x\007\r\n" &&
	  crlf <<-\EOF
	MAIL FROM:<"a\"b%c!d"@example.org>
	RCPT TO:<c@d>
	DATA
	x
	.
	EOF
	} | logged_session -- "$RECORD" >/dev/null &&
	expect_deliveries 1 &&
	cat >raw.pl <<-\EOF &&
	# a raw byte, as logcatch.py shows it: \xNN after no backslash
	while (<>) { s/\\\\//g; exit 1 if /\\x[0-9a-f]{2}/ }
	EOF
	perl raw.pl log &&
	cat >expect <<-\EOF &&
	helo="evil\\x1b]0;x\\x07" tls=no messages=1 end=end of input
	message from="\\"a\\\\\\"b%c!d\\"@example.org" to="c@d" recipients=1
	EOF
	grep -cF -f expect log >count &&
	[ "$(cat count)" = 2 ]
'

# A field the client wrote cannot pass for another: outside its quotes
# each line holds each field name once.
test_expect_success 'a HELO that reads like log fields stays one field' '
	crlf <<-\EOF | logged_session -- "$RECORD" &&
	EHLO evil messages=99 end=quit to="x@y" reply=250
	MAIL FROM:<a@example.org>
	RCPT TO:<b@example.org>
	DATA
	x
	.
	QUIT
	EOF
	cat >expect <<-\EOF &&
	session peer=unknown [192.0.2.7] helo="evil messages=99 end=quit to=\\"x@y\\" reply=250" tls=no messages=1 end=quit
	EOF
	grep -qF -f expect log &&
	cat >fields.pl <<-\EOF &&
	while (<>) {
		s/\\\\/\\/g;                 # undo logcatch.py: smtpd text
		s/"(?:[^"\\]|\\.)*"//g;      # drop every quoted field
		for my $f (qw(helo messages end from to recipients reply)) {
			my $n = () = /\b$f=/g;
			exit 1 if $n > 1;
		}
	}
	EOF
	perl fields.pl log
'

test_expect_success 'many long recipients: to= holds whole fields, then ",..."' '
	long=$(printf "%0210d" 0) &&
	{ printf "HELO c\r\nMAIL FROM:<a@example.org>\r\n";
	  for i in 1 2 3 4 5 6 7 8 9; do printf "RCPT TO:<\"q\\\\\"$long$i\"@example.org>\r\n"; done;
	  printf "DATA\r\nx\r\n.\r\n"; } | logged_session -- "$RECORD" >/dev/null &&
	expect_deliveries 1 &&
	[ "$(wc -l <drops/1.argv)" = 9 ] &&
	grep "message from=" log >line &&
	grep -q ",\.\.\. recipients=9 size=3 via=DATA maildrop=exit-0 reply=250$" line &&
	cat >whole.pl <<-\EOF &&
	# every quoted field of the line is closed: the quotes pair up
	while (<>) { s/\\\\//g; s/\\"//g; exit 1 if tr/"// % 2 }
	EOF
	perl whole.pl line
'

test_expect_success 'a timeout and a 421 are logged' '
	{ printf "HELO c\r\n"; sleep 3; } | logged_session -t 1 -- "$RECORD" >/dev/null &&
	grep -q "session peer=unknown \[192.0.2.7\] helo=\"c\" tls=no messages=0 end=timeout$" log
'

# The client keeps the connection open; the test finds smtpd by the unique
# path of its maildrop (among the shells that start it) and stops it as
# systemd would.
test_expect_success 'a session stopped by SIGTERM is logged as such' '
	ln -s "$RECORD" stopped-drop &&
	{
		printf "HELO c\r\n"
		pid=
		for i in $(seq 100); do
			for p in $(pgrep -f -- "$PWD/stopped-drop"); do
				case $(cat /proc/$p/comm) in
				sh | bash | unshare) ;;
				*) pid=$p ;;
				esac
			done
			[ -n "$pid" ] && break
			sleep 0.1
		done
		sleep 0.5
		kill -TERM $pid
		for i in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
	} | logged_session -- "$PWD/stopped-drop" >/dev/null &&
	grep -q "^421 4.3.2 " out &&
	expect_status 75 &&
	grep -q "session peer=unknown \[192.0.2.7\] helo=\"c\" tls=no messages=0 end=terminated$" log
'

test_done
