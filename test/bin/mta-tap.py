#!/usr/bin/env python3
"""A recording TCP relay for the MTA tests: `mta-tap.py DIR PORT [SECONDS]`.

Listens on 127.0.0.1, on a port of the kernel's choosing (written to
DIR/port), and relays each connection, unchanged, to 127.0.0.1:PORT. It
reads the client's half as SMTP and writes each command line to
DIR/commands.log (the connection's number, a space, the line without its
CR LF); the octets of a BDAT chunk and the lines of DATA up to the
final dot are passed on but not logged, so a chunk that looks like a
command is never taken for one. The server's replies go to
DIR/replies.log the same way. Stops after SECONDS (default 300)."""
import os, socket, sys, threading

import loopback_server

DIR, TARGET = sys.argv[1], int(sys.argv[2])
LIFETIME = float(sys.argv[3]) if len(sys.argv) > 3 else 300.0
lock = threading.Lock()


def log(name, number, line):
    with lock, open(os.path.join(DIR, name), "ab") as f:
        f.write(b"%d %s\n" % (number, line))


class ClientParser:
    """Follows the client's stream: commands, BDAT chunks, DATA."""

    def __init__(self, number):
        self.number, self.buf, self.skip, self.in_data = number, b"", 0, False

    def feed(self, data):
        self.buf += data
        while True:
            if self.skip:
                n = min(self.skip, len(self.buf))
                self.buf, self.skip = self.buf[n:], self.skip - n
                if self.skip:
                    return
            i = self.buf.find(b"\n")
            if i < 0:
                return
            line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
            if self.in_data:
                self.in_data = line != b".\r\n"
                continue
            cmd = line.rstrip(b"\r\n")
            log("commands.log", self.number, cmd)
            words = cmd.split()
            verb = words[0].upper() if words else b""
            if verb == b"BDAT" and len(words) > 1 and words[1].isdigit():
                self.skip = int(words[1])
            elif verb == b"DATA":
                self.in_data = True


def pump(src, dst, on_data):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            on_data(data)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def relay(client, number):
    server = socket.create_connection(("127.0.0.1", TARGET), timeout=10)
    server.settimeout(None)
    parser = ClientParser(number)
    replies = [b""]

    def on_reply(data):
        replies[0] += data
        while b"\n" in replies[0]:
            line, replies[0] = replies[0].split(b"\n", 1)
            log("replies.log", number, line.rstrip(b"\r"))

    t = threading.Thread(target=pump, args=(server, client, on_reply), daemon=True)
    t.start()
    pump(client, server, parser.feed)
    t.join(60)
    client.close()
    server.close()


loopback_server.serve(DIR, LIFETIME, relay)
