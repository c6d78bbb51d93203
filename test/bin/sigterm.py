#!/usr/bin/env python3
"""sigterm.py STEP... -- cmd...: runs cmd on pipes as a client would, takes
the steps in order, then reads what cmd writes until it exits (at most 20
s) and prints it; exits with cmd's exit status (128+N for signal N).

Steps:
  send:TEXT    writes TEXT, with \\r and \\n as escapes
  reply:CODE   waits (at most 10 s) for a reply line that starts with CODE
  file:PATH    waits (at most 10 s) until PATH exists
  term         sends SIGTERM to cmd
  smallpipe    makes the pipe cmd writes to hold only 4 KiB, so that cmd
               blocks in a write while this reads nothing
"""
import fcntl, os, select, signal, subprocess, sys, time

F_SETPIPE_SZ = 1031

i = sys.argv.index("--")
steps, cmd = sys.argv[1:i], sys.argv[i + 1:]
p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT)
got = b""


def read_some(until):
    """Reads what is there until the deadline; False at end of output."""
    global got
    left = until - time.monotonic()
    if left <= 0:
        return True
    r, _, _ = select.select([p.stdout], [], [], left)
    if r:
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            return False
        got += chunk
    return True


for step in steps:
    kind, _, arg = step.partition(":")
    until = time.monotonic() + 10
    if kind == "send":
        p.stdin.write(arg.replace("\\r", "\r").replace("\\n", "\n").encode())
        p.stdin.flush()
    elif kind == "reply":
        want = ("\n" + arg).encode()
        while want not in b"\n" + got and time.monotonic() < until:
            if not read_some(until):
                break
        if want not in b"\n" + got:
            sys.stdout.buffer.write(got)
            sys.exit("sigterm.py: no reply " + arg)
    elif kind == "file":
        while not os.path.exists(arg) and time.monotonic() < until:
            time.sleep(0.01)
        if not os.path.exists(arg):
            sys.exit("sigterm.py: no file " + arg)
    elif kind == "term":
        p.send_signal(signal.SIGTERM)
    elif kind == "smallpipe":
        fcntl.fcntl(p.stdout.fileno(), F_SETPIPE_SZ, 4096)
    else:
        sys.exit("sigterm.py: unknown step " + step)

until = time.monotonic() + 20
while time.monotonic() < until and read_some(until):
    pass
try:
    status = p.wait(timeout=max(0.1, until - time.monotonic()))
except subprocess.TimeoutExpired:
    p.kill()
    p.wait()
    sys.stdout.buffer.write(got)
    sys.exit("sigterm.py: still running after 20 s")
sys.stdout.buffer.write(got)
sys.exit(128 - status if status < 0 else status)
