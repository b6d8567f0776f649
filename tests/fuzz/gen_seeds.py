"""Writes fuzz seeds: SNMPv2c GetResponse messages built from the real recordings in
$WT_REALDATA/snmprec (read at test time, never copied into the repo), plus malformed
variants (truncated, lengths that lie, endOfMibView/noSuch exceptions, huge OIDs).

usage: gen_seeds.py OUTDIR [max_messages_per_recording]"""
import glob
import os
import random
import sys


def blen(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + blen(len(body)) + body


def ber_int(v, tag=0x02):
    return tlv(tag, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True))


def ber_uint(v, tag):
    return tlv(tag, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=False))


def ber_oid(s):
    arcs = [int(x) for x in s.strip(".").split(".") if x != ""]
    if len(arcs) < 2:
        arcs = [1, 3]
    out = bytearray([arcs[0] * 40 + arcs[1]])
    for a in arcs[2:]:
        enc = [a & 0x7f]
        a >>= 7
        while a:
            enc.append(0x80 | (a & 0x7f))
            a >>= 7
        out += bytes(reversed(enc))
    return tlv(0x06, bytes(out))


def value(typ, val):
    if ":" in typ:
        return None  # snmpsim variation modules: not a plain value
    hexed = typ.endswith("x")
    t = int(typ.rstrip("x"))
    if t == 2:
        return ber_int(int(val))
    if t == 4:
        return tlv(0x04, bytes.fromhex(val) if hexed else val.encode("latin-1", "replace"))
    if t == 5:
        return b"\x05\x00"
    if t == 6:
        return ber_oid(val)
    if t == 64:
        return tlv(0x40, bytes.fromhex(val) if hexed else bytes(int(x) for x in val.split(".")))
    if t in (65, 66, 67):
        return ber_uint(int(val), 0x40 + t - 64)
    if t == 70:
        return ber_uint(int(val), 0x46)
    return None


def message(vbs, reqid=1, err=0, idx=0, community=b"public"):
    body = b"".join(tlv(0x30, ber_oid(o) + v) for o, v in vbs)
    pdu = tlv(0xa2, ber_int(reqid) + ber_int(err) + ber_int(idx) + tlv(0x30, body))
    return tlv(0x30, ber_int(1) + tlv(0x04, community) + pdu)


def main():
    out = sys.argv[1]
    per = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(1628)
    real = os.environ.get("WT_REALDATA", "")
    n = 0
    for path in sorted(glob.glob(os.path.join(real, "snmprec", "*.snmprec"))):
        rows = []
        with open(path, encoding="latin-1") as f:
            for line in f:
                parts = line.rstrip("\n").split("|", 2)
                if len(parts) != 3:
                    continue
                try:
                    v = value(parts[1], parts[2])
                except (ValueError, OverflowError):
                    v = None
                if v is not None:
                    rows.append((parts[0], v))
        base = os.path.basename(path)[:-len(".snmprec")]
        # the system group first (profile selection), then table chunks
        chunks = [rows[:8]] + [rows[i:i + 30] for i in range(0, len(rows), max(30, len(rows) // per))]
        for k, ch in enumerate(chunks[:per]):
            msg = message(rows[:4] + ch)
            with open(os.path.join(out, f"{base}-{k}"), "wb") as f:
                f.write(msg)
            n += 1
            cut = rnd.randrange(1, len(msg))
            with open(os.path.join(out, f"{base}-{k}-trunc"), "wb") as f:
                f.write(msg[:cut])
            b = bytearray(msg)
            for _ in range(4):
                b[rnd.randrange(len(b))] = rnd.randrange(256)
            with open(os.path.join(out, f"{base}-{k}-flip"), "wb") as f:
                f.write(bytes(b))
            n += 2
    # hand-made oddities
    odd = {
        "end-of-mib": message([("1.3.6.1.2.1.1.2.0", b"\x82\x00"), ("1.3.6.1.4.1.318.1.1.26.9.4.3.1.1.1", b"\x80\x00")]),
        "too-big": message([("1.3.6.1.2.1.1.3.0", b"\x05\x00")], err=1, idx=1),
        "nosuchname-v1": message([("1.3.6.1.2.1.1.3.0", b"\x05\x00")], err=2, idx=7),
        "huge-oid": message([("1.3." + ".".join(["4294967295"] * 120), ber_int(1))]),
        "bad-len": bytes.fromhex("30820fff02010104067075626c6963"),
        "negative-gauge": message([("1.3.6.1.2.1.33.1.2.4.0", tlv(0x42, b"\xff\xff\xff\xff\xff"))]),
        "counter64": message([("1.3.6.1.4.1.534.6.6.7.3.4.1.5.0.1.1", ber_uint(2 ** 64 - 1, 0x46))]),
        "private-string": message([("1.3.6.1.2.1.1.2.0", ber_oid("1.3.6.1.4.1.13742.6")),
                                   ("1.3.6.1.4.1.13742.6.3.3.3.1.7.1.1", tlv(0x04, b"<private>"))]),
    }
    for name, msg in odd.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(msg)
        n += 1
    print(f"{n} seeds in {out}")


if __name__ == "__main__":
    main()
