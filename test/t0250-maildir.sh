#!/bin/bash
# etc/maildir-deliver, the maildrop of the quick start and the service
# files: each message whole in new/, under a unique name, nothing left in
# tmp/; any failure exits 75, so smtpd answers 451 and nothing is lost.
. "$(dirname "$0")/lib.sh"

MAILDIR_DELIVER=$SRC_DIR/etc/maildir-deliver

# deliver_to DIR COUNT: one session with COUNT messages into DIR.
deliver_to() {
	{ printf "HELO c\r\n";
	  for i in $(seq "$2"); do
		printf "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: $i\r\n\r\n..body $i\r\n.\r\n"
	  done;
	  printf "QUIT\r\n"; } >in &&
	raw_session -- "$MAILDIR_DELIVER" "$1" <in
}

test_expect_success 'a message lands whole in new/, tmp/ is left empty' '
	deliver_to "$PWD/Maildir" 1 &&
	[ "$(grep -c "^250 2.0.0 Ok" out)" = 1 ] &&
	[ -d Maildir/cur ] && [ -z "$(ls Maildir/tmp)" ] &&
	[ "$(ls Maildir/new | wc -l)" = 1 ] &&
	tail -n +4 Maildir/new/* >body &&
	printf "Subject: 1\n\n.body 1\n" | cmp - body &&
	head -n 1 Maildir/new/* | grep -q "^Received: from c "
'

test_expect_success 'ten messages in one session get ten names' '
	deliver_to "$PWD/Maildir" 10 &&
	[ "$(grep -c "^250 2.0.0 Ok" out)" = 10 ] &&
	[ "$(ls Maildir/new | wc -l)" = 10 ] &&
	[ "$(cat Maildir/new/* | grep -c "^Subject: ")" = 10 ] &&
	ls Maildir/new | grep -qE "^[0-9]+\.M[0-9]{6}P[0-9]+\.[^/:]+$"
'

test_expect_success 'files are private (mode 600)' '
	deliver_to "$PWD/Maildir" 1 &&
	[ "$(stat -c %a Maildir/new/*)" = 600 ]
'

test_expect_success ROOT 'a Maildir it cannot write: 451 and exit 75, nothing lost' '
	mkdir -p ro/Maildir/tmp ro/Maildir/new ro/Maildir/cur &&
	chmod 555 ro/Maildir/tmp &&
	setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null ||
		{ echo "no setpriv"; false; } &&
	{ printf "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n"; } >in &&
	chmod 755 .. . ro ro/Maildir &&
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		env TCPREMOTEIP=192.0.2.1 "$SMTPD" -R -n mx.example -- \
		"$MAILDIR_DELIVER" "$PWD/ro/Maildir" <in >out 2>&1 &&
	check_reply_lines out &&
	grep -q "^451 4.3.0 " out &&
	[ -z "$(ls ro/Maildir/new)" ]
'

test_expect_success 'a Maildir path that is a file: 451' '
	: >not-a-dir &&
	deliver_to "$PWD/not-a-dir" 1 &&
	grep -q "^451 4.3.0 " out
'

test_expect_success 'maildir-deliver alone: exit 75 on a failure, 0 on success' '
	echo hi | "$MAILDIR_DELIVER" "$PWD/M" && [ "$(cat M/new/*)" = hi ] &&
	: >file && { echo hi | "$MAILDIR_DELIVER" "$PWD/file/M"; [ $? = 75 ]; }
'

test_done
