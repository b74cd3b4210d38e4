#!/usr/bin/env python3
"""Seeds the fuzz corpora (engine/fuzz/corpus/, gitignored: captures are never committed).

    python3 engine/fuzz/seeds.py [CASES_DIR]

CASES_DIR defaults to /work/shared/verify/suricata-verify/cases. From it, the small
classic-pcap captures (<= 16 KiB) are copied to corpus/pcap_file/ and converted to the
frame format of decode_track (see fuzz_targets/decode_track.rs) in corpus/decode_track/.
A few hand-made frame sequences and a tiny pcapng are added too.
"""

import glob
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/verify/suricata-verify/cases"
DLTS = [0, 1, 9, 12, 14, 50, 101, 104, 108, 113, 192, 204, 228, 229, 276, 147]
MAX_SIZE = 16 * 1024


def put(target, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read_pcap(data):
    """(dlt, [(ts_micros, bytes)]) of a classic pcap, or None."""
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None
    nanos = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    dlt = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    off, pkts = 24, []
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(e + "IIII", data[off : off + 16])
        off += 16
        frame = data[off : off + incl]
        off += incl
        micros = sec * 1_000_000 + (frac // 1000 if nanos else frac)
        pkts.append((micros, frame))
    return dlt, pkts


def frames(dlt_index, sel, pkts, alone_every=0):
    """decode_track input: [(micros, bytes)] with the given link and config selector."""
    out = bytearray([dlt_index | ((sel >> 8) << 4) & 0xF0, sel & 0xFF])
    prev = pkts[0][0] if pkts else 0
    for i, (micros, frame) in enumerate(pkts):
        frame = frame[:0x0FFF]
        flags = 0x8000 if alone_every and i % alone_every == 0 else 0
        delta = micros - prev
        prev = micros
        d = delta & 0x7FFFFFFF if delta >= 0 else 0x80000000 | min(-delta, 0x7FFFFFFF)
        out += struct.pack("<HI", len(frame) | flags, d) + frame
    return bytes(out)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, ident=1, frag=0):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
                    bytes(src), bytes(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ipv6(src, dst, nh, payload):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, 64, bytes(src), bytes(dst)) + payload


def udp(sp, dp, data):
    return struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data


def tcp(sp, dp, seq, ack, flags, data=b""):
    return struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + data


def eth(payload, ethertype=0x0800, vlans=()):
    h = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb"
    for v in vlans:
        h += struct.pack("!HH", 0x8100, v)
    return h + struct.pack("!H", ethertype) + payload


A, B = [10, 0, 0, 1], [10, 0, 0, 2]
A6 = [0x20, 0x01, 0x0D, 0xB8] + [0] * 11 + [1]
B6 = [0x20, 0x01, 0x0D, 0xB8] + [0] * 11 + [2]
SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08
RAW = DLTS.index(101)
ETH = DLTS.index(1)


def hand_made():
    t = 1_000_000
    hs = [
        (0, ipv4(A, B, 6, tcp(40000, 80, 100, 0, SYN))),
        (t // 100, ipv4(B, A, 6, tcp(80, 40000, 500, 101, SYN | ACK))),
        (t // 50, ipv4(A, B, 6, tcp(40000, 80, 101, 501, ACK))),
        (t // 40, ipv4(A, B, 6, tcp(40000, 80, 101, 501, PSH | ACK, b"GET / HTTP/1.0\r\n\r\n"))),
        (t // 30, ipv4(B, A, 6, tcp(80, 40000, 501, 119, FIN | ACK))),
        (t // 20, ipv4(A, B, 6, tcp(40000, 80, 119, 502, FIN | ACK))),
        (t // 10, ipv4(B, A, 6, tcp(80, 40000, 502, 120, ACK))),
        # the same tuple reused by a new SYN, then a RST
        (2 * t, ipv4(A, B, 6, tcp(40000, 80, 9000, 0, SYN))),
        (3 * t, ipv4(B, A, 6, tcp(80, 40000, 0, 9001, RST | ACK))),
    ]
    yield frames(RAW, 0, hs)
    yield frames(RAW, 0x001, hs[2:], alone_every=2)  # midstream on
    yield frames(RAW, 0x410, hs[3:])  # bypass policy, short timeouts
    # many UDP flows through a tiny cache, with timeouts
    many = [(i * t // 2, ipv4(A, [10, 0, 1, i], 17, udp(1000 + i, 53, b"q"))) for i in range(40)]
    many += [(25 * t + i, ipv4([10, 0, 1, i], A, 17, udp(53, 1000 + i, b"a"))) for i in range(40)]
    yield frames(RAW, 0x100, many, alone_every=7)
    yield frames(RAW, 0x624, many)  # 1 slot, allowlist, memcap
    # ICMP echo and reply, ICMPv6 echo, IPv6 UDP
    icmp = [
        (0, ipv4(A, B, 1, struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"ping")),
        (1000, ipv4(B, A, 1, struct.pack("!BBHHH", 0, 0, 0, 1, 1) + b"ping")),
        (2000, ipv6(A6, B6, 58, struct.pack("!BBHHH", 128, 0, 0, 1, 1))),
        (3000, ipv6(B6, A6, 58, struct.pack("!BBHHH", 129, 0, 0, 1, 1))),
        (4000, ipv6(A6, B6, 17, udp(5353, 5353, b"mdns"))),
    ]
    yield frames(RAW, 0, icmp)
    # Ethernet with QinQ VLANs, ARP, IPv6 in Ethernet
    e = [
        (0, eth(ipv4(A, B, 17, udp(1, 2, b"x")), vlans=(10, 20))),
        (10, eth(ipv4(B, A, 17, udp(2, 1, b"y")), vlans=(10, 20))),
        (20, eth(b"\x00\x01\x08\x00\x06\x04\x00\x01" + bytes(20), ethertype=0x0806)),
        (30, eth(ipv6(A6, B6, 6, tcp(1, 2, 0, 0, SYN)), ethertype=0x86DD)),
        (40, eth(struct.pack("!I", (16 << 12) | 0x100 | 64) + ipv4(A, B, 17, udp(7, 8, b"")), ethertype=0x8847)),
    ]
    yield frames(ETH, 0x040, e)
    # IP-in-IP, IPv6-in-IPv4, tunnel in tunnel; a fragment pair
    inner = ipv4([192, 168, 0, 1], [192, 168, 0, 2], 17, udp(9, 9, b"in"))
    tun = [
        (0, ipv4(A, B, 4, inner)),
        (1, ipv4(A, B, 41, ipv6(A6, B6, 17, udp(9, 9, b"in6")))),
        (2, ipv4(A, B, 4, ipv4(B, A, 4, inner))),
        (3, ipv4(A, B, 17, udp(5, 6, b"fragment-one"), ident=7, frag=0x2000)),
        (4, ipv4(A, B, 17, b"fragment-two", ident=7, frag=2)),
    ]
    yield frames(RAW, 0, tun)
    yield frames(RAW, 0x080, tun)  # max-layers 2
    # time going backwards, and a long gap
    back = [(10 * t, hs[0][1]), (5 * t, hs[1][1]), (4000 * t, hs[2][1])]
    yield frames(RAW, 0, back)
    # Linux SLL and Null/loopback
    sll = b"\x00\x00\x00\x01\x00\x06" + bytes(8) + b"\x08\x00"
    yield frames(DLTS.index(113), 0, [(0, sll + ipv4(A, B, 17, udp(1, 2, b"s")))])
    yield frames(DLTS.index(0), 0, [(0, struct.pack("<I", 2) + ipv4(A, B, 17, udp(1, 2, b"n")))])


def pcapng(pkts, link=101):
    """A minimal pcapng: SHB, one IDB, EPBs."""
    def block(t, body):
        body += b"\0" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", t, n) + body + struct.pack("<I", n)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", link, 0, 0))
    for micros, data in pkts:
        out += block(6, struct.pack("<IIIII", 0, micros >> 32, micros & 0xFFFFFFFF, len(data), len(data)) + data)
    return out


def main():
    n_pcap = n_frames = 0
    for path in sorted(glob.glob(os.path.join(CASES, "*", "input.pcap"))):
        data = open(path, "rb").read()
        if len(data) > MAX_SIZE:
            continue
        parsed = read_pcap(data)
        if parsed is None:
            continue
        put("pcap_file", data)
        n_pcap += 1
        dlt, pkts = parsed
        if dlt in DLTS and pkts:
            put("decode_track", frames(DLTS.index(dlt), 0, pkts, alone_every=5))
            n_frames += 1
    for seed in hand_made():
        put("decode_track", seed)
        n_frames += 1
    t = 1_700_000_000 * 1_000_000
    put("pcap_file", pcapng([(t, ipv4(A, B, 17, udp(1, 2, b"ng"))), (t + 5, ipv4(B, A, 17, udp(2, 1, b"gn")))]))
    n_pcap += 1
    print(f"seeded {n_pcap} pcap_file and {n_frames} decode_track inputs under {HERE}/corpus")


if __name__ == "__main__":
    main()
