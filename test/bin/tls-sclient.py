#!/usr/bin/env python3
"""Delivers one message through `openssl s_client -starttls smtp` (or,
with -c, `openssl s_client` on a port that is TLS from the start), in
lock-step: after the handshake EHLO again, MAIL, RCPT, DATA, the message
(dot-stuffed here), QUIT, each after the reply to the one before.

  tls-sclient.py [-c] HOST PORT CAFILE FILE FROM TO

The certificate is verified against CAFILE for the address HOST, and the
handshake must succeed (-verify_return_error). Prints each reply line, then
s_client's "Protocol version" and "Ciphersuite" lines. Every wait is
bounded (20 s)."""
import os, select, subprocess, sys, time

args = sys.argv[1:]
starttls = True
if args[0] == "-c":
    starttls, args = False, args[1:]
host, port, cafile, path, sender, rcpt = args
cmd = ["openssl", "s_client", "-brief", "-crlf", "-ign_eof", "-connect",
       "[%s]:%s" % (host, port) if ":" in host else "%s:%s" % (host, port),
       "-CAfile", cafile, "-verify_return_error", "-verify_ip", host]
if starttls:
    cmd += ["-starttls", "smtp", "-name", "sclient.example"]
p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)
buf = b""


def reply():
    global buf
    end = time.time() + 20
    lines = []
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            line = line.rstrip(b"\r").decode()
            print("S: " + line)
            lines.append(line)
            if line[3:4] != "-":
                return lines
        r, _, _ = select.select([p.stdout], [], [], max(0, end - time.time()))
        if not r:
            raise SystemExit("tls-sclient: no reply in 20 s")
        data = os.read(p.stdout.fileno(), 65536)
        if not data:
            raise SystemExit("tls-sclient: s_client ended: %s" % p.stderr.read().decode())
        buf += data


def send(line, code):
    p.stdin.write(line.encode() + b"\n")
    p.stdin.flush()
    got = reply()[-1]
    assert got.startswith(code), (line, got)


if not starttls:
    assert reply()[-1].startswith("220 ")
send("EHLO sclient.example", "250")
send("MAIL FROM:<%s>" % sender, "250")
send("RCPT TO:<%s>" % rcpt, "250")
send("DATA", "354")
with open(path) as f:
    for line in f.read().split("\n")[:-1]:
        p.stdin.write((("." + line) if line.startswith(".") else line).encode() + b"\n")
send(".", "250")
send("QUIT", "221")
p.stdin.close()
try:
    p.wait(timeout=20)
except subprocess.TimeoutExpired:
    p.kill()
for line in p.stderr.read().decode().splitlines():
    if line.startswith(("Protocol version", "Ciphersuite", "Verification")):
        print(line)
print("sent ok")
