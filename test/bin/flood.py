#!/usr/bin/env python3
"""Connection floods and held connections against a socket-activated smtpd.

flood.py flood HOST PORT COUNT [SOURCES]
    Opens COUNT connections as fast as it can, each closed at once without
    a word (the source address cycles over 127.1.0.1 and on, SOURCES of
    them; default 1 = the kernel's choice). Prints one line:
    tried=N connected=N refused=N failed=N seconds=S

flood.py probe HOST PORT COUNT [MAX_SECONDS]
    COUNT sessions one after another, each waiting for the 220 greeting
    and then saying QUIT; a try that is refused or closed before the
    greeting is tried again, until MAX_SECONDS (default 60) are spent.
    Prints: greeted=N refused=N dropped=N seconds=S

flood.py hold HOST PORT SRC:COUNT[,SRC:COUNT...] SRC=out|in[,...]
    Holds COUNT connections from each source address, each until it has
    had its greeting; then, with all of them held, one connection from
    each probe source, expected to be dropped before any greeting (out) or
    greeted (in); then releases all and connects from each probe source
    again until it is greeted (at most 60 s). Prints one line per step,
    and exits 0 only when every probe went as expected:
    held=N greeted=N
    probe SRC held-out|greeted
    released
    after SRC greeted|not-greeted tries=N

flood.py trickle HOST PORT SECONDS [BYTES]
    One message, its DATA sent a line every 0.2 s for SECONDS (or, with
    BYTES, that many octets as fast as it can), then the final dot. Prints
    the reply to the final dot, or how long the session lasted when the
    server ended it first: reply=250 ... | closed seconds=S sent=N

Every wait is bounded; nothing is retried without a deadline.
"""
import socket
import sys
import time

GREETING_WAIT = 30


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def connect(host, port, source=None, timeout=10):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect((host, port))
    return s


def greeting(s, wait=GREETING_WAIT):
    """The first reply line, or '' when the connection ends before one."""
    s.settimeout(wait)
    data = b""
    deadline = time.monotonic() + wait
    while b"\n" not in data and time.monotonic() < deadline:
        try:
            chunk = s.recv(512)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data.decode("ascii", "replace").split("\n")[0].strip()


def flood(host, port, count, sources):
    tried = connected = refused = failed = 0
    start = time.monotonic()
    for i in range(count):
        tried += 1
        src = "127.1.%d.%d" % (1 + (i % sources) // 250, 1 + (i % sources) % 250) \
            if sources > 1 else None
        try:
            s = connect(host, port, src, timeout=5)
            connected += 1
            s.close()
        except ConnectionRefusedError:
            refused += 1
        except OSError:
            failed += 1
    print("tried=%d connected=%d refused=%d failed=%d seconds=%.3f"
          % (tried, connected, refused, failed, time.monotonic() - start))


def session(host, port, source=None):
    """'greeted', 'refused' or 'dropped' (closed before any greeting)."""
    try:
        s = connect(host, port, source)
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "dropped"
    with s:
        line = greeting(s)
        if not line.startswith("220"):
            return "dropped"
        try:
            s.sendall(b"QUIT\r\n")
            greeting(s, 10)
        except OSError:
            pass
        return "greeted"


def probe(host, port, count, max_seconds):
    counts = {"greeted": 0, "refused": 0, "dropped": 0}
    start = time.monotonic()
    while counts["greeted"] < count and time.monotonic() - start < max_seconds:
        result = session(host, port)
        counts[result] += 1
        if result != "greeted":
            time.sleep(0.05)
    print("greeted=%d refused=%d dropped=%d seconds=%.3f"
          % (counts["greeted"], counts["refused"], counts["dropped"],
             time.monotonic() - start))
    return counts["greeted"] == count


def hold(host, port, spec, probes):
    held = []
    for item in spec.split(","):
        src, n = item.rsplit(":", 1)
        for _ in range(int(n)):
            held.append(connect(host, port, src))
    greeted = sum(1 for s in held if greeting(s).startswith("220"))
    print("held=%d greeted=%d" % (len(held), greeted), flush=True)
    ok = greeted == len(held)
    sources = []
    for item in probes:
        src, expect = item.split("=")
        sources.append(src)
        s = connect(host, port, src)
        got = "in" if greeting(s, 10).startswith("220") else "out"
        s.close()
        print("probe %s %s" % (src, "greeted" if got == "in" else "held-out"), flush=True)
        ok = ok and got == expect
    for s in held:
        s.close()
    print("released", flush=True)
    for src in sources:
        deadline = time.monotonic() + 60
        tries = 0
        result = ""
        while time.monotonic() < deadline:
            tries += 1
            result = session(host, port, src)
            if result == "greeted":
                break
            time.sleep(0.1)
        print("after %s %s tries=%d"
              % (src, "greeted" if result == "greeted" else "not-greeted", tries),
              flush=True)
        ok = ok and result == "greeted"
    return ok


def trickle(host, port, seconds, size):
    s = connect(host, port)
    s.settimeout(30)
    f = s.makefile("rb")
    start = time.monotonic()
    sent = 0
    try:
        for line in (None, b"EHLO trickle.example", b"MAIL FROM:<t@example.org>",
                     b"RCPT TO:<r@example.org>", b"DATA"):
            if line:
                s.sendall(line + b"\r\n")
            while True:
                reply = f.readline()
                if not reply or reply[3:4] != b"-":
                    break
            if not reply:
                raise ConnectionError("closed")
        print("data-started " + reply.decode().strip(), flush=True)
        s.sendall(b"Subject: trickle\r\n\r\n")
        if size:
            line = b"x" * 998 + b"\r\n"
            while sent < size:
                s.sendall(line)
                sent += len(line)
        else:
            while time.monotonic() - start < seconds:
                s.sendall(b"line %d\r\n" % sent)
                sent += 1
                time.sleep(0.2)
        s.sendall(b".\r\n")
        reply = f.readline()
        if not reply:
            raise ConnectionError("closed")
        print("reply=" + reply.decode().strip())
    except (OSError, ConnectionError):
        print("closed seconds=%.1f sent=%d" % (time.monotonic() - start, sent))
    s.close()


def main(argv):
    mode, host, port = argv[1], argv[2], int(argv[3])
    if mode == "flood":
        flood(host, port, int(argv[4]), int(argv[5]) if len(argv) > 5 else 1)
        return 0
    if mode == "probe":
        return 0 if probe(host, port, int(argv[4]),
                          float(argv[5]) if len(argv) > 5 else 60) else 1
    if mode == "hold":
        return 0 if hold(host, port, argv[4], argv[5].split(",")) else 1
    if mode == "trickle":
        trickle(host, port, float(argv[4]), int(argv[5]) if len(argv) > 5 else 0)
        return 0
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
