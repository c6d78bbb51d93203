#!/usr/bin/env python3
"""Delivers one message with Python's smtplib over TLS, verifying the
server's certificate against CAFILE (for the address it connects to):

  tls-smtplib.py starttls|ssl HOST PORT CAFILE FILE FROM TO...

starttls: plain connection, EHLO, starttls(), EHLO again; ssl: SMTP_SSL,
TLS from the first octet. FILE has LF lines (smtplib makes them CRLF and
dot-stuffs). Prints the first line of each EHLO reply, whether it listed
STARTTLS, the TLS version and cipher, and "sent ok"."""
import smtplib, ssl, sys

mode, host, port, cafile, path, sender = sys.argv[1:7]
rcpts = sys.argv[7:]
with open(path) as f:
    message = f.read()
ctx = ssl.create_default_context(cafile=cafile)


def ehlo(s, when):
    code, text = s.ehlo()
    assert code == 250, (code, text)
    print("%s: 250-%s" % (when, text.split(b"\n")[0].decode()))
    print("%s STARTTLS: %s" % (when, "listed" if s.has_extn("starttls") else "not listed"))


if mode == "starttls":
    s = smtplib.SMTP(host, int(port), local_hostname="smtplib.example", timeout=30)
    ehlo(s, "before")
    code, text = s.starttls(context=ctx)
    print("starttls: %d %s" % (code, text.decode()))
    ehlo(s, "after")
else:
    s = smtplib.SMTP_SSL(host, int(port), local_hostname="smtplib.example", timeout=30,
                         context=ctx)
    ehlo(s, "tls")
print("tls: %s %s" % (s.sock.version(), s.sock.cipher()[0]))
refused = s.sendmail(sender, rcpts, message)
assert refused == {}, refused
s.quit()
print("sent ok")
