#!/usr/bin/env python3
"""Runs smtpd (the command after --) against a hostile client and prints
one line: status=N signal=N maxrss_kb=N seconds=F replies=N.

  hostile.py longline MB -- cmd...   MB of a line that never ends, then idle
  hostile.py pipeline N -- cmd...    N pipelined NOOPs in one go, then QUIT
  hostile.py rcpts N -- cmd...       MAIL, then N pipelined RCPTs, then QUIT
  hostile.py bigdata MB -- cmd...    one DATA of MB megabytes (76-octet lines)
  hostile.py noread N -- cmd...      MAIL and N RCPTs on a socket whose
                                     replies are never read

maxrss_kb is smtpd's VmHWM, its peak resident size, read from /proc every
5 ms while it runs (wait4's ru_maxrss would count the Python copy it was
forked from). Every run is bounded: the child is killed after 120 s."""
import os, socket, subprocess, sys, threading, time

kind, amount = sys.argv[1], int(sys.argv[2])
cmd = sys.argv[sys.argv.index("--") + 1:]
HEAD = b"HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
# RCPTs past -r get 452 each: replies without end that are neither errors
# nor junk commands, so only the write deadline can stop them.
RCPTS = b"HELO c\r\nMAIL FROM:<a@b>\r\n" + b"RCPT TO:<c@d>\r\n" * amount
replies = bytearray()

def feed(w, keep_open):
    try:
        if kind == "longline":
            chunk = b"x" * (1 << 20)
            for _ in range(amount):
                w.write(chunk)
            w.flush()
            time.sleep(keep_open)
        elif kind == "pipeline":
            w.write(b"HELO c\r\n" + b"NOOP\r\n" * amount + b"QUIT\r\n")
        elif kind == "rcpts":
            w.write(RCPTS + b"QUIT\r\n")
        elif kind == "bigdata":
            w.write(HEAD)
            line = b"." + b"y" * 74 + b"\r\n"   # dot-stuffed, 76 octets
            block = line * (1 << 14)            # ~1.2 MB
            left = amount << 20
            while left > 0:
                w.write(block)
                left -= len(block)
            w.write(b".\r\nQUIT\r\n")
        w.close()
    except (BrokenPipeError, ConnectionResetError):
        pass

peak_kb = 0

def alive(p):
    try:
        with open("/proc/%d/stat" % p.pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False

def sample(p):
    global peak_kb
    while alive(p):
        try:
            with open("/proc/%d/status" % p.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.005)

start = time.time()
if kind == "noread":
    ours, theirs = socket.socketpair()
    p = subprocess.Popen(cmd, stdin=theirs, stdout=theirs, stderr=theirs)
    theirs.close()
    ours.setblocking(False)
    data = RCPTS
    sent = 0
    while sent < len(data) and alive(p) and time.time() - start < 120:
        try:
            sent += ours.send(data[sent:sent + 65536])
        except BlockingIOError:
            time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            break  # smtpd gave up on us between alive() and send()
    # Never read: smtpd's replies fill the socket and its writes time out.
else:
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    threading.Thread(target=feed, args=(p.stdin, 30), daemon=True).start()
    def drain():
        while True:
            b = p.stdout.read(65536)
            if not b:
                return
            replies.extend(b)
    threading.Thread(target=drain, daemon=True).start()

sampler = threading.Thread(target=sample, args=(p,), daemon=True)
sampler.start()
timer = threading.Timer(120, p.kill)
timer.start()
_, status, usage = os.wait4(p.pid, 0)
timer.cancel()
elapsed = time.time() - start
time.sleep(0.1)
print("status=%d signal=%d maxrss_kb=%d seconds=%.2f replies=%d" % (
    os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1,
    os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0,
    peak_kb, elapsed, replies.count(b"\r\n")))
sys.stdout.flush()
with open("replies", "wb") as f:
    f.write(bytes(replies))
os._exit(0)
