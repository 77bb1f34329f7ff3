"""The realtime benchmark's peer: a python-socketio server fed from the same
Redis stream as Outpost's hub (the kitchen channel), broadcasting each frame
to every connected client. Used only by `cargo xtask bench realtime`."""

import asyncio
import sys

import redis.asyncio as aioredis
import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
app = web.Application()
sio.attach(app)


async def pump(url: str, key: str) -> None:
    r = aioredis.from_url(url)
    last = "$"
    while True:
        res = await r.xread({key: last}, block=1000, count=500)
        for _, entries in res or []:
            for entry_id, fields in entries:
                last = entry_id
                await sio.emit("event", fields[b"m"].decode())


async def main() -> None:
    url, key, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("peer listening", flush=True)
    await pump(url, key)


asyncio.run(main())
