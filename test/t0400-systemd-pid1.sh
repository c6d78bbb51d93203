#!/bin/bash
# The shipped units under a real systemd as PID 1: the Debian package is
# built and installed in a systemd-nspawn container (test/lib-nspawn.sh),
# smtpd.socket enabled, and real clients deliver from the container's own
# network into the Maildir of the dynamic user. Then what the units promise:
# the sandbox refuses a maildrop that writes elsewhere, MaxConnections= and
# MaxConnectionsPerSource= hold, a flood of connections leaves the socket
# listening (where systemd's default trigger limit closes it), failed
# sessions leave no failed units, RuntimeMaxSec= and MemoryMax= end a
# session with nothing delivered, and systemd-analyze security keeps its
# score. About 60 s after the one-time OS tree.
. "$(dirname "$0")/lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] && test_skip_all "real-server tests run in the plain make check"
test_have_prereq EXPENSIVE || test_skip_all "set SMTPD_TEST_EXPENSIVE=1"
. "$TEST_DIR/lib-nspawn.sh"
nspawn_require
for c in dpkg-buildpackage dh swaks; do
	command -v $c >/dev/null || test_skip_all "no $c"
done

FLOOD="python3 $TEST_DIR/bin/flood.py"
MD=/var/lib/private/smtpd/Maildir
FIGURES=$TRASH/figures
: >"$FIGURES"
figure() {
	echo "$*" >>"$FIGURES"
}

T0=$SECONDS
nspawn_build_deb "$TRASH/deb" >"$TRASH/deb.out" 2>&1
DEB=${NSPAWN_DEB:-}
T_BUILD=$((SECONDS - T0))
test_expect_success 'the Debian package builds' '
	cat "$TRASH/deb.out" && [ -f "$DEB" ]
'
[ -f "$DEB" ] || test_done

# Memory limits need the memory controller (see lib-nspawn.sh).
NSPAWN_MEMORY=1 nspawn_boot >"$TRASH/boot.out" 2>&1
BOOTED=$?
test_expect_success 'systemd boots as PID 1 in the container' '
	cat "$TRASH/boot.out" "$NSPAWN_LOG" && [ "$BOOTED" = 0 ] &&
	[ "$(ct cat /proc/1/comm)" = systemd ]
'
[ "$BOOTED" = 0 ] || test_done

# Messages in the Maildir, one name a line.
maildir_list() {
	ct sh -c "ls $MD/new 2>/dev/null" | sort
}
maildir_count() {
	maildir_list | grep -c .
}

# A message with a dot-stuffed line and a line that is only a dot.
make_message() {
	printf 'From: a@example.org\nTo: b@example.org\nSubject: %s\n\nline one\n.\n..two dots\nlast line\n' "$1" >"$2"
}

# check_new_mail BEFORE FILE ADDR: exactly one message came since the list
# BEFORE; it is FILE byte for byte after smtpd's Received: header, which
# names [ADDR]; it is the dynamic user's (the UID smtpd ran as, logged
# with its lines after CURSOR), mode 600.
check_new_mail() {
	local before=$1 file=$2 addr=$3 cursor=$4 new uid
	new=$(maildir_list | comm -13 "$before" -) &&
	[ "$(echo "$new" | grep -c .)" = 1 ] || fail "new messages: '$new'" || return 1
	ct cat "$MD/new/$new" >got &&
	tail -n +4 got | cmp - "$file" &&
	head -n 1 got | grep -q " \[$addr\])$" || fail "Received: $(head -n 1 got)" || return 1
	uid=$(SHOW=_UID ct_journal_since "$cursor" SYSLOG_IDENTIFIER=smtpd | sort -u) &&
	[ "$(echo "$uid" | grep -c .)" = 1 ] &&
	[ "$uid" -ge 61184 ] && [ "$uid" -le 65519 ] || fail "smtpd ran as '$uid'" || return 1
	! ct grep -q "^[^:]*:[^:]*:$uid:" /etc/passwd &&
	[ "$(ct stat -c "%u %a" "$MD/new/$new")" = "$uid 600" ] ||
		fail "owner and mode: $(ct stat -c "%u %a" "$MD/new/$new")"
}

# swaks_ct HOST ADDR: one delivery from the container's network, checked.
swaks_ct() {
	local host=$1 addr=$2 cursor
	cursor=$(ct_cursor) &&
	maildir_list >before &&
	make_message "swaks $host" msg &&
	ct_net swaks --server "$host" --port 25 --helo swaks.example \
		--from a@example.org --to b@example.org --data @msg \
		--timeout 20 >swaks.out 2>&1 || { cat swaks.out; return 1; }
	grep -q "<-  250-smtpd-test Hello localhost \[$addr\]" swaks.out &&
	grep -q "<-  250 2.0.0 Ok: message accepted" swaks.out ||
		{ cat swaks.out; return 1; }
	# swaks ends what it reads from a file with one more line end.
	{ cat msg; echo; } >expect &&
	ct_journal_wait "$cursor" "session peer=localhost \[$addr\] helo=.?swaks.example.? .*messages=1 end=quit" \
		SYSLOG_IDENTIFIER=smtpd >/dev/null &&
	check_new_mail before expect "$addr" "$cursor"
}

test_expect_success 'dpkg -i: the units are installed, nothing enabled, nothing listens' '
	nspawn_install_deb "$DEB" &&
	[ "$(ct systemctl is-enabled smtpd.socket)" = disabled ] &&
	! ct systemctl is-active smtpd.socket &&
	[ -z "$(ct_net ss -Hltn "sport = :25")" ] &&
	ct test -x /usr/sbin/smtpd && ct test -x /usr/bin/maildir-deliver &&
	ct grep -q "^	disable		= yes$" /etc/xinetd.d/smtpd
'

test_expect_success 'enabled, smtpd.socket listens on port 25 (IPv4 and IPv6)' '
	ct systemctl enable --now smtpd.socket &&
	[ "$(ct systemctl is-active smtpd.socket)" = active ] &&
	ct_net ss -Hltn "sport = :25" >ss.out && cat ss.out &&
	grep -q "\*:25 " ss.out
'

test_expect_success 'swaks over 127.0.0.1: into the Maildir, the dynamic user'"'"'s, mode 600' '
	swaks_ct 127.0.0.1 127.0.0.1
'

test_expect_success 'swaks over ::1' '
	swaks_ct ::1 ::1
'

test_expect_success 'Python smtplib over 127.0.0.1 and ::1: three recipients, then 5 MB' '
	for host in 127.0.0.1 ::1; do
		cursor=$(ct_cursor) && maildir_list >before &&
		make_message "smtplib $host" msg &&
		ct_net python3 "$TEST_DIR/bin/smtplib-client.py" $host 25 msg \
			s@example.org r1@example.org r2@example.org r3@example.org >py.out &&
		grep -q "greeting: 250-smtpd-test Hello localhost \[$host\]" py.out &&
		ct_journal_wait "$cursor" "recipients=3 .*reply=250" SYSLOG_IDENTIFIER=smtpd >/dev/null &&
		check_new_mail before msg $host "$cursor" || exit 1
	done &&
	python3 -c "
with open(\"big\", \"w\") as f:
    f.write(\"Subject: big\n\n\")
    for i in range(70000):
        f.write((\".\" if i % 5 == 0 else \"\") + \"%08d \" % i + \"z\" * 64 + \"\n\")
" && [ "$(wc -c <big)" -gt 5000000 ] &&
	cursor=$(ct_cursor) && maildir_list >before &&
	ct_net python3 "$TEST_DIR/bin/smtplib-client.py" ::1 25 big \
		s@example.org big@example.org >py.out &&
	ct_journal_wait "$cursor" "to=.?big@example.org.? .*reply=250" SYSLOG_IDENTIFIER=smtpd >/dev/null &&
	check_new_mail before big ::1 "$cursor"
'

test_expect_success 'smtpd'"'"'s log lines reach the journal with facility mail' '
	ct journalctl -b SYSLOG_FACILITY=2 SYSLOG_IDENTIFIER=smtpd -o cat >mail.log &&
	ct journalctl -b SYSLOG_FACILITY=2 SYSLOG_IDENTIFIER=smtpd -o verbose >mail.verbose &&
	grep -qE "^message from=.?a@example.org.? to=.?b@example.org.? recipients=1 size=[0-9]+ .*maildrop=exit-0 reply=250$" mail.log &&
	grep -qE "^session peer=localhost \[::1\] helo=.?swaks.example.? .*messages=1 end=quit$" mail.log &&
	grep -q "_TRANSPORT=syslog" mail.verbose &&
	[ "$(grep -c "^message from=" mail.log)" -ge 5 ]
'

test_expect_success 'a maildrop writing outside its paths: the sandbox refuses, 451, nothing stored' '
	cursor=$(ct_cursor) && n=$(maildir_count) &&
	ct_dropin smtpd@.service maildrop <<-\EOF &&
	[Service]
	ExecStart=
	ExecStart=/usr/sbin/smtpd -a example.org /usr/bin/maildir-deliver /var/mail/smtpd/Maildir
	EOF
	make_message sandbox msg &&
	{ ct_net swaks --server 127.0.0.1 --port 25 --from a@example.org \
		--to b@example.org --data @msg --timeout 20 >swaks.out 2>&1; true; } &&
	grep -q "^<\*\* 451 4.3.0 " swaks.out &&
	ct_journal_wait "$cursor" "maildrop said: .?mkdir: cannot create directory .*/var/mail/smtpd.*: Read-only file system" SYSLOG_IDENTIFIER=smtpd &&
	ct_journal_wait "$cursor" "maildrop=exit-75 reply=451" SYSLOG_IDENTIFIER=smtpd &&
	! ct test -e /var/mail/smtpd &&
	[ "$(maildir_count)" = "$n" ] &&
	ct_dropins_clear
'

test_expect_success 'MaxConnections=64: the 65th is dropped before any greeting; later ones served' '
	cursor=$(ct_cursor) &&
	spec=$(for i in 1 2 3 4 5 6 7 8; do printf "127.0.0.$i:8,"; done) &&
	ct_net $FLOOD hold 127.0.0.1 25 "${spec%,}" 127.0.0.9=out >hold.out; rc=$?
	cat hold.out && [ $rc = 0 ] &&
	ct_journal_wait "$cursor" "smtpd.socket: Too many incoming connections \(64\), dropping connection" &&
	echo "MaxConnections: $(tr "\n" " " <hold.out)" >>"$FIGURES"
'

test_expect_success 'MaxConnectionsPerSource=8: the 9th from one address is dropped, not another'"'"'s' '
	cursor=$(ct_cursor) &&
	ct_net $FLOOD hold 127.0.0.1 25 127.0.0.1:8 127.0.0.1=out,127.0.0.2=in >hold.out; rc=$?
	cat hold.out && [ $rc = 0 ] &&
	ct_journal_wait "$cursor" "Too many incoming connections \(9\) from source 127.0.0.1, dropping connection" &&
	echo "MaxConnectionsPerSource: $(tr "\n" " " <hold.out)" >>"$FIGURES"
'

# flood_figures CURSOR: what systemd did with the connections since CURSOR.
flood_figures() {
	ct_journal_since "$1" >journal.out
	printf "instances started %s, dropped over MaxConnections %s, over MaxConnectionsPerSource %s" \
		"$(grep -c "^Started smtpd@" journal.out)" \
		"$(grep -c "Too many incoming connections ([0-9]*), dropping" journal.out)" \
		"$(grep -c "Too many incoming connections ([0-9]*) from source" journal.out)"
}

# systemd's default for Accept=yes is 200 activations in 2 s; the control
# keeps the 200 but widens the window, so that a slow machine shows it too.
test_expect_success 'control: with systemd'"'"'s default trigger limit a flood closes the socket for good' '
	ct_dropin smtpd.socket triggerlimit <<-\EOF &&
	[Socket]
	TriggerLimitIntervalSec=30s
	TriggerLimitBurst=200
	EOF
	ct systemctl restart smtpd.socket && cursor=$(ct_cursor) &&
	ct_net $FLOOD flood 127.0.0.1 25 1000 >flood.out && cat flood.out &&
	ct_journal_wait "$cursor" "smtpd.socket: Trigger limit hit, refusing further activation" &&
	ct_journal_wait "$cursor" "smtpd.socket: Failed with result .trigger-limit-hit." &&
	[ "$(ct systemctl is-active smtpd.socket)" = failed ] &&
	{ ct_net $FLOOD probe 127.0.0.1 25 1 5 >probe.out; cat probe.out; } &&
	grep -q "^greeted=0 refused=[1-9]" probe.out &&
	echo "default trigger limit: flood $(cat flood.out); afterwards $(cat probe.out); $(flood_figures "$cursor")" >>"$FIGURES" &&
	ct_dropins_clear && ct systemctl reset-failed smtpd.socket &&
	ct systemctl start smtpd.socket
'

# flood_survived SOURCES: 1,000 connections opened and closed at once from
# SOURCES addresses; then the socket still listens, greets and delivers.
flood_survived() {
	local cursor
	cursor=$(ct_cursor) &&
	ct_net $FLOOD flood 127.0.0.1 25 1000 "$1" >flood.out && cat flood.out &&
	grep -q "^tried=1000 " flood.out &&
	ct_net $FLOOD probe 127.0.0.1 25 5 120 >probe.out && cat probe.out &&
	[ "$(ct systemctl is-active smtpd.socket)" = active ] &&
	swaks_ct 127.0.0.1 127.0.0.1 &&
	! ct_journal_since "$cursor" | grep -E "Trigger limit|trigger-limit-hit" &&
	echo "flood from $1 source(s): $(cat flood.out); afterwards $(cat probe.out), then a delivery; $(flood_figures "$cursor")" >>"$FIGURES"
}

test_expect_success 'the shipped socket survives 1,000 connections from one address' '
	flood_survived 1
'

test_expect_success 'the shipped socket survives 1,000 connections from 500 addresses' '
	flood_survived 500
'

# A session that ends with exit 75: more than ten bad commands.
bad_session() {
	ct_net python3 -c "
import socket
s = socket.create_connection((\"127.0.0.1\", 25), timeout=20)
f = s.makefile(\"rb\")
f.readline()
try:
    for i in range(30):
        s.sendall(b\"XYZZY\r\n\")
        if not f.readline():
            break
except OSError:
    pass
"
}

test_expect_success 'a session that fails leaves no failed unit behind (control: it would)' '
	ct_dropin smtpd@.service collect <<-\EOF &&
	[Unit]
	CollectMode=inactive
	EOF
	cursor=$(ct_cursor) && bad_session &&
	ct_journal_wait "$cursor" "smtpd@.*: Failed with result .exit-code." &&
	ct systemctl list-units --failed --plain --no-legend "smtpd@*" >failed.out &&
	grep -q "^smtpd@" failed.out &&
	ct systemctl reset-failed "smtpd@*" && ct_dropins_clear &&
	cursor=$(ct_cursor) && bad_session &&
	ct_journal_wait "$cursor" "smtpd@.*: Failed with result .exit-code." &&
	ct_journal_wait "$cursor" "end=too many errors" SYSLOG_IDENTIFIER=smtpd &&
	ct systemctl list-units --all --plain --no-legend "smtpd@*" >units.out &&
	! grep "^smtpd@.*failed" units.out
'

test_expect_success 'RuntimeMaxSec=3: a session trickling DATA is ended, nothing delivered' '
	ct_dropin smtpd@.service runtime <<-\EOF &&
	[Service]
	RuntimeMaxSec=3
	EOF
	cursor=$(ct_cursor) && n=$(maildir_count) &&
	ct_net $FLOOD trickle 127.0.0.1 25 15 >trickle.out && cat trickle.out &&
	grep -q "^data-started 354" trickle.out &&
	grep -q "^closed seconds=" trickle.out &&
	ct_journal_wait "$cursor" "smtpd@.*: Service reached runtime time limit. Stopping." &&
	ct_journal_wait "$cursor" "smtpd@.*: Failed with result .timeout." &&
	ct_journal_wait "$cursor" "session peer=.* end=terminated" SYSLOG_IDENTIFIER=smtpd &&
	[ "$(maildir_count)" = "$n" ] &&
	[ -z "$(ct ls $MD/tmp)" ] &&
	echo "RuntimeMaxSec=3: $(tr "\n" " " <trickle.out)" >>"$FIGURES" &&
	ct_dropins_clear
'

# Does MemoryMax= bite in this container? A unit that needs 64 MB under a
# 16 MB limit must be killed.
ct_put /dev/stdin /run/systemd/system/memcheck.service <<-\EOF
	[Service]
	Type=oneshot
	MemoryMax=16M
	ExecStart=/bin/sh -c 'x=$$(head -c 64000000 /dev/zero | tr -c a a); exit 0'
EOF
ct systemctl daemon-reload
if ct systemctl start memcheck.service 2>/dev/null; then
	MEMCG=NSPAWN_MEMORY_LIMITS
	figure "MemoryMax=: not enforced in this container, test skipped"
else
	MEMCG=
fi

# The spool is in the service's PrivateTmp, here a tmpfs (as /tmp is on many
# systems): the message's pages count against MemoryMax=.
test_expect_success $MEMCG 'MemoryMax=8M: a 9 MB message ends the session, nothing delivered' '
	ct_dropin smtpd@.service memory <<-\EOF &&
	[Service]
	MemoryMax=8M
	EOF
	cursor=$(ct_cursor) && n=$(maildir_count) &&
	ct_net $FLOOD trickle 127.0.0.1 25 0 9000000 >trickle.out && cat trickle.out &&
	grep -q "^data-started 354" trickle.out &&
	grep -q "^closed seconds=" trickle.out &&
	ct_journal_wait "$cursor" "smtpd@.*: Main process exited, code=killed, status=9/KILL" &&
	[ "$(maildir_count)" = "$n" ] &&
	echo "MemoryMax=8M, 9 MB message: $(tr "\n" " " <trickle.out)" >>"$FIGURES" &&
	ct_dropins_clear
'

test_expect_success $MEMCG 'control: the same message under the shipped MemoryMax=64M is delivered' '
	cursor=$(ct_cursor) && n=$(maildir_count) &&
	ct_net $FLOOD trickle 127.0.0.1 25 0 9000000 >trickle.out && cat trickle.out &&
	grep -q "^reply=250 " trickle.out &&
	[ "$(maildir_count)" = $((n + 1)) ]
'

test_expect_success 'systemd-analyze security: smtpd@.service exposure at most 1.1' '
	ct systemd-analyze security --no-pager smtpd@x.service >security.out 2>&1
	tail -n 1 security.out &&
	level=$(sed -n "s/.*Overall exposure level for smtpd@x.service: \([0-9.]*\) .*/\1/p" security.out) &&
	echo "systemd-analyze security (live): $level" >>"$FIGURES" &&
	awk -v l="$level" "BEGIN { exit !(l != \"\" && l <= 1.1) }"
'

T0=$SECONDS
nspawn_poweroff
T_OFF=$((SECONDS - T0))
echo "# build ${T_BUILD}s, waited ${NSPAWN_LOCK_SECONDS:-?}s for the lock, boot ${NSPAWN_BOOT_SECONDS:-?}s, power-off ${T_OFF}s, all ${SECONDS}s"
sed 's/^/# /' "$FIGURES"
test_done
