#!/usr/bin/env python3
"""Delivers with Python's smtplib: `smtplib-client.py HOST PORT FILE FROM TO...`
sends FILE (LF lines; smtplib makes them CRLF and dot-stuffs) to every TO
in one transaction, and prints the EHLO greeting's first line."""
import smtplib, sys

host, port, path, sender, rcpts = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
with open(path) as f:  # str: smtplib makes LF into CRLF
    message = f.read()
with smtplib.SMTP(host, port, local_hostname="smtplib.example", timeout=30) as s:
    code, text = s.ehlo()
    assert code == 250, (code, text)
    print("greeting: 250-" + text.split(b"\n")[0].decode())
    refused = s.sendmail(sender, rcpts, message)
    assert refused == {}, refused
print("sent ok")
