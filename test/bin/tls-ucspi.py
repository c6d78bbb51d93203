#!/usr/bin/env python3
"""A UCSPI-TLS launcher for the tests, standing in for s6-networking's
s6-ucspitlsd and ucspi-ssl's `sslserver -n`, neither of which Debian 12
packages. It does what they do for a server program:

  tls-ucspi.py [-l HOST:PORT [-1]] -f PEM [-T secs] [-t secs] [-i FILE] -- prog [arg...]

The program runs with the client's connection on descriptors 0 and 1 and,
in its environment, SSLCTLFD (one end of a socketpair), SSLREADFD (a pipe
it reads the decrypted input from) and SSLWRITEFD (a pipe it writes what is
to be encrypted to). It talks in plaintext on 0 and 1 until it writes `y`
(or `Y`) to SSLCTLFD; the launcher then does the TLS handshake on the
connection and carries the plaintext between it and the two pipes. After
`Y` it also writes the session's TLS variables to SSLCTLFD
(NAME=value NUL ..., then NUL), as sslserver does.

Without -l the connection is already on descriptor 0 (inetd, tcpserver,
systemd-socket-activate --inetd). With -l it listens and runs one program
per connection, setting PROTO and TCPREMOTEIP etc. as tcpserver does; -1
serves one connection and exits. The exit status is the program's (111
when it was killed or when the launcher failed), as tlswrapper's.

-f PEM holds the key and the certificate. -T bounds the handshake (default
30 s), -t any wait for the client after it (default 300 s). -i FILE appends
a line "version cipher" for every TLS session."""
import os, select, signal, socket, ssl, subprocess, sys, threading, time


def die(msg, code=111):
    print("tls-ucspi: " + msg, file=sys.stderr)
    sys.exit(code)


def parse(argv):
    opts = {"-l": None, "-1": False, "-f": None, "-T": 30.0, "-t": 300.0, "-i": None}
    i = 1
    while i < len(argv) and argv[i].startswith("-"):
        a = argv[i]
        i += 1
        if a == "--":
            break
        if a == "-1":
            opts[a] = True
        elif a in ("-l", "-f", "-i"):
            opts[a] = argv[i]
            i += 1
        elif a in ("-T", "-t"):
            opts[a] = float(argv[i])
            i += 1
        else:
            die("usage: tls-ucspi.py [-l host:port [-1]] -f pem [-T s] [-t s] [-i file] -- prog", 100)
    if not opts["-f"] or i >= len(argv):
        die("usage: tls-ucspi.py [-l host:port [-1]] -f pem [-T s] [-t s] [-i file] -- prog", 100)
    return opts, argv[i:]


def tls_env(tls):
    cipher = tls.cipher()
    return {"SSL_PROTOCOL": tls.version() or "", "SSL_CIPHER": cipher[0] if cipher else ""}


def shuttle(tls, to_child, from_child, idle):
    """Carries plaintext both ways until the client or the program is done."""
    tls.setblocking(False)
    os.set_blocking(to_child, False)
    inbuf = bytearray()   # from the client, for the program
    outbuf = bytearray()  # from the program, for the client
    net_open, child_open = True, True
    deadline = time.monotonic() + idle
    while child_open or (outbuf and net_open):
        rd, wr = [], []
        if net_open and len(inbuf) < (1 << 20):
            rd.append(tls)
        if net_open and outbuf:
            wr.append(tls)
        if inbuf and to_child is not None:
            wr.append(to_child)
        if child_open and len(outbuf) < (1 << 20):
            rd.append(from_child)
        pending = net_open and tls.pending() > 0
        timeout = 0 if pending else max(0.0, deadline - time.monotonic())
        r, w, _ = select.select(rd, wr, [], timeout)
        if not r and not w and not pending:
            if time.monotonic() >= deadline:
                print("tls-ucspi: timeout", file=sys.stderr)
                break
            continue
        deadline = time.monotonic() + idle
        if (tls in r or pending) and net_open:
            try:
                data = tls.recv(65536)
                if data:
                    inbuf += data
                else:
                    net_open = False
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except (ssl.SSLError, OSError):
                net_open = False
                outbuf.clear()
        if to_child is not None and to_child in w and inbuf:
            try:
                del inbuf[:os.write(to_child, inbuf)]
            except BlockingIOError:
                pass
            except OSError:
                inbuf.clear()
        if to_child is not None and not net_open and not inbuf:
            os.close(to_child)  # the program sees the client's end
            to_child = None
        if from_child in r:
            data = os.read(from_child, 65536)
            if not data:
                child_open = False
            elif net_open:
                outbuf += data
        if tls in w and outbuf and net_open:
            try:
                del outbuf[:tls.send(outbuf)]
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except (ssl.SSLError, OSError):
                outbuf.clear()
                net_open = False
    if to_child is not None:
        os.close(to_child)
    try:
        tls.setblocking(True)
        tls.settimeout(2)
        tls.unwrap()
    except (ssl.SSLError, OSError, ValueError):
        pass
    tls.close()


def serve(conn, argv, opts, env):
    """One connection: the program, then TLS when it asks. Returns its status."""
    ctl_parent, ctl_child = socket.socketpair()
    read_r, read_w = os.pipe()     # decrypted input: launcher -> program
    write_r, write_w = os.pipe()   # plaintext output: program -> launcher
    env = dict(env, SSLCTLFD=str(ctl_child.fileno()), SSLREADFD=str(read_r),
               SSLWRITEFD=str(write_w))
    try:
        child = subprocess.Popen(argv, stdin=conn.fileno(), stdout=conn.fileno(), env=env,
                                 pass_fds=(ctl_child.fileno(), read_r, write_w))
    except OSError as e:
        die("unable to run %s: %s" % (argv[0], e))
    ctl_child.close()
    os.close(read_r)
    os.close(write_w)
    try:
        cmd = ctl_parent.recv(1)
    except OSError:
        cmd = b""
    if cmd in (b"y", b"Y"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts["-f"])
        # A program that ends before the handshake is done ends it too.
        wake = socket.socket(fileno=os.dup(conn.fileno()))
        tls = ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        tls.settimeout(opts["-T"])
        shaking = threading.Event()
        shaking.set()

        def watch():
            child.wait()
            if shaking.is_set():
                try:
                    wake.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=watch, daemon=True).start()
        try:
            tls.do_handshake()
        except (ssl.SSLError, OSError) as e:
            print("tls-ucspi: handshake failed: %s" % e, file=sys.stderr)
            tls = None
        shaking.clear()
        wake.close()
        if tls is not None:
            if opts["-i"]:
                with open(opts["-i"], "a") as f:
                    f.write("%s %s\n" % (tls.version(), tls.cipher()[0]))
            if cmd == b"Y":
                blob = b"".join(("%s=%s" % kv).encode() + b"\0" for kv in tls_env(tls).items())
                try:
                    ctl_parent.sendall(blob + b"\0")
                except OSError:
                    pass
            shuttle(tls, read_w, write_r, opts["-t"])
        else:
            os.close(read_w)
        ctl_parent.close()
        os.close(write_r)
    else:
        # The program ended, or closed SSLCTLFD: it never asked for TLS.
        ctl_parent.close()
        os.close(read_w)
        os.close(write_r)
    conn.close()
    status = child.wait()
    return status if status >= 0 else 111


def main():
    opts, argv = parse(sys.argv)
    if not os.path.isfile(opts["-f"]):
        die("unable to read %s" % opts["-f"], 100)
    if opts["-l"] is None:
        conn = socket.socket(fileno=os.dup(0))
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        sys.exit(serve(conn, argv, opts, os.environ))
    host, _, port = opts["-l"].rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, int(port)))
    listener.listen(64)
    # Finished connections are reaped by the kernel.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        conn, peer = listener.accept()
        local = conn.getsockname()
        env = dict(os.environ, PROTO="TCP", TCPREMOTEIP=peer[0], TCPREMOTEPORT=str(peer[1]),
                   TCPLOCALIP=local[0], TCPLOCALPORT=str(local[1]))
        if opts["-1"]:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            listener.close()
            sys.exit(serve(conn, argv, opts, env))
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            listener.close()
            os._exit(serve(conn, argv, opts, env))
        conn.close()


if __name__ == "__main__":
    main()
