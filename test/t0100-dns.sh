#!/bin/bash
# Hostile answers from a real DNS server: inside unshare -mn, the test's own
# server on 127.0.0.1:53 answers PTR queries with a 253-octet name and with
# labels holding CR LF, spaces, '%', NUL, ESC and 8-bit bytes. glibc refuses
# some of these itself; whatever it passes on, the greeting stays one
# well-formed line of name bytes, and comes within the look-up bound.
. "$(dirname "$0")/lib.sh"

test_have_prereq NAMESPACE || test_skip_all "needs root and unshare -mn"

# from_dns X: one session from 127.0.0.X, resolved through ptr-dns.py.
from_dns() {
	printf "127.0.0.1 localhost\n" >hosts &&
	printf "EHLO client\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n" >in &&
	with_hosts hosts sh -c '
		python3 "$1" 20 & dns=$!
		sleep 0.5
		start=$(date +%s%N)
		env DROP_DIR="$PWD/drops" TCPREMOTEIP=127.0.0.$2 \
			$3 "$4" -n mx.example -- "$5" <in >out 2>&1
		echo $(( ($(date +%s%N) - start) / 1000000 )) >ms
		kill $dns' sh "$TEST_DIR/bin/ptr-dns.py" "$1" "$SMTPD_WRAPPER" \
		"$SMTPD" "$RECORD" &&
	check_reply_lines out &&
	sed -n 2p out | tr -d "\r" >hello &&
	sed -n 1p drops/1.msg >received &&
	echo "greeting: $(cat hello) ($(cat ms) ms)"
}

test_expect_success 'a legal 253-octet name, forward-confirmed, stands whole' '
	from_dns 21 &&
	name=$(printf "%s.%s.%s.%s" $(printf "a%.0s" $(seq 63)) \
		$(printf "b%.0s" $(seq 63)) $(printf "c%.0s" $(seq 63)) \
		$(printf "d%.0s" $(seq 61))) &&
	[ ${#name} = 253 ] &&
	echo "250-mx.example Hello $name [127.0.0.21]" | diff - hello &&
	echo "Received: from client ($name [127.0.0.21])" | diff - received
'

for x in 22 23; do
	test_expect_success "PTR labels with CR LF, NUL, ESC, 8-bit bytes (127.0.0.$x)" '
		from_dns '$x' &&
		grep -qxE "250-mx\.example Hello [A-Za-z0-9._-]+ \[127\.0\.0\.'$x'\]" hello &&
		grep -qxE "Received: from client \([A-Za-z0-9._-]+ \[127\.0\.0\.'$x'\]( \(may be forged\))?\)" received &&
		! grep -q "250 x" out
	'
done

test_expect_success 'a PTR answer that is an address is unknown' '
	from_dns 24 &&
	echo "250-mx.example Hello unknown [127.0.0.24]" | diff - hello
'

test_expect_success 'NXDOMAIN is unknown, at once' '
	from_dns 25 &&
	echo "250-mx.example Hello unknown [127.0.0.25]" | diff - hello &&
	[ "$(cat ms)" -lt 4000 ]
'

test_done
