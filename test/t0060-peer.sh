#!/bin/bash
# The peer's name through the real resolver: a private /etc/hosts in a mount
# and network namespace, names of 300, 971 and 1,020 octets and with odd
# bytes. The greeting is cut to 512 octets by cutting the name only (SPEC 3,
# 4). Needs root for the namespaces.
. "$(dirname "$0")/lib.sh"

test_have_prereq NAMESPACE || test_skip_all "needs root and unshare -mn"

# greet IP: EHLO and one message from IP, the resolver reading ./hosts.
greet() {
	python3 "$TEST_DIR/bin/mkhosts.py" &&
	printf "EHLO client\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n" >in &&
	with_hosts hosts env DROP_DIR="$PWD/drops" TCPREMOTEIP="$1" \
		$SMTPD_WRAPPER "$SMTPD" -n mx.example -- "$RECORD" <in >out 2>&1 &&
	check_reply_lines out &&
	sed -n 2p out | tr -d "\r" >hello &&
	sed -n 1p drops/1.msg >received
}

test_expect_success 'a forward-confirmed name' '
	greet 127.0.0.2 &&
	echo "250-mx.example Hello good.example [127.0.0.2]" | diff - hello &&
	echo "Received: from client (good.example [127.0.0.2])" | diff - received
'

test_expect_success 'a name of 300 octets fits whole' '
	greet 127.0.0.3 &&
	echo "250-mx.example Hello $(cat names/300) [127.0.0.3]" | diff - hello
'

# cut_name SIZE IP: the greeting is exactly 512 octets; what is kept of the
# name is its right-hand end behind "...", and " [IP]" stands whole.
cut_name() {
	local size=$1 ip=$2
	test_expect_success "a name of $size octets: 512 octets, its end kept, [ADDR] whole" '
		greet '"$ip"' &&
		[ "$(sed -n 2p out | wc -c)" = 512 ] &&
		prefix="250-mx.example Hello ..." suffix=" ['"$ip"']" &&
		case $(cat hello) in "$prefix"*"$suffix") ;; *) false ;; esac &&
		kept=$(cat hello) && kept=${kept#"$prefix"} && kept=${kept%"$suffix"} &&
		[ ${#kept} = $((510 - ${#prefix} - ${#suffix})) ] &&
		[ "$(tail -c ${#kept} names/'"$size"')" = "$kept" ] &&
		grep -q "^Received: from client (\.\.\.[ab.]*\.example \['"$ip"'\])$" received &&
		[ $(tr -d "\n" <received | wc -c) -le 998 ]
	'
}
cut_name 971 127.0.0.4
cut_name 1020 127.0.0.5

test_expect_success 'odd bytes in a name are replaced, never passed on' '
	greet 127.0.0.6 &&
	echo "250-mx.example Hello evil___id___31m______.example [127.0.0.6]" | diff - hello &&
	echo "Received: from client (evil___id___31m______.example [127.0.0.6])" | diff - received
'

test_expect_success 'a PTR name that poses as an address is unknown' '
	greet 127.0.0.7 &&
	echo "250-mx.example Hello unknown [127.0.0.7]" | diff - hello
'

test_expect_success 'a name with nothing usable in it is unknown' '
	greet 127.0.0.10 &&
	echo "250-mx.example Hello unknown [127.0.0.10]" | diff - hello
'

test_expect_success 'a name that does not lead back is marked in Received:' '
	greet 127.0.0.9 &&
	echo "250-mx.example Hello shared.example [127.0.0.9]" | diff - hello &&
	echo "Received: from client (shared.example [127.0.0.9] (may be forged))" | diff - received
'

test_expect_success 'no name at all: unknown' '
	greet 127.0.0.11 &&
	echo "250-mx.example Hello unknown [127.0.0.11]" | diff - hello
'

test_expect_success 'IPv6' '
	greet ::2 &&
	echo "250-mx.example Hello six.example [::2]" | diff - hello
'

test_expect_success '-R: no look-up, even of a known name' '
	python3 "$TEST_DIR/bin/mkhosts.py" &&
	printf "HELO c\r\n" |
		with_hosts hosts env TCPREMOTEIP=127.0.0.2 "$SMTPD" -R -n mx.example true >out &&
	grep -q "^250 mx.example Hello unknown \[127.0.0.2\]" out
'

test_expect_success 'a DNS server that never answers holds EHLO at most 5 s' '
	python3 "$TEST_DIR/bin/mkhosts.py" &&
	printf "nameserver 127.0.0.1\noptions timeout:30 attempts:5\n" >slow.conf &&
	printf "EHLO c\r\nQUIT\r\n" >in &&
	with_hosts hosts sh -c "
		mount --bind slow.conf /etc/resolv.conf &&
		python3 \"$TEST_DIR/bin/silent-dns.py\" 20 ready &
		for i in \$(seq 100); do [ -e ready ] && break; sleep 0.1; done
		start=\$(date +%s%N)
		TCPREMOTEIP=127.0.0.99 \"$SMTPD\" -n mx.example true <in >out
		echo \$(( (\$(date +%s%N) - start) / 1000000 )) >ms
		kill \$! 2>/dev/null" &&
	grep -q "^250-mx.example Hello unknown \[127.0.0.99\]" out &&
	ms=$(cat ms) && echo "took $ms ms" &&
	[ "$ms" -ge 4500 ] && [ "$ms" -le 8000 ]
'

test_done
