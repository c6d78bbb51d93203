#!/usr/bin/env python3
"""make bench: smtpd beside its peers, on the same inputs, in one run.

Receivers: smtpd; mailfront (Debian's, with its qmail backend feeding the
sink), Exim (exim4 -bs with a private config whose pipe transport feeds the
sink), msmtpd (msmtpd --inetd --command=sink); cat over the same bytes (the
pipe's limit), floor (the least a receiver must do) and floor+log (the
floor plus the syslog(3) lines SPEC 8 asks of every receiver). Peers are
unpacked from Debian packages into test/bench/out/peers, never installed.

Measures, each the median of interleaved rounds:
 1 small session piped (EHLO, MAIL, RCPT, DATA of 2 KB, QUIT): sessions/s
 2 one session of 1,000 messages: messages/s
 3 one 100 MiB message (76-octet lines, some dot-stuffed): MB/s, as the
   scheduler places the processes and again with all of them on one CPU
   (the total work, steadier: in a VM a wake-up across CPUs can cost more
   than the copy); peak RSS at 1, 10 and 100 MiB
 4 loopback TCP under tcpserver, driven by Postfix's smtp-source: sessions/s
 5 instructions per small session in smtpd (callgrind)
"""
import os, re, shutil, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(HERE, "out")
PEERS = os.path.join(OUT, "peers")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SMALL_RUNS = int(os.environ.get("BENCH_SMALL_RUNS", "200"))
# Peak RSS swings by some 0.15 MiB from run to run (shared library pages
# are mapped 64 KB at a time, and where those blocks fall moves with the
# library's load address): more runs than the timed measures.
RSS_RUNS = int(os.environ.get("BENCH_RSS_RUNS", "15"))
PACKAGES = ["mailfront", "libbg2", "libcvm1", "liblua5.1-0",
            "exim4-daemon-light", "exim4-base", "libidn12", "postfix",
            "msmtp-mta", "libsecret-1-0", "libglib2.0-0"]
EXIM_UID = 64010
LIBS = ["usr/lib/x86_64-linux-gnu", "usr/lib", "usr/lib/postfix"]

def say(*a):
    print(*a, flush=True)

def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)

def build():
    run(["make", "-s", "-C", SRC, "smtpd"])
    os.makedirs(OUT, exist_ok=True)
    for prog in ("sink", "driver", "floor"):
        static = ["-static"] if prog == "driver" else []
        run(["cc", "-O2"] + static + ["-o", os.path.join(OUT, prog),
             os.path.join(HERE, prog + ".c")])
    shutil.copy(os.path.join(OUT, "sink"), os.path.join(OUT, "sink-qmail"))

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

def peer(path):
    p = os.path.join(PEERS, path)
    return p if os.path.exists(p) else None

def env_with(**extra):
    e = dict(os.environ)
    e["LD_LIBRARY_PATH"] = ":".join(os.path.join(PEERS, l) for l in LIBS)
    e.update(extra)
    return e

def exim_config():
    d = os.path.join(OUT, "exim")
    shutil.rmtree(d, ignore_errors=True)
    for sub in ("spool", "log"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chown(os.path.join(d, sub), EXIM_UID, EXIM_UID)
    conf = os.path.join(d, "configure")
    with open(conf, "w") as f:
        f.write("""primary_hostname = bench.example
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
""" % {"d": d, "sink": os.path.join(OUT, "sink"),
       "exim": peer("usr/sbin/exim4")})
    os.chmod(conf, 0o644)
    return conf

def receivers():
    sink = os.path.join(OUT, "sink")
    r = {
        "smtpd": ([os.path.join(SRC, "smtpd"), "-R", "-n", "bench.example",
                   "-s", "0", "-t", "60", sink], None),
        "floor": ([os.path.join(OUT, "floor"), sink], None),
        "floor+log": ([os.path.join(OUT, "floor"), "-l", sink], None),
        "cat": (["cat"], None),
    }
    if peer("usr/sbin/mailfront"):
        r["mailfront"] = ([peer("usr/sbin/mailfront"), "smtp", "qmail",
                           "accept", "add-received"],
                          env_with(MODULE_PATH=peer("usr/lib/mailfront"),
                                   QMAILQUEUE=os.path.join(OUT, "sink-qmail"),
                                   QMAILHOME=OUT,
                                   TCPREMOTEIP="127.0.0.1",
                                   TCPLOCALHOST="bench.example",
                                   DATABYTES="0"))
    else:
        say("note: mailfront could not be had; it is left out")
    if peer("usr/sbin/exim4"):
        r["exim"] = ([peer("usr/sbin/exim4"), "-bs", "-odi", "-C",
                      exim_config()], env_with())
    else:
        say("note: exim4 could not be had; it is left out")
    if peer("usr/bin/msmtpd"):
        r["msmtpd"] = ([peer("usr/bin/msmtpd"), "--inetd",
                        "--command=" + sink], env_with())
    else:
        say("note: msmtpd (package msmtp-mta) could not be had; "
            "it is left out")
    return r

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

def session(messages, size):
    body = message(size)
    parts = [b"EHLO client.example\r\n"]
    for _ in range(messages):
        parts.append(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
        parts.append(body + b".\r\n")
    parts.append(b"QUIT\r\n")
    return b"".join(parts)

def write_input(name, data):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        f.write(data)
    return path

def accepts_all(name, cmd, env, path, messages):
    """Runs once, replies kept: every message must get 354 and then 250."""
    with open(path, "rb") as f:
        r = subprocess.run(cmd, stdin=f, capture_output=True, env=env,
                           timeout=300)
    replies = r.stdout.decode("latin-1")
    got = len(re.findall(r"^354", replies, re.M))
    after = re.findall(r"^354[^\n]*\n([0-9]{3})", replies, re.M)
    ok = name == "cat" or (got == messages and all(c == "250" for c in after))
    if not ok:
        say("note: %s did not accept every message (exit %d; %r); left out"
            % (name, r.returncode, replies[-300:]))
    return ok

def one_cpu():
    """Pins the driver, and so everything it starts, to one CPU."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

def drive(cmd, env, path, count, pinned=False):
    r = subprocess.run([os.path.join(OUT, "driver"), str(count), path] + cmd,
                       capture_output=True, text=True, env=env, timeout=600,
                       preexec_fn=one_cpu if pinned else None)
    fields = dict(kv.split("=") for kv in r.stdout.split())
    return float(fields["seconds"]), int(fields["maxrss_kb"]), int(fields["failures"])

def median_rounds(recv, measure, with_cat=False, rounds=ROUNDS):
    names = [n for n in recv if with_cat or n != "cat"]
    results = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:
            cmd, env = recv[name]
            results[name].append(measure(name, cmd, env))
    return {name: statistics.median(v) for name, v in results.items()}

def loopback(recv, small_rates):
    smtp_source = peer("usr/sbin/smtp-source")
    if not smtp_source or not shutil.which("tcpserver"):
        say("note: loopback measure needs smtp-source (postfix) and tcpserver")
        return {}
    rates = {name: [] for name in recv if name != "cat"}
    for _ in range(ROUNDS):
        for name in rates:
            cmd, env = recv[name]
            # About two seconds of sessions each (Exim does some 20 a
            # second), 1,000 at most.
            count = max(100, min(1000, int(small_rates.get(name, 0) * 2)))
            port = 20000 + os.getpid() % 20000
            srv = subprocess.Popen(["tcpserver", "-R", "-H", "-l",
                                    "bench.example", "-c", "100", "127.0.0.1",
                                    str(port)] + cmd, env=env,
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            try:
                for _ in range(100):
                    if subprocess.run(["ss", "-Hltn", "sport = :%d" % port],
                                      capture_output=True).stdout:
                        break
                    time.sleep(0.05)
                start = time.time()
                subprocess.run([smtp_source, "-s", "4", "-m", str(count),
                                "-l", "2048", "-f", "a@example.org",
                                "-t", "b@example.org", "127.0.0.1:%d" % port],
                               env=env_with(), check=True, timeout=300,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                rates[name].append(count / (time.time() - start))
            finally:
                srv.terminate()
                srv.wait()
    return {n: statistics.median(v) for n, v in rates.items()}

def instructions(cmd, path):
    if not shutil.which("valgrind"):
        return None
    with open(path, "rb") as f:
        r = subprocess.run(["valgrind", "--tool=callgrind",
                            "--callgrind-out-file=/dev/null"] + cmd,
                           stdin=f, capture_output=True, text=True)
    m = re.search(r"Collected : (\d+)", r.stderr)
    return int(m.group(1)) if m else None

def table(title, unit, values, higher_better=True):
    say("\n%s (%s)" % (title, unit))
    base = values.get("smtpd")
    for name, v in sorted(values.items(), key=lambda kv: -kv[1] if higher_better else kv[1]):
        ratio = ""
        if base and name != "smtpd" and v:
            ratio = "  smtpd is %.2fx" % (base / v if higher_better else v / base)
        say("  %-10s %12.2f%s" % (name, v, ratio))

def in_namespace():
    """Debian's exim4 looks up its compiled-in user Debian-exim before it
    reads any config. As root, the whole benchmark re-runs itself in a
    private mount namespace whose /etc/passwd and /etc/group have that user
    (an otherwise unused uid), so every receiver runs under the same
    conditions."""
    if os.environ.get("BENCH_IN_NAMESPACE") or os.getuid() != 0 \
            or not shutil.which("unshare"):
        return
    os.makedirs(OUT, exist_ok=True)
    for f, line in (("passwd", "Debian-exim:x:%d:%d::/nonexistent:/usr/sbin/nologin\n"
                               % (EXIM_UID, EXIM_UID)),
                    ("group", "Debian-exim:x:%d:\n" % EXIM_UID)):
        with open("/etc/" + f) as src, open(os.path.join(OUT, f), "w") as dst:
            dst.write(src.read() + line)
    script = ('mount --bind "$1/passwd" /etc/passwd && '
              'mount --bind "$1/group" /etc/group && exec python3 "$2"')
    os.environ["BENCH_IN_NAMESPACE"] = "1"
    os.execvp("unshare", ["unshare", "-m", "sh", "-c", script, "sh", OUT,
                          os.path.abspath(__file__)])

def main():
    in_namespace()
    started = time.time()
    build()
    unpack_peers()
    recv = receivers()
    small = write_input("small", session(1, 2048))
    batch = write_input("batch", session(1000, 2048))
    large = {m: write_input("large-%d" % m, session(1, m << 20)) for m in (1, 10, 100)}
    for name in list(recv):
        cmd, env = recv[name]
        if not (accepts_all(name, cmd, env, small, 1) and
                accepts_all(name, cmd, env, batch, 1000)):
            del recv[name]

    def small_rate(name, cmd, env):
        s, _, fails = drive(cmd, env, small, SMALL_RUNS)
        return SMALL_RUNS / s if fails == 0 else 0.0
    small_rates = median_rounds(recv, small_rate)
    table("1. small session, piped", "sessions/s", small_rates)

    def batch_rate(name, cmd, env):
        s, _, fails = drive(cmd, env, batch, 1)
        return 1000 / s if fails == 0 else 0.0
    table("2. one session of 1,000 messages", "messages/s", median_rounds(recv, batch_rate))

    size100 = os.path.getsize(large[100]) / 1e6
    for pinned, how in ((False, "as scheduled"), (True, "all on one CPU")):
        def large_rate(name, cmd, env):
            s, _, _ = drive(cmd, env, large[100], 1, pinned)
            return size100 / s
        table("3. one 100 MiB message, %s" % how, "MB/s",
              median_rounds(recv, large_rate, with_cat=True))
    for m in (1, 10, 100):
        def peak(name, cmd, env, m=m):
            return drive(cmd, env, large[m], 1)[1] / 1024.0
        table("3. peak RSS, %d MiB message (median of %d)" % (m, RSS_RUNS),
              "MiB", median_rounds(recv, peak, with_cat=True, rounds=RSS_RUNS),
              higher_better=False)

    rates = loopback(recv, small_rates)
    if rates:
        table("4. loopback TCP under tcpserver, smtp-source -s 4", "sessions/s", rates)

    ins = instructions(recv["smtpd"][0], small)
    floor_ins = instructions(recv["floor"][0], small)
    if ins:
        say("\n5. instructions per small session (callgrind, the process itself)")
        say("  %-10s %12d" % ("smtpd", ins))
        if floor_ins:
            say("  %-10s %12d  smtpd is %.2fx" % ("floor", floor_ins, ins / floor_ins))
    say("\nbench took %.0f s; rounds %d, small runs a round %d" %
        (time.time() - started, ROUNDS, SMALL_RUNS))

if __name__ == "__main__":
    main()
