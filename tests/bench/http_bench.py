"""Throughput and latency of the HTTP server (`serve --http`) on the embedded sandbox.

Usage: python tests/bench/http_bench.py [BINARY] [--total N] [--mode legacy|auto]
                                        [--tool NAME] [--audit-off] [--clients 1,10,64]
Needs the Python MCP client (mcp 2.3; tests/run installs it in target/e2e/venv). Starts BINARY
(default target/release/livechat-mcp) with a one-agent policy and a fresh key, an audit file in
a temp dir (or none with --audit-off), and the sandbox as LiveChat; then, for each number of
concurrent clients, connects that many sessions and has each make its share of N tool calls
(at least 20) one after the other. Prints calls per second over all clients, and p50 / p99 latency of one call as a client
sees it. Everything runs on this machine, client included: on a small machine the Python
clients use a good share of the CPU, so the figures are a floor for the server.
"""

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def start_server(binary, directory, audit_off):
    key_lines = subprocess.run(
        [binary, "key", "new", "bench"], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    key, hash_line = key_lines[0], key_lines[1]
    policy = os.path.join(directory, "policy.toml")
    with open(policy, "w") as f:
        f.write(f'[agents.bench]\naccess = {{ "*" = "read" }}\n{hash_line}\n')
    audit = "off" if audit_off else os.path.join(directory, "audit.db")
    env = {"PATH": os.environ.get("PATH", ""), "LIVECHAT_ACCOUNTS_URL": "http://127.0.0.1:9"}
    proc = subprocess.Popen(
        [binary, "serve", "--http", "127.0.0.1:0", "--sandbox", "--policy", policy,
         "--audit", audit, "--max-in-flight", "256"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True,
    )
    for line in proc.stderr:
        found = re.search(r"serving MCP at (http://[^ ]+)/mcp", line)
        if found:
            return proc, found.group(1), key
    raise SystemExit(f"the server did not start (exit {proc.wait()})")


async def client_run(base, key, mode, tool, arguments, calls, ready, go, latencies):
    async with create_mcp_http_client(headers={"Authorization": f"Bearer {key}"}) as http:
        async with Client(streamable_http_client(f"{base}/mcp", http_client=http), mode=mode) as client:
            for _ in range(3):  # warm-up
                await client.call_tool(tool, arguments)
            ready.release()
            await go.wait()
            for _ in range(calls):
                started = time.perf_counter()
                result = await client.call_tool(tool, arguments)
                latencies.append(time.perf_counter() - started)
                if result.is_error:
                    raise SystemExit(f"{tool} failed: {result.content}")


async def measure(base, key, mode, tool, arguments, clients, calls):
    ready = asyncio.Semaphore(0)
    go = asyncio.Event()
    latencies = []
    tasks = [
        asyncio.create_task(client_run(base, key, mode, tool, arguments, calls, ready, go, latencies))
        for _ in range(clients)
    ]
    for _ in range(clients):
        await ready.acquire()
    started = time.perf_counter()
    go.set()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return len(latencies) / wall, statistics.median(latencies) * 1000, p99 * 1000, len(latencies)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?", default="target/release/livechat-mcp")
    parser.add_argument("--total", type=int, default=1000, help="calls per level, split over the clients")
    parser.add_argument("--mode", default="legacy", help="legacy (sessions) or auto (2026-07-28, stateless)")
    parser.add_argument("--tool", default="list_chats")
    parser.add_argument("--audit-off", action="store_true", help="run without an audit trail")
    parser.add_argument("--clients", default="1,10,64")
    args = parser.parse_args()
    arguments = {"limit": 5} if args.tool == "list_chats" else {}
    with tempfile.TemporaryDirectory() as directory:
        proc, base, key = start_server(args.binary, directory, args.audit_off)
        try:
            print(f"{args.binary} serve --http on the sandbox; tool {args.tool}, mode {args.mode}, "
                  f"audit {'off' if args.audit_off else 'SQLite file'}, {os.cpu_count()} CPUs")
            print(f"{'clients':>7} {'calls':>6} {'calls/s':>8} {'p50 ms':>7} {'p99 ms':>7}")
            for clients in [int(c) for c in args.clients.split(",")]:
                calls = max(args.total // clients, 20)
                rate, p50, p99, total = asyncio.run(
                    measure(base, key, args.mode, args.tool, arguments, clients, calls))
                print(f"{clients:>7} {total:>6} {rate:>8.0f} {p50:>7.2f} {p99:>7.2f}", flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
            if code != 0:
                print(f"the server exited {code} on SIGTERM", file=sys.stderr)
                sys.exit(1)


main()
