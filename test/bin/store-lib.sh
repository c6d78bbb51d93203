# test/bin/store-lib.sh - for the tests of real mail stores behind smtpd
# (t0340 Dovecot, t0345 procmail, t0346 Courier maildrop, t0350 the
# documentation's examples). Sourced after lib.sh.
#
# smtpd runs as nobody, as a service user would (never as root), so the
# maildrop runs as nobody too: what it may write is what that user may
# write. Each message is sent by a piped SMTP dialogue and read back from
# the store the way its users read it: the Maildir file, or IMAP.

AS_NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
# The scratch directory must be reachable by nobody.
chmod 755 "$TRASH"

# store_message FILE SUBJECT: the message the tests send (LF lines): a
# folded header, a line that is only a dot, lines that start with dots, a
# "From " line that an mbox writer would quote as ">From ".
store_message() {
	printf '%s\n' \
		'From: Sender <sender@example.net>' \
		'To: Someone <someone@example.org>' \
		"Subject: $2" \
		'Date: Thu, 03 Dec 2026 00:00:00 +0000' \
		"Message-ID: <$(echo "$2" | tr -c 'a-zA-Z0-9\n' .)@client.example>" \
		'X-Folded: first part' \
		'	second part' \
		'' \
		'Line one.' \
		'.' \
		'.a line that starts with a dot' \
		'..two dots' \
		'From the start of a line, left as it is' \
		'last line' >"$1"
}

# smtp_dialogue MESSAGE SENDER RCPT...: writes ./in, one EHLO session that
# sends MESSAGE (dot-stuffed, CRLF) from SENDER to every RCPT, then QUIT;
# MAIL_PARAMS, if set, follow MAIL FROM:<SENDER>.
smtp_dialogue() {
	local msg=$1 sender=$2 r
	shift 2
	{
		printf 'EHLO client.example\r\nMAIL FROM:<%s>%s\r\n' \
			"$sender" "${MAIL_PARAMS:+ $MAIL_PARAMS}"
		for r in "$@"; do
			printf 'RCPT TO:<%s>\r\n' "$r"
		done
		printf 'DATA\r\n'
		sed 's/^\./../; s/$/\r/' "$msg"
		printf '.\r\nQUIT\r\n'
	} >in
}

# store_session [SMTPD OPTIONS] [--] MAILDROP...: ./in through smtpd as
# nobody; replies in ./out.
store_session() {
	SMTPD_WRAPPER="$AS_NOBODY" raw_session "$@" <in
}

# The reply to the end of data: the line before QUIT's 221, without CR.
data_reply() {
	tail -n 2 out | head -n 1 | tr -d '\r'
}

# expect_data_reply PATTERN: the end-of-data reply matches the
# extended regular expression PATTERN (anchored at the start).
expect_data_reply() {
	data_reply | grep -qE "^$1" ||
		{ cat out; fail "end of data: $(data_reply), not $1"; }
}

# maildir_files DIR: the messages in Maildir DIR (new/ and cur/).
maildir_files() {
	find "$1/new" "$1/cur" -type f 2>/dev/null | sort
}

# maildir_count DIR N: DIR holds N messages and nothing half-written in
# tmp/.
maildir_count() {
	local n
	n=$(maildir_files "$1" | wc -l)
	[ "$n" = "$2" ] || fail "$1 holds $n messages, not $2"
	[ -z "$(find "$1/tmp" -type f 2>/dev/null)" ] ||
		fail "$1/tmp is not empty: $(ls "$1/tmp")"
}

# check_stored FILE MESSAGE [crlf] [PROTOCOL]: FILE is smtpd's Received:
# header (three lines, "with PROTOCOL", default ESMTP) and then MESSAGE
# byte for byte; with crlf, every line of both ends in CR LF (IMAP).
check_stored() {
	local file=$1 msg=$2 cr= proto=${4:-ESMTP}
	[ "${3:-}" = crlf ] && cr=$'\r'
	sed "s/\$/$cr/" "$msg" >expect.stored &&
	tail -n +4 "$file" | cmp - expect.stored ||
		{ diff -u expect.stored <(tail -n +4 "$file"); fail "$file differs"; } &&
	head -n 1 "$file" | grep -q "^Received: from client.example (unknown \[192.0.2.1\])$cr\$" ||
		fail "first line of $file: $(head -n 1 "$file")" &&
	sed -n 2p "$file" | grep -qx "	by mx.example (smtpd) with $proto;$cr" ||
		fail "second line of $file: $(sed -n 2p "$file")"
}

# A Dovecot configuration of the test's own, for dovecot-lda, the imap
# binary and (for userdb look-ups) a master process with no listener but
# its unix sockets in $1/run. Users in $1/users (passwd-file).
dovecot_config() {
	local d=$1
	# dovecot-lda and imap, as nobody, write the log too.
	mkdir -p "$d/run" "$d/state" && : >>"$d/users" &&
	: >>"$d/dovecot.log" && chmod 666 "$d/dovecot.log" &&
	cat >"$d/dovecot.conf" <<-EOF
	base_dir = $d/run
	state_dir = $d/state
	log_path = $d/dovecot.log
	info_log_path = $d/dovecot.log
	ssl = no
	protocols =
	first_valid_uid = 1
	mail_location = maildir:~/Maildir
	postmaster_address = postmaster@example.org
	sendmail_path = /bin/false
	mail_plugins = quota
	plugin {
	  quota = maildir:User quota
	}
	passdb {
	  driver = passwd-file
	  args = $d/users
	}
	userdb {
	  driver = passwd-file
	  args = $d/users
	}
	service stats {
	  unix_listener stats-writer {
	    mode = 0666
	  }
	}
	EOF
}

# dovecot_start DIR: the master process (auth only), in the background.
DOVECOT_PID=
dovecot_start() {
	local i
	/usr/sbin/dovecot -F -c "$1/dovecot.conf" >"$1/master.out" 2>&1 &
	DOVECOT_PID=$!
	for i in $(seq 100); do
		[ -S "$1/run/auth-userdb" ] && return 0
		kill -0 "$DOVECOT_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$1/master.out" >&2
	return 1
}

# Stops the master started above (SIGTERM; it stops its children), at
# most 10 s.
dovecot_stop() {
	local i
	[ -n "$DOVECOT_PID" ] || return 0
	kill "$DOVECOT_PID" 2>/dev/null
	for i in $(seq 100); do
		kill -0 "$DOVECOT_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$DOVECOT_PID" 2>/dev/null
	wait "$DOVECOT_PID" 2>/dev/null
	DOVECOT_PID=
}

# imap_read OUTDIR CONF USER HOME: USER's INBOX read over IMAP (Dovecot's
# imap binary, pre-authenticated, as nobody) into OUTDIR/N.eml.
imap_read() {
	python3 "$TEST_DIR/bin/store-imap-read.py" "$1" \
		env -i PATH=/usr/bin:/bin USER="$3" HOME="$4" $AS_NOBODY \
		/usr/lib/dovecot/imap -c "$2" >"$1.count" 2>"$1.err" ||
		{ cat "$1.err"; fail "IMAP read of $3 failed"; }
}

# imap_count OUTDIR N: the last imap_read found N messages.
imap_count() {
	[ "$(cat "$1.count")" = "$2 messages" ] ||
		fail "IMAP: $(cat "$1.count"), not $2 messages"
}

# has_smtputf8: the smtpd under test lists SMTPUTF8 in its EHLO reply.
has_smtputf8() {
	printf 'EHLO x\r\nQUIT\r\n' | "$SMTPD" -R -n mx.example /bin/true 2>&1 |
		grep -q '^250[- ]SMTPUTF8'
}

# maildir_store_tests NAME VARIABLE: the tests every Maildir store shares,
# through the script's own deliver RCPT... (smtpd with that store as the
# maildrop, into ./store/Maildir): a message lands byte for byte, owned by
# nobody; it reads back over IMAP; and recipients that name root, a local
# user, or look like VARIABLE=... (the store's own setting for where mail
# goes) give one copy, in the Maildir, and nothing in /var/mail.
maildir_store_tests() {
	STORE_NAME=$1 STORE_VARIABLE=$2
	test_expect_success 'a message lands in the Maildir byte for byte' '
		store_dir && store_message msg "$STORE_NAME" &&
		deliver someone@example.org &&
		expect_data_reply "250 2\.0\.0 " &&
		maildir_count store/Maildir 1 &&
		check_stored "$(maildir_files store/Maildir)" msg &&
		[ "$(stat -c %U "$(maildir_files store/Maildir)")" = nobody ]
	'

	test_expect_success DOVECOT 'read back over IMAP (Dovecot), byte for byte' '
		store_dir && store_message msg "$STORE_NAME over IMAP" &&
		deliver someone@example.org &&
		expect_data_reply "250 2\.0\.0 " &&
		imap_read imap "$TRASH/dovecot/dovecot.conf" nobody "$PWD/store" &&
		imap_count imap 1 &&
		check_stored imap/1.eml msg crlf
	'

	test_expect_success 'recipients named root, a user, or like a variable: one copy, in the Maildir' '
		store_dir && store_message msg "$STORE_NAME recipient names" &&
		ls -la /var/mail >varmail.before &&
		deliver root@example.org smtpdtest1@example.org postmaster \
			"$STORE_VARIABLE=$PWD/evil@example.org" d@example.org &&
		[ "$(grep -c "^250 2\.1\.5 " out)" = 5 ] &&
		expect_data_reply "250 2\.0\.0 " &&
		maildir_count store/Maildir 1 &&
		check_stored "$(maildir_files store/Maildir)" msg &&
		[ ! -e evil ] && [ ! -e "evil@example.org" ] &&
		ls -la /var/mail | diff -u varmail.before -
	'
}
