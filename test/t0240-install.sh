#!/bin/bash
# make install, as a packager runs it; the man page renders and is clean;
# the service files are what systemd and xinetd accept.
. "$(dirname "$0")/lib.sh"

test_expect_success 'make install DESTDIR=... PREFIX=/usr puts each file in place' '
	make -s -C "$SRC_DIR" install DESTDIR="$PWD/root" PREFIX=/usr >make.out 2>&1 &&
	(cd root && find . -type f -printf "%m %p\n" | sort) >actual &&
	cat >expect <<-\EOF &&
	644 ./etc/smtpd/mailfilter
	644 ./etc/smtpd/procmailrc
	644 ./etc/xinetd.d/smtpd
	644 ./etc/xinetd.d/smtps
	644 ./usr/lib/systemd/system/smtpd-tls.socket
	644 ./usr/lib/systemd/system/smtpd-tls@.service
	644 ./usr/lib/systemd/system/smtpd.socket
	644 ./usr/lib/systemd/system/smtpd@.service
	644 ./usr/lib/systemd/system/smtps.socket
	644 ./usr/lib/systemd/system/smtps@.service
	644 ./usr/share/man/man1/maildir-deliver.1
	644 ./usr/share/man/man8/smtpd.8
	755 ./usr/bin/maildir-deliver
	755 ./usr/sbin/smtpd
	EOF
	diff -u expect actual &&
	grep -qx "ExecStart=/usr/sbin/smtpd -a example.org /usr/bin/maildir-deliver /var/lib/smtpd/Maildir" \
		root/usr/lib/systemd/system/smtpd@.service &&
	grep -q "server		= /usr/sbin/smtpd" root/etc/xinetd.d/smtpd &&
	! grep -rq /usr/local root
'

test_expect_success 'the default PREFIX is /usr/local' '
	make -s -C "$SRC_DIR" install DESTDIR="$PWD/root" >make.out 2>&1 &&
	[ -x root/usr/local/sbin/smtpd ] &&
	[ -f root/usr/local/etc/xinetd.d/smtpd ] &&
	[ -f root/usr/local/lib/systemd/system/smtpd.socket ]
'

test_expect_success MANDOC 'mandoc -Tlint is clean' '
	mandoc -Tlint -W warning "$SRC_DIR"/man/*.[18] >lint 2>&1;
	[ ! -s lint ] || { cat lint; false; }
'

test_expect_success MAN 'man -l renders the installed page' '
	make -s -C "$SRC_DIR" install DESTDIR="$PWD/root" PREFIX=/usr >make.out 2>&1 &&
	MANWIDTH=80 man -l root/usr/share/man/man8/smtpd.8 2>err | col -b >page &&
	grep -q "^NAME" page && grep -qE "smtpd (-|--|–|—) small SMTP receiver" page &&
	grep -q "SECURITY CONSIDERATIONS" page
'

# The usage line smtpd prints is the list of its options; the man page
# must describe each, in its option list (the first list of DESCRIPTION)
# and its synopsis, and no other.
test_expect_success 'the man page lists exactly the options of the usage line' '
	{ "$SMTPD" 2>usage; [ $? = 64 ]; } &&
	sed -n "s/.*usage: smtpd //p" usage >line &&
	[ -s line ] &&
	{ grep -o "\[-[A-Za-z]*\]" line | tr -d "[]-" | fold -w1;
	  grep -o "\[-[a-z] [a-z]*\]" line | cut -c3; } | sort >from-usage &&
	sed -n "/^\.Sh DESCRIPTION/,/^\.El/p" "$SRC_DIR/man/smtpd.8" |
		sed -n "s/^\.It Fl \([A-Za-z]\)\( .*\)\{0,1\}$/\1/p" |
		sort -u >from-man &&
	diff -u from-usage from-man &&
	sed -n "/^\.Sh SYNOPSIS/,/^\.Sh/p" "$SRC_DIR/man/smtpd.8" >synopsis &&
	for opt in $(cat from-usage); do
		grep -q "Fl [A-Za-z]*$opt" synopsis || fail "synopsis lacks -$opt"
	done
'

test_expect_success SYSTEMD_ANALYZE 'systemd-analyze verify accepts the units' '
	make -s -C "$SRC_DIR" install DESTDIR="$PWD/root" PREFIX=/usr >make.out 2>&1 &&
	mkdir units &&
	cp root/usr/lib/systemd/system/smtpd.socket units/ &&
	sed "s,/usr/sbin/smtpd,$SMTPD,; s,/usr/bin/maildir-deliver,$SRC_DIR/etc/maildir-deliver," \
		root/usr/lib/systemd/system/smtpd@.service >units/smtpd@.service &&
	(cd units && systemd-analyze verify --man=no smtpd.socket smtpd@.service) >verify 2>&1 ||
		{ cat verify; false; } &&
	systemd-analyze security --offline=true units/smtpd@.service 2>&1 |
		grep "Overall exposure level" >score &&
	cat score &&
	grep -qE "level for smtpd@.*: [0-1]\.[0-9] " score
'

# xinetd -d cannot log here (no syslog), so it runs plainly with -filelog
# on a free loopback port for 3 s; its log must say the one service started
# and hold no ERROR (a bad attribute disables the service and is logged).
test_expect_success XINETD 'xinetd reads the shipped service file and starts it' '
	make -s -C "$SRC_DIR" install DESTDIR="$PWD/root" PREFIX=/usr >make.out 2>&1 &&
	port=$(python3 -c "import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])") &&
	printf "defaults\n{\n\tlog_type = FILE %s/service.log\n}\n" "$PWD" >xinetd.conf &&
	sed -e "s,^\tdisable\t\t= no,\tdisable\t\t= no\n\tport = $port\n\tbind = 127.0.0.1\n\ttype = UNLISTED," \
		-e "s,/usr/sbin/smtpd,$PWD/root/usr/sbin/smtpd," \
		-e "s,/usr/bin/maildir-deliver,$PWD/root/usr/bin/maildir-deliver," \
		root/etc/xinetd.d/smtpd >>xinetd.conf &&
	{ timeout 3 xinetd -dontfork -filelog "$PWD/xinetd.log" -f xinetd.conf \
		-pidfile "$PWD/pid"; [ $? = 124 ]; } &&
	cat xinetd.log &&
	grep -q "Started working: 1 available service" xinetd.log &&
	! grep -q ERROR xinetd.log
'

test_done
