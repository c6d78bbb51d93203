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

LAUNCHER_PID=
cleanup() {
	[ -n "$LAUNCHER_PID" ] && kill "$LAUNCHER_PID" 2>/dev/null && wait "$LAUNCHER_PID" 2>/dev/null
	dovecot_stop
	declare -f mta_cleanup >/dev/null && mta_cleanup
	rm -rf "$TRASH"
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
	*) lib_test_have_prereq "$1" ;;
	esac
}

# A Postfix of the test's own for /usr/sbin/sendmail (test/lib-mta.sh):
# example.org is delivered to the "accepted" sink.
if grep -lq "/sendmail$" "$EX"/*/smtpd 2>/dev/null && test_have_prereq POSTFIX; then
	start_sink accepted && start_sink relay && start_sink notices &&
		postfix_setup </dev/null && postfix_start ||
		{ echo "Bail out! Postfix did not start"; exit 1; }
fi

# map_path WORD: the word an example names, in the scratch world of ROOT.
map_path() {
	case $1 in
	/usr/local/sbin/smtpd | /usr/sbin/smtpd) printf "%s\n" "$SMTPD" ;;
	/usr/local/bin/maildir-deliver | /usr/bin/maildir-deliver)
		printf "%s\n" "$SRC_DIR/etc/maildir-deliver" ;;
	/var/* | /tmp/* | /srv/* | /home/* | /etc/smtpd/*) printf "%s\n" "$ROOT$1" ;;
	[A-Z]*=/*) printf "%s\n" "${1%%=*}=$(map_path "${1#*=}")" ;;
	*) printf "%s\n" "$1" ;;
	esac
}

# The same for shell text: every /var/, /tmp/, /srv/, /home/ after a
# space, an = or a quote.
map_text() {
	sed -E "s#(^|[ =\"'])/(var|tmp|srv|home)/#\\1$ROOT/\\2/#g"
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
# options); DOMAIN, the first -a domain (example.org without -a).
smtpd_maildrop() {
	local i=1 a
	DOMAIN=
	while [ $i -lt ${#ARGV[@]} ]; do
		a=${ARGV[$i]}
		case $a in
		--) i=$((i + 1)); break ;;
		-[RSp] | -[RSp][RSp] | -[RSp][RSp][RSp]) ;;
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

# check_store USER MSG: MSG (with its unique Subject:) is in the store.
check_store() {
	local f n
	case $STORE_KIND in
	maildir)
		maildir_count "$STORE" 1 &&
		check_example_stored "$(maildir_files "$STORE")" "$2" ;;
	postfix)
		postfix_flush &&
		n=$(sink_find accepted "$(grep -m 1 "^Subject: " "$2")") &&
		[ -n "$n" ] || { fail "Postfix delivered no such message"; return 1; }
		sink_body accepted "$n" | cmp - "$2" &&
		[ "$(sink_rcpts accepted "$n")" = "someone@$DOMAIN" ] ;;
	dovecot)
		imap_read imap "$ROOT/dovecot/dovecot.conf" "someone@$DOMAIN" "$STORE" &&
		imap_count imap 1 && check_example_stored imap/1.eml "$2" crlf ;;
	esac
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
# one stopped) in the background.
start_launcher() {
	"$@" >launcher.out 2>&1 &
	LAUNCHER_PID=$!
}

stop_launcher() {
	[ -n "$LAUNCHER_PID" ] || return 0
	kill "$LAUNCHER_PID" 2>/dev/null
	wait "$LAUNCHER_PID" 2>/dev/null
	LAUNCHER_PID=
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_listening() {
	local i
	for i in $(seq 100); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	cat launcher.out
	fail "nothing listens on port $1"
}

# ---- the kinds of example ----

# An smtpd command line: a piped session.
run_command() {
	local user
	read_argv "$1/smtpd" && smtpd_maildrop && user=$(run_user) &&
	prepare_maildrop "$user" &&
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

# smtpd under tcpserver, after the example's own prelude (tcprules).
run_tcpserver() {
	local launcher=() w port
	read_argv "$1/smtpd" && smtpd_maildrop && prepare_maildrop nobody || return 1
	while IFS= read -r w; do launcher+=("$w"); done <"$1/launcher"
	port=$(free_port)
	# Its last two words are where it listens.
	launcher=("${launcher[@]:0:$((${#launcher[@]} - 2))}" 127.0.0.1 "$port")
	TLS_MODE= RUN_USER=nobody
	chmod 777 . && as nobody bash -c "$(cat "$1/prelude")" &&
	start_launcher env PATH="$RUN_PATH" $AS_NOBODY "${launcher[@]}" "${ARGV[@]}" &&
	deliver_and_check "$port" "$2"
}

# launcher_of EXAMPLE USER: LAUNCHER, the launcher the line itself names
# in front of smtpd (mapped; empty when none), TLS_MODE for the client,
# and RUN_USER, the user smtpd runs as (USER unless the launcher says).
# tlswrapper: its -u user exists, its -f PEM file is made (a fresh key
# and certificate), its -n means STARTTLS, else implicit TLS.
launcher_of() {
	local w
	LAUNCHER=() TLS_MODE= RUN_USER=$2
	[ -f "$1/launcher" ] || return 0
	while IFS= read -r w; do LAUNCHER+=("$(map_path "$w")"); done <"$1/launcher"
	case ${LAUNCHER[0]##*/} in
	tlswrapper) ;;
	*) fail "no test knows the launcher ${LAUNCHER[0]}"; return 1 ;;
	esac
	TLS_MODE=--tls
	local pem=
	for ((w = 1; w < ${#LAUNCHER[@]}; w++)); do
		case ${LAUNCHER[$w]} in
		-n) TLS_MODE=--starttls ;;
		-u) RUN_USER=${LAUNCHER[$((w + 1))]} ;;
		-f) pem=${LAUNCHER[$((w + 1))]} ;;
		esac
	done
	[ -n "$pem" ] || { fail "tlswrapper without -f"; return 1; }
	id "$RUN_USER" >/dev/null 2>&1 ||
		echo "$RUN_USER:x:64321:64321::/nonexistent:/usr/sbin/nologin" >>"$WORLD_ETC/passwd"
	grep -q "^$RUN_USER:" "$WORLD_ETC/group" || echo "$RUN_USER:x:64321:" >>"$WORLD_ETC/group"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout key.pem -out cert.pem -days 2 -subj /CN=mx.example 2>/dev/null &&
	mkdir -p "$(dirname "$pem")" && cat key.pem cert.pem >"$pem" && chmod 600 "$pem"
}

# deliver_and_check PORT TITLE: a client delivers ./msg over TLS_MODE,
# the launcher stops, the message must be in the store; after STARTTLS
# the Received: header says ESMTPS.
deliver_and_check() {
	wait_listening "$1" && store_message msg "t0350 $2" &&
	deliver_over 127.0.0.1 "$1" $TLS_MODE
	local ret=$?
	stop_launcher
	[ $ret = 0 ] && check_store "$RUN_USER" msg &&
	if [ "$TLS_MODE" = --starttls ]; then
		grep -q "^starttls: 220 " client.out &&
		sed -n 2p "$(maildir_files "$STORE")" | grep -q " with ESMTPS;\$" ||
			fail "no STARTTLS, or no ESMTPS in Received:"
	fi
}

# An ExecStart= line, under systemd-socket-activate --inetd -a (as
# Accept=yes with StandardInput=socket runs it): as nobody (DynamicUser=),
# as root for sendmail, or as tlswrapper's -u user under tlswrapper.
run_systemd() {
	local port setuid=()
	read_argv "$1/smtpd" && smtpd_maildrop && launcher_of "$1" "$(run_user)" &&
	prepare_maildrop "$RUN_USER" || return 1
	[ ${#LAUNCHER[@]} = 0 ] && [ "$RUN_USER" != root ] &&
		setuid=(setpriv --reuid="$RUN_USER" --regid="$(id -g "$RUN_USER")" --clear-groups)
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

# The systemd install commands: the files they copy are shipped; the
# systemctl lines need systemd as PID 1 (t0400-systemd-pid1.sh, where
# there is one); the units' ExecStart= lines are run above.
run_systemd_install() {
	local text
	text=$(sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*//; ta' "$1/text")
	echo "$text" | while IFS= read -r line; do
		case $line in
		"cp "*" /etc/systemd/system/")
			for f in ${line#cp }; do
				[ "$f" = /etc/systemd/system/ ] && continue
				[ -f "$SRC_DIR/$f" ] || { fail "not shipped: $f"; exit 1; }
			done ;;
		"systemctl daemon-reload" | "systemctl enable --now smtpd.socket") ;;
		*) fail "no test knows: $line"; exit 1 ;;
		esac
	done
}

# The prerequisites of an example: what it names.
prereqs() {
	local p= f
	for f in "$1/smtpd" "$1/launcher"; do
		[ -f "$f" ] || continue
		grep -q "/sendmail$" "$f" && p=$p,POSTFIX
		grep -q "dovecot-lda$" "$f" && p=$p,DOVECOT
		grep -q "procmail$" "$f" && p=$p,PROCMAIL
		grep -q "/maildrop$" "$f" && p=$p,COURIER
		grep -q "tlswrapper$" "$f" && p=$p,TLSWRAPPER
	done
	case $(cat "$1/kind") in
	tcpserver) p=$p,TCPSERVER ;;
	xinetd) p=$p,XINETD ;;
	systemd) p=$p,SOCKET_ACTIVATE ;;
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
		ROOT=\$PWD/root && mkdir -p \"\$ROOT\" && chmod 755 . &&
		case $kind in
		command) store_message msg 't0350 example $n' && run_command $e ;;
		pipeline) run_pipeline $e ;;
		tcpserver) run_tcpserver $e 'example $n' ;;
		systemd) run_systemd $e 'example $n' ;;
		xinetd) run_xinetd $e 'example $n' ;;
		systemd-install) run_systemd_install $e ;;
		*) fail 'no test knows how to run this example; teach t0350-examples.sh' ;;
		esac
		ret=\$?
		stop_launcher
		dovecot_stop
		return \$ret
	"
done

test_done
