#!/usr/bin/env python3
"""An SMTP client for the STARTTLS tests that follows a script and prints
the transcript:

  tls-session.py [-w secs] [-i FILE] SCRIPT -- launcher [arg...]
  tls-session.py [-w secs] [-i FILE] -c HOST:PORT SCRIPT

With `--`, it makes one loopback TCP connection and runs the launcher on
its server end, descriptors 0 and 1, with PROTO, TCPREMOTEIP, TCPREMOTEPORT,
TCPLOCALIP and TCPLOCALPORT set, as tcpserver does for each connection;
at the end it prints the launcher's exit status. With -c it connects to a
server that listens.

SCRIPT, one step a line (\\r, \\n and \\xNN are read in the text):
  C: TEXT   send TEXT CR LF in one write, then read one reply
  W: TEXT   send TEXT as it is, in one write; read nothing
  R         read one reply (all its lines)
  TLS       start TLS as a client (any certificate accepted)
  EOF       read until the server closes
  CLOSE     close the connection
  SHUT      close the sending half only

Output, one line each: "S: line" for a reply line, "C: line" for what was
sent, "TLS: on" or "TLS: failed", "EOF" when the server closed, "TIMEOUT"
when a read waited -w seconds (default 20; the script stops there), and
last "exit: N" (or "exit: hang" when the launcher had not ended -w seconds
after the client was done). -i FILE appends "version cipher" for each TLS
session."""
import os, socket, ssl, subprocess, sys, time


def unescape(text):
    return text.encode("latin-1").decode("unicode_escape").encode("latin-1")


class Session:
    def __init__(self, sock, wait, info):
        self.sock = sock
        self.wait = wait
        self.info = info
        self.buf = b""
        self.eof = False
        self.closed = False
        sock.settimeout(wait)

    def out(self, line):
        print(line, flush=True)

    def recv(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            self.out("TIMEOUT")
            raise SystemExit
        except (ssl.SSLError, OSError) as e:
            self.out("EOF (%s)" % type(e).__name__)
            self.eof = True
            return False
        if not data:
            self.out("EOF")
            self.eof = True
            return False
        self.buf += data
        return True

    def line(self):
        while b"\n" not in self.buf:
            if self.eof or not self.recv():
                if self.buf:
                    self.out("S: " + self.buf.decode("latin-1") + " (no line end)")
                    self.buf = b""
                return None
        line, self.buf = self.buf.split(b"\n", 1)
        text = line.decode("latin-1")
        if not text.endswith("\r"):
            text += " (bare LF)"
        self.out("S: " + text.rstrip("\r"))
        return text

    def reply(self):
        while True:
            text = self.line()
            if text is None or text[3:4] != "-":
                return text

    def send(self, data, echo):
        if self.eof or self.closed:
            return
        self.out("C: " + echo)
        try:
            self.sock.sendall(data)
        except (ssl.SSLError, OSError) as e:
            self.out("send failed (%s)" % type(e).__name__)

    def starttls(self):
        if self.buf:
            self.out("S: %r (sent in plaintext after the reply)" % self.buf)
            self.buf = b""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            self.sock = ctx.wrap_socket(self.sock, server_hostname="mx.example")
        except (ssl.SSLError, OSError) as e:
            self.out("TLS: failed")
            print("tls-session: %s" % e, file=sys.stderr)
            self.eof = True
            return
        self.out("TLS: on")
        if self.info:
            with open(self.info, "a") as f:
                f.write("%s %s\n" % (self.sock.version(), self.sock.cipher()[0]))

    def step(self, line):
        if line.startswith("C: "):
            self.send(unescape(line[3:]) + b"\r\n", line[3:])
            if not self.eof:
                self.reply()
        elif line.startswith("W: "):
            self.send(unescape(line[3:]), line[3:])
        elif line == "R":
            self.reply()
        elif line == "TLS":
            self.starttls()
        elif line == "EOF":
            while not self.eof:
                self.line()
        elif line == "CLOSE":
            self.close()
        elif line == "SHUT":
            self.sock.shutdown(socket.SHUT_WR)
        else:
            raise SystemExit("tls-session: bad step %r" % line)

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass


def main():
    args = sys.argv[1:]
    wait, info, connect = 20.0, None, None
    while args and args[0] in ("-w", "-i", "-c"):
        if args[0] == "-w":
            wait = float(args[1])
        elif args[0] == "-i":
            info = args[1]
        else:
            connect = args[1]
        args = args[2:]
    cmd = None
    if "--" in args:
        cmd = args[args.index("--") + 1:]
        args = args[:args.index("--")]
    with open(args[0]) as f:
        steps = [l.rstrip("\n") for l in f if l.strip()]
    child = None
    if cmd:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        sock = socket.create_connection(listener.getsockname())
        server, peer = listener.accept()
        listener.close()
        local = server.getsockname()
        env = dict(os.environ, PROTO="TCP", TCPREMOTEIP=peer[0], TCPREMOTEPORT=str(peer[1]),
                   TCPLOCALIP=local[0], TCPLOCALPORT=str(local[1]))
        child = subprocess.Popen(cmd, stdin=server.fileno(), stdout=server.fileno(), env=env)
        server.close()
    else:
        host, _, port = connect.rpartition(":")
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=wait)
    s = Session(sock, wait, info)
    try:
        s.reply()
        for step in steps:
            s.step(step)
    except SystemExit as e:
        if e.code not in (None, 0):
            raise
    finally:
        s.close()
        if child is not None:
            try:
                print("exit: %d" % child.wait(timeout=wait), flush=True)
            except subprocess.TimeoutExpired:
                print("exit: hang", flush=True)
                child.kill()
                child.wait()


if __name__ == "__main__":
    main()
