#!/usr/bin/env python3
"""sigign.py SIGNAME... -- cmd...: runs cmd with each named signal set to
SIG_IGN and blocked, as a careless launcher (a Python or Perl accept loop)
may leave them; exec keeps both."""
import os, signal, sys

i = sys.argv.index("--")
sigs = [getattr(signal, name) for name in sys.argv[1:i]]
for s in sigs:
    signal.signal(s, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
os.execvp(sys.argv[i + 1], sys.argv[i + 1:])
