# test/lib-mta.sh - real MTAs on either side of smtpd: a private Postfix
# instance, Exim unpacked from Debian's packages, and loopback SMTP sinks
# (test/bin/mta-sink.py) that record what reaches them. Sourced after
# lib.sh.
#
# The scripts run in a world of their own (mta_private_world): a private
# mount and network namespace with only a loopback interface, its own
# /etc/hosts and a resolv.conf naming 127.0.0.1, where nothing listens
# (t0306 uses a container's network instead, through MTA_IN). An MTA
# started there cannot reach any other host, whatever its routing
# decides; every transport it has points at one of the test's sinks.

MTA_PIDS=
POSTFIX_DIR=
# A command prefix that puts the sinks and Postfix in another network
# namespace (t0306: nsenter into a container's); empty for this one. It
# must exec what it runs (no function, no fork), so that $! is the sink.
MTA_IN=
trap 'mta_cleanup; rm -rf "$TRASH"' EXIT

mta_cleanup() {
	local pid
	[ -n "$POSTFIX_DIR" ] && postfix_stop
	for pid in $MTA_PIDS; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	MTA_PIDS=
}

# mta_private_world "$@": the first call re-runs the script inside a new
# mount and network namespace (the scratch directory made before is
# dropped); inside, it brings up lo and puts the test's own hosts,
# resolv.conf, passwd and group files in place. passwd and group gain
# Debian's exim user when the machine has none: Debian's exim4 looks up
# its compiled-in user before it reads any configuration.
mta_private_world() {
	if [ -z "${SMTPD_MTA_WORLD:-}" ]; then
		rm -rf "$TRASH"
		SMTPD_MTA_WORLD=1 exec unshare -mn --propagation private \
			bash "$0" "$@"
		exit 99
	fi
	local etc=$TRASH/etc
	mkdir -p "$etc" || return 1
	ip link set lo up || return 1
	printf '127.0.0.1\tlocalhost mx.example\n::1\tlocalhost\n' >"$etc/hosts"
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$etc/resolv.conf"
	cp /etc/passwd /etc/group "$etc/"
	if ! getent passwd Debian-exim >/dev/null; then
		echo "Debian-exim:x:64010:64010::/nonexistent:/usr/sbin/nologin" >>"$etc/passwd"
		echo "Debian-exim:x:64010:" >>"$etc/group"
	fi
	local f
	for f in hosts resolv.conf passwd group; do
		mount --bind "$etc/$f" "/etc/$f" || return 1
	done
}

# ---- sinks ----

# start_sink NAME: a recording SMTP sink in $TRASH/sink-NAME; sets
# SINK_PORT_NAME (NAME in capitals) to its port.
start_sink() {
	local dir=$TRASH/sink-$1 i
	mkdir -p "$dir"
	$MTA_IN python3 "$TEST_DIR/bin/mta-sink.py" "$dir" 900 &
	MTA_PIDS="$MTA_PIDS $!"
	for i in $(seq 100); do
		[ -s "$dir/port" ] && break
		sleep 0.1
	done
	[ -s "$dir/port" ] || { echo "sink $1 did not start" >&2; return 1; }
	eval "SINK_PORT_$(echo "$1" | tr a-z A-Z)=$(cat "$dir/port")"
}

sink_dir() {
	echo "$TRASH/sink-$1"
}

# sink_count NAME: how many messages the sink holds.
sink_count() {
	find "$TRASH/sink-$1" -name '*.msg' | wc -l
}

# sink_find NAME LINE: the numbers of the messages that have a line that
# is exactly LINE, one a line.
sink_find() {
	grep -lxF -- "$2"$'\r' "$TRASH/sink-$1"/*.msg 2>/dev/null |
		sed 's|.*/\([0-9]*\)\.msg$|\1|' | sort -n
}

# sink_rcpts NAME N: the recipients of message N, one a line, without
# the angle brackets and any parameters.
sink_rcpts() {
	sed -n 's/^RCPT TO:<\(.*\)>.*$/\1/p' "$TRASH/sink-$1/$2.env"
}

sink_sender() {
	sed -n 's/^MAIL FROM:<\([^>]*\)>.*$/\1/p' "$TRASH/sink-$1/$2.env"
}

# strip_received FILE: FILE with LF line ends and without the Received:
# headers in front of it (the MTAs' and smtpd's).
strip_received() {
	sed 's/\r$//' "$1" | awk '
		top && /^Received:/ { folded = 1; next }
		top && folded && /^[ \t]/ { next }
		{ top = 0; print }' top=1
}

# sink_body NAME N: message N of the sink, as strip_received gives it.
sink_body() {
	strip_received "$TRASH/sink-$1/$2.msg"
}

# ---- Postfix ----

# postfix_setup [LINE...]: a private Postfix in $TRASH/postfix: its own
# config_directory (etc), queue_directory (spool) and data_directory, no
# chroot, no listener. mydestination is example.org and goes to the
# "accepted" sink; every other route (default_transport, relayhost,
# relay_transport, virtual_transport) goes to the "relay" sink; the domain
# notices.test, where the tests' senders live and where bounces and
# postmaster notices go, to the "notices" sink. Everything else stays
# Postfix's default (percent hack, bang paths, dequoted resolving): the
# point is Postfix as it is deployed. LINEs are added to main.cf. Sets and
# exports MAIL_CONFIG.
postfix_setup() {
	POSTFIX_DIR=$TRASH/postfix
	local d=$POSTFIX_DIR
	# Postfix's own user must reach its directories.
	chmod 0755 "$TRASH" && mkdir -p "$d/etc" "$d/spool" "$d/data" || return 1
	chown postfix "$d/data"
	cp /etc/postfix/dynamicmaps.cf "$d/etc/" 2>/dev/null
	cat >"$d/etc/main.cf" <<-EOF
	compatibility_level = 3.6
	queue_directory = $d/spool
	data_directory = $d/data
	maillog_file_prefixes = $d
	maillog_file = $d/maillog
	myhostname = mx.example
	mydomain = example
	myorigin = example.org
	mydestination = example.org
	inet_interfaces = loopback-only
	inet_protocols = ipv4
	mynetworks = 127.0.0.0/8
	local_transport = smtp:[127.0.0.1]:$SINK_PORT_ACCEPTED
	default_transport = smtp:[127.0.0.1]:$SINK_PORT_RELAY
	relay_transport = smtp:[127.0.0.1]:$SINK_PORT_RELAY
	virtual_transport = smtp:[127.0.0.1]:$SINK_PORT_RELAY
	relayhost = [127.0.0.1]:$SINK_PORT_RELAY
	transport_maps = inline:{notices.test=smtp:[127.0.0.1]:$SINK_PORT_NOTICES}
	bounce_notice_recipient = postmaster@notices.test
	2bounce_notice_recipient = postmaster@notices.test
	delay_notice_recipient = postmaster@notices.test
	error_notice_recipient = postmaster@notices.test
	smtp_dns_support_level = disabled
	smtp_host_lookup = native
	lmtp_host_lookup = native
	alias_maps =
	alias_database =
	biff = no
	append_dot_mydomain = no
	smtp_tls_security_level = none
	smtpd_tls_security_level = none
	minimal_backoff_time = 1s
	maximal_backoff_time = 2s
	queue_run_delay = 1s
	EOF
	[ $# -eq 0 ] || printf '%s\n' "$@" >>"$d/etc/main.cf"
	# No chroot (the spool is not prepared for one); no inet listener.
	cat >"$d/etc/master.cf" <<-\EOF
	pickup    unix  n       -       n       60      1       pickup
	cleanup   unix  n       -       n       -       0       cleanup
	qmgr      unix  n       -       n       300     1       qmgr
	rewrite   unix  -       -       n       -       -       trivial-rewrite
	bounce    unix  -       -       n       -       0       bounce
	defer     unix  -       -       n       -       0       bounce
	trace     unix  -       -       n       -       0       bounce
	verify    unix  -       -       n       -       1       verify
	flush     unix  n       -       n       1000?   0       flush
	proxymap  unix  -       -       n       -       -       proxymap
	smtp      unix  -       -       n       -       -       smtp
	relay     unix  -       -       n       -       -       smtp
	showq     unix  n       -       n       -       -       showq
	error     unix  -       -       n       -       -       error
	retry     unix  -       -       n       -       -       error
	discard   unix  -       -       n       -       -       discard
	anvil     unix  -       -       n       -       1       anvil
	scache    unix  -       -       n       -       1       scache
	postlog   unix-dgram n  -       n       -       1       postlogd
	EOF
	export MAIL_CONFIG=$d/etc
}

# postfix_listen PORT [NAME=VALUE...]: adds an smtpd(8) on 127.0.0.1:PORT
# to master.cf, each NAME=VALUE an -o of its own (before postfix_start).
postfix_listen() {
	local o
	printf '127.0.0.1:%s inet n - n - - smtpd\n' "$1" >>"$POSTFIX_DIR/etc/master.cf"
	shift
	for o in "$@"; do
		printf '  -o %s\n' "$o" >>"$POSTFIX_DIR/etc/master.cf"
	done
}

postfix_start() {
	$MTA_IN postfix -c "$POSTFIX_DIR/etc" start >"$POSTFIX_DIR/start.log" 2>&1 ||
		{ cat "$POSTFIX_DIR/start.log" >&2; return 1; }
}

postfix_stop() {
	local pidfile=$POSTFIX_DIR/spool/pid/master.pid pid i
	[ -s "$pidfile" ] || return 0
	pid=$(tr -dc 0-9 <"$pidfile")
	postfix -c "$POSTFIX_DIR/etc" stop >/dev/null 2>&1
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	rm -f "$pidfile"
}

# postfix_queue_empty: nothing waits in any of the private queues.
postfix_queue_empty() {
	[ -z "$(find "$POSTFIX_DIR/spool/maildrop" "$POSTFIX_DIR/spool/incoming" \
		"$POSTFIX_DIR/spool/active" "$POSTFIX_DIR/spool/deferred" \
		"$POSTFIX_DIR/spool/hold" -type f 2>/dev/null)" ]
}

# postfix_flush: asks for a delivery of everything queued, then waits (at
# most 60 s) until the queue is empty. Fails, showing the queue, if it
# is not.
postfix_flush() {
	local i
	for i in $(seq 120); do
		postqueue -c "$POSTFIX_DIR/etc" -f 2>/dev/null
		postfix_queue_empty && return 0
		sleep 0.5
	done
	postqueue -c "$POSTFIX_DIR/etc" -p >&2
	fail "the Postfix queue did not empty in 60 s"
}

# ---- Exim ----

# The cache for the Debian packages Exim is unpacked from; make clean
# leaves it, so a test run downloads them once.
MTA_CACHE=${SMTPD_MTA_CACHE:-$SRC_DIR/test/lib-mta-cache}
EXIM_PACKAGES="exim4-daemon-light exim4-base libidn12"

# mta_fetch_debs DIR PACKAGE...: the Debian packages (apt-get download),
# kept in $MTA_CACHE/DIR; downloads only what is not there yet. Needs the
# network: run it before mta_private_world.
mta_fetch_debs() {
	local dir=$MTA_CACHE/$1 p
	shift
	mkdir -p "$dir" || return 1
	(
		flock -w 300 9 || exit 1
		cd "$dir" || exit 1
		for p in "$@"; do
			ls "$p"_*.deb >/dev/null 2>&1 ||
				apt-get download "$p" >/dev/null 2>&1 || exit 1
		done
	) 9>"$MTA_CACHE/lock"
}

# exim_unpack: EXIM (the binary) and EXIM_ENV (for env(1)) from Debian's
# packages unpacked into the cache, not installed. Not setuid: a setuid
# exim would re-exec itself in secure mode, where the loader ignores
# LD_LIBRARY_PATH. The first call needs the network (see mta_fetch_debs).
exim_unpack() {
	local root=$MTA_CACHE/root p
	if [ ! -x "$root/usr/sbin/exim4" ]; then
		mta_fetch_debs debs $EXIM_PACKAGES || return 1
		(
			flock -w 300 9 || exit 1
			[ -x "$root/usr/sbin/exim4" ] && exit 0
			rm -rf "$root.new" && mkdir "$root.new" || exit 1
			for p in $EXIM_PACKAGES; do
				dpkg-deb -x "$MTA_CACHE/debs/$p"_*.deb "$root.new" || exit 1
			done
			chmod 0755 "$root.new/usr/sbin/exim4" &&
				mv "$root.new" "$root"
		) 9>"$MTA_CACHE/lock" || return 1
	fi
	EXIM=$root/usr/sbin/exim4
	EXIM_ENV="LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu:$root/usr/lib"
}

# exim_setup NAME: a private Exim configuration in $TRASH/exim-NAME
# (spool, log), its main section from stdin with @D@ for that directory
# and @EXIM@ for the binary; sets EXIM_CONF.
exim_setup() {
	local d=$TRASH/exim-$1
	chmod 0755 "$TRASH" && mkdir -p "$d/spool" "$d/log" || return 1
	chown Debian-exim:Debian-exim "$d/spool" "$d/log"
	sed -e "s|@D@|$d|g" -e "s|@EXIM@|$EXIM|g" >"$d/configure"
	chmod 0644 "$d/configure"
	EXIM_CONF=$d/configure
	EXIM_DIR=$d
}

# exim_run ARGS...: the unpacked Exim with the private configuration.
exim_run() {
	env "$EXIM_ENV" "$EXIM" -C "$EXIM_CONF" "$@"
}

# ---- the routing forms (t0300 Postfix, t0310 Exim) ----

# form_message N: the message of form N, as a sink must get it.
form_message() {
	printf 'From: s@notices.test\nTo: marker%s@example.org\nSubject: form %s\nDate: Thu, 03 Dec 2026 00:00:00 +0000\nMessage-ID: <form%s@client.example>\n\nLine one.\n.a line that starts with a dot\nlast line\n' "$1" "$1" "$1"
}

# relay_forms: one routing form a line, tab-separated: the reply smtpd
# must give to "RCPT TO:FORM" with -a example.org, FORM, and for 250 the
# recipient example.org's sink must get from Postfix and from Exim.
relay_forms() {
	cat <<-\EOF
	250 2.1.5	<victim@example.org>	victim@example.org	victim@example.org
	250 2.1.5	victim@example.org	victim@example.org	victim@example.org
	250 2.1.5	<victim@EXAMPLE.ORG>	victim@EXAMPLE.ORG	victim@EXAMPLE.ORG
	250 2.1.5	<Victim@Example.Org>	Victim@Example.Org	Victim@Example.Org
	250 2.1.5	<@evil.test:victim@example.org>	victim@example.org	victim@example.org
	250 2.1.5	<@evil.test,@other.test:victim@example.org>	victim@example.org	victim@example.org
	250 2.1.5	<postmaster>	postmaster@example.org	postmaster@example.org
	250 2.1.5	<"victim"@example.org>	victim@example.org	"victim"@example.org
	250 2.1.5	<"|cmd"@example.org>	|cmd@example.org	"|cmd"@example.org
	250 2.1.5	<|cmd@example.org>	|cmd@example.org	|cmd@example.org
	250 2.1.5	</tmp/file@example.org>	/tmp/file@example.org	/tmp/file@example.org
	550 5.7.1	<victim@evil.test>
	550 5.7.1	<VICTIM@EVIL.TEST>
	550 5.7.1	<victim@example.org.evil.test>
	553 5.1.3	<victim@evil.test.>
	550 5.7.1	<@example.org:victim@evil.test>
	550 5.7.1	<postmaster@evil.test>
	550 5.7.1	<victim@[127.0.0.1]>
	550 5.7.1	<victim@[IPv6:::1]>
	553 5.1.3	<victim@evil.test%example.org>
	553 5.1.3	<victim@example.org.>
	553 5.1.3	<victim@evil.test,x@example.org>
	553 5.1.3	victim@evil.test,x@example.org
	553 5.1.3	<x@example.org,victim@evil.test>
	553 5.1.3	<victim@evil.test,@example.org:x@example.org>
	550 5.7.1	<victim%evil.test@example.org>
	550 5.7.1	<VICTIM%EVIL.TEST@EXAMPLE.ORG>
	550 5.7.1	<victim%evil.test%example.org@example.org>
	550 5.7.1	<@example.org:victim%evil.test@example.org>
	550 5.7.1	<"victim%evil.test"@example.org>
	550 5.7.1	<evil.test!victim@example.org>
	550 5.7.1	<"evil.test!victim"@example.org>
	553 5.1.3	<evil.test!victim>
	553 5.1.3	<victim@evil.test@example.org>
	553 5.1.3	victim@evil.test@example.org
	553 5.1.3	<"victim@evil.test"@example.org>
	553 5.1.3	<"victim\@evil.test"@example.org>
	553 5.1.3	<victim\@evil.test@example.org>
	553 5.1.3	<victim@evil.test\@example.org>
	553 5.1.3	<victim@evil.test(x)@example.org>
	553 5.1.3	<victim(x)@example.org>
	553 5.1.3	<(x)victim%evil.test@example.org>
	555 5.5.4	<victim@evil.test> x@example.org
	501 5.5.4	<victim@evil.test>@example.org
	501 5.5.4	<<victim@evil.test>@example.org>
	553 5.1.3	<"<victim@evil.test>"@example.org>
	553 5.1.3	<victim<x@example.org>
	553 5.1.3	<victim;x@example.org>
	553 5.1.3	<"victim;x"@example.org>
	553 5.1.3	<:include:/etc/passwd@example.org>
	553 5.1.3	<":include:/etc/passwd"@example.org>
	553 5.1.3	<victim>
	553 5.1.3	<"victim@evil.test">
	EOF
}

# relay_form_tests MAILDROP...: one test a form. Each session gives the
# form, then a plain second recipient (markerN@example.org), then the
# message of form N, through smtpd -a example.org MAILDROP.
relay_form_tests() {
	local n=0 code form rcpt_postfix rcpt_exim
	MAILDROP=("$@")
	FORMS=$TRASH/forms
	relay_forms >"$FORMS"
	while IFS=$'\t' read -r code form rcpt_postfix rcpt_exim; do
		n=$((n + 1))
		FORM_CODE[$n]=$code
		FORM_RCPT_POSTFIX[$n]=$rcpt_postfix
		FORM_RCPT_EXIM[$n]=$rcpt_exim
		FORM=$form N=$n CODE=$code
		test_expect_success "RCPT TO:$form gets $code" '
			{
				printf "HELO client.example\nMAIL FROM:<s$N@notices.test>\n"
				printf "RCPT TO:%s\nRCPT TO:<marker$N@example.org>\nDATA\n" "$FORM"
				form_message $N | sed "s/^\./../"
				printf ".\nQUIT\n"
			} | session -a example.org "${MAILDROP[@]}" &&
			printf "220\n250\n250\n$CODE\n250\n354\n250\n221\n" >expect &&
			awk "NR == 4 { print substr(\$0, 1, 9); next }
				{ print substr(\$0, 1, 3) }" out >actual &&
			diff -u expect actual
		'
	done <"$FORMS"
	FORM_COUNT=$n
}

# relay_form_checks postfix|exim: after the MTA has delivered everything:
# nothing reached the relay sink, no notice was sent, and example.org's
# sink got every message, byte for byte, with exactly the recipients
# smtpd accepted.
relay_form_checks() {
	MTA=$1
	test_expect_success "$MTA: nothing reached the relay sink" '
		[ "$(sink_count relay)" = 0 ] || {
			cat "$(sink_dir relay)"/*.env
			fail "$(sink_count relay) messages were relayed"
		}
	'
	test_expect_success "$MTA: no bounce and no notice to the postmaster" '
		[ "$(sink_count notices)" = 0 ] || {
			cat "$(sink_dir notices)"/*.env
			fail "$(sink_count notices) notices"
		}
	'
	test_expect_success "$MTA: example.org got every message, with exactly the recipients smtpd accepted" '
		for n in $(seq $FORM_COUNT); do
			msgs=$(sink_find accepted "Subject: form $n") &&
			[ -n "$msgs" ] || { fail "form $n: no message"; continue; }
			if [ $MTA = postfix ]; then
				rcpt=${FORM_RCPT_POSTFIX[$n]}
			else
				rcpt=${FORM_RCPT_EXIM[$n]}
			fi
			{
				echo "marker$n@example.org"
				[ "${FORM_CODE[$n]}" = "250 2.1.5" ] && echo "$rcpt"
			} | sort >expect.$n
			for m in $msgs; do sink_rcpts accepted $m; done | sort >actual.$n
			diff -u expect.$n actual.$n || fail "form $n: recipients differ"
			for m in $msgs; do
				[ "$(sink_sender accepted $m)" = "s$n@notices.test" ] ||
					fail "form $n: sender $(sink_sender accepted $m)"
				form_message $n >msg.$n &&
				sink_body accepted $m | cmp - msg.$n ||
					fail "form $n: message $m differs"
			done
		done 2>&1 | tee problems &&
		[ ! -s problems ]
	'
}
