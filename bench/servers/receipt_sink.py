"""The application's side of bench/peers.py --receipts: a small keep-alive HTTP/1.1 server counting the delivery
reports each gateway calls back with.

    .venv/bin/python bench/servers/receipt_sink.py PORT

Every request is answered 200 with the body `ACK/Jasmin` (Jasmin's dlr thrower retries any other answer; Kannel
and smsgate only look at the status). The first path segment names the gateway (`/kannel-store?type=%d`,
`/smsgate-sqlite`, ...). A request is a *receipt* when it says the message was delivered: a Kannel dlr-url with
`type=1`, a Jasmin dlr-url with `message_status=DELIVRD`, or a smsgate webhook whose JSON body has
`"status":"delivered"`; other calls (smsgate's `queued` and `wired` events, Kannel's other types) are counted
as requests only. For each gateway: requests, receipts, and the monotonic time of the first and last receipt.
`GET /_stats` answers all of it as JSON; `GET /_reset/<gateway>` forgets one gateway's counters.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from dataclasses import asdict, dataclass
from urllib.parse import parse_qs

DELIVERED_JSON = re.compile(rb'"status":\s*"delivered"')
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nACK/Jasmin"


@dataclass
class Counters:
    """One gateway's callbacks since its last reset."""

    requests: int = 0
    receipts: int = 0
    first: float = 0.0
    last: float = 0.0


STATS: dict[str, Counters] = {}


def is_receipt(target: bytes, body: bytes) -> bool:
    """Does this callback say a message was delivered?"""
    _, _, query = target.partition(b"?")
    if query:
        params = parse_qs(query.decode("latin-1"))
        if params.get("type") == ["1"] or params.get("message_status") == ["DELIVRD"]:
            return True
    if body:
        if DELIVERED_JSON.search(body):
            return True
        params = parse_qs(body.decode("latin-1"))  # Jasmin's dlr-method POST is a form
        return params.get("message_status") == ["DELIVRD"]
    return False


def control(target: bytes) -> bytes | None:
    """The answer to /_stats or /_reset/<gateway>; None for a callback."""
    if target == b"/_stats":
        body = json.dumps({name: asdict(c) for name, c in STATS.items()}).encode()
    elif target.startswith(b"/_reset/"):
        STATS[target.removeprefix(b"/_reset/").decode()] = Counters()
        body = b"ok"
    else:
        return None
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


class Sink(asyncio.Protocol):
    """One keep-alive connection from a gateway."""

    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        out = []
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buf[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                break
            body = self.buf[end + 4:end + 4 + length]
            self.buf = self.buf[end + 4 + length:]
            target = head.split(b" ", 2)[1]
            answer = control(target)
            if answer is None:
                name = target.lstrip(b"/").split(b"/", 1)[0].split(b"?", 1)[0].decode("latin-1")
                counters = STATS.setdefault(name, Counters())
                counters.requests += 1
                if is_receipt(target, body):
                    now = time.monotonic()
                    if not counters.receipts:
                        counters.first = now
                    counters.receipts += 1
                    counters.last = now
                answer = ANSWER
            out.append(answer)
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


async def serve(port: int) -> None:
    """Serve on 127.0.0.1:`port` until cancelled."""
    server = await asyncio.get_running_loop().create_server(Sink, "127.0.0.1", port, backlog=512)
    print("ready", flush=True)
    async with server:
        await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(serve(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
