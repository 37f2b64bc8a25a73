"""Held calls with the official Python MCP client (mcp 2.3), on the embedded sandbox.

Usage: python_approvals.py BINARY POLICY AUDIT_DB [BASE_URL KEY [sse]]
Serves `--sandbox --policy POLICY --agent ops --audit AUDIT_DB serve` over stdio, or with
BASE_URL and KEY talks streamable HTTP (or, with `sse`, the older HTTP+SSE transport, legacy
mode only) to a `serve --http` already running on them; the policy
holds `send_event` for a person. For each connect mode (`legacy`: the 2025-11-25 handshake, so
the server asks with `elicitation/create`; `auto`: 2026-07-28, so the call answers
`input_required` and the client retries with the answer):
  accept   - the person at the client accepts (with a note): the message is sent once;
  decline  - the person declines (with a note): `approval_denied`, nothing sent;
  cancel   - the person dismisses the question: `approval_denied`, nothing sent;
  console  - a client without elicitation: `pending_approval`, nothing sent; the approvals CLI
             approves it; the identical call is sent once; a third one is pending anew.
Every message has its own text, counted in `get_chat` afterwards. Prints one JSON report.
"""

import asyncio
import json
import re
import subprocess
import sys
import uuid

import anyio

from mcp import Client, StdioServerParameters, types
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

CHAT = "PJ0MRSHTDG"
REQUEST_ID = re.compile(r"APR-[0-9A-Z]{10}")


def text_of(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "text", None))


def outcome(result) -> dict:
    text = text_of(result)
    found = REQUEST_ID.search(text)
    return {"is_error": bool(result.is_error), "text": text, "request": found.group(0) if found else None}


def jsonable(value):
    return value.model_dump(mode="json", by_alias=True, exclude_none=True) if hasattr(value, "model_dump") else value


class Person:
    """The person at the client: answers every question with `action` and `note`, and keeps
    what it was asked."""

    def __init__(self, action: str, note: str):
        self.action, self.note, self.asked = action, note, []

    async def __call__(self, context, params):
        self.asked.append({
            "mode": getattr(params, "mode", None),
            "message": params.message,
            "schema": jsonable(getattr(params, "requested_schema", None)),
        })
        content = {"note": self.note} if self.note is not None else None
        return types.ElicitResult(action=self.action, content=content)


def server(binary, policy, audit):
    stdio = StdioServerParameters(
        command=binary,
        args=["--sandbox", "--policy", policy, "--agent", "ops", "--audit", audit, "serve"],
        env={},
    )
    return lambda: stdio


def over_http(base, key):
    """A fresh streamable HTTP transport per connection, with the agent's key."""

    def connect():
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
        return streamable_http_client(f"{base}/mcp", http_client=http)

    return connect


def over_sse(base, key):
    """The older HTTP+SSE transport, a fresh connection each time."""
    return lambda: sse_client(f"{base}/sse", headers={"Authorization": f"Bearer {key}"})


def message(text):
    return {"chat_id": CHAT, "event": {"type": "message", "text": text, "visibility": "all"}}


async def count(client, text) -> int:
    chat = await client.call_tool("get_chat", {"chat_id": CHAT})
    assert not chat.is_error, text_of(chat)
    # The answer is the first block; a note on customer text may follow it.
    events = json.loads(chat.content[0].text)["thread"]["events"]
    return sum(1 for e in events if e.get("type") == "message" and e.get("text") == text)


async def with_person(params, mode, action, note):
    person = Person(action, note)
    text = f"{mode} {action} {uuid.uuid4().hex}"
    async with Client(params(), mode=mode, elicitation_callback=person) as client:
        protocol = str(client.protocol_version)
        result = outcome(await client.call_tool("send_event", message(text)))
        present = await count(client, text)
    return {"protocol_version": protocol, "text": text, "call": result, "asked": person.asked, "present": present}


async def through_console(params, mode, binary, audit):
    text = f"{mode} console {uuid.uuid4().hex}"
    report = {"text": text}
    async with Client(params(), mode=mode) as client:
        report["protocol_version"] = str(client.protocol_version)
        report["first"] = outcome(await client.call_tool("send_event", message(text)))
        report["present_before"] = await count(client, text)
        approve = subprocess.run(
            [binary, "--audit", audit, "approvals", "approve", report["first"]["request"] or "APR-NONE",
             "--by", "alice"],
            capture_output=True, text=True, env={},
        )
        report["approve"] = {"code": approve.returncode, "stdout": approve.stdout, "stderr": approve.stderr}
        report["second"] = outcome(await client.call_tool("send_event", message(text)))
        report["present_after"] = await count(client, text)
        report["third"] = outcome(await client.call_tool("send_event", message(text)))
        report["present_after_third"] = await count(client, text)
    return report


async def main() -> None:
    binary, policy, audit = sys.argv[1:4]
    modes = ["legacy", "auto"]
    if len(sys.argv) > 6 and sys.argv[6] == "sse":
        params, modes = over_sse(sys.argv[4], sys.argv[5]), ["legacy"]
    elif len(sys.argv) > 5:
        params = over_http(sys.argv[4], sys.argv[5])
    else:
        params = server(binary, policy, audit)
    report = {}
    # A server that waits forever for an answer fails the run instead of hanging it.
    with anyio.fail_after(120):
        for mode in modes:
            report[mode] = {
                "accept": await with_person(params, mode, "accept", f"{mode}: checked the text"),
                "decline": await with_person(params, mode, "decline", f"{mode}: not this one"),
                "cancel": await with_person(params, mode, "cancel", None),
                "console": await through_console(params, mode, binary, audit),
            }
    json.dump(report, sys.stdout, default=str)


asyncio.run(main())
