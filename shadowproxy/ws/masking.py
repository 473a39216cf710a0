"""Client frames must be masked (RFC 6455 §5.1): the server closes with 1002 on one that is not.

aiohttp's frame reader unmasks a masked frame and accepts an unmasked one alike, so a client (or
a middlebox) that skips masking would have its frames relayed. `MaskCheck` sits in front of the
reader aiohttp installs for the client's socket: it walks the frame headers in the bytes as they
arrive (a header at a time, payloads skipped, nothing copied but a split header), hands the reader
every byte up to the first unmasked frame, and fails the socket there the way the reader fails it
on any other protocol error, so the client is closed with 1002 and the relay ends it as such.

`ClientSocket` is the `web.WebSocketResponse` that installs it. It relies on two aiohttp internals
(the handler's `_payload_parser`, and `_message_tail`: bytes the client sent right behind the
handshake), checked by the tests that send unmasked frames, pipelined and split.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import WebSocketError, WSCloseCode, web
from aiohttp.http_websocket import WebSocketReader, WebSocketWriter
from aiohttp.web_request import BaseRequest

UNMASKED = "unmasked client frame"
_MASK_BIT = 0x80
_NO_FRAME = (False, b"")
_FAILED = (True, b"")


class _Queue(Protocol):
    def set_exception(self, exc: BaseException) -> None: ...


class MaskCheck:
    """A frame reader's stand-in that refuses unmasked frames and passes everything else on."""

    __slots__ = ("_failed", "_head", "_queue", "_reader", "_skip")

    def __init__(self, reader: WebSocketReader, queue: _Queue) -> None:
        self._reader = reader
        self._queue = queue
        self._head = b""  # a frame header split across reads
        self._skip = 0  # payload bytes of the current frame still to come
        self._failed = False

    def feed_eof(self) -> None:
        self._reader.feed_eof()

    def feed_data(self, data: bytes | bytearray | memoryview) -> tuple[bool, bytes]:
        if self._failed:
            return _FAILED
        data = bytes(data)
        bad = self._scan(data)
        if bad is None:
            return self._reader.feed_data(data)
        if bad and self._reader.feed_data(data[:bad])[0]:
            return _FAILED  # the reader refused an earlier frame itself
        self._failed = True
        self._queue.set_exception(WebSocketError(WSCloseCode.PROTOCOL_ERROR, UNMASKED))
        return _FAILED

    def _scan(self, data: bytes) -> int | None:
        """Advance over `data`; the offset where an unmasked frame starts, or None."""
        pos, size = 0, len(data)
        while pos < size:
            if self._skip:
                step = min(self._skip, size - pos)
                self._skip -= step
                pos += step
                continue
            start = pos - len(self._head)  # where this header began (negative: an earlier read)
            head = self._head + data[pos : pos + 14] if self._head else data[pos : pos + 14]
            if len(head) < 2:
                self._head = head
                return None
            second = head[1]
            if not second & _MASK_BIT:
                return max(start, 0)
            flag = second & 0x7F
            extended = 2 if flag == 126 else 8 if flag == 127 else 0
            header = 2 + extended + 4
            if len(head) < header:
                self._head = head
                return None
            length = int.from_bytes(head[2 : 2 + extended]) if extended else flag
            pos += header - len(self._head)
            self._head = b""
            self._skip = length
        return None


class ClientSocket(web.WebSocketResponse):
    """The client's side of a relayed websocket, with `MaskCheck` in front of its reader."""

    def _post_start(
        self, request: BaseRequest, protocol: str | None, writer: WebSocketWriter
    ) -> None:
        handler = request.protocol
        early, handler._message_tail = handler._message_tail, b""
        super()._post_start(request, protocol, writer)
        assert self._parser is not None
        assert self._reader is not None
        check = MaskCheck(self._parser, self._reader)
        handler._payload_parser = check
        if early:
            check.feed_data(early)
