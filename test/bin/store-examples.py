#!/usr/bin/env python3
"""Finds every example command line of smtpd's documentation, for
t0350-examples.sh: `store-examples.py SRC_DIR OUTDIR`.

Where it looks: in man/smtpd.8 every .Dl line and every .Bd -literal
block; in README.md every code block (indented or fenced); in
etc/systemd/* every ExecStart= line, commented or not; in etc/xinetd.d/*
every server_args line, commented or not. Each example becomes a
directory OUTDIR/N with:

  source   FILE:LINE
  text     the example as a reader sees it (roff escapes undone,
           systemd's %% made % and $$ made $, continuation lines kept)
  kind     command    an smtpd command line (it needs a client)
           pipeline   a session piped into smtpd by the example itself
           tcpserver  smtpd under tcpserver, with the lines before it
           systemd    an ExecStart= line (run under socket activation)
           xinetd     a server_args line (run under xinetd)
           template   a line the page shows that is not a command
           systemd-install, ci
                      commands this test checks in part (see t0350)
           unknown    anything else: t0350 fails on it
  smtpd    smtpd's own argv, program first, one argument a line
  launcher for tcpserver and service files: the argv in front of smtpd,
           one a line (for systemd: a launcher inside ExecStart=)
  before   for pipeline: the shell text in front of the "|" (the session)
  after    for pipeline: the shell text after smtpd's command ("&& cat ...")
  prelude  for tcpserver: the commands before the tcpserver line
  xinetd   for xinetd: the service file with this server_args line in
           force (the others dropped)
"""
import glob
import os
import re
import shlex
import sys

SRC, OUT = sys.argv[1], sys.argv[2]
examples = []


def unroff(s):
    s = s.replace("\\&", "").replace("\\-", "-").replace("\\(aq", "'")
    s = s.replace("\\(dq", '"').replace("\\e", "\\")
    return s


def man_examples(path):
    rel = os.path.relpath(path, SRC)
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(".Dl "):
            examples.append((f"{rel}:{i + 1}", unroff(line[4:])))
        elif line.startswith(".Bd -literal"):
            start, body = i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith(".Ed"):
                body.append(unroff(lines[i]))
                i += 1
            examples.append((f"{rel}:{start}", "\n".join(body)))
        i += 1


def readme_examples(path):
    rel = os.path.relpath(path, SRC)
    lines = open(path, encoding="utf-8").read().split("\n")
    i, prev_blank = 0, True
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            start, body = i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            examples.append((f"{rel}:{start + 1}", "\n".join(body)))
        elif prev_blank and line.startswith("    ") and line.strip():
            start, body = i, []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                body.append(lines[i][4:])
                i += 1
            examples.append((f"{rel}:{start + 1}", "\n".join(body).rstrip("\n")))
            prev_blank = True
            continue
        prev_blank = not line.strip()
        i += 1


def systemd_examples(path):
    rel = os.path.relpath(path, SRC)
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        m = re.match(r"^#?\s*ExecStart=(.*)$", line.rstrip("\n"))
        if m:
            examples.append((f"{rel}:{n}", m.group(1).replace("%%", "%").replace("$$", "$"), "systemd"))


def xinetd_examples(path):
    rel = os.path.relpath(path, SRC)
    lines = open(path, encoding="utf-8").read().split("\n")
    server = None
    for line in lines:
        m = re.match(r"^\s*server\s*=\s*(\S+)\s*$", line)
        if m:
            server = m.group(1)
    for n, line in enumerate(lines, 1):
        m = re.match(r"^\s*#?\s*server_args\s*=\s*(.*)$", line)
        if not m:
            continue
        # The service file with this line in force and the others out.
        conf = []
        for k, other in enumerate(lines, 1):
            if re.match(r"^\s*#?\s*server_args\s*=", other):
                if k == n:
                    conf.append("\tserver_args\t= " + m.group(1))
                continue
            conf.append(other)
        examples.append((f"{rel}:{n}", f"{server} {m.group(1)}", "xinetd", "\n".join(conf)))


# Splits shell text into simple commands and the operators between them,
# quotes respected: ["cmd", "|", "cmd", "&&", ...].
def segments(text):
    out, cur, i, q = [], "", 0, None
    while i < len(text):
        c = text[i]
        if q:
            cur += c
            if c == q:
                q = None
            elif c == "\\" and q == '"' and i + 1 < len(text):
                cur += text[i + 1]
                i += 1
        elif c in "'\"":
            q = c
            cur += c
        elif c == "\\" and i + 1 < len(text):
            cur += c + text[i + 1]
            i += 1
        elif text.startswith("&&", i) or text.startswith("||", i):
            out += [cur.strip(), text[i:i + 2]]
            cur = ""
            i += 1
        elif c in "|;\n":
            out += [cur.strip(), c]
            cur = ""
        else:
            cur += c
        i += 1
    out.append(cur.strip())
    # A line that ends in an operator goes on: drop the newline after it.
    k = 1
    while k < len(out) - 1:
        if out[k] == "\n" and k >= 2 and out[k - 1] == "" and out[k - 2] != "\n":
            del out[k - 1:k + 1]
        else:
            k += 2
    return out


def is_smtpd(words, j):
    """words[j] is the smtpd program: a path to it, or a bare "smtpd" that
    starts the command or is followed by an option (not "-u smtpd")."""
    w = words[j]
    if re.fullmatch(r"(\./|.*/s?bin/)smtpd", w):
        return True
    return w == "smtpd" and (j == 0 or (j + 1 < len(words) and words[j + 1].startswith("-")))


# tcpserver's options that take an argument (ucspi-tcp's tcpserver(1)).
TCPSERVER_ARG = set("cCxBgublt")


def parse_tcpserver(words):
    """tcpserver's argv: (its options, host, port, the program's argv)."""
    i, opts = 1, [words[0]]
    while i < len(words) and words[i].startswith("-") and len(words[i]) > 1:
        w = words[i]
        opts.append(w)
        i += 1
        for j, c in enumerate(w[1:], 1):
            if c in TCPSERVER_ARG:
                if j == len(w) - 1 and i < len(words):
                    opts.append(words[i])
                    i += 1
                break
    if i + 1 >= len(words):
        return None
    return opts, words[i], words[i + 1], words[i + 2:]


# The commands of a setup block (the TLS key, certificate and user).
SETUP_COMMANDS = {"install", "openssl", "cat", "chmod", "chown", "rm", "adduser", "mkdir"}
DROPIN = re.compile(r"^# /etc/systemd/system/([^/\s]+\.d/[^/\s]+\.conf)$")


def dropins(text, files):
    """A block of systemd drop-ins, each after a comment naming its path:
    files dropin/UNIT.d/NAME.conf (as shown) and "dropins" (their paths)."""
    lines = text.split("\n")
    if not DROPIN.match(lines[0]):
        return False
    path, cont, paths = None, False, []
    for line in lines:
        m = DROPIN.match(line)
        if m:
            path = m.group(1)
            paths.append(path)
            files["dropin/" + path] = ""
            cont = False
            continue
        if not (cont or not line.strip() or re.fullmatch(r"\[[A-Za-z]+\]", line)
                or re.match(r"^[A-Z][A-Za-z]*=", line)):
            return False
        cont = line.endswith("\\")
        files["dropin/" + path] += line + "\n"
    for p in paths:
        files["dropin/" + p] = files["dropin/" + p].rstrip("\n") + "\n"
    files["dropins"] = "\n".join(paths) + "\n"
    return True


def classify(text, source):
    """kind and files for one example."""
    logical = re.sub(r"\\\n\s*", "", text)
    files = {}
    # Forms the page shows, not commands: replies, SMTP commands, the
    # Received: header, log lines.
    if re.match(r"^([2-5][0-9][0-9][ -]|(EHLO|HELO|MAIL|RCPT|DATA|BDAT|RSET|"
                r"NOOP|QUIT|VRFY|HELP|STARTTLS)( |$)|Received: |session peer=)", logical):
        return "template", files
    if dropins(text, files):
        return "systemd-dropin", files
    # Comment lines: "# haproxy: LINE" is the balancer's server line for the
    # host the block sets up; other comments are for the reader.
    haproxy = [l.split(":", 1)[1].strip() for l in logical.split("\n")
               if re.match(r"^#\s*haproxy:", l)]
    logical = "\n".join(l for l in logical.split("\n") if not l.lstrip().startswith("#"))
    segs = segments(logical.strip("\n"))
    cmds = []
    for k in range(0, len(segs), 2):
        try:
            words = shlex.split(segs[k])
        except ValueError:
            words = []
        at = next((j for j in range(len(words)) if is_smtpd(words, j)), None)
        cmds.append((k, words, at))
    servers = [c for c in cmds if c[2] is not None]
    if not servers:
        if re.match(r"^cp etc/systemd/", logical):
            return "systemd-install", files
        if re.match(r"^\$\(command -v sudo\) \.ci/run$", logical):
            return "ci", files
        if all(c[1] and c[1][0] in SETUP_COMMANDS for c in cmds if segs[c[0]]) and \
                any(c[1][:2] in (["openssl", "req"], ["adduser", "--system"]) for c in cmds):
            files["script"] = text + "\n"
            return "setup", files
        return "unknown", files
    k, words, at = servers[0]
    if at + 1 < len(words) and words[at + 1].startswith("["):
        return "template", files  # the synopsis
    files["smtpd"] = "\n".join(words[at:]) + "\n"
    launcher = words[:at]
    if len(servers) == 1 and not launcher:
        if k >= 2 and segs[k - 1] == "|":
            files["before"] = " ".join(segs[:k - 1]) + "\n"
            files["after"] = " ".join(segs[k + 1:]) + "\n"
            return "pipeline", files
        if len(segs) == 1:
            return "command", files
        return "unknown", files
    if launcher:
        files["launcher"] = "\n".join(launcher) + "\n"
    # Launched: each smtpd line is a tcpserver of its own (one after the
    # other: they run side by side), after the prelude (tcprules).
    first = servers[0][0]
    if any(c[2] is None and c[0] > first and segs[c[0]] for c in cmds) or \
            any(segs[c[0] + 1] not in ("\n", ";") for c in servers if c[0] + 1 < len(segs)):
        return "unknown", files
    if source.startswith("etc/"):
        # A service file's line: a launcher of its own in front of smtpd.
        return ("launched" if len(segs) == 1 else "unknown"), files
    files["prelude"] = " ".join(segs[:first - 1]) + "\n" if first else ""
    for i, (k, words, at) in enumerate(servers, 1):
        t = parse_tcpserver(words[:at]) if words[0] == "tcpserver" else None
        if not t:
            return "unknown", files
        opts, host, port, launcher = t
        files[f"server.{i}/tcpserver"] = "\n".join(opts) + "\n"
        files[f"server.{i}/host"] = host + "\n"
        files[f"server.{i}/port"] = port + "\n"
        files[f"server.{i}/launcher"] = "".join(w + "\n" for w in launcher)
        files[f"server.{i}/smtpd"] = "\n".join(words[at:]) + "\n"
        for j, w in enumerate(opts):
            if w == "-x" and j + 1 < len(opts):
                files.setdefault("cdbs", "")
                files["cdbs"] += opts[j + 1] + "\n"
    files["servers"] = f"{len(servers)}\n"
    if haproxy:
        files["haproxy"] = "\n".join(haproxy) + "\n"
    return "tcpserver", files


# Postfix listeners the documentation shows for master.cf (a line
# "127.0.0.1:PORT inet n - n - - smtpd" and its "-o" lines, commented or
# not): "listeners" holds one a block, the service line and then its
# options each on a line of its own, indented, blocks apart by a blank line.
def postfix_listeners(paths):
    out = []
    for path in paths:
        lines = open(path, encoding="utf-8").read().split("\n")
        for i, line in enumerate(lines):
            body = re.sub(r"^#?\s*", "", line)
            if not re.fullmatch(r"127\.0\.0\.1:[0-9]+\s+inet\s+n\s+-\s+n\s+-\s+-\s+smtpd", body):
                continue
            block = [f"# {os.path.relpath(path, SRC)}:{i + 1}", body]
            for more in lines[i + 1:]:
                o = re.sub(r"^#?\s*", "", more)
                if not o.startswith("-o "):
                    break
                block.append("  " + o)
            out.append("\n".join(block))
    return "\n\n".join(out) + "\n" if out else ""


man_examples(os.path.join(SRC, "man/smtpd.8"))
readme_examples(os.path.join(SRC, "README.md"))
for f in sorted(glob.glob(os.path.join(SRC, "etc/systemd/*"))):
    systemd_examples(f)
for f in sorted(glob.glob(os.path.join(SRC, "etc/xinetd.d/*"))):
    xinetd_examples(f)

# Where a block names a tcprules file its own prelude does not make, the
# prelude is the one of the nearest block before it in the same file that
# makes it (the page shows the rules once).
rules_made = {}
for n, ex in enumerate(examples, 1):
    source, text = ex[0], ex[1]
    kind, files = classify(text, source)
    if len(ex) > 2:
        # A service file's line: its launcher is systemd or xinetd, in
        # front of any launcher the line names itself.
        if kind in ("command", "launched"):
            kind = ex[2]
        if ex[2] == "xinetd":
            files["xinetd"] = ex[3] + "\n"
    elif kind == "launched":
        kind = "unknown"
    doc = source.rsplit(":", 1)[0]
    if kind == "tcpserver":
        made = re.findall(r"(?:^|[\s;&])tcprules\s+(\S+)", files["prelude"])
        for cdb in made:
            rules_made[(doc, cdb)] = (source, files["prelude"])
        for cdb in files.get("cdbs", "").split():
            if cdb not in made and (doc, cdb) in rules_made:
                files["prelude.source"] = rules_made[(doc, cdb)][0] + "\n"
                files["prelude"] = rules_made[(doc, cdb)][1]
    d = os.path.join(OUT, str(n))
    os.makedirs(d)
    files.update(source=source + "\n", text=text + "\n", kind=kind + "\n")
    for name, data in files.items():
        os.makedirs(os.path.dirname(os.path.join(d, name)), exist_ok=True)
        with open(os.path.join(d, name), "w", encoding="utf-8") as f:
            f.write(data)
with open(os.path.join(OUT, "listeners"), "w", encoding="utf-8") as f:
    f.write(postfix_listeners([os.path.join(SRC, "man/smtpd.8"), os.path.join(SRC, "README.md")] +
                              sorted(glob.glob(os.path.join(SRC, "etc/systemd/*")))))
print(len(examples))
