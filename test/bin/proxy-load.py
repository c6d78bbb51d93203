#!/usr/bin/env python3
"""The load test's client and its judge.

  proxy-load.py run HOST PORT SOURCE SESSIONS CLIENTS RESULTS [options]
      SESSIONS SMTP sessions, one message each, from CLIENTS threads at
      once, each connecting to HOST PORT from the address SOURCE. Every
      message carries a unique id (Message-ID and X-Load-Id) and its
      SHA-256 is recorded. The outcome of each attempt is one of
        ok        250 after the end of data
        refused   a 4xx or 5xx reply (banner, MAIL, RCPT, DATA or the end)
        error     the connection failed before the end of data was sent
        unknown   it failed after the end of data was sent, before the reply
                  (the message may or may not have been taken: RFC 5321
                  6.1's window; never sent again, so never duplicated)
      A refused or error attempt is tried again with the same id, at most
      --tries times (default 1: no retry). RESULTS gets one JSON line per
      message (its final outcome, the attempts, the sum). Options:
        --at N --run CMD    run the shell command CMD once N sessions are
                            done (may repeat: --at 600 --run A --at 1200
                            --run B); the driver waits for it
        --tries N           attempts per message
        --timeout S         socket timeout (default 60)
        --seed N            the message contents (default 1)

  proxy-load.py check RESULTS ADDR DIR...
      Reads every NAME.msg/NAME.argv the maildrop (test/bin/proxy-drop) left
      in each DIR (one DIR per backend) and holds them against RESULTS:
      each message the client saw 250 for was delivered exactly once, byte
      for byte (the sum), with the envelope it was sent with and [ADDR] in
      its Received: line; no message was delivered twice; a message refused
      or failed before its end of data was not delivered. Prints the
      figures; exits 1 on any violation.
"""
import hashlib, json, os, random, socket, subprocess, sys, threading, time

SENDER = "load@example.org"
DOMAIN = "load.example"


def message(mid, rng):
    """The message as the maildrop must receive it: LF line ends."""
    lines = ["From: <%s>" % SENDER, "To: <r-%s@example.org>" % mid,
             "Message-ID: <%s@%s>" % (mid, DOMAIN), "X-Load-Id: %s" % mid,
             "Subject: load %s" % mid, ""]
    kind = rng.random()
    if kind < 0.02:
        n = 3000  # about 240 KB: several reads, a DATA that takes time
    else:
        n = rng.randint(1, 40)
    for i in range(n):
        r = rng.random()
        if r < 0.1:
            lines.append("." * rng.randint(1, 3) + "dot line %d" % i)
        elif r < 0.12:
            lines.append("")
        else:
            lines.append("%s %06d %s" % (mid, i, "x" * rng.randint(0, 70)))
    return ("\n".join(lines) + "\n").encode()


def wire(text):
    """CR LF line ends and dot-stuffing, then the end of data."""
    out = []
    for line in text.split(b"\n")[:-1]:
        if line.startswith(b"."):
            line = b"." + line
        out.append(line + b"\r\n")
    return b"".join(out) + b".\r\n"


class Attempt(Exception):
    def __init__(self, outcome, detail):
        super().__init__(detail)
        self.outcome, self.detail = outcome, detail


def reply(f):
    lines = []
    while True:
        line = f.readline(1024)
        if not line:
            raise EOFError("connection closed")
        lines.append(line.decode("latin-1").rstrip("\r\n"))
        if len(line) < 4 or line[3:4] != b"-":
            return int(lines[-1][:3]), lines


def expect(f, stage, ok):
    code, lines = reply(f)
    if code // 100 != ok:
        raise Attempt("refused", "%s: %s" % (stage, lines[-1]))
    return lines


def deliver(host, port, source, mid, data, timeout):
    """One attempt; returns (outcome, detail, greeting)."""
    sent_end = False
    try:
        s = socket.create_connection((host, port), timeout=timeout,
                                     source_address=(source, 0))
        # The end of data goes in a write of its own (to know whether it
        # left): without NODELAY, Nagle would hold it for the peer's ACK.
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with s, s.makefile("rb") as f:
            expect(f, "banner", 2)
            s.sendall(b"EHLO client-%s.%s\r\n" % (mid.encode(), DOMAIN.encode()))
            greeting = expect(f, "EHLO", 2)[0]
            s.sendall(b"MAIL FROM:<%s>\r\n" % SENDER.encode())
            expect(f, "MAIL", 2)
            s.sendall(b"RCPT TO:<r-%s@example.org>\r\n" % mid.encode())
            expect(f, "RCPT", 2)
            s.sendall(b"DATA\r\n")
            expect(f, "DATA", 3)
            body = wire(data)
            s.sendall(body[:-3])
            sent_end = True
            s.sendall(body[-3:])
            expect(f, "end of data", 2)
            try:
                s.sendall(b"QUIT\r\n")
                reply(f)
            except (OSError, EOFError):
                pass  # the message is taken; QUIT is a courtesy
            return "ok", "", greeting
    except Attempt as a:
        return a.outcome, a.detail, None
    except (OSError, EOFError) as e:
        return ("unknown" if sent_end else "error"), repr(e), None


def run(argv):
    host, port, source = argv[0], int(argv[1]), argv[2]
    sessions, clients, results = int(argv[3]), int(argv[4]), argv[5]
    hooks, tries, timeout, seed = [], 1, 60.0, 1
    rest = argv[6:]
    while rest:
        if rest[0] == "--at":
            hooks.append([int(rest[1]), rest[3]])
            assert rest[2] == "--run", "--at N --run CMD"
            rest = rest[4:]
        elif rest[0] == "--tries":
            tries, rest = int(rest[1]), rest[2:]
        elif rest[0] == "--timeout":
            timeout, rest = float(rest[1]), rest[2:]
        elif rest[0] == "--seed":
            seed, rest = int(rest[1]), rest[2:]
        else:
            sys.exit("proxy-load.py: unknown option " + rest[0])
    hooks.sort()
    rng = random.Random(seed)
    todo = []
    for i in range(sessions):
        mid = "m%06d-%08x" % (i, rng.getrandbits(32))
        todo.append((mid, message(mid, rng)))
    lock = threading.Lock()
    done = [0]
    out = {}
    queue = list(reversed(todo))
    attempts_total = [0]

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                mid, data = queue.pop()
            history = []
            for _ in range(tries):
                outcome, detail, greeting = deliver(host, port, source, mid,
                                                    data, timeout)
                history.append(outcome if not detail else outcome + ": " + detail)
                if outcome in ("ok", "unknown"):
                    break
            hook = None
            with lock:
                attempts_total[0] += len(history)
                out[mid] = {"id": mid, "outcome": outcome,
                            "attempts": history, "greeting": greeting,
                            "sha256": hashlib.sha256(data).hexdigest()}
                done[0] += 1
                while hooks and done[0] >= hooks[0][0]:
                    hook = hooks.pop(0)[1]
                    if hook:
                        subprocess.run(hook, shell=True, check=False)

    start = time.time()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - start
    with open(results, "w") as f:
        for mid, _ in todo:
            f.write(json.dumps(out[mid], sort_keys=True) + "\n")
    counts = {}
    for r in out.values():
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    print("sessions %d, clients %d, attempts %d, %.1f s, %.0f sessions/s, "
          "outcomes %s" % (sessions, clients, attempts_total[0], elapsed,
                           attempts_total[0] / elapsed,
                           json.dumps(counts, sort_keys=True)))


def strip_received(raw):
    """The message after smtpd's Received: header (a line and its
    continuation lines), and that header's first line."""
    lines = raw.split(b"\n")
    if not lines[0].startswith(b"Received: "):
        return None, None
    i = 1
    while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
        i += 1
    return b"\n".join(lines[i:]), lines[0].decode("latin-1")


def check(argv):
    results, addr, dirs = argv[0], argv[1], argv[2:]
    sent = {}
    with open(results) as f:
        for line in f:
            r = json.loads(line)
            sent[r["id"]] = r
    got = {}  # id -> list of backend index
    problems = []
    partial = 0
    per_backend = []
    for b, d in enumerate(dirs):
        n = 0
        for name in sorted(os.listdir(d)):
            if name.endswith(".tmp"):
                partial += 1
            if not name.endswith(".msg"):
                continue
            n += 1
            base = os.path.join(d, name[:-4])
            with open(base + ".msg", "rb") as m:
                raw = m.read()
            body, received = strip_received(raw)
            if body is None:
                problems.append("%s: no Received: first" % base)
                continue
            mid = None
            for line in body.split(b"\n"):
                if line.startswith(b"X-Load-Id: "):
                    mid = line[11:].decode("latin-1")
                    break
                if not line:
                    break
            if mid not in sent:
                problems.append("%s: unknown message %r" % (base, mid))
                continue
            got.setdefault(mid, []).append(b)
            if hashlib.sha256(body).hexdigest() != sent[mid]["sha256"]:
                problems.append("%s: %s differs from what was sent" % (base, mid))
            if not received.endswith(" [%s])" % addr):
                problems.append("%s: Received: without [%s]: %s" % (base, addr, received))
            with open(base + ".argv") as a:
                argv_got = a.read().split("\n")[:-1]
            if argv_got != [SENDER, "r-%s@example.org" % mid]:
                problems.append("%s: argv %r" % (base, argv_got))
        per_backend.append(n)
    lost = dup = 0
    outcomes = {}
    for mid, r in sent.items():
        n = len(got.get(mid, []))
        o = r["outcome"]
        outcomes[o] = outcomes.get(o, 0) + 1
        if n > 1:
            dup += 1
            problems.append("%s delivered %d times" % (mid, n))
        if o == "ok" and n == 0:
            lost += 1
            problems.append("%s: the client saw 250, nothing delivered" % mid)
        if o in ("refused", "error") and n:
            problems.append("%s: %s (%s) yet delivered" % (mid, o, r["attempts"][-1]))
        if o == "ok" and not (r["greeting"] or "").endswith(" [%s]" % addr):
            problems.append("%s: greeting %r" % (mid, r["greeting"]))
    unknown_delivered = sum(1 for mid, r in sent.items()
                            if r["outcome"] == "unknown" and got.get(mid))
    retried = sum(1 for r in sent.values() if len(r["attempts"]) > 1)
    print("messages %d, outcomes %s, retried %d, deliveries per backend %s, "
          "lost %d, duplicated %d, unknown-then-delivered %d, "
          "partial files %d" % (len(sent), json.dumps(outcomes, sort_keys=True),
                                retried, per_backend, lost, dup,
                                unknown_delivered, partial))
    for p in problems[:20]:
        print("PROBLEM: " + p)
    return 1 if problems else 0


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("run", "check"):
        sys.exit(__doc__)
    if sys.argv[1] == "run":
        run(sys.argv[2:])
    else:
        sys.exit(check(sys.argv[2:]))


if __name__ == "__main__":
    main()
