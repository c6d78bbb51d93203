#!/usr/bin/env python3
"""Reads a mailbox back the way a mail user agent does, over IMAP:
`store-imap-read.py OUTDIR COMMAND...` runs COMMAND (a pre-authenticated
IMAP server on stdin/stdout, such as Dovecot's `imap` binary with USER
set) through imaplib.IMAP4_stream, EXAMINEs INBOX (read-only: no flag
changes), and for every message N writes OUTDIR/N.eml (BODY[]), N.header
(BODY[HEADER]) and N.text (BODY[TEXT]), as the server sent them (CRLF).
It checks that HEADER and TEXT make up BODY[] and that RFC822.SIZE is its
length, then prints the count. Stdlib only; gives up after 60 s."""
import imaplib
import os
import re
import shlex
import signal
import sys


def fetch(imap, num, item):
    typ, data = imap.fetch(num, "(" + item + ")")
    if typ != "OK":
        sys.exit("FETCH %s %s: %s %r" % (num, item, typ, data))
    for part in data:
        if isinstance(part, tuple):
            return part[1]
    # A number, not a literal (RFC822.SIZE).
    m = re.search(rb"RFC822\.SIZE (\d+)", b" ".join(p for p in data if isinstance(p, bytes)))
    if m:
        return int(m.group(1))
    sys.exit("FETCH %s %s: no data in %r" % (num, item, data))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    signal.alarm(60)
    outdir, command = sys.argv[1], shlex.join(sys.argv[2:])
    os.makedirs(outdir, exist_ok=True)
    imap = imaplib.IMAP4_stream(command)
    if imap.state != "AUTH":
        sys.exit("not pre-authenticated: %s %r" % (imap.state, imap.welcome))
    typ, data = imap.select("INBOX", readonly=True)
    if typ != "OK":
        sys.exit("EXAMINE INBOX: %s %r" % (typ, data))
    typ, data = imap.search(None, "ALL")
    nums = data[0].split() if typ == "OK" else sys.exit("SEARCH: %r" % data)
    for i, num in enumerate(nums, 1):
        whole = fetch(imap, num, "BODY.PEEK[]")
        header = fetch(imap, num, "BODY.PEEK[HEADER]")
        text = fetch(imap, num, "BODY.PEEK[TEXT]")
        size = fetch(imap, num, "RFC822.SIZE")
        if header + text != whole:
            sys.exit("message %d: HEADER + TEXT is not BODY[]" % i)
        if size != len(whole):
            sys.exit("message %d: RFC822.SIZE %d, BODY[] has %d" % (i, size, len(whole)))
        for suffix, data in (("eml", whole), ("header", header), ("text", text)):
            with open(os.path.join(outdir, "%d.%s" % (i, suffix)), "wb") as f:
                f.write(data)
    imap.close()
    imap.logout()
    print("%d messages" % len(nums))


main()
