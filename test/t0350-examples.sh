#!/bin/bash
# Every example command line of the documentation, run with the real
# programs it names. test/bin/store-examples.py reads them out of
# man/smtpd.8 (.Dl lines, literal blocks), README.md (code blocks),
# etc/systemd/* (ExecStart=, commented or not) and etc/xinetd.d/*
# (server_args, commented or not), so the documentation cannot drift from
# what is tested: an example this script does not know how to run fails.
#
# Each runs as written but for its paths: /var, /tmp, /srv, /home and
# /etc/smtpd move under the test's scratch directory, smtpd and
# maildir-deliver are the build's, and the files an example names in
# /etc/smtpd/ are the ones shipped in etc/ (made to name the scratch
# Maildir). smtpd runs as nobody (as root for sendmail: Postfix's postdrop
# takes a private configuration from root only), under the launcher the
# example names: a pipe, tcpserver, systemd socket activation, xinetd,
# tlswrapper. A client sends one message; it must be in the store the
# maildrop writes, byte for byte, read back as users read it (the
# Maildir, Dovecot over IMAP, or what Postfix delivered).
#
# The whole script runs in a private mount and network namespace with
# its own /etc/hosts (test/lib-mta.sh's world, or one of its own): smtpd
# looks names up when an example has no -R, and nothing may reach DNS.
. "$(dirname "$0")/lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] &&
	test_skip_all "real-server tests run in the plain make check"
test_have_prereq NAMESPACE || test_skip_all "needs root and unshare -mn"

if [ -f "$TEST_DIR/lib-mta.sh" ]; then
	. "$TEST_DIR/lib-mta.sh"
	mta_private_world "$@" || { echo "Bail out! no private namespace"; exit 1; }
	WORLD_ETC=$TRASH/etc
elif [ -z "${SMTPD_EXAMPLES_WORLD:-}" ]; then
	rm -rf "$TRASH"
	SMTPD_EXAMPLES_WORLD=1 exec unshare -mn --propagation private bash "$0" "$@"
	exit 99
else
	WORLD_ETC=$TRASH/etc
	mkdir -p "$WORLD_ETC" && ip link set lo up &&
	printf '127.0.0.1\tlocalhost mx.example\n::1\tlocalhost\n' >"$WORLD_ETC/hosts" &&
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$WORLD_ETC/resolv.conf" &&
	cp /etc/passwd /etc/group "$WORLD_ETC/" &&
	for f in hosts resolv.conf passwd group; do
		mount --bind "$WORLD_ETC/$f" "/etc/$f" || exit 1
	done || { echo "Bail out! no private world"; exit 1; }
fi
. "$TEST_DIR/bin/store-lib.sh"
. "$TEST_DIR/bin/proxy-lib.sh"
. "$TEST_DIR/bin/examples-lib.sh"
# The name the documentation's certificate is for, the host's own.
printf '127.0.0.1\tmx.example.org\n' >>"$WORLD_ETC/hosts"

LAUNCHER_PID=
cleanup() {
	stop_launcher
	proxy_stop_all
	dovecot_stop
	declare -f mta_cleanup >/dev/null && mta_cleanup
	if [ -n "${KEEP_TRASH:-}" ]; then echo "# kept $TRASH"; else rm -rf "$TRASH"; fi
}
trap cleanup EXIT

EX=$TRASH/examples
N_EXAMPLES=$(python3 "$TEST_DIR/bin/store-examples.py" "$SRC_DIR" "$EX") ||
	{ echo "Bail out! cannot read the examples"; exit 1; }

# The programs an example may name by its bare name.
SHIM=$TRASH/bin
mkdir -p "$SHIM" && ln -s "$SMTPD" "$SHIM/smtpd" &&
	ln -s "$SRC_DIR/etc/maildir-deliver" "$SHIM/maildir-deliver"
RUN_PATH=$SHIM:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

eval "lib_$(declare -f test_have_prereq)"
test_have_prereq() {
	case $1 in
	POSTFIX) declare -f postfix_setup >/dev/null && command -v postfix >/dev/null &&
		[ -x /usr/sbin/sendmail ] ;;
	DOVECOT) [ -x /usr/lib/dovecot/dovecot-lda ] && [ -x /usr/lib/dovecot/imap ] ;;
	PROCMAIL) [ -x /usr/bin/procmail ] ;;
	COURIER) [ -x /usr/bin/maildrop ] && command -v maildirmake >/dev/null ;;
	SOCKET_ACTIVATE) command -v systemd-socket-activate >/dev/null ;;
	MSMTP) command -v msmtp >/dev/null && test_have_prereq POSTFIX ;;
	ADDUSER) command -v adduser >/dev/null && grep -qw overlay /proc/filesystems ;;
	*) lib_test_have_prereq "$1" ;;
	esac
}

# A Postfix of the test's own for /usr/sbin/sendmail and for msmtp
# (test/lib-mta.sh): example.org is delivered to the "accepted" sink. For
# msmtp it listens as the documentation's master.cf lines say
# ($EX/listeners, from the docs), and its smtpd(8) there knows the
# recipient someone and refuses later@ with a 450.
SMTPD_FILES=$(find "$EX" -name smtpd)
MSMTP_PORTS=
if { grep -lq "/sendmail$" $SMTPD_FILES || grep -lq "^msmtp " $SMTPD_FILES; } 2>/dev/null &&
	test_have_prereq POSTFIX; then
	start_sink accepted && start_sink relay && start_sink notices &&
		postfix_setup "local_recipient_maps = inline:{someone=ok}" \
			"smtpd_recipient_restrictions = check_recipient_access inline:{{later@example.org=450 4.2.0 try again later}}" \
			</dev/null &&
		sed -e '/^#/d; /^$/d' "$EX/listeners" >>"$POSTFIX_DIR/etc/master.cf" &&
		postfix_start ||
		{ echo "Bail out! Postfix did not start"; exit 1; }
	MSMTP_PORTS=" $(sed -n 's/^127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$EX/listeners" | tr '\n' ' ')"
fi

# map_path WORD: the word an example names, in the scratch world of ROOT.
map_path() {
	case $1 in
	/usr/local/sbin/smtpd | /usr/sbin/smtpd) printf "%s\n" "$SMTPD" ;;
	/usr/local/bin/maildir-deliver | /usr/bin/maildir-deliver)
		printf "%s\n" "$SRC_DIR/etc/maildir-deliver" ;;
	/var/* | /tmp/* | /srv/* | /home/* | /etc/smtpd | /etc/smtpd/*) printf "%s\n" "$ROOT$1" ;;
	[A-Z]*=/*) printf "%s\n" "${1%%=*}=$(map_path "${1#*=}")" ;;
	*) printf "%s\n" "$1" ;;
	esac
}

# The same for shell text: every /var/, /tmp/, /srv/, /home/ and
# /etc/smtpd after a space, an =, a quote or a redirection.
map_text() {
	sed -E -e "s#(^|[ =\"'<>])/(var|tmp|srv|home)/#\\1$ROOT/\\2/#g" \
		-e "s#(^|[ =\"'<>])/etc/smtpd(/|\$|[ ;&|])#\\1$ROOT/etc/smtpd\\2#g"
}

# read_argv FILE: ARGV, the words of FILE mapped.
read_argv() {
	local w
	ARGV=()
	while IFS= read -r w; do
		ARGV+=("$(map_path "$w")")
	done <"$1"
}

# smtpd_maildrop: MD, the index in ARGV of the maildrop (after smtpd's
# options); DOMAIN, the first -a domain (example.org without -a); SMTPD_P
# 1 with -p.
smtpd_maildrop() {
	local i=1 a
	DOMAIN= SMTPD_P=
	while [ $i -lt ${#ARGV[@]} ]; do
		a=${ARGV[$i]}
		case $a in
		--) i=$((i + 1)); break ;;
		-[RSp] | -[RSp][RSp] | -[RSp][RSp][RSp]) [[ $a == *p* ]] && SMTPD_P=1 ;;
		-[nasrtm])
			[ "$a" = -a ] && [ -z "$DOMAIN" ] && DOMAIN=${ARGV[$((i + 1))]}
			i=$((i + 1)) ;;
		-[nasrtm]?*) [ "${a:0:2}" = -a ] && [ -z "$DOMAIN" ] && DOMAIN=${a:2} ;;
		-*) fail "an smtpd option this test does not know: $a"; return 1 ;;
		*) break ;;
		esac
		i=$((i + 1))
	done
	[ $i -lt ${#ARGV[@]} ] || { fail "no maildrop after the options"; return 1; }
	MD=$i
	DOMAIN=${DOMAIN:-example.org}
}

# own USER PATH...: PATH (made if missing) belongs to USER.
own() {
	local u=$1
	shift
	mkdir -p "$@" && chown "$u:$(id -gn "$u")" "$@"
}

# shipped_config PATH: the file an example names in /etc/smtpd/ (PATH,
# mapped) is the one shipped in etc/.
shipped_config() {
	local name=${1#"$ROOT"/etc/smtpd/}
	[ -f "$SRC_DIR/etc/$name" ] ||
		{ fail "the example names /etc/smtpd/$name, but etc/$name is not shipped"; return 1; }
	mkdir -p "$ROOT/etc/smtpd" && cp "$SRC_DIR/etc/$name" "$1"
}

# prepare_maildrop USER: makes ready the store of the maildrop ARGV[MD],
# for smtpd running as USER; sets STORE_KIND (maildir, postfix or
# dovecot) and STORE. May change ARGV (dovecot-lda gets -c).
prepare_maildrop() {
	local user=$1 prog=${ARGV[$MD]} i a
	case ${prog##*/} in
	maildir-deliver)
		STORE_KIND=maildir STORE=${ARGV[$((MD + 1))]}
		own "$user" "$(dirname "$STORE")" ;;
	sendmail)
		STORE_KIND=postfix STORE=accepted ;;
	sh)
		# sh -c 'msmtp ... --port=N ...' %F %T: Postfix listens on N as the
		# documentation's master.cf lines say.
		local script=${ARGV[$((MD + 2))]:-} port
		[ "${ARGV[$((MD + 1))]}" = -c ] && [[ $script == msmtp\ * ]] ||
			{ fail "no test knows the maildrop $prog ${ARGV[*]:$((MD + 1))}"; return 1; }
		[[ $script =~ --host=127\.0\.0\.1\ .*--port=([0-9]+) ]] ||
			{ fail "msmtp to no port of 127.0.0.1"; return 1; }
		port=${BASH_REMATCH[1]}
		[[ $MSMTP_PORTS == *" $port "* ]] ||
			{ fail "no master.cf lines for 127.0.0.1:$port in the documentation"; return 1; }
		STORE_KIND=msmtp STORE=accepted ;;
	procmail)
		[ "${ARGV[$((MD + 1))]}" = -m ] ||
			{ fail "procmail without -m: it takes each recipient as a local user to deliver to (t0345)"; return 1; }
		STORE_KIND=maildir STORE=
		for ((i = MD + 2; i < ${#ARGV[@]}; i++)); do
			a=${ARGV[$i]}
			case $a in
			STORE=*) STORE=${a#STORE=} ;;
			*=*) ;;
			*) shipped_config "$a" || return 1; break ;;
			esac
		done
		[ -n "$STORE" ] || { fail "procmail -m without STORE=: nowhere to deliver"; return 1; }
		own "$user" "$(dirname "$STORE")" ;;
	maildrop)
		case ${ARGV[$((MD + 1))]} in
		-*) fail "Courier maildrop with options (-d needs root: t0346): ${ARGV[*]:$MD}"; return 1 ;;
		esac
		a=${ARGV[$((MD + 1))]}
		shipped_config "$a" &&
		STORE=$(sed -n 's|^to "\(/.*\)/"$|\1|p' "$a") &&
		[ -n "$STORE" ] || { fail "no to \"/DIR/\" line in $a"; return 1; }
		STORE=$(map_path "$STORE") STORE_KIND=maildir &&
		sed -i "s|^to \"/.*/\"\$|to \"$STORE/\"|" "$a" &&
		own "$user" "$(dirname "$STORE")" && chown "$user" "$a" && chmod 600 "$a" &&
		setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups \
			maildirmake "$STORE" ;;
	dovecot-lda)
		STORE_KIND=dovecot STORE=$ROOT/home/someone
		dovecot_config "$ROOT/dovecot" &&
		echo "someone@$DOMAIN::$(id -u "$user"):$(id -g "$user")::$STORE::" >"$ROOT/dovecot/users" &&
		own "$user" "$STORE" &&
		dovecot_start "$ROOT/dovecot" || return 1
		# -c with the test's configuration, in front of the rest.
		local rest=() skip=
		for a in "${ARGV[@]:$((MD + 1))}"; do
			if [ -n "$skip" ]; then skip=; continue; fi
			[ "$a" = -c ] && { skip=1; continue; }
			rest+=("$a")
		done
		ARGV=("${ARGV[@]:0:$((MD + 1))}" -c "$ROOT/dovecot/dovecot.conf" "${rest[@]}") ;;
	*)
		fail "no test knows the maildrop $prog"; return 1 ;;
	esac
}

# check_example_stored FILE MSG [crlf]: smtpd's Received: (three lines)
# and then MSG, byte for byte.
check_example_stored() {
	local cr=
	[ "${3:-}" = crlf ] && cr=$'\r'
	sed "s/\$/$cr/" "$2" >expect.stored &&
	tail -n +4 "$1" | cmp - expect.stored ||
		{ diff -u expect.stored <(tail -n +4 "$1"); fail "$1 differs"; } &&
	head -n 1 "$1" | grep -q "^Received: from " &&
	sed -n 2p "$1" | grep -qE "^	by [^ ]+ \(smtpd\) with E?SMTPS?;$cr\$" &&
	sed -n 3p "$1" | grep -q "^	[A-Z][a-z][a-z], " ||
		fail "no Received: of smtpd's on top of $1: $(head -n 3 "$1")"
}

# check_store USER MSG [COUNT]: MSG (with its unique Subject:) is in the
# store, which holds COUNT messages (1) where it can be counted; STORED is
# its file (the Maildir's). Through msmtp, also: Postfix's 450 gives 451,
# and that message is not delivered.
check_store() {
	local f n subject
	subject=$(grep -m 1 "^Subject: " "$2")
	case $STORE_KIND in
	maildir)
		maildir_count "$STORE" "${3:-1}" &&
		STORED=$(grep -lxF -- "$subject" $(maildir_files "$STORE")) &&
		[ "$(echo "$STORED" | wc -l)" = 1 ] ||
			{ fail "not once in $STORE: $subject"; return 1; }
		check_example_stored "$STORED" "$2" ;;
	postfix | msmtp)
		postfix_flush &&
		n=$(sink_find accepted "$subject") &&
		[ -n "$n" ] || { fail "Postfix delivered no such message"; return 1; }
		[ "$(echo "$n" | wc -l)" = 1 ] || { fail "delivered more than once"; return 1; }
		sink_body accepted "$n" | cmp - "$2" &&
		[ "$(sink_rcpts accepted "$n")" = "someone@$DOMAIN" ] &&
		[ "$(sink_sender accepted "$n")" = sender@example.net ] &&
		grep -q "^	by [^ ]* (smtpd) with E\?SMTP;"$'\r'"\$" "$(sink_dir accepted)/$n.msg" ||
			{ fail "not from sender@example.net to someone@$DOMAIN through smtpd"; return 1; }
		[ "$STORE_KIND" = msmtp ] || return 0
		# Postfix refuses later@ with 450: msmtp exits 69, the line makes it
		# 75, the client gets 451, nothing is delivered.
		store_message later.msg "${subject#Subject: } later" &&
		smtp_dialogue later.msg sender@example.net "later@$DOMAIN" &&
		{ as "$1" "${ARGV[@]}" <in >out 2>&1; true; } &&
		check_reply_lines out && expect_data_reply "451 4\.3\.0 " &&
		postfix_flush &&
		[ -z "$(sink_find accepted "Subject: ${subject#Subject: } later")" ] ||
			{ fail "Postfix's 450 was not a 451, or the message went through"; return 1; } ;;
	dovecot)
		imap_read imap "$ROOT/dovecot/dovecot.conf" "someone@$DOMAIN" "$STORE" &&
		imap_count imap 1 && check_example_stored imap/1.eml "$2" crlf ;;
	esac
}

# example_message FILE SUBJECT: the message a client sends (store_message
# of store-lib.sh). Through msmtp without From:, Date: and Message-ID:,
# which msmtp would add but for the example's options. (A Bcc: would not
# tell whether msmtp keeps it: Postfix drops it at delivery,
# message_drop_headers.)
example_message() {
	store_message "$1" "$2" &&
	if [ "${STORE_KIND:-}" = msmtp ]; then
		sed -i -e '/^From: /d; /^Date: /d; /^Message-ID: /d' "$1"
	fi
}

# as USER CMD...: CMD as USER (a system user), with the example's PATH.
as() {
	local u=$1
	shift
	if [ "$u" = root ]; then
		env PATH="$RUN_PATH" "$@"
	else
		env PATH="$RUN_PATH" setpriv --reuid="$u" --regid="$(id -g "$u")" \
			--clear-groups "$@"
	fi
}

# The user smtpd runs as for the maildrop ARGV[MD].
run_user() {
	case ${ARGV[$MD]##*/} in
	sendmail) echo root ;;
	*) echo nobody ;;
	esac
}

# deliver_over HOST PORT [--starttls|--tls]: the message ./msg to
# someone@DOMAIN with a real client.
deliver_over() {
	python3 "$TEST_DIR/bin/store-smtp-client.py" ${3:+"$3"} "$1" "$2" msg \
		sender@example.net "someone@$DOMAIN" >client.out 2>&1 ||
		{ cat client.out; fail "the client failed"; }
}

# start_launcher CMD...: CMD (a program, not a function: its PID is the
# one stopped) in the background; LAST_LAUNCHER is its PID, LAUNCHER_PID
# the list of them.
start_launcher() {
	"$@" >>launcher.out 2>&1 &
	LAST_LAUNCHER=$!
	LAUNCHER_PID="$LAUNCHER_PID $!"
}

stop_launcher() {
	local pid
	for pid in $LAUNCHER_PID; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	LAUNCHER_PID=
}

# ---- the kinds of example ----

# An smtpd command line: a piped session.
run_command() {
	local user
	read_argv "$1/smtpd" && smtpd_maildrop && user=$(run_user) &&
	prepare_maildrop "$user" && example_message msg "t0350 $2" &&
	smtp_dialogue msg sender@example.net "someone@$DOMAIN" &&
	{ as "$user" "${ARGV[@]}" <in >out 2>&1; true; } &&
	check_reply_lines out && expect_data_reply "250 2\.0\.0 " &&
	check_store "$user" msg
}

# A session piped in by the example itself, perhaps after the quick
# start's install and build (in a copy of the tree, as nobody).
run_pipeline() {
	local before after user pkgs
	before=$(cat "$1/before") after=$(map_text <"$1/after")
	if [[ $before =~ ^'$(command -v sudo) apt-get install -y '([a-z0-9.+\ -]+)' && '(.*)$ ]]; then
		pkgs=${BASH_REMATCH[1]} before=${BASH_REMATCH[2]}
		# The packages, not apt-get: they are installed.
		dpkg-query -W $pkgs >/dev/null || { fail "not installed: $pkgs"; return 1; }
	fi
	mkdir -p work
	if [[ $before =~ ^'make && '(.*)$ ]]; then
		before=${BASH_REMATCH[1]}
		cp -r "$SRC_DIR/Makefile" "$SRC_DIR"/*.c "$SRC_DIR"/*.h "$SRC_DIR/etc" \
			"$SRC_DIR/man" work/ && chown -R nobody work &&
		(cd work && as nobody make >../make.out 2>&1) ||
			{ cat make.out; fail "make failed"; return 1; }
	fi
	[[ $before =~ ^printf\ \'[^\']*\'$ ]] ||
		{ fail "the session is not one printf: $before"; return 1; }
	read_argv "$1/smtpd" && smtpd_maildrop && user=$(run_user) &&
	prepare_maildrop "$user" || return 1
	# What the client sends: its DATA, unstuffed, with LF line ends.
	(cd work && bash -c "$before") >session &&
	python3 -c '
import sys
s = open(sys.argv[1], "rb").read()
data = s.split(b"\r\nDATA\r\n", 1)[1].split(b"\r\n.\r\n", 1)[0]
lines = [l[1:] if l.startswith(b".") else l for l in data.split(b"\r\n")]
sys.stdout.buffer.write(b"\n".join(lines) + b"\n")' session >msg &&
	(cd work && as "$user" bash -c "$before | $(printf "%q " "${ARGV[@]}") $after") \
		>out.all 2>&1 ||
		{ cat out.all; fail "the example failed"; return 1; }
	grep -q "^250 2\.0\.0 " out.all || { cat out.all; fail "no 250 for the message"; return 1; }
	(cd work && check_store "$user" ../msg) &&
	# What the example shows after the session ("&& cat ..."), if anything.
	if [ -n "$after" ]; then
		grep -qx "Subject: $(sed -n "s/^Subject: //p" msg)" out.all ||
			{ cat out.all; fail "the example's last command did not show the message"; }
	fi
}

# launcher_of EXAMPLE USER: LAUNCHER, the launcher the line itself names
# in front of smtpd (mapped; empty when none), TLS_MODE for the client
# (plain, starttls or tls) and RUN_USER, the user smtpd runs as (USER
# unless the launcher says). tlswrapper: its -n means STARTTLS, else TLS
# from the first octet; its -u user and its -f file are the setup block's
# (tlswrapper_of).
launcher_of() {
	local w
	LAUNCHER=() TLS_MODE=plain TLS_CA= RUN_USER=$2
	[ -f "$1/launcher" ] || return 0
	while IFS= read -r w; do LAUNCHER+=("$(map_path "$w")"); done <"$1/launcher"
	case ${LAUNCHER[0]##*/} in
	tlswrapper) tlswrapper_of "${LAUNCHER[@]}" ;;
	*) fail "no test knows the launcher ${LAUNCHER[0]}"; return 1 ;;
	esac
}

# deliver_and_check PORT TITLE: a client delivers ./msg over TLS_MODE to
# 127.0.0.1:PORT, the launcher stops, the message must be in the store;
# Received: says ESMTPS after STARTTLS, ESMTP otherwise (also after TLS
# from the first octet: smtpd is not told).
deliver_and_check() {
	local proto=ESMTP
	[ "$TLS_MODE" = starttls ] && proto=ESMTPS
	{ wait_listening "$1" || { cat launcher.out; fail "no launcher"; }; } &&
	example_message msg "t0350 $2" &&
	deliver_client "$TLS_MODE" 127.0.0.1 "$1"
	local ret=$?
	stop_launcher
	[ $ret = 0 ] && check_delivery 1 "" "$proto"
}

# An ExecStart= line, under systemd-socket-activate --inetd -a (as
# Accept=yes with StandardInput=socket runs it): as nobody (DynamicUser=),
# as root for sendmail, or as tlswrapper's -u user under tlswrapper; with
# no_new_privs (NoNewPrivileges=yes) but for sendmail, whose unit line
# says the sandbox must be relaxed for it.
run_systemd() {
	local port setuid=()
	read_argv "$1/smtpd" && smtpd_maildrop && launcher_of "$1" "$(run_user)" &&
	prepare_maildrop "$RUN_USER" || return 1
	if [ ${#LAUNCHER[@]} = 0 ] && [ "$RUN_USER" != root ]; then
		setuid=(setpriv --reuid="$RUN_USER" --regid="$(id -g "$RUN_USER")" --clear-groups --no-new-privs)
	elif [ ${#LAUNCHER[@]} != 0 ]; then
		setuid=(setpriv --no-new-privs)
	fi
	port=$(free_port)
	start_launcher env PATH="$RUN_PATH" systemd-socket-activate --inetd -a \
		-l "127.0.0.1:$port" ${MAIL_CONFIG:+-E MAIL_CONFIG="$MAIL_CONFIG"} \
		"${setuid[@]}" "${LAUNCHER[@]}" "${ARGV[@]}" &&
	deliver_and_check "$port" "$2"
}

# A server_args line, under xinetd with the shipped service file (its
# user, its limits), on a port and address of the test's own.
run_xinetd() {
	local user port server
	read_argv "$1/smtpd" && smtpd_maildrop || return 1
	user=$(sed -n 's/^\tuser\t*= *//p' "$1/xinetd")
	[ -n "$user" ] || { fail "the service file names no user"; return 1; }
	launcher_of "$1" "$user" && prepare_maildrop "$RUN_USER" || return 1
	set -- "$1" "$2" "${LAUNCHER[@]}" "${ARGV[@]}"
	server=$3
	port=$(free_port)
	printf 'defaults\n{\n\tlog_type = FILE %s/xinetd.log\n}\n' "$PWD" >xinetd.conf &&
	sed -E -e '/^\s*(port|bind|type)\s*=/d' \
		-e "s,^\{\$,{\n\tport = $port\n\tbind = 127.0.0.1\n\ttype = UNLISTED," \
		-e "s,^\tserver\t*=.*,\tserver\t\t= $server," \
		-e "s,^\tserver_args\t*=.*,\tserver_args\t= ${*:4}," \
		"$1/xinetd" >>xinetd.conf &&
	[ "$(grep -c "^	port = $port\$" xinetd.conf)" = 1 ] ||
		{ fail "no service block in $1/xinetd"; return 1; }
	start_launcher xinetd -dontfork -f xinetd.conf -pidfile "$PWD/xinetd.pid" &&
	deliver_and_check "$port" "$2"
}

# The prerequisites of an example: what it names.
prereqs() {
	local p= f
	for f in "$1/smtpd" "$1/launcher" "$1"/server.*/smtpd "$1"/server.*/launcher; do
		[ -f "$f" ] || continue
		grep -q "/sendmail$" "$f" && p=$p,POSTFIX
		grep -q "^msmtp " "$f" && p=$p,MSMTP
		grep -q "dovecot-lda$" "$f" && p=$p,DOVECOT
		grep -q "procmail$" "$f" && p=$p,PROCMAIL
		grep -q "/maildrop$" "$f" && p=$p,COURIER
		grep -q "tlswrapper$" "$f" && p=$p,TLSWRAPPER
		grep -qxE -- "-[RS]*p[RS]*" "$f" && p=$p,HAPROXY
	done
	case $(cat "$1/kind") in
	tcpserver) p=$p,TCPSERVER,TCPRULES ;;
	xinetd) p=$p,XINETD ;;
	systemd) p=$p,SOCKET_ACTIVATE ;;
	setup) p=$p,OPENSSL,ADDUSER ;;
	systemd-dropin) p=$p,SYSTEMD_ANALYZE,SOCKET_ACTIVATE,HAPROXY ;;
	esac
	echo "${p#,}"
}

# test_example_with PREREQS TITLE BODY: like test_expect_success, with a
# list of prerequisites.
test_example_with() {
	local p missing=
	for p in ${1//,/ }; do
		test_have_prereq "$p" || missing=$p
	done
	if [ -n "$missing" ]; then
		test_count=$((test_count + 1))
		echo "ok $test_count # skip $2 (missing $missing)"
		return
	fi
	test_expect_success "$2" "$3"
}

for n in $(seq "$N_EXAMPLES"); do
	e=$EX/$n
	kind=$(cat "$e/kind")
	title="$(cat "$e/source"): $(tr '\n' ' ' <"$e/text" | tr -s ' \t' ' ' | cut -c1-100)"
	# SMTPD_EXAMPLES=REGEX: only the examples whose FILE:LINE matches
	# (the setup block's too, for those that need its certificate).
	if [ -n "${SMTPD_EXAMPLES:-}" ] && ! grep -qE -- "$SMTPD_EXAMPLES" "$e/source"; then
		test_count=$((test_count + 1))
		echo "ok $test_count # skip $title (not in SMTPD_EXAMPLES)"
		continue
	fi
	case $kind in
	template)
		test_count=$((test_count + 1))
		echo "ok $test_count # skip $title (shows a form, not a command)"
		continue ;;
	ci)
		test_count=$((test_count + 1))
		echo "ok $test_count # skip $title (the CI itself)"
		continue ;;
	esac
	test_example_with "$(prereqs "$e")" "$title" "
		trap 'stop_launcher; proxy_stop_all; dovecot_stop' EXIT
		ROOT=\$PWD/root && mkdir -p \"\$ROOT\" && chmod 755 . &&
		case $kind in
		command) run_command $e 'example $n' ;;
		pipeline) run_pipeline $e ;;
		tcpserver) run_tcpserver $e 'example $n' ;;
		systemd) run_systemd $e 'example $n' ;;
		xinetd) run_xinetd $e 'example $n' ;;
		systemd-install) run_systemd_install $e ;;
		setup) run_setup $e ;;
		systemd-dropin) run_dropins $e 'example $n' ;;
		*) fail 'no test knows how to run this example; teach t0350-examples.sh' ;;
		esac
		ret=\$?
		stop_launcher
		proxy_stop_all
		dovecot_stop
		return \$ret
	"
done

test_done
