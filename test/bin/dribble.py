#!/usr/bin/env python3
"""Writes stdin to stdout in chunks: `dribble.py 1` byte by byte, `dribble.py
3 7 1` in chunks of 3, 7, 1, 3, 7, 1 ... octets, each its own write(2) after
a short pause, so that smtpd's reads split the stream at those points."""
import os, sys, time

data = sys.stdin.buffer.read()
sizes = [int(a) for a in sys.argv[1:]] or [1]
i = k = 0
while i < len(data):
    n = sizes[k % len(sizes)]
    os.write(1, data[i:i + n])
    i += n
    k += 1
    if k % 64 == 0:
        time.sleep(0.001)
