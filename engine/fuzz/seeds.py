#!/usr/bin/env python3
"""Seeds the fuzz corpora (engine/fuzz/corpus/, gitignored: captures are never committed).

    python3 engine/fuzz/seeds.py [CASES_DIR]

CASES_DIR defaults to /work/shared/verify/suricata-verify/cases. From it, the small
classic-pcap captures (<= 16 KiB) are copied to corpus/pcap_file/ and converted to the
frame format of decode_track (see fuzz_targets/decode_track.rs) in corpus/decode_track/.
A few hand-made frame sequences and a tiny pcapng are added too, tunnel and fragment
frames for decode_track, and records for both parts of defrag_tunnel (see
fuzz_targets/defrag_tunnel.rs) in corpus/defrag_tunnel/.
"""

import glob
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/verify/suricata-verify/cases"
DLTS = [0, 1, 9, 12, 14, 50, 101, 104, 105, 108, 113, 127, 178, 192, 204, 228, 229, 239, 276, 147]
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
    out = bytearray([dlt_index, sel & 0xFF, (sel >> 8) & 0x0F])
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


# --- tunnels and fragments (decode_track) ------------------------------------------

def ipv6_frag(src, dst, nh, data, ident, offset, more):
    """An IPv6 fragment: Fragment header (next header nh), offset in bytes."""
    fh = struct.pack("!BBHI", nh, 0, offset | int(more), ident)
    return ipv6(src, dst, 44, fh + data)


def split4(src, dst, proto, payload, ident, size):
    """The IPv4 fragments of a datagram, `size` bytes of payload each (multiple of 8)."""
    out = []
    for off in range(0, len(payload), size):
        more = off + size < len(payload)
        out.append(ipv4(src, dst, proto, payload[off:off + size], ident=ident,
                        frag=(0x2000 if more else 0) | off // 8))
    return out


def split6(src, dst, nh, payload, ident, size):
    out = []
    for off in range(0, len(payload), size):
        out.append(ipv6_frag(src, dst, nh, payload[off:off + size], ident, off, off + size < len(payload)))
    return out


def gre(proto, payload, flags=0, key=None):
    h = struct.pack("!HH", flags | (0x2000 if key is not None else 0), proto)
    if key is not None:
        h += struct.pack("!I", key)
    return h + payload


def vxlan(vni, inner_eth):
    return struct.pack("!II", 0x08000000, vni << 8) + inner_eth


def geneve(proto, inner, opt_words=0):
    return struct.pack("!BBHI", opt_words, 0, proto, 42 << 8) + bytes(4 * opt_words) + inner


def gtp(inner):
    return struct.pack("!BBHI", 0x30, 0xFF, len(inner), 0x01020304) + inner


def nsh(inner, next_proto=1):
    return bytes([0x0F, 0xC2, 0x02, next_proto, 0, 0, 1, 255]) + inner


OUT_A, OUT_B = [172, 16, 0, 1], [172, 16, 0, 2]
C, D = [192, 168, 7, 1], [192, 168, 7, 2]


def tunnel_frames():
    """(name, [(micros, frame)]) on Ethernet: each tunnel, both directions."""
    q = ipv4(C, D, 17, udp(5000, 53, b"query"))
    r = ipv4(D, C, 17, udp(53, 5000, b"answer"))
    q6 = ipv6(A6, B6, 17, udp(5000, 53, b"query6"))
    out = lambda p, proto: eth(ipv4(OUT_A, OUT_B, proto, p))
    yield [(0, out(gre(0x0800, q, key=7), 47)), (10, out(gre(0x0800, r, key=7), 47))]
    yield [(0, out(udp(40000, 4789, vxlan(5, eth(q))), 17)), (10, out(udp(40001, 4789, vxlan(5, eth(r))), 17))]
    yield [(0, out(udp(40000, 6081, geneve(0x0800, q, 1)), 17)), (10, out(udp(40000, 6081, geneve(0x6558, eth(r))), 17))]
    yield [(0, out(udp(40000, 3544, q6), 17)), (10, out(udp(3544, 40000, b"\0\0\xcf\xc7\x3f\xf5\xff\xfe" + q6), 17))]
    yield [(0, out(udp(2152, 2152, gtp(q)), 17)), (10, out(udp(2152, 2152, gtp(r)), 17))]
    yield [(0, eth(nsh(q), ethertype=0x894F)), (10, eth(nsh(q6, 2), ethertype=0x894F))]
    # ERSPAN II and PPTP in GRE
    erspan = struct.pack("!HHI", 0x1000 | 10, 0x0064, 0) + eth(q)
    ppp = b"\xff\x03\x00\x21" + q
    pptp = struct.pack("!HHHHII", 0x3081, 0x880B, len(ppp), 9, 1, 0) + ppp
    yield [(0, out(struct.pack("!HHI", 0x1000, 0x88BE, 1) + erspan, 47)), (10, out(pptp, 47))]


def fragment_frames():
    """(sel, [(micros, frame)]) on Ethernet: fragments in and out of order, overlapping."""
    big = udp(5000, 53, bytes(range(256)) * 3)
    v4 = [eth(f) for f in split4(C, D, 17, big, 77, 256)]
    yield 0, [(i * 10, f) for i, f in enumerate(v4)]
    yield 0, [(i * 10, f) for i, f in enumerate(reversed(v4))]
    v6 = [eth(f, ethertype=0x86DD) for f in split6(A6, B6, 17, big, 0x1234, 256)]
    yield 0, [(i * 10, f) for i, f in enumerate(v6)]
    yield 0, [(i * 10, f) for i, f in enumerate([v6[1], v6[2], v6[0]])]
    # overlapping: a second copy of the middle with other bytes, shifted by 8
    over = ipv4(C, D, 17, bytes([0x41]) * 256, ident=77, frag=0x2000 | (248 // 8))
    yield 0, [(0, v4[0]), (10, eth(over)), (20, v4[1]), (30, v4[2]), (40, v4[0])]
    # a fragmented VXLAN packet (outer fragments), and a fragment inside GRE
    inner = ipv4(C, D, 17, udp(5000, 53, bytes(600)))
    vx = udp(40000, 4789, vxlan(9, eth(inner)))
    yield 0, [(i, eth(f)) for i, f in enumerate(split4(OUT_A, OUT_B, 17, vx, 9, 320))]
    yield 0, [(i, eth(ipv4(OUT_A, OUT_B, 47, gre(0x0800, f)))) for i, f in enumerate(split4(C, D, 17, udp(1, 2, bytes(500)), 5, 256))]
    # time: fragments that time out, then come again
    yield 0x400, [(0, v4[0]), (120_000_000, v4[1]), (120_000_010, v4[2]), (120_000_020, v4[0])]


def link_frames():
    """(dlt, frame): 802.11, radiotap, NFLOG and Juniper Ethernet carrying UDP."""
    p = ipv4(C, D, 17, udp(5000, 53, b"link"))
    wlan = bytes([0x08, 0x01, 0x2C, 0x00]) + bytes([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 3]) + b"\x10\x00"
    data = wlan + b"\xaa\xaa\x03\x00\x00\x00\x08\x00" + p
    yield 105, data
    yield 127, struct.pack("<BBHI", 0, 0, 8, 0) + data
    tlv = struct.pack("<HH", 4 + len(p), 9) + p
    yield 239, bytes([2, 0, 0, 0]) + struct.pack("<HH", 8, 1) + b"\x08\x00\x01\x00" + tlv
    yield 178, b"MGC\x00" + eth(p)
    yield 178, b"MGC\x02" + struct.pack("<I", 2) + p


# --- defrag_tunnel -----------------------------------------------------------------

def dt_config(policy=2, batch=0, max_frags=64, max_dgrams=16, memcap_n=255, timeout=60, c5=0xF0, c6=0):
    """Engine part header: policy 7 turns defrag off; c5 high nibble is max-layers - 1."""
    return bytes([(policy & 7) << 1 | (batch << 4), max_frags - 4, max_dgrams - 1, memcap_n, timeout - 1, c5, c6])


def dt_rec(kind=0, transport=0, t_op=0, t=1, outer6=False, inner6=False, raw_link=False, ovlan=False,
           ivlan=False, s=0x31, ids=0x21, g=0, x=0, r=0, ofrag=None, ifrag=None):
    f = t_op | outer6 << 3 | inner6 << 4 | (ofrag is not None) << 5 | (ifrag is not None) << 6 | raw_link << 7
    e = kind | transport << 4 | ovlan << 6 | ivlan << 7
    out = bytes([f, t, e, s, ids, g, x])
    if kind == 14:
        out += bytes([r])
    if ofrag is not None:
        out += bytes(ofrag)
    if ifrag is not None:
        out += bytes(ifrag)
    return out


def dt_raw(link_index, data, t_op=0, t=1):
    return bytes([t_op | 4 | link_index << 3, t, len(data)]) + data


def dd_config(max_frags=64, max_dgrams=16, memcap_n=255, timeout=30, policy=2):
    """Direct part header."""
    return bytes([1, max_frags - 1, max_dgrams - 1, memcap_n, timeout - 1, policy])


def dd_insert(k, off_units, len_units, mf, t=0, corrupt=False, raw=False, bad=False, big=False, ms=False):
    o = mf << 2 | corrupt << 3 | raw << 4 | bad << 5 | big << 6 | ms << 7
    return bytes([o, k, t & 0xFF]) + struct.pack("<HH", off_units, len_units)


def defrag_tunnel_seeds():
    # 1 KiB-ish inner payload (s = 0xA1: 970 bytes), split in three (16 + 16 units + rest)
    thirds = [(0, 16), (16, 16), (32, 0)]
    for kind in range(16):
        for outer6, inner6 in ((False, False), (True, True)):
            r = [dt_rec(kind, g=0x21, r=0x10, outer6=outer6, inner6=inner6),
                 dt_rec(kind, g=0x21, r=0x10, outer6=outer6, inner6=inner6, t=50, ivlan=True)]
            yield dt_config() + b"".join(r)
    for kind in (0, 1, 2, 3, 5, 6, 13):
        for order in (thirds, thirds[::-1]):
            for outer6 in (False, True):
                yield dt_config() + b"".join(dt_rec(kind, outer6=outer6, inner6=outer6, s=0xA1, ofrag=o) for o in order)
                yield dt_config() + b"".join(dt_rec(kind, outer6=outer6, inner6=outer6, s=0xA1, ifrag=o) for o in order)
    # both fragmented: inner thirds, each cut in two outer fragments
    recs = [dt_rec(1, s=0x71, ifrag=i, ofrag=o) for i in thirds for o in ((0, 10), (10, 0))]
    yield dt_config() + b"".join(recs)
    # a reassembled datagram carrying a tunnel (inner transport IPv4-in-IP)
    yield dt_config() + b"".join(dt_rec(0, transport=3, s=0xA1, ifrag=o) for o in thirds)
    yield dt_config() + b"".join(dt_rec(2, transport=3, s=0xA1, ofrag=o) for o in thirds)
    # a reassembled TCP datagram shorter than its header (the last fragment's MF flipped)
    yield dt_config() + dt_rec(0, transport=1, s=0, ifrag=(0, 1)) + dt_rec(0, transport=1, s=0, ifrag=(1, 0x81))
    # overlapping fragments with other bytes, every policy
    for policy in range(7):
        recs = [dt_rec(0, s=0xA1, ifrag=(0, 16)), dt_rec(0, s=0xA1, x=0x5A, ifrag=(8, 16)),
                dt_rec(0, s=0xA1, ifrag=(16, 16)), dt_rec(0, s=0xA1, x=0x33, ifrag=(16, 0)),
                dt_rec(0, s=0xA1, ifrag=(32, 0))]
        yield dt_config(policy=policy) + b"".join(recs)
    # defrag off; tunnels off; max-layers 1 and 2; small limits; timeouts and time going back
    frag3 = b"".join(dt_rec(2, s=0xA1, ofrag=o) for o in thirds)
    yield dt_config(policy=7) + frag3
    yield dt_config(c5=0x01 | 0xF0) + frag3
    yield dt_config(c5=0x00) + frag3
    yield dt_config(c5=0x16) + frag3
    yield dt_config(max_frags=4, max_dgrams=1, memcap_n=7) + frag3 + frag3
    yield dt_config(timeout=2) + dt_rec(0, s=0xA1, ofrag=(0, 16)) + dt_rec(0, t_op=1, t=5, s=0xA1, ofrag=(16, 0))
    yield dt_config(timeout=2) + dt_rec(0, s=0xA1, ofrag=(0, 16)) + dt_rec(0, t_op=2, t=5, s=0xA1, ofrag=(16, 0))
    yield dt_config(timeout=2) + dt_rec(0, s=0xA1, ofrag=(0, 16)) + dt_rec(0, t_op=3, t=5, s=0xA1, ofrag=(16, 0))
    yield dt_config() + dt_rec(0, s=0xA1, ofrag=(0, 16)) + dt_rec(0, t_op=3, t=0, s=0xA1, ofrag=(16, 0))
    yield dt_config(batch=5) + frag3 + frag3
    # raw frames among structured ones
    q = ipv4(C, D, 17, udp(5000, 53, b"raw"))
    yield dt_config() + dt_raw(DLTS.index(101), q) + dt_raw(DLTS.index(1), eth(q)) + frag3

    # Direct part: in order, out of order, IPv6 with each header chain, overlaps
    for ctx in range(4):
        for v6 in (0, 4):
            k = v6 | ctx << 4
            seq = [dd_insert(k, 0, 16, 1), dd_insert(k, 16, 16, 1), dd_insert(k, 32, 5, 0)]
            yield dd_config() + b"".join(seq)
            yield dd_config() + b"".join(reversed(seq))
    for policy in range(7):
        seq = [dd_insert(0, 0, 16, 1), dd_insert(0, 8, 16, 1, corrupt=True), dd_insert(0, 16, 16, 1),
               dd_insert(0, 24, 8, 0, corrupt=True), dd_insert(0, 32, 5, 0), dd_insert(0, 0, 40, 1)]
        yield dd_config(policy=policy) + b"".join(seq)
    # duplicates, bad headers, misaligned and raw, over the limits
    yield dd_config() + dd_insert(1, 0, 8, 1) + dd_insert(1, 0, 8, 1) + dd_insert(1, 0, 8, 1, bad=True) + dd_insert(1, 8, 1, 0)
    yield dd_config() + dd_insert(2, 3, 9, 1, raw=True) + dd_insert(2, 0, 0, 1) + dd_insert(2, 0, 4, 0)
    yield dd_config(max_frags=3, max_dgrams=2, memcap_n=9) + b"".join(dd_insert(k, 8, 16, 1) for k in range(0, 256, 17))
    # timeouts (expire op) and time going back
    yield dd_config(timeout=2) + dd_insert(3, 0, 8, 1) + bytes([2, 1]) + dd_insert(3, 8, 8, 0, t=0xFE) + bytes([2, 5]) + bytes([3])
    # datagrams over 65535 bytes (abandoned)
    yield dd_config(max_frags=4) + dd_insert(0x30, 0, 8184, 1, big=True) + dd_insert(0x30, 8184, 5, 0)
    yield dd_config(max_frags=4) + dd_insert(0x24, 0, 8184, 1, big=True) + dd_insert(0x24, 8184, 15, 0)


def pcap(dlt, pkts):
    """A classic little-endian microsecond pcap of [(micros, frame)]."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, dlt)
    for micros, data in pkts:
        out += struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(data), len(data)) + data
    return out


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
    for pkts in tunnel_frames():
        put("decode_track", frames(ETH, 0, pkts))
        put("decode_track", frames(ETH, 0x080, pkts, alone_every=2))  # max-layers 2
        n_frames += 2
    for sel, pkts in fragment_frames():
        put("decode_track", frames(ETH, sel, pkts))
        put("decode_track", frames(ETH, sel | 0x100, pkts, alone_every=2))  # 8 flows
        n_frames += 2
    for dlt, frame in link_frames():
        put("decode_track", frames(DLTS.index(dlt), 0, [(0, frame), (5, frame)]))
        n_frames += 1
    for dlt, frame in link_frames():
        put("pcap_file", pcap(dlt, [(1_700_000_000 * 1_000_000, frame), (1_700_000_000 * 1_000_000 + 5, frame)]))
        n_pcap += 1
    n_dt = 0
    for seed in defrag_tunnel_seeds():
        put("defrag_tunnel", seed)
        n_dt += 1
    t = 1_700_000_000 * 1_000_000
    put("pcap_file", pcapng([(t, ipv4(A, B, 17, udp(1, 2, b"ng"))), (t + 5, ipv4(B, A, 17, udp(2, 1, b"gn")))]))
    n_pcap += 1
    # conntrack_parse: the recorded ctnetlink messages (options byte first), one by
    # one, each TCP connection's events together, and everything in one datagram.
    fx = os.path.join(HERE, "..", "src", "feed", "conntrack", "fixtures")
    msgs = sorted(f for f in os.listdir(fx) if f.endswith(".bin"))
    n_ct = 0
    for f in msgs:
        with open(os.path.join(fx, f), "rb") as fh:
            put("conntrack_parse", bytes([n_ct % 4]) + fh.read())
        n_ct += 1
    every = b"".join(open(os.path.join(fx, f), "rb").read() for f in msgs)
    tcp_msgs = b"".join(open(os.path.join(fx, f), "rb").read() for f in msgs if "-tcp-" in f)
    for opts in range(4):
        put("conntrack_parse", bytes([opts]) + every)
        put("conntrack_parse", bytes([opts]) + tcp_msgs)
        n_ct += 2
    print(f"seeded {n_pcap} pcap_file, {n_frames} decode_track, {n_dt} defrag_tunnel and"
          f" {n_ct} conntrack_parse inputs under {HERE}/corpus")


if __name__ == "__main__":
    main()
