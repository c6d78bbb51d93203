#!/bin/bash
# The man page's line with Exim 4.96 as the next hop:
#   smtpd -a example.org exim4 -odi -oi -f %F -- %T
# Exim, unpacked from Debian's packages, with a private configuration:
# example.org is its local domain, delivered to the "accepted" sink; every
# other domain goes to the "relay" sink. Exim reads each argument as an
# address list too, so a comma in one RCPT would make two recipients.
# Then what Exim's exit codes become: an unknown user at example.org, and
# a spool that is full.
. "$(dirname "$0")/lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] &&
	test_skip_all "real-server tests run in the plain make check"
test_have_prereq NAMESPACE || test_skip_all "needs root and unshare -mn"
test_have_prereq EXPENSIVE || test_skip_all "takes some 25 s: set SMTPD_TEST_EXPENSIVE=1"
. "$TEST_DIR/lib-mta.sh"
if [ -z "${SMTPD_MTA_WORLD:-}" ]; then
	exim_unpack || test_skip_all "cannot download $EXIM_PACKAGES (apt-get download)"
fi
mta_private_world "$@" || { echo "Bail out! no private namespace"; exit 1; }
exim_unpack || { echo "Bail out! no Exim"; exit 1; }

# exim_config NAME [LINE...]: the configuration, in $TRASH/exim-NAME,
# with LINEs added to its main section. example.org has one unknown user,
# nouser.
exim_config() {
	local name=$1
	shift
	exim_setup "$name" < <(
		[ $# -gt 0 ] && printf '%s\n' "$@"
		cat <<-EOF
		primary_hostname = mx.example
		exim_path = @EXIM@
		keep_environment = LD_LIBRARY_PATH
		spool_directory = @D@/spool
		log_file_path = @D@/log/%slog
		host_lookup = !*
		rfc1413_hosts = !*
		domainlist local_domains = example.org
		qualify_domain = example.org
		trusted_users = root
		begin routers
		notices:
		  driver = manualroute
		  domains = notices.test
		  route_list = * 127.0.0.1
		  self = send
		  transport = to_notices
		accepted:
		  driver = accept
		  domains = +local_domains
		  local_parts = ! nouser
		  transport = to_accepted
		relay:
		  driver = manualroute
		  domains = ! +local_domains
		  route_list = * 127.0.0.1
		  self = send
		  transport = to_relay
		begin transports
		to_accepted:
		  driver = smtp
		  hosts = 127.0.0.1
		  port = $SINK_PORT_ACCEPTED
		  allow_localhost
		  hosts_avoid_tls = *
		to_relay:
		  driver = smtp
		  port = $SINK_PORT_RELAY
		  allow_localhost
		  hosts_avoid_tls = *
		to_notices:
		  driver = smtp
		  port = $SINK_PORT_NOTICES
		  allow_localhost
		  hosts_avoid_tls = *
		EOF
	)
}

# exim_settled: Exim's queue is empty (waits at most 30 s).
exim_settled() {
	local i
	for i in $(seq 60); do
		[ "$(exim_run -bpc 2>/dev/null)" = 0 ] && return 0
		sleep 0.5
	done
	exim_run -bp >&2
	fail "Exim's queue did not empty in 30 s"
}

start_sink accepted && start_sink relay && start_sink notices &&
	exim_config relay || { echo "Bail out! no sinks"; exit 1; }

relay_form_tests env "$EXIM_ENV" "$EXIM" -C "$EXIM_CONF" -odi -oi -f %F -- %T

test_expect_success 'Exim delivered everything it was given' '
	exim_settled
'

relay_form_checks exim

# exim_session FROM RCPT FILE [exim options]: one message through smtpd
# into Exim; the replies in out.
exim_session() {
	local from=$1 rcpt=$2 file=$3
	shift 3
	{
		printf 'HELO client.example\nMAIL FROM:<%s>\nRCPT TO:<%s>\nDATA\n' "$from" "$rcpt"
		sed 's/^\./../' "$file"
		printf '.\nQUIT\n'
	} | session -a example.org env "$EXIM_ENV" "$EXIM" -C "$EXIM_CONF" \
		-odi -oi "$@" -f %F -- %T
}

test_expect_success 'an unknown user at example.org: Exim exits 0 and bounces, so 250' '
	printf "Subject: nouser\n\nto nobody\n" >msg &&
	exim_session s-nouser@notices.test nouser@example.org msg &&
	printf "220\n250\n250\n250\n354\n250\n221\n" >expect &&
	cut -c1-3 out >actual &&
	diff -u expect actual &&
	exim_settled &&
	[ -z "$(sink_find accepted "Subject: nouser")" ] &&
	[ -z "$(sink_find relay "Subject: nouser")" ] &&
	bounce=$(sink_find notices "Subject: nouser") &&
	[ -n "$bounce" ] &&
	[ "$(sink_rcpts notices $bounce)" = s-nouser@notices.test ] &&
	grep -q "^MAIL FROM:<>" "$(sink_dir notices)/$bounce.env" &&
	grep -q "nouser@example.org" "$(sink_dir notices)/$bounce.msg"
'

# full_spool NAME FREE-KB [LINE...]: Exim NAME whose spool is a tmpfs of
# 256 KiB with FREE-KB left.
full_spool() {
	local name=$1 free=$2
	shift 2
	exim_config "$name" "$@" &&
	mount -t tmpfs -o size=256k,mode=0755 tmpfs "$EXIM_DIR/spool" &&
	chown Debian-exim:Debian-exim "$EXIM_DIR/spool" &&
	dd if=/dev/zero of="$EXIM_DIR/spool/fill" bs=1k count=$((256 - free)) 2>/dev/null
	[ "$(df -k --output=avail "$EXIM_DIR/spool" | tail -n 1 | tr -d " ")" = "$free" ]
}

# big_message FILE: about 200 KB.
big_message() {
	python3 -c "
print(\"Subject: big\n\")
for i in range(2800):
    print(\"%06d \" % i + \"x\" * 64)" >"$1"
}

# Exim checks the spool's free space (check_spool_space, 10M by default)
# before it takes a message, and exits 1.
test_expect_success 'a full spool: Exim exits 1, so 451, nothing stored' '
	full_spool full 0 &&
	big_message msg &&
	before=$(sink_count accepted) &&
	exim_session s@notices.test big@example.org msg &&
	umount "$EXIM_DIR/spool" &&
	printf "220\n250\n250\n250\n354\n451\n221\n" >expect &&
	cut -c1-3 out >actual &&
	diff -u expect actual &&
	grep -q "^451 4.3.0" out &&
	[ "$(sink_count accepted)" = "$before" ] &&
	[ -z "$(find "$EXIM_DIR/spool" -type f)" ]
'

# Without that check, the spool fills while Exim writes the message: it
# abandons it, removes what it wrote, and exits 1.
test_expect_success 'a spool that fills up during the write: 451, nothing half-stored' '
	full_spool filling 64 "check_spool_space = 0" &&
	big_message msg &&
	before=$(sink_count accepted) &&
	exim_session s@notices.test big@example.org msg &&
	left=$(find "$EXIM_DIR/spool" -type f ! -name fill) &&
	grep -q "Spool write error (No space left on device)" "$EXIM_DIR/log/mainlog" &&
	umount "$EXIM_DIR/spool" &&
	printf "220\n250\n250\n250\n354\n451\n221\n" >expect &&
	cut -c1-3 out >actual &&
	diff -u expect actual &&
	[ "$(sink_count accepted)" = "$before" ] &&
	[ -z "$left" ] || fail "left in the spool: $left"
'

test_done
