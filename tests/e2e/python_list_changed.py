"""A hosted agent's session hears that its tools changed, with the official Python MCP client.

Usage: python_list_changed.py BASE_URL KEY POLICY_PATH NEW_POLICY_PATH

Connects (2025-11-25 handshake, session with a server stream), lists its tools, then puts the
text of NEW_POLICY_PATH in POLICY_PATH (as a person editing the file would), waits up to 20 s
for `notifications/tools/list_changed`, and lists again. Prints one JSON report on stdout.
"""

import asyncio
import json
import shutil
import sys
import time

from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main() -> None:
    base, key, policy, new_policy = sys.argv[1:5]
    report = {}
    heard = []

    async def on_message(message):
        if isinstance(message, types.ToolListChangedNotification):
            heard.append(time.monotonic())

    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http:
        transport = streamable_http_client(f"{base}/mcp", http_client=http)
        async with Client(transport, mode="legacy", message_handler=on_message) as client:
            caps = client.server_capabilities
            report["list_changed_capability"] = bool(caps and caps.tools and caps.tools.list_changed)
            report["before"] = sorted(t.name for t in (await client.list_tools()).tools)
            # Let the client's server stream open before the change.
            await asyncio.sleep(1.0)
            shutil.copyfile(new_policy, policy)
            edited = time.monotonic()
            deadline = edited + 20
            while not heard and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            report["notified"] = len(heard)
            report["after"] = sorted(t.name for t in (await client.list_tools()).tools)
    print(json.dumps(report))


asyncio.run(main())
