#!/usr/bin/env python3
"""A lab server that knows when each request really arrived: the kernel's receive timestamp
(SO_TIMESTAMPNS, which Node cannot read), and the moment its answer was handed to the socket.
Tests hold the client's RTT against (answered - received): what is left is the client's own delay.

It answers SIP OPTIONS with 200 OK (UDP and TCP) and STUN Binding requests with a success carrying
XOR-MAPPED-ADDRESS (UDP and TCP) on the address:port pairs given as arguments:

    python3 timed_server.py sip/udp/127.80.7.1:5060 stun/tcp/127.80.7.1:3478 ...

It prints "listening" once every socket is bound; on stdin, "records" prints every record as one
JSON line, "clear" forgets them; end of stdin stops it. Times are CLOCK_REALTIME in ms; tests only
subtract two of them, so its clock and the client's never need to agree.
"""
import json
import re
import selectors
import socket
import struct
import sys
import time

SO_TIMESTAMPNS = 35  # Linux; Python's socket module does not name it
MAGIC_COOKIE = 0x2112A442
records = []


def kernel_time(ancillary):
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", data[:16])
            return sec * 1000 + nsec / 1e6
    return time.time_ns() / 1e6


def sip_answer(request, peer):
    head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    if not lines[0].startswith("OPTIONS "):
        return None, None
    headers = [(l.split(":", 1)[0].strip().lower(), l.split(":", 1)[1].strip()) for l in lines[1:] if ":" in l]
    get = lambda name: [v for k, v in headers if k == name]
    vias = get("via")
    if not vias or not get("call-id"):
        return None, None
    top = re.sub(r";rport(?=;|$)", ";rport=%d" % peer[1], vias[0]) + ";received=" + peer[0]
    to = get("to")[0] if get("to") else ""
    out = ["SIP/2.0 200 OK"] + ["Via: " + v for v in [top] + vias[1:]]
    out += ["From: " + (get("from") or [""])[0], "To: " + to + ("" if ";tag=" in to else ";tag=timed"), "Call-ID: " + get("call-id")[0], "CSeq: " + (get("cseq") or [""])[0]]
    out += ["Server: dialer-audit timed lab", "Content-Length: 0", "", ""]
    return "\r\n".join(out).encode("latin-1"), get("call-id")[0]


def stun_answer(request, peer):
    if len(request) < 20:
        return None, None
    kind, length, cookie = struct.unpack("!HHI", request[:8])
    if kind != 0x0001 or cookie != MAGIC_COOKIE:
        return None, None
    tid = request[8:20]
    host = struct.unpack("!I", socket.inet_aton(peer[0]))[0]
    mapped = struct.pack("!HHBBHI", 0x0020, 8, 0, 1, peer[1] ^ (MAGIC_COOKIE >> 16), host ^ MAGIC_COOKIE)
    return struct.pack("!HHI", 0x0101, len(mapped), MAGIC_COOKIE) + tid + mapped, tid.hex()


def take_messages(protocol, buffered):
    """Complete messages at the front of a TCP stream, and what is left."""
    out = []
    while True:
        if protocol == "stun":
            if len(buffered) < 20:
                return out, buffered
            size = 20 + struct.unpack("!H", buffered[2:4])[0]
        else:
            end = buffered.find(b"\r\n\r\n")
            if end < 0:
                return out, buffered
            m = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", buffered[:end])
            size = end + 4 + (int(m.group(1)) if m else 0)
        if len(buffered) < size:
            return out, buffered
        out.append(buffered[:size])
        buffered = buffered[size:]


def main():
    selector = selectors.DefaultSelector()
    for spec in sys.argv[1:]:
        protocol, transport, where = spec.split("/")
        host, port = where.rsplit(":", 1)
        if not re.match(r"^127\.80\.\d{1,3}\.\d{1,3}$", host):
            sys.exit("timed lab address %s is outside 127.80.0.0/16" % host)
        answer = sip_answer if protocol == "sip" else stun_answer
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.bind((host, int(port)))
        if transport == "tcp":
            s.listen(64)
        s.setblocking(False)
        selector.register(s, selectors.EVENT_READ, ("listen", protocol, transport, where, answer, None))
    selector.register(sys.stdin, selectors.EVENT_READ, ("stdin",))
    print("listening", flush=True)

    def record(protocol, transport, where, key, size, received, answered):
        records.append({"protocol": protocol, "transport": transport, "server": where, "key": key, "bytes": size, "receivedAt": received, "answeredAt": answered})

    while True:
        for key, _ in selector.select():
            tag = key.data
            if tag[0] == "stdin":
                line = sys.stdin.readline()
                if not line:
                    return
                if line.strip() == "records":
                    print(json.dumps(records), flush=True)
                elif line.strip() == "clear":
                    records.clear()
                    print("cleared", flush=True)
                continue
            _, protocol, transport, where, answer, state = tag
            sock = key.fileobj
            if transport == "udp":
                data, ancillary, _, peer = sock.recvmsg(65535, 1024)
                received = kernel_time(ancillary)
                reply, k = answer(data, peer)
                if reply is not None:
                    answered = time.time_ns() / 1e6
                    sock.sendto(reply, peer)
                    record(protocol, transport, where, k, len(data), received, answered)
            elif state is None:
                conn, _ = sock.accept()
                conn.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn.setblocking(False)
                selector.register(conn, selectors.EVENT_READ, ("conn", protocol, transport, where, answer, {"buffered": b"", "peer": conn.getpeername()}))
            else:
                try:
                    data, ancillary, _, _ = sock.recvmsg(65535, 1024)
                except ConnectionError:
                    data = b""
                if not data:
                    selector.unregister(sock)
                    sock.close()
                    continue
                received = kernel_time(ancillary)
                messages, state["buffered"] = take_messages(protocol, state["buffered"] + data)
                for message in messages:
                    reply, k = answer(message, state["peer"])
                    if reply is not None:
                        answered = time.time_ns() / 1e6
                        sock.sendall(reply)
                        record(protocol, transport, where, k, len(message), received, answered)


if __name__ == "__main__":
    main()
