#!/usr/bin/env python3
"""Builds HAProxy PROXY protocol headers (doc/proxy-protocol.txt in HAProxy's
sources), well-formed or broken on purpose, and reads them back.

  proxy-header.py v1 [--end crlf|lf|cr|none] WORD...
      "PROXY WORD WORD ...", then CR LF (or what --end says). The words are
      taken as they are, so that a test can write leading zeros, a port of
      65536 or a line of any length:
          v1 TCP4 192.0.2.7 198.51.100.1 40000 25
          v1 UNKNOWN

  proxy-header.py v2 [options]
      The binary header: the 12-octet signature, version and command, family
      and protocol, the length, the address block, then TLVs in the order
      given. Options:
        --cmd local|proxy|N        the command (default proxy)
        --ver N                    the version nibble (default 2)
        --fam unspec|inet|inet6|unix|N   (default: from --src, else unspec)
        --proto unspec|stream|dgram|N    (default stream; unspec for unspec)
        --src ADDR --dst ADDR      addresses (paths for unix)
        --sport N --dport N        ports (default 40000 and 25)
        --addr-hex HEX             the address block as given, instead
        --tlv TYPE:HEX             one TLV (TYPE in decimal or 0x..)
        --ssl CLIENT[:VERIFY]      a PP2_TYPE_SSL TLV: the client bit field
                                   (1 = PP2_CLIENT_SSL), the verify word,
                                   and a PP2_SUBTYPE_SSL_VERSION sub-TLV
        --noop N                   a PP2_TYPE_NOOP TLV of N zero octets
        --authority NAME           a PP2_TYPE_AUTHORITY TLV
        --unique-id TEXT           a PP2_TYPE_UNIQUE_ID TLV
        --crc32c                   a PP2_TYPE_CRC32C TLV with the right sum
        --bad-crc32c               the same TLV with a wrong sum
        --tail HEX                 raw octets at the end, counted in the
                                   length (e.g. a TLV that runs past it)
        --len N                    write N as the length field, whatever
                                   follows (a lie about the header's size)
        --sig HEX                  another 12-octet signature
        --cut N                    write only the first N octets

  proxy-header.py parse
      Reads one header from standard input, exactly to its end and not one
      octet further (v1 byte by byte, v2 by its length), and prints it as
      one JSON object; exits 1 on a header that is not one.

The header goes to standard output, with nothing after it: a test appends
the client's SMTP dialogue itself."""
import ipaddress, json, os, struct, sys

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
COMMANDS = {"local": 0, "proxy": 1}
FAMILIES = {"unspec": 0, "inet": 1, "inet6": 2, "unix": 3}
PROTOCOLS = {"unspec": 0, "stream": 1, "dgram": 2}
PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_CRC32C = 0x01, 0x02, 0x03
PP2_TYPE_NOOP, PP2_TYPE_UNIQUE_ID, PP2_TYPE_SSL = 0x04, 0x05, 0x20
PP2_SUBTYPE_SSL_VERSION = 0x21
TLV_NAMES = {0x01: "ALPN", 0x02: "AUTHORITY", 0x03: "CRC32C", 0x04: "NOOP",
             0x05: "UNIQUE_ID", 0x20: "SSL", 0x30: "NETNS"}


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli), RFC 4960 appendix B: reflected 0x82F63B78."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


CRC_TABLE = _table()
assert crc32c(b"123456789") == 0xE3069283


def tlv(kind, value):
    return struct.pack("!BH", kind, len(value)) + value


def number(text, names):
    return names[text] if text in names else int(text, 0)


def address_block(fam, src, dst, sport, dport):
    if fam in (1, 2):
        size = 4 if fam == 1 else 16
        a = ipaddress.ip_address(src).packed
        b = ipaddress.ip_address(dst).packed
        if len(a) != size or len(b) != size:
            sys.exit("proxy-header.py: addresses do not fit the family")
        return a + b + struct.pack("!HH", sport, dport)
    if fam == 3:
        return (src.encode().ljust(108, b"\0")[:108] +
                dst.encode().ljust(108, b"\0")[:108])
    return b""


def build_v2(args):
    opts = {"--cmd": "proxy", "--ver": "2", "--fam": None, "--proto": None,
            "--src": None, "--dst": None, "--sport": "40000",
            "--dport": "25", "--addr-hex": None, "--len": None,
            "--sig": None, "--cut": None}
    tlvs = []  # (kind, value) or ("crc", good) or ("tail", bytes)
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--crc32c", "--bad-crc32c"):
            tlvs.append(("crc", a == "--crc32c"))
            i += 1
            continue
        if i + 1 >= len(args):
            sys.exit("proxy-header.py: %s needs a value" % a)
        v = args[i + 1]
        i += 2
        if a == "--tlv":
            kind, _, hexval = v.partition(":")
            tlvs.append((int(kind, 0), bytes.fromhex(hexval)))
        elif a == "--ssl":
            client, _, verify = v.partition(":")
            client = int(client, 0)
            value = struct.pack("!BI", client, int(verify or "0", 0))
            if client & 1:
                value += tlv(PP2_SUBTYPE_SSL_VERSION, b"TLSv1.3")
            tlvs.append((PP2_TYPE_SSL, value))
        elif a == "--noop":
            tlvs.append((PP2_TYPE_NOOP, bytes(int(v))))
        elif a == "--authority":
            tlvs.append((PP2_TYPE_AUTHORITY, v.encode()))
        elif a == "--unique-id":
            tlvs.append((PP2_TYPE_UNIQUE_ID, v.encode()))
        elif a == "--tail":
            tlvs.append(("tail", bytes.fromhex(v)))
        elif a in opts:
            opts[a] = v
        else:
            sys.exit("proxy-header.py: unknown option %s" % a)
    src, dst = opts["--src"], opts["--dst"]
    if opts["--fam"] is not None:
        fam = number(opts["--fam"], FAMILIES)
    elif src is None:
        fam = 0
    else:
        fam = 1 if ipaddress.ip_address(src).version == 4 else 2
    if src is not None and dst is None:
        dst = {1: "192.0.2.25", 2: "2001:db8::25"}.get(fam, "/run/smtpd.sock")
    if opts["--proto"] is not None:
        proto = number(opts["--proto"], PROTOCOLS)
    else:
        proto = 0 if fam == 0 else 1
    if opts["--addr-hex"] is not None:
        addr = bytes.fromhex(opts["--addr-hex"])
    elif src is None:
        addr = b""
    else:
        addr = address_block(fam, src, dst, int(opts["--sport"]),
                             int(opts["--dport"]))
    body = bytearray(addr)
    crc_at = []
    for kind, value in tlvs:
        if kind == "tail":
            body += value
        elif kind == "crc":
            crc_at.append((len(body) + 3, value))
            body += tlv(PP2_TYPE_CRC32C, bytes(4))
        else:
            body += tlv(kind, value)
    ver = int(opts["--ver"], 0)
    cmd = number(opts["--cmd"], COMMANDS)
    sig = SIGNATURE if opts["--sig"] is None else bytes.fromhex(opts["--sig"])
    length = len(body) if opts["--len"] is None else int(opts["--len"], 0)
    head = sig + bytes([(ver << 4) | cmd, (fam << 4) | proto])
    head += struct.pack("!H", length)
    out = bytearray(head + body)
    for at, good in crc_at:
        total = len(head) + at
        out[total:total + 4] = bytes(4)
        s = crc32c(bytes(out))
        if not good:
            s ^= 0x00000001
        out[total:total + 4] = struct.pack("!I", s)
    if opts["--cut"] is not None:
        out = out[:int(opts["--cut"])]
    return bytes(out)


def build_v1(args):
    end = "\r\n"
    if args[:1] and args[0].startswith("--end"):
        name = args[0].partition("=")[2] or args[1]
        args = args[1:] if "=" in args[0] else args[2:]
        end = {"crlf": "\r\n", "lf": "\n", "cr": "\r", "none": ""}[name]
    return ("PROXY " + " ".join(args) + end).encode("latin-1")


def stdin_reader(n):
    return os.read(0, n)


def read_exactly(n, read=stdin_reader):
    data = b""
    while len(data) < n:
        got = read(n - len(data))
        if not got:
            raise EOFError("end of input after %d of %d octets" %
                           (len(data), n))
        data += got
    return data


def parse_tlvs(data):
    out = []
    i = 0
    while i < len(data):
        if i + 3 > len(data):
            raise ValueError("TLV header past the end")
        kind, size = struct.unpack("!BH", data[i:i + 3])
        value = data[i + 3:i + 3 + size]
        if len(value) != size:
            raise ValueError("TLV value past the end")
        item = {"type": TLV_NAMES.get(kind, "0x%02x" % kind),
                "value": value.hex()}
        if kind == PP2_TYPE_SSL and size >= 5:
            item["client"], item["verify"] = struct.unpack("!BI", value[:5])
            item["sub"] = parse_tlvs(value[5:])
        out.append(item)
        i += 3 + size
    return out


def parse(read=stdin_reader):
    """One header from READ (stdin), read to its end and no further."""
    first = read_exactly(1, read)
    if first == b"P":
        line = first
        while not line.endswith(b"\n"):
            if len(line) >= 107:
                raise ValueError("v1 line without LF in 107 octets")
            line += read_exactly(1, read)
        if not line.endswith(b"\r\n"):
            raise ValueError("v1 line ends in a bare LF")
        words = line[:-2].decode("latin-1").split(" ")
        if words[0] != "PROXY":
            raise ValueError("not PROXY")
        return {"version": 1, "words": words[1:], "octets": len(line)}
    head = first + read_exactly(15, read)
    if head[:12] != SIGNATURE:
        raise ValueError("bad signature")
    length = struct.unpack("!H", head[14:16])[0]
    body = read_exactly(length, read)
    ver, cmd = head[12] >> 4, head[12] & 15
    fam, proto = head[13] >> 4, head[13] & 15
    d = {"version": ver, "command": {0: "LOCAL", 1: "PROXY"}.get(cmd, cmd),
         "family": fam, "protocol": proto, "length": length,
         "octets": 16 + length}
    sizes = {1: 12, 2: 36, 3: 216}
    n = sizes.get(fam, 0) if cmd == 1 else 0
    if fam in (1, 2) and cmd == 1 and len(body) >= n:
        size = 4 if fam == 1 else 16
        d["src"] = str(ipaddress.ip_address(body[:size]))
        d["dst"] = str(ipaddress.ip_address(body[size:2 * size]))
        d["sport"], d["dport"] = struct.unpack("!HH", body[2 * size:n])
    elif fam == 3 and cmd == 1 and len(body) >= n:
        d["src"] = body[:108].rstrip(b"\0").decode("latin-1")
        d["dst"] = body[108:216].rstrip(b"\0").decode("latin-1")
    else:
        # LOCAL, UNSPEC: the address block is to be ignored. HAProxy sends
        # none, but a receiver must skip what the length says.
        n = sizes.get(fam, 0) if len(body) >= sizes.get(fam, 0) else 0
    d["tlvs"] = parse_tlvs(body[n:])
    for t in d["tlvs"]:
        if t["type"] == "CRC32C":
            raw = bytearray(head + body)
            at = 16 + n + _tlv_offset(body[n:], PP2_TYPE_CRC32C) + 3
            raw[at:at + 4] = bytes(4)
            t["ok"] = crc32c(bytes(raw)) == int(t["value"], 16)
    return d


def _tlv_offset(data, kind):
    i = 0
    while i + 3 <= len(data):
        k, size = struct.unpack("!BH", data[i:i + 3])
        if k == kind:
            return i
        i += 3 + size
    return -1


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    what, args = sys.argv[1], sys.argv[2:]
    if what == "v1":
        out = build_v1(args)
    elif what == "v2":
        out = build_v2(args)
    elif what == "parse":
        try:
            print(json.dumps(parse(), sort_keys=True))
        except (ValueError, EOFError) as e:
            print(json.dumps({"error": str(e)}))
            sys.exit(1)
        return
    else:
        sys.exit(__doc__)
    sys.stdout.buffer.write(out)


if __name__ == "__main__":
    main()
