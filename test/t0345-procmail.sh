#!/bin/bash
# procmail behind smtpd, the safe way, with the rcfile shipped in
# etc/procmailrc:
#   smtpd -a example.org /usr/bin/procmail -m STORE=DIR etc/procmailrc %F %T
# In -m mode procmail runs as smtpd's user (it gives up its setuid root),
# reads no user's rcfile, and takes every argument after the rcfile as $1,
# $2, ...: not an option, not a user, not a variable. smtpd runs as nobody.
#
# And the line the man page had, "smtpd -r 1 procmail -f %F -d mailuser":
# smtpd appends the recipient, procmail (setuid root) strips its domain
# and delivers to that local user too, as that user, running that user's
# .procmailrc. Shown in a private mount namespace with two users of the
# test's own in a passwd file bound over /etc/passwd, and scratch
# directories over /var/mail and /root: nothing of the host is touched.
. "$(dirname "$0")/lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] &&
	test_skip_all "real-server tests run in the plain make check"
test_have_prereq ROOT || test_skip_all "needs root (smtpd runs as nobody)"
[ -x /usr/bin/procmail ] || test_skip_all "no procmail (apt-get install procmail)"
. "$TEST_DIR/bin/store-lib.sh"

RC=$SRC_DIR/etc/procmailrc
# Dovecot's imap binary reads the Maildir back, when it is installed.
eval "lib_$(declare -f test_have_prereq)"
test_have_prereq() {
	case $1 in
	DOVECOT) [ -x /usr/lib/dovecot/imap ] ;;
	*) lib_test_have_prereq "$1" ;;
	esac
}
test_have_prereq DOVECOT && dovecot_config "$TRASH/dovecot"

# A directory nobody may write in, for the Maildir: ./store.
store_dir() {
	mkdir store && chown 65534:65534 store
}

# deliver RCPT...: the message ./msg from sender@example.net, through
# smtpd and the shipped rcfile into ./store/Maildir.
deliver() {
	smtp_dialogue msg sender@example.net "$@" &&
	store_session -a example.org -- /usr/bin/procmail -m \
		STORE="$PWD/store/Maildir" "$RC" %F %T
}

maildir_store_tests "t0345 procmail" STORE

test_expect_success 'after the rcfile, "-d root" and "STORE=..." are only $2, $3, $4' '
	store_dir && store_message msg "t0345 direct" &&
	sed "1i Received: by hand" msg >in.msg &&
	$AS_NOBODY /usr/bin/procmail -m STORE="$PWD/store/Maildir" "$RC" \
		sender@example.net -d root "STORE=$PWD/evil" <in.msg &&
	maildir_count store/Maildir 1 &&
	cmp in.msg "$(maildir_files store/Maildir)" && [ ! -e evil ]
'

test_expect_success 'ten ordinary recipients and the null sender: 250, one copy' '
	store_dir && store_message msg "t0345 ten" &&
	smtp_dialogue msg "" $(seq -f "user%g@example.org" 10) &&
	store_session -a example.org -- /usr/bin/procmail -m \
		STORE="$PWD/store/Maildir" "$RC" %F %T &&
	[ "$(grep -c "^250 2\.1\.5 " out)" = 10 ] &&
	expect_data_reply "250 2\.0\.0 " &&
	maildir_count store/Maildir 1 &&
	check_stored "$(maildir_files store/Maildir)" msg
'

test_expect_success 'a Maildir nobody may write: 451 (exit 73), nothing stored' '
	mkdir -p store/Maildir/new store/Maildir/cur store/Maildir/tmp &&
	store_message msg "t0345 unwritable" &&
	deliver someone@example.org &&
	expect_data_reply "451 4\.3\.0 " &&
	maildir_count store/Maildir 0
'

test_expect_success 'no STORE= on the command line: 451 (exit 75), nothing stored' '
	store_dir && store_message msg "t0345 no store" &&
	smtp_dialogue msg sender@example.net someone@example.org &&
	store_session -a example.org -- /usr/bin/procmail -m "$RC" %F %T &&
	expect_data_reply "451 4\.3\.0 " &&
	[ -z "$(ls store)" ] &&
	{ $AS_NOBODY /usr/bin/procmail -m "$RC" a@b c@d <msg; [ $? = 75 ]; }
'

test_expect_success 'under no_new_privs (systemd NoNewPrivileges=yes) it delivers the same' '
	store_dir && store_message msg "t0345 no_new_privs" &&
	smtp_dialogue msg sender@example.net someone@example.org &&
	SMTPD_WRAPPER="$AS_NOBODY --no-new-privs" raw_session -a example.org -- \
		/usr/bin/procmail -m STORE="$PWD/store/Maildir" "$RC" %F %T <in &&
	expect_data_reply "250 2\.0\.0 " &&
	maildir_count store/Maildir 1
'

# The old man page line, in a world of the test's own: smtpdtest1 is the
# "mailuser" it names, smtpdtest2 some other local user; /var/mail and
# /root are scratch directories. Each user's .procmailrc leaves a file
# behind, so its owner shows whom procmail ran it as.
W=$TRASH/world
uid=64101
while getent passwd $uid >/dev/null || getent passwd $((uid + 1)) >/dev/null; do
	uid=$((uid + 2))
done
mkdir -p "$W/varmail" "$W/root" "$W/ran" && chmod 2775 "$W/varmail" &&
	chgrp mail "$W/varmail" && chmod 700 "$W/root" && chmod 777 "$W/ran" &&
	grep -v "^smtpdtest[12]:" /etc/passwd >"$W/passwd" &&
	grep -v "^smtpdtest[12]:" /etc/group >"$W/group" &&
	for n in 1 2; do
		u=smtpdtest$n && id=$((uid + n - 1)) &&
		echo "$u:x:$id:$id::$W/home$n:/bin/sh" >>"$W/passwd" &&
		echo "$u:x:$id:" >>"$W/group" &&
		mkdir -p "$W/home$n" &&
		printf ':0 c\n| /usr/bin/touch %s/ran/%s\n' "$W" "$u" >"$W/home$n/.procmailrc" &&
		chown -R "$id:$id" "$W/home$n" && chmod 644 "$W/home$n/.procmailrc" || break
	done &&
	printf ':0 c\n| /usr/bin/touch %s/ran/root\n' "$W" >"$W/root/.procmailrc" ||
	{ echo "Bail out! cannot make the private world"; exit 1; }

# in_world CMD...: CMD with the world's passwd, group, /var/mail, /root.
in_world() {
	unshare -m sh -c '
		for f in passwd group; do
			mount --bind "$1/$f" "/etc/$f" || exit 99
		done
		mount --bind "$1/varmail" /var/mail &&
		mount --bind "$1/root" /root || exit 99
		shift
		exec "$@"' sh "$W" "$@"
}

# old_line RCPT: the old example line, run as nobody, in the world.
old_line() {
	store_message msg "t0345 old line to $1" &&
	smtp_dialogue msg sender@example.net "$1" &&
	DROP_DIR=$PWD/drops TCPREMOTEIP=192.0.2.1 in_world $AS_NOBODY \
		"$SMTPD" $SMTPD_OPTS -r 1 /usr/bin/procmail -f %F -d smtpdtest1 \
		<in >out 2>&1
}

# mailbox NAME SUBJECT: the world's /var/mail/NAME holds that message.
mailbox() {
	grep -qx "Subject: $2" "$W/varmail/$1" ||
		fail "/var/mail/$1 lacks \"$2\": $(ls -la "$W/varmail")"
}

test_expect_success NAMESPACE 'the old line: RCPT TO:<smtpdtest2@...> delivers to that local user, as that user' '
	ls -la /var/mail >varmail.before &&
	old_line smtpdtest2@x.example &&
	expect_data_reply "250 2\.0\.0 " &&
	mailbox smtpdtest1 "t0345 old line to smtpdtest2@x.example" &&
	mailbox smtpdtest2 "t0345 old line to smtpdtest2@x.example" &&
	[ "$(stat -c %u "$W/varmail/smtpdtest2")" = $((uid + 1)) ] &&
	[ "$(stat -c %u "$W/ran/smtpdtest2")" = $((uid + 1)) ] &&
	[ "$(stat -c %u "$W/ran/smtpdtest1")" = $uid ] &&
	ls -la /var/mail | diff -u varmail.before -
'

test_expect_success NAMESPACE 'the old line: RCPT TO:<root@...> runs root'"'"'s .procmailrc as root' '
	old_line root@x.example &&
	expect_data_reply "250 2\.0\.0 " &&
	mailbox root "t0345 old line to root@x.example" &&
	[ "$(stat -c %u "$W/varmail/root")" = 0 ] &&
	[ "$(stat -c %u "$W/ran/root")" = 0 ]
'

test_expect_success NAMESPACE 'the old line: an ordinary recipient is stored, then refused 550 5.1.1' '
	old_line someone@x.example &&
	expect_data_reply "550 5\.1\.1 " &&
	mailbox smtpdtest1 "t0345 old line to someone@x.example"
'

test_expect_success NAMESPACE 'the old line under no_new_privs: every message refused, 554 or 550' '
	cp "$W/varmail/smtpdtest1" before &&
	for rcpt in smtpdtest2@x.example:554.5.7.1 someone@x.example:550.5.1.1; do
		store_message msg "t0345 old line, no_new_privs" &&
		smtp_dialogue msg sender@example.net ${rcpt%:*} &&
		in_world $AS_NOBODY --no-new-privs "$SMTPD" $SMTPD_OPTS -r 1 \
			/usr/bin/procmail -f %F -d smtpdtest1 <in >out 2>&1 &&
		expect_data_reply "${rcpt#*:} " || return 1
	done &&
	cmp before "$W/varmail/smtpdtest1" &&
	! grep -rq no_new_privs "$W/varmail"
'

test_done
