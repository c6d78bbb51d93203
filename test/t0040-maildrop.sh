#!/bin/bash
# The maildrop: argv, stdin, descriptors, output, and the one map from its
# exit to the client's reply (SPEC 7).
. "$(dirname "$0")/lib.sh"

# One message from <a@b.example> to two recipients; stdin is ignored.
one_message() {
	printf "HELO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nRCPT TO:<e@f.example>\r\nDATA\r\nSubject: t\r\n\r\nbody\r\n.\r\nQUIT\r\n" >in &&
	raw_session "$@" <in
}

# True when PID no longer runs (a zombie left to a PID 1 that does not
# reap orphans has stopped too).
stopped() {
	local state
	state=$(ps -o stat= -p "$1") || return 0
	case $state in Z*) return 0 ;; esac
	fail "process $1 still runs: $state"
}

# The reply to the end of data (the one before QUIT's 221).
end_reply() {
	tail -n 2 out | head -n 1 | tr -d '\r'
}

test_expect_success 'recipients follow the arguments when there is no %T' '
	one_message -- "$RECORD" -i -f %F -- &&
	expect_argv 1 <<-\EOF
	-i
	-f
	a@b.example
	--
	c@d.example
	e@f.example
	EOF
'

test_expect_success '%T puts the recipients in its place, %F the sender' '
	one_message -- "$RECORD" --to %T --from %F end &&
	expect_argv 1 <<-\EOF
	--to
	c@d.example
	e@f.example
	--from
	a@b.example
	end
	EOF
'

test_expect_success 'only an argument that is exactly %F or %T is replaced' '
	one_message -- "$RECORD" x%F %Tx %f "%F " &&
	expect_argv 1 <<-\EOF
	x%F
	%Tx
	%f
	%F 
	c@d.example
	e@f.example
	EOF
'

test_expect_success 'the null sender is an empty argument in its place' '
	printf "HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\n" >in &&
	raw_session -- "$RECORD" -f %F -- <in &&
	expect_argv 1 <<-\EOF
	-f
	
	--
	c@d
	EOF
'

test_expect_success 'stdin is the whole message, Received: first' '
	one_message -- "$RECORD" &&
	head -n 1 drops/1.msg | grep -q "^Received: from c (unknown \[192.0.2.1\])$" &&
	expect_message 1 <<-\EOF
	Subject: t
	
	body
	EOF
'

reply_for_exit() {
	test_expect_success "maildrop exit $1: $2" "
		DROP_EXIT=$1 one_message -- \"\$RECORD\" &&
		[ \"\$(end_reply)\" = \"$2\" ] || fail \"got: \$(end_reply)\"
	"
}
reply_for_exit 0 '250 2.0.0 Ok: message accepted'
reply_for_exit 65 '554 5.6.0 Message refused by the maildrop'
reply_for_exit 67 '550 5.1.1 Recipient unknown'
reply_for_exit 68 '550 5.1.2 Recipient domain unknown'
reply_for_exit 69 '554 5.3.0 Mail delivery unavailable'
reply_for_exit 77 '554 5.7.1 Delivery not permitted'
reply_for_exit 75 '451 4.3.0 Temporary failure in delivery; try again later'
reply_for_exit 1 '451 4.3.0 Temporary failure in delivery; try again later'
reply_for_exit 100 '451 4.3.0 Temporary failure in delivery; try again later'

test_expect_success 'a maildrop killed by a signal: 451' '
	one_message -- sh -c "cat >/dev/null; kill -9 \$\$" sh &&
	[ "$(end_reply)" = "451 4.3.0 Temporary failure in delivery; try again later" ]
'

test_expect_success 'a maildrop that does not exist: 451, the session goes on' '
	printf "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nNOOP\r\nQUIT\r\n" >in &&
	raw_session -- ./no-such-maildrop <in &&
	expect_replies <<-\EOF &&
	220 mx.example ESMTP smtpd
	250 mx.example Hello unknown [192.0.2.1]
	250 2.1.0 Sender ok
	250 2.1.5 Recipient ok
	354 End data with <CR><LF>.<CR><LF>
	451 4.3.0 Temporary failure in delivery; try again later
	250 2.0.0 Ok
	221 2.0.0 mx.example closing connection
	EOF
	expect_status 0
'

test_expect_success 'a maildrop that is not executable: 451' '
	printf "#!/bin/sh\nexit 0\n" >not-exec &&
	one_message -- ./not-exec &&
	[ "$(end_reply)" = "451 4.3.0 Temporary failure in delivery; try again later" ]
'

test_expect_success 'a maildrop that exits 0 without reading its input: 250' '
	one_message -- true &&
	[ "$(end_reply)" = "250 2.0.0 Ok: message accepted" ]
'

test_expect_success 'a maildrop that hangs is killed after -m, with its children: 451' '
	one_message -m 1 -- sh -c "sleep 60 & echo \$! >child; echo \$\$ >pid; exec sleep 60" sh &&
	[ "$(end_reply)" = "451 4.3.0 Temporary failure in delivery; try again later" ] &&
	stopped "$(cat pid)" && stopped "$(cat child)"
'

test_expect_success 'a maildrop that closes its output and lingers is still bounded' '
	one_message -m 1 -- sh -c "exec >/dev/null 2>&1; sleep 60" sh &&
	[ "$(end_reply)" = "451 4.3.0 Temporary failure in delivery; try again later" ]
'

test_expect_success 'the maildrop exits 0 while a child of it holds its output' '
	one_message -m 30 -- sh -c "cat >/dev/null; sleep 3 & exit 0" sh &&
	[ "$(end_reply)" = "250 2.0.0 Ok: message accepted" ]
'

test_expect_success 'its stdout and stderr never reach the client' '
	one_message -- sh -c "echo 250 to-stdout; echo 250 to-stderr >&2; head -c 100000 /dev/zero; cat >/dev/null" sh &&
	! grep -q "to-std" out &&
	[ "$(end_reply)" = "250 2.0.0 Ok: message accepted" ]
'

test_expect_success 'it inherits no descriptor but 0, 1 and 2' '
	exec 7>inherited &&
	one_message -- python3 -c "
import os, sys
found = []
for fd in range(1024):
    try:
        found.append((fd, os.readlink(\"/proc/self/fd/%d\" % fd)))
    except OSError:
        pass
sys.stdin.read()
with open(\"fds\", \"w\") as f:
    for fd, target in found:
        f.write(\"%d %s\\n\" % (fd, target))
" &&
	exec 7>&- &&
	# Under make check-valgrind, valgrind hands its own log file to the
	# children it does not trace; that one is not smtpd'"'"'s.
	grep -v " $REPORTS_DIR/valgrind\." fds | cut -d" " -f1 >fd-numbers &&
	printf "0\n1\n2\n" >expect-fds &&
	diff -u expect-fds fd-numbers
'

test_expect_success 'SIGPIPE is default in the maildrop (smtpd ignores it)' '
	one_message -- sh -c "grep SigIgn /proc/\$\$/status >sigign; cat >/dev/null" sh &&
	mask=$(sed -n "s/^SigIgn:\t//p" sigign) &&
	[ $(( 0x$mask >> 12 & 1 )) = 0 ] || fail "SIGPIPE ignored: $mask"
'

test_expect_success 'one maildrop run per message, none for a refused one' '
	printf "HELO c\r\n" >in &&
	printf "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nok 1\r\n.\r\n" >>in &&
	printf "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nbad\nx\r\n.\r\n" >>in &&
	printf "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nok 2\r\n.\r\n" >>in &&
	raw_session -- "$RECORD" <in &&
	expect_deliveries 2 &&
	expect_message 1 <<-\EOF &&
	ok 1
	EOF
	expect_message 2 <<-\EOF
	ok 2
	EOF
'

test_done
