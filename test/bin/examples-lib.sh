# test/bin/examples-lib.sh - the kinds of example t0350-examples.sh runs
# beyond a piped session: the TLS setup block (key, certificate, user),
# tcpserver blocks (one or more servers, tcprules, tlswrapper), HAProxy in
# front of a host that runs smtpd -p, and systemd drop-ins. Sourced by
# t0350 after lib.sh, lib-mta.sh, store-lib.sh and proxy-lib.sh, and after
# t0350's own helpers (map_path, read_argv, smtpd_maildrop,
# prepare_maildrop, check_store, as, start_launcher ...).
#
# Addresses: a host of a farm listens on 127.0.0.11 (then .12 ...) where
# the documentation says 0 (or 10.0.0.11); the balancer the rules allow
# (10.0.0.5) is 127.0.0.5, HAProxy's "source"; the client 127.0.0.9.

BALANCER=127.0.0.5
CLIENT=127.0.0.9
# What the setup block (the certificate commands) left: its scratch root
# (etc/smtpd/tls.pem, var/mail/smtpd) and the certificate (cert.pem, which
# clients trust); the TLS examples after it start from a copy.
TLS_WORLD=$TRASH/tls-world
TLS_WORLD_CA=$TRASH/tls-world.ca

# ---- the setup block ----

# run_setup EXAMPLE: the block as written, its paths in ROOT, in a mount
# namespace of its own where /etc is an overlay with the world's passwd,
# group, hosts and resolv.conf on top (adduser writes passwd, shadow, group
# and gshadow by renaming new files over them: a bind-mounted file cannot
# be renamed over). The user adduser made goes into the world's passwd
# and group for the examples after it; nothing of the machine's changes.
# Then what the block promises: /etc/smtpd 700, tls.pem 600 with the key
# and then the certificate it names (CN and subjectAltName mx.example.org,
# P-256, 365 days), no key.pem left, smtpd-tls a system user with a group
# of its own, no home, no shell, and /var/mail/smtpd smtpd-tls's, 700.
run_setup() {
	local ex=$1 up=$PWD/etc-upper work=$PWD/etc-work script f user had
	script=$(map_text <"$ex/script")
	had=$(grep -c "^smtpd-tls:" /proc/1/root/etc/passwd 2>/dev/null)
	mkdir -p "$up" "$work" "$ROOT" &&
	for f in passwd group hosts resolv.conf; do
		cp "/etc/$f" "$up/$f" || return 1
	done
	unshare -m --propagation private bash -c '
		mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc ||
			exit 99
		cd "$3" && exec bash -e -c "$4"' sh "$up" "$work" "$PWD" "$script" \
		</dev/null >setup.out 2>&1 ||
		{ cat setup.out; fail "the setup block failed"; return 1; }
	cat setup.out
	# The world gains what adduser added (the files keep their inodes: they
	# are bind-mounted over /etc/passwd and /etc/group).
	cat "$up/passwd" >"$WORLD_ETC/passwd" && cat "$up/group" >"$WORLD_ETC/group" || return 1
	[ "$(grep -c "^smtpd-tls:" /proc/1/root/etc/passwd 2>/dev/null)" = "$had" ] ||
		{ fail "the machine's /etc/passwd changed"; return 1; }
	local pem=$ROOT/etc/smtpd/tls.pem
	[ "$(stat -c "%U %a" "$ROOT/etc/smtpd")" = "root 700" ] ||
		{ fail "/etc/smtpd: $(stat -c "%U %a" "$ROOT/etc/smtpd")"; return 1; }
	[ "$(stat -c "%U %a" "$pem")" = "root 600" ] ||
		{ fail "tls.pem: $(stat -c "%U %a" "$pem")"; return 1; }
	[ ! -e key.pem ] && [ -f cert.pem ] || { fail "key.pem left, or no cert.pem"; return 1; }
	# The key first, then the certificate, and they belong together.
	grep "^-----BEGIN " "$pem" >blocks &&
	printf -- '-----BEGIN PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\n' | cmp - blocks ||
		{ cat blocks; fail "tls.pem is not the key and then the certificate"; return 1; }
	openssl pkey -in "$pem" -pubout >pub.key 2>/dev/null &&
	openssl x509 -in "$pem" -pubkey -noout >pub.cert &&
	cmp pub.key pub.cert && cmp <(openssl x509 -in cert.pem) <(openssl x509 -in "$pem") ||
		{ fail "the key and the certificate do not belong together"; return 1; }
	openssl x509 -in "$pem" -noout -text >cert.txt &&
	grep -q "Subject: CN *= *mx.example.org$" cert.txt &&
	grep -qx " *DNS:mx.example.org" cert.txt &&
	grep -q "ASN1 OID: prime256v1" cert.txt &&
	[ $(($(date -d "$(openssl x509 -in "$pem" -noout -enddate | cut -d= -f2)" +%s) -
		$(date -d "$(openssl x509 -in "$pem" -noout -startdate | cut -d= -f2)" +%s))) = $((365 * 86400)) ] ||
		{ cat cert.txt; fail "not the certificate the block asks for"; return 1; }
	user=$(getent passwd smtpd-tls) &&
	IFS=: read -r _ _ uid gid _ home shell <<<"$user" &&
	[ "$uid" -ge 100 ] && [ "$uid" -lt 1000 ] &&
	[ "$(getent group "$gid" | cut -d: -f1)" = smtpd-tls ] &&
	[ "$home" = /nonexistent ] && [ ! -e /nonexistent ] &&
	[ "$shell" = /usr/sbin/nologin ] ||
		{ fail "smtpd-tls: '$user'"; return 1; }
	[ "$(stat -c "%U %G %a" "$ROOT/var/mail/smtpd")" = "smtpd-tls smtpd-tls 700" ] ||
		{ fail "/var/mail/smtpd: $(stat -c "%U %G %a" "$ROOT/var/mail/smtpd")"; return 1; }
	rm -rf "$TLS_WORLD" && cp -a "$ROOT" "$TLS_WORLD" && cp cert.pem "$TLS_WORLD_CA"
}

# tls_state PEM USER: ROOT starts from what the setup block left; PEM (a
# mapped path) is its tls.pem, or, for a file no block makes (a farm
# host's mx1.pem), a key and certificate of the test's own
# (test/bin/tls-cert.sh); USER exists. Sets TLS_CA to the certificate to
# trust when the setup block made PEM, else empty.
tls_state() {
	[ -d "$TLS_WORLD" ] ||
		{ fail "no setup block ran before (install -d /etc/smtpd, openssl, adduser): no tls.pem, no user"; return 1; }
	cp -a "$TLS_WORLD/." "$ROOT/" || return 1
	TLS_CA=
	if [ -f "$1" ] && cmp -s "$1" "$TLS_WORLD/etc/smtpd/tls.pem"; then
		TLS_CA=$TLS_WORLD_CA
	elif [ ! -e "$1" ]; then
		mkdir -p own-cert "$(dirname "$1")" &&
		"$TEST_DIR/bin/tls-cert.sh" "$PWD/own-cert" &&
		cp own-cert/tls.pem "$1" && chmod 600 "$1" || return 1
	fi
	id "$2" >/dev/null 2>&1 || { fail "no user $2: no setup block made it"; return 1; }
}

# tlswrapper_of WORD...: the options of a tlswrapper command line (mapped):
# TLS_MODE starttls (-n) or tls, RUN_USER (-u), TLS_PEM (-f), TLS_PROXY
# (the version of -p, or empty). Then tls_state.
tlswrapper_of() {
	local w=("$@") i
	TLS_MODE=tls TLS_PEM= TLS_PROXY=
	for ((i = 1; i < ${#w[@]}; i++)); do
		case ${w[$i]} in
		-n) TLS_MODE=starttls ;;
		-u) RUN_USER=${w[$((i + 1))]}; i=$((i + 1)) ;;
		-f) TLS_PEM=${w[$((i + 1))]}; i=$((i + 1)) ;;
		-p) TLS_PROXY=${w[$((i + 1))]}; i=$((i + 1)) ;;
		-[tTaecdJjUmM]) i=$((i + 1)) ;;
		esac
	done
	[ -n "$TLS_PEM" ] || { fail "tlswrapper without -f"; return 1; }
	tls_state "$TLS_PEM" "$RUN_USER"
}

# ---- clients ----

# deliver_client MODE HOST PORT [SOURCE]: ./msg to someone@DOMAIN from
# sender@example.net, in the clear (plain), with STARTTLS (starttls) or TLS
# from the first octet (tls); output in client.out. With TLS_CA (the
# setup block's certificate) and no SOURCE: Python's smtplib verifies the
# certificate for mx.example.org (127.0.0.1 in the world's hosts) and
# STARTTLS must be offered before TLS and not after; with a SOURCE (through
# HAProxy): smtplib from that address, the certificate unchecked.
deliver_client() {
	local mode=$1 host=$2 port=$3 src=${4:-} flag=
	if [ -n "$src" ]; then
		[ "$mode" = plain ] || flag=--$mode
		python3 "$TEST_DIR/bin/proxy-smtplib.py" $flag "$host" "$port" "$src" msg \
			sender@example.net "someone@$DOMAIN" >client.out 2>&1 ||
			{ cat client.out; fail "the client failed"; return 1; }
	elif [ "$mode" != plain ] && [ -n "${TLS_CA:-}" ]; then
		[ "$host" = 127.0.0.1 ] || { fail "no name for $host in the certificate"; return 1; }
		[ "$mode" = tls ] && mode=ssl
		python3 "$TEST_DIR/bin/tls-smtplib.py" "$mode" mx.example.org "$port" "$TLS_CA" msg \
			sender@example.net "someone@$DOMAIN" >client.out 2>&1 ||
			{ cat client.out; fail "the client failed"; return 1; }
		cat client.out
		if [ "$mode" = starttls ]; then
			grep -qx "before STARTTLS: listed" client.out &&
			grep -qx "starttls: 220 2.0.0 Ready to start TLS" client.out &&
			grep -qx "after STARTTLS: not listed" client.out
		else
			grep -qx "tls STARTTLS: not listed" client.out
		fi || { fail "STARTTLS offered where it should not be, or not where it should"; return 1; }
	else
		[ "$mode" = plain ] && mode=
		deliver_over "$host" "$port" ${mode:+--$mode} || return 1
		if [ "$mode" = starttls ]; then
			grep -q "^starttls: 220 " client.out || { cat client.out; fail "no STARTTLS"; return 1; }
		fi
	fi
	grep -qx "sent ok" client.out || { cat client.out; fail "not sent"; }
}

# check_received FILE ADDR PROTO: smtpd's Received: in FILE names [ADDR]
# (if not empty) and says "with PROTO".
check_received() {
	{ [ -z "$2" ] || head -n 1 "$1" | grep -q " \[$2\])\$"; } &&
	sed -n 2p "$1" | grep -q " with $3;\$" ||
		fail "Received: not from [$2] with $3: $(head -n 2 "$1")"
}

# check_delivery COUNT ADDR PROTO: after deliver_client, ./msg is in the
# store (COUNT messages there in all), and its Received: names ADDR and says
# PROTO.
check_delivery() {
	check_store "$RUN_USER" msg "$1" &&
	if [ "$STORE_KIND" = maildir ]; then
		check_received "$STORED" "$2" "$3"
	fi
}

# ---- HAProxy in front of a farm host ----

HAPROXY_PEM=$TRASH/haproxy.pem

# haproxy_front ADDR PORT [SERVER LINE]: HAProxy as the balancer in front
# of the host on ADDR:PORT, connecting from $BALANCER. Without a server
# line: the shipped etc/haproxy/smtpd.cfg, its frontends on FRONT (port 25)
# and FRONT_TLS (465, TLS done by HAProxy, the test's own certificate), its
# three servers one: ADDR:PORT. With one (the "# haproxy:" comment of a
# block): the shipped defaults and health check, a frontend on FRONT that
# passes TLS through, and a backend with that line as its one server, its
# address made ADDR:PORT. FRONT_TLS is then empty.
haproxy_front() {
	local addr=$1 port=$2 line=${3:-} cfg=$PWD/haproxy.cfg
	FRONT=$(free_port_at 127.0.0.1) FRONT_TLS=
	if [ -z "$line" ]; then
		[ -s "$HAPROXY_PEM" ] || make_cert "$HAPROXY_PEM" || return 1
		FRONT_TLS=$(free_port_at 127.0.0.1)
		sed -e "s|^\tbind :25\$|\tbind 127.0.0.1:$FRONT|" \
			-e "s|^\tbind :465 ssl crt [^ ]*\$|\tbind 127.0.0.1:$FRONT_TLS ssl crt $HAPROXY_PEM|" \
			-e "/^\tserver mx[23] /d" \
			-e "s|^\tserver mx1 [^ ]*\$|\tserver mx1 $addr:$port source $BALANCER|" \
			"$SRC_DIR/etc/haproxy/smtpd.cfg" >"$cfg" || return 1
		[ "$(grep -c "^	bind 127.0.0.1:" "$cfg")" = 2 ] &&
		[ "$(grep -c "^	server " "$cfg")" = 1 ] &&
		grep -q "^	server mx1 $addr:$port source $BALANCER\$" "$cfg" ||
			{ cat "$cfg"; fail "etc/haproxy/smtpd.cfg is not as this test knows it"; return 1; }
	else
		[[ $line =~ ^server\ ([^ ]+)\ ([0-9.]+|\[[0-9a-f:]+\]):([0-9]+)(\ .*)?$ ]] ||
			{ fail "not a server line: $line"; return 1; }
		line="server ${BASH_REMATCH[1]} $addr:$port${BASH_REMATCH[4]} source $BALANCER"
		{
			sed -n '1,/^frontend /p' "$SRC_DIR/etc/haproxy/smtpd.cfg" | sed '$d'
			printf 'frontend hosts_tls\n\tbind 127.0.0.1:%s\n\tdefault_backend hosts_tls\n\n' "$FRONT"
			printf 'backend hosts_tls\n'
			sed -n '/^backend smtpd$/,$p' "$SRC_DIR/etc/haproxy/smtpd.cfg" |
				grep -E "^	(option tcp-check|tcp-check |balance )"
			printf '\t%s\n' "$line"
		} >"$cfg"
		grep -q "^	tcp-check expect rstring ^220" "$cfg" ||
			{ cat "$cfg"; fail "no health check in etc/haproxy/smtpd.cfg"; return 1; }
	fi
	start_haproxy "$cfg" || { fail "HAProxy did not start"; return 1; }
	check_passed "$(sed -n 's/^backend //p' "$cfg" | tail -n 1)" \
		"$(sed -n 's/^\tserver \([^ ]*\) .*/\1/p' "$cfg")"
}

# check_passed BACKEND SERVER: HAProxy's health check of SERVER has
# passed (L7OK: the banner and the reply to QUIT came), and it is UP;
# waits at most 15 s (the shipped check runs every 5 s).
check_passed() {
	local i
	for i in $(seq 150); do
		haproxy_cmd "show stat" >stat.csv 2>/dev/null &&
		[ "$(awk -F, -v b="$1" -v s="$2" '
			NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
			$1 == b && $2 == s { print $col["status"] " " $col["check_status"] }' stat.csv)" = "UP L7OK" ] &&
			return 0
		sleep 0.1
	done
	cat stat.csv "$TRASH/haproxy.out"
	fail "HAProxy's health check of $2 did not pass"
}

# refused_direct ADDR PORT [SOURCE]: a client that is not the balancer
# (SOURCE, $CLIENT by default) connects to the host itself: the connection
# closes with no greeting.
refused_direct() {
	python3 "$TEST_DIR/bin/tcp-exchange.py" "$1" "$2" "${3:-$CLIENT}" \
		</dev/null >direct.got &&
	[ ! -s direct.got ] || fail "${3:-$CLIENT} reached the host itself"
}

# through_balancer MODE ADDR PORT COUNT [SERVER LINE]: HAProxy in front of
# the host on ADDR:PORT; a client on $CLIENT delivers ./msg through it
# (MODE: plain, starttls or tls, end to end with the host); the greeting
# (and the one after STARTTLS) and Received: name the client, Received:
# says ESMTPS after STARTTLS, ESMTP otherwise. Behind the shipped
# configuration also TLS done by HAProxy (port 465): ESMTPS, no STARTTLS
# offered. COUNT: the messages in the store before. HAProxy stops after.
through_balancer() {
	local mode=$1 addr=$2 port=$3 count=$4 proto=ESMTP subject
	[ "$mode" = starttls ] && proto=ESMTPS
	subject=$(sed -n 's/^Subject: //p' msg)
	haproxy_front "$addr" "$port" "${5:-}" &&
	deliver_client "$mode" 127.0.0.1 "$FRONT" "$CLIENT" &&
	cat client.out &&
	grep -q "^greeting: 250-[^ ]* Hello [^ ]* \[$CLIENT\]\$" client.out &&
	if [ "$mode" = starttls ]; then
		grep -q "^after STARTTLS: 250-[^ ]* Hello [^ ]* \[$CLIENT\]\$" client.out
	fi || { fail "the greeting does not name the client $CLIENT"; return 1; }
	check_delivery $((count + 1)) "$CLIENT" "$proto" || return 1
	if [ -n "$FRONT_TLS" ]; then
		example_message msg "$subject via HAProxy's TLS" &&
		deliver_client tls 127.0.0.1 "$FRONT_TLS" "$CLIENT" &&
		grep -q "^greeting: 250-[^ ]* Hello [^ ]* \[$CLIENT\]\$" client.out &&
		! grep -qi "starttls" client.out ||
			{ cat client.out; fail "HAProxy's TLS frontend"; return 1; }
		check_delivery $((count + 2)) "$CLIENT" ESMTPS || return 1
	fi
	proxy_stop_all
}

# ---- tcpserver blocks ----

# run_tcpserver EXAMPLE TITLE: the prelude (tcprules; a block that uses
# the rules of an earlier one runs that one's prelude) as nobody, then
# each tcpserver line on a loopback address and a free port, all side by
# side; tcpserver as root when tlswrapper follows it (it starts as root),
# else as nobody. A client delivers to each: straight to a host that runs
# smtpd without -p, through HAProxy (haproxy_front) to one that reads
# PROXY headers (smtpd -p, tlswrapper -p), whose rules must let in the
# balancer alone. A network the rules deny (192.0.2.:deny) gets an address
# on lo, and a client from there no greeting.
run_tcpserver() {
	local ex=$1 prelude n i w host port tcpserver launcher setuid proxy hline denied=() matched=0
	local -A stored
	n=$(cat "$ex/servers")
	prelude=$(cat "$ex/prelude")
	[ -f "$ex/prelude.source" ] && echo "the rules of $(cat "$ex/prelude.source")"
	proxy=
	for ((i = 1; i <= n; i++)); do
		grep -qx -- "-p" "$ex/server.$i/launcher" "$ex/server.$i/smtpd" && proxy=1
		grep -qx -- "-p[RS]*\|-[RS]*p[RS]*" "$ex/server.$i/smtpd" && proxy=1
	done
	if [ -n "$proxy" ]; then
		# The one address the rules allow is the balancer's.
		w=$(grep -oE "[0-9]+(\.[0-9]+){3}:allow" <<<"$prelude")
		[ "$(echo "$w" | grep -c .)" = 1 ] && grep -q "\\\\n:deny\\\\n" <<<"$prelude" ||
			{ fail "PROXY headers, but no rules that let in one balancer alone"; return 1; }
		prelude=${prelude//${w%:allow}/$BALANCER}
	fi
	chmod 777 . && as nobody bash -c "$prelude" || { fail "the prelude failed"; return 1; }
	for w in $(grep -oE "(^|')([0-9]+\.){1,3}([0-9]+)?:deny" <<<"${prelude//\\n/ }" | tr -d "'"); do
		# An address in it: 192.0.2. is 192.0.2.1, 10. is 10.0.0.1.
		w=$(echo "${w%:deny}" | awk -F. '{ sub(/\.$/, ""); n = split($0, o, ".")
			s = $0; for (i = n; i < 3; i++) s = s ".0"; if (n < 4) s = s ".1"; print s }')
		ip addr add "$w/32" dev lo 2>/dev/null
		denied+=("$w")
	done
	for ((i = 1; i <= n; i++)); do
		tcpserver=() launcher=()
		while IFS= read -r w; do tcpserver+=("$w"); done <"$ex/server.$i/tcpserver"
		while IFS= read -r w; do launcher+=("$(map_path "$w")"); done <"$ex/server.$i/launcher"
		for ((w = 1; w < ${#tcpserver[@]}; w++)); do
			[ "${tcpserver[$w]}" = -x ] && { [ -f "${tcpserver[$((w + 1))]}" ] ||
				{ fail "tcpserver -x ${tcpserver[$((w + 1))]}: no block makes it"; return 1; }; }
		done
		read_argv "$ex/server.$i/smtpd" && smtpd_maildrop || return 1
		RUN_USER=nobody TLS_MODE=plain TLS_CA= TLS_PROXY= setuid=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups)
		case ${launcher[0]:-} in
		"") ;;
		tlswrapper) tlswrapper_of "${launcher[@]}" || return 1; setuid=() ;;
		*) fail "no test knows $(cat "$ex/server.$i/launcher" | head -n 1) after tcpserver"; return 1 ;;
		esac
		prepare_maildrop "$RUN_USER" || return 1
		host=127.0.0.1
		[ -n "$proxy" ] && host=127.0.0.$((10 + i))
		port=$(free_port_at $host)
		echo "tcpserver $(cat "$ex/server.$i/host") $(cat "$ex/server.$i/port") runs on $host $port"
		start_launcher env PATH="$RUN_PATH" "${setuid[@]}" "${tcpserver[@]}" "$host" "$port" \
			"${launcher[@]}" "${ARGV[@]}" &&
		wait_listening_at "$host" "$port" "$LAST_LAUNCHER" ||
			{ cat launcher.out; fail "tcpserver does not listen"; return 1; }
		example_message msg "t0350 $2 server $i"
		local count=${stored[$STORE]:-0}
		for w in "${denied[@]}"; do
			refused_direct "$host" "$port" "$w" || return 1
		done
		# The "# haproxy:" line for the port this host listens on.
		hline=$(grep -E "^server [^ ]+ [^ ]+:$(cat "$ex/server.$i/port")( |\$)" "$ex/haproxy" 2>/dev/null)
		[ "$(echo "$hline" | grep -c .)" -le 1 ] || { fail "two haproxy: lines for one host"; return 1; }
		[ -z "$hline" ] || [ -n "$proxy" ] || { fail "a haproxy: line for a host without PROXY"; return 1; }
		[ -n "$hline" ] && matched=$((matched + 1))
		if [ -n "$proxy" ]; then
			refused_direct "$host" "$port" &&
			through_balancer "$TLS_MODE" "$host" "$port" "$count" "$hline" || return 1
			count=$((count + 1))
			[ -n "$FRONT_TLS" ] && count=$((count + 1))
		else
			local proto=ESMTP
			[ "$TLS_MODE" = starttls ] && proto=ESMTPS
			deliver_client "$TLS_MODE" "$host" "$port" &&
			check_delivery $((count + 1)) "" "$proto" || return 1
			count=$((count + 1))
		fi
		stored[$STORE]=$count
	done
	[ "$matched" = "$(grep -c . "$ex/haproxy" 2>/dev/null || echo 0)" ] ||
		{ fail "a haproxy: line for no host of the block"; return 1; }
}

# ---- systemd drop-ins ----

# The units a drop-in directory belongs to, with their partners: all of
# etc/systemd, its programs made the build's (systemd-analyze verify wants
# ExecStart='s program to exist), in DIR.
units_copy() {
	mkdir -p "$1" && cp "$SRC_DIR"/etc/systemd/* "$1/" &&
	sed -i -e "s,/usr/local/sbin/smtpd ,$SMTPD ," \
		-e "s,/usr/local/bin/maildir-deliver ,$SRC_DIR/etc/maildir-deliver ," "$1"/*
}

# verify_units DIR UNIT...: systemd-analyze verify, silent and content.
verify_units() {
	local dir=$1
	shift
	(cd "$dir" && systemd-analyze verify --man=no "${@/#/./}") >verify.out 2>&1 &&
	[ ! -s verify.out ] || { cat verify.out; return 1; }
}

# effective UNITFILE KEY: the values of KEY after the unit's drop-ins
# (UNITFILE.d/*.conf in order; an empty assignment resets a list), with
# continuation lines joined; one a line.
effective() {
	python3 - "$1" "$2" <<-\EOF
	import glob, re, sys
	unit, key = sys.argv[1], sys.argv[2]
	values = []
	for path in [unit] + sorted(glob.glob(unit + ".d/*.conf")):
	    text = re.sub(r"\\\n", " ", open(path).read())
	    for line in text.split("\n"):
	        if line.startswith(key + "="):
	            v = line[len(key) + 1:].strip()
	            values = values + [v] if v else []
	print("\n".join(values))
	EOF
}

# run_dropins EXAMPLE TITLE: the drop-ins, each put where its comment says
# beside the shipped units: systemd-analyze verify takes them silently, and
# reads them (a drop-in there that empties ExecStart= or ListenStream= is
# refused). Then the service as the drop-ins leave it: its ExecStart= under
# systemd-socket-activate (as run_systemd runs a unit), with HAProxy in
# front; the client is named. IPAddressDeny=/IPAddressAllow= (cgroup BPF)
# and MaxConnectionsPerSource= need systemd as PID 1, which this test does
# not have: they are verified, not run.
run_dropins() {
	local ex=$1 p unit units=() port words w
	# units: as shipped, for the service's argv; verify: the programs made
	# the build's, for systemd-analyze verify.
	units_copy verify && cp -r "$SRC_DIR/etc/systemd" units || return 1
	while IFS= read -r p; do
		unit=${p%%.d/*}
		[ -f "$SRC_DIR/etc/systemd/$unit" ] ||
			{ fail "a drop-in for $unit, which is not shipped"; return 1; }
		mkdir -p "units/${p%/*}" "verify/${p%/*}" && cp "$ex/dropin/$p" "units/$p" &&
		sed -e "s,/usr/local/sbin/smtpd ,$SMTPD ," \
			-e "s,/usr/local/bin/maildir-deliver ,$SRC_DIR/etc/maildir-deliver ," \
			"$ex/dropin/$p" >"verify/$p" || return 1
		case " ${units[*]} " in *" $unit "*) ;; *) units+=("$unit") ;; esac
	done <"$ex/dropins"
	# A socket's service and a service's socket are verified with it.
	for unit in "${units[@]}"; do
		case $unit in
		*.socket) p=${unit%.socket}@.service ;;
		*@.service) p=${unit%@.service}.socket ;;
		esac
		case " ${units[*]} " in *" $p "*) ;; *) units+=("$p") ;; esac
	done
	verify_units verify "${units[@]}" || { fail "systemd-analyze verify"; return 1; }
	for unit in "${units[@]}"; do
		[ -d "verify/$unit.d" ] || continue
		case $unit in
		*.socket) printf '[Socket]\nListenStream=\n' ;;
		*.service) printf '[Service]\nExecStart=\n' ;;
		esac >"verify/$unit.d/zz-control.conf"
		! verify_units verify "${units[@]}" >/dev/null ||
			{ fail "systemd-analyze does not read verify/$unit.d/"; return 1; }
		rm "verify/$unit.d/zz-control.conf"
	done
	# The service as the drop-ins leave it, behind the balancer.
	unit=$(printf '%s\n' "${units[@]}" | grep "@\.service$" | head -n 1)
	[ -n "$unit" ] || { fail "no service among ${units[*]}"; return 1; }
	words=$(effective "units/$unit" ExecStart)
	[ -n "$words" ] && [ "$(echo "$words" | wc -l)" = 1 ] ||
		{ fail "ExecStart= of $unit with the drop-ins: '$words'"; return 1; }
	echo "$unit runs: $words"
	python3 -c 'import shlex, sys; print("\n".join(shlex.split(sys.argv[1].replace("%%", "%").replace("$$", "$"))))' \
		"$words" >argv && read_argv argv && smtpd_maildrop &&
	RUN_USER=nobody && prepare_maildrop nobody || return 1
	grep -qx -- "-p" argv || { fail "no -p in ExecStart= of $unit"; return 1; }
	port=$(free_port_at 127.0.0.11)
	start_launcher env PATH="$RUN_PATH" systemd-socket-activate --inetd -a \
		-l "127.0.0.11:$port" setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		--no-new-privs "${ARGV[@]}" &&
	wait_listening_at 127.0.0.11 "$port" "$LAST_LAUNCHER" ||
		{ cat launcher.out; fail "nothing listens"; return 1; }
	example_message msg "t0350 $2" &&
	through_balancer plain 127.0.0.11 "$port" 0
}

# ---- the systemd install commands ----

# run_systemd_install EXAMPLE: cp lines copy shipped files (globs
# expanded in the source tree; each must match), systemctl daemon-reload,
# enable and disable name units that are shipped (enable: with an
# [Install] section); systemd-analyze verify takes the units copied.
# systemctl itself needs systemd as PID 1 (t0400-systemd-pid1.sh runs the
# shipped units there).
run_systemd_install() {
	local text line f units=() u
	text=$(sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*//; ta' "$1/text")
	while IFS= read -r line; do
		case $line in
		"cp "*" /etc/systemd/system/")
			for f in ${line#cp }; do
				[ "$f" = /etc/systemd/system/ ] && continue
				local m
				m=$(cd "$SRC_DIR" && compgen -G "$f")
				[ -n "$m" ] || { fail "not shipped: $f"; return 1; }
				for u in $m; do
					[ -f "$SRC_DIR/$u" ] && [ "${u%/*}" = etc/systemd ] ||
						{ fail "not a shipped unit: $u"; return 1; }
					units+=("${u##*/}")
				done
			done ;;
		"systemctl daemon-reload") ;;
		"systemctl enable --now "* | "systemctl disable --now "*)
			for u in ${line#systemctl *able --now }; do
				[ -f "$SRC_DIR/etc/systemd/$u" ] || { fail "no such unit: $u"; return 1; }
				case $line in
				*" enable "*)
					printf '%s\n' "${units[@]}" | grep -qxF "$u" ||
						{ fail "enabled, but not copied: $u"; return 1; }
					grep -q "^WantedBy=" "$SRC_DIR/etc/systemd/$u" ||
						{ fail "$u has no [Install] WantedBy="; return 1; } ;;
				esac
			done ;;
		*) fail "no test knows: $line"; return 1 ;;
		esac
	done <<<"$text"
	[ ${#units[@]} -gt 0 ] || { fail "nothing copied"; return 1; }
	if test_have_prereq SYSTEMD_ANALYZE; then
		units_copy units && verify_units units "${units[@]}" ||
			{ fail "systemd-analyze verify ${units[*]}"; return 1; }
	fi
}
