#!/usr/bin/env python3
"""Delivers with Python's smtplib from a source address of the test's own:
`proxy-smtplib.py [--tls|--starttls] HOST PORT SOURCE FILE FROM TO...`
connects from SOURCE (so that a test can tell the client's address from the
balancer's), sends FILE (LF lines; smtplib makes them CRLF and dot-stuffs)
to every TO in one transaction, and prints the EHLO greeting's first line
and the extensions offered. --tls: TLS from the first octet (SMTP_SSL);
--starttls: STARTTLS after EHLO, then EHLO again. Certificates are not
checked (the tests' own are self-signed)."""
import smtplib, ssl, sys

args = sys.argv[1:]
mode = args.pop(0) if args and args[0].startswith("--") else ""
host, port, source, path, sender, rcpts = args[0], int(args[1]), args[2], args[3], args[4], args[5:]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with open(path) as f:  # str: smtplib makes LF into CRLF
    message = f.read()
kw = dict(local_hostname="smtplib.example", timeout=30, source_address=(source, 0))
if mode == "--tls":
    s = smtplib.SMTP_SSL(host, port, context=ctx, **kw)
else:
    s = smtplib.SMTP(host, port, **kw)
with s:
    code, text = s.ehlo()
    assert code == 250, (code, text)
    print("greeting: 250-" + text.split(b"\n")[0].decode())
    print("offered: " + " ".join(sorted(s.esmtp_features)))
    if mode == "--starttls":
        s.starttls(context=ctx)
        code, text = s.ehlo()
        assert code == 250, (code, text)
        print("after STARTTLS: 250-" + text.split(b"\n")[0].decode())
        print("offered: " + " ".join(sorted(s.esmtp_features)))
    refused = s.sendmail(sender, rcpts, message)
    assert refused == {}, refused
print("sent ok")
