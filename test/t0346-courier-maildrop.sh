#!/bin/bash
# Courier's maildrop(1) behind smtpd (Debian's package maildrop: the same
# word as smtpd's "maildrop command", which is any program smtpd runs),
# with the filter file shipped in etc/mailfilter:
#   smtpd -a example.org /usr/bin/maildrop etc/mailfilter %F %T
# In manual mode (a filter file named) maildrop runs as smtpd's user, and
# every argument after the file's name is $1, $2, ...: never an option or
# a user. It reads the file only when that user owns it. smtpd runs as
# nobody.
#
# And the line the man page had, "smtpd -r 1 maildrop -f %F -d mailuser":
# Debian's maildrop is setgid mail, not setuid root, so unless smtpd runs
# as root each message gets 451; as root it delivers to mailuser only
# (the recipients are $1, ...), shown in a private mount namespace.
. "$(dirname "$0")/lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] &&
	test_skip_all "real-server tests run in the plain make check"
test_have_prereq ROOT || test_skip_all "needs root (smtpd runs as nobody)"
[ -x /usr/bin/maildrop ] && command -v maildirmake >/dev/null ||
	test_skip_all "no Courier maildrop (apt-get install maildrop)"
. "$TEST_DIR/bin/store-lib.sh"

FILTER=$SRC_DIR/etc/mailfilter
eval "lib_$(declare -f test_have_prereq)"
test_have_prereq() {
	case $1 in
	DOVECOT) [ -x /usr/lib/dovecot/imap ] ;;
	*) lib_test_have_prereq "$1" ;;
	esac
}
test_have_prereq DOVECOT && dovecot_config "$TRASH/dovecot"

# ./store: nobody's, with the Maildir (maildirmake) and the shipped filter
# naming it (the one line that names the Maildir is changed, no other).
store_dir() {
	mkdir store && chown 65534:65534 store &&
	$AS_NOBODY maildirmake "$PWD/store/Maildir" &&
	sed "s|^to \"/var/mail/smtpd/Maildir/\"\$|to \"$PWD/store/Maildir/\"|" \
		"$FILTER" >store/mailfilter &&
	[ "$(diff "$FILTER" store/mailfilter | grep -c "^>")" = 1 ] &&
	chown 65534:65534 store/mailfilter && chmod 600 store/mailfilter
}

# deliver RCPT...: ./msg from sender@example.net through smtpd and maildrop.
deliver() {
	smtp_dialogue msg sender@example.net "$@" &&
	store_session -a example.org -- /usr/bin/maildrop "$PWD/store/mailfilter" %F %T
}

maildir_store_tests "t0346 maildrop" DEFAULT

test_expect_success 'after the filter, "-d root" is only $2, $3' '
	store_dir && store_message msg "t0346 direct" &&
	sed "1i Received: by hand" msg >in.msg &&
	$AS_NOBODY /usr/bin/maildrop "$PWD/store/mailfilter" sender@example.net \
		-d root <in.msg &&
	maildir_count store/Maildir 1 &&
	cmp in.msg "$(maildir_files store/Maildir)"
'

test_expect_success 'ten ordinary recipients and the null sender: 250, one copy' '
	store_dir && store_message msg "t0346 ten" &&
	smtp_dialogue msg "" $(seq -f "user%g@example.org" 10) &&
	store_session -a example.org -- /usr/bin/maildrop "$PWD/store/mailfilter" %F %T &&
	[ "$(grep -c "^250 2\.1\.5 " out)" = 10 ] &&
	expect_data_reply "250 2\.0\.0 " &&
	maildir_count store/Maildir 1 &&
	check_stored "$(maildir_files store/Maildir)" msg
'

test_expect_success 'a filter file smtpd'"'"'s user does not own: 451 (exit 75), nothing stored' '
	store_dir && chown root:root store/mailfilter && chmod 644 store/mailfilter &&
	store_message msg "t0346 filter owned by root" &&
	deliver someone@example.org &&
	expect_data_reply "451 4\.3\.0 " &&
	maildir_count store/Maildir 0 &&
	{ $AS_NOBODY /usr/bin/maildrop "$PWD/store/mailfilter" a b <msg 2>err; [ $? = 75 ]; } &&
	grep -q "owned by the wrong user" err
'

test_expect_success 'a Maildir nobody may write: 451 (exit 75), nothing stored' '
	store_dir && chown -R root:root store/Maildir &&
	store_message msg "t0346 unwritable" &&
	deliver someone@example.org &&
	expect_data_reply "451 4\.3\.0 " &&
	maildir_count store/Maildir 0
'

test_expect_success 'no Maildir (no maildirmake): 451, nothing stored' '
	store_dir && rm -r store/Maildir &&
	store_message msg "t0346 no Maildir" &&
	deliver someone@example.org &&
	expect_data_reply "451 4\.3\.0 " &&
	[ "$(ls store)" = mailfilter ]
'

test_expect_success 'under no_new_privs (systemd NoNewPrivileges=yes) it delivers the same' '
	store_dir && store_message msg "t0346 no_new_privs" &&
	smtp_dialogue msg sender@example.net someone@example.org &&
	SMTPD_WRAPPER="$AS_NOBODY --no-new-privs" raw_session -a example.org -- \
		/usr/bin/maildrop "$PWD/store/mailfilter" %F %T <in &&
	expect_data_reply "250 2\.0\.0 " &&
	maildir_count store/Maildir 1
'

# The old man page line. As nobody: maildrop cannot become mailuser.
test_expect_success 'the old line, smtpd as nobody: 451 for every message, nothing stored' '
	ls -la /var/mail >varmail.before &&
	store_message msg "t0346 old line" &&
	smtp_dialogue msg sender@example.net someone@x.example &&
	store_session -r 1 /usr/bin/maildrop -f %F -d "$(id -un 1)" &&
	expect_data_reply "451 4\.3\.0 " &&
	{ $AS_NOBODY /usr/bin/maildrop -f a@b -d "$(id -un 1)" c@d <msg 2>err; [ $? = 75 ]; } &&
	grep -q "Cannot set my user or group id" err &&
	ls -la /var/mail | diff -u varmail.before -
'

# As root, in a world of the test's own (passwd with smtpdtest1 and
# smtpdtest2, scratch /var/mail): only mailuser gets the message.
W=$TRASH/world
uid=64101
while getent passwd $uid >/dev/null || getent passwd $((uid + 1)) >/dev/null; do
	uid=$((uid + 2))
done
mkdir -p "$W/varmail" && chmod 2775 "$W/varmail" && chgrp mail "$W/varmail" &&
	grep -v "^smtpdtest[12]:" /etc/passwd >"$W/passwd" &&
	for n in 1 2; do
		echo "smtpdtest$n:x:$((uid + n - 1)):$((uid + n - 1))::$W/home$n:/bin/sh" >>"$W/passwd" &&
		mkdir -p "$W/home$n" && chown "$((uid + n - 1)):$((uid + n - 1))" "$W/home$n" || break
	done || { echo "Bail out! cannot make the private world"; exit 1; }

in_world() {
	unshare -m sh -c '
		mount --bind "$1/passwd" /etc/passwd &&
		mount --bind "$1/varmail" /var/mail || exit 99
		shift
		exec "$@"' sh "$W" "$@"
}

test_expect_success NAMESPACE 'the old line, smtpd as root: mailuser only; recipients are $1, not users' '
	store_message msg "t0346 old line as root" &&
	smtp_dialogue msg sender@example.net smtpdtest2@x.example &&
	in_world "$SMTPD" $SMTPD_OPTS -r 1 /usr/bin/maildrop -f %F -d smtpdtest1 \
		<in >out 2>&1 &&
	expect_data_reply "250 2\.0\.0 " &&
	grep -qx "Subject: t0346 old line as root" "$W/varmail/smtpdtest1" &&
	[ "$(stat -c %u "$W/varmail/smtpdtest1")" = $uid ] &&
	[ "$(ls "$W/varmail")" = smtpdtest1 ] &&
	[ -z "$(ls -A "$W/home2")" ]
'

test_done
