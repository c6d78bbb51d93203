#!/usr/bin/env python3
"""A syslog socket for tests: binds a datagram socket at argv[1] and writes
each message it gets as one line to argv[2], for at most argv[3] seconds or
until a datagram "STOP" arrives. Bytes that are not printable become \\xNN
and a backslash becomes two, so a test sees exactly what smtpd sent: an
escape smtpd wrote ("\\x1b", four printable octets) shows as "\\\\x1b", a raw
ESC as "\\x1b"."""
import socket, sys, time

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
end = time.time() + float(sys.argv[3])
with open(sys.argv[2], "w") as out:
    while time.time() < end:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        if data == b"STOP":
            break
        out.write("".join("\\\\" if b == 0x5c else chr(b)
                          if 0x20 <= b < 0x7f else "\\x%02x" % b
                          for b in data) + "\n")
        out.flush()
