"""Gate controller serial link benchmark; prints JSON.

1. Command round-trip latency: the asyncio driver sends GET_STATUS to the simulated controller
   over a real pseudo-terminal whose simulator models a 115200 baud 8N1 line in both directions
   (every byte takes 86.8 us); median, p99 and max over ``--commands`` round trips.
2. Noise recovery, decoder level: ``--bursts`` bursts of random bytes (1..64 bytes), each
   followed by one valid frame, through one FrameDecoder with the clock advancing at line
   speed; counts valid frames recovered, lost, and false frames accepted.
3. Noise recovery, end to end over the pty: the same number of bursts injected alternately
   towards the host and towards the controller, each followed by a controller event and a
   host command; counts events delivered (exactly once), commands failed, retransmissions.

Targets (issue 7): p99 <= 20 ms and zero lost valid frames.

    /work/venv/bin/python bench/gate_serial.py [--commands 1000] [--bursts 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.gatectl import protocol as p
from drivers.gatectl.driver import SerialGateController
from simulator.gatectl.device import DeviceConfig
from simulator.gatectl.server import GateSimulator

BAUD = 115200


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def decoder_noise(bursts: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    dec = p.FrameDecoder()
    byte_time = 10 / BAUD
    now = 0.0
    sent: list[p.Frame] = []
    got: list[p.Frame] = []
    for i in range(bursts):
        noise = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        kind = rng.choice(sorted(p.EVENTS))
        frame = p.Frame(i % 255 + 1, kind, bytes(rng.randrange(256) for _ in range(8)))
        sent.append(frame)
        for chunk in (noise, frame.encode()):
            now += len(chunk) * byte_time
            got += dec.feed(chunk, now)
        now += 0.005  # 5 ms of idle line between bursts
        got += dec.poll(now)
    now += 1.0
    got += dec.poll(now)
    recovered = sum(1 for f in got if f in sent)
    return {
        "valid_frames_sent": len(sent),
        "recovered": recovered,
        "lost": len(sent) - recovered,
        "false_accepts": len(got) - recovered,
        "noise_bytes_discarded": dec.stats.discarded_bytes,
    }


async def link_bench(commands: int, bursts: int, seed: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        sim = GateSimulator(DeviceConfig(), link=Path(tmp) / "gate-tty", baud=BAUD, seed=seed)
        sim.start()
        ctl = SerialGateController(sim.url, baudrate=BAUD, heartbeat_interval=1.0)
        try:
            await ctl.start()
            for _ in range(20):  # warm-up
                await ctl.status()
            latencies = []
            for _ in range(commands):
                t0 = time.perf_counter()
                await ctl.status()
                latencies.append((time.perf_counter() - t0) * 1000)
            door_latencies = []
            for i in range(min(commands, 200)):
                t0 = time.perf_counter()
                await ctl.door(p.Door.EXIT, p.DoorAction.OPEN if i % 2 else p.DoorAction.LOCK)
                door_latencies.append((time.perf_counter() - t0) * 1000)

            # drain what the door commands produced
            while not ctl._queue.empty():
                ctl._queue.get_nowait()
            retrans0 = ctl.session.stats.retransmissions
            failed = 0
            for i in range(bursts):
                sim.inject_noise(1 + i % 64, "to_host" if i % 2 else "from_host")
                sim.tamper(i % 2 == 0)
                try:
                    await ctl.status()
                except p.GateControllerError:
                    failed += 1
            received: list[bool] = []
            deadline = time.monotonic() + 10
            while len(received) < bursts and time.monotonic() < deadline:
                try:
                    event = await ctl.next_event(1.0)
                except TimeoutError:
                    break
                if isinstance(event, p.Tamper):
                    received.append(event.active)
            expected = [i % 2 == 0 for i in range(bursts)]
            return {
                "round_trip_ms": {
                    "command": "GET_STATUS (8-byte frame out, 21-byte ACK back)",
                    "n": len(latencies),
                    "median": round(statistics.median(latencies), 3),
                    "p99": round(percentile(latencies, 0.99), 3),
                    "max": round(max(latencies), 3),
                },
                "door_command_round_trip_ms": {
                    "n": len(door_latencies),
                    "median": round(statistics.median(door_latencies), 3),
                    "p99": round(percentile(door_latencies, 0.99), 3),
                },
                "noise_end_to_end": {
                    "bursts": bursts,
                    "events_sent": bursts,
                    "events_received_once_in_order": received == expected,
                    "events_lost": bursts - len(received),
                    "commands": bursts,
                    "commands_failed": failed,
                    "host_retransmissions": ctl.session.stats.retransmissions - retrans0,
                    "controller_event_retransmissions": sim.device.stats.event_retransmissions,
                    "host_noise_bytes_discarded": ctl.session.decoder.stats.discarded_bytes,
                },
            }
        finally:
            await ctl.close()
            sim.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--bursts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    decoder = decoder_noise(args.bursts, args.seed)
    link = asyncio.run(link_bench(args.commands, args.bursts, args.seed))
    rtt = link["round_trip_ms"]
    e2e = link["noise_end_to_end"]
    assert isinstance(rtt, dict) and isinstance(e2e, dict)
    result = {
        "bench": "gate_serial",
        "transport": "pty (os.openpty), simulator models 115200 baud 8N1 both ways",
        "baud_model": BAUD,
        **link,
        "noise_decoder": {"bursts": args.bursts, **decoder},
        "targets": {"p99_ms": 20, "lost_valid_frames": 0},
        "pass": bool(
            rtt["p99"] <= 20
            and decoder["lost"] == 0
            and decoder["false_accepts"] == 0
            and e2e["events_lost"] == 0
            and e2e["events_received_once_in_order"]
            and e2e["commands_failed"] == 0
        ),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result, indent=2))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
