#!/usr/bin/env python3
"""A DNS server for tests, on 127.0.0.1:53 inside a network namespace. It
answers PTR queries for 127.0.0.X with hostile names, and A queries for
those names with 127.0.0.X so they can be forward-confirmed:

  127.0.0.21  a legal name of 253 octets (labels of 63)
  127.0.0.22  labels holding CR LF, space, '%', NUL, ESC and 8-bit bytes
  127.0.0.23  a label of 63 octets of "\\r\\n250 " repeated
  127.0.0.24  "127.0.0.1", an address posing as a name

Everything else: NXDOMAIN. Stops after argv[1] seconds."""
import socket, struct, sys, time

def legal_253():
    labels = [b"a" * 63, b"b" * 63, b"c" * 63, b"d" * 61]  # 63*3 + 61 + 3 dots
    name = b".".join(labels)
    assert len(name) == 253
    return labels

PTR = {
    21: legal_253(),
    22: [b"evil\r\n250 x", b"sp ace%s", b"nul\x00byte", b"esc\x1b[31m",
         b"\x80\xfe\xff", b"example"],
    23: [(b"\r\n250 " * 11)[:63], b"example"],
    24: [b"127", b"0", b"0", b"1"],
}

def encode(labels):
    return b"".join(bytes([len(l)]) + l for l in labels) + b"\x00"

def read_name(msg, off):
    labels = []
    while msg[off] != 0:
        n = msg[off]
        labels.append(msg[off + 1:off + 1 + n])
        off += 1 + n
    return labels, off + 1

def answer(query):
    qid, flags, qd = struct.unpack("!HHH", query[:6])
    labels, off = read_name(query, 12)
    qtype, qclass = struct.unpack("!HH", query[off:off + 4])
    question = query[12:off + 4]
    records = b""
    rcode = 3
    lower = [l.lower() for l in labels]
    if qtype == 12 and lower[-2:] == [b"in-addr", b"arpa"] and \
            lower[1:4] == [b"0", b"0", b"127"] and int(lower[0]) in PTR:
        rdata = encode(PTR[int(lower[0])])
        records = b"\xc0\x0c" + struct.pack("!HHIH", 12, 1, 60, len(rdata)) + rdata
        rcode = 0
    else:
        for x, name in PTR.items():
            if [l.lower() for l in name] == lower:
                rcode = 0
                if qtype == 1:
                    rdata = bytes([127, 0, 0, x])
                    records = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + rdata
    count = 1 if records else 0
    header = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, count, 0, 0)
    return header + question + records

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
s.settimeout(0.2)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    try:
        query, peer = s.recvfrom(4096)
    except socket.timeout:
        continue
    try:
        s.sendto(answer(query), peer)
    except (IndexError, ValueError, struct.error):
        pass
