"""Plain-object parts of the bridge and the tunnel: base64 streaming, message sizes, proxy choice."""
from __future__ import annotations

import base64
import os

import pytest

from node.bridge.base64stream import Base64Error, Base64MessageDecoder
from node.bridge.framing import DEFAULT_SEND_MESSAGE_SIZE, encode_messages, send_chunk_size
from node.bridge.relay import truncate_reason
from node.errors import ConfigError
from node.tunnel.proxy import bypasses, connect_request, parse_proxy, proxy_for


def decode(*frames: bytes) -> bytes:
    decoder = Base64MessageDecoder()
    out = b"".join(decoder.feed(f) for f in frames)
    decoder.finish()
    return out


@pytest.mark.parametrize("split", [1, 2, 3, 5, 7, 100])
def test_base64_message_split_anywhere_decodes(split: int) -> None:
    """A base64 message cut into frames at any offset decodes to the original bytes."""
    data = os.urandom(301)
    text = base64.b64encode(data)
    assert decode(*[text[i:i + split] for i in range(0, len(text), split)]) == data


def test_base64_seed_example() -> None:
    """"SG" + "VsbG8=" (the specification's two frames) is "Hello"."""
    assert decode(b"SG", b"VsbG8=") == b"Hello"


def test_empty_base64_message_is_empty() -> None:
    """A text message with no payload decodes to nothing."""
    assert decode(b"") == b""


@pytest.mark.parametrize("frames", [
    (b"SGV$bG8=",), (b"SG==SGVs",), (b"SGVsbG8",), (b"SGU=", b"SGVs"), (b"SGVsbG8=\n",), ("SGVsbG8é".encode(),),
], ids=["character", "inner-padding", "length", "after-padding", "newline", "non-ascii"])
def test_invalid_base64_is_refused(frames: tuple) -> None:
    """Characters outside the alphabet, padding before the end, or a bad length raise Base64Error."""
    with pytest.raises(Base64Error):
        decode(*frames)


def test_decoder_streams_without_buffering_the_message() -> None:
    """Each complete 4-character group is returned as soon as it arrives."""
    decoder = Base64MessageDecoder()
    assert decoder.feed(b"SGVs") == b"Hel"
    assert decoder.feed(b"bG") == b""
    assert decoder.feed(b"8=") == b"lo"


@pytest.mark.parametrize("limit", [2026, 65536, 65537])
def test_sent_messages_never_exceed_the_limit(limit: int) -> None:
    """The chunk per message, as binary or as base64, fits in the message size limit."""
    assert send_chunk_size(limit, False) == limit
    assert len(base64.b64encode(b"x" * send_chunk_size(limit, True))) <= limit
    assert send_chunk_size(2026, True) >= 1500


def parse_frames(octets: bytes) -> list:
    """(fin, opcode, mask key or None, unmasked payload) for each frame in ``octets``, which must end on one."""
    import struct

    frames = []
    while octets:
        fin, opcode = octets[0] >> 7, octets[0] & 0x0F
        assert octets[0] & 0x70 == 0, "no RSV bits: no extension is negotiated"
        masked, length, at = octets[1] >> 7, octets[1] & 0x7F, 2
        if length == 126:
            length, at = struct.unpack("!H", octets[2:4])[0], 4
        elif length == 127:
            length, at = struct.unpack("!Q", octets[2:10])[0], 10
        key = octets[at:at + 4] if masked else None
        at += 4 if masked else 0
        payload = octets[at:at + length]
        assert len(payload) == length
        if key is not None:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        frames.append((fin, opcode, key, payload))
        octets = octets[at + length:]
    return frames


@pytest.mark.parametrize("size", [1500, 1501, 65536, 70000])
@pytest.mark.parametrize("masked", [False, True], ids=["server", "client"])
@pytest.mark.parametrize("length", [0, 1, 125, 126, 1500, 65535, 65536, 200001])
def test_binary_messages_are_single_frames_within_the_send_size(size: int, masked: bool, length: int) -> None:
    """Binary: the data cut into FIN frames of at most ``size`` octets, in order; client frames masked."""
    data = os.urandom(length)
    frames = parse_frames(encode_messages(data, size, False, masked))
    assert all(fin and opcode == 2 and len(payload) <= size for fin, opcode, _, payload in frames)
    assert all(len(payload) == size for _, _, _, payload in frames[:-1])
    assert b"".join(payload for _, _, _, payload in frames) == data
    assert all((key is not None) == masked for _, _, key, _ in frames)


def test_client_frames_each_get_their_own_mask_key() -> None:
    """RFC 6455 section 5.3: a fresh, unpredictable key per frame (os.urandom), not one per write."""
    keys = [key for _, _, key, _ in parse_frames(encode_messages(os.urandom(150000), 1500, False, True))]
    assert len(keys) == 100 and len(set(keys)) > 95


@pytest.mark.parametrize("size", [1500, 1502, 2026, 65536])
@pytest.mark.parametrize("length", [1, 2, 3, 1124, 1125, 1126, 100000])
def test_base64_messages_decode_each_on_their_own(size: int, length: int) -> None:
    """base64: text frames of at most ``size`` octets, each valid base64 alone (padding only in the last)."""
    data = os.urandom(length)
    frames = parse_frames(encode_messages(data, size, True, True))
    assert all(fin and opcode == 1 and len(payload) <= size for fin, opcode, _, payload in frames)
    assert all(b"=" not in payload for _, _, _, payload in frames[:-1])
    assert b"".join(base64.b64decode(payload, validate=True) for _, _, _, payload in frames) == data


def test_the_default_send_size_is_the_same_everywhere() -> None:
    """1500 in the framing module, the tunnel's CLI and the tcpbridge schema default."""
    from node.commands.tunnel import SEND_MESSAGE_SIZE
    from node.config.validation import load_schema

    def find(node: object) -> list:
        if isinstance(node, dict):
            found = [node["send_message_size"]] if isinstance(node.get("send_message_size"), dict) else []
            return found + [x for value in node.values() for x in find(value)]
        if isinstance(node, list):
            return [x for value in node for x in find(value)]
        return []

    schema_entries = find(load_schema())
    assert len(schema_entries) == 1
    assert DEFAULT_SEND_MESSAGE_SIZE == SEND_MESSAGE_SIZE == schema_entries[0]["default"] == 1500
    assert schema_entries[0]["minimum"] == 1500


def test_close_reason_fits_a_control_frame() -> None:
    """Close reasons are cut to 123 octets of valid UTF-8."""
    reason = truncate_reason("é" * 200)
    assert len(reason) <= 123
    reason.decode("utf-8")


@pytest.mark.parametrize("host,port,no_proxy,expected", [
    ("localhost", 443, "localhost", True),
    ("api.example.com", 443, "example.com", True),
    ("api.example.com", 443, ".example.com", True),
    ("example.com.evil", 443, "example.com", False),
    ("badexample.com", 443, "example.com", False),
    ("10.1.2.3", 443, "10.0.0.0/8", True),
    ("127.0.0.1", 443, "127.0.0.1", True),
    ("::1", 443, "::1", True),
    ("host", 8443, "host:443", False),
    ("host", 443, "host:443", True),
    ("anything", 1, "*", True),
    ("host", 443, "", False),
])
def test_no_proxy_matching(host: str, port: int, no_proxy: str, expected: bool) -> None:
    """NO_PROXY entries match hosts, their subdomains, addresses, CIDR blocks and host:port."""
    assert bypasses(host, port, no_proxy) is expected


def test_proxy_from_environment() -> None:
    """wss uses HTTPS_PROXY (lower case wins), ws uses HTTP_PROXY, --proxy overrides, '' disables."""
    env = {"HTTPS_PROXY": "http://upper:3128", "https_proxy": "http://lower:3128", "HTTP_PROXY": "http://plain:8080",
           "NO_PROXY": "skip.example"}
    assert proxy_for(True, "h", 443, None, env).host == "lower"
    assert proxy_for(False, "h", 80, None, env).host == "plain"
    assert proxy_for(True, "a.skip.example", 443, None, env) is None
    assert proxy_for(True, "h", 443, "http://explicit:1", env).host == "explicit"
    assert proxy_for(True, "h", 443, "", env) is None
    assert proxy_for(True, "h", 443, None, {}) is None


def test_proxy_credentials_become_basic_auth() -> None:
    """user:password in the proxy URL (percent-decoded) is sent as Proxy-Authorization: Basic."""
    proxy = parse_proxy("http://alice:s3cr%3At@proxy.example:3128")
    assert (proxy.host, proxy.port, proxy.label()) == ("proxy.example", 3128, "http://proxy.example:3128")
    request = connect_request("::1", 443, proxy, "wampnode/test").decode()
    assert request.startswith("CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n")
    assert f"Proxy-Authorization: Basic {base64.b64encode(b'alice:s3cr:t').decode()}\r\n" in request


def test_https_proxy_url_is_refused() -> None:
    """Only http:// proxies are supported; another scheme is a one-line configuration error."""
    with pytest.raises(ConfigError, match="scheme 'socks5' is not supported"):
        parse_proxy("socks5://proxy:1080")
