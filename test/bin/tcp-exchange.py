#!/usr/bin/env python3
"""tcp-exchange.py HOST PORT [SOURCE]: connects (from SOURCE, an address of
this host, when given), sends all of stdin, then writes to stdout all that
comes back until the server closes or resets the connection; a server
that says nothing for 20 s is an error (exit 1).
A client that does not speak SMTP: for what a server says to raw bytes."""
import socket, sys, time

host, port = sys.argv[1], int(sys.argv[2])
source = (sys.argv[3], 0) if len(sys.argv) > 3 else None
s = socket.create_connection((host, port), timeout=20, source_address=source)
data = sys.stdin.buffer.read()
got = b""
end = time.monotonic() + 20
try:
    if data:
        s.sendall(data)
    while time.monotonic() < end:
        b = s.recv(65536)
        if not b:
            break
        got += b
except (ConnectionResetError, BrokenPipeError):
    pass
sys.stdout.buffer.write(got)
