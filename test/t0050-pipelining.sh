#!/bin/bash
# Pipelining (RFC 2920): a whole session in one write is answered in order;
# a client that waits for each reply is answered before smtpd reads on.
. "$(dirname "$0")/lib.sh"

test_expect_success 'a whole session with three messages in one write' '
	{ printf "EHLO c\r\n";
	  for i in 1 2 3; do
		printf "MAIL FROM:<s@x>\r\nRCPT TO:<r$i@y>\r\nRCPT TO:<-bad>\r\nDATA\r\nm$i\r\n.\r\n"
	  done;
	  printf "RSET\r\nQUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	expect_codes <<-\EOF &&
	220
	250-
	250-
	250-
	250-
	250-
	250-
	250-
	250
	250
	250
	553
	354
	250
	250
	250
	553
	354
	250
	250
	250
	553
	354
	250
	250
	221
	EOF
	expect_deliveries 3 &&
	expect_message 3 <<-\EOF
	m3
	EOF
'

test_expect_success 'commands written after the final dot in the same packet' '
	printf "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nMAIL FROM:<e@f>\r\nRCPT TO:<g@h>\r\nDATA\r\ny\r\n.\r\nQUIT\r\n" >in &&
	raw_session -- "$RECORD" %F <in &&
	expect_deliveries 2 &&
	expect_argv 2 <<-\EOF
	e@f
	g@h
	EOF
'

test_expect_success 'a lock-step client gets each reply before it sends on' '
	cat >client.py <<-\EOF &&
	import os, subprocess, sys
	p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE,
	                     stdout=subprocess.PIPE, env=dict(os.environ,
	                     DROP_DIR=os.path.abspath("drops"),
	                     TCPREMOTEIP="192.0.2.1"))
	def reply():
	    lines = []
	    while True:
	        line = p.stdout.readline()
	        assert line.endswith(b"\r\n"), line
	        lines.append(line)
	        if line[3:4] == b" ":
	            return b"".join(lines)
	def send(cmd):
	    p.stdin.write(cmd + b"\r\n")
	    p.stdin.flush()
	    return reply()
	assert reply().startswith(b"220 ")
	assert send(b"EHLO c").endswith(b"250 HELP\r\n")
	assert send(b"MAIL FROM:<a@b>") == b"250 2.1.0 Sender ok\r\n"
	assert send(b"RCPT TO:<c@d>") == b"250 2.1.5 Recipient ok\r\n"
	assert send(b"DATA").startswith(b"354 ")
	assert send(b"hello\r\n.") == b"250 2.0.0 Ok: message accepted\r\n"
	assert send(b"QUIT").startswith(b"221 ")
	assert p.wait(timeout=10) == 0
	print("lock-step ok")
	EOF
	timeout 20 python3 client.py $SMTPD_WRAPPER "$SMTPD" $SMTPD_OPTS -- "$RECORD" >result &&
	grep -q "lock-step ok" result &&
	expect_deliveries 1
'

test_expect_success 'ninety-nine pipelined NOOPs get their replies, in order' '
	{ printf "HELO c\r\n"; for i in $(seq 99); do printf "NOOP %d\r\n" $i; done;
	  printf "QUIT\r\n"; } >in &&
	raw_session -- "$RECORD" <in &&
	[ "$(grep -c "^250 2.0.0 Ok" out)" = 99 ] &&
	tail -n 1 out | grep -q "^221 " &&
	expect_status 0
'

test_done
