"""Drive the built server with the official Python MCP client (mcp 2.3), as a user's client would.

Usage: python_client.py BINARY API_URL VERSION FIXTURES_JSON MODE
Lists the tools, then calls every fixture case of VERSION through MCP; prints one JSON report
on stdout. The LiveChat stand-in at API_URL records what it receives; the Rust test that runs
this script compares those requests with the SDK fixtures.
"""

import asyncio
import json
import sys

from mcp import Client, StdioServerParameters


async def main() -> None:
    binary, api_url, version, fixtures, mode = sys.argv[1:6]
    cases = json.load(open(fixtures))["cases"]
    params = StdioServerParameters(
        command=binary,
        args=["serve"],
        env={
            "LIVECHAT_API_URL": api_url,
            "LIVECHAT_API_VERSION": version,
            "LIVECHAT_ACCESS_TOKEN": "e2e-token",
            "LIVECHAT_MCP_ACCESS": "full",
            "LIVECHAT_MCP_AUDIT": "off",
            "LIVECHAT_ACCOUNTS_URL": "http://127.0.0.1:9",
        },
    )
    report = {"mode": mode, "tools": [], "calls": []}
    async with Client(params, mode=mode) as client:
        report["protocol_version"] = str(client.protocol_version)
        listed = await client.list_tools()
        for tool in listed.tools:
            report["tools"].append(
                {
                    "name": tool.name,
                    "has_output_schema": tool.output_schema is not None,
                    "read_only": bool(tool.annotations and tool.annotations.read_only_hint),
                }
            )
        for case in cases:
            result = await client.call_tool(case["tool"], case["args"])
            text = "\n".join(c.text for c in result.content if getattr(c, "text", None))
            report["calls"].append(
                {
                    "tool": case["tool"],
                    "case": case["case"],
                    "is_error": bool(result.is_error),
                    # The answer is the JSON text; a second copy would be a defect.
                    "structured": None if result.is_error else json.loads(text),
                    "second_copy": result.structured_content is not None,
                    "text": text,
                }
            )
        bad = await client.call_tool("get_chat", {"chat_id": 42})
        report["bad_arguments"] = {
            "is_error": bool(bad.is_error),
            "text": "\n".join(c.text for c in bad.content if getattr(c, "text", None)),
        }
    print(json.dumps(report))


asyncio.run(main())
