#!/usr/bin/python3
"""uvloop peer of bench-echo: an asyncio.Protocol TCP echo server.

Usage: peer-echo.py PORT
Serves 127.0.0.1:PORT until SIGTERM, then exits 0. Prints nothing: the
client (bench-echo) measures it from outside, CPU time included. A Protocol
(not streams) is uvloop's fast path: data_received writes straight back.
"""
import asyncio
import signal
import sys

import uvloop


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def main(port):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    server = await loop.create_server(Echo, "127.0.0.1", port, backlog=512)
    async with server:
        await stop


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: peer-echo.py PORT")
    uvloop.install()
    asyncio.run(main(int(sys.argv[1])))
