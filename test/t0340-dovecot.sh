#!/bin/bash
# Dovecot's LDA as the maildrop, and the message read back over IMAP:
#   smtpd -r 1 -a example.org /usr/lib/dovecot/dovecot-lda -e -f %F -d %T
# (with -c and a configuration of the test's own). dovecot-lda delivers
# one message to one user: -d %T looks the recipient up in Dovecot's
# userdb (an unknown one exits 67: 550 5.1.1), so smtpd must hand it one
# recipient per message (-r 1; with two, "-d a b" is a usage error, 451
# for ever). -e makes a rejection (a full mailbox) an exit 77 (554)
# instead of a bounce that Dovecot would mail to the sender itself after
# smtpd had said 250. smtpd and dovecot-lda run as nobody; the userdb's
# users have nobody's uid (Dovecot's auth refuses a look-up of any other
# uid's user). Dovecot's master runs only for that look-up (auth-userdb,
# a unix socket in the scratch directory; no listener). Without -d,
# dovecot-lda delivers to the user it runs as, and -a %T only names the
# recipient for Sieve: still one per run. Dovecot 2.3 takes a UTF-8 sender
# and header under SMTPUTF8, but no UTF-8 recipient.
. "$(dirname "$0")/lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] &&
	test_skip_all "real-server tests run in the plain make check"
test_have_prereq ROOT || test_skip_all "needs root (smtpd runs as nobody)"
[ -x /usr/lib/dovecot/dovecot-lda ] && [ -x /usr/lib/dovecot/imap ] ||
	test_skip_all "no Dovecot (apt-get install dovecot-core dovecot-imapd)"
. "$TEST_DIR/bin/store-lib.sh"

# SMTPUTF8: the smtpd under test offers it.
eval "lib_$(declare -f test_have_prereq)"
test_have_prereq() {
	case $1 in
	SMTPUTF8) has_smtputf8 ;;
	*) lib_test_have_prereq "$1" ;;
	esac
}

D=$TRASH/dovecot
dovecot_config "$D"

# add_user NAME [UID [EXTRA]]: NAME@example.org in the userdb, its home
# $D/home/NAME owned by UID (default nobody's).
add_user() {
	local uid=${2:-65534}
	mkdir -p "$D/home/$1" && chown "$uid:$uid" "$D/home/$1" &&
	echo "$1@example.org::$uid:$uid::$D/home/$1::${3:-}" >>"$D/users"
}
for u in alice bob bert carl chris erin frank jörg; do
	add_user $u
done
# dora has another uid; dave's quota is 1 KB.
add_user dora 1000
add_user dave 65534 userdb_quota_rule=*:storage=1k
trap 'dovecot_stop; rm -rf "$TRASH"' EXIT
dovecot_start "$D" || { echo "Bail out! Dovecot's master did not start"; exit 1; }
CONF=$D/dovecot.conf
LDA="/usr/lib/dovecot/dovecot-lda -c $CONF -e -f %F -d %T"

# inbox NAME N: NAME's INBOX, read over IMAP into ./imap-NAME, holds N
# messages, and its Maildir the same N and nothing in tmp/.
inbox() {
	imap_read "imap-$1" "$CONF" "$1@example.org" "$D/home/$1" &&
	imap_count "imap-$1" "$2" &&
	if [ "$2" = 0 ]; then
		[ -z "$(maildir_files "$D/home/$1/Maildir")" ]
	else
		maildir_count "$D/home/$1/Maildir" "$2"
	fi
}

# Nothing at all under NAME's home: dovecot-lda never got as far.
untouched() {
	[ -z "$(ls -A "$D/home/$1")" ] || fail "$1's home: $(ls -A "$D/home/$1")"
}

test_expect_success 'a message reaches INBOX byte for byte, over IMAP and on disk' '
	store_message msg "t0340 ascii" &&
	smtp_dialogue msg sender@example.net alice@example.org &&
	store_session -r 1 -a example.org -- $LDA &&
	expect_data_reply "250 2\.0\.0 " &&
	inbox alice 1 &&
	check_stored imap-alice/1.eml msg crlf &&
	sed "1,/^\$/d; s/\$/\r/" msg | cmp - imap-alice/1.text &&
	check_stored "$(maildir_files "$D/home/alice/Maildir")" msg
'

test_expect_success 'with -r 1 a second recipient waits (452) for its own message' '
	store_message msg "t0340 two recipients" &&
	smtp_dialogue msg sender@example.net bob@example.org bert@example.org &&
	store_session -r 1 -a example.org -- $LDA &&
	grep -q "^250 2\.1\.5 " out && grep -q "^452 4\.5\.3 " out &&
	expect_data_reply "250 2\.0\.0 " &&
	inbox bob 1 && inbox bert 0 &&
	smtp_dialogue msg sender@example.net bert@example.org &&
	store_session -r 1 -a example.org -- $LDA &&
	expect_data_reply "250 2\.0\.0 " &&
	inbox bert 1 && check_stored imap-bert/1.eml msg crlf
'

test_expect_success 'without -r 1, two recipients make "-d a b": 451, nothing stored' '
	store_message msg "t0340 no -r 1" &&
	smtp_dialogue msg sender@example.net carl@example.org chris@example.org &&
	store_session -a example.org -- $LDA &&
	expect_data_reply "451 4\.3\.0 " &&
	untouched carl && untouched chris &&
	{ $AS_NOBODY /usr/lib/dovecot/dovecot-lda -c "$CONF" -e \
		-f sender@example.net -d carl@example.org chris@example.org \
		<msg 2>err; [ $? = 64 ]; } &&
	grep -q "Fatal: Unknown argument: chris@example.org" err
'

test_expect_success 'a user Dovecot does not know: 550 5.1.1 (exit 67), nothing stored' '
	store_message msg "t0340 unknown" &&
	for rcpt in nosuchuser@example.org root@example.org postmaster; do
		smtp_dialogue msg sender@example.net $rcpt &&
		store_session -r 1 -a example.org -- $LDA &&
		expect_data_reply "550 5\.1\.1 " || return 1
	done &&
	! grep -rl "t0340 unknown" "$D/home"
'

test_expect_success 'a user of another uid: Dovecot refuses the look-up, 451' '
	store_message msg "t0340 other uid" &&
	smtp_dialogue msg sender@example.net dora@example.org &&
	store_session -r 1 -a example.org -- $LDA &&
	expect_data_reply "451 4\.3\.0 " &&
	untouched dora &&
	grep -q "userdb uid (1000) doesn.t match peer uid (65534)" "$D/dovecot.log"
'

test_expect_success 'without -d: the mailbox of smtpd'"'"'s own user; -a %T is only a label' '
	mkdir home && chown 65534:65534 home &&
	store_message msg "t0340 no -d" &&
	smtp_dialogue msg sender@example.net anyone@example.org &&
	HOME=$PWD/home store_session -r 1 -a example.org -- \
		/usr/lib/dovecot/dovecot-lda -c "$CONF" -e -f %F -a %T &&
	expect_data_reply "250 2\.0\.0 " &&
	imap_read imap "$CONF" nobody "$PWD/home" && imap_count imap 1 &&
	check_stored imap/1.eml msg crlf &&
	smtp_dialogue msg sender@example.net anyone@example.org other@example.org &&
	HOME=$PWD/home store_session -a example.org -- \
		/usr/lib/dovecot/dovecot-lda -c "$CONF" -e -f %F -a %T &&
	expect_data_reply "451 4\.3\.0 " &&
	imap_read imap "$CONF" nobody "$PWD/home" && imap_count imap 1
'

# The fake sendmail Dovecot mails its bounces with (no -e).
printf '#!/bin/sh\nmkdir -p "$(dirname "$0")/bounces" && { echo "$*"; cat; } >"$(dirname "$0")/bounces/$$"\n' \
	>"$TRASH/sendmail" && chmod 755 "$TRASH/sendmail" && mkdir -m 777 "$TRASH/bounces"
# dave's quota is 1 KB: the first small message fits, a 3 KB one does not.
test_expect_success 'a full mailbox with -e: 554 5.7.1 (exit 77), nothing half-stored' '
	store_message small "t0340 fits" &&
	smtp_dialogue small sender@example.net dave@example.org &&
	store_session -r 1 -a example.org -- $LDA &&
	expect_data_reply "250 2\.0\.0 " &&
	{ store_message big "t0340 over quota" &&
	  for i in $(seq 40); do echo "line $i of a message over the quota ......................................"; done; } >>big &&
	[ $(wc -c <big) -gt 3000 ] &&
	smtp_dialogue big sender@example.net dave@example.org &&
	store_session -r 1 -a example.org -- $LDA &&
	expect_data_reply "554 5\.7\.1 " &&
	inbox dave 1 && check_stored imap-dave/1.eml small crlf
'

test_expect_success 'a full mailbox with quota_full_tempfail=yes: 451 (exit 75)' '
	store_message big "t0340 over quota, tempfail" &&
	for i in $(seq 40); do echo "line $i of a message over the quota ......................................"; done >>big &&
	smtp_dialogue big sender@example.net dave@example.org &&
	store_session -r 1 -a example.org -- /usr/lib/dovecot/dovecot-lda -c "$CONF" \
		-o quota_full_tempfail=yes -e -f %F -d %T &&
	expect_data_reply "451 4\.3\.0 " &&
	inbox dave 1
'

test_expect_success 'a full mailbox without -e: 250, and Dovecot mails a bounce itself' '
	store_message big "t0340 over quota, no -e" &&
	for i in $(seq 40); do echo "line $i of a message over the quota ......................................"; done >>big &&
	smtp_dialogue big sender@example.net dave@example.org &&
	store_session -r 1 -a example.org -- /usr/lib/dovecot/dovecot-lda -c "$CONF" \
		-o sendmail_path="$TRASH/sendmail" -f %F -d %T &&
	expect_data_reply "250 2\.0\.0 " &&
	inbox dave 1 &&
	[ "$(ls "$TRASH/bounces" | wc -l)" = 1 ] &&
	bounce=$(ls "$TRASH/bounces/"*) &&
	head -n 1 "$bounce" | grep -qx -- "-i -f <> -- sender@example.net" &&
	grep -q "^Subject: Rejected: t0340 over quota, no -e" "$bounce"
'

test_expect_success 'a Maildir nobody may write: 451 (exit 75), nothing stored' '
	mkdir -p "$D/home/erin/Maildir/new" "$D/home/erin/Maildir/cur" \
		"$D/home/erin/Maildir/tmp" &&
	chown -R root:root "$D/home/erin" && chmod -R 755 "$D/home/erin" &&
	store_message msg "t0340 unwritable" &&
	smtp_dialogue msg sender@example.net erin@example.org &&
	store_session -r 1 -a example.org -- $LDA &&
	expect_data_reply "451 4\.3\.0 " &&
	[ -z "$(find "$D/home/erin" -type f)" ]
'

# SMTPUTF8: Dovecot 2.3's LDA takes a UTF-8 sender, header and body, but
# no UTF-8 recipient: its auth refuses the name (auth_username_chars, so
# 550 5.1.1), and with that check off dovecot-lda itself cannot make an
# address of it (exit 64, so 451 for ever).
test_expect_success SMTPUTF8 'SMTPUTF8: a UTF-8 sender and header, byte for byte over IMAP' '
	printf "From: Jürgen <jürgen@example.net>\nTo: Frank <frank@example.org>\nSubject: Grüße aus Köln\n\nÄpfel, Öl, Übermut: ✓\n.\n" >msg &&
	MAIL_PARAMS=SMTPUTF8 smtp_dialogue msg jürgen@example.net frank@example.org &&
	store_session -r 1 -a example.org -- $LDA &&
	expect_data_reply "250 2\.0\.0 " &&
	inbox frank 1 &&
	check_stored imap-frank/1.eml msg crlf UTF8SMTP
'

test_expect_success SMTPUTF8 'SMTPUTF8: a UTF-8 recipient Dovecot'"'"'s userdb lists: 550 5.1.1' '
	printf "Subject: Grüße\n\nfür Jörg\n" >msg &&
	MAIL_PARAMS=SMTPUTF8 smtp_dialogue msg sender@example.net jörg@example.org &&
	store_session -r 1 -a example.org -- $LDA &&
	expect_data_reply "550 5\.1\.1 " &&
	untouched jörg
'

test_expect_success SMTPUTF8 'the same with auth_username_chars empty: 451 (dovecot-lda exit 64)' '
	d=$PWD/dovecot && mkdir "$d" && dovecot_config "$d" &&
	cp "$D/users" "$d/users" && echo "auth_username_chars =" >>"$d/dovecot.conf" &&
	dovecot_start "$d" &&
	{
		printf "Subject: Grüße\n\nfür Jörg\n" >msg &&
		MAIL_PARAMS=SMTPUTF8 smtp_dialogue msg sender@example.net jörg@example.org &&
		store_session -r 1 -a example.org -- /usr/lib/dovecot/dovecot-lda \
			-c "$d/dovecot.conf" -e -f %F -d %T &&
		expect_data_reply "451 4\.3\.0 " &&
		untouched jörg &&
		{ $AS_NOBODY /usr/lib/dovecot/dovecot-lda -c "$d/dovecot.conf" -e \
			-f sender@example.net -d jörg@example.org <msg; [ $? = 64 ]; } &&
		grep -q "Fatal: Cannot obtain SMTP address from username .jörg@example.org.: Invalid character in localpart" "$d/dovecot.log"
	}
	ret=$?
	dovecot_stop
	return $ret
'

test_done
