#!/usr/bin/env python3
"""CVE-2011-0411 as a man in the middle does it: `tls-inject.py HOST PORT N`
runs N sessions that send EHLO, then STARTTLS, then at once, as a TCP
segment of its own, a whole transaction (EHLO, MAIL, RCPT, DATA, a message
whose Subject is "injected"), read the one reply to STARTTLS and close
without starting TLS. Prints how many of those replies were 421 and how
many 220 (and "error" for a session that failed before STARTTLS). Nothing
injected may ever be delivered: the caller counts the deliveries. Every
wait is bounded (30 s)."""
import collections, socket, sys

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
INJECT = (b"EHLO evil.example\r\nMAIL FROM:<evil@evil.example>\r\n"
          b"RCPT TO:<victim@example.org>\r\nDATA\r\nSubject: injected\r\n\r\n"
          b"not from the client\r\n.\r\n")
seen = collections.Counter()
for _ in range(n):
    try:
        s = socket.create_connection((host, port), timeout=30)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"EHLO client.example\r\n")
        while f.readline()[3:4] == b"-":
            pass
    except OSError:
        seen["error"] += 1
        continue
    s.sendall(b"STARTTLS\r\n")
    s.sendall(INJECT)
    try:
        reply = f.readline()[:3].decode() or "EOF"
    except OSError:
        reply = "EOF"
    seen[reply] += 1
    s.close()
print(" ".join("%s=%d" % kv for kv in sorted(seen.items())))
