#!/usr/bin/env python3
"""A TCP listener on 127.0.0.1 whose accept queue is full, so further SYNs are dropped (no root needed),
plus a UDP SIP responder on the same port that answers REGISTER with 200 OK.

Prints the port, then serves until killed. Used by bench/run for the black-holed-TCP fallback timing."""
import socket
import sys

tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.bind(("127.0.0.1", 0))
port = tcp.getsockname()[1]
tcp.listen(0)
held = []
for _ in range(16):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(0.2)
    try:
        c.connect(("127.0.0.1", port))
        held.append(c)
    except OSError:
        break
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", port))
print(port, flush=True)
while True:
    data, peer = udp.recvfrom(65535)
    text = data.decode("utf-8", "replace")
    lines = text.split("\r\n")
    keep = [l for l in lines[1:] if l.split(":", 1)[0].strip().lower() in ("via", "from", "to", "call-id", "cseq")]
    reply = "SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n"
    udp.sendto(reply.encode(), peer)
