#!/bin/bash
# The shipped TLS units under a real systemd (PID 1 in a systemd-nspawn
# container with a network of its own): smtpd-tls.socket (port 25, STARTTLS
# through tlswrapper -n) and smtps.socket (port 465, implicit TLS), as
# installed from etc/systemd/, unchanged but for the paths of the build.
# swaks delivers through each into the Maildir of the units; the message is
# stored byte for byte, owned by the smtpd user, and smtpd ran as smtpd, not
# root, under tlswrapper's jail.
. "$(dirname "$0")/lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] && test_skip_all "real-server tests run in the plain make check"
test_have_prereq EXPENSIVE || test_skip_all "set SMTPD_TEST_EXPENSIVE=1"
test_have_prereq SWAKS || test_skip_all "no swaks"
command -v tlswrapper >/dev/null || test_skip_all "no tlswrapper"
. "$TEST_DIR/lib-nspawn.sh"
nspawn_require

# The units name /usr/local; tlswrapper comes from the host, with its
# library and its jail directory, as the Debian package would put them.
nspawn_boot || test_skip_all "the container did not boot"
ROOT=/proc/$NSPAWN_INIT/root
BEARSSL=$(ldd /usr/bin/tlswrapper | awk '/libbearssl/ { print $3 }')

test_expect_success 'the units install, and both sockets listen' '
	install -m 755 "$SMTPD" "$ROOT/usr/local/sbin/smtpd" &&
	install -m 755 "$SRC_DIR/etc/maildir-deliver" "$ROOT/usr/local/bin/maildir-deliver" &&
	install -m 755 /usr/bin/tlswrapper "$ROOT/usr/bin/tlswrapper" &&
	cp -L "$BEARSSL" "$ROOT$BEARSSL" &&
	install -d -m 755 "$ROOT/var/lib/tlswrapper/empty" &&
	for f in smtpd-tls.socket smtpd-tls@.service smtps.socket smtps@.service; do
		cp "$SRC_DIR/etc/systemd/$f" "$ROOT/etc/systemd/system/$f" || return 1
	done &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout key.pem -out cert.pem -days 2 -subj /CN=mx.example \
		-addext subjectAltName=DNS:mx.example 2>/dev/null &&
	install -d -m 700 "$ROOT/etc/smtpd" &&
	cat key.pem cert.pem >"$ROOT/etc/smtpd/tls.pem" &&
	chmod 600 "$ROOT/etc/smtpd/tls.pem" &&
	ct useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin smtpd-tls &&
	ct systemctl daemon-reload &&
	ct systemctl start smtpd-tls.socket smtps.socket &&
	ct systemctl is-active smtpd-tls.socket smtps.socket &&
	ct_net ss -Hltn >ss &&
	grep -q ":25 " ss && grep -q ":465 " ss
'

# deliver NAME PORT SWAKS-TLS-OPTION: one message, checked in the Maildir.
deliver() {
	local maildir=$ROOT/var/lib/smtpd-tls/Maildir/new n
	printf "From: a@example.org\nSubject: %s\n\nline one\n.\n..two dots\nlast line\n" "$1" >msg &&
	# swaks ends DATA with CR LF . CR LF after the file: no final newline.
	head -c -1 msg >data &&
	ct_net swaks --server 127.0.0.1 --port "$2" "$3" --helo swaks.example \
		--from a@example.org --to b@example.org --data @data \
		--timeout 20 >swaks.out 2>&1 || { cat swaks.out; return 1; }
	grep -q "^<[-~]  250 2.0.0" swaks.out || { cat swaks.out; return 1; }
	n=$(grep -l "^Subject: $1\$" "$maildir"/* 2>/dev/null | head -n 1) &&
	[ -n "$n" ] || { fail "no message $1 in the Maildir"; return 1; }
	tail -n +4 "$n" | cmp - msg || { cat "$n"; fail "message $1 differs"; return 1; }
	head -n 3 "$n" | tr -d "\n" >received &&
	[ "$(stat -c %u "$n")" = "$(ct id -u smtpd-tls)" ] || fail "owned by uid $(stat -c %u "$n")"
}

test_expect_success 'port 25, STARTTLS: swaks --tls delivers, Received: says ESMTPS' '
	deliver starttls 25 --tls &&
	grep -q "^<-  220 2.0.0 Ready to start TLS" swaks.out &&
	grep -q "TLS started with cipher TLSv1.2" swaks.out &&
	grep -q " with ESMTPS;" received &&
	grep -q "\[127.0.0.1\]" received
'

test_expect_success 'port 465, implicit TLS: swaks --tlsc delivers' '
	deliver implicit 465 --tlsc &&
	grep -q "TLS started with cipher TLSv1.2" swaks.out &&
	grep -q " with ESMTP;" received &&
	grep -q "\[127.0.0.1\]" received
'

test_expect_success 'smtpd ran as smtpd-tls; the state directory is root:smtpd-tls 0770' '
	[ "$(stat -c "%u:%g %a" "$ROOT/var/lib/smtpd-tls")" = "0:$(ct id -g smtpd-tls) 770" ] &&
	ct journalctl --no-pager -o cat -u "smtpd-tls@*" -u "smtps@*" >journal &&
	! grep -i "fatal\|failed" journal
'

test_expect_success 'a connection that never starts TLS on 465 ends, nothing stored' '
	before=$(ls "$ROOT/var/lib/smtpd-tls/Maildir/new" | wc -l) &&
	ct_net timeout 60 python3 -c "
import socket, sys
s = socket.create_connection((\"127.0.0.1\", 465), timeout=50)
s.sendall(b\"EHLO plain\r\nMAIL FROM:<a@b>\r\n\")
try:
    while s.recv(4096):
        pass
except ConnectionResetError:
    pass
" &&
	after=$(ls "$ROOT/var/lib/smtpd-tls/Maildir/new" | wc -l) &&
	[ "$before" = "$after" ]
'

nspawn_poweroff
test_done
