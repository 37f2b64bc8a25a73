"""Subscribe to a chat with the official Python MCP client (mcp 2.3), as a hosted agent would.

Usage: python_subscriptions.py BASE_URL READER_KEY BLIND_KEY MODE CHAT OTHER_CHAT
(with LIVECHAT_MCP_BIN and LIVECHAT_SANDBOX_URL in the environment).

MODE `legacy` connects with the 2025-11-25 handshake and uses `resources/subscribe`; `auto`
negotiates 2026-07-28 and uses `subscriptions/listen`. The reader subscribes to CHAT; then a
customer writes in OTHER_CHAT and after that in CHAT (`livechat-mcp sandbox customer say`).
The blind agent (chats off) tries to subscribe to CHAT. Prints one JSON report on stdout.
"""

import asyncio
import json
import os
import sys
import time
import warnings

import anyio
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

warnings.simplefilter("ignore")  # subscribe_resource is deprecated as of 2026-07-28


def say(chat, text):
    """A customer writes in `chat`, through the real binary against the sandbox."""
    import subprocess

    out = subprocess.run(
        [os.environ["LIVECHAT_MCP_BIN"], "sandbox", "customer", "--url",
         os.environ["LIVECHAT_SANDBOX_URL"], "say", chat, text],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout)


def connect(base, key, mode):
    headers = {"Authorization": f"Bearer {key}"}
    http = create_mcp_http_client(headers=headers)
    return http, streamable_http_client(f"{base}/mcp", http_client=http)


async def legacy_reader(base, key, chat, other, report):
    seen = []

    async def on_message(message):
        if isinstance(message, types.ResourceUpdatedNotification):
            seen.append((time.monotonic(), message.params.uri))

    http, transport = connect(base, key, "legacy")
    async with http:
        async with Client(transport, mode="legacy", message_handler=on_message) as client:
            report["protocol_version"] = str(client.protocol_version)
            caps = client.server_capabilities
            report["subscribe_capability"] = bool(caps and caps.resources and caps.resources.subscribe)
            uri = f"livechat://chats/{chat}"
            await client.subscribe_resource(uri)
            report["said_other"] = await anyio.to_thread.run_sync(say, other, "A message in another chat")
            await asyncio.sleep(1.0)
            report["after_other_chat"] = [u for _, u in seen]
            said_at = time.monotonic()
            report["said"] = await anyio.to_thread.run_sync(say, chat, "Where is my parcel?")
            deadline = time.monotonic() + 10
            while not seen and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            report["notified"] = [u for _, u in seen]
            report["latency_ms"] = round((seen[0][0] - said_at) * 1000) if seen else None
            read = await client.read_resource(uri)
            report["read_chat_id"] = json.loads(read.contents[0].text).get("id")
            await client.unsubscribe_resource(uri)


async def modern_reader(base, key, chat, other, report):
    http, transport = connect(base, key, "auto")
    async with http:
        async with Client(transport, mode="auto") as client:
            report["protocol_version"] = str(client.protocol_version)
            uri = f"livechat://chats/{chat}"
            async with client.listen(resource_subscriptions=[uri]) as sub:
                report["honored"] = list(sub.honored.resource_subscriptions or [])
                seen = []

                async def collect():
                    async for event in sub:
                        seen.append((time.monotonic(), getattr(event, "uri", repr(event))))

                async with anyio.create_task_group() as tg:
                    tg.start_soon(collect)
                    await anyio.to_thread.run_sync(say, other, "A message in another chat")
                    await asyncio.sleep(1.0)
                    report["after_other_chat"] = [u for _, u in seen]
                    said_at = time.monotonic()
                    await anyio.to_thread.run_sync(say, chat, "Where is my parcel?")
                    deadline = time.monotonic() + 10
                    while not seen and time.monotonic() < deadline:
                        await asyncio.sleep(0.02)
                    report["notified"] = [u for _, u in seen]
                    report["latency_ms"] = round((seen[0][0] - said_at) * 1000) if seen else None
                    tg.cancel_scope.cancel()
            # Far more than the cap in one request: the server takes the first 32.
            many = [f"livechat://chats/C{n}" for n in range(70)]
            async with client.listen(resource_subscriptions=many) as capped:
                report["cap_honored"] = list(capped.honored.resource_subscriptions or [])


async def blind(base, key, chat, mode, report):
    http, transport = connect(base, key, mode)
    uri = f"livechat://chats/{chat}"
    async with http:
        async with Client(transport, mode=mode) as client:
            if mode == "legacy":
                try:
                    await client.subscribe_resource(uri)
                    report["blind"] = {"refused": False}
                except MCPError as error:
                    report["blind"] = {"refused": True, "code": error.error.code, "message": error.error.message}
            else:
                async with client.listen(resource_subscriptions=[uri]) as sub:
                    honored = list(sub.honored.resource_subscriptions or [])
                    report["blind"] = {"refused": uri not in honored, "honored": honored}


async def main() -> None:
    base, reader_key, blind_key, mode, chat, other = sys.argv[1:7]
    report = {"mode": mode}
    if mode == "legacy":
        await legacy_reader(base, reader_key, chat, other, report)
    else:
        await modern_reader(base, reader_key, chat, other, report)
    await blind(base, blind_key, chat, mode, report)
    print(json.dumps(report))


asyncio.run(main())
