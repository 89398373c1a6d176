"""API benchmark against the real Postgres and Redis (scripts/services.sh up): one uvicorn worker on loopback.

Phases, on a fresh database and Redis prefix of their own:
  1. seed a site with --assets tagged assets, their current locations in Redis, and an API key;
  2. throughput: GET /api/v1/assets/{id}/location for random assets, as fast as the server answers
     (`wrk` if it is installed — the lightest client, so the server gets the CPU — else a closed-loop asyncio client);
  3. latency at --rate requests/s: an open-loop asyncio client in its own process sends on a fixed schedule and
     times each request from when it *should* have been sent, so a stalled server cannot hide its queueing;
  4. WebSocket fan-out: --ws-clients clients on /ws/sites/{id}/locations (separate process), fixes published to the
     site's Redis channel; delay from PUBLISH to each client's receipt.
Last line: {"rps", "p50_ms", "p99_ms", "ws_clients", "ws_p99_ms"} (p50/p99 are at --rate).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# Run as a script, this file's folder comes first on sys.path and `api` would name this file: use the repo's.
_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_ROOT))
sys.modules.pop("api", None)

SERVICES_ENV = Path(os.environ.get("ASSET_TAG_SERVICES_ENV", Path.home() / ".cache/asset-tag/services.env"))
LOCATION_PATH = "/api/v1/assets/{}/location"


def _services() -> dict[str, str]:
    if not SERVICES_ENV.exists():
        sys.exit(f"{SERVICES_ENV} not found: start the services with `scripts/services.sh up`")
    values = {}
    for line in SERVICES_ENV.read_text().splitlines():
        line = line.removeprefix("export ").strip()
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value
    return values


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))


# --- seeding -----------------------------------------------------------------------------------------------


def _seed(database_url: str, redis_url: str, prefix: str, assets: int, ws_assets: int) -> dict[str, object]:
    import msgspec
    import redis
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from api.keys.secrets import hash_key, key_prefix, new_key
    from core.db.engine import make_engine, upgrade_database
    from core.db.models import ApiKey, Asset, Site
    from core.live import LiveKeys

    upgrade_database(database_url)
    engine = make_engine(database_url)
    site_id, ws_site_id = uuid.uuid4(), uuid.uuid4()
    rows = [
        {"id": uuid.uuid4(), "name": f"Bench asset {i}", "tag_id": f"BE{i:010X}", "site_id": site_id}
        for i in range(assets)
    ]
    ws_rows = [
        {"id": uuid.uuid4(), "name": f"Fan-out asset {i}", "tag_id": f"BF{i:010X}", "site_id": ws_site_id}
        for i in range(ws_assets)
    ]
    secret = new_key()
    with Session(engine) as session:
        session.execute(
            insert(Site),
            [
                {"id": site_id, "name": "bench", "origin_lat": 52.5, "origin_lon": 13.4},
                {"id": ws_site_id, "name": "bench-ws", "origin_lat": 52.5, "origin_lon": 13.4},
            ],
        )
        session.execute(insert(Asset), rows + ws_rows)
        session.add(ApiKey(name="bench", prefix=key_prefix(secret), key_hash=hash_key(secret), role="viewer"))
        session.commit()
    engine.dispose()

    keys = LiveKeys(prefix)
    client = redis.Redis.from_url(redis_url)
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    fixes = {}
    for row in rows + ws_rows:
        fix = {
            "tag_id": row["tag_id"], "asset_id": str(row["id"]), "site_id": str(row["site_id"]), "ts": now,
            "x": random.uniform(0, 100), "y": random.uniform(0, 100), "lat": 52.5, "lon": 13.4, "floor": 0,
            "accuracy_m": 2.5, "confidence": 0.8, "method": "trilateration", "gateway_count": 4, "zone_ids": [],
        }  # fmt: skip
        fixes[keys.current_location(row["tag_id"])] = msgspec.json.encode(fix)
    client.mset(fixes)
    client.close()
    return {
        "api_key": secret,
        "asset_ids": [str(row["id"]) for row in rows],
        "ws_site_id": str(ws_site_id),
        "locations_channel": keys.locations_channel(ws_site_id),
    }


# --- HTTP load ---------------------------------------------------------------------------------------------


class _Connection:
    """A keep-alive HTTP/1.1 connection with just enough parsing for small JSON answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> _Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def get(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        match = re.search(rb"(?i)content-length:\s*(\d+)", head)
        await self.reader.readexactly(int(match.group(1)) if match else 0)
        return status


def _request(path: str, api_key: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {api_key}\r\n\r\n".encode()


async def _closed_loop(port: int, paths: list[str], api_key: str, connections: int, seconds: float) -> dict:
    requests = [_request(path, api_key) for path in paths]
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        conn = await _Connection.open(port)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            if await conn.get(random.choice(requests)) != 200:
                errors += 1
            latencies.append(time.perf_counter() - started)
        conn.writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return {"rps": len(latencies) / elapsed, "latencies": latencies, "errors": errors}


async def _open_loop(port: int, paths: list[str], api_key: str, rate: float, seconds: float) -> dict:
    """Requests on a fixed schedule; each latency counts from its scheduled start (no coordinated omission)."""
    requests = [_request(path, api_key) for path in paths]
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(64):
        idle.put_nowait(await _Connection.open(port))
    latencies: list[float] = []
    errors = 0

    async def one(due: float, request: bytes) -> None:
        nonlocal errors
        conn = await idle.get()
        try:
            if await conn.get(request) != 200:
                errors += 1
        finally:
            idle.put_nowait(conn)
        latencies.append(time.perf_counter() - due)

    start = time.perf_counter()
    tasks = []
    for i in range(int(rate * seconds)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, random.choice(requests))))
    await asyncio.gather(*tasks)
    return {"rps": len(latencies) / (time.perf_counter() - start), "latencies": latencies, "errors": errors}


def _http_client(
    mode: str, port: int, paths: list[str], api_key: str, arg: float, seconds: float, out: mp.Queue
) -> None:
    """Child process: one kind of HTTP load, results to `out`."""
    import uvloop

    if mode == "closed":
        result = uvloop.run(_closed_loop(port, paths, api_key, int(arg), seconds))
    else:
        result = uvloop.run(_open_loop(port, paths, api_key, arg, seconds))
    out.put(result)


def _run_client(target, *args) -> dict:  # type: ignore[no-untyped-def]
    context = mp.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=target, args=(*args, out))
    process.start()
    result = out.get(timeout=600)
    process.join(timeout=30)
    return result


def _wrk(port: int, paths: list[str], api_key: str, connections: int, seconds: float) -> dict:
    """Max throughput with wrk (random asset per request via a Lua script)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths_file = Path(tmp) / "paths.txt"
        paths_file.write_text("\n".join(paths) + "\n")
        script = Path(tmp) / "paths.lua"
        script.write_text(
            f'wrk.headers["X-API-Key"] = "{api_key}"\n'
            "local paths = {}\n"
            f'for line in io.lines("{paths_file}") do paths[#paths + 1] = line end\n'
            'request = function() return wrk.format("GET", paths[math.random(#paths)]) end\n'
        )
        output = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", str(script),
             f"http://127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        ).stdout  # fmt: skip

    def latency_ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if not match:
            return float("nan")
        return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return {
        "rps": rps,
        "p50_ms": latency_ms("50"),
        "p99_ms": latency_ms("99"),
        "errors": int(bad.group(1)) if bad else 0,
    }


# --- WebSocket fan-out ---------------------------------------------------------------------------------------


class _ListeningSocket(asyncio.Protocol):
    """A bare WebSocket client that only listens: it stamps each text frame's arrival and keeps the bytes.

    Decoding waits until the run is over, so 1,000 clients in one process cost next to nothing per message and
    the measured delay is the server's, not the client library's. No compression is offered (as with
    `--ws-per-message-deflate False` on the server)."""

    def __init__(self, request: bytes, snapshot: asyncio.Future[None]) -> None:
        self.request = request
        self.snapshot = snapshot
        self.buffer = b""
        self.upgraded = False
        self.frames: list[tuple[float, bytes]] = []
        self.close_code: int | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        received = time.time()
        self.buffer += data
        if not self.upgraded:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.snapshot.set_exception(RuntimeError(head.split(b"\r\n")[0].decode()))
                return
            self.upgraded, self.buffer = True, rest
        while len(self.buffer) >= 2:
            opcode, length, offset = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
            if length == 126:
                length, offset = int.from_bytes(self.buffer[2:4], "big"), 4
            elif length == 127:
                length, offset = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < offset + length:
                return
            payload, self.buffer = self.buffer[offset : offset + length], self.buffer[offset + length :]
            if opcode == 1:
                if not self.snapshot.done():
                    self.snapshot.set_result(None)  # the first frame is the snapshot
                else:
                    self.frames.append((received, payload))
            elif opcode == 8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            elif opcode == 9 and self.transport is not None:  # ping -> pong (client frames are masked)
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.close_code is None:
            self.close_code = 1006
        if not self.snapshot.done():
            self.snapshot.set_exception(RuntimeError("connection closed before the snapshot"))


async def _ws_clients(
    port: int, site_id: str, api_key: str, clients: int, messages: int, ready: mp.Event
) -> dict:
    import base64

    loop = asyncio.get_running_loop()
    path = f"/ws/sites/{site_id}/locations?api_key={api_key}"
    sockets: list[_ListeningSocket] = []

    async def connect() -> _ListeningSocket:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        snapshot: asyncio.Future[None] = loop.create_future()
        _, protocol = await loop.create_connection(
            lambda: _ListeningSocket(request, snapshot), "127.0.0.1", port
        )
        await asyncio.wait_for(snapshot, timeout=60)
        return protocol

    for start in range(0, clients, 50):  # connect in waves: each connection gets a snapshot from the database
        sockets.extend(await asyncio.gather(*(connect() for _ in range(start, min(clients, start + 50)))))
    ready.set()
    deadline = time.monotonic() + 60 + messages
    while time.monotonic() < deadline and any(
        len(s.frames) < messages and s.close_code is None for s in sockets
    ):
        await asyncio.sleep(0.2)
    delays = [
        received - fix["bench_sent"]
        for socket in sockets
        for received, payload in socket.frames
        for fix in json.loads(payload)["locations"]
    ]
    closed_early = [s.close_code for s in sockets if s.close_code is not None and len(s.frames) < messages]
    for socket in sockets:
        if socket.transport is not None:
            socket.transport.close()
    return {"delays": delays, "closed_early": closed_early}


def _ws_process(
    port: int, site_id: str, api_key: str, clients: int, messages: int, ready: mp.Event, out: mp.Queue
) -> None:
    import uvloop

    _raise_fd_limit()
    out.put(uvloop.run(_ws_clients(port, site_id, api_key, clients, messages, ready)))


def _fan_out(
    port: int, server_pid: int, seed: dict, redis_url: str, clients: int, messages: int, interval_s: float
) -> dict:
    import msgspec
    import redis

    context = mp.get_context("spawn")
    out, ready = context.Queue(), context.Event()
    process = context.Process(
        target=_ws_process, args=(port, seed["ws_site_id"], seed["api_key"], clients, messages, ready, out)
    )
    process.start()
    if not ready.wait(timeout=300):
        process.kill()
        raise RuntimeError(f"{clients} WebSocket clients did not connect within 300 s")
    time.sleep(1.0)
    cpu0, wall0 = _cpu_s(server_pid), time.monotonic()
    publisher = redis.Redis.from_url(redis_url)
    for i in range(messages):
        fix = {
            "tag_id": "BF0000000000",
            "x": float(i),
            "y": 1.0,
            "accuracy_m": 2.0,
            "bench_sent": time.time(),
        }
        publisher.publish(seed["locations_channel"], msgspec.json.encode([fix]))
        time.sleep(interval_s)
    publisher.close()
    result = out.get(timeout=120)
    result["server_cpu_s"], result["wall_s"] = _cpu_s(server_pid) - cpu0, time.monotonic() - wall0
    process.join(timeout=30)
    return result


# --- orchestration -------------------------------------------------------------------------------------------


def _start_server(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Compressing each small fix frame separately for each of 1,000 sockets costs far more CPU than it saves.
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log",
               "--ws-per-message-deflate", "False", "--ws", os.environ.get("BENCH_WS", "auto")]  # fmt: skip
    server = subprocess.Popen(command, cwd=_ROOT, env=env)
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the API server exited with {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.kill()
    raise RuntimeError("the API server did not answer /health within 120 s")


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used: tells a slow server from a starved one."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _http_phases(
    args: argparse.Namespace, server: subprocess.Popen[bytes], port: int, paths: list[str], api_key: str
) -> tuple[float, float, float]:
    """Throughput, then latency at --rate; returns (rps, p50_ms, p99_ms at --rate)."""
    # Warm-up: key and asset->tag caches, connection pools, first-request imports.
    _run_client(_http_client, "closed", port, paths, api_key, 8, 3.0)

    cpu0, wall0 = _cpu_s(server.pid), time.monotonic()
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    if use_wrk:
        top = _wrk(port, paths, api_key, args.connections, args.seconds)
        client = "wrk"
    else:
        result = _run_client(_http_client, "closed", port, paths, api_key, args.connections, args.seconds)
        top = {"rps": result["rps"], "p50_ms": _percentile(result["latencies"], 50) * 1000,
               "p99_ms": _percentile(result["latencies"], 99) * 1000, "errors": result["errors"]}  # fmt: skip
        client = "asyncio"
    cpu, wall = _cpu_s(server.pid) - cpu0, time.monotonic() - wall0
    print(
        f"throughput ({client}, {args.connections} connections, {args.seconds:g} s): {top['rps']:.0f} req/s, "
        f"p50 {top['p50_ms']:.1f} ms, p99 {top['p99_ms']:.1f} ms, non-200: {top['errors']}; server used "
        f"{cpu / wall:.0%} of a core, {cpu / max(1.0, top['rps'] * wall) * 1e6:.0f} us CPU per request; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
        flush=True,
    )

    paced = _run_client(_http_client, "open", port, paths, api_key, args.rate, args.seconds)
    p50_ms = _percentile(paced["latencies"], 50) * 1000
    p99_ms = _percentile(paced["latencies"], 99) * 1000
    print(
        f"at {args.rate:.0f} req/s (open loop, {args.seconds:g} s): achieved {paced['rps']:.0f} req/s, "
        f"p50 {p50_ms:.2f} ms, p99 {p99_ms:.2f} ms, non-200: {paced['errors']}",
        flush=True,
    )
    return top["rps"], p50_ms, p99_ms


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each HTTP phase")
    parser.add_argument("--connections", type=int, default=64, help="connections of the throughput phase")
    parser.add_argument("--rate", type=float, default=1000.0, help="requests/s of the latency phase")
    parser.add_argument("--ws-clients", type=int, default=1000)
    parser.add_argument(
        "--ws-messages", type=int, default=30, help="fixes published during the fan-out phase"
    )
    parser.add_argument("--ws-interval-s", type=float, default=0.2)
    parser.add_argument(
        "--client", choices=["auto", "wrk", "python"], default="auto", help="throughput client"
    )
    parser.add_argument(
        "--ws-only", action="store_true", help="skip the HTTP phases (their JSON fields are null)"
    )
    args = parser.parse_args()
    _raise_fd_limit()

    import psycopg

    services = _services()
    run_id = "bench_api_" + uuid.uuid4().hex[:8]
    admin = services["ASSET_TAG_DATABASE_URL"]
    parts = urlsplit(admin)
    plain = urlunsplit(parts._replace(scheme="postgresql"))
    database_url = urlunsplit(parts._replace(path=f"/{run_id}"))
    redis_url, prefix = services["ASSET_TAG_REDIS_URL"], f"{run_id}:"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{run_id}"')
    server = None
    try:
        seed = _seed(database_url, redis_url, prefix, args.assets, ws_assets=10)
        paths = [LOCATION_PATH.format(asset_id) for asset_id in seed["asset_ids"]]  # type: ignore[union-attr]
        api_key = str(seed["api_key"])
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSET_TAG_")}
        env.update(
            ASSET_TAG_DATABASE_URL=database_url, ASSET_TAG_REDIS_URL=redis_url, ASSET_TAG_REDIS_PREFIX=prefix,
            ASSET_TAG_STREAM_URL="memory://", ASSET_TAG_DATA_DIR=tempfile.mkdtemp(prefix="bench-api-"),
        )  # fmt: skip
        server = _start_server(port, env)
        print(
            f"server: one uvicorn worker on 127.0.0.1:{port}; {args.assets} assets; Postgres + Redis",
            flush=True,
        )

        rps: float | None = None
        p50_ms = p99_ms = None
        if not args.ws_only:
            rps, p50_ms, p99_ms = _http_phases(args, server, port, paths, api_key)

        fan = _fan_out(
            port, server.pid, seed, redis_url, args.ws_clients, args.ws_messages, args.ws_interval_s
        )
        ws_cpu = fan["server_cpu_s"]
        delays = fan["delays"]
        expected = args.ws_clients * args.ws_messages
        ws_p50, ws_p99 = _percentile(delays, 50) * 1000, _percentile(delays, 99) * 1000
        print(
            f"WebSocket fan-out: {args.ws_clients} clients x {args.ws_messages} fixes: received "
            f"{len(delays)}/{expected}, publish->receipt p50 {ws_p50:.1f} ms, p99 {ws_p99:.1f} ms, "
            f"max {max(delays, default=float('nan')) * 1000:.1f} ms; dropped clients: {len(fan['closed_early'])}; "
            f"server CPU {ws_cpu:.1f} s over {fan['wall_s']:.1f} s ({ws_cpu / max(1, len(delays)) * 1e6:.0f} us per delivery); "
            f"load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        print(
            json.dumps(
                {
                    "rps": None if rps is None else round(rps),
                    "p50_ms": None if p50_ms is None else round(p50_ms, 2),
                    "p99_ms": None if p99_ms is None else round(p99_ms, 2),
                    "ws_clients": args.ws_clients,
                    "ws_p99_ms": round(ws_p99, 1),
                }  # fmt: skip
            )
        )
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        import redis

        client = redis.Redis.from_url(redis_url)
        stale = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(stale), 1000):
            client.delete(*stale[start : start + 1000])
        client.close()
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{run_id}" WITH (FORCE)')


if __name__ == "__main__":
    main()
