"""Upload a file and send it into a chat with the official Python MCP client (mcp 2.3), on the
embedded sandbox, as a user's client would.

Usage: python_upload.py BINARY UPLOAD_DIR
Serves `--sandbox --access full --upload-dir UPLOAD_DIR` over stdio, then: lists the tools;
uploads a file as base64 `content` and one by `path`; sends a `file` event with each URL;
reads the chat back; tries a refused upload. Prints one JSON report on stdout.
"""

import asyncio
import base64
import json
import sys

from mcp import Client, StdioServerParameters

CHAT = "PJ0MRSHTDG"


def text_of(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "text", None))


async def main() -> None:
    binary, upload_dir = sys.argv[1:3]
    params = StdioServerParameters(
        command=binary,
        args=["--sandbox", "--access", "full", "--upload-dir", upload_dir, "serve"],
        env={"LIVECHAT_MCP_AUDIT": "off"},
    )
    report = {}
    async with Client(params) as client:
        listed = await client.list_tools()
        tool = next(t for t in listed.tools if t.name == "upload_file")
        report["schema"] = tool.input_schema
        uploads = [
            {"name": "refund.txt", "content_type": "text/plain",
             "content": base64.b64encode(b"Refund 88231 approved.").decode()},
            {"name": "invoice.pdf", "content_type": "application/pdf", "path": "invoice.pdf"},
        ]
        report["uploads"] = []
        for args in uploads:
            up = await client.call_tool("upload_file", args)
            entry = {"is_error": bool(up.is_error), "text": text_of(up)}
            if not up.is_error:
                url = json.loads(text_of(up))["url"]
                sent = await client.call_tool(
                    "send_event", {"chat_id": CHAT, "event": {"type": "file", "url": url}})
                entry["url"] = url
                entry["send_event"] = {"is_error": bool(sent.is_error), "text": text_of(sent)}
            report["uploads"].append(entry)
        chat = await client.call_tool("get_chat", {"chat_id": CHAT})
        # The answer is the first block; a note on customer text may follow it.
        report["get_chat"] = json.loads(chat.content[0].text)
        refused = await client.call_tool(
            "upload_file", {"name": "x.txt", "content_type": "text/plain", "path": "../x.txt"})
        report["refused"] = {"is_error": bool(refused.is_error), "text": text_of(refused)}
    json.dump(report, sys.stdout)


asyncio.run(main())
