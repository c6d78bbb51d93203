#!/bin/bash
# The man page's line with a real Postfix behind it:
#   smtpd -a example.org /usr/sbin/sendmail -i -f %F -- %T
# Postfix's sendmail trusts its caller: it relays anything, reads each
# argument as an address list (commas, comments, angle brackets) and
# routes by the percent hack, bang paths and dequoted local parts. So what
# smtpd lets through -a is all that stands between a client and an open
# relay. Every routing form below goes through smtpd into a private
# Postfix (mydestination = example.org, delivered to the "accepted" sink;
# every other route to the "relay" sink); afterwards nothing may have
# reached the relay sink, and each message must have reached example.org's
# sink with exactly the recipients smtpd accepted, byte for byte.
. "$(dirname "$0")/lib.sh"

[ -n "${SMTPD_INSTRUMENTED:-}" ] &&
	test_skip_all "real-server tests run in the plain make check"
test_have_prereq NAMESPACE || test_skip_all "needs root and unshare -mn"
command -v postfix >/dev/null && [ -x /usr/sbin/sendmail ] &&
	postconf -d mail_version >/dev/null 2>&1 ||
	test_skip_all "no Postfix (apt-get install postfix)"
. "$TEST_DIR/lib-mta.sh"
mta_private_world "$@" || { echo "Bail out! no private namespace"; exit 1; }

start_sink accepted && start_sink relay && start_sink notices &&
	postfix_setup && postfix_start ||
	{ echo "Bail out! Postfix did not start"; exit 1; }

relay_form_tests /usr/sbin/sendmail -i -f %F -- %T

test_expect_success 'Postfix delivers everything it was given' '
	postfix_flush
'

relay_form_checks postfix

test_done
