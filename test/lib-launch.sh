# test/lib-launch.sh - for the launcher tests: start a real launcher on a
# loopback port, deliver through it with real clients, stop it by PID.
# Sourced after lib.sh.

LAUNCHER_PID=
trap 'stop_launcher; rm -rf "$TRASH"' EXIT

stop_launcher() {
	[ -n "$LAUNCHER_PID" ] || return 0
	kill "$LAUNCHER_PID" 2>/dev/null
	wait "$LAUNCHER_PID" 2>/dev/null
	LAUNCHER_PID=
}

# The maildrop the launchers run: records argv (%F then %T) and message.
DROPS=$TRASH/drops
mkdir -p "$DROPS"
export DROP_DIR=$DROPS

# A message with a dot-stuffed line and a line that is only a dot.
make_message() {
	printf 'From: a@example.org\nTo: b@example.org\nSubject: %s\n\nline one\n.\n..two dots\nlast line\n' "$1" >"$2"
}

# The newest delivery: N.msg and N.argv in $DROPS.
last_drop() {
	ls "$DROPS" | sed -n 's/^\([0-9]*\)\.msg$/\1/p' | sort -n | tail -n 1
}

# check_drop FILE SENDER RCPT... ADDR: the newest delivery is FILE, byte for
# byte, with argv SENDER RCPT..., and its Received: names [ADDR].
check_drop() {
	local file=$1 n
	shift
	n=$(last_drop) && [ -n "$n" ] || { fail "no delivery"; return 1; }
	local addr=${!#}
	tail -n +4 "$DROPS/$n.msg" | cmp - "$file" ||
		{ fail "message $n differs"; return 1; }
	printf '%s\n' "${@:1:$#-1}" | diff -u - "$DROPS/$n.argv" || return 1
	head -n 1 "$DROPS/$n.msg" | grep -q " \[$addr\])$" ||
		fail "Received: without [$addr]: $(head -n 1 "$DROPS/$n.msg")"
}

# swaks HOST PORT ADDR [swaks options]: one delivery, checked.
deliver_swaks() {
	local host=$1 port=$2 addr=$3
	shift 3
	make_message swaks msg &&
	# swaks sends CR LF . CR LF after the data: without the last newline.
	head -c -1 msg >data &&
	swaks --server "$host" --port "$port" --helo swaks.example \
		--from a@example.org --to b@example.org,c@example.org \
		--data @data --timeout 20 "$@" >swaks.out 2>&1 ||
		{ cat swaks.out; return 1; }
	grep -q "<-  250-mx.example Hello unknown \[$addr\]" swaks.out ||
		{ cat swaks.out; fail "greeting without [$addr]"; } &&
	grep -q "<-  250 2.0.0 Ok: message accepted" swaks.out &&
	check_drop msg a@example.org b@example.org c@example.org "$addr"
}

# smtplib HOST PORT ADDR: three recipients, then a 5 MB message.
deliver_smtplib() {
	local host=$1 port=$2 addr=$3
	make_message smtplib msg &&
	python3 "$TEST_DIR/bin/smtplib-client.py" "$host" "$port" msg \
		s@example.org r1@example.org r2@example.org r3@example.org >py.out &&
	grep -q "greeting: 250-mx.example Hello unknown \[$addr\]" py.out &&
	check_drop msg s@example.org r1@example.org r2@example.org r3@example.org "$addr" &&
	python3 -c '
import sys
with open("big", "w") as f:
    f.write("Subject: big\n\n")
    for i in range(70000):
        f.write(("." if i % 5 == 0 else "") + "%08d " % i + "z" * 64 + "\n")
' && [ "$(wc -c <big)" -gt 5000000 ] &&
	python3 "$TEST_DIR/bin/smtplib-client.py" "$host" "$port" big \
		s@example.org big@example.org >py.out &&
	check_drop big s@example.org big@example.org "$addr"
}

# curl HOST PORT ADDR: curl's own SMTP client, --crlf makes the line ends.
deliver_curl() {
	local host=$1 port=$2 addr=$3 url_host=$1
	case $host in *:*) url_host="[$host]" ;; esac
	make_message curl msg &&
	curl -sS -v --max-time 20 --crlf \
		--url "smtp://$url_host:$port/curl.example" \
		--mail-from a@example.org --mail-rcpt b@example.org \
		--mail-rcpt c@example.org -T msg >curl.out 2>&1 ||
		{ cat curl.out; return 1; }
	grep -q "< 250-mx.example Hello unknown \[$addr\]" curl.out &&
	check_drop msg a@example.org b@example.org c@example.org "$addr"
}

# test_real_clients HOST PORT ADDR [LABEL]: the deliveries every launcher
# must carry: swaks, swaks --pipeline, smtplib (three recipients, then
# 5 MB) and curl, each checked byte for byte.
test_real_clients() {
	local host=$1 port=$2 addr=$3 label=${4:-}
	test_expect_success SWAKS "swaks$label" "
		deliver_swaks $host $port $addr
	"
	test_expect_success SWAKS "swaks --pipeline$label" "
		deliver_swaks $host $port $addr --pipeline &&
		grep -q PIPELINING swaks.out
	"
	test_expect_success "Python smtplib: three recipients, then 5 MB$label" "
		deliver_smtplib $host $port $addr
	"
	test_expect_success CURL "curl$label" "
		deliver_curl $host $port $addr
	"
}
