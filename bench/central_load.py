"""Central service load benchmark over real HTTP; prints JSON.

Starts ``egate central`` (one uvicorn process) on SQLite and/or PostgreSQL, registers lanes,
then for ``--duration`` seconds:

- ``--posters`` lanes post batches of ``--batch`` transaction events as fast as they are
  answered (closed loop, pre-formatted JSON with unique ids; 90 % accepted, 8 % referred,
  2 % rejected, 6 stages, 3 verdicts and a document summary each);
- ``--heartbeat-lanes`` other lanes heartbeat every second (each heartbeat changes the
  traveller step, so every one is a live update);
- one logged-in officer follows ``/api/v1/stream``.

It prints sustained ``events_per_s``, client-side p50/p99 ingest latency, the delay from
sending a batch (or heartbeat) to the SSE subscriber receiving it, and where the server's time
per batch goes (``validate``, ``lock_wait``, ``database`` from the service's own
``/metrics``; ``http_and_framework`` = client latency minus those).

Targets (issue 13) with SQLite on the 2-core machine: >= 20,000 events/s in batches of 100,
>= 5,000 events/s in batches of 10, p99 ingest < 100 ms, 200 lanes heartbeating every second
with live-update delay < 1 s.

    .venv/bin/python bench/central_load.py [--db sqlite,postgresql] [--batch 100,10]
        [--duration 10] [--posters 4] [--heartbeat-lanes 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from gate import events  # noqa: E402

PASSWORD = "bench password 1234"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def _template(lane: str) -> str:
    """One transaction event with %(eid)s %(seq)d %(tid)s %(decision)s placeholders."""
    at = datetime.now(UTC)
    stages = [
        "document_placed",
        "mrz_read",
        "chip_read",
        "document_verified",
        "face_matched",
        "passage_completed",
    ]
    event = {
        "schema_version": 1,
        "event_id": "EID",
        "lane_id": lane,
        "seq": 0,
        "occurred_at": at.isoformat(),
        "type": "transaction",
        "transaction_id": "TID",
        "decision": "DECISION",
        "reasons": ["PA_OK", "FACE_MATCH"],
        "stages": [
            {"stage": s, "at": (at + timedelta(seconds=2 * i)).isoformat()}
            for i, s in enumerate(stages)
        ],
        "document": {
            "format": "TD3",
            "document_code": "P",
            "issuing_state": "UTO",
            "nationality": "UTO",
            "masked_number": "*****02C3",
            "sex": "F",
            "year_of_birth": 1974,
        },
        "verdicts": [
            {"check": c, "outcome": "pass", "reasons": ["PA_OK"]}
            for c in ("document", "eligibility", "face")
        ],
        "scores": {"face_similarity": 0.61, "face_threshold": 0.399, "liveness": 0.97},
    }
    text = json.dumps(event, separators=(",", ":"))
    text = text.replace('"EID"', '"%(eid)s"').replace('"seq":0', '"seq":%(seq)d')
    return text.replace('"TID"', '"%(tid)s"').replace('"DECISION"', '"%(decision)s"')


def uuid7() -> str:
    """A time-ordered id, as lanes send them (``gate.events.event_id``, RFC 9562 version 7)."""
    return str(events.event_id(datetime.now(UTC)))


def _decision(seq: int) -> str:
    r = seq % 50
    return "referred" if r < 4 else "rejected" if r == 4 else "accepted"


class Server:
    def __init__(self, db: str, workdir: Path) -> None:
        self.db = db
        self.workdir = workdir
        self.schema = f"bench_{uuid.uuid4().hex[:8]}"
        if db == "sqlite":
            self.url = f"sqlite:///{workdir / 'central.sqlite'}"
        else:
            self.url = (
                "postgresql+psycopg://postgres@127.0.0.1:5432/test"
                f"?options=-csearch_path%3D{self.schema}"
            )
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "EGATE_CENTRAL__DATABASE__URL": self.url,
            "EGATE_CENTRAL__SECURITY__COOKIE_SECURE": "false",
            "EGATE_CENTRAL__LISTS__SIGNING_KEY_PATH": str(workdir / "lists.pem"),
            "EGATE_CENTRAL__LANES__HEARTBEAT_PERIOD_SECONDS": "1",
            "EGATE_CENTRAL__RETENTION__PURGE_INTERVAL_MINUTES": "0",
            "EGATE_CENTRAL__LOGGING__LEVEL": "WARNING",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def seed(self, lanes: list[str]) -> dict[str, str]:
        if self.db == "postgresql":
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {self.schema}")
        from central.app import create_app
        from central.lanes import LaneRegistration, register_lane
        from central.security import create_officer
        from gate.config import load_central

        cfg = load_central(None, env=self.env)
        central = create_app(cfg, background=False).state.central
        with central.db.write() as conn:
            create_officer(
                conn,
                cfg.security,
                username="bench",
                password=PASSWORD,
                role="supervisor",
                at=time.time(),
            )
        tokens = {
            lane: register_lane(central, LaneRegistration(lane_id=lane, port="TPE"), "bench")
            for lane in lanes
        }
        central.db.dispose()
        return tokens

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gate.cli", "central", "--port", str(self.port)],
            env=self.env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise SystemExit(f"central did not start: {err[-2000:]}")
            try:
                if httpx.get(self.base + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit("central did not start within 60 s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.db == "postgresql":
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")


class RawHTTP:
    """A minimal HTTP/1.1 keep-alive client on one connection: the benchmark must not spend
    more CPU per request than the server it measures (httpx costs about a millisecond)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n{headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stage_totals(metrics: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for stage, value in re.findall(
        r'egate_ingest_stage_seconds_total\{stage="(\w+)"\} ([0-9.e+-]+)', metrics
    ):
        out[stage] = float(value)
    batches = re.search(r'egate_ingest_batches_total\{status="200"\} ([0-9.e+-]+)', metrics)
    out["batches"] = float(batches.group(1)) if batches else 0.0
    return out


async def _run(
    server: Server,
    tokens: dict[str, str],
    posters: list[str],
    beaters: list[str],
    batch: int,
    duration: float,
    ids: str = "uuid7",
) -> dict[str, Any]:
    new_id = uuid7 if ids == "uuid7" else (lambda: str(uuid.uuid4()))
    sent_batches: dict[str, float] = {}
    sent_beats: dict[tuple[str, str], float] = {}
    ingest_delays: list[float] = []
    beat_delays: list[float] = []
    latencies: list[float] = []
    accepted = 0
    heartbeats = 0
    refused_429 = 0
    limits = httpx.Limits(
        max_connections=len(posters) + len(beaters) + 4,
        max_keepalive_connections=len(posters) + len(beaters) + 4,
    )
    async with httpx.AsyncClient(base_url=server.base, limits=limits, timeout=30) as http:
        csrf = (await http.get("/api/v1/auth/session")).json()["csrf_token"]
        await http.post(
            "/api/v1/auth/login",
            json={"username": "bench", "password": PASSWORD},
            headers={"X-CSRF-Token": csrf},
        )
        before = _stage_totals((await http.get("/metrics")).text)
        stream_ready = asyncio.Event()

        async def subscriber() -> None:
            async with http.stream("GET", "/api/v1/stream?kinds=ingest,lane", timeout=None) as resp:
                kind = ""
                async for line in resp.aiter_lines():
                    stream_ready.set()
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        now = time.perf_counter()
                        data = json.loads(line[6:])
                        if kind == "ingest" and data.get("events"):
                            t = sent_batches.pop(data["events"][0]["event_id"], None)
                            if t is not None:
                                ingest_delays.append(now - t)
                        elif kind == "lane":
                            t = sent_beats.pop((data["lane_id"], data.get("step", "")), None)
                            if t is not None:
                                beat_delays.append(now - t)

        sub = asyncio.create_task(subscriber())
        await asyncio.wait_for(stream_ready.wait(), 10)
        end = time.perf_counter() + duration

        async def poster(lane: str) -> None:
            nonlocal accepted, refused_429
            template = _template(lane)
            headers = f"Authorization: Bearer {tokens[lane]}\r\n"
            raw = RawHTTP("127.0.0.1", server.port)
            seq = 0
            while time.perf_counter() < end:
                parts = []
                first = ""
                for _ in range(batch):
                    eid = new_id()
                    first = first or eid
                    parts.append(
                        template
                        % {"eid": eid, "seq": seq, "tid": new_id(), "decision": _decision(seq)}
                    )
                    seq += 1
                body = '{"events":[' + ",".join(parts) + "]}"
                t0 = time.perf_counter()
                sent_batches[first] = t0
                status, answer = await raw.post("/api/v1/ingest/events", body.encode(), headers)
                if status == 429:
                    refused_429 += 1
                    sent_batches.pop(first, None)
                    seq -= batch
                    await asyncio.sleep(0.05)
                    continue
                latencies.append(time.perf_counter() - t0)
                accepted += len(json.loads(answer)["accepted"])
            raw.close()

        async def beater(lane: str, offset: float) -> None:
            nonlocal heartbeats
            headers = f"Authorization: Bearer {tokens[lane]}\r\n"
            raw = RawHTTP("127.0.0.1", server.port)
            await asyncio.sleep(offset)
            n = 0
            while time.perf_counter() < end:
                n += 1
                step = f"step{n}"
                sent_beats[(lane, step)] = time.perf_counter()
                t0 = time.perf_counter()
                body = json.dumps(
                    {
                        "state": "busy",
                        "step": step,
                        "devices": {"camera": "ok", "chip_reader": "ok"},
                    }
                )
                status, _ = await raw.post(
                    f"/api/v1/lanes/{lane}/heartbeat", body.encode(), headers
                )
                heartbeats += status == 200
                await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - t0)))
            raw.close()

        assert server.proc is not None
        cpu_before = _cpu_seconds(server.proc.pid)
        started = time.perf_counter()
        await asyncio.gather(
            *(poster(p) for p in posters),
            *(beater(b, i / max(1, len(beaters))) for i, b in enumerate(beaters)),
        )
        elapsed = time.perf_counter() - started
        server_cpu = _cpu_seconds(server.proc.pid) - cpu_before
        await asyncio.sleep(1.0)  # let the last live messages arrive
        sub.cancel()
        after = _stage_totals((await http.get("/metrics")).text)
    batches = max(1.0, after["batches"] - before["batches"])
    per_batch = {
        k: (after.get(k, 0) - before.get(k, 0)) / batches
        for k in ("validate", "lock_wait", "database")
    }
    mean_latency = statistics.fmean(latencies) if latencies else 0.0
    return {
        "batch": batch,
        "ids": ids,
        "posting_lanes": len(posters),
        "heartbeat_lanes": len(beaters),
        "duration_s": round(elapsed, 2),
        "events_accepted": accepted,
        "events_per_s": round(accepted / elapsed, 1),
        "batches": len(latencies),
        "heartbeats_per_s": round(heartbeats / elapsed, 1),
        "server_cpu_s": round(server_cpu, 2),
        "events_per_server_cpu_s": round(accepted / server_cpu, 1) if server_cpu else None,
        "server_cpu_us_per_event": round(server_cpu / accepted * 1e6, 1) if accepted else None,
        "heartbeats_per_server_cpu_s": round(heartbeats / server_cpu, 1) if server_cpu else None,
        "load_average_1m": os.getloadavg()[0],
        "refused_429": refused_429,
        "ingest_latency_ms": {
            "p50": _ms(_percentile(latencies, 50)),
            "p99": _ms(_percentile(latencies, 99)),
            "mean": _ms(mean_latency),
        },
        "live_delay_ingest_ms": {
            "p50": _ms(_percentile(ingest_delays, 50)),
            "p99": _ms(_percentile(ingest_delays, 99)),
            "max": _ms(max(ingest_delays) if ingest_delays else None),
            "samples": len(ingest_delays),
        },
        "live_delay_heartbeat_ms": {
            "p50": _ms(_percentile(beat_delays, 50)),
            "p99": _ms(_percentile(beat_delays, 99)),
            "max": _ms(max(beat_delays) if beat_delays else None),
            "samples": len(beat_delays),
        },
        "server_ms_per_batch": {
            **{k: _ms(v) for k, v in per_batch.items()},
            "http_and_framework": _ms(mean_latency - sum(per_batch.values())),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--batch", default="100,10")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--posters", type=int, default=4)
    parser.add_argument("--heartbeat-lanes", type=int, default=200)
    parser.add_argument(
        "--ids",
        choices=("uuid4", "uuid7"),
        default="uuid7",
        help="event and transaction ids: time-ordered, as lanes send them "
        "(gate.events.event_id), or random version 4 for comparison",
    )
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    results: dict[str, Any] = {"cpu_count": os.cpu_count(), "runs": []}
    for db in args.db.split(","):
        for batch in (int(b) for b in args.batch.split(",")):
            with tempfile.TemporaryDirectory() as tmp:
                server = Server(db, Path(tmp))
                posters = [f"P{i}" for i in range(args.posters)]
                beaters = [f"H{i:03d}" for i in range(args.heartbeat_lanes)]
                tokens = server.seed(posters + beaters)
                try:
                    server.start()
                    run = asyncio.run(
                        _run(server, tokens, posters, beaters, batch, args.duration, args.ids)
                    )
                finally:
                    server.stop()
                results["runs"].append({"database": db, **run})
                print(json.dumps(results["runs"][-1]), file=sys.stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
