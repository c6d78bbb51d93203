#!/bin/bash
# -p: the PROXY protocol header (HAProxy's doc/proxy-protocol.txt, v1 and
# v2) comes first; its source address becomes the peer (smtpd(8), "Behind a
# load balancer"). Headers are built by test/bin/proxy-header.py and piped
# in ahead of the client's dialogue. A valid one gives the exact greeting
# and Received: line; every broken one gives no banner at all, exit 75 and
# no delivery; smtpd reads the header and not one octet past it.
. "$(dirname "$0")/lib.sh"

PH=$TEST_DIR/bin/proxy-header.py
# The address of the connection itself ($TCPREMOTEIP in raw_session): what
# a LOCAL or UNKNOWN header leaves as the peer.
OWN=192.0.2.1

# make_header ARGS...: what proxy-header.py ARGS writes. A v1 line is made
# here in the shell, the same way (the words joined by single spaces, then
# CR LF or what --end says), which spares a Python start per test.
make_header() {
	if [ "$1" != v1 ]; then
		python3 "$PH" "$@"
		return
	fi
	shift
	local end=$'\r\n' IFS=' '
	if [ "${1-}" = --end ]; then
		case $2 in
		crlf) end=$'\r\n' ;;
		lf) end=$'\n' ;;
		cr) end=$'\r' ;;
		none) end= ;;
		*) return 1 ;;
		esac
		shift 2
	fi
	printf 'PROXY %s%s' "$*" "$end"
}

# The client's side after the header: one message, then QUIT.
dialogue() {
	printf 'EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nSubject: p\r\n\r\nvia a proxy\r\n.\r\nQUIT\r\n'
}

# proxy_session HEADER-ARGS...: proxy-header.py's header, then the
# dialogue, to smtpd -p; the replies in ./out, the exit status in ./status.
proxy_session() {
	make_header "$@" >hdr || return 1
	{ cat hdr; dialogue; } >in &&
	raw_session -p -- "$RECORD" %F %T <in
}

# accepted ADDR [PROTO]: the banner, then the greeting names [ADDR]; one
# delivery whose Received: names [ADDR] and PROTO (default ESMTP); exit 0.
accepted() {
	local addr=$1 proto=${2:-ESMTP}
	sed -n 1,2p out | tr -d '\r' >greeting &&
	printf '%s\n' "220 mx.example ESMTP smtpd" \
		"250-mx.example Hello unknown [$addr]" | diff -u - greeting &&
	grep -q "^250 2.0.0 " out &&
	expect_status 0 &&
	expect_deliveries 1 &&
	echo "Received: from client.example (unknown [$addr])" |
		diff -u - <(sed -n 1p drops/1.msg) || return 1
	sed -n 2p drops/1.msg | grep -q " with $proto;\$" ||
		fail "Received: not with $proto: $(sed -n 2p drops/1.msg)" || return 1
	printf 'Subject: p\n\nvia a proxy\n' | expect_message 1
}

# refused: not one octet written (no banner), exit 75, nothing delivered.
refused() {
	[ ! -s out ] || fail "smtpd wrote: $(head -c 200 out)" || return 1
	expect_status 75 &&
	expect_deliveries 0
}

# --- v1 ---------------------------------------------------------------

test_expect_success 'v1 TCP4: the source address is the peer' '
	proxy_session v1 TCP4 198.51.100.7 192.0.2.25 40000 25 &&
	accepted 198.51.100.7
'

test_expect_success 'v1 TCP6' '
	proxy_session v1 TCP6 2001:db8::7 2001:db8::25 40000 25 &&
	accepted 2001:db8::7
'

test_expect_success 'v1 TCP6 written in full groups of four digits' '
	proxy_session v1 TCP6 2001:0db8:0000:0000:0000:0000:0000:0007 \
		2001:0db8:0000:0000:0000:0000:0000:0025 40000 25 &&
	accepted 2001:db8::7
'

test_expect_success 'v1 TCP6 with an IPv4-mapped address: shown as IPv4' '
	proxy_session v1 TCP6 ::ffff:198.51.100.7 ::ffff:192.0.2.25 40000 25 &&
	accepted 198.51.100.7
'

test_expect_success 'v1 ports 0 and 65535 are in range' '
	proxy_session v1 TCP4 198.51.100.7 192.0.2.25 0 65535 &&
	accepted 198.51.100.7
'

test_expect_success 'v1 TCP4 with 255s and 0s, no leading zeros' '
	proxy_session v1 TCP4 255.255.255.255 0.0.0.0 1 2 &&
	accepted 255.255.255.255
'

test_expect_success 'v1 UNKNOWN: the connection'"'"'s own address' '
	proxy_session v1 UNKNOWN &&
	accepted $OWN
'

test_expect_success 'v1 UNKNOWN of 107 octets, the longest line: taken, rest ignored' '
	f=ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff &&
	proxy_session v1 UNKNOWN $f $f 65535 65535 &&
	[ "$(wc -c <hdr)" = 107 ] &&
	accepted $OWN
'

test_expect_success 'v1 UNKNOWN with anything before CR LF' '
	proxy_session v1 UNKNOWN whatever: it is ignored &&
	accepted $OWN
'

# --- v2 ---------------------------------------------------------------

test_expect_success 'v2 PROXY TCP over IPv4' '
	proxy_session v2 --src 198.51.100.7 --dst 192.0.2.25 &&
	[ "$(wc -c <hdr)" = 28 ] &&
	accepted 198.51.100.7
'

test_expect_success 'v2 PROXY TCP over IPv6' '
	proxy_session v2 --src 2001:db8::7 --dst 2001:db8::25 &&
	[ "$(wc -c <hdr)" = 52 ] &&
	accepted 2001:db8::7
'

test_expect_success 'v2 LOCAL (a health check): the connection'"'"'s own address' '
	proxy_session v2 --cmd local &&
	[ "$(wc -c <hdr)" = 16 ] &&
	accepted $OWN
'

test_expect_success 'v2 LOCAL with an address block: the block is skipped, not used' '
	proxy_session v2 --cmd local --src 198.51.100.7 &&
	accepted $OWN
'

# HAProxy's doc/proxy-protocol.txt 2.2: for LOCAL the receiver "must
# accept this connection as valid ... and discard the protocol block
# including the family which is ignored", and must skip what the length
# says without assuming anything about it.
test_expect_success 'v2 LOCAL with family TCP4 and no address block: accepted' '
	proxy_session v2 --cmd local --fam inet --proto stream &&
	[ "$(wc -c <hdr)" = 16 ] &&
	accepted $OWN
'

test_expect_success 'v2 LOCAL with a family byte that means nothing: accepted' '
	proxy_session v2 --cmd local --fam 4 --proto 3 --tail 0102 &&
	accepted $OWN
'

test_expect_success 'v2 PROXY over UDP/IPv4: the connection'"'"'s own address' '
	proxy_session v2 --proto dgram --src 198.51.100.7 &&
	accepted $OWN
'

test_expect_success 'v2 PROXY over UDP/IPv6: the connection'"'"'s own address' '
	proxy_session v2 --proto dgram --src 2001:db8::7 &&
	accepted $OWN
'

test_expect_success 'v2 PROXY from a unix stream socket: the connection'"'"'s own address' '
	proxy_session v2 --fam unix --src /run/client.sock --dst /run/smtpd.sock &&
	[ "$(wc -c <hdr)" = 232 ] &&
	accepted $OWN
'

test_expect_success 'v2 PROXY from a unix datagram socket' '
	proxy_session v2 --fam unix --proto dgram --src /a --dst /b &&
	accepted $OWN
'

test_expect_success 'v2 PROXY with family UNSPEC' '
	proxy_session v2 --fam unspec --proto unspec &&
	accepted $OWN
'

test_expect_success 'v2 TLVs are skipped: NOOP, AUTHORITY, UNIQUE_ID, ALPN, custom, CRC32C' '
	proxy_session v2 --src 198.51.100.7 --noop 0 --noop 7 \
		--authority mx.example --unique-id "$(printf "%0128d" 0)" \
		--tlv 0x01:736d7470 --tlv 0xe0:00ff0d0a --crc32c &&
	python3 "$PH" parse <hdr | grep -q "\"ok\": true" &&
	accepted 198.51.100.7
'

test_expect_success 'v2 TLVs after an IPv6 address block' '
	proxy_session v2 --src 2001:db8::7 --tlv 0x30:6e73 --noop 1 &&
	accepted 2001:db8::7
'

test_expect_success 'v2 PP2_TYPE_SSL with PP2_CLIENT_SSL: Received: says ESMTPS' '
	proxy_session v2 --src 198.51.100.7 --ssl 1 &&
	accepted 198.51.100.7 ESMTPS
'

test_expect_success 'v2 PP2_TYPE_SSL without the client bit: ESMTP' '
	proxy_session v2 --src 198.51.100.7 --ssl 0 &&
	accepted 198.51.100.7 ESMTP
'

test_expect_success 'v2 PP2_TYPE_SSL with only the certificate bits: ESMTP' '
	proxy_session v2 --src 198.51.100.7 --ssl 6 &&
	accepted 198.51.100.7 ESMTP
'

test_expect_success 'v2 PP2_TYPE_SSL with the client bit among other TLVs' '
	proxy_session v2 --src 2001:db8::7 --noop 3 --ssl 7:1 --authority x.example --crc32c &&
	accepted 2001:db8::7 ESMTPS
'

# -S needs a launcher convention: a pipe on descriptor 5 (tlswrapper -n) is
# enough to show what EHLO offers.
ehlo_lines() {
	make_header "$@" >hdr &&
	{ cat hdr; printf "EHLO client.example\r\nQUIT\r\n"; } >in &&
	raw_session -p -S -- "$RECORD" <in 5> >(cat >/dev/null) &&
	tr -d "\r" <out >ehlo
}

test_expect_success 'with -S and the client bit: STARTTLS is not offered' '
	ehlo_lines v2 --src 198.51.100.7 --ssl 1 &&
	grep -q "^250-mx.example Hello unknown \[198.51.100.7\]$" ehlo &&
	grep -q "^250[ -]PIPELINING$" ehlo &&
	! grep -q STARTTLS ehlo &&
	expect_status 0
'

test_expect_success 'with -S and the SSL TLV but no client bit: STARTTLS is offered' '
	ehlo_lines v2 --src 198.51.100.7 --ssl 0 &&
	grep -q "^250[ -]STARTTLS$" ehlo &&
	expect_status 0
'

# --- how it arrives ---------------------------------------------------

test_expect_success 'a v1 header written one octet at a time' '
	make_header v1 TCP4 198.51.100.7 192.0.2.25 40000 25 >hdr &&
	{ cat hdr; dialogue; } | python3 "$TEST_DIR/bin/dribble.py" 1 |
		raw_session -p -- "$RECORD" %F %T &&
	accepted 198.51.100.7
'

test_expect_success 'a v2 header with TLVs written one octet at a time' '
	make_header v2 --src 2001:db8::7 --ssl 1 --crc32c >hdr &&
	{ cat hdr; dialogue; } | python3 "$TEST_DIR/bin/dribble.py" 1 |
		raw_session -p -- "$RECORD" %F %T &&
	accepted 2001:db8::7 ESMTPS
'

test_expect_success 'a v2 header in pieces of 5, 11 and 1 octets' '
	make_header v2 --src 198.51.100.7 --noop 20 >hdr &&
	{ cat hdr; dialogue; } | python3 "$TEST_DIR/bin/dribble.py" 5 11 1 |
		raw_session -p -- "$RECORD" %F %T &&
	accepted 198.51.100.7
'

# One write(2) into a pipe holding the header and the client's first
# command: if smtpd read past the header and dropped the rest, EHLO would
# go unanswered.
one_write() {
	make_header "$@" >hdr &&
	python3 -c "
import os, sys
os.write(1, open(\"hdr\", \"rb\").read() + b\"EHLO client.example\r\nQUIT\r\n\")
" | raw_session -p -- "$RECORD" &&
	tr -d "\r" <out >replies
}

test_expect_success 'v1 header and EHLO in one write: EHLO is answered' '
	one_write v1 TCP4 198.51.100.7 192.0.2.25 40000 25 &&
	sed -n 2p replies | grep -q "^250-mx.example Hello unknown \[198.51.100.7\]$" &&
	tail -n 1 replies | grep -q "^221 " &&
	expect_status 0
'

test_expect_success 'v2 header and EHLO in one write: EHLO is answered' '
	one_write v2 --src 2001:db8::7 --noop 4 &&
	sed -n 2p replies | grep -q "^250-mx.example Hello unknown \[2001:db8::7\]$" &&
	tail -n 1 replies | grep -q "^221 " &&
	expect_status 0
'

# strace shows every read(2): before smtpd writes its banner, the octets it
# has read from the client are exactly the header's, not one more. (Under
# ASan, without its leak check, which cannot run under ptrace.)
reads_before_banner() {
	make_header "$@" >hdr &&
	python3 -c "
import os
os.write(1, open(\"hdr\", \"rb\").read() + b\"EHLO client.example\r\nQUIT\r\n\")
" | DROP_DIR=$PWD/drops TCPREMOTEIP=$OWN \
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -qq -o trace -e trace=read,recvfrom,recvmsg,write,writev,sendto,sendmsg \
		"$SMTPD" $SMTPD_OPTS -p -- "$RECORD" >out 2>&1 &&
	perl -ne '
		last if /^(?:write|writev|sendto|sendmsg)\(1,/;
		$n += $1 if /^(?:read|recvfrom|recvmsg)\(0,.*= (\d+)$/;
		END { print $n + 0, "\n" }' trace >read &&
	[ "$(cat read)" = "$(wc -c <hdr)" ] ||
		fail "read $(cat read) octets before the banner; the header has $(wc -c <hdr)"
}

test_expect_success STRACE 'v1: smtpd reads the header and not one octet more' '
	reads_before_banner v1 TCP4 198.51.100.7 192.0.2.25 40000 25 &&
	grep -q "^250-mx.example Hello unknown \[198.51.100.7\]" out
'

test_expect_success STRACE 'v2 with TLVs: the header and not one octet more' '
	reads_before_banner v2 --src 198.51.100.7 --noop 9 --ssl 1 &&
	grep -q "^250-mx.example Hello unknown \[198.51.100.7\]" out
'

test_expect_success STRACE 'v1 UNKNOWN: the header and not one octet more' '
	reads_before_banner v1 UNKNOWN &&
	grep -q "^250-mx.example Hello unknown \[$OWN\]" out
'

# --- refused ----------------------------------------------------------

# bad TITLE HEADER-ARGS...: the header proxy-header.py builds from ARGS
# (made here, so that empty and odd arguments stay as they are) is refused.
bad() {
	local title=$1 file=$TRASH/bad.$((test_count + 1))
	shift
	make_header "$@" >"$file" || echo "proxy-header.py failed" >"$file.err"
	test_expect_success "refused: $title" "
		[ ! -e '$file.err' ] &&
		{ cat '$file'; dialogue; } >in &&
		raw_session -p -- \"\$RECORD\" <in &&
		refused
	"
}

# bad_raw TITLE FORMAT: the same with a header that printf makes.
bad_raw() {
	local title=$1 file=$TRASH/bad.$((test_count + 1))
	printf "$2" >"$file"
	test_expect_success "refused: $title" "
		{ cat '$file'; dialogue; } >in &&
		raw_session -p -- \"\$RECORD\" <in &&
		refused
	"
}

# bad_eof TITLE HEADER-ARGS...: the header alone, then the end of input.
bad_eof() {
	local title=$1 file=$TRASH/bad.$((test_count + 1))
	shift
	make_header "$@" >"$file" || echo "proxy-header.py failed" >"$file.err"
	test_expect_success "refused: $title" "
		[ ! -e '$file.err' ] &&
		raw_session -p -- \"\$RECORD\" <'$file' &&
		refused
	"
}

# bad_eof_raw TITLE FORMAT: printf's header alone, then the end of input.
bad_eof_raw() {
	local title=$1 file=$TRASH/bad.$((test_count + 1))
	printf "$2" >"$file"
	test_expect_success "refused: $title" "
		raw_session -p -- \"\$RECORD\" <'$file' &&
		refused
	"
}

# v2
bad 'v2 signature with one octet changed' v2 --sig 0d0a0d0a000d0a515549540b --src 198.51.100.7
bad_eof 'v2 signature cut short, then EOF' v2 --src 198.51.100.7 --cut 10
bad_eof 'v2 fixed part cut short, then EOF' v2 --src 198.51.100.7 --cut 15
bad 'v2 version 1' v2 --ver 1 --src 198.51.100.7
bad 'v2 version 3' v2 --ver 3 --src 198.51.100.7
bad 'v2 command 2' v2 --cmd 2 --src 198.51.100.7
bad 'v2 command 15' v2 --cmd 15 --src 198.51.100.7
bad 'v2 family 4' v2 --fam 4 --proto stream --addr-hex c6336407c00002199c400019
bad 'v2 family 15' v2 --fam 15 --proto stream
bad 'v2 transport protocol 3' v2 --proto 3 --src 198.51.100.7
bad 'v2 IPv4 with an address block of 8 octets' v2 --fam inet --addr-hex c6336407c0000219
bad 'v2 IPv6 with an address block of 12 octets' v2 --fam inet6 --addr-hex 20010db8000000000000000000000007
bad 'v2 TLV that runs past the header' v2 --src 198.51.100.7 --tail 200010414243
bad 'v2 TLV whose length runs past by one' v2 --src 198.51.100.7 --noop 2 --tail 04000200
bad 'v2 two octets that are no TLV' v2 --src 198.51.100.7 --tail 0400
bad_eof 'v2 length past what arrives, then EOF' v2 --src 198.51.100.7 --len 100
bad_eof 'v2 length 65535, then EOF' v2 --src 2001:db8::7 --len 65535
bad_eof 'v2 address block cut short, then EOF' v2 --src 2001:db8::7 --cut 30

# v1
test_expect_success 'refused: no header, the client'"'"'s EHLO first' '
	dialogue >in &&
	raw_session -p -- "$RECORD" <in &&
	refused
'
test_expect_success 'refused: nothing at all, then EOF' '
	raw_session -p -- "$RECORD" </dev/null &&
	refused
'
bad_eof 'v1 cut short, then EOF' v1 --end none TCP4 198.51
bad_eof 'v1 "PROXY " and EOF' v1 --end none ""
bad_raw 'v1 "PROXY" alone' 'PROXY\r\n'
bad_eof_raw 'v1 "PROXY" and EOF' 'PROXY'
bad_eof_raw 'v1 "PROX" and EOF' 'PROX'
bad 'v1 line with a bare LF' v1 --end lf TCP4 198.51.100.7 192.0.2.25 40000 25
bad 'v1 line with a bare CR, then more' v1 --end cr TCP4 198.51.100.7 192.0.2.25 40000 25
bad 'v1 UNKNOWN with a bare LF' v1 --end lf UNKNOWN
bad 'v1 of 108 octets' v1 UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655350
bad 'v1 with no LF in 1,000 octets' v1 --end none "UNKNOWN $(printf '%01000d' 0)"
bad_raw 'v1 in lower case' 'proxy TCP4 198.51.100.7 192.0.2.25 40000 25\r\n'
bad_raw 'v1 a NUL in the line' 'PROXY TCP4 198.51.100.7 192.0.2.25 40000 25\000\r\n'
bad_raw 'v1 a CR in the line' 'PROXY TCP4 198.51.100.7 192.0.2.25\r40000 25\r\n'
bad 'v1 protocol TCP5' v1 TCP5 198.51.100.7 192.0.2.25 40000 25
bad 'v1 protocol tcp4' v1 tcp4 198.51.100.7 192.0.2.25 40000 25
bad 'v1 protocol UDP4' v1 UDP4 198.51.100.7 192.0.2.25 40000 25
bad 'v1 leading zero in the source address' v1 TCP4 198.051.100.7 192.0.2.25 40000 25
bad 'v1 leading zero in the last octet' v1 TCP4 198.51.100.07 192.0.2.25 40000 25
bad 'v1 leading zero in the destination' v1 TCP4 198.51.100.7 192.0.2.025 40000 25
bad 'v1 leading zero in the source port' v1 TCP4 198.51.100.7 192.0.2.25 040000 25
bad 'v1 leading zero in the destination port' v1 TCP4 198.51.100.7 192.0.2.25 40000 025
bad 'v1 port 00' v1 TCP4 198.51.100.7 192.0.2.25 00 25
bad 'v1 source port 65536' v1 TCP4 198.51.100.7 192.0.2.25 65536 25
bad 'v1 destination port 65536' v1 TCP4 198.51.100.7 192.0.2.25 40000 65536
bad 'v1 port of 20 digits' v1 TCP4 198.51.100.7 192.0.2.25 18446744073709551641 25
bad 'v1 negative port' v1 TCP4 198.51.100.7 192.0.2.25 -1 25
bad 'v1 port with a sign' v1 TCP4 198.51.100.7 192.0.2.25 +25 25
bad 'v1 octet 256' v1 TCP4 198.51.100.256 192.0.2.25 40000 25
bad 'v1 three octets' v1 TCP4 198.51.100 192.0.2.25 40000 25
bad 'v1 IPv6 address under TCP4' v1 TCP4 2001:db8::7 192.0.2.25 40000 25
bad 'v1 IPv4 address under TCP6' v1 TCP6 198.51.100.7 2001:db8::25 40000 25
bad 'v1 IPv6 destination under TCP4' v1 TCP4 198.51.100.7 2001:db8::25 40000 25
bad 'v1 bad IPv6 address' v1 TCP6 2001:db8:::7 2001:db8::25 40000 25
bad 'v1 IPv6 of nine groups' v1 TCP6 1:2:3:4:5:6:7:8:9 2001:db8::25 40000 25
bad 'v1 no destination port' v1 TCP4 198.51.100.7 192.0.2.25 40000
bad 'v1 a field too many' v1 TCP4 198.51.100.7 192.0.2.25 40000 25 26
bad 'v1 two spaces' v1 TCP4 198.51.100.7 "" 192.0.2.25 40000 25
bad 'v1 a space before CR LF' v1 TCP4 198.51.100.7 192.0.2.25 40000 "25 "
bad 'v1 a tab for a space' v1 "TCP4	198.51.100.7" 192.0.2.25 40000 25
bad 'v1 TCP4 and nothing else' v1 TCP4

# --- in time ----------------------------------------------------------

# slow_header SECONDS: a header that never completes. The writer sends
# one octet every SECONDS (0: the first 11 octets, then nothing) and stays
# until smtpd has gone or 30 s have passed; the time smtpd took in ./ms.
slow_header() {
	python3 -c "
import os, select, sys, time
step = float(sys.argv[1])
data = b\"PROXY TCP4 198.51.100.7 192.0.2.25 40000 \" + b\"1\" * 70
end = time.time() + 30
if step == 0:
    os.write(1, data[:11])
    p = select.poll()
    p.register(1, 0)
    while time.time() < end and not p.poll(100):
        pass
else:
    for i in range(len(data)):
        if time.time() > end:
            break
        try:
            os.write(1, data[i:i + 1])
        except BrokenPipeError:
            break
        time.sleep(step)
" "$1" | {
		start=$(date +%s%N)
		raw_session -p -- "$RECORD"
		echo $(( ($(date +%s%N) - start) / 1000000 )) >ms
	}
	echo "smtpd took $(cat ms) ms"
}

test_expect_success 'refused in time: a header that stops after 11 octets' '
	slow_header 0 &&
	[ "$(cat ms)" -lt 20000 ] &&
	refused
'

test_expect_success 'refused in time: an octet every 0.5 s (the whole header has a deadline)' '
	slow_header 0.5 &&
	[ "$(cat ms)" -lt 20000 ] &&
	refused
'

# --- the name ---------------------------------------------------------

# Without -R the name is looked up for the header's address, not the
# connection's: the real resolver, reading a private /etc/hosts.
test_expect_success NAMESPACE 'the name is looked up for the header'"'"'s address' '
	python3 "$TEST_DIR/bin/mkhosts.py" &&
	make_header v2 --src 127.0.0.2 >hdr &&
	{ cat hdr; printf "EHLO client.example\r\nQUIT\r\n"; } >in &&
	with_hosts hosts env TCPREMOTEIP=127.0.0.6 \
		$SMTPD_WRAPPER "$SMTPD" -p -n mx.example -- "$RECORD" <in >out 2>&1 &&
	sed -n 2p out | tr -d "\r" >hello &&
	echo "250-mx.example Hello good.example [127.0.0.2]" | diff -u - hello
'

# --- the log ----------------------------------------------------------

# logged HEADER-ARGS...: proxy_session with syslog caught (a private mount
# namespace whose /dev holds /dev/null and our /dev/log); the log in ./log.
logged() {
	make_header "$@" >hdr || return 1
	{ cat hdr; dialogue; } >in &&
	mkdir -p devdir && : >devdir/null && : >devdir/log &&
	python3 "$TEST_DIR/bin/logcatch.py" "$PWD/log.sock" log 30 &
	local catcher=$! i
	for i in $(seq 50); do [ -S log.sock ] && break; sleep 0.1; done
	unshare -m sh -c '
		mount --bind /dev/null devdir/null &&
		mount --bind log.sock devdir/log &&
		mount --rbind devdir /dev || exit 99
		env DROP_DIR="$PWD/drops" TCPREMOTEIP=192.0.2.1 "$@" <in >out 2>&1
		echo $? >status' sh $SMTPD_WRAPPER "$SMTPD" $SMTPD_OPTS -p -- "$RECORD"
	python3 -c "import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b\"STOP\", \"log.sock\")"
	wait $catcher
	grep "session peer=" log
}

test_expect_success NAMESPACE 'log: the peer from the header, tls=yes, and the proxy'"'"'s own address' '
	logged v2 --src 198.51.100.7 --ssl 1 &&
	grep -q "session peer=unknown \[198.51.100.7\] helo=\"client.example\" tls=yes proxy=$OWN messages=1 end=quit$" log
'

test_expect_success NAMESPACE 'log: a LOCAL header keeps the connection'"'"'s address' '
	logged v2 --cmd local &&
	grep -q "session peer=unknown \[$OWN\] helo=\"client.example\" tls=no proxy=local messages=1 end=quit$" log
'

# refused_log WHY HEADER-ARGS...: no banner, exit 75, and the session line
# says WHY.
refused_log() {
	local why=$1
	shift
	test_expect_success NAMESPACE "log says why: $why" "
		logged $* &&
		refused &&
		grep -q 'session peer=unknown \[$OWN\] helo=\"\" tls=no proxy=none messages=0 end=$why\$' log
	"
}
refused_log 'malformed PROXY v1 header' v1 TCP4 198.51.100.07 192.0.2.25 40000 25
refused_log 'malformed PROXY v2 header' v2 --ver 1 --src 198.51.100.7
refused_log 'PROXY v1 header longer than 107 octets' v1 --end none "UNKNOWN $(printf '%0200d' 0)"
refused_log 'PROXY v2 TLV runs past the header' v2 --src 198.51.100.7 --tail 200010414243
refused_log 'not a PROXY header' v2 --cut 0

test_expect_success NAMESPACE 'log says why: end of input in PROXY header' '
	dialogue() { :; } &&
	logged v2 --src 198.51.100.7 --len 40 &&
	refused &&
	grep -q "session peer=unknown \[$OWN\] helo=\"\" tls=no proxy=none messages=0 end=end of input in PROXY header$" log
'

# --- without -p -------------------------------------------------------

test_expect_success 'without -p a v1 header is an unknown command' '
	make_header v1 TCP4 198.51.100.7 192.0.2.25 40000 25 >hdr &&
	{ cat hdr; printf "EHLO client.example\r\nQUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	tr -d "\r" <out | sed -n 1,3p >replies &&
	printf "%s\n" "220 mx.example ESMTP smtpd" "500 5.5.1 Command unrecognized" \
		"250-mx.example Hello unknown [$OWN]" | diff -u - replies &&
	expect_status 0
'

test_expect_success 'without -p a v2 header is junk, and its "QUIT" line ends the session' '
	make_header v2 --src 198.51.100.7 >hdr &&
	{ cat hdr; printf "EHLO client.example\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	! grep -q "Hello" out &&
	! grep -q 198.51.100.7 out &&
	grep -q "^500 " out &&
	tail -n 1 out | grep -q "^221 " &&
	expect_deliveries 0
'

test_done
