#!/usr/bin/env python3
"""A loopback SMTP sink for the MTA tests: `mta-sink.py DIR [SECONDS]`.

Listens on 127.0.0.1, on a port of the kernel's choosing, and writes that
port to DIR/port once it listens. Takes every message from anyone (ESMTP
with PIPELINING, 8BITMIME, SMTPUTF8, CHUNKING), one thread a connection,
and records each accepted message as two files, written whole and then
renamed into place:

  DIR/N.env  the envelope: the client's EHLO/HELO line, the MAIL line and
             each RCPT line exactly as received, then `VIA DATA` or
             `VIA BDAT <chunks>`
  DIR/N.msg  the message as it arrived: CR LF line ends, dot-stuffing
             removed (DATA), the chunks joined (BDAT)

N.env is in place before N.msg: count messages by N.msg. DIR/commands.log
has every command line of every session, in order, with the
connection's number. The sink stops after SECONDS (default 300)."""
import os, sys, threading

import loopback_server

DIR = sys.argv[1]
LIFETIME = float(sys.argv[2]) if len(sys.argv) > 2 else 300.0
lock = threading.Lock()
counter = [0]
log = open(os.path.join(DIR, "commands.log"), "ab", buffering=0)


def write_file(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)


def store(env_lines, message):
    with lock:
        counter[0] += 1
        n = counter[0]
    base = os.path.join(DIR, str(n))
    write_file(base + ".env", b"".join(l + b"\n" for l in env_lines))
    write_file(base + ".msg", message)
    return n


def serve(conn, number):
    conn.settimeout(60)
    rf = conn.makefile("rb")

    def reply(text):
        conn.sendall(text.encode() + b"\r\n")

    reply("220 sink.example ESMTP mta-sink")
    helo, mail, rcpts, chunks = None, None, [], []
    while True:
        line = rf.readline(4096)
        if not line:
            return
        log.write(b"%d %s\n" % (number, line.rstrip(b"\r\n")))
        cmd = line.rstrip(b"\r\n")
        verb = cmd.split(b" ", 1)[0].upper()
        if verb in (b"EHLO", b"LHLO"):
            helo = cmd
            reply("250-sink.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                  "250-SMTPUTF8\r\n250-CHUNKING\r\n250-SIZE 0\r\n"
                  "250 ENHANCEDSTATUSCODES")
        elif verb == b"HELO":
            helo = cmd
            reply("250 sink.example")
        elif verb == b"MAIL":
            mail, rcpts, chunks = cmd, [], []
            reply("250 2.1.0 Ok")
        elif verb == b"RCPT":
            if mail is None:
                reply("503 5.5.1 MAIL first")
                continue
            rcpts.append(cmd)
            reply("250 2.1.5 Ok")
        elif verb == b"DATA":
            if not rcpts:
                reply("503 5.5.1 RCPT first")
                continue
            reply("354 go ahead")
            body = []
            while True:
                l = rf.readline()
                if not l:
                    return
                if l == b".\r\n":
                    break
                body.append(l[1:] if l.startswith(b".") else l)
            n = store([helo or b"", mail] + rcpts + [b"VIA DATA"], b"".join(body))
            reply("250 2.0.0 Ok queued as %d" % n)
            mail, rcpts = None, []
        elif verb == b"BDAT":
            args = cmd.split()
            size = int(args[1])
            last = len(args) > 2 and args[2].upper() == b"LAST"
            data = rf.read(size)
            if len(data) != size:
                return
            if not rcpts:
                reply("503 5.5.1 RCPT first")
                continue
            chunks.append(data)
            if not last:
                reply("250 2.0.0 %d octets" % size)
                continue
            n = store([helo or b"", mail] + rcpts +
                      [b"VIA BDAT %d" % len(chunks)], b"".join(chunks))
            reply("250 2.0.0 Ok queued as %d" % n)
            mail, rcpts, chunks = None, [], []
        elif verb == b"RSET":
            mail, rcpts, chunks = None, [], []
            reply("250 2.0.0 Ok")
        elif verb == b"NOOP":
            reply("250 2.0.0 Ok")
        elif verb == b"QUIT":
            reply("221 2.0.0 Bye")
            return
        else:
            reply("502 5.5.2 not here")


def handle(conn, number):
    try:
        serve(conn, number)
    except (OSError, ValueError):
        pass
    finally:
        conn.close()


loopback_server.serve(DIR, LIFETIME, handle)
