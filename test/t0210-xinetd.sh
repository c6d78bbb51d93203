#!/bin/bash
# xinetd runs smtpd with the client's socket on stdin, stdout and stderr.
# Real clients deliver through it; and, since stderr is the socket here,
# every error path is provoked to show that nothing but reply lines ever
# reaches the client.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-launch.sh"

command -v xinetd >/dev/null || test_skip_all "no xinetd"
[ "$(id -u)" = 0 ] || test_skip_all "xinetd tests run as root"

# start_xinetd PORT SERVER_ARGS...: a service on 127.0.0.1:PORT.
start_xinetd() {
	local port=$1
	shift
	cat >"$TRASH/xinetd.conf" <<-CONF
	defaults
	{
		log_type = FILE $TRASH/xinetd.log
	}
	service smtpd-test
	{
		type = UNLISTED
		port = $port
		bind = 127.0.0.1
		socket_type = stream
		protocol = tcp
		wait = no
		user = root
		server = $SMTPD
		server_args = $*
		env = DROP_DIR=$DROPS
		instances = 20
		per_source = 20
		cps = 200 1
	}
	CONF
	xinetd -dontfork -f "$TRASH/xinetd.conf" -pidfile "$TRASH/xinetd.pid" \
		>"$TRASH/xinetd.out" 2>&1 &
	LAUNCHER_PID=$!
	wait_listening "$port"
}

PORT=$(free_port)
start_xinetd "$PORT" -R -n mx.example -- "$RECORD" %F %T ||
	test_skip_all "xinetd did not listen: $(cat "$TRASH/xinetd.out")"

test_real_clients 127.0.0.1 $PORT 127.0.0.1
stop_launcher

# raw_tcp PORT: sends stdin, reads until the server closes (at most 20 s).
raw_tcp() {
	python3 "$TEST_DIR/bin/tcp-exchange.py" 127.0.0.1 "$1"
}

# Each case: the maildrop and input that provoke an error path, and the
# last reply expected. A maildrop writes to stdout and stderr, one is
# missing, one dies, one hangs past -m; bad commands, a bad message, and a
# client that stops sending (-t 1).
error_path() {
	local name=$1 last=$2 input=$3
	shift 3
	test_expect_success "only replies reach the client: $name" '
		port=$(free_port) &&
		start_xinetd $port -R -n mx.example -t 1 -m 1 -- '"$*"' &&
		printf "'"$input"'" | raw_tcp $port >got &&
		stop_launcher &&
		check_reply_lines got &&
		! grep -q fake got &&
		grep -q "^'"$last"'" got || { cat got; false; }
	'
}
# xinetd splits server_args at spaces, with no quoting: the maildrops
# that misbehave are scripts of their own.
script() {
	printf '#!/bin/sh\n%s\n' "$2" >"$TRASH/$1" && chmod +x "$TRASH/$1"
}
script noisy-ok 'echo 250 fake-out; echo 250 fake-err >&2; cat; exit 0'
script noisy-fail 'echo 250 fake-out; echo 250 fake-err >&2; exit 3'
script self-kill 'kill -SEGV $$'

MSG='HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nhello\r\n.\r\n'
error_path 'noisy maildrop' '250 2.0.0' "${MSG}QUIT\r\n" "$TRASH/noisy-ok"
error_path 'noisy failing maildrop' '451 4.3.0' "${MSG}QUIT\r\n" "$TRASH/noisy-fail"
error_path 'missing maildrop' '451 4.3.0' "${MSG}QUIT\r\n" /no/such/maildrop
error_path 'maildrop killed by a signal' '451 4.3.0' "${MSG}QUIT\r\n" "$TRASH/self-kill"
error_path 'maildrop that hangs past -m' '451 4.3.0' "${MSG}QUIT\r\n" /bin/sleep 30
error_path 'bad commands' '221 2.0.0' 'FOO\r\nMAIL FROM:<-x>\r\nHELO\r\nRCPT TO:<a@b>\r\nQUIT\r\n' \
	"$RECORD"
error_path 'a message with a bare LF' '554 5.6.0' \
	'HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nbad\nline\r\n.\r\n' "$RECORD"
error_path 'a client that stops sending' '421 4.4.2' 'HELO c\r\nMAIL FROM:<a@b>\r\n' \
	"$RECORD"

test_done
