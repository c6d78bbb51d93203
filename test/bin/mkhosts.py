#!/usr/bin/env python3
"""Writes the hosts file the resolver tests read, and one file per long name
(names/N) holding the exact name, so a test can compare what smtpd kept."""
import os

def long_name(n):
    """A name of exactly n octets: labels of 62 letters, ending .example."""
    body = "a" * 62
    while len(body) < n - len(".example"):
        body += "." + "b" * 62
    return body[: n - len(".example")] + ".example"

os.makedirs("names", exist_ok=True)
entries = [
    (b"127.0.0.2", b"good.example"),
    (b"127.0.0.8", b"shared.example"),  # first: the forward answer
    (b"127.0.0.9", b"shared.example"),  # PTR says shared, forward says .8
    (b"127.0.0.6", b"evil%$(id)\x1b[31m\x80\xff;<>!.example"),
    (b"127.0.0.7", b"10.0.0.1"),        # a PTR that poses as an address
    (b"127.0.0.10", b"%%%%"),           # nothing usable at all
    (b"::2", b"six.example"),
]
for last, size in ((3, 300), (4, 971), (5, 1020)):
    name = long_name(size)
    assert len(name) == size
    with open("names/%d" % size, "w") as f:
        f.write(name)
    entries.append((b"127.0.0.%d" % last, name.encode()))
with open("hosts", "wb") as f:
    f.write(b"127.0.0.1 localhost\n")
    for addr, name in entries:
        f.write(addr + b" " + name + b"\n")
