#!/usr/bin/python3
"""A loopback TCP proxy that delays each direction by a fixed time, for the
benchmark's far-link case (tests/bench/run). Not part of the test suite.

  latency_proxy.py --upstream 127.0.0.1:PORT [--delay-ms 25] [--port 0]

It listens on 127.0.0.1, prints its port on stdout (one line) and forwards
every connection to the upstream. Each chunk read is stamped with the time it
arrived and written once that time plus the delay has come: chunks in flight
wait together, not one after another, so the delay does not cap throughput,
and order is kept because one writer per direction takes them in turn. A
direction holds at most MAX_CHUNKS chunks of at most CHUNK bytes (4 MiB);
when full, the proxy stops reading that side and TCP pushes back on the
sender. An end of stream is forwarded after the same delay (a half close), and
the connection closes when both directions have ended (or LINGER seconds
after the first did)."""

import argparse
import asyncio
import socket
import sys

CHUNK = 65536
MAX_CHUNKS = 64
LINGER = 10  # seconds a connection may stay half closed
RUNNING = set()  # the connections' tasks (the loop keeps only weak references)


async def pump(reader, writer, delay, loop):
    queue = asyncio.Queue(MAX_CHUNKS)

    async def read_side():
        while True:
            try:
                data = await reader.read(CHUNK)
            except (ConnectionError, OSError):
                data = b""
            await queue.put((loop.time() + delay, data))
            if not data:
                return

    async def write_side():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError):
                return

    reading = asyncio.ensure_future(read_side())
    try:
        await write_side()
    finally:
        reading.cancel()


async def handle(client_reader, client_writer, upstream, delay):
    loop = asyncio.get_running_loop()
    host, port = upstream
    try:
        up_reader, up_writer = await asyncio.open_connection(host, port)
    except OSError:
        client_writer.close()
        return
    for w in (client_writer, up_writer):
        sock = w.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pumps = [asyncio.ensure_future(pump(client_reader, up_writer, delay, loop)),
             asyncio.ensure_future(pump(up_reader, client_writer, delay, loop))]
    try:
        # One side ended: the other gets a while to end as well (a half close).
        _, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        if pending:
            await asyncio.wait(pending, timeout=LINGER)
    finally:
        for p in pumps:
            p.cancel()
        for w in (client_writer, up_writer):
            w.close()


async def serve(args):
    host, port = args.upstream.rsplit(":", 1)
    upstream = (host, int(port))
    delay = args.delay_ms / 1000.0
    def connected(reader, writer):
        task = asyncio.ensure_future(handle(reader, writer, upstream, delay))
        RUNNING.add(task)
        task.add_done_callback(RUNNING.discard)

    server = await asyncio.start_server(connected, "127.0.0.1", args.port, backlog=256)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", required=True, help="HOST:PORT to forward to (loopback)")
    ap.add_argument("--delay-ms", type=float, default=25.0, help="delay in each direction (default 25)")
    ap.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    args = ap.parse_args()
    if not args.upstream.startswith("127."):
        sys.exit("latency_proxy: the upstream must be on 127.0.0.0/8")
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
