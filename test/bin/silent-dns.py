#!/usr/bin/env python3
"""A DNS server that reads every query on 127.0.0.1:53 and never answers:
the resolver waits as long as resolv.conf lets it. Stops after argv[1]
seconds. Once it listens, it makes the file argv[2], when given."""
import socket, sys, time

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", 53))
t.listen(8)
if len(sys.argv) > 2:
    open(sys.argv[2], "w").close()
end = time.time() + float(sys.argv[1])
s.settimeout(0.2)
while time.time() < end:
    try:
        s.recvfrom(4096)
    except socket.timeout:
        pass
