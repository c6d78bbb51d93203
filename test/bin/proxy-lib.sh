# test/bin/proxy-lib.sh - for the HAProxy tests (t05*): smtpd -p backends
# under tcpserver on loopback addresses of their own, HAProxy in the
# foreground with the test's configuration, and smtpd's syslog lines caught
# in a file. Every process started here is stopped by its PID at exit.
# Sourced after lib.sh and lib-launch.sh.

PROXY_PIDS=
HAPROXY_PID=
LOGCATCH_PID=
# In the environment of every backend (so of its smtpd and maildrop
# processes too): how our_smtpds tells ours from other people's.
PROXY_MARK=$TRASH
trap 'proxy_stop_all; stop_launcher; rm -rf "$TRASH"' EXIT

proxy_stop_all() {
	local pid
	[ -n "$HAPROXY_PID" ] && kill "$HAPROXY_PID" 2>/dev/null
	for pid in $PROXY_PIDS; do
		kill "$pid" 2>/dev/null
	done
	[ -n "$HAPROXY_PID" ] && wait "$HAPROXY_PID" 2>/dev/null
	for pid in $PROXY_PIDS; do
		wait "$pid" 2>/dev/null
	done
	stop_logcatch
	HAPROXY_PID= PROXY_PIDS=
}

# The smtpd processes our backends started that still run (PIDs).
our_smtpds() {
	local e pid
	for e in /proc/[0-9]*/environ; do
		pid=${e#/proc/}
		pid=${pid%/environ}
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = smtpd ] || continue
		tr '\0' '\n' <"$e" 2>/dev/null |
			grep -qxF "PROXY_MARK=$PROXY_MARK" && echo "$pid"
	done
	return 0
}

# Waits (at most 20 s) until none of our smtpd processes is left.
wait_no_smtpd() {
	local i
	for i in $(seq 200); do
		[ -z "$(our_smtpds)" ] && return 0
		sleep 0.1
	done
	echo "smtpd still running: $(our_smtpds)" >&2
	return 1
}

# wait_listening_at ADDR PORT PID: waits (at most 10 s) until process PID
# listens on ADDR:PORT (not someone else who took the port first).
wait_listening_at() {
	local i
	for i in $(seq 100); do
		ss -Hltnp "src = $1 and sport = :$2" | grep -q "pid=$3," && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep 0.1
	done
	echo "process $3 does not listen on $1 port $2:" >&2
	ss -Hltnp "src = $1 and sport = :$2" >&2
	return 1
}

# free_port_at ADDR: a port nothing listens on at ADDR just now.
free_port_at() {
	python3 -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$1"
}

# start_logcatch: a /dev/log of our own; backends started with
# PROXY_LOG=1 log there, and $TRASH/syslog gets one line per message.
start_logcatch() {
	mkdir -p "$TRASH/dev" && : >"$TRASH/dev/null" && : >"$TRASH/dev/log" &&
	: >"$TRASH/dev/urandom" &&
	python3 "$TEST_DIR/bin/logcatch.py" "$TRASH/log.sock" "$TRASH/syslog" 600 &
	LOGCATCH_PID=$!
	local i
	for i in $(seq 50); do [ -S "$TRASH/log.sock" ] && return 0; sleep 0.1; done
	echo "no log socket" >&2
	return 1
}

stop_logcatch() {
	[ -n "$LOGCATCH_PID" ] || return 0
	python3 -c "import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'STOP', sys.argv[1])" \
		"$TRASH/log.sock" 2>/dev/null
	wait "$LOGCATCH_PID" 2>/dev/null
	LOGCATCH_PID=
}

# start_backend NAME ADDR PORT DROPDIR COMMAND...: tcpserver -H -R on
# ADDR:PORT running COMMAND for each connection, DROP_DIR=DROPDIR; its PID
# in $NAME_PID. With PROXY_LOG=1 set, it runs in a private mount namespace
# whose /dev holds only null, urandom and our log socket; with
# PROXY_RULES=CDB, tcpserver -x CDB (tcprules) decides who may connect.
start_backend() {
	local name=$1 addr=$2 port=$3 drops=$4 rules=
	shift 4
	[ -n "${PROXY_RULES:-}" ] && rules="-x $PROXY_RULES"
	mkdir -p "$drops"
	if [ -n "${PROXY_LOG:-}" ]; then
		env DROP_DIR="$drops" PROXY_MARK="$PROXY_MARK" unshare -m sh -c '
			dev=$1
			shift
			mount --bind /dev/null "$dev/null" &&
			mount --bind /dev/urandom "$dev/urandom" &&
			mount --bind "$dev/../log.sock" "$dev/log" &&
			mount --rbind "$dev" /dev || exit 99
			exec "$@"' sh "$TRASH/dev" \
			tcpserver $rules -H -R -c 100 -b 100 "$addr" "$port" "$@" \
			>"$TRASH/$name.out" 2>&1 &
	else
		env DROP_DIR="$drops" PROXY_MARK="$PROXY_MARK" \
			tcpserver $rules -H -R -c 100 -b 100 "$addr" "$port" "$@" \
			>"$TRASH/$name.out" 2>&1 &
	fi
	local pid=$!
	eval "${name}_PID=$pid"
	PROXY_PIDS="$PROXY_PIDS $pid"
	wait_listening_at "$addr" "$port" "$pid" || {
		cat "$TRASH/$name.out" >&2
		return 1
	}
}

# start_haproxy CONFIG...: HAProxy in the foreground (-db) with a global
# section of the test's own (a stats socket, logs to its stdout) and the
# CONFIG files; waits until every server with a health check is UP.
start_haproxy() {
	cat >"$TRASH/haproxy-global.cfg" <<-EOF
	global
		maxconn 4000
		stats socket $TRASH/haproxy.sock mode 600 level admin
		log stdout format raw daemon
	EOF
	local args="-f $TRASH/haproxy-global.cfg" f
	for f in "$@"; do args="$args -f $f"; done
	haproxy -c $args >"$TRASH/haproxy.check" 2>&1 || {
		cat "$TRASH/haproxy.check" >&2
		return 1
	}
	haproxy $args -db >"$TRASH/haproxy.out" 2>&1 &
	HAPROXY_PID=$!
	wait_servers_up
}

# haproxy_cmd COMMAND: one command on HAProxy's stats socket.
haproxy_cmd() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())' "$TRASH/haproxy.sock" "$1"
}

# server_status BACKEND SERVER: UP, DOWN, "no check" ...
server_status() {
	haproxy_cmd "show stat" | awk -F, -v b="$1" -v s="$2" \
		'$1 == b && $2 == s { print $18 }'
}

# Waits (at most 15 s) until no checked server is anything but UP.
wait_servers_up() {
	local i
	for i in $(seq 150); do
		if [ -S "$TRASH/haproxy.sock" ] && haproxy_cmd "show stat" >"$TRASH/stat" 2>/dev/null &&
			grep -q . "$TRASH/stat" &&
			! awk -F, 'NF > 20 && $2 != "FRONTEND" && $2 != "BACKEND" && $1 !~ /^#/ &&
				$18 != "UP" && $18 != "no check" { bad = 1 }
				END { exit !bad }' "$TRASH/stat"; then
			return 0
		fi
		sleep 0.1
	done
	echo "servers not up:" >&2
	cat "$TRASH/stat" "$TRASH/haproxy.out" >&2
	return 1
}

# A key and self-signed certificate in one PEM file, as HAProxy wants it.
make_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.example \
		-keyout "$TRASH/key.pem" -out "$TRASH/cert.pem" 2>/dev/null &&
	cat "$TRASH/cert.pem" "$TRASH/key.pem" >"$1"
}
