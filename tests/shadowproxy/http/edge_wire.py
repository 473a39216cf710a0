"""Raw HTTP/1 on sockets against a real `shadowproxy run` for the edge fuzz and its regression
tests: the echo backends, the proxy (a fixture), request drafts and their mutations, and a
strict parser of what comes back (`problems` says what an exchange got wrong).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from ..factories import ProxyProcess, ServerFactory, proxy_process

SOAK_S = float(os.environ.get("SHADOWPROXY_FUZZ_SECONDS", "0"))
SEED = int(os.environ.get("SHADOWPROXY_FUZZ_SEED") or (secrets.randbits(32) if SOAK_S else 20261))
CASES = 300  # without SHADOWPROXY_FUZZ_SECONDS
CLIENTS = 16  # cases run this many at a time
IDLE_S = 0.3  # a client that got nothing by then half-closes
ANSWER_S = 1.0  # after the half-close, an answer or a close within this
PIPELINED_S = 1.5  # after an answer that keeps the connection, the pipelined one within this
KEEPALIVE_S = 3.0  # longer: a close by the keep-alive timer is not an answer
ENV = {
    "SHADOWPROXY_HEADER_TIMEOUT_S": "1",
    "SHADOWPROXY_KEEPALIVE_S": str(KEEPALIVE_S),
    "SHADOWPROXY_SHUTDOWN_GRACE_S": "1",
}
TOKEN = re.compile(rb"\b[mvl]-\d+\b")  # m: the mutated request, v: the pipelined one, l: liveness

# ---------------------------------------------------------------- the backends and the proxy


async def echo(request: web.Request) -> web.Response:
    """What this request was, as the backend saw it; never a 5xx, whatever arrives."""
    try:
        body = await request.read()
    except Exception as exc:  # a 5xx here would pass for the proxy's
        return web.json_response({"unreadable": type(exc).__name__}, status=400)
    return web.json_response(
        {
            "method": request.method,
            "path": request.raw_path,
            "token": request.headers.get("X-Fuzz-Token"),
            "body_tokens": [token.decode() for token in TOKEN.findall(body)],
            # a pipelined request glued onto a header line cut short becomes part of that value
            "header_tokens": [
                token.decode() for _, value in request.raw_headers for token in TOKEN.findall(value)
            ],
        }
    )


@asynccontextmanager
async def echo_proxy(aiohttp_server: ServerFactory, tmp_path: Path) -> AsyncIterator[ProxyProcess]:
    """A real `shadowproxy run` in front of two `echo` backends (the fixture `proxy`)."""
    urls = []
    for _ in range(2):
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", echo)
        urls.append(str((await aiohttp_server(app)).make_url("")).rstrip("/"))
    async with proxy_process(urls[0], urls[1], tmp_path, ENV) as running:
        yield running


# ---------------------------------------------------------------- requests and their mutations


@dataclass
class Draft:
    """A request before it is bytes: every part a mutation may touch."""

    method: bytes
    target: bytes
    version: bytes = b"HTTP/1.1"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""  # as framed on the wire (chunks included)

    def wire(self) -> bytes:
        head = [b"%s %s %s" % (self.method, self.target, self.version)]
        head += [name + b": " + value for name, value in self.headers]
        return b"\r\n".join([*head, b"", b""]) + self.body


def valid(token: str) -> bytes:
    """The pipelined (and the liveness) request: its path and token are its own."""
    headers = [(b"Host", b"fuzz"), (b"X-Fuzz-Token", token.encode())]
    return Draft(b"GET", f"/fuzz/{token}".encode(), headers=headers).wire()


def chunked(rng: random.Random, payload: bytes) -> bytes:
    cuts = sorted(rng.sample(range(1, len(payload)), min(2, len(payload) - 1)))
    parts = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


def template(rng: random.Random, token: str) -> Draft:
    base = [(b"Host", b"fuzz"), (b"X-Fuzz-Token", token.encode()), (b"Accept", b"*/*")]
    payload = b'{"ticker": "AAPL", "note": "%s"}' % rng.randbytes(4).hex().encode()
    target = f"/fuzz/{token}?q=1".encode()
    kind = rng.randrange(9)
    if kind == 0:
        return Draft(b"GET", target, headers=base)
    if kind == 1:
        length = (b"Content-Length", str(len(payload)).encode())
        return Draft(b"POST", target, headers=[*base, length], body=payload)
    if kind == 2:
        framing = (b"Transfer-Encoding", b"chunked")
        return Draft(b"POST", target, headers=[*base, framing], body=chunked(rng, payload))
    if kind == 3:
        method = rng.choice([b"PUT", b"PATCH", b"DELETE"])
        length = (b"Content-Length", str(len(payload)).encode())
        return Draft(method, target, headers=[*base, length], body=payload)
    if kind == 4:
        return Draft(b"OPTIONS", target, headers=[*base, (b"Max-Forwards", b"3")])
    if kind == 5:
        keep = (b"Connection", b"keep-alive")
        return Draft(b"GET", target, b"HTTP/1.0", headers=[*base, keep])
    if kind == 6:
        return Draft(b"GET", b"http://fuzz" + target, headers=base)
    if kind == 7:
        expect = [(b"Expect", b"100-continue"), (b"Content-Length", str(len(payload)).encode())]
        return Draft(b"POST", target, headers=[*base, *expect], body=payload)
    upgrade = [(b"Connection", b"Upgrade, HTTP2-Settings"), (b"Upgrade", b"h2c")]
    return Draft(
        b"GET", target, headers=[*base, *upgrade, (b"HTTP2-Settings", b"AAMAAABkAAQAAP__")]
    )


def noise(rng: random.Random, size: int) -> bytes:
    alphabet = b"\x00\t\n\r \x7f\x80\xff:;,/?#%\"'\\()<>=@[]{}aZ09-_.~"
    return bytes(
        rng.choice(alphabet) if rng.random() < 0.5 else rng.randrange(256) for _ in range(size)
    )


def mutate_method(rng: random.Random, d: Draft) -> None:
    d.method = rng.choice(
        [b"get", b"G ET", b"", b"GET\x00", b"\xffGET", b"CONNECT", b"TRACE", b"PRI", b"M" * 300,
         b"FOO-BAR", b"GET\t", noise(rng, rng.randrange(1, 8))]
    )  # fmt: skip


def mutate_target(rng: random.Random, d: Draft) -> None:
    d.target = rng.choice(
        [d.target + b" x", b"*", b"", b"http://", b"http://a b/c", b"//fuzz//x", b"?q", b"%zz",
         b"/" + b"a" * rng.choice([100, 8200, 9000]), d.target + noise(rng, 3), b"/\x00",
         b"/caf\xc3\xa9", b"/\xff", b"https://[::1]:99999/x", b"fuzz:80", d.target + b"#frag"]
    )  # fmt: skip


def mutate_version(rng: random.Random, d: Draft) -> None:
    d.version = rng.choice(
        [b"HTTP/1.0", b"HTTP/1.2", b"HTTP/2.0", b"HTTP/0.9", b"http/1.1", b"HTTP/1.1 ", b"",
         b"HTTP/11", b"HTTP/1", b"HTTP/1.1x", b"HTTP/9.9", noise(rng, 4)]
    )  # fmt: skip


def mutate_header_name(rng: random.Random, d: Draft) -> None:
    index = rng.randrange(len(d.headers))
    name, value = d.headers[index]
    name = rng.choice(
        [name + b" ", b" " + name, name.lower(), name.upper(), b"", name + b"\x00", b"X(A)",
         b"X-" + b"n" * 9000, name + noise(rng, 2), b"\xc3\xa9"]
    )  # fmt: skip
    d.headers[index] = (name, value)


def mutate_header_value(rng: random.Random, d: Draft) -> None:
    index = rng.randrange(len(d.headers))
    name, value = d.headers[index]
    value = rng.choice(
        [value + noise(rng, 3), b"  " + value + b"\t", b"", b"v" * 9000, value + b"\r\n folded",
         value + b"\x00", value + b"\x7f", value + b"\xff\xfe", b"\r\n"]
    )  # fmt: skip
    d.headers[index] = (name, value)


def mutate_headers(rng: random.Random, d: Draft) -> None:
    choice = rng.randrange(5)
    if choice == 0 and d.headers:
        d.headers.insert(rng.randrange(len(d.headers) + 1), rng.choice(d.headers))
    elif choice == 1:
        d.headers = [h for h in d.headers if h[0].lower() != b"host"]
    elif choice == 2:
        d.headers.append((b"Host", rng.choice([b"a b", b"", b"[::1", b"x:y:z", b"fuzz:80"])))
    elif choice == 3:
        d.headers += [(b"X-Many-%d" % n, b"1") for n in range(rng.choice([50, 130]))]
    else:
        d.headers.append((noise(rng, 5), noise(rng, 5)))


def mutate_length(rng: random.Random, d: Draft) -> None:
    size = len(d.body)
    value = rng.choice(
        [size + 1, size + 40, max(size - 1, 0), 0, -1, "+3", "0x10", f" {size} ", f"{size}, {size}",
         f"{size},{size + 1}", 2**64, 10**20, "", "abc", f"0{size}", f"{size}\x00"]
    )  # fmt: skip
    d.headers = [h for h in d.headers if h[0].lower() != b"content-length"]
    d.headers.append((b"Content-Length", str(value).encode()))
    if rng.random() < 0.3:
        d.headers.append((b"Content-Length", str(size).encode()))


def mutate_encoding(rng: random.Random, d: Draft) -> None:
    value = rng.choice(
        [b"chunked", b"Chunked", b"chunked, identity", b"gzip, chunked", b"chunked\x00",
         b" chunked", b"xchunked", b"identity", b"chunked, chunked", b"chunked;q=1"]
    )  # fmt: skip
    if rng.random() < 0.5:
        d.headers = [h for h in d.headers if h[0].lower() != b"transfer-encoding"]
    d.headers.append((b"Transfer-Encoding", value))


def mutate_chunks(rng: random.Random, d: Draft) -> None:
    payload = b"abcdefghij" * rng.randrange(1, 4)
    size = rng.choice(
        [b"%x" % (len(payload) + 1), b"%x" % (len(payload) - 1), b"zz", b"-1", b"f" * 20, b"0x5",
         b"%x;a=b" % len(payload), b"%x " % len(payload), b"", b"%X" % len(payload)]
    )  # fmt: skip
    end = rng.choice([b"0\r\n\r\n", b"", b"0\r\nX-Trailer: 1\r\n\r\n", b"0\r\n", b"0\r\n\r\nxx"])
    gap = rng.choice([b"\r\n", b"", b"\n", b"xx\r\n"])
    d.body = size + b"\r\n" + payload + gap + end
    d.headers = [
        h for h in d.headers if h[0].lower() not in (b"content-length", b"transfer-encoding")
    ]
    d.headers.append((b"Transfer-Encoding", b"chunked"))


STRUCTURED: tuple[Callable[[random.Random, Draft], None], ...] = (
    mutate_method, mutate_target, mutate_version, mutate_header_name, mutate_header_value,
    mutate_headers, mutate_length, mutate_encoding, mutate_chunks,
)  # fmt: skip


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """One byte-level edit: line endings, a cut, flipped, inserted or deleted bytes."""
    choice = rng.randrange(6)
    if choice == 0:
        return data.replace(b"\r\n", rng.choice([b"\n", b"\r", b"\r\r\n", b"\n\r"]))
    if choice == 1:
        crlfs = [m.start() for m in re.finditer(b"\r\n", data)]
        if not crlfs:
            return data
        at = rng.choice(crlfs)
        return data[:at] + rng.choice([b"", b"\r\n\r\n", b"\n", b"\r\n "]) + data[at + 2 :]
    if choice == 2:
        return data[: rng.randrange(len(data) + 1)]
    if choice == 3:
        return rng.choice([b"\r\n", b"\r\n\r\n", b" ", b"\x00"]) + data
    at = rng.randrange(len(data) + 1)
    if choice == 4:
        return data[:at] + noise(rng, rng.randrange(1, 4)) + data[at:]
    return data[:at] + data[at + rng.randrange(1, 4) :]


@dataclass(frozen=True)
class Case:
    index: int
    data: bytes  # the mutated request, then the pipelined one when there is one
    pipelined: str | None  # the pipelined request's token (its path is /fuzz/<token>)

    def __str__(self) -> str:
        return f"seed {SEED} case {self.index}: {self.data!r}"


def liveness(index: int) -> Case:
    """The valid request on a new connection after each case."""
    return Case(index, valid(f"l-{index}"), f"l-{index}")


def make_case(index: int) -> Case:
    rng = random.Random(f"{SEED}-{index}")
    if rng.random() < 0.05:
        data = noise(rng, rng.randrange(0, 200))
    else:
        draft = template(rng, f"m-{index}")
        if rng.random() < 0.9:  # else left valid: the good path must hold too
            for mutate in rng.sample(STRUCTURED, rng.choice([1, 1, 2])):
                mutate(rng, draft)
        data = draft.wire()
        if rng.random() < 0.4:
            data = mutate_bytes(rng, data)
    if rng.random() < 0.5:
        return Case(index, data + valid(f"v-{index}"), f"v-{index}")
    return Case(index, data, None)


# ---------------------------------------------------------------- what came back


@dataclass(frozen=True)
class Answer:
    version: bytes
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        return next((v for n, v in self.headers if n.lower() == name), None)

    @property
    def keeps_alive(self) -> bool:
        connection = (self.header(b"connection") or b"").lower()
        if self.version == b"HTTP/1.0":
            return b"keep-alive" in connection
        return b"close" not in connection

    @property
    def echo(self) -> dict[str, Any] | None:
        """What a backend said it received, when this is a backend's answer."""
        try:
            parsed = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) and "body_tokens" in parsed else None


class Malformed(Exception):
    """The proxy sent bytes that are not an HTTP/1.x response."""


VERSIONS = rb"HTTP/1\.[01]"
STATUS_LINE = re.compile(rb"(" + VERSIONS + rb") (\d{3})(?: .*)?")


def parse(buffer: bytes, *, closed: bool) -> list[Answer]:
    """The complete final answers at the start of `buffer` (1xx are skipped)."""
    answers: list[Answer] = []
    while True:
        head, found, rest = buffer.partition(b"\r\n\r\n")
        if not found:
            if closed and buffer:
                raise Malformed(f"cut off inside an answer's head: {buffer[:200]!r}")
            return answers
        status_line, *lines = head.split(b"\r\n")
        match = STATUS_LINE.fullmatch(status_line)
        if match is None:
            raise Malformed(f"not a status line: {status_line[:200]!r}")
        headers = []
        for line in lines:
            name, colon, value = line.partition(b":")
            if not colon:
                raise Malformed(f"bad header line {line[:200]!r}")
            headers.append((name.strip(), value.strip()))
        answer = Answer(match[1], int(match[2]), headers, b"")
        if 100 <= answer.status < 200:
            buffer = rest
            continue
        length = answer.header(b"content-length")
        if answer.status in (204, 304):
            size = 0
        elif answer.header(b"transfer-encoding") is not None:
            raise Malformed("a chunked answer: the echo backends never send one")
        elif length is not None:
            size = int(length)
        elif closed:
            size = len(rest)
        else:
            return answers
        if len(rest) < size:
            if closed:
                raise Malformed(f"body cut off: {len(rest)} of {size} bytes")
            return answers
        answers.append(replace(answer, body=rest[:size]))
        buffer = rest[size:]


@dataclass
class Exchange:
    """One connection: the case sent on it and what the proxy answered."""

    case: Case
    reader: asyncio.StreamReader
    buffer: bytes = b""
    answers: list[Answer] = field(default_factory=list)
    closed: bool = False
    half_closed: bool = False

    async def read_for(self, seconds: float) -> None:
        """Read until every answer expected is in, the proxy closes, or `seconds` passed."""
        deadline = time.monotonic() + seconds
        while not self.closed and not settled(self):
            try:
                chunk = await asyncio.wait_for(self.reader.read(65536), deadline - time.monotonic())
            except TimeoutError:
                return
            except ConnectionError:
                chunk = b""
            self.closed = not chunk
            self.buffer += chunk
            self.answers = parse(self.buffer, closed=self.closed)


async def exchange(proxy: ProxyProcess, case: Case) -> Exchange:
    """Send the case; a client that got nothing after IDLE_S half-closes (bounded throughout)."""
    host, port = proxy.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    seen = Exchange(case, reader)
    try:
        writer.write(case.data)
        await writer.drain()
        await seen.read_for(IDLE_S)
        if not seen.answers and not seen.closed:
            writer.write_eof()
            seen.half_closed = True
            await seen.read_for(ANSWER_S)
        if seen.answers and not seen.closed:  # the pipelined request may still be under way
            await seen.read_for(PIPELINED_S)
    except ConnectionError:  # reset while sending: a close all the same
        seen.closed = True
    finally:
        writer.close()
    return seen


def settled(seen: Exchange) -> bool:
    """Nothing more to wait for: the pipelined request answered (or taken into the request
    before it), or, without one, the first answer in."""
    token = seen.case.pipelined
    if token is None:
        return bool(seen.answers)
    return any(answers_to(a, token) or consumed(a, token) for a in seen.answers)


def answers_to(answer: Answer, token: str) -> bool:
    """`answer` is a backend's answer to the request with this token's path."""
    echo = answer.echo
    return echo is not None and echo["path"] == f"/fuzz/{token}"


def consumed(answer: Answer, token: str) -> bool:
    """The request's bytes reached a backend inside another request (its body or its head)."""
    echo = answer.echo
    if echo is None or echo["path"] == f"/fuzz/{token}":
        return False
    return (
        token in echo["body_tokens"]
        or token in echo.get("header_tokens", ())
        or echo["token"] == token
    )


def glued(data: bytes, token: str) -> bool:
    """The pipelined request's line was glued onto a header line cut short (no line break
    before it, still inside the first head): it is part of a header value, maybe one the proxy
    drops (Connection), and never a request of its own."""
    start = data.rfind(valid(token).split(b"\r\n", 1)[0])
    head = data[:start]
    return start > 0 and not head.endswith(b"\n") and b"\r\n\r\n" not in head


def silent(seen: Exchange) -> bool:
    return not seen.answers and not seen.closed


def problems(seen: Exchange) -> list[str]:
    # the one 5xx the proxy gives on purpose: 505 for a request line that is not HTTP/1.0 or 1.1
    unsupported = not re.match(rb"\S+ \S+ HTTP/1\.[01]\r\n", seen.case.data)
    found = [
        f"{a.status} from the proxy"
        for a in seen.answers
        if a.status >= 500 and not (a.status == 505 and unsupported)
    ]
    if silent(seen):
        found.append("neither an answer nor a close")
    for earlier, later in zip(seen.answers, seen.answers[1:], strict=False):
        if not earlier.keeps_alive:
            found.append(f"an answer after one that closes the connection: {later.status}")
    token = seen.case.pipelined
    if token is None:
        return found
    own = [a for a in seen.answers if answers_to(a, token)]
    if len(own) > 1:
        found.append(f"the pipelined request answered {len(own)} times")
    if any(a.echo and a.echo["token"] != token for a in own):
        found.append("the pipelined request's answer carries another request's token")
    first = seen.answers[0] if seen.answers else None
    if (
        first is not None
        and first.status < 400
        and first.keeps_alive
        and not seen.closed  # a server may close a connection (the client then retries)
        and not own
        and not any(consumed(a, token) for a in seen.answers)
        and not glued(seen.case.data, token)
    ):
        found.append(
            f"{first.status} kept the connection open, but the pipelined one got no answer"
        )
    return found
