#!/usr/bin/env python3
"""One message with Python's smtplib, in the clear, with STARTTLS or
over implicit TLS: `store-smtp-client.py [--starttls|--tls] HOST PORT FILE
FROM TO...`. FILE has LF lines (smtplib makes them CRLF and dot-stuffs).
The certificate is not checked (the tests make their own). Prints the
first line of the EHLO reply; exits non-zero unless every recipient was
taken and the message got 250."""
import smtplib
import ssl
import sys

args = sys.argv[1:]
mode = args.pop(0) if args and args[0] in ("--starttls", "--tls") else ""
host, port, path, sender, rcpts = args[0], int(args[1]), args[2], args[3], args[4:]
with open(path, encoding="utf-8") as f:
    message = f.read()
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
if mode == "--tls":
    s = smtplib.SMTP_SSL(host, port, local_hostname="client.example", timeout=30, context=context)
else:
    s = smtplib.SMTP(host, port, local_hostname="client.example", timeout=30)
with s:
    code, text = s.ehlo()
    assert code == 250, (code, text)
    print("greeting: 250-" + text.split(b"\n")[0].decode())
    if mode == "--starttls":
        code, text = s.starttls(context=context)
        assert code == 220, (code, text)
        print("starttls: %d %s" % (code, text.decode()))
    # Bytes go out as they are: the line ends are made here.
    refused = s.sendmail(sender, rcpts, message.replace("\n", "\r\n").encode("utf-8"))
    assert refused == {}, refused
print("sent ok")
