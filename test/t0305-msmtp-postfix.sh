#!/bin/bash
# A maildrop line that works inside the shipped unit's sandbox
# (NoNewPrivileges=yes, DynamicUser=yes): Postfix's sendmail needs its
# setgid postdrop, which no_new_privs disarms. msmtp needs no privilege: it
# hands the message over SMTP to a second smtpd(8) of Postfix on
# 127.0.0.1:10025 (in this test's own network namespace), one that relays
# for nobody and leaves the headers alone:
#   127.0.0.1:10025 inet n - n - - smtpd
#     -o smtpd_relay_restrictions=reject_unauth_destination
#     -o local_header_rewrite_clients=
# msmtp's options keep the message as it is (by default it drops Bcc: and
# adds From:, Date: and Message-ID: where they are missing) and read no
# configuration file.
#
# msmtp's exit codes do not tell 4xx from 5xx: a 4xx reply to MAIL, RCPT
# or DATA and any refusal after the final dot all exit 69 (EX_UNAVAILABLE,
# which smtpd answers with 554), a 5xx to MAIL, RCPT or DATA exits 65. The
# line below turns 69 into 75, so that a temporary refusal stays temporary
# (a refusal after the final dot is then retried, never lost).
. "$(dirname "$0")/lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] &&
	test_skip_all "real-server tests run in the plain make check"
test_have_prereq NAMESPACE || test_skip_all "needs root and unshare -mn"
command -v postfix >/dev/null && command -v msmtp >/dev/null &&
	command -v setpriv >/dev/null ||
	test_skip_all "needs postfix, msmtp and setpriv"
. "$TEST_DIR/lib-mta.sh"
mta_private_world "$@" || { echo "Bail out! no private namespace"; exit 1; }

start_sink accepted && start_sink relay && start_sink notices &&
	postfix_setup \
		"local_recipient_maps = inline:{alice=ok, bob=ok}" \
		"smtpd_recipient_restrictions = check_recipient_access inline:{{later@example.org=450 4.2.0 try again later}}" &&
	postfix_listen 10025 smtpd_relay_restrictions=reject_unauth_destination \
		local_header_rewrite_clients= && postfix_start ||
	{ echo "Bail out! Postfix did not start"; exit 1; }

# The maildrop, as the unit would run it (there with %% and $$).
MSMTP='msmtp --file=/dev/null --host=127.0.0.1 --port=10025 --remove-bcc-headers=off --set-from-header=off --set-date-header=off --set-msgid-header=off'
MSMTP_DROP=(/bin/sh -c "$MSMTP"' -f "$0" -- "$@"; s=$?; [ $s = 69 ] && s=75; exit $s' %F %T)

# deliver FROM RCPT... < MESSAGE: one transaction through smtpd, with the
# maildrop in MAILDROP (an array); replies in out.
deliver() {
	local from=$1 r
	shift
	{
		printf 'EHLO client.example\nMAIL FROM:<%s>\n' "$from"
		for r in "$@"; do printf 'RCPT TO:<%s>\n' "$r"; done
		printf 'DATA\n'
		sed 's/^\./../'
		printf '.\nQUIT\n'
	} | session $SMTPD_ARGS "${MAILDROP[@]}"
}

# reply_after_data: the reply to the final dot (the line before 221).
reply_after_data() {
	tail -n 2 out | head -n 1 | tr -d '\r'
}

make_msg() {
	printf 'From: s@notices.test\nTo: alice@example.org, bob@example.org\nSubject: %s\nDate: Thu, 03 Dec 2026 00:00:00 +0000\nMessage-ID: <%s@client.example>\n\n.\n..two dots\nline\n' "$1" "$1"
}

MAILDROP=("${MSMTP_DROP[@]}")
SMTPD_ARGS="-a example.org"

test_expect_success 'smtpd -> msmtp -> Postfix -> example.org, byte for byte' '
	make_msg plain >msg &&
	deliver s@notices.test alice@example.org bob@example.org <msg &&
	[ "$(reply_after_data)" = "250 2.0.0 Ok: message accepted" ] &&
	postfix_flush &&
	m=$(sink_find accepted "Subject: plain") &&
	[ -n "$m" ] &&
	[ "$(sink_sender accepted $m)" = s@notices.test ] &&
	printf "alice@example.org\nbob@example.org\n" >expect &&
	sink_rcpts accepted $m | sort >actual &&
	diff -u expect actual &&
	sink_body accepted $m | cmp - msg
'

test_expect_success 'the null sender stays the null sender' '
	make_msg null >msg &&
	deliver "" alice@example.org <msg &&
	[ "$(reply_after_data)" = "250 2.0.0 Ok: message accepted" ] &&
	postfix_flush &&
	m=$(sink_find accepted "Subject: null") &&
	[ -n "$m" ] &&
	grep -qx "MAIL FROM:<> SIZE=[0-9]*" "$(sink_dir accepted)/$m.env" &&
	sink_body accepted $m | cmp - msg
'

test_expect_success 'Postfix 550 for an unknown user: msmtp exits 65, the client gets 554, nothing delivered' '
	make_msg unknown >msg &&
	before=$(sink_count accepted) &&
	deliver s@notices.test alice@example.org nobody@example.org <msg &&
	[ "$(reply_after_data)" = "554 5.6.0 Message refused by the maildrop" ] &&
	postfix_flush &&
	[ "$(sink_count accepted)" = "$before" ]
'

test_expect_success 'Postfix 450: msmtp exits 69, the line makes it 75, the client gets 451' '
	make_msg later >msg &&
	before=$(sink_count accepted) &&
	deliver s@notices.test later@example.org <msg &&
	reply_after_data | grep -q "^451 4\.3\.0 " &&
	postfix_flush &&
	[ "$(sink_count accepted)" = "$before" ]
'

test_expect_success 'msmtp alone would make that 450 a 554 (exit 69)' '
	make_msg later2 >msg &&
	MAILDROP=($MSMTP -f %F -- %T) &&
	deliver s@notices.test later@example.org <msg &&
	reply_after_data | grep -q "^554 5\.3\.0 "
'

test_expect_success 'nothing listening on the port: msmtp exits 75, 451' '
	make_msg down >msg &&
	MAILDROP=("${MSMTP_DROP[@]/--port=10025/--port=10026}") &&
	deliver s@notices.test alice@example.org <msg &&
	reply_after_data | grep -q "^451 4\.3\.0 "
'

test_expect_success 'without -a, that Postfix still relays nothing: 554 for each routing form' '
	SMTPD_ARGS= &&
	for r in victim@evil.test victim%evil.test@example.org \
		evil.test!victim@example.org; do
		make_msg "relay $r" >msg &&
		deliver s@notices.test "$r" <msg &&
		reply_after_data | grep -q "^554 5\.6\.0 " ||
			fail "$r: $(reply_after_data)"
	done &&
	postfix_flush &&
	[ "$(sink_count relay)" = 0 ] &&
	grep -q "Relay access denied" "$POSTFIX_DIR/maillog"
'

# The unit's sandbox, as far as it concerns the maildrop: an unprivileged
# user (DynamicUser=) and no_new_privs (NoNewPrivileges=). For sendmail
# to run as a user at all with this test's config_directory, Postfix's
# default main.cf must name it (alternate_config_directories): in this
# test's mount namespace, /etc/postfix is a copy that does.
as_sandboxed() {
	setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs "$@"
}
as_user() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}
cp -a /etc/postfix "$TRASH/etc-postfix" &&
	echo "alternate_config_directories = $POSTFIX_DIR/etc" >"$TRASH/etc-postfix/main.cf" &&
	mount --bind "$TRASH/etc-postfix" /etc/postfix

test_expect_success 'as a user, sendmail can hand a message to Postfix (setgid postdrop)' '
	make_msg user >msg &&
	MAILDROP=(/usr/sbin/sendmail -i -f %F -- %T) &&
	SMTPD_WRAPPER="as_user $SMTPD_WRAPPER" &&
	deliver s@notices.test alice@example.org <msg &&
	[ "$(reply_after_data)" = "250 2.0.0 Ok: message accepted" ] &&
	postfix_flush &&
	[ -n "$(sink_find accepted "Subject: user")" ]
'

# postdrop, without its group, cannot write to maildrop/ and retries every
# 10 s for as long as it is let: smtpd kills it after -m seconds.
test_expect_success 'with no_new_privs, sendmail cannot (451 after -m), msmtp can (250)' '
	make_msg nnp-sendmail >msg &&
	MAILDROP=(/usr/sbin/sendmail -i -f %F -- %T) &&
	SMTPD_WRAPPER="as_sandboxed $SMTPD_WRAPPER" &&
	SMTPD_ARGS="-a example.org -m 2" &&
	deliver s@notices.test alice@example.org <msg &&
	reply_after_data | grep -q "^451 4\.3\.0 " &&
	[ -z "$(find "$POSTFIX_DIR/spool/maildrop" -type f)" ] &&
	SMTPD_ARGS="-a example.org" &&
	make_msg nnp-msmtp >msg &&
	MAILDROP=("${MSMTP_DROP[@]}") &&
	deliver s@notices.test alice@example.org <msg &&
	[ "$(reply_after_data)" = "250 2.0.0 Ok: message accepted" ] &&
	postfix_flush &&
	[ -z "$(sink_find accepted "Subject: nnp-sendmail")" ] &&
	m=$(sink_find accepted "Subject: nnp-msmtp") &&
	[ -n "$m" ] &&
	sink_body accepted $m | cmp - msg
'

test_done
