"""BENCH_ONLY=profile make bench: where one small session's time and system
calls go, in smtpd and in notqmail's qmail-smtpd, for the one who makes
smtpd faster. Run by bench.py inside its namespace (with its DNS server):

 A. system calls by kind (strace -c -f) of one small session: piped, smtpd
    with -R, smtpd looking the peer up itself, notqmail; and over TCP the
    whole chain under tcpserver (its fork, the receiver, the sink): smtpd
    under tcpserver -H looking up itself, notqmail with tcpserver looking
    up, and both without any look-up
 B. instructions (callgrind) of smtpd's small session, by function
    (inclusive), with -R and looking the peer up (a child it forks gets a
    table of its own)
 C. CPU samples (perf, cpu-clock) over PROFILE_SESSIONS (500) piped
    sessions: microseconds per session by role (the receiver with its
    exec, its look-up thread or child, the maildrop before and after its
    exec, the driver) and object, and each role's hottest symbols; smtpd
    spooling to /tmp and to /dev/shm
"""
import os, re, shutil, signal, subprocess, time

SESSIONS = int(os.environ.get("PROFILE_SESSIONS", "500"))
PERF_HZ = 10000

def strace_counts(path):
    """strace -c's table: {syscall: calls}."""
    counts = {}
    with open(path) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 5 and re.match(r"^[0-9.]+$", fields[0]) and \
                    fields[-1] != "total":
                counts[fields[-1]] = int(fields[3])
    return counts

def strace_piped(cmd, env, small, out):
    with open(small, "rb") as f:
        subprocess.run(["strace", "-f", "-c", "-o", out] + cmd, stdin=f,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=env, timeout=60)
    return strace_counts(out)

def strace_tcp(b, cmd, env, resolve, out):
    """One session from smtp-source under tcpserver, the launcher traced."""
    port = b.free_port()
    env = dict(env or os.environ)
    flags = ["-R", "-l", b.NAME]
    if resolve:
        env["DNSCACHEIP"] = "127.0.0.1"
    else:
        flags.append("-H")
    tracer = subprocess.Popen(["strace", "-f", "-c", "-o", out, "tcpserver"]
                              + flags + ["127.0.0.1", str(port)] + cmd,
                              env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        if not b.wait_listening(port, tracer):
            return {}
        subprocess.run([b.peer("usr/sbin/smtp-source"), "-m", "1", "-l",
                        "2048", "-f", "a@example.org", "-t", "b@example.org",
                        "127.0.0.1:%d" % port], env=b.env_with(), timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # the session's processes finish
        for kid in b.children_of(tracer.pid):
            os.kill(kid, signal.SIGTERM)
        tracer.wait(timeout=30)
    finally:
        b.stop(tracer)
    return strace_counts(out)

def print_columns(title, columns):
    say = print
    names = sorted({k for c in columns.values() for k in c},
                   key=lambda k: -max(c.get(k, 0) for c in columns.values()))
    say("\n%s" % title)
    heads = list(columns)
    say("  %-22s" % "syscall" + "".join("%14s" % h[:13] for h in heads))
    say("  %-22s" % "total" + "".join("%14d" % sum(columns[h].values())
                                       for h in heads))
    for n in names:
        say("  %-22s" % n + "".join("%14s" % (columns[h].get(n, "") or "")
                                    for h in heads))

def strace_part(b, recv, small):
    out = os.path.join(b.OUT, "strace.out")
    smtpd, env = recv["smtpd"]
    lookup = b.looking_up(smtpd)
    pipe_env = dict(os.environ, TCPREMOTEIP="127.0.0.1")
    piped = {"smtpd -R": strace_piped(smtpd, env, small, out),
             "smtpd look-up": strace_piped(lookup, pipe_env, small, out)}
    if "notqmail" in recv:
        piped["notqmail"] = strace_piped(recv["notqmail"][0],
                                         recv["notqmail"][1], small, out)
    print_columns("A. system calls of one small session, piped (the "
                  "receiver with its look-up, the sink)", piped)
    tcp = {"smtpd look-up": strace_tcp(b, lookup, env, False, out),
           "smtpd -R": strace_tcp(b, smtpd, env, False, out)}
    if "notqmail" in recv:
        tcp["nq+tcpsrv lk"] = strace_tcp(b, recv["notqmail"][0],
                                           recv["notqmail"][1], True, out)
        tcp["notqmail -H"] = strace_tcp(b, recv["notqmail"][0],
                                        recv["notqmail"][1], False, out)
    print_columns("A. system calls of one session over TCP, under tcpserver "
                  "(tcpserver's accept and fork, its look-up without -H, "
                  "the receiver, the sink)", tcp)

INTERESTING = re.compile(
    r"(PROGRAM TOTALS|:_dl_start |:_dl_relocate_object |:_dl_lookup_symbol_x |"
    r":__tunables_init |:init_cpu_features|:main |:openlog|:__vsyslog_internal |"
    r":localtime_r |:tzset_internal |:__tzfile_read |:strftime |"
    r":posix_spawnp? |:__spawni |:_Fork |:__libc_fork |:fork |"
    r":getnameinfo |:getaddrinfo |:lookup_child|:lookup_thread|:peer_lookup|"
    r":pthread_create|:start_thread |:vfork|:maildrop_spawn|:serve |"
    r":do_data |:message_finish|:received_put|:maildrop|:exit )")

def callgrind_part(b, recv, small):
    if not shutil.which("callgrind_annotate"):
        return
    smtpd, env = recv["smtpd"]
    lookup = b.looking_up(smtpd)
    for title, cmd, e in (("smtpd -R", smtpd, env),
                          ("smtpd looking up the peer", lookup,
                           dict(os.environ, TCPREMOTEIP="127.0.0.1"))):
        prefix = os.path.join(b.OUT, "callgrind.")
        for old in os.listdir(b.OUT):
            if old.startswith("callgrind."):
                os.unlink(os.path.join(b.OUT, old))
        with open(small, "rb") as f:
            subprocess.run(["valgrind", "--tool=callgrind",
                            "--callgrind-out-file=" + prefix + "%p"] + cmd,
                           stdin=f, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=e, timeout=120)
        files = sorted((os.path.join(b.OUT, f) for f in os.listdir(b.OUT)
                        if f.startswith("callgrind.")),
                       key=lambda p: int(p.rsplit(".", 1)[1]))
        for i, path in enumerate(files):
            r = subprocess.run(["callgrind_annotate", "--inclusive=yes",
                                "--threshold=100", path],
                               capture_output=True, text=True)
            print("\nB. instructions, %s%s (inclusive)" %
                  (title, "" if i == 0 else ": its child, pid %s" %
                   path.rsplit(".", 1)[1]))
            seen = set()
            for line in r.stdout.splitlines():
                m = re.match(r"\s*([0-9,]+) \(\s*([0-9.]+)%\)\s+(\S+)", line)
                if not m or not INTERESTING.search(line + " "):
                    continue
                func = m.group(3).split(":")[-1]
                if func in seen or m.group(3) == "=>":
                    continue
                seen.add(func)
                print("  %11s %6s%%  %s" % (m.group(1), m.group(2), func))

FORK = re.compile(r"PERF_RECORD_FORK\((\d+):\d+\):\((\d+):\d+\)")
EXEC = re.compile(r"PERF_RECORD_COMM exec: .*:(\d+)/")
SAMPLE = re.compile(r"^\s*(\S+)\s+(\d+)/(\d+)\s+[0-9a-f]+\s+(.*?)\s+"
                    r"\((.*)\)$")

def perf_roles(script, driver_name="driver"):
    """perf script lines -> {role: {(dso, symbol): samples}}. Roles: the
    receiver (with its exec), a child it forked that never ran another
    program (smtpd's look-up child), a child before its exec (the maildrop
    being started), the maildrop after its exec, the driver."""
    lines = script.splitlines()
    parent, execs = {}, set()
    for line in lines:
        m = FORK.search(line)
        if m and m.group(1) != m.group(2):  # a process, not a thread
            parent[int(m.group(1))] = int(m.group(2))
        m = EXEC.search(line)
        if m:
            execs.add(int(m.group(1)))
    driver = None
    running = set()  # children that have exec'd by now
    roles = {}
    for line in lines:
        m = EXEC.search(line)
        if m:
            running.add(int(m.group(1)))
            continue
        m = SAMPLE.match(line)
        if not m or "PERF_RECORD" in line:
            continue
        comm, pid, tid, sym = m.group(1), int(m.group(2)), \
            int(m.group(3)), m.group(4)
        dso = os.path.basename(m.group(5))
        if driver is None and comm == driver_name:
            driver = pid
        if pid == driver:
            role = "driver"
        elif parent.get(pid) == driver and tid != pid:
            role = "receiver's other thread (smtpd's look-up)"
        elif parent.get(pid) == driver:
            role = "receiver (with its exec)"
        elif pid in running:
            role = "maildrop (%s)" % comm
        elif pid in execs:
            role = "maildrop's start, before its exec"
        else:
            role = "look-up child (fork, no exec)"
        roles.setdefault(role, {})
        key = (dso, sym)
        roles[role][key] = roles[role].get(key, 0) + 1
    return roles

def perf_part(b, recv, small):
    if not shutil.which("perf"):
        return
    smtpd, env = recv["smtpd"]
    shm = dict(os.environ, TMPDIR="/dev/shm")
    runs = [("smtpd -R, spool in /tmp", smtpd, env),
            ("smtpd -R, spool in /dev/shm", smtpd, shm),
            ("smtpd looking up the peer, spool in /dev/shm",
             b.looking_up(smtpd), dict(shm, TCPREMOTEIP="127.0.0.1"))]
    if "notqmail" in recv:
        runs.append(("notqmail",) + recv["notqmail"])
    data = os.path.join(b.OUT, "perf.data")
    per = 1e6 / PERF_HZ / SESSIONS
    for title, cmd, e in runs:
        r = subprocess.run(["perf", "record", "-q", "-F", str(PERF_HZ), "-o",
                            data, "--", os.path.join(b.OUT, "driver"),
                            str(SESSIONS), small] + cmd,
                           capture_output=True, text=True, env=e, timeout=600)
        script = subprocess.run(["perf", "script", "-i", data,
                                 "--show-task-events", "-F",
                                 "comm,pid,tid,ip,sym,dso"],
                                capture_output=True, text=True).stdout
        roles = perf_roles(script)
        total = sum(sum(v.values()) for v in roles.values())
        print("\nC. CPU per piped session, %s: %.0f us in all (perf "
              "cpu-clock at %d Hz, %d sessions; %s)" %
              (title, total * per, PERF_HZ, SESSIONS, r.stdout.strip()))
        for role, syms in sorted(roles.items(),
                                 key=lambda kv: -sum(kv[1].values())):
            n = sum(syms.values())
            kernel = sum(v for (dso, _), v in syms.items()
                         if "kernel" in dso)
            dsos = {}
            for (dso, _), v in syms.items():
                dsos[dso] = dsos.get(dso, 0) + v
            print("  %7.0f us  %s: %s" % (n * per, role, ", ".join(
                "%s %.0f" % (d.replace("[kernel.kallsyms]", "kernel"),
                             v * per)
                for d, v in sorted(dsos.items(), key=lambda kv: -kv[1])
                if v * per >= 2)))
            top = sorted(syms.items(), key=lambda kv: -kv[1])[:12]
            for (dso, sym), v in top:
                if v * per >= 4:
                    print("  %18.0f  %-28s %s" % (v * per, dso[:28], sym))

def main(b):
    """b: the bench module, already in its namespace."""
    recv = b.receivers()
    small = b.write_input("small", b.session(1, 2048))
    dns = b.Dns() if b.namespaced() else None
    try:
        if shutil.which("strace"):
            strace_part(b, recv, small)
        if shutil.which("valgrind"):
            callgrind_part(b, recv, small)
        perf_part(b, recv, small)
    finally:
        if dns:
            dns.close()
