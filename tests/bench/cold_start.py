"""Cold start to the first tools/list, and the size of the tools/list reply.

Usage: python3 tests/bench/cold_start.py [BINARY] [RUNS]
Starts the server fresh for every run (stdio), sends initialize, notifications/initialized and
tools/list, and times process start → tools/list reply. Prints the median and worst of RUNS, and
the reply size in bytes, for --access read and --access full on both API versions.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

BINARY = sys.argv[1] if len(sys.argv) > 1 else "target/release/livechat-mcp"
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 20

MESSAGES = [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
]
HOME = tempfile.mkdtemp(prefix="livechat-mcp-bench-")
PAYLOAD = "".join(json.dumps(m) + "\n" for m in MESSAGES).encode()


def once(access, version):
    # A fresh HOME: the default audit trail is opened there, as on a first run.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": HOME,
           "LIVECHAT_MCP_ACCESS": access, "LIVECHAT_API_VERSION": version}
    start = time.perf_counter()
    proc = subprocess.Popen([BINARY, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    proc.stdin.write(PAYLOAD)
    proc.stdin.flush()
    size = None
    tools = 0
    for line in proc.stdout:
        reply = json.loads(line)
        if reply.get("id") == 2:
            elapsed = time.perf_counter() - start
            size = len(line.rstrip(b"\n"))
            tools = len(reply["result"]["tools"])
            break
    proc.stdin.close()
    proc.wait()
    return elapsed, size, tools


for version in ("3.6", "3.5"):
    for access in ("read", "full"):
        times = []
        for _ in range(RUNS):
            elapsed, size, tools = once(access, version)
            times.append(elapsed * 1000)
        print(f"v{version} --access {access}: {tools} tools, tools/list reply {size} bytes; "
              f"cold start to tools/list median {statistics.median(times):.1f} ms, worst {max(times):.1f} ms ({RUNS} runs)")
