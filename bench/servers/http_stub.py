"""A local aggregator stub for benchmarks: answers every request 200 `{"ok":true}`, keep-alive, as fast as it can.

A bare asyncio protocol rather than a web framework: the stub must never be what caps a benchmark (`wrk`
measures it alone in each run and the benchmarks print that figure next to the clients' best). It reads
each request's headers and its `Content-Length` body, and answers in order on the same connection.
"""

import asyncio
import signal
import sys

ANSWER = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'


class Stub(asyncio.Protocol):
    """One connection: parse pipelined HTTP/1.1 requests from the buffer, answer each."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        answers = 0
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end]
            length = 0
            at = head.lower().find(b"content-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at)
                length = int(head[at + 15:stop if stop > 0 else len(head)])
            if len(buffer) < end + 4 + length:
                break
            buffer = buffer[end + 4 + length:]
            answers += 1
        self.buffer = buffer
        if answers:
            self.transport.write(ANSWER * answers)  # type: ignore[attr-defined]


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Stub, "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
