#!/bin/bash
# The msmtp maildrop line (t0305) in the shipped unit, under a real
# systemd as PID 1 (test/lib-nspawn.sh): smtpd.socket and smtpd@.service
# as shipped, smtpd and msmtp installed in the container, and a drop-in
# whose ExecStart= is the exact line the unit's comment gives, with
# systemd's escapes (%% and $$). Postfix (this host's, with the test's
# private configuration) and its sinks run in the container's network
# namespace, so the 127.0.0.1:10025 of the line is theirs. Real clients
# deliver from that network; the sandbox (DynamicUser=, NoNewPrivileges=,
# ProtectSystem=strict ...) stays as shipped. About 15 s, once the
# packages are downloaded and the OS tree is made.
. "$(dirname "$0")/lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] &&
	test_skip_all "real-server tests run in the plain make check"
test_have_prereq EXPENSIVE || test_skip_all "set SMTPD_TEST_EXPENSIVE=1"
command -v postfix >/dev/null && command -v swaks >/dev/null ||
	test_skip_all "needs postfix and swaks"
. "$TEST_DIR/lib-nspawn.sh"
. "$TEST_DIR/lib-mta.sh"
trap 'mta_cleanup; nspawn_poweroff; rm -rf "$TRASH"' EXIT
nspawn_require

# msmtp and what it needs beyond the container's minbase.
MSMTP_DEBS="msmtp libgsasl18 libsecret-1-0 libsecret-common libglib2.0-0
	libgssglue1 libidn12 libntlm0 ucf sensible-utils"
mta_fetch_debs msmtp-debs $MSMTP_DEBS ||
	test_skip_all "cannot download msmtp's packages (apt-get download)"

# The line for the unit, as its comment gives it (the container has smtpd
# in /usr/sbin, as nspawn_install_units makes the units say).
EXEC_START='ExecStart=/usr/local/sbin/smtpd -a example.org /bin/sh -c '"'"'msmtp --file=/dev/null --host=127.0.0.1 --port=10025 --remove-bcc-headers=off --set-from-header=off --set-date-header=off --set-msgid-header=off -f "$$0" -- "$$@"; s=$$?; [ $$s = 69 ] && s=75; exit $$s'"'"' %%F %%T'

nspawn_boot >"$TRASH/boot.out" 2>&1
BOOTED=$?
test_expect_success 'systemd boots as PID 1 in the container' '
	cat "$TRASH/boot.out" "$NSPAWN_LOG" && [ "$BOOTED" = 0 ] &&
	[ "$(ct cat /proc/1/comm)" = systemd ]
'
[ "$BOOTED" = 0 ] || test_done

# Installs smtpd, msmtp and the units in the container, with the line in
# a drop-in; starts the sinks and Postfix in the container's network.
setup() {
	local d i
	ct_put "$SMTPD" /usr/sbin/smtpd 755 &&
	ct mkdir -p /var/tmp/debs || return 1
	for d in "$MTA_CACHE"/msmtp-debs/*.deb; do
		ct_put "$d" "/var/tmp/debs/${d##*/}" || return 1
	done
	ct env DEBIAN_FRONTEND=noninteractive sh -c "dpkg -i /var/tmp/debs/*.deb" &&
	ct rm -rf /var/tmp/debs &&
	nspawn_install_units "$SRC_DIR/etc/systemd/smtpd.socket" \
		"$SRC_DIR/etc/systemd/smtpd@.service" &&
	printf "[Service]\nExecStart=\n%s\n" "$EXEC_START" |
		sed "s,/usr/local/sbin/,/usr/sbin/," | ct_dropin smtpd@.service msmtp &&
	ct systemctl start smtpd.socket &&
	start_sink accepted && start_sink relay && start_sink notices &&
	postfix_setup \
		"local_recipient_maps = inline:{alice=ok, bob=ok}" \
		"smtpd_recipient_restrictions = check_recipient_access inline:{{later@example.org=450 4.2.0 try again later}}" &&
	postfix_listen 10025 smtpd_relay_restrictions=reject_unauth_destination \
		local_header_rewrite_clients= &&
	postfix_start || return 1
	for i in $(seq 100); do
		ct_net ss -Hltn "sport = :10025" | grep -q . && break
		sleep 0.1
	done
	ct_net ss -Hltn "sport = :10025" | grep -q . &&
	ct_net ss -Hltn "sport = :25" | grep -q .
}
# A command, not a function: $! must be the sink itself.
MTA_IN="nsenter -t $NSPAWN_INIT -n --"
setup >"$TRASH/setup.out" 2>&1
SET_UP=$?
test_expect_success 'smtpd, msmtp and the units are installed; Postfix listens on 10025' '
	cat "$TRASH/setup.out" && [ "$SET_UP" = 0 ]
'
[ "$SET_UP" = 0 ] || test_done

make_msg() {
	printf "From: s@notices.test\nTo: alice@example.org\nSubject: %s\nDate: Thu, 03 Dec 2026 00:00:00 +0000\nMessage-ID: <%s@client.example>\n\n.\n..two dots\nline\n" "$1" "$1" >"$2"
}

# swaks_to RCPT...: the message in msg from s@notices.test, the
# dialogue in swaks.out.
swaks_to() {
	local to
	to=$(IFS=,; echo "$*")
	ct_net swaks --server 127.0.0.1 --port 25 --helo swaks.example \
		--from s@notices.test --to "$to" --data @msg --timeout 30 \
		>swaks.out 2>&1
	true
}

test_expect_success 'the sandboxed unit hands a message to Postfix through msmtp, byte for byte' '
	cursor=$(ct_cursor) &&
	make_msg unit msg &&
	{ ct_net python3 "$TEST_DIR/bin/smtplib-client.py" 127.0.0.1 25 msg \
		s@notices.test alice@example.org bob@example.org ||
		{ ct_journal_since "$cursor"; false; }; } &&
	postfix_flush &&
	m=$(sink_find accepted "Subject: unit") &&
	[ -n "$m" ] &&
	[ "$(sink_sender accepted $m)" = s@notices.test ] &&
	printf "alice@example.org\nbob@example.org\n" >expect &&
	sink_rcpts accepted $m | sort >actual &&
	diff -u expect actual &&
	strip_received "$(sink_dir accepted)/$m.msg" | cmp - msg &&
	ct_journal_wait "$cursor" "maildrop=exit-0 reply=250" SYSLOG_IDENTIFIER=smtpd
'

test_expect_success 'Postfix 450: msmtp exits 69, the line makes it 75, 451' '
	cursor=$(ct_cursor) &&
	before=$(sink_count accepted) &&
	make_msg later msg &&
	swaks_to later@example.org &&
	{ grep -q "^<\*\* 451 4.3.0 " swaks.out || { cat swaks.out; false; }; } &&
	ct_journal_wait "$cursor" "maildrop said: .*450 4.2.0" SYSLOG_IDENTIFIER=smtpd &&
	ct_journal_wait "$cursor" "maildrop=exit-75 reply=451" SYSLOG_IDENTIFIER=smtpd &&
	postfix_flush &&
	[ "$(sink_count accepted)" = "$before" ]
'

test_expect_success 'Postfix 550: msmtp exits 65, 554' '
	cursor=$(ct_cursor) &&
	before=$(sink_count accepted) &&
	make_msg unknown msg &&
	swaks_to carol@example.org &&
	{ grep -q "^<\*\* 554 5.6.0 " swaks.out || { cat swaks.out; false; }; } &&
	ct_journal_wait "$cursor" "maildrop=exit-65 reply=554" SYSLOG_IDENTIFIER=smtpd &&
	postfix_flush &&
	[ "$(sink_count accepted)" = "$before" ] &&
	[ "$(sink_count relay)" = 0 ]
'

test_expect_success 'the unit file'"'"'s comment gives exactly this line' '
	sed -n "s/^#[[:space:]]*//p" "$SRC_DIR/etc/systemd/smtpd@.service" |
		grep -qxF "$EXEC_START"
'

test_done
