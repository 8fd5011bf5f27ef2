"""The node's short cuts for reading whole frames and writing at the end of a turn.

Reading: several whole frames in one TCP segment are unframed by wampnode
(node.fastpath.websocket_frames); anything else (split frames, control frames, invalid
UTF-8, non-minimal lengths, oversize) must still get autobahn's exact behaviour.
Writing: replies leave before the reactor polls again (node.fastpath.write_coalescing,
node.fastpath.reactor), which shows as an absence of ``epoll_ctl`` calls per message.
"""
from __future__ import annotations

import asyncio
import os
import platform
import re
import signal
import subprocess
import time

from conftest import free_port, router_config, tcp
from wampclient import connect, leave, run
from wsraw import RawWebSocket, frame

TEXT, BINARY, CLOSE, PING, PONG = 1, 2, 8, 9, 10


def _testee(node_factory, **options):
    port = free_port()
    transport = {"type": "websocket.testee", "endpoint": tcp(port)}
    if options:
        transport["options"] = options
    node = node_factory(router_config([transport]))
    return port, node


def test_several_whole_frames_in_one_segment_echo_in_order(node_factory):
    """Small text, multi-byte UTF-8, a 2 KiB and a 1-byte binary frame in one write come back in order."""
    port, node = _testee(node_factory)
    ws = RawWebSocket(port)
    messages = [(TEXT, b"hello"), (TEXT, "gr\u00fc\u00dfe \u2603 \U0001f600".encode()),
                (BINARY, os.urandom(2048)), (BINARY, b"\x00"), (TEXT, b""), (TEXT, b"x" * 300)]
    ws.send(b"".join(frame(op, payload, mask=os.urandom(4)) for op, payload in messages))
    for opcode, payload in messages:
        assert ws.read_frame() == (True, opcode, payload)
    ws.close()
    assert ws.read_close()[0] == 1000
    assert "Traceback" not in node.output()


def test_frames_split_across_segments_and_mixed_with_control_frames(node_factory):
    """A frame sent byte by byte, a ping between data frames and a fragmented message still work."""
    port, _ = _testee(node_factory)
    ws = RawWebSocket(port)
    octets = frame(TEXT, b"split across segments")
    for i in range(len(octets)):
        ws.send(octets[i:i + 1])
        time.sleep(0.002)  # the behaviour under test: each octet in a segment of its own, read on its own
    assert ws.read_frame() == (True, TEXT, b"split across segments")
    ws.send(frame(TEXT, b"one") + frame(PING, b"are you there") + frame(TEXT, b"two")
            + frame(TEXT, b"frag", fin=False) + frame(0, b"mented") + frame(BINARY, b"\x01\x02"))
    assert ws.read_frame() == (True, TEXT, b"one")
    assert ws.read_frame() == (True, PONG, b"are you there")
    assert ws.read_frame() == (True, TEXT, b"two")
    assert ws.read_frame() == (True, TEXT, b"fragmented")
    assert ws.read_frame() == (True, BINARY, b"\x01\x02")
    ws.close()
    assert ws.read_close()[0] == 1000


def test_invalid_utf8_after_a_good_frame_closes_1007(node_factory):
    """The good frame before it is echoed; the invalid text frame closes with 1007 and is not echoed."""
    port, node = _testee(node_factory)
    ws = RawWebSocket(port)
    ws.send(frame(TEXT, b"fine") + frame(TEXT, b"bad \xed\xa0\x80 surrogate") + frame(TEXT, b"never"))
    assert ws.read_frame() == (True, TEXT, b"fine")
    code, _, frames = ws.read_close()
    assert code == 1007 and frames == []
    assert "Traceback" not in node.output()


def test_non_minimal_length_and_reserved_bits_close_1002(node_factory):
    """A 16-bit length under 126 and a frame with RSV1 set (no extension) are protocol errors."""
    port, _ = _testee(node_factory)
    for bad in (bytes([0x81, 0x80 | 126, 0, 5]) + b"\0\0\0\0" + b"hello",
                bytes([0xC1, 0x85]) + b"\0\0\0\0" + b"hello"):
        ws = RawWebSocket(port)
        ws.send(frame(TEXT, b"first") + bad)
        assert ws.read_frame() == (True, TEXT, b"first")
        assert ws.read_close()[0] == 1002
        ws.shutdown()


def test_frame_over_message_limit_closes_1009(node_factory):
    """A whole frame larger than max_message_size in one segment is refused with 1009, not delivered."""
    port, _ = _testee(node_factory, max_message_size=1000, max_frame_size=1000)
    ws = RawWebSocket(port)
    ws.send(frame(BINARY, b"a" * 1000) + frame(BINARY, b"b" * 1001))
    assert ws.read_frame() == (True, BINARY, b"a" * 1000)
    code, _, frames = ws.read_close()
    assert code == 1009 and frames == []


def _strace_counts(output: str) -> dict:
    """syscall -> calls, from the summary table ``strace -c`` prints."""
    counts = {}
    for line in output.splitlines():
        match = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
        if match:
            counts[match.group(2)] = int(match.group(1))
    return counts


def _echo_calls_traced(node_factory, syscalls: str, arguments: list) -> dict:
    """Echo calls with ``arguments`` through a node while ``strace -c`` counts its
    ``syscalls``; then one more small call, so the node's reactor has come back from
    the last reply's send. Returns syscall -> calls."""
    port = free_port()
    node = node_factory(router_config([{"type": "websocket", "endpoint": tcp(port)}]))

    async def scenario():
        callee = await connect(f"ws://127.0.0.1:{port}/")
        await callee.register(lambda x: x, "com.example.echo")
        caller = await connect(f"ws://127.0.0.1:{port}/")
        await caller.call("com.example.echo", 0)
        tracer = subprocess.Popen(["strace", "-c", "-f", "-e", f"trace={syscalls}", "-p", str(node.proc.pid)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # strace reports "Process N attached" once it traces the node
            attached = await asyncio.wait_for(asyncio.get_event_loop().run_in_executor(None, tracer.stderr.readline), 10)
            assert "attached" in attached, attached
            for argument in arguments:
                assert await caller.call("com.example.echo", argument) == argument
            assert await caller.call("com.example.echo", -1) == -1
        finally:
            tracer.send_signal(signal.SIGINT)
            _, summary = tracer.communicate(timeout=20)
        await leave(caller)
        await leave(callee)
        return summary

    summary = run(scenario())
    counts = _strace_counts(summary)
    counts["summary"] = summary
    return counts


def test_replies_leave_without_a_poll_round_trip(node_factory):
    """200 sequential calls cost ~400 sends from the node but almost no epoll_ctl (Twisted alone: 2 per send)."""
    counts = _echo_calls_traced(node_factory, "epoll_ctl,sendto,sendmsg,write", list(range(200)))
    sends = counts.get("sendto", 0) + counts.get("sendmsg", 0) + counts.get("write", 0)
    assert sends >= 400, counts["summary"]
    assert counts.get("epoll_ctl", 0) < 20, counts["summary"]


def test_large_messages_leave_and_arrive_without_extra_poll_round_trips(node_factory):
    """50 calls of 64 KiB: each message the node sends over 16 KiB pauses the connection's
    producer (the write buffer limit), yet once the kernel took it all the producer resumes
    at once, with no wait for writability and no empty send, and reading from the peer never
    stopped (the pause comes to nothing when the same turn's flush sends it all); and the
    rest of a message that has begun is read in the same turn. Twisted alone: 3 epoll_wait
    per message received (its two reads, the writability of the message sent), one empty
    send per message sent, and 4 epoll_ctl per message sent (reading stopped and started,
    writing registered and unregistered)."""
    blob = "x" * (64 * 1024)
    counts = _echo_calls_traced(node_factory, "epoll_wait,epoll_ctl,sendto,sendmsg,write,writev",
                                [blob + str(i) for i in range(50)])
    # INVOCATION and RESULT of each call, header and payload in one system call (writev: PyPy,
    # node.fastpath.raw_send)
    assert counts.get("sendmsg", 0) + counts.get("writev", 0) >= 100, counts["summary"]
    assert counts.get("sendto", 0) + counts.get("write", 0) < 20, counts["summary"]  # small calls; no empty sends
    assert counts.get("epoll_wait", 0) < 150, counts["summary"]  # 100 messages received (CALL, YIELD): ~1 each
    assert counts.get("epoll_ctl", 0) < 20, counts["summary"]  # was 2 per message sent: reading stopped, restarted


def test_large_messages_leave_from_their_own_memory_on_pypy(node_factory):
    """Three 512 KiB calls: the INVOCATION and RESULT of each leave with one system call for
    header and payload; on PyPy a writev from the received octets' own memory
    (node.fastpath.raw_send), as its sendmsg would copy them first; on CPython a sendmsg."""
    counts = _echo_calls_traced(node_factory, "sendmsg,writev", ["x" * (512 * 1024) + str(i) for i in range(3)])
    raw, gathered = counts.get("writev", 0), counts.get("sendmsg", 0)
    if platform.python_implementation() == "PyPy":
        assert raw >= 6 and gathered == 0, counts["summary"]
    else:
        assert gathered >= 6 and raw == 0, counts["summary"]


def test_fragmented_text_with_invalid_utf8_closes_1007(node_factory):
    """Fragments go through autobahn's incremental validator: a bad sequence split across them closes 1007."""
    port, _ = _testee(node_factory)
    ws = RawWebSocket(port)
    ws.send(frame(TEXT, "ok \u00e9".encode()[:-1] + b"", fin=False) + frame(0, b"\xa9 fine"))
    assert ws.read_frame() == (True, TEXT, "ok \u00e9 fine".encode())
    ws.send(frame(TEXT, b"bad \xed", fin=False) + frame(0, b"\xa0\x80 surrogate"))
    assert ws.read_close()[0] == 1007
