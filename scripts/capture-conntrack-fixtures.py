#!/usr/bin/env python3
"""Records ctnetlink messages from the real kernel as fixture files for the conntrack
feed's parser tests (engine/src/feed/conntrack/fixtures/, see its README).

Run as root: python3 scripts/capture-conntrack-fixtures.py OUTDIR

It makes two network namespaces joined by a veth pair (10.78.0.1/24 + fd78::1/64 in A,
.2 / ::2 in B; nothing on the host), turns on conntrack accounting, timestamps and
events in A, marks UDP with ct mark 42 and puts UDP port 7100 in ct zone 7, then from A:
a TCP connection (connect, send, close), UDP exchanges over IPv4 (zone 0 and 7) and
IPv6, and ICMP/ICMPv6 echoes. A listener subscribed to the NEW, UPDATE and DESTROY
groups in A saves every event; a dump (IPCTNL_MSG_CT_GET with NLM_F_DUMP) is saved
before the table is flushed (the flush makes the DESTROY events, with final counters
and stop times). Each message goes to its own file named
KIND-PROTO-vFAMILY[-N].bin; the namespaces are removed at the end.
"""
import ctypes, os, socket, struct, subprocess, sys, threading, time

OUT = sys.argv[1]
A, B = "ctfx-a", "ctfx-b"
NETLINK_NETFILTER = 12

def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)

def inns(ns, *args, check=True):
    return sh("ip", "netns", "exec", ns, *args, check=check)

def setns(ns):
    fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    if ctypes.CDLL(None, use_errno=True).setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)

def attrs(b):
    while len(b) >= 4:
        ln, ty = struct.unpack_from("=HH", b)
        if ln < 4:
            return
        yield ty & 0x3FFF, b[4:ln]
        b = b[(ln + 3) & ~3:]

def describe(msg):
    ln, ty, flags = struct.unpack_from("=IHH", msg)
    sub, m = ty >> 8, ty & 0xFF
    if ty == 3:
        return "done"
    if ty == 2:
        return "error"
    if sub != 1:
        return f"other{ty}"
    if m == 2:
        kind = "destroy"
    elif flags & 0x300 == 0x300 or flags & 0x2:
        kind = "dump" if flags & 0x2 else "new"
    elif flags & 0x400:  # NLM_F_CREATE
        kind = "new"
    else:
        kind = "update"
    family = {2: "4", 10: "6"}.get(msg[16], str(msg[16]))
    proto = "x"
    for t, v in attrs(msg[20:ln]):
        if t == 1:  # CTA_TUPLE_ORIG
            for t2, v2 in attrs(v):
                if t2 == 2:
                    for t3, v3 in attrs(v2):
                        if t3 == 1:
                            proto = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}.get(v3[0], str(v3[0]))
    return f"{kind}-{proto}-v{family}"

saved = {}
def save(msg):
    name = describe(msg)
    n = saved.get(name, 0)
    saved[name] = n + 1
    path = os.path.join(OUT, f"{name}-{n}.bin")
    with open(path, "wb") as f:
        f.write(msg)

def split(data):
    while len(data) >= 16:
        ln = struct.unpack_from("=I", data)[0]
        if ln < 16 or ln > len(data):
            return
        yield data[:ln]
        data = data[(ln + 3) & ~3:]

stop = threading.Event()
def listen(sock):
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        for msg in split(data):
            save(msg)

def main():
    os.makedirs(OUT, exist_ok=True)
    for ns in (A, B):
        sh("ip", "netns", "del", ns, check=False)
        sh("ip", "netns", "add", ns)
    try:
        sh("ip", "link", "add", "ctfxa", "netns", A, "type", "veth", "peer", "name", "ctfxb", "netns", B)
        for ns, dev, v4, v6 in ((A, "ctfxa", "10.78.0.1/24", "fd78::1/64"), (B, "ctfxb", "10.78.0.2/24", "fd78::2/64")):
            sh("ip", "-n", ns, "addr", "add", v4, "dev", dev)
            sh("ip", "-n", ns, "addr", "add", v6, "dev", dev, "nodad")
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        rules = """
table inet fx {
  chain raw_out { type filter hook output priority raw; udp dport 7100 ct zone set 7; }
  chain raw_pre { type filter hook prerouting priority raw; udp sport 7100 ct zone set 7; }
  chain out { type filter hook output priority 0; ct state new,established,related accept; }
  chain setmark { type filter hook postrouting priority 0; meta l4proto udp ct mark set 42; }
}
"""
        subprocess.run(["ip", "netns", "exec", A, "nft", "-f", "-"], input=rules, text=True, check=True)
        for k in ("nf_conntrack_acct", "nf_conntrack_timestamp", "nf_conntrack_events"):
            inns(A, "sh", "-c", f"echo 1 > /proc/sys/net/netfilter/{k}")
        # Servers in B.
        setns(B)
        tcp_srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp_srv.bind(("10.78.0.2", 7001)); tcp_srv.listen(1)
        udp_srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp_srv.bind(("10.78.0.2", 7000))
        udp_zone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp_zone.bind(("10.78.0.2", 7100))
        udp6_srv = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); udp6_srv.bind(("fd78::2", 7000))
        def serve_tcp():
            c, _ = tcp_srv.accept()
            c.sendall(c.recv(100)); 
            c.recv(100); c.close()
        def serve_udp(s):
            d, p = s.recvfrom(100); s.sendto(d, p)
        threads = [threading.Thread(target=serve_tcp)] + [threading.Thread(target=serve_udp, args=(s,)) for s in (udp_srv, udp_zone, udp6_srv)]
        for t in threads: t.start()
        # Listener and traffic in A.
        setns(A)
        ev = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        ev.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        ev.bind((0, 0b111))
        lt = threading.Thread(target=listen, args=(ev,)); lt.start()
        c = socket.create_connection(("10.78.0.2", 7001)); c.sendall(b"hello tcp"); c.recv(100)
        c.shutdown(socket.SHUT_WR); time.sleep(0.1); c.close()
        for addr, fam in ((("10.78.0.2", 7000), socket.AF_INET), (("10.78.0.2", 7100), socket.AF_INET), (("fd78::2", 7000), socket.AF_INET6)):
            u = socket.socket(fam, socket.SOCK_DGRAM); u.settimeout(3)
            u.sendto(b"hello udp", addr); u.recv(100)
        def csum(b):
            s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xFFFF); s += s >> 16
            return ~s & 0xFFFF
        ic = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); ic.settimeout(3)
        body = b"flowengine-ct!!!"
        hdr = struct.pack("!BBHHH", 8, 0, 0, 0x4242, 1) + body
        ic.sendto(struct.pack("!BBHHH", 8, 0, csum(hdr), 0x4242, 1) + body, ("10.78.0.2", 0))
        while ic.recv(2048)[20] != 0: pass
        i6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6); i6.settimeout(3)
        i6.sendto(struct.pack("!BBHHH", 128, 0, 0, 0x4343, 1) + body, ("fd78::2", 0))  # kernel fills the checksum
        while i6.recv(2048)[0] != 129: pass
        for t in threads: t.join(5)
        time.sleep(0.3)
        # A dump with mid-flow counters.
        d = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER); d.bind((0, 0))
        req = struct.pack("=IHHII", 20, (1 << 8) | 1, 0x1 | 0x300, 1, 0) + struct.pack("=BBH", 0, 0, 0)
        d.send(req)
        done = False
        while not done:
            for msg in split(d.recv(65536)):
                save(msg)
                if struct.unpack_from("=H", msg, 4)[0] in (2, 3):
                    done = True
        inns(A, "conntrack", "-F", check=False)
        time.sleep(0.5)
        stop.set(); lt.join()
    finally:
        for ns in (A, B):
            sh("ip", "netns", "del", ns, check=False)
    print(" ".join(f"{k}:{v}" for k, v in sorted(saved.items())))

main()
