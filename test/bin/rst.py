#!/usr/bin/env python3
"""rst.py -- cmd...: runs cmd on the accepted end of a loopback TCP
connection (as inetd would), sends it "EHLO c", reads the replies, then
resets the connection (SO_LINGER 0: the kernel sends RST, and smtpd's next
read fails with ECONNRESET). Prints cmd's exit status. Bounded: 20 s."""
import os, socket, struct, subprocess, sys, time

cmd = sys.argv[sys.argv.index("--") + 1:]
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
cli = socket.create_connection(srv.getsockname())
conn, _ = srv.accept()
p = subprocess.Popen(cmd, stdin=conn, stdout=conn, stderr=subprocess.DEVNULL)
conn.close()
cli.settimeout(10)
got = b""
cli.sendall(b"EHLO c\r\n")
while b"\r\n250 " not in got:
    chunk = cli.recv(4096)
    if not chunk:
        break
    got += chunk
# Unread data makes the close a reset for certain.
cli.sendall(b"NOOP\r\n")
time.sleep(0.2)
cli.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
cli.close()
try:
    status = p.wait(timeout=20)
except subprocess.TimeoutExpired:
    p.kill()
    status = "timeout"
print(status)
