#!/bin/bash
# The Debian package (debian/): it builds with dpkg-buildpackage from a copy
# of the work tree, lintian finds nothing, it holds what it should, and in
# a container with systemd as PID 1 (test/lib-nspawn.sh) it installs
# without enabling anything, is stopped by a removal and leaves nothing
# after a purge, but the mail it received. About 20 s after the one-time
# OS tree.
. "$(dirname "$0")/lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] && test_skip_all "real-server tests run in the plain make check"
test_have_prereq EXPENSIVE || test_skip_all "set SMTPD_TEST_EXPENSIVE=1"
. "$TEST_DIR/lib-nspawn.sh"
for c in dpkg-buildpackage dh git; do
	command -v $c >/dev/null || test_skip_all "no $c"
done

T0=$SECONDS
nspawn_build_deb "$TRASH/deb" >"$TRASH/deb.out" 2>&1
DEB=${NSPAWN_DEB:-}
T_BUILD=$((SECONDS - T0))
test_expect_success 'dpkg-buildpackage builds it, leaving the work tree as it was' '
	cat "$TRASH/deb.out" && [ -f "$DEB" ] &&
	[ -z "$(ls "$SRC_DIR"/../smtpd_* 2>/dev/null)" ] &&
	! ls "$SRC_DIR"/debian | grep -E "^(files|smtpd|tmp|\.debhelper|debhelper-build-stamp|.*\.substvars|.*\.log)$"
'
[ -f "$DEB" ] || test_done

test_expect_success LINTIAN 'lintian: no error, no warning, nothing informational or pedantic' '
	lintian -EIL +pedantic "$DEB" >lintian.out 2>&1
	rc=$?
	grep -v "^running with root privileges is not recommended!$" lintian.out >tags
	cat tags && [ $rc = 0 ] && [ ! -s tags ]
'

test_expect_success 'the package holds the programs, the manuals, the units, the xinetd file' '
	dpkg-deb -c "$DEB" | awk "{ print \$1, \$6 }" | grep -v "^d" | sort -k 2 >contents &&
	cat contents &&
	for f in "-rwxr-xr-x ./usr/sbin/smtpd" "-rwxr-xr-x ./usr/bin/maildir-deliver" \
		"-rw-r--r-- ./usr/share/man/man8/smtpd.8.gz" \
		"-rw-r--r-- ./usr/share/man/man1/maildir-deliver.1.gz" \
		"-rw-r--r-- ./lib/systemd/system/smtpd.socket" \
		"-rw-r--r-- ./lib/systemd/system/smtpd@.service" \
		"-rw-r--r-- ./etc/xinetd.d/smtpd" \
		"-rw-r--r-- ./usr/share/doc/smtpd/copyright"; do
		grep -qxF -- "$f" contents || fail "missing: $f" || exit 1
	done &&
	for u in $(sed -n "s,.* \./lib/systemd/system/,,p" contents); do
		[ -f "$SRC_DIR/etc/systemd/$u" ] || fail "unit $u is not in etc/systemd" || exit 1
	done &&
	! grep -vE " \./((usr/sbin|usr/bin|usr/share/man/man[1-8]|usr/share/doc/smtpd|lib/systemd/system)/[^/]+|etc/.+)$" contents &&
	dpkg-deb -x "$DEB" root &&
	grep -qx "ExecStart=/usr/sbin/smtpd -a example.org /usr/bin/maildir-deliver /var/lib/smtpd/Maildir" \
		root/lib/systemd/system/smtpd@.service &&
	! grep -rq /usr/local root &&
	[ "$(dpkg-deb -f "$DEB" Depends)" != "" ] &&
	dpkg-deb -e "$DEB" control &&
	grep -qx /etc/xinetd.d/smtpd control/conffiles &&
	! grep -v "^/etc/" control/conffiles
'

test_expect_success 'the xinetd services are shipped disabled, otherwise as in etc/xinetd.d' '
	dpkg-deb -x "$DEB" root &&
	for f in root/etc/xinetd.d/*; do
		grep -Eq "^[[:space:]]*disable[[:space:]]*=[[:space:]]*yes[[:space:]]*$" "$f" ||
			fail "$f is not disabled" || exit 1
	done &&
	cp root/etc/xinetd.d/smtpd xinetd &&
	grep -qx "	disable		= yes" xinetd &&
	sed "s,/usr/local/,/usr/,g; s,^\(	disable		= \)no$,\1yes," \
		"$SRC_DIR/etc/xinetd.d/smtpd" | diff -u - xinetd
'

if ! nspawn_available; then
	echo "# container tests skipped: $NSPAWN_WHY"
	test_done
fi
nspawn_boot >"$TRASH/boot.out" 2>&1
BOOTED=$?
test_expect_success 'systemd boots as PID 1 in the container' '
	cat "$TRASH/boot.out" "$NSPAWN_LOG" && [ "$BOOTED" = 0 ]
'
[ "$BOOTED" = 0 ] || test_done

# Every path on the container's root file system, with type, mode and
# owner (not /proc, /sys, /dev, /run or /tmp: other file systems).
snapshot() {
	ct find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \) \
		-prune -o -printf "%y %m %u:%g %p\n" | sort
}

deliver_one() {
	printf "Subject: kept\n\nmail\n" >msg &&
	ct_net python3 "$TEST_DIR/bin/smtplib-client.py" 127.0.0.1 25 msg \
		a@example.org b@example.org >py.out &&
	for i in $(seq 100); do
		[ -n "$(ct ls /var/lib/private/smtpd/Maildir/new)" ] && return 0
		sleep 0.1
	done
	false
}

test_expect_success 'install, purge: not a file more or less than before' '
	snapshot >before &&
	nspawn_install_deb "$DEB" >install.out 2>&1 && cat install.out &&
	[ "$(ct systemctl is-enabled smtpd.socket)" = disabled ] &&
	! ct systemctl is-active smtpd.socket &&
	[ -z "$(ct_net ss -Hltn)" ] &&
	ct dpkg -P smtpd && snapshot >after &&
	diff -u before after
'

test_expect_success 'in use, then removed: stopped, nothing listens; purged: nothing left' '
	snapshot >before &&
	nspawn_install_deb "$DEB" >/dev/null &&
	ct systemctl enable --now smtpd.socket && deliver_one &&
	ct sh -c "rm /var/lib/private/smtpd/Maildir/new/*" &&
	ct dpkg -r smtpd &&
	! ct systemctl is-active smtpd.socket &&
	[ -z "$(ct_net ss -Hltn)" ] &&
	ct test -f /etc/xinetd.d/smtpd &&
	ct dpkg -P smtpd && snapshot >after &&
	diff -u before after &&
	[ "$(ct systemctl is-system-running)" = running ]
'

test_expect_success 'purged with mail in the Maildir: the mail stays, and nothing else' '
	snapshot >before &&
	nspawn_install_deb "$DEB" >/dev/null &&
	ct systemctl enable --now smtpd.socket && deliver_one &&
	ct dpkg -P smtpd && snapshot >after &&
	diff before after | sed -n "s/^> //p" >left &&
	cat left &&
	! diff before after | grep "^<" &&
	! grep -vE " (/var/lib/private/smtpd(/Maildir(/(cur|new|tmp)(/[^/]+)?)?)?|/var/lib/smtpd)$" left &&
	grep -q "^f 600 .* /var/lib/private/smtpd/Maildir/new/" left &&
	! ct_net ss -Hltn | grep -q .
'

T0=$SECONDS
nspawn_poweroff
echo "# build ${T_BUILD}s, waited ${NSPAWN_LOCK_SECONDS:-?}s for the lock, boot ${NSPAWN_BOOT_SECONDS:-?}s, power-off $((SECONDS - T0))s, all ${SECONDS}s"
test_done
