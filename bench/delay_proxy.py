"""A TCP proxy that adds latency, and counts the round trips its clients wait for. Benchmarks only.

    .venv/bin/python bench/delay_proxy.py --target 127.0.0.1:993 --rtt-ms 30   # prints its port

Every byte is held back half the round trip in each direction, and a connection reaches the target
one whole round trip after it was accepted (the TCP handshake a remote server costs), so a client
on loopback sees what it would see of a mail server ``--rtt-ms`` away. Bandwidth is not limited:
data keeps flowing while earlier data waits out its delay.

A round trip is counted each time a client sends after the server has sent (or first, after
connecting), plus one for the connection itself: commands pipelined without waiting count once.
``bench/slot.py`` runs it in a thread of its own process (:class:`DelayProxy`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
from dataclasses import dataclass

CHUNK = 256 * 1024


@dataclass
class ProxyStats:
    connections: int = 0
    round_trips: int = 0
    bytes_to_server: int = 0
    bytes_to_client: int = 0


class DelayProxy:
    """The proxy on a loopback port of its own, served by an event loop in a daemon thread."""

    def __init__(self, target_host: str, target_port: int, rtt_ms: float, listen_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.delay = rtt_ms / 2000.0  # one way, in seconds
        self.listen_host = listen_host
        self.port = 0
        self.stats = ProxyStats()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="delay-proxy", daemon=True)

    def start(self) -> DelayProxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = future.result(10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for writer in self._writers:
                writer.transport.abort()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
            await asyncio.sleep(0.05)  # the cancelled tasks unwind, the aborted transports close

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.listen_host, 0, backlog=1024)
        return self._server.sockets[0].getsockname()[1]

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        stats = self.stats
        stats.connections += 1
        stats.round_trips += 1  # the TCP handshake
        try:
            await asyncio.sleep(2 * self.delay)
            server_reader, server_writer = await asyncio.open_connection(*self.target, limit=CHUNK)
        except OSError:
            client_writer.close()
            return
        self._writers.update((client_writer, server_writer))
        last_from_client = [False]

        def from_client(size: int) -> None:
            if not last_from_client[0]:
                stats.round_trips += 1
                last_from_client[0] = True
            stats.bytes_to_server += size

        def from_server(size: int) -> None:
            last_from_client[0] = False
            stats.bytes_to_client += size

        try:
            await asyncio.gather(
                self._pipe(client_reader, server_writer, from_client),
                self._pipe(server_reader, client_writer, from_server),
            )
        except asyncio.CancelledError:
            pass  # the proxy stops (asyncio 3.11 would report a cancelled connection as an error)
        finally:
            for writer in (client_writer, server_writer):
                writer.close()
                self._writers.discard(writer)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, seen) -> None:
        """Copy ``source`` to ``sink``, each chunk ``self.delay`` after it arrived."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    with contextlib.suppress(OSError):
                        if sink.can_write_eof():
                            sink.write_eof()
                    return
                sink.write(data)
                with contextlib.suppress(OSError):
                    await sink.drain()

        delivering = asyncio.create_task(deliver())
        try:
            while True:
                try:
                    data = await source.read(CHUNK)
                except OSError:
                    data = b""
                if data:
                    seen(len(data))
                queue.put_nowait((loop.time() + self.delay, data))
                if not data:
                    break
            await delivering
        finally:
            delivering.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", required=True, help="host:port to forward to")
    parser.add_argument("--rtt-ms", type=float, default=30.0)
    parser.add_argument("--listen", default="127.0.0.1")
    args = parser.parse_args()
    host, _, port = args.target.rpartition(":")
    proxy = DelayProxy(host, int(port), args.rtt_ms, args.listen).start()
    print(
        f"listening on {args.listen}:{proxy.port}, {args.rtt_ms} ms round trip to {args.target}", flush=True
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        proxy.stop()
        print(proxy.stats)


if __name__ == "__main__":
    main()
