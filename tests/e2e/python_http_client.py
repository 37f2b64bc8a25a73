"""Drive the HTTP server with the official Python MCP client (mcp 2.3), as a hosted agent would.

Usage: python_http_client.py BASE_URL KEY MODE
MODE is `auto` or `legacy` (streamable HTTP at BASE_URL/mcp, in that connect mode) or `sse` (the
older HTTP+SSE transport at BASE_URL/sse). Lists the tools, calls `whoami`, `list_chats`, and a
tool the agent may not have, then prints one JSON report on stdout.
"""

import asyncio
import json
import sys

from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def texts(result):
    return "\n".join(c.text for c in result.content if getattr(c, "text", None))


async def session(client, report):
    report["protocol_version"] = str(client.protocol_version)
    listed = await client.list_tools()
    report["tools"] = sorted(tool.name for tool in listed.tools)
    whoami = await client.call_tool("whoami", {})
    report["whoami"] = json.loads(texts(whoami))
    chats = await client.call_tool("list_chats", {"limit": 2})
    report["list_chats"] = {"is_error": bool(chats.is_error), "text": texts(chats)}
    denied = await client.call_tool("deactivate_chat", {"id": "NOPE"})
    report["denied"] = {"is_error": bool(denied.is_error), "text": texts(denied)}


async def main() -> None:
    base, key, mode = sys.argv[1:4]
    headers = {"Authorization": f"Bearer {key}"}
    report = {"mode": mode}
    if mode == "sse":
        async with Client(sse_client(f"{base}/sse", headers=headers), mode="legacy") as client:
            await session(client, report)
    else:
        async with create_mcp_http_client(headers=headers) as http:
            transport = streamable_http_client(f"{base}/mcp", http_client=http)
            async with Client(transport, mode=mode) as client:
                await session(client, report)
    print(json.dumps(report))


asyncio.run(main())
