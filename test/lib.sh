# test/lib.sh - the harness every test script sources, after git's
# t/test-lib.sh: TAP on stdout, a scratch directory per test, and helpers
# that pipe an SMTP dialogue into smtpd and check what came out.
#
#   test_expect_success 'what it shows' '
#           session <<-\EOF &&
#           EHLO client.example
#           QUIT
#           EOF
#           expect_replies <<-\EOF
#           ...
#           EOF
#   '
#   test_done
set -u
TEST_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$TEST_DIR/.." && pwd)
SMTPD=${SMTPD:-$SRC_DIR/smtpd}
# Put in front of every smtpd run: make check-valgrind sets it.
SMTPD_WRAPPER=${SMTPD_WRAPPER:-}
# The default options: no name look-up (no test may query this machine's
# DNS server), a fixed server name.
SMTPD_OPTS=${SMTPD_OPTS:--R -n mx.example}
RECORD=$TEST_DIR/bin/record
# Where make check-asan and check-valgrind collect their reports.
REPORTS_DIR=$TEST_DIR/reports
export LC_ALL=C
unset TCPLOCALHOST TCPREMOTEIP REMOTE_ADDR

TRASH=$(mktemp -d "${TMPDIR:-/tmp}/smtpd-test.XXXXXX") || exit 1
trap '[ -n "${KEEP_TRASH:-}" ] || rm -rf "$TRASH"' EXIT
test_count=0
test_failures=0
test_skips=0

# test_expect_success [PREREQ] DESCRIPTION BODY
test_expect_success() {
	local prereq="" dir
	[ $# -eq 3 ] && { prereq=$1; shift; }
	test_count=$((test_count + 1))
	if [ -n "$prereq" ] && ! test_have_prereq "$prereq"; then
		echo "ok $test_count # skip $1 (missing $prereq)"
		test_skips=$((test_skips + 1))
		return 0
	fi
	dir=$TRASH/$test_count
	mkdir -p "$dir/drops"
	# The body runs as a function, so that "return 1" in it fails the test
	# (in a plain eval, return is an error that the body goes on past).
	if (cd "$dir" && eval "test_body_() {
$2
}" && test_body_) >"$dir.log" 2>&1 </dev/null; then
		echo "ok $test_count - $1"
	else
		echo "not ok $test_count - $1"
		sed 's/^/#    /' "$dir.log"
		test_failures=$((test_failures + 1))
	fi
}

test_done() {
	echo "1..$test_count"
	[ "$test_failures" -eq 0 ]
	exit
}

test_skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

test_have_prereq() {
	case $1 in
	ROOT) [ "$(id -u)" = 0 ] ;;
	NAMESPACE) [ "$(id -u)" = 0 ] && unshare -mn true 2>/dev/null ;;
	EXPENSIVE) [ -n "${SMTPD_TEST_EXPENSIVE:-}" ] ;;
	SYSTEMD_ANALYZE) command -v systemd-analyze >/dev/null ;;
	*) command -v "$(echo "$1" | tr 'A-Z_' 'a-z-')" >/dev/null 2>&1 ;;
	esac
}

# Fails with a message, from inside a test body.
fail() {
	echo "FAIL: $*" >&2
	return 1
}

# Runs smtpd on raw stdin. The client sees stdout and stderr both, as under
# inetd; every byte of them must belong to a well-formed reply line.
raw_session() {
	DROP_DIR=$PWD/drops TCPREMOTEIP=${PEER_IP-192.0.2.1} \
		$SMTPD_WRAPPER "$SMTPD" $SMTPD_OPTS "$@" >out 2>&1
	echo $? >status
	check_reply_lines out
}

# Like raw_session, but stdin is LF-ended lines that become CRLF.
session() {
	sed 's/$/\r/' >in && raw_session "$@" <in
}

# The default maildrop, when a test names none.
session_record() {
	session -- "$RECORD" "$@"
}

# Every line: 3 digits, ' ' or '-', printable ASCII, CRLF, at most 512
# octets; nothing else (RFC 5321 4.2, 4.5.3.1.5).
check_reply_lines() {
	perl -ne '
		$bad = 1, print STDERR "bad reply line $.: $_"
			unless /\A[2-5][0-9][0-9][ -][\x20-\x7e]*\r\n\z/s
				&& length($_) <= 512;
		END { exit($bad ? 1 : 0) }' "$1"
}

expect_replies() {
	cat >expect && tr -d '\r' <out >actual && diff -u expect actual
}

# Only the reply codes (and continuation marks), one a line.
expect_codes() {
	cat >expect && cut -c1-4 <out | tr -d ' \r' >actual &&
		diff -u expect actual
}

expect_status() {
	[ "$(cat status)" = "$1" ] || fail "exit status $(cat status), not $1"
}

expect_deliveries() {
	local n
	n=$(find drops -name '*.msg' | wc -l)
	[ "$n" = "$1" ] || fail "$n deliveries, not $1"
}

# The Nth delivered message, without smtpd's Received: header.
expect_message() {
	cat >expect && tail -n +4 "drops/$1.msg" >actual &&
		diff -u expect actual
}

expect_argv() {
	cat >expect && diff -u expect "drops/$1.argv"
}

# free_port: a loopback port nothing listens on just now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (at most 10 s) until something listens on PORT, without connecting.
wait_listening() {
	local i
	for i in $(seq 100); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	echo "nothing listens on port $1" >&2
	return 1
}

# Runs "$@" with FILE over /etc/hosts, in a private mount and network
# namespace: the real resolver reads our names, and no DNS query can leave
# (resolv.conf names 127.0.0.1 in a namespace where nothing listens).
with_hosts() {
	local hosts=$1
	shift
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >resolv.conf
	printf 'hosts: files dns\n' >nsswitch.conf
	printf 'multi off\n' >host.conf
	unshare -mn sh -c '
		ip link set lo up 2>/dev/null
		mount --bind "$1" /etc/hosts &&
		mount --bind "$2" /etc/resolv.conf &&
		mount --bind "$3" /etc/nsswitch.conf &&
		mount --bind "$4" /etc/host.conf || exit 99
		shift 4
		exec "$@"' sh "$PWD/$hosts" "$PWD/resolv.conf" \
		"$PWD/nsswitch.conf" "$PWD/host.conf" "$@"
}
