#!/usr/bin/env python3
"""make bench: smtpd beside its peers, on the same inputs, in one run.

Receivers: smtpd (-R, spooling to /tmp; in measures 1 to 3 also with
TMPDIR=/dev/shm, for reference); notqmail's qmail-smtpd (built from its
source, see NOTQMAIL_SRC below), mailfront (Debian's, with its qmail
backend), Exim (exim4 -bs with a private config whose pipe transport feeds
the sink), msmtpd (msmtpd --inetd --command=sink); cat over the same bytes
(the pipe's limit), floor (the least a receiver must do) and floor+log (the
floor plus the syslog(3) lines SPEC 8 asks of every receiver). Every
message goes to the same sink (sink.c; as a qmail-queue for notqmail and
mailfront). The Debian peers are unpacked from their packages into
test/bench/out/peers, notqmail is built in test/bench/out/notqmail;
nothing is installed.

Measures, each the median of interleaved rounds:
 1 small session piped (EHLO, MAIL, RCPT, DATA of 2 KB, QUIT): sessions/s,
   and CPU us per session (wait4's rusage of the receiver with the
   maildrops it waited for: steadier than the wall clock on a busy machine)
 2 one session of 1,000 messages: messages/s, and CPU us per message
 3 one 100 MiB message (76-octet lines, some dot-stuffed): MB/s, as the
   scheduler places the processes and again with all of them on one CPU
   (the total work, steadier: in a VM a wake-up across CPUs can cost more
   than the copy); peak RSS at 1 and 10 MiB (RSS_RUNS runs) and 100 MiB
   (the runs of the MB/s rows)
 3h the same 100 MiB with hostile line ends, on one CPU: LF only, CR only,
   and no line end at all (one line, then the CR LF . CR LF), beside
   measure 3's CR LF figure: MB/s and the reply (from a 1 MiB run)
 4 loopback TCP under tcpserver -H, driven by Postfix's smtp-source:
   sessions/s, and the server side's CPU us per session (tcpserver and all
   it started, from /proc/PID/stat); 4b the peer's name looked up: smtpd
   by itself (no -R) under tcpserver -H, notqmail through tcpserver
   without -H, both asking the benchmark's own DNS server (dns.c), and
   for reference notqmail under tcpserver -p, which confirms the name
   forward as smtpd does (a PTR and an A query each); 4c
   through HAProxy (mode tcp; send-proxy-v2 and smtpd -p when smtpd has
   -p, plain otherwise; notqmail plain) against direct
 5 memory per concurrent session: SESSIONS sessions open at once under
   tcpserver -H, each idle after EHLO: PSS and private memory of each
   session's process (/proc/PID/smaps_rollup), medians, KB; smtpd both
   with -R and looking the peer up itself
 6 instructions per small session (callgrind, the process itself)
Every receiver is first checked to accept every message of measures 1
and 2; over TCP the sink counts what arrived, and the DNS server what was
asked. The whole run happens in a private mount and network namespace
(only lo): nothing can leave the machine, port 53 is free, and /etc/hosts,
resolv.conf and nsswitch.conf are the benchmark's own.

Environment:
 NOTQMAIL_SRC    notqmail's source, a tarball or a directory (a git clone
                 of notqmail/notqmail); default ../shared/peers/notqmail-*.tar.gz
 BENCH_ONLY      the measures to run, comma-separated, of: small batch
                 large hostile rss loopback lookup haproxy memory callgrind,
                 and profile (strace -c, callgrind and perf views of one
                 small session; not run by default)
 BENCH_RECEIVERS the receivers to run, comma-separated (smtpd always)
 BENCH_ROUNDS (5), BENCH_SMALL_RUNS (200), BENCH_RSS_RUNS (15),
 BENCH_SESSIONS (200), BENCH_LOOPBACK_SECONDS (2): sizes of the measures
 BENCH_HOSTILE_ROUNDS (3): rounds of measure 3h
 BENCH_SLOW_CAP (10): a run slower than this many seconds is not repeated
 BENCH_STATIC=1  adds reference columns "smtpd, static-pie" to measures 1,
                 2, 4, 4b and 5: the same source linked with -static-pie
                 (make test/bench/out/smtpd-static-pie), to show what
                 loading and relocating the shared libraries costs each
                 exec (CPU feature detection runs in a static binary too).
                 Not a way to build smtpd for use: a static binary keeps
                 its glibc, resolver included, until it is rebuilt.
 BENCH_LARGE_RUNS (3): measure 3 as scheduled runs BENCH_ROUNDS times this
                 many interleaved rounds, as wake-ups across CPUs make
                 single runs swing twofold
"""
import glob, os, re, shutil, signal, socket, statistics, subprocess, sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(HERE, "out")
PEERS = os.path.join(OUT, "peers")
NOTQMAIL = os.path.join(OUT, "notqmail")
COUNT_FILE = os.path.join(OUT, "count")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SMALL_RUNS = int(os.environ.get("BENCH_SMALL_RUNS", "200"))
# Peak RSS swings by some 0.15 MiB from run to run (shared library pages
# are mapped 64 KB at a time, and where those blocks fall moves with the
# library's load address): more runs than the timed measures.
RSS_RUNS = int(os.environ.get("BENCH_RSS_RUNS", "15"))
SESSIONS = int(os.environ.get("BENCH_SESSIONS", "200"))
LOOPBACK_SECONDS = float(os.environ.get("BENCH_LOOPBACK_SECONDS", "2"))
SLOW_CAP = float(os.environ.get("BENCH_SLOW_CAP", "10"))
STATIC = "smtpd, static-pie"
WITH_STATIC = os.environ.get("BENCH_STATIC") == "1"
LARGE_RUNS = int(os.environ.get("BENCH_LARGE_RUNS", "3"))
HOSTILE_ROUNDS = int(os.environ.get("BENCH_HOSTILE_ROUNDS",
                                    str(min(ROUNDS, 3))))
MEASURES = ["small", "batch", "large", "hostile", "rss", "loopback",
            "lookup", "haproxy", "memory", "callgrind"]
ONLY = [m for m in os.environ.get("BENCH_ONLY", "").split(",") if m]
ONLY_RECEIVERS = [r for r in os.environ.get("BENCH_RECEIVERS", "").split(",")
                  if r]
ORDER = ["smtpd", "smtpd, own look-up", "smtpd, spool on tmpfs", STATIC,
         STATIC + ", own look-up", "notqmail", "notqmail, tcpserver -p",
         "floor", "floor+log", "cat",
         "mailfront", "msmtpd", "exim"]
# Reference rows, left out unless a measure names them: smtpd spooling to
# /dev/shm (measures 1 to 3), smtpd linked statically (1, 2, 4, 4b, 5).
EXTRA = ["smtpd, spool on tmpfs", STATIC]
PEER_NAMES = ["notqmail", "mailfront", "msmtpd", "exim"]
PACKAGES = ["mailfront", "libbg2", "libcvm1", "liblua5.1-0",
            "exim4-daemon-light", "exim4-base", "libidn12", "postfix",
            "msmtp-mta", "libsecret-1-0", "libglib2.0-0"]
EXIM_UID = 64010
LIBS = ["usr/lib/x86_64-linux-gnu", "usr/lib", "usr/lib/postfix"]
NAME = "bench.example"

# Rows of the final table: (label, {receiver: value}, higher_better).
SUMMARY = []
NOTES = []
# What the DNS server was asked in the last look-up run of each receiver.
DNS_ASKED = {}
# Server-side CPU us per session of the last loopback run of each row.
LAST_CPU = {}

def say(*a):
    print(*a, flush=True)

def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)

def wanted(measure):
    if ONLY:
        return measure in ONLY
    return measure in MEASURES

def median(values):
    return statistics.median(values) if values else None

# --- building and unpacking (before the namespace: apt-get needs the net)

def build():
    run(["make", "-s", "-C", SRC, "smtpd"])
    if WITH_STATIC:
        # The linker's warning about getaddrinfo in a static binary is the
        # row's caveat, not news: left out; anything else is shown.
        r = subprocess.run(["make", "-s", "-C", SRC,
                            "test/bench/out/smtpd-static-pie"],
                           stderr=subprocess.PIPE, text=True)
        sys.stderr.write("".join(
            l for l in r.stderr.splitlines(True)
            if "statically linked" not in l and "in function" not in l))
        r.check_returncode()
    os.makedirs(OUT, exist_ok=True)
    cc = ["cc", "-O2", "-Wall", "-Wextra"]
    for prog, flags in (("sink", []), ("driver", ["-static"]), ("floor", []),
                        ("dns", []),
                        ("sink-count", ['-DCOUNT_FILE="%s"' % COUNT_FILE])):
        src = prog.split("-")[0] + ".c"
        run(cc + flags + ["-o", os.path.join(OUT, prog),
                          os.path.join(HERE, src)])
    # As a qmail-queue: the name tells the sink to read the envelope too.
    shutil.copy(os.path.join(OUT, "sink"), os.path.join(OUT, "sink-qmail"))
    shutil.copy(os.path.join(OUT, "sink-count"),
                os.path.join(OUT, "sink-count-qmail"))

def unpack_peers():
    if os.path.isdir(PEERS):
        return
    debs = os.path.join(OUT, "debs")
    os.makedirs(debs, exist_ok=True)
    for p in PACKAGES:
        r = subprocess.run(["apt-get", "download", p], cwd=debs,
                           capture_output=True, text=True)
        if r.returncode != 0:
            say("note: cannot download %s: %s" % (p, r.stderr.strip()[:200]))
    for deb in sorted(os.listdir(debs)):
        run(["dpkg-deb", "-x", os.path.join(debs, deb), PEERS])
    # Unpacked, not installed: a setuid exim would run its re-exec in
    # secure mode, where the loader ignores LD_LIBRARY_PATH.
    exim = peer("usr/sbin/exim4")
    if exim:
        os.chmod(os.path.realpath(exim), 0o755)

def notqmail_source():
    src = os.environ.get("NOTQMAIL_SRC")
    if src:
        if os.path.exists(src):
            return os.path.abspath(src)
        say("notqmail: skipped: NOTQMAIL_SRC=%s does not exist" % src)
        return None
    found = sorted(glob.glob(os.path.join(SRC, "..", "shared", "peers",
                                          "notqmail-*.tar.gz")))
    if found:
        return os.path.abspath(found[-1])
    say("notqmail: skipped: set NOTQMAIL_SRC to its source "
        "(a tarball or a git clone of notqmail/notqmail)")
    return None

def build_notqmail():
    """Builds qmail-smtpd with conf-qmail naming test/bench/out/notqmail/
    home, which gets control/me; returns the binary, or None."""
    src = notqmail_source()
    if src is None:
        return None
    binary = os.path.join(NOTQMAIL, "qmail-smtpd")
    home = os.path.join(NOTQMAIL, "home")
    st = os.stat(src)
    newest = st.st_mtime
    if os.path.isdir(src):  # a clone: its newest file, .git left out
        for top, dirs, files in os.walk(src):
            dirs[:] = [d for d in dirs if d != ".git"]
            for f in files:
                newest = max(newest, os.stat(os.path.join(top, f)).st_mtime)
    stamp = "%s %d %d\n" % (src, st.st_size, int(newest))
    stamp_file = os.path.join(NOTQMAIL, "built-from")
    if os.path.exists(binary) and os.path.exists(stamp_file) and \
            open(stamp_file).read() == stamp:
        return binary
    shutil.rmtree(NOTQMAIL, ignore_errors=True)
    unpacked = os.path.join(NOTQMAIL, "unpacked")
    os.makedirs(unpacked)
    if os.path.isdir(src):
        shutil.copytree(src, os.path.join(unpacked, "src"),
                        ignore=shutil.ignore_patterns(".git"))
    else:
        run(["tar", "-xf", src, "-C", unpacked])
    tops = [os.path.dirname(p) for p in
            glob.glob(os.path.join(unpacked, "qmail-smtpd.c")) +
            glob.glob(os.path.join(unpacked, "*", "qmail-smtpd.c"))]
    if not tops:
        say("notqmail: skipped: no qmail-smtpd.c in %s" % src)
        return None
    with open(os.path.join(tops[0], "conf-qmail"), "w") as f:
        f.write(home + "\n")
    say("notqmail: building qmail-smtpd from %s" % src)
    r = subprocess.run(["make", "qmail-smtpd"], cwd=tops[0],
                       capture_output=True, text=True)
    if r.returncode != 0:
        say("notqmail: skipped: make qmail-smtpd failed:\n%s" %
            (r.stdout + r.stderr)[-1500:])
        return None
    shutil.copy(os.path.join(tops[0], "qmail-smtpd"), binary)
    os.makedirs(os.path.join(home, "control"))
    with open(os.path.join(home, "control", "me"), "w") as f:
        f.write(NAME + "\n")
    with open(stamp_file, "w") as f:
        f.write(stamp)
    return binary

def peer(path):
    p = os.path.join(PEERS, path)
    return p if os.path.exists(p) else None

def env_with(**extra):
    e = dict(os.environ)
    e["LD_LIBRARY_PATH"] = ":".join(os.path.join(PEERS, l) for l in LIBS)
    e.update(extra)
    return e

# --- the namespace

def etc_files():
    """The files the namespace sees as /etc/...: passwd and group with the
    user Debian's exim4 looks up before it reads any config (an otherwise
    unused uid); a hosts file without 127.0.0.1, so that a look-up of the
    peer goes to the benchmark's DNS server, as tcpserver's always does."""
    etc = os.path.join(OUT, "etc")
    os.makedirs(etc, exist_ok=True)
    files = {
        "hosts": "# make bench: names come from its DNS server (dns.c)\n",
        "resolv.conf": "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
        "host.conf": "multi off\n",
    }
    for f, line in (("passwd", "Debian-exim:x:%d:%d::/nonexistent:"
                               "/usr/sbin/nologin\n" % (EXIM_UID, EXIM_UID)),
                    ("group", "Debian-exim:x:%d:\n" % EXIM_UID)):
        with open("/etc/" + f) as src:
            files[f] = src.read() + line
    for f, text in files.items():
        with open(os.path.join(etc, f), "w") as dst:
            dst.write(text)
    return etc

def enter_namespace():
    """As root, re-runs the benchmark in a private mount and network
    namespace with only lo, and the files of etc_files() over /etc's."""
    if os.getuid() != 0 or not shutil.which("unshare"):
        say("note: not root, or no unshare: no namespace; exim and the "
            "look-up rows are left out")
        os.environ["BENCH_NO_NAMESPACE"] = "1"
        return
    etc = etc_files()
    script = ('for f in passwd group hosts resolv.conf nsswitch.conf '
              'host.conf; do [ -e "/etc/$f" ] || continue; '
              'mount --bind "$1/$f" "/etc/$f" || exit 99; done; '
              'exec python3 "$2"')
    os.environ["BENCH_IN_NAMESPACE"] = "1"
    os.execvp("unshare", ["unshare", "-mn", "sh", "-c", script, "sh", etc,
                          os.path.abspath(__file__)])

def loopback_up():
    """ip link set lo up, by ioctl (iproute2 need not be there)."""
    import fcntl, struct
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ifreq = struct.pack("16sH14s", b"lo", 0, b"")
    flags = struct.unpack("16sH14s", fcntl.ioctl(s, 0x8913, ifreq))[1]
    fcntl.ioctl(s, 0x8914, struct.pack("16sH14s", b"lo", flags | 1, b""))
    s.close()

def namespaced():
    return bool(os.environ.get("BENCH_IN_NAMESPACE"))

# --- receivers

def exim_config(sink, tag):
    d = os.path.join(OUT, "exim")
    for sub in ("spool", "log"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chown(os.path.join(d, sub), EXIM_UID, EXIM_UID)
    conf = os.path.join(d, "configure-" + tag)
    with open(conf, "w") as f:
        f.write("""primary_hostname = %(name)s
exim_path = %(exim)s
keep_environment = LD_LIBRARY_PATH
never_users =
trusted_users = root
spool_directory = %(d)s/spool
log_file_path = %(d)s/log/%%slog
message_size_limit = 0
deliver_drop_privilege = true
host_lookup = !*
rfc1413_hosts = !*
acl_smtp_rcpt = acl_rcpt
begin acl
acl_rcpt:
  accept
begin routers
to_sink:
  driver = accept
  transport = sink_pipe
begin transports
sink_pipe:
  driver = pipe
  command = %(sink)s
  batch_max = 1000
  return_fail_output = false
  ignore_status = false
""" % {"d": d, "sink": sink, "exim": peer("usr/sbin/exim4"), "name": NAME})
    os.chmod(conf, 0o644)
    return conf

def looking_up(cmd):
    """smtpd's argv without -R: it looks the peer's name up itself."""
    return [c for c in cmd if c != "-R"]

def receivers(counting=False):
    """name -> (argv, environment). With counting, every message also
    leaves one octet in COUNT_FILE."""
    sink = os.path.join(OUT, "sink-count" if counting else "sink")
    qsink = sink + "-qmail"
    smtpd = [os.path.join(SRC, "smtpd"), "-R", "-n", NAME, "-s", "0",
             "-t", "60", sink]
    r = {
        "smtpd": (smtpd, None),
        "smtpd, spool on tmpfs": (smtpd, dict(os.environ, TMPDIR="/dev/shm")),
        "floor": ([os.path.join(OUT, "floor"), sink], None),
        "floor+log": ([os.path.join(OUT, "floor"), "-l", sink], None),
        "cat": (["cat"], None),
    }
    notqmail = os.environ.get("BENCH_NOTQMAIL")
    if notqmail:
        # As tcpserver would set them, for the piped measures; tcpserver
        # sets its own over these.
        r["notqmail"] = ([notqmail],
                         dict(os.environ, QMAILQUEUE=qsink,
                              TCPREMOTEIP="127.0.0.1", TCPLOCALIP="127.0.0.1",
                              TCPLOCALHOST=NAME))
    if peer("usr/sbin/mailfront"):
        r["mailfront"] = ([peer("usr/sbin/mailfront"), "smtp", "qmail",
                           "accept", "add-received"],
                          env_with(MODULE_PATH=peer("usr/lib/mailfront"),
                                   QMAILQUEUE=qsink, QMAILHOME=OUT,
                                   TCPREMOTEIP="127.0.0.1",
                                   TCPLOCALHOST=NAME, DATABYTES="0"))
    if peer("usr/sbin/exim4") and namespaced():
        r["exim"] = ([peer("usr/sbin/exim4"), "-bs", "-odi", "-C",
                      exim_config(sink, "count" if counting else "plain")],
                     env_with())
    if peer("usr/bin/msmtpd"):
        r["msmtpd"] = ([peer("usr/bin/msmtpd"), "--inetd",
                        "--command=" + sink], env_with())
    static = os.path.join(OUT, "smtpd-static-pie")
    if WITH_STATIC and os.path.exists(static):
        r[STATIC] = ([static] + smtpd[1:], None)
    if not os.path.isdir("/dev/shm"):
        del r["smtpd, spool on tmpfs"]
    if ONLY_RECEIVERS:
        r = {n: v for n, v in r.items()
             if n == "smtpd" or n in EXTRA or n in ONLY_RECEIVERS}
    return r

def smtpd_identity():
    """Which binary the figures are of (a binary rebuilt during the run
    makes a mix of versions): its time, size and hash."""
    import hashlib
    binary = os.path.join(SRC, "smtpd")
    with open(binary, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    st = os.stat(binary)
    return "built %s, %d octets, sha256 %s" % (time.strftime(
        "%Y-%m-%d %H:%M:%S", time.localtime(st.st_mtime)), st.st_size,
        digest)

def smtpd_has_proxy():
    r = subprocess.run([os.path.join(SRC, "smtpd"), "-p", "-R", "true"],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=10)
    return not (r.returncode == 64 and "-p" in r.stderr)

# --- inputs

def message(size):
    lines, n, i = [], 0, 0
    head = "From: a@example.org\r\nTo: b@example.org\r\nSubject: bench\r\n\r\n"
    lines.append(head)
    n = len(head)
    while n < size:
        # 76 octets with CRLF; one line in ten is dot-stuffed
        line = (".." if i % 10 == 0 else "x") + ("%07d " % i) + "y" * 65 + "\r\n"
        line = line[:74] + "\r\n" if len(line) > 76 else line
        lines.append(line)
        n += len(line)
        i += 1
    return "".join(lines).encode()

ENVELOPE = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"

def session(messages, size, line_end=b"\r\n"):
    body = message(size)
    if line_end != b"\r\n":
        body = body.replace(b"\r\n", line_end)
    parts = [b"EHLO client.example\r\n"]
    for _ in range(messages):
        parts.append(ENVELOPE)
        # A message not ending in a line end gets one before the dot.
        parts.append(body + (b"" if body.endswith(b"\r\n") else b"\r\n")
                     + b".\r\n")
    parts.append(b"QUIT\r\n")
    return b"".join(parts)

def write_input(name, data):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        f.write(data)
    return path

HOSTILE = (("LF", b"\n"), ("CR", b"\r"), ("one line", b""))

# --- running

def replies_of(cmd, env, path):
    with open(path, "rb") as f:
        r = subprocess.run(cmd, stdin=f, capture_output=True, env=env,
                           timeout=300)
    return r.returncode, r.stdout.decode("latin-1")

def accepts_all(name, cmd, env, path, messages):
    """Runs once, replies kept: every message must get 354 and then 250."""
    code, replies = replies_of(cmd, env, path)
    got = len(re.findall(r"^354", replies, re.M))
    after = re.findall(r"^354[^\n]*\n([0-9]{3})", replies, re.M)
    ok = name == "cat" or (got == messages and all(c == "250" for c in after))
    if not ok:
        say("note: %s did not accept every message (exit %d; %r); left out"
            % (name, code, replies[-300:]))
    return ok

def one_cpu():
    """Pins the driver, and so everything it starts, to one CPU."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

class Runs:
    """What driver.c says of count runs."""
    def __init__(self, text):
        f = dict(kv.split("=") for kv in text.split())
        self.seconds, self.cpu = float(f["seconds"]), float(f["cpu"])
        self.rss_mib = int(f["maxrss_kb"]) / 1024.0
        self.failures, self.fed = int(f["failures"]), int(f["fed"])

def drive(cmd, env, path, count, pinned=False):
    r = subprocess.run([os.path.join(OUT, "driver"), str(count), path] + cmd,
                       capture_output=True, text=True, env=env, timeout=900,
                       preexec_fn=one_cpu if pinned else None)
    return Runs(r.stdout)

def median_rounds(recv, measure, names, rounds=ROUNDS):
    """Runs measure(name, cmd, env) for every name in every round; a name
    whose run took over SLOW_CAP seconds runs no more rounds. A measure
    may return None (a run that failed): it is left out of the median."""
    results = {name: [] for name in names}
    slow = []
    for _ in range(rounds):
        for name in names:
            if name in slow:
                continue
            start = time.time()
            v = measure(name, *recv[name])
            if v is not None:
                results[name].append(v)
            if time.time() - start > SLOW_CAP:
                slow.append(name)
    for name in slow:
        NOTES.append("%s: a run took over %g s: no more rounds of it "
                     "(%d ran)" % (name, SLOW_CAP, len(results[name])))
    return {n: median(v) for n, v in results.items() if v}

def table(title, unit, values, higher_better=True, summary=None, fmt="%.2f"):
    say("\n%s (%s)" % (title, unit))
    base = values.get("smtpd")
    for name, v in sorted(values.items(),
                          key=lambda kv: -kv[1] if higher_better else kv[1]):
        ratio = ""
        if base and name != "smtpd" and v:
            ratio = "  smtpd is %.2fx" % (base / v if higher_better else v / base)
        say(("  %-28s " + "%12s" % fmt + "%s") % (name, v, ratio))
    if summary:
        SUMMARY.append((summary, values, higher_better))

def names_of(recv, with_cat=False, extra=False):
    return [n for n in ORDER if n in recv and (with_cat or n != "cat")
            and (extra or n not in EXTRA)]

# --- measures 1 to 3: piped

def piped_measures(recv, inputs):
    small, batch, large = (inputs.get(k) for k in ("small", "batch", "large"))
    small_rates = {}
    cpu = {}
    if wanted("small"):
        def small_rate(name, cmd, env):
            r = drive(cmd, env, small, SMALL_RUNS)
            cpu.setdefault(name, []).append(r.cpu / SMALL_RUNS * 1e6)
            return SMALL_RUNS / r.seconds if r.failures == 0 else None
        small_rates = median_rounds(recv, small_rate,
                                    names_of(recv, extra=True))
        table("1. small session, piped", "sessions/s", small_rates,
              summary="1. small piped sessions/s")
        table("1. CPU per small piped session (the receiver and its "
              "maildrop, wait4's rusage)", "us", {
                  n: median(v) for n, v in cpu.items()},
              higher_better=False, fmt="%.0f",
              summary="1. CPU us per small piped session")
    if wanted("batch"):
        cpu = {}
        def batch_rate(name, cmd, env):
            r = drive(cmd, env, batch, 1)
            cpu.setdefault(name, []).append(r.cpu / 1000 * 1e6)
            return 1000 / r.seconds if r.failures == 0 else None
        table("2. one session of 1,000 messages", "messages/s",
              median_rounds(recv, batch_rate, names_of(recv, extra=True)),
              summary="2. messages/s, 1,000 in one session")
        table("2. CPU per message, 1,000 in one session", "us", {
                  n: median(v) for n, v in cpu.items()},
              higher_better=False, fmt="%.0f",
              summary="2. CPU us per message, 1,000 in one session")
    # The peak RSS of the 100 MiB runs, kept for the RSS rows.
    rss100 = {}
    pinned_rates = {}
    if wanted("large"):
        size100 = os.path.getsize(large[100]) / 1e6
        for pinned, how in ((False, "as scheduled"), (True, "all on one CPU")):
            def large_rate(name, cmd, env, pinned=pinned):
                r = drive(cmd, env, large[100], 1, pinned)
                if name not in EXTRA:
                    rss100.setdefault(name, []).append(r.rss_mib)
                return size100 / r.seconds if r.failures == 0 else None
            # Unpinned, each run lands on either CPU at random: more runs.
            rounds = ROUNDS if pinned else ROUNDS * LARGE_RUNS
            rates = median_rounds(recv, large_rate,
                                  [n for n in names_of(recv, True, True)
                                   if n != STATIC], rounds=rounds)
            table("3. one 100 MiB message, %s" % how, "MB/s", rates,
                  summary="3. MB/s, one 100 MiB message, %s" % how)
        pinned_rates = {n: v for n, v in rates.items() if n not in EXTRA}
    if wanted("hostile"):
        hostile(recv, inputs, pinned_rates)
    if wanted("rss"):
        for m in (1, 10, 100):
            if m == 100 and rss100:
                values = {n: median(v) for n, v in rss100.items()}
                runs = "the %d runs of 3" % min(len(v) for v in rss100.values())
            else:
                def peak(name, cmd, env, m=m):
                    return drive(cmd, env, large[m], 1).rss_mib
                values = median_rounds(recv, peak, names_of(recv, True),
                                       rounds=RSS_RUNS)
                runs = "%d runs" % RSS_RUNS
            table("3. peak RSS, %d MiB message (median of %s)" % (m, runs),
                  "MiB", values, higher_better=False,
                  summary="3. peak RSS MiB, %d MiB message" % m)
    return small_rates

def hostile(recv, inputs, crlf_rates):
    """The 100 MiB message with other line ends, on one CPU, beside CR LF
    (measure 3's figure on one CPU when it ran, else measured here too).
    What each receiver replied comes from a run on the same kind of input
    of 1 MiB."""
    variants = [(label, inputs["hostile"][label]) for label, _ in HOSTILE]
    if not crlf_rates:
        variants.insert(0, ("CR LF", inputs["large"][100]))
    replies = {}
    for label, _ in HOSTILE:
        for name in names_of(recv):
            cmd, env = recv[name]
            code, out = replies_of(cmd, env, inputs["hostile-1"][label])
            m = re.search(r"^354[^\n]*\n([0-9]{3})", out, re.M)
            replies[(label, name)] = m.group(1) if m else \
                "none (exit %d)" % code
    results = {}
    for label, path in variants:
        size = os.path.getsize(path)
        def rate(name, cmd, env, path=path, size=size, label=label):
            r = drive(cmd, env, path, 1, pinned=True)
            fed = r.fed
            if fed < size:
                said = replies.get((label, name), "?")
                if "hung up" not in said:
                    replies[(label, name)] = said + ", hung up after " \
                        "%.1f of %.0f MB" % (fed / 1e6, size / 1e6)
                return None
            return size / 1e6 / r.seconds
        results[label] = median_rounds(recv, rate, names_of(recv, True),
                                       rounds=HOSTILE_ROUNDS)
    if crlf_rates:
        results["CR LF"] = crlf_rates
    for label in ["CR LF"] + [l for l, _ in HOSTILE]:
        table("3h. one 100 MiB message, line ends %s, on one CPU" % label,
              "MB/s", results[label],
              summary="3h. MB/s, 100 MiB, line ends %s, one CPU" % label)
        for name in names_of(recv):
            if (label, name) in replies:
                say("  %-28s replied %s" % (name, replies[(label, name)]))
    SUMMARY.append(("3h. reply to LF / CR / one line",
                    {name: " / ".join(replies.get((l, name), "-")
                                      for l, _ in HOSTILE)
                     for name in names_of(recv)}, None))

# --- measure 4: loopback

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port

def listening(port):
    """Is something listening on 127.0.0.1:port? (/proc/net/tcp; no
    connection that a receiver would have to serve)"""
    want = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        return any(l.split()[1] == want and l.split()[3] == "0A"
                   for l in f.readlines()[1:])

def wait_listening(port, proc):
    for _ in range(200):
        if listening(port):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False

def stop(proc):
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

class Dns:
    """The benchmark's DNS server on 127.0.0.1:53 (dns.c)."""
    def __init__(self):
        self.proc = subprocess.Popen([os.path.join(OUT, "dns"), "3600"],
                                     stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("dns: did not start")

    def counts(self):
        self.proc.send_signal(signal.SIGUSR1)
        line = self.proc.stdout.readline()
        return dict((k, int(v)) for k, v in
                    (kv.split("=") for kv in line.split()))

    def close(self):
        stop(self.proc)

HAPROXY_CONFIG = """global
	maxconn 4000
	nbthread 1
defaults
	mode tcp
	timeout connect 5s
	timeout client 60s
	timeout server 60s
listen smtp
	bind 127.0.0.1:%(front)d
	server receiver 127.0.0.1:%(back)d%(proxy)s
"""

def tcp_rate(cmd, env, count, resolve=False, haproxy=None, dns=None,
             row=None):
    """Sessions/s of smtp-source -s 4 sending count messages of 2 KB to
    cmd under tcpserver (resolve: without -H, tcpserver asking dns); with
    haproxy ("plain" or "proxy-v2"), through HAProxy. None unless the sink
    got every message (and, with dns, the server was asked every time).
    resolve="paranoid" adds tcpserver's -p: the name is confirmed forward."""
    port = free_port()
    env = dict(env or os.environ)
    if resolve:
        env["DNSCACHEIP"] = "127.0.0.1"
    flags = ["-R", "-l", NAME, "-c", "100"] + \
        (["-p"] if resolve == "paranoid" else [] if resolve else ["-H"])
    procs = []
    try:
        srv = subprocess.Popen(["tcpserver"] + flags + ["127.0.0.1", str(port)]
                               + cmd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        procs.append(srv)
        if not wait_listening(port, srv):
            NOTES.append("tcpserver did not listen for %s" % cmd[0])
            return None
        target = port
        if haproxy:
            target = free_port()
            conf = os.path.join(OUT, "haproxy.cfg")
            with open(conf, "w") as f:
                f.write(HAPROXY_CONFIG % {
                    "front": target, "back": port,
                    "proxy": " send-proxy-v2" if haproxy == "proxy-v2" else ""})
            hap = subprocess.Popen(["haproxy", "-db", "-q", "-f", conf],
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            procs.append(hap)
            if not wait_listening(target, hap):
                NOTES.append("haproxy did not listen")
                return None
        open(COUNT_FILE, "w").close()
        os.chmod(COUNT_FILE, 0o666)  # Exim's pipe runs the sink as its user
        before = dns.counts() if dns else None
        start = time.time()
        r = subprocess.run([peer("usr/sbin/smtp-source"), "-s", "4", "-m",
                            str(count), "-l", "2048", "-f", "a@example.org",
                            "-t", "b@example.org", "127.0.0.1:%d" % target],
                           env=env_with(), timeout=300,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
        elapsed = time.time() - start
        cpu = server_cpu(srv)
    finally:
        for p in reversed(procs):
            stop(p)
    got = os.path.getsize(COUNT_FILE)
    if r.returncode != 0 or got != count:
        NOTES.append("%s over TCP: %d of %d messages arrived (smtp-source "
                     "exit %d: %s)" % (os.path.basename(cmd[0]), got, count,
                                       r.returncode, r.stderr.strip()[-200:]))
        return None
    if dns:
        after = dns.counts()
        DNS_ASKED[row] = "%s for %d sessions" % (
            " ".join("%s=%d" % (k, after[k] - before[k]) for k in after),
            count)
        if after["ptr"] - before["ptr"] < count:
            NOTES.append("%s: only %d PTR queries for %d sessions" %
                         (os.path.basename(cmd[0]),
                          after["ptr"] - before["ptr"], count))
            return None
    LAST_CPU[row] = cpu / count * 1e6 if cpu is not None else None
    return count / elapsed

def server_cpu(srv):
    """CPU seconds of tcpserver and all it started (its look-up, the
    receivers, their maildrops), once every session's process is gone and
    reaped: /proc/PID/stat's utime, stime, cutime and cstime."""
    for _ in range(100):
        if not children_of(srv.pid):
            break
        time.sleep(0.05)
    else:
        return None
    with open("/proc/%d/stat" % srv.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")

def loopback(small_rates):
    if not peer("usr/sbin/smtp-source") or not shutil.which("tcpserver"):
        say("note: the loopback measures need smtp-source (postfix) and "
            "tcpserver (ucspi-tcp)")
        return
    recv = receivers(counting=True)
    # (row, receiver, resolve, haproxy); rows of one table run interleaved.
    configs = []
    direct = names_of(recv) + [n for n in (STATIC,) if n in recv]
    if not wanted("loopback"):
        direct = [n for n in direct if n in ("smtpd", STATIC, "notqmail")]
    for name in direct:
        configs.append((name, name, False, None))
    lookup = wanted("lookup") and namespaced()
    if wanted("lookup") and not lookup:
        say("note: look-up rows need the namespace (run as root)")
    if lookup:
        configs.append(("smtpd, own look-up", "smtpd", True, None))
        if STATIC in recv:
            configs.append((STATIC + ", own look-up", STATIC, True, None))
        if "notqmail" in recv:
            configs.append(("notqmail, tcpserver look-up", "notqmail", True,
                            None))
            configs.append(("notqmail, tcpserver -p look-up", "notqmail",
                            "paranoid", None))
    proxy = "plain"
    if wanted("haproxy") and shutil.which("haproxy"):
        proxy = "proxy-v2" if smtpd_has_proxy() else "plain"
        configs.append(("smtpd via HAProxy (%s)" % proxy, "smtpd", False,
                        proxy))
        if "notqmail" in recv:
            configs.append(("notqmail via HAProxy (plain)", "notqmail",
                            False, "plain"))
    elif wanted("haproxy"):
        say("note: no haproxy: the HAProxy rows are left out")
    counts = {}
    for name in {name for _, name, _, _ in configs}:
        rate = small_rates.get(name) or calibrate(recv[name])
        counts[name] = max(50, min(1000, int(rate * LOOPBACK_SECONDS)))
    dns = Dns() if lookup else None
    rates = {row: [] for row, _, _, _ in configs}
    cpus = {}
    slow = set()
    try:
        for _ in range(ROUNDS):
            for row, name, resolve, haproxy in configs:
                if row in slow:
                    continue
                cmd, env = recv[name]
                if resolve and name in ("smtpd", STATIC):
                    cmd = looking_up(cmd)
                    resolve = False  # tcpserver -H; smtpd looks up
                elif haproxy == "proxy-v2":
                    cmd = cmd[:1] + ["-p"] + cmd[1:]
                start = time.time()
                v = tcp_rate(cmd, env, counts[name], resolve, haproxy,
                             dns if "look-up" in row else None, row)
                if v is not None:
                    rates[row].append(v)
                    if LAST_CPU.get(row) is not None:
                        cpus.setdefault(row, []).append(LAST_CPU[row])
                if time.time() - start > SLOW_CAP * 3:
                    slow.add(row)
    finally:
        if dns:
            dns.close()
    rates = {row: median(v) for row, v in rates.items() if v}
    cpus = {row: median(v) for row, v in cpus.items() if v}
    cpu_note = ("server CPU us per session: tcpserver and all it started, "
                "/proc/PID/stat")
    def rows(pairs):
        return ({k: rates[r] for k, r in pairs if r in rates},
                {k: cpus[r] for k, r in pairs if r in cpus})
    rate, cpu = rows([(r, r) for r in direct])
    table("4. loopback TCP under tcpserver -H, smtp-source -s 4",
          "sessions/s", rate,
          summary="4. loopback sessions/s (tcpserver -H, smtp-source -s 4)")
    table("4. the same, " + cpu_note, "us", cpu, higher_better=False,
          fmt="%.0f", summary="4. loopback server CPU us per session")
    rate, cpu = rows([("smtpd", "smtpd, own look-up"),
                      (STATIC, STATIC + ", own look-up"),
                      ("notqmail", "notqmail, tcpserver look-up"),
                      ("notqmail, tcpserver -p",
                       "notqmail, tcpserver -p look-up")])
    if rate:
        table("4b. loopback, the peer's name looked up (smtpd by itself, "
              "notqmail by tcpserver)", "sessions/s", rate,
              summary="4b. loopback sessions/s, name looked up")
        for prog, asked in sorted(DNS_ASKED.items()):
            say("  %s: DNS queries %s" % (prog, asked))
        table("4b. the same, " + cpu_note + " (the DNS server's own not "
              "counted)", "us", cpu, higher_better=False, fmt="%.0f",
              summary="4b. loopback server CPU us per session, looked up")
    rate, cpu = rows([("smtpd", "smtpd via HAProxy (%s)" % proxy),
                      ("notqmail", "notqmail via HAProxy (plain)")])
    if rate:
        table("4c. loopback through HAProxy (smtpd: %s)" % proxy,
              "sessions/s", rate,
              summary="4c. loopback sessions/s through HAProxy "
                      "(smtpd %s)" % proxy)
        for key in rate:
            if key in rates:
                say("  %-28s %.2f of direct" % (key, rate[key] / rates[key]))
        table("4c. the same, " + cpu_note + " (HAProxy's own not counted)",
              "us", cpu, higher_better=False, fmt="%.0f",
              summary="4c. loopback server CPU us per session, via HAProxy")

def calibrate(receiver):
    cmd, env = receiver
    small = os.path.join(OUT, "small")
    return 20 / drive(cmd, env, small, 20).seconds

# --- measure 5: memory per concurrent session

def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(d))
    return kids

def rollup(pid):
    fields = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1])
    return fields

def open_sessions(port, count):
    """count sessions, each after the greeting and EHLO's last line."""
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        socks.append(s)
        buf = b""
        while not re.search(rb"^220 .*\n", buf, re.M):
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("closed before the greeting")
            buf += chunk
        s.sendall(b"EHLO client.example\r\n")
        buf = b""
        while not re.search(rb"^250 .*\n", buf, re.M):
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("closed before EHLO's reply")
            buf += chunk
    return socks

def memory(recv):
    """Each receiver under tcpserver -H; smtpd also without -R, looking the
    peer up itself (in the namespace, from the DNS server): what its
    look-up leaves behind counts, while tcpserver's look-up for notqmail
    is done before qmail-smtpd starts."""
    if not shutil.which("tcpserver"):
        return
    pss, private = {}, {}
    runs = [(n,) + recv[n] for n in names_of(recv)]
    if STATIC in recv:
        runs.insert(1, (STATIC,) + recv[STATIC])
    if namespaced():
        for name in ("smtpd", STATIC):
            if name in recv:
                runs.insert(1, (name + ", own look-up",
                                looking_up(recv[name][0]), recv[name][1]))
    dns = Dns() if namespaced() else None
    try:
        memory_runs(runs, pss, private)
    finally:
        if dns:
            dns.close()
    table("5. PSS per session, %d sessions idle after EHLO" % SESSIONS,
          "KB, median", pss, higher_better=False,
          summary="5. PSS KB per session (%d open)" % SESSIONS, fmt="%.0f")
    table("5. private memory per session (Private_Clean+Private_Dirty)",
          "KB, median", private, higher_better=False,
          summary="5. private KB per session", fmt="%.0f")

def memory_runs(runs, pss, private):
    for name, cmd, env in runs:
        port = free_port()
        srv = subprocess.Popen(["tcpserver", "-R", "-H", "-l", NAME, "-c",
                                str(SESSIONS + 10), "127.0.0.1", str(port)]
                               + cmd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        socks = []
        try:
            if not wait_listening(port, srv):
                continue
            socks = open_sessions(port, SESSIONS)
            kids = children_of(srv.pid)
            if len(kids) != SESSIONS:
                NOTES.append("memory: %s: %d processes for %d sessions"
                             % (name, len(kids), SESSIONS))
            sizes = [rollup(k) for k in kids]
            pss[name] = median([s["Pss"] for s in sizes])
            private[name] = median([s["Private_Clean"] + s["Private_Dirty"]
                                    for s in sizes])
        except (OSError, RuntimeError) as e:
            NOTES.append("memory: %s: %s" % (name, e))
        finally:
            for s in socks:
                s.close()
            stop(srv)

# --- measure 6: instructions

def instructions(cmd, env, path):
    if not shutil.which("valgrind"):
        return None
    with open(path, "rb") as f:
        r = subprocess.run(["valgrind", "--tool=callgrind",
                            "--callgrind-out-file=/dev/null"] + cmd,
                           stdin=f, capture_output=True, text=True, env=env)
    m = re.search(r"Collected : (\d+)", r.stderr)
    return int(m.group(1)) if m else None

def callgrind(recv, small):
    ins = {}
    for name in ("smtpd", "notqmail", "floor"):
        if name in recv:
            v = instructions(recv[name][0], recv[name][1], small)
            if v:
                ins[name] = v
    if ins:
        table("6. instructions per small session (callgrind, the process "
              "itself)", "instructions", ins, higher_better=False,
              summary="6. instructions per small session", fmt="%.0f")

# --- the final table

def cell(v, base, higher_better, name):
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    text = "{:,.0f}".format(v) if v >= 100 else \
        "%.1f" % v if v >= 10 else "%.2f" % v
    if name == "smtpd" or not base or not v or higher_better is None:
        return text
    return "%s (%.2fx)" % (text, base / v if higher_better else v / base)

def summary():
    if not SUMMARY:
        return
    cols = [n for n in ORDER if any(n in vals for _, vals, _ in SUMMARY)]
    say("\nAll measures; in brackets smtpd's ratio to each (above 1: smtpd "
        "does better)\n")
    say("| measure | " + " | ".join(cols) + " |")
    say("| --- " * (len(cols) + 1) + "|")
    for label, vals, hb in SUMMARY:
        base = vals.get("smtpd")
        say("| %s | %s |" % (label, " | ".join(
            cell(vals.get(n), base, hb, n) for n in cols)))

def row(prefix):
    for label, vals, _ in SUMMARY:
        if label.startswith(prefix):
            return vals
    return {}

def targets():
    """The goals the figures are read against."""
    lines = []
    def ratio(prefix, other, goal, higher_better=True, mine="smtpd"):
        vals = row(prefix)
        a, b = vals.get(mine), vals.get(other)
        if not a or not b or isinstance(a, str):
            return
        r = a / b if higher_better else b / a
        lines.append("  %-58s %5.2fx  goal %.2fx  %s" % (
            prefix + (" (%s)" % mine if mine != "smtpd" else "") +
            " vs " + other, r, goal, "met" if r >= goal else "NOT MET"))
    ratio("1. small piped", "notqmail", 1.10)
    ratio("1. CPU us per small", "notqmail", 1.10, higher_better=False)
    ratio("2. messages/s", "notqmail", 1.10)
    ratio("2. CPU us per message", "notqmail", 1.10, higher_better=False)
    ratio("4b. loopback sessions", "notqmail", 1.10)
    ratio("4b. loopback server CPU", "notqmail", 1.10, higher_better=False)
    # Like for like, both confirming the name forward: a reference row,
    # read against 4b's goal.
    ratio("4b. loopback sessions", "notqmail, tcpserver -p", 1.10)
    ratio("4b. loopback server CPU", "notqmail, tcpserver -p", 1.10,
          higher_better=False)
    ratio("4. loopback sessions", "notqmail", 1.00)
    ratio("4. loopback server CPU", "notqmail", 1.00, higher_better=False)
    for how in ("as scheduled", "all on one CPU"):
        prefix = "3. MB/s, one 100 MiB message, " + how
        vals = row(prefix)
        peers = {n: v for n, v in vals.items() if n in PEER_NAMES}
        if peers:
            ratio(prefix, max(peers, key=peers.get), 1.30)
        ratio(prefix, "cat", 0.80)
    crlf = row("3h. MB/s, 100 MiB, line ends CR LF").get("smtpd")
    for label, _ in HOSTILE:
        v = row("3h. MB/s, 100 MiB, line ends %s," % label).get("smtpd")
        if crlf:
            r = (v or 0) / crlf
            lines.append("  %-58s %5.2fx  goal 0.50x  %s" % (
                "3h. smtpd, line ends %s vs CR LF" % label, r,
                "met" if r >= 0.5 else "NOT MET"))
    ratio("5. PSS", "notqmail", 1.00, higher_better=False)
    ratio("5. PSS", "notqmail", 1.00, higher_better=False,
          mine="smtpd, own look-up")
    # The static reference, read against the same goals (not smtpd as built).
    for prefix, goal, hb in (("1. small piped", 1.10, True),
                             ("1. CPU us per small", 1.10, False),
                             ("2. messages/s", 1.10, True),
                             ("2. CPU us per message", 1.10, False),
                             ("4b. loopback sessions", 1.10, True),
                             ("4b. loopback server CPU", 1.10, False),
                             ("4. loopback sessions", 1.00, True),
                             ("4. loopback server CPU", 1.00, False),
                             ("5. PSS", 1.00, False)):
        ratio(prefix, "notqmail", goal, higher_better=hb, mine=STATIC)
    ratio("5. PSS", "notqmail", 1.00, higher_better=False,
          mine=STATIC + ", own look-up")
    if lines:
        say("\nTargets (smtpd's ratio)")
        for l in lines:
            say(l)

# --- main

def prepare():
    build()
    unpack_peers()
    os.environ["BENCH_NOTQMAIL"] = build_notqmail() or ""
    os.environ.setdefault("BENCH_STARTED", str(time.time()))

def main():
    if not namespaced() and not os.environ.get("BENCH_NO_NAMESPACE"):
        prepare()
        enter_namespace()
    else:
        os.environ.setdefault("BENCH_STARTED", str(time.time()))
    started = float(os.environ["BENCH_STARTED"])
    say("load average at the start: %.2f %.2f %.2f" % os.getloadavg())
    identity = smtpd_identity()
    r = subprocess.run(["git", "-C", SRC, "describe", "--always", "--dirty"],
                       capture_output=True, text=True)
    say("smtpd: %s (tree %s)" % (identity, r.stdout.strip() or "?"))
    if namespaced():
        loopback_up()
    if "profile" in ONLY:
        sys.dont_write_bytecode = True  # no __pycache__ in the tree
        import profile_session
        profile_session.main(sys.modules[__name__])
    shutil.rmtree(os.path.join(OUT, "exim"), ignore_errors=True)
    recv = receivers()
    inputs = {"small": write_input("small", session(1, 2048))}
    if wanted("batch") or wanted("small"):
        inputs["batch"] = write_input("batch", session(1000, 2048))
    if wanted("large") or wanted("rss") or wanted("hostile"):
        inputs["large"] = {m: write_input("large-%d" % m, session(1, m << 20))
                           for m in (1, 10, 100)}
    if wanted("hostile"):
        inputs["hostile"] = {l: write_input("hostile-%d" % i,
                                            session(1, 100 << 20, end))
                             for i, (l, end) in enumerate(HOSTILE)}
        inputs["hostile-1"] = {l: write_input("hostile-1-%d" % i,
                                              session(1, 1 << 20, end))
                               for i, (l, end) in enumerate(HOSTILE)}
    if wanted("small") or wanted("batch"):
        for name in list(recv):
            cmd, env = recv[name]
            if not (accepts_all(name, cmd, env, inputs["small"], 1) and
                    accepts_all(name, cmd, env, inputs["batch"], 1000)):
                del recv[name]
    small_rates = piped_measures(recv, inputs)
    if wanted("loopback") or wanted("lookup") or wanted("haproxy"):
        loopback(small_rates)
    if wanted("memory"):
        memory(recv)
    if wanted("callgrind"):
        callgrind(recv, inputs["small"])
    summary()
    targets()
    if smtpd_identity() != identity:
        NOTES.append("./smtpd changed during the run (now %s): the figures "
                     "mix two versions" % smtpd_identity())
    for n in NOTES:
        say("note: " + n)
    say("\nbench took %.0f s; rounds %d, small runs a round %d; load "
        "average at the end %.2f %.2f %.2f" %
        ((time.time() - started, ROUNDS, SMALL_RUNS) + os.getloadavg()))

if __name__ == "__main__":
    main()
