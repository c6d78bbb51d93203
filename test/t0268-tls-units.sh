#!/bin/bash
# The shipped TLS service files, read without running them: systemd accepts
# the units; smtpd-tls@.service and smtps@.service keep every line of
# smtpd@.service's sandbox but those tlswrapper cannot run under (it starts
# as root, jails itself and runs smtpd as -u); the sockets have
# smtpd.socket's limits; the xinetd service keeps tlswrapper quiet, as its
# standard error is the client's socket. t0267 runs them under systemd.
. "$(dirname "$0")/lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] && test_skip_all "no smtpd runs here: the plain make check has it"
UNITS=$SRC_DIR/etc/systemd

# The lines of a unit from its first sandbox setting on, comments left out.
sandbox() {
	sed -n '/^NoNewPrivileges=/,$p' "$1" | grep -v '^#'
}

test_expect_success SYSTEMD_ANALYZE 'systemd-analyze verify accepts the four TLS units' '
	command -v tlswrapper >/dev/null || { echo "no tlswrapper: ExecStart= names it"; false; } &&
	(cd "$UNITS" && systemd-analyze verify --man=no ./smtpd-tls.socket \
		./smtpd-tls@.service ./smtps.socket ./smtps@.service) >verify 2>&1 ||
		{ cat verify; false; }
'

for unit in smtpd-tls@.service smtps@.service; do
	test_expect_success "$unit keeps smtpd@.service's sandbox but for what tlswrapper needs" '
		sandbox "$UNITS/smtpd@.service" | grep -v "^PrivateUsers=\|^CapabilityBoundingSet=" >expect &&
		sandbox "$UNITS/'$unit'" >actual.all &&
		grep -vx "CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_SYS_CHROOT" actual.all |
			grep -vx "SystemCallFilter=chroot setgroups setuid" >actual &&
		diff -u expect actual &&
		! grep -q "^PrivateUsers=\|^User=\|^DynamicUser=" "$UNITS/'$unit'"
	'
	test_expect_success SYSTEMD_ANALYZE "$unit: exposure at most 2.2 (smtpd@.service: 1.1)" '
		systemd-analyze security --offline=true "$UNITS/'$unit'" >score 2>&1 &&
		grep -qE "Overall exposure level for .*: (0\.[0-9]|1\.[0-9]|2\.[0-2]) " score ||
			{ tail -n 1 score; false; }
	'
done

test_expect_success 'the TLS sockets have the limits of smtpd.socket' '
	for socket in smtpd-tls.socket smtps.socket; do
		grep -E "^(MaxConnections|MaxConnectionsPerSource|NoDelay|Accept|TriggerLimitIntervalSec)=" \
			"$UNITS/smtpd.socket" | sort >expect &&
		grep -E "^(MaxConnections|MaxConnectionsPerSource|NoDelay|Accept|TriggerLimitIntervalSec)=" \
			"$UNITS/$socket" | sort >actual &&
		diff -u expect actual || return 1
	done &&
	grep -qx "ListenStream=25" "$UNITS/smtpd-tls.socket" &&
	grep -qx "ListenStream=465" "$UNITS/smtps.socket"
'

test_expect_success 'STARTTLS on 25: tlswrapper -n and smtpd -S; implicit TLS on 465: neither' '
	grep -q "^ExecStart=/usr/bin/tlswrapper -n .* /usr/local/sbin/smtpd -S " "$UNITS/smtpd-tls@.service" &&
	grep "^ExecStart=" "$UNITS/smtps@.service" >exec &&
	! grep -q " -n \| -S " exec &&
	grep -q " -u smtpd-tls " exec
'

test_expect_success 'xinetd smtps: root starts tlswrapper, -q, smtpd as -u smtpd-tls' '
	grep -qE "^	user[	 ]+= root$" "$SRC_DIR/etc/xinetd.d/smtps" &&
	grep -qE "^	server_args[	 ]+= -q .*-u smtpd-tls /usr/local/sbin/smtpd " "$SRC_DIR/etc/xinetd.d/smtps" &&
	grep -v "^#" "$SRC_DIR/etc/xinetd.d/smtps" >service &&
	! grep -q "smtpd -S\| -n " service
'

test_done
