#!/usr/bin/env python3
"""Holds every packet of an NFQUEUE queue for a fixed time, then accepts it.

The lab's stand-in for `tc qdisc ... netem delay` on kernels built without
sch_netem: an iptables rule sends the interface's packets to the queue
(`-j NFQUEUE --queue-num N --queue-bypass`) and this program gives each its
verdict DELAY ms later. Speaks nfnetlink_queue (linux/netfilter/nfnetlink_queue.h)
over a raw netlink socket with the standard library only. Copy mode META:
packets stay in the kernel, only their ids come here.

usage: nfqueue-delay.py QUEUE_NUM DELAY_MS   (runs until SIGTERM)
"""
import heapq
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NF_ACCEPT = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2


def attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack('=HH', length, kind) + payload + b'\0' * ((4 - length % 4) % 4)


def message(msg_type, queue, attrs, flags=NLM_F_REQUEST, seq=0):
    body = struct.pack('=BBH', socket.AF_UNSPEC, 0, socket.htons(queue)) + b''.join(attrs)
    return struct.pack('=IHHII', 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, seq, 0) + body


def expect_ack(sock, what):
    data = sock.recv(65536)
    length, kind = struct.unpack_from('=IH', data, 0)
    if kind == NLMSG_ERROR:
        (error,) = struct.unpack_from('=i', data, 16)
        if error != 0:
            sys.exit(f'nfqueue-delay: {what} failed: errno {-error}')


def main():
    queue, delay = int(sys.argv[1]), float(sys.argv[2]) / 1000.0
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.bind((0, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.send(message(NFQNL_MSG_CONFIG, queue, [attr(NFQA_CFG_CMD, struct.pack('=BxH', NFQNL_CFG_CMD_BIND, 0))], NLM_F_REQUEST | NLM_F_ACK, 1))
    expect_ack(sock, 'bind')
    sock.send(message(NFQNL_MSG_CONFIG, queue, [attr(NFQA_CFG_PARAMS, struct.pack('>IB', 0, NFQNL_COPY_META))], NLM_F_REQUEST | NLM_F_ACK, 2))
    expect_ack(sock, 'copy mode')
    print('nfqueue-delay ready', flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    pending = []  # (due, packet id)
    while True:
        timeout = max(0.0, pending[0][0] - time.monotonic()) if pending else 1.0
        readable, _, _ = select.select([sock], [], [], timeout)
        if readable:
            data = sock.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, kind = struct.unpack_from('=IH', data, offset)
                if length < 16:
                    break
                if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                    pos = offset + 20
                    while pos + 4 <= offset + length:
                        alen, atype = struct.unpack_from('=HH', data, pos)
                        if alen < 4:
                            break
                        if (atype & 0x7FFF) == NFQA_PACKET_HDR:
                            (packet_id,) = struct.unpack_from('>I', data, pos + 4)
                            heapq.heappush(pending, (time.monotonic() + delay, packet_id))
                        pos += (alen + 3) & ~3
                offset += (length + 3) & ~3
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, packet_id = heapq.heappop(pending)
            sock.send(message(NFQNL_MSG_VERDICT, queue, [attr(NFQA_VERDICT_HDR, struct.pack('>II', NF_ACCEPT, packet_id))]))


if __name__ == '__main__':
    main()
