#!/bin/bash
# Exim 4.96 as the sending MTA: the client that speaks BDAT (RFC 3030) and
# SMTPUTF8 (RFC 6531) to smtpd, which swaks and smtplib cannot. Exim,
# unpacked from Debian's packages, routes everything to 127.0.0.1 through
# a recording relay (test/bin/mta-tap.py) to smtpd under tcpserver. Exim
# uses CHUNKING wherever the server offers it (hosts_try_chunking), and
# flags a message SMTPUTF8 by itself when an envelope address is UTF-8.
# The maildrop (test/bin/mta-drop) keeps argv, message and environment.
. "$(dirname "$0")/lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] &&
	test_skip_all "real-server tests run in the plain make check"
test_have_prereq NAMESPACE || test_skip_all "needs root and unshare -mn"
command -v tcpserver >/dev/null || test_skip_all "no tcpserver (ucspi-tcp)"
. "$TEST_DIR/lib-mta.sh"
if [ -z "${SMTPD_MTA_WORLD:-}" ]; then
	exim_unpack || test_skip_all "cannot download $EXIM_PACKAGES (apt-get download)"
fi
mta_private_world "$@" || { echo "Bail out! no private namespace"; exit 1; }
exim_unpack || { echo "Bail out! no Exim"; exit 1; }

export DROP_DIR=$TRASH/drops
mkdir -p "$DROP_DIR" "$TRASH/tap"

# smtpd under tcpserver on a port of this network namespace. SMTPUTF8=1
# in its environment must not reach the maildrop of an ASCII message.
SMTPD_PORT=10025
SMTPUTF8=1 tcpserver -H -R -l mx.example 127.0.0.1 $SMTPD_PORT $SMTPD_WRAPPER "$SMTPD" \
	-R -n mx.example -- "$TEST_DIR/bin/mta-drop" %F %T \
	>"$TRASH/tcpserver.log" 2>&1 &
MTA_PIDS="$MTA_PIDS $!"
python3 "$TEST_DIR/bin/mta-tap.py" "$TRASH/tap" $SMTPD_PORT 900 &
MTA_PIDS="$MTA_PIDS $!"
for i in $(seq 100); do
	ss -Hltn "sport = :$SMTPD_PORT" | grep -q . && [ -s "$TRASH/tap/port" ] && break
	sleep 0.1
done
TAP_PORT=$(cat "$TRASH/tap/port" 2>/dev/null)
[ -n "$TAP_PORT" ] && ss -Hltn "sport = :$SMTPD_PORT" | grep -q . ||
	{ echo "Bail out! tcpserver or the tap did not listen"; exit 1; }

exim_setup client <<-EOF
primary_hostname = client.example
exim_path = @EXIM@
keep_environment = LD_LIBRARY_PATH
spool_directory = @D@/spool
log_file_path = @D@/log/%slog
host_lookup = !*
rfc1413_hosts = !*
trusted_users = root
qualify_domain = client.example
begin routers
to_smtpd:
  driver = manualroute
  domains = *
  route_list = * 127.0.0.1
  self = send
  transport = to_smtpd
begin transports
to_smtpd:
  driver = smtp
  port = $TAP_PORT
  allow_localhost
  hosts_avoid_tls = *
  hosts_try_chunking = *
EOF

# send FROM RCPT FILE: Exim takes FILE and delivers it at once (-odi);
# afterwards its queue must be empty and its log must show the delivery.
send() {
	exim_run -odi -oi -f "$1" -- "$2" <"$3" || fail "exim exited $?"
	[ "$(exim_run -bpc)" = 0 ] || { exim_run -bp; fail "Exim kept it"; }
	grep -F "=> $2 R=to_smtpd T=to_smtpd H=127.0.0.1" "$EXIM_DIR/log/mainlog" |
		grep -q 'C="250 2.0.0 Ok: message accepted"' ||
		{ cat "$EXIM_DIR/log/mainlog"; fail "no delivery of $2 in Exim's log"; }
}

# The last session the tap saw: its command lines, without the number.
last_session() {
	local n
	n=$(tail -n 1 "$TRASH/tap/commands.log" | cut -d" " -f1)
	sed -n "s/^$n //p" "$TRASH/tap/commands.log"
}

# newest_drop: the number of the last delivery.
newest_drop() {
	ls "$DROP_DIR" | sed -n 's/^\([0-9]*\)\.msg$/\1/p' | sort -n | tail -n 1
}

# check_drop N FILE SENDER RCPT: delivery N is FILE byte for byte, under
# smtpd's and Exim's Received: headers, with argv SENDER RCPT.
check_drop() {
	[ -f "$DROP_DIR/$1.msg" ] || fail "no delivery $1"
	printf '%s\n%s\n' "$3" "$4" | diff -u - "$DROP_DIR/$1.argv" &&
	strip_received "$DROP_DIR/$1.msg" | cmp - "$2" &&
	sed -n 1p "$DROP_DIR/$1.msg" | grep -q "^Received: from client.example (unknown \[127.0.0.1\])$" &&
	grep -q "^Received: from root by client.example with local (Exim 4.96)$" "$DROP_DIR/$1.msg"
}

test_expect_success 'an ASCII message: Exim sends BDAT LAST, no SMTPUTF8' '
	printf "From: s@client.example\nTo: r@example.org\nSubject: plain\nDate: Thu, 03 Dec 2026 00:00:00 +0000\nMessage-ID: <plain@client.example>\n\n.\n..two dots\nlast line\n" >msg &&
	send s@client.example r@example.org msg &&
	last_session >session &&
	grep -qx "MAIL FROM:<s@client.example> SIZE=[0-9]*" session &&
	grep -qx "RCPT TO:<r@example.org>" session &&
	grep -qx "BDAT [0-9]* LAST" session &&
	! grep -q "^DATA" session &&
	n=$(newest_drop) &&
	check_drop $n msg s@client.example r@example.org &&
	sed -n 2p "$DROP_DIR/$n.msg" | grep -q "by mx.example (smtpd) with ESMTP;" &&
	! grep -q "^SMTPUTF8=" "$DROP_DIR/$n.env"
'

test_expect_success 'a UTF-8 recipient: Exim sends SMTPUTF8, the maildrop gets SMTPUTF8=1' '
	printf "From: s@client.example\nTo: récipient@example.org\nSubject: Grüße\nDate: Thu, 03 Dec 2026 00:00:00 +0000\nMessage-ID: <utf8@client.example>\n\nÄpfel und Birnen\n" >msg &&
	send s@client.example récipient@example.org msg &&
	last_session >session &&
	grep -qx "MAIL FROM:<s@client.example> SIZE=[0-9]* SMTPUTF8" session &&
	grep -qx "RCPT TO:<récipient@example.org>" session &&
	grep -qx "BDAT [0-9]* LAST" session &&
	n=$(newest_drop) &&
	check_drop $n msg s@client.example récipient@example.org &&
	sed -n 2p "$DROP_DIR/$n.msg" | grep -q "by mx.example (smtpd) with UTF8SMTP;" &&
	grep -qx "SMTPUTF8=1" "$DROP_DIR/$n.env"
'

test_expect_success 'a 1.4 MB message comes in several chunks, byte for byte' '
	python3 -c "
import sys
sys.stdout.write(\"From: s@client.example\nTo: big@example.org\nSubject: big\nDate: Thu, 03 Dec 2026 00:00:00 +0000\nMessage-ID: <big@client.example>\n\n\")
for i in range(20000):
    sys.stdout.write((\".\" if i % 7 == 0 else \"\") + \"%07d \" % i + \"y\" * 60 + \"\n\")
" >msg &&
	[ "$(wc -c <msg)" -gt 1000000 ] &&
	send s@client.example big@example.org msg &&
	last_session >session &&
	chunks=$(grep -c "^BDAT [0-9]*" session) &&
	{ [ "$chunks" -ge 2 ] || fail "$chunks chunks"; } &&
	grep "^BDAT" session | tail -n 1 | grep -qx "BDAT [0-9]* LAST" &&
	n=$(newest_drop) &&
	check_drop $n msg s@client.example big@example.org &&
	! grep -q "^SMTPUTF8=" "$DROP_DIR/$n.env"
'

test_done
