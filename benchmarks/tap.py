"""What the authoritative backend answered, as it crossed the wire: the soak's tap.

The soak puts a fault-free `ChaosRelay` between the proxy and the authoritative backend, with a
`Tap` watching every connection. Each connection's two byte streams are parsed: the requests
(HTTP/1.1) only to pair each answer with its request's `X-Request-ID`; the answers for their
status and body (Content-Length, chunked, or until the close), and after a 101 the backend's
websocket frames: data messages reassembled (and inflated, with permessage-deflate), the close
frame's code. Only digests are kept.

Parsing is sans-I/O: each stream is a generator that takes what is buffered and yields when it
needs more. A stream the tap cannot follow (another websocket extension, a malformed head) is
counted in `unparsed` and the rest of its connection goes unrecorded, so every answer on it shows
up in the soak as one the tap has no record of, never as a silent match.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

Parse = Generator[None, None, None]
Clock = Callable[[], float]

_CRLF, _HEAD_END = b"\r\n", b"\r\n\r\n"
_NO_BODY = frozenset({204, 304})
_TEXT, _BINARY, _CONTINUATION, _CLOSE = 0x1, 0x2, 0x0, 0x8
NO_STATUS = 1005  # a close frame without a code (RFC 6455 §7.1.5)
_DEFLATE_TAIL = b"\x00\x00\xff\xff"  # what a sender strips from each compressed message


def digest(data: bytes) -> bytes:
    """What the soak compares bodies and messages by."""
    return hashlib.blake2b(data, digest_size=16).digest()


@dataclass(frozen=True, slots=True)
class Answer:
    """One complete HTTP answer of the backend, and when its last byte passed."""

    method: str
    target: str
    status: int
    digest: bytes
    at: float


@dataclass(frozen=True, slots=True)
class Message:
    """One websocket data message (opcode 1 text, 2 binary) and when its last frame passed."""

    opcode: int
    digest: bytes
    at: float


@dataclass(slots=True)
class Socket:
    """One websocket, as the backend spoke it."""

    target: str
    messages: list[Message] = field(default_factory=list)
    close_code: int | None = None  # None: the backend sent no close frame


class _Unparseable(Exception):
    """The stream is not what the tap can follow; its connection goes unrecorded."""


class _Truncated(Exception):
    """The connection ended inside a message: that message was never complete."""


@dataclass(slots=True)
class _Buffer:
    data: bytearray = field(default_factory=bytearray)
    eof: bool = False


def _more(buf: _Buffer) -> Generator[None, None, bool]:
    """Until something is buffered (True) or the stream ended cleanly between messages."""
    while not buf.data:
        if buf.eof:
            return False
        yield
    return True


def _until(buf: _Buffer, marker: bytes) -> Generator[None, None, bytes]:
    while (at := buf.data.find(marker)) < 0:
        if buf.eof:
            raise _Truncated
        yield
    found = bytes(buf.data[:at])
    del buf.data[: at + len(marker)]
    return found


def _take(buf: _Buffer, size: int) -> Generator[None, None, bytes]:
    while len(buf.data) < size:
        if buf.eof:
            raise _Truncated
        yield
    found = bytes(buf.data[:size])
    del buf.data[:size]
    return found


def _rest(buf: _Buffer) -> Generator[None, None, bytes]:
    while not buf.eof:
        yield
    found = bytes(buf.data)
    buf.data.clear()
    return found


def _chunked(buf: _Buffer) -> Generator[None, None, bytes]:
    body = bytearray()
    while True:
        line = yield from _until(buf, _CRLF)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise _Unparseable("bad chunk size") from exc
        if size == 0:
            while (yield from _until(buf, _CRLF)):  # trailer fields, up to the empty line
                pass
            return bytes(body)
        body += yield from _take(buf, size)
        yield from _take(buf, len(_CRLF))


def _head(raw: bytes) -> tuple[list[str], dict[str, str]]:
    """The start line's first two words and the fields, names lower-cased (a repeated field: the
    last one)."""
    start, *lines = raw.decode("latin-1").split("\r\n")
    words = start.split(" ", 2)
    if len(words) < 2:
        raise _Unparseable("a start line without a method and target, or a status")
    fields = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise _Unparseable("a header line without a colon")
        fields[name.strip().lower()] = value.strip()
    return words[:2], fields


def _body(buf: _Buffer, fields: dict[str, str]) -> Generator[None, None, bytes | None]:
    """A message body framed by its fields; None when they frame none (read until close)."""
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return (yield from _chunked(buf))
    length = fields.get("content-length")
    if length is None:
        return None
    if not length.isdigit():
        raise _Unparseable("bad Content-Length")
    return (yield from _take(buf, int(length)))


class _Inflater:
    """permessage-deflate (RFC 7692) of the server's messages, as negotiated in its 101."""

    def __init__(self, reset: bool) -> None:
        self._reset = reset  # server_no_context_takeover: every message starts afresh
        self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)

    @classmethod
    def negotiated(cls, fields: dict[str, str]) -> _Inflater | None:
        offered = fields.get("sec-websocket-extensions", "")
        if not offered:
            return None
        params = [param.strip().lower() for param in offered.split(";")]
        if params[0] != "permessage-deflate" or "," in offered:
            raise _Unparseable(f"a websocket extension the tap does not decode: {offered}")
        return cls(reset="server_no_context_takeover" in params)

    def inflate(self, payload: bytes) -> bytes:
        try:
            data = self._zlib.decompress(payload + _DEFLATE_TAIL)
        except zlib.error as exc:
            raise _Unparseable("a compressed websocket message that does not inflate") from exc
        if self._reset:
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        return data


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    target: str
    request_id: str
    upgrade: bool


class Tap:
    """Observer factory for a `ChaosRelay`; what every connection carried, by X-Request-ID."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.answers: defaultdict[str, list[Answer]] = defaultdict(list)
        self.sockets: dict[str, Socket] = {}
        self.unparsed: Counter[str] = Counter()
        self.truncated = 0  # answers cut off by the end of their connection

    def __call__(self) -> _Connection:
        return _Connection(self)


class _Connection:
    """One relayed connection: a request parser and an answer parser, fed as bytes pass."""

    def __init__(self, tap: Tap) -> None:
        self._tap = tap
        self._pending: deque[_Request] = deque()
        self._sent, self._answered = _Buffer(), _Buffer()
        self._parsers: dict[str, Parse | None] = {
            "requests": self._requests(self._sent),
            "answers": self._answers(self._answered),
        }
        for name in self._parsers:
            self._advance(name)

    def upstream(self, data: bytes) -> None:
        self._sent.data += data
        self._advance("requests")

    def downstream(self, data: bytes) -> None:
        self._answered.data += data
        self._advance("answers")

    def closed(self) -> None:
        self._sent.eof = self._answered.eof = True
        for name in self._parsers:
            self._advance(name)

    def _advance(self, name: str) -> None:
        parser = self._parsers[name]
        if parser is None:
            return
        try:
            next(parser)
            return
        except StopIteration:
            pass
        except _Truncated:
            if name == "answers":
                self._tap.truncated += 1
        except _Unparseable as exc:
            self._tap.unparsed[str(exc)] += 1
            self._parsers = dict.fromkeys(self._parsers)  # the whole connection: unrecorded
        self._parsers[name] = None

    def _requests(self, buf: _Buffer) -> Parse:
        while (yield from _more(buf)):
            (method, target), fields = _head((yield from _until(buf, _HEAD_END)))
            upgrade = fields.get("upgrade", "").lower() == "websocket"
            self._pending.append(_Request(method, target, fields.get("x-request-id", ""), upgrade))
            if upgrade:
                return  # what follows are the client's frames: not what the soak compares
            yield from _body(buf, fields)

    def _answers(self, buf: _Buffer) -> Parse:
        while (yield from _more(buf)):
            (_, code), fields = _head((yield from _until(buf, _HEAD_END)))
            if not code.isdigit() or not self._pending:
                raise _Unparseable("an answer without a status or a request")
            status, request = int(code), self._pending.popleft()
            if 100 <= status < 200 and not (status == 101 and request.upgrade):
                raise _Unparseable("an interim answer, or an upgrade nobody asked for")
            if status == 101:
                socket = self._tap.sockets[request.request_id] = Socket(request.target)
                yield from self._frames(buf, socket, _Inflater.negotiated(fields))
                return
            if request.method == "HEAD" or status in _NO_BODY:
                body: bytes | None = b""
            else:
                body = yield from _body(buf, fields)
            if body is None:
                body = yield from _rest(buf)
            self._tap.answers[request.request_id].append(
                Answer(request.method, request.target, status, digest(body), self._tap.clock())
            )

    def _frames(self, buf: _Buffer, socket: Socket, inflater: _Inflater | None) -> Parse:
        message, opcode, compressed = bytearray(), _TEXT, False
        while (yield from _more(buf)):
            first, second = yield from _take(buf, 2)
            if first & (0x30 if inflater else 0x70) or second & 0x80:
                raise _Unparseable("a websocket frame with RSV bits, or masked by the server")
            fin, op, length = first & 0x80, first & 0x0F, second & 0x7F
            if length >= 126:
                length = int.from_bytes((yield from _take(buf, 2 if length == 126 else 8)), "big")
            payload = yield from _take(buf, length)
            if op == _CLOSE:
                socket.close_code = int.from_bytes(payload[:2], "big") if payload else NO_STATUS
                return
            if op in (_TEXT, _BINARY):
                message, opcode, compressed = bytearray(payload), op, bool(first & 0x40)
            elif op == _CONTINUATION:
                message += payload
            else:
                continue  # ping, pong: control frames each end answers itself
            if fin:
                data = inflater.inflate(bytes(message)) if compressed and inflater else message
                socket.messages.append(Message(opcode, digest(bytes(data)), self._tap.clock()))
