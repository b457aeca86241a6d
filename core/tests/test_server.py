"""`smsgate serve`'s transport wrapper: a response's writes leave in one send(), nothing is lost or reordered."""

import asyncio

from smsgate.web._server import _Corked


class _Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def test_writes_join_until_flushed_and_the_rest_is_the_transports():
    async def go() -> None:
        inner = _Transport()
        corked = _Corked(inner)  # type: ignore[arg-type]
        corked.write(b"HTTP/1.1 200 OK\r\n\r\n")
        corked.write(b"")
        corked.write(b"body")
        assert inner.writes == []
        corked.flush()
        assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
        corked.write(b"streamed")  # nobody flushes: the loop's next turn does
        await asyncio.sleep(0)
        assert inner.writes[-1] == b"streamed"
        corked.write(b"last words")
        corked.close()  # written before the close
        assert inner.writes[-1] == b"last words" and inner.closed
        assert corked.get_extra_info("peername") == "info:peername"

    asyncio.run(go())
