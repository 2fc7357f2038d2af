"""A TCP relay that adds one-way delay when switched on (this kernel has no netem).

    python netdelay.py LISTEN_HOST LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT DELAY_MS

Transparent while off; SIGUSR1 switches the delay on, SIGUSR2 off. Each chunk is released
DELAY_MS (+-20 %) after it arrived, in order, in both directions, so latency grows and
throughput does not collapse, like a long link.
"""
from __future__ import annotations

import asyncio
import random
import signal
import sys

ON = False


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float) -> None:
    queue: asyncio.Queue = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def release():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                break
            writer.write(data)
            await writer.drain()
        writer.close()

    task = asyncio.create_task(release())
    try:
        while True:
            data = await reader.read(65536)
            d = delay_s * random.uniform(0.8, 1.2) if ON else 0.0
            queue.put_nowait((loop.time() + d, data or None))
            if not data:
                break
    except (ConnectionError, OSError):
        queue.put_nowait((loop.time(), None))
    try:
        await task
    except (ConnectionError, OSError):
        pass


async def main() -> None:
    host, port, up_host, up_port, delay_ms = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])

    def switch(on: bool):
        global ON
        ON = on

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, switch, True)
    loop.add_signal_handler(signal.SIGUSR2, switch, False)

    async def handle(cr, cw):
        try:
            ur, uw = await asyncio.open_connection(up_host, up_port)
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe(cr, uw, delay_ms / 1000), pipe(ur, cw, delay_ms / 1000), return_exceptions=True)

    server = await asyncio.start_server(handle, host, port, backlog=256)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
