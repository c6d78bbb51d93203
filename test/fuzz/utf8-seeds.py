#!/usr/bin/env python3
"""Writes the utf8 fuzz target's seeds and its table of Python's verdicts.

test/fuzz/seeds/utf8/*   a handful of boundary cases, one file each
test/fuzz/utf8-python.h  about a thousand byte strings, each with whether
                         Python's own UTF-8 decoder (bytes.decode("utf-8"),
                         strict) takes it and it holds no C1 control

The utf8 target checks its reference decoder and smtpd's utf8_valid()
against that table once at start-up, so the reference is held against a
third opinion before it is used as the oracle. Run from anywhere; the
output is the same every time (a fixed random seed). `--check` only
compares the files with what would be written (exit 1 when they differ).
"""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "seeds", "utf8")
TABLE = os.path.join(HERE, "utf8-python.h")


def python_says(b):
    """Python's verdict, with smtpd's extra rule: no U+0080..U+009F."""
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return 0
    return int(not any(0x80 <= ord(c) <= 0x9F for c in s))


# Each boundary: the file name says what it is.
BOUNDARIES = {
    "ascii": b"a@b.example",
    "c2-80-first-c1": b"\xc2\x80",
    "c2-9f-last-c1": b"\xc2\x9f",
    "c2-a0-first-after-c1": b"\xc2\xa0",
    "df-bf-last-2": b"\xdf\xbf",
    "e0-a0-80-first-3": b"\xe0\xa0\x80",
    "e0-9f-bf-overlong-3": b"\xe0\x9f\xbf",
    "ed-9f-bf-before-surrogates": b"\xed\x9f\xbf",
    "ed-a0-80-first-surrogate": b"\xed\xa0\x80",
    "ed-bf-bf-last-surrogate": b"\xed\xbf\xbf",
    "ef-bf-bf-last-3": b"\xef\xbf\xbf",
    "f0-90-80-80-first-4": b"\xf0\x90\x80\x80",
    "f0-8f-bf-bf-overlong-4": b"\xf0\x8f\xbf\xbf",
    "f4-8f-bf-bf-last": b"\xf4\x8f\xbf\xbf",
    "f4-90-80-80-past-10ffff": b"\xf4\x90\x80\x80",
    "lone-continuation": b"a\x80b",
    "two-continuations": b"\xbf\xbf",
    "truncated-2": b"x\xc3",
    "truncated-3": b"\xe2\x82",
    "truncated-4": b"\xf0\x9f\x98",
    "c0-overlong-slash": b"\xc0\xaf",
    "c1-overlong": b"\xc1\xbf",
    "f5-lead": b"\xf5\x80\x80\x80",
    "ff-lead": b"\xff",
    "fe-ff-bom-bytes": b"\xfe\xff",
    "mixed-valid": "räksmörgås例え😀".encode(),
}


def table_entries():
    """Boundary cases, every lead octet, and random strings."""
    seen, out = set(), []

    def add(b):
        if b not in seen:
            seen.add(b)
            out.append(b)

    for b in BOUNDARIES.values():
        add(b)
    # Every lead octet, completed with the least and the greatest
    # continuation octets, cut short, and followed by a bad octet.
    for lead in [0x00, 0x41, 0x7F] + list(range(0x80, 0x100)):
        for cont in (0x80, 0xBF):
            for length in range(1, 5):
                add(bytes([lead] + [cont] * (length - 1)))
        add(bytes([lead, 0x41]))
        add(bytes([lead, 0xC0, 0x80]))
    # The second octet at every edge, for the leads that narrow it.
    for lead in (0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1,
                 0xF3, 0xF4):
        for second in (0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                       0xFF):
            tail = 0 if lead < 0xE0 else 1 if lead < 0xF0 else 2
            add(bytes([lead, second] + [0x80] * tail))
            if tail:
                add(bytes([lead, second] + [0xBF] * (tail - 1) + [0x7F]))
    # Every code point edge, encoded by Python itself.
    for cp in (0x7F, 0x80, 0x9F, 0xA0, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD,
               0xFEFF, 0xFFFF, 0x10000, 0x10FFFF):
        add(chr(cp).encode())
        add(b"a" + chr(cp).encode() + b"b")
    # Random strings over octets that make sequences likely.
    rng = random.Random(3629)
    alphabet = ([0x00, 0x41, 0x7F] + list(range(0x80, 0xC2, 7)) +
                [0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5,
                 0xFF, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF] * 2)
    for _ in range(600):
        add(bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 9))))
    # Random well-formed strings, from code points of every length.
    for _ in range(200):
        cps = [rng.choice((rng.randint(0, 0x7F), rng.randint(0x80, 0x7FF),
                           rng.randint(0x800, 0xFFFF),
                           rng.randint(0x10000, 0x10FFFF)))
               for _ in range(rng.randint(1, 4))]
        add("".join(chr(c) for c in cps if not 0xD800 <= c <= 0xDFFF)
            .encode())
    return out


def table_text(entries):
    lines = [
        "/* utf8-python.h - written by utf8-seeds.py: do not edit. Byte",
        " * strings in hex, with Python's verdict on each",
        " * (bytes.decode(\"utf-8\") succeeds and holds no U+0080..U+009F). */",
        "static const struct {",
        "\tconst char *hex;",
        "\tint valid;",
        "} python_utf8[] = {",
    ]
    for b in entries:
        lines.append('\t{"%s", %d},' % (b.hex(), python_says(b)))
    lines.append("};")
    return "\n".join(lines) + "\n"


def main():
    check = sys.argv[1:] == ["--check"]
    entries = table_entries()
    text = table_text(entries)
    differ = []
    if check:
        with open(TABLE) as f:
            if f.read() != text:
                differ.append(TABLE)
    else:
        with open(TABLE, "w") as f:
            f.write(text)
        os.makedirs(SEEDS, exist_ok=True)
    for name, b in BOUNDARIES.items():
        path = os.path.join(SEEDS, name)
        if check:
            if not os.path.exists(path) or open(path, "rb").read() != b:
                differ.append(path)
        else:
            with open(path, "wb") as f:
                f.write(b)
    valid = sum(python_says(b) for b in entries)
    print("%d strings, %d valid; %d seeds" %
          (len(entries), valid, len(BOUNDARIES)))
    for path in differ:
        print("differs: " + path)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
