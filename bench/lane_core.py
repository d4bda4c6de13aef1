"""Cost of the lane core per traveller: Lane.handle and gate.policy.decide; prints JSON.

Feeds complete two-step transactions (genuine traveller accepted, with beam and camera inputs
as a real lane produces them: 15 camera frames and 8 beam changes per traveller) through one
Lane and reports the time per input and per transaction. This is the core's share of the
"software time" of a passage (issue #12 budgets 0.5 s median for all of it).

    .venv/bin/python bench/lane_core.py --travellers 2000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from gate.config import PassageConfig, PolicyConfig
from gate.lane import Lane
from gate.lane.inputs import (
    BeamsChanged,
    ChipRead,
    DocumentPlaced,
    DocumentVerified,
    Door,
    FaceBox,
    FaceVerified,
    Input,
    LivenessChecked,
    MrzRead,
    PassageCompleted,
    PassageDirection,
    PersonsSeen,
    Screened,
    Started,
    Tick,
)
from gate.policy.decide import decide
from gate.policy.model import DocumentFacts, Evidence, FaceEvidence, ScreeningResult

TODAY = date(2026, 12, 2)
DOC = DocumentFacts(
    document_code="P",
    issuing_state="D",
    nationality="D",
    date_of_birth=date(1985, 5, 17),
    date_of_expiry=date(2031, 1, 1),
)
FACE = (FaceBox(x=0.4, y=0.3, width=0.2, height=0.3),)


def traveller(tx: str, t0: float) -> list[Input]:
    beams = [(False, True, False, False, False), (False, False, True, False, False)]
    return [
        DocumentPlaced(at=t0, transaction=tx, date=TODAY),
        MrzRead(at=t0 + 0.5, transaction=tx, document=DOC, reasons=("MRZ_OK",)),
        Screened(at=t0 + 0.6, transaction=tx, result=ScreeningResult()),
        ChipRead(at=t0 + 2.0, transaction=tx, ok=True, reasons=("CHIP_OK",)),
        DocumentVerified(at=t0 + 2.2, transaction=tx, reasons=("PA_OK", "AA_OK", "CA_OK")),
        PassageCompleted(at=t0 + 4.0, door=Door.ENTRY, direction=PassageDirection.IN, persons=1),
        *[BeamsChanged(at=t0 + 4.0 + i * 0.1, beams=beams[i % 2]) for i in range(8)],
        *[PersonsSeen(at=t0 + 5.0 + i / 15, faces=FACE) for i in range(15)],
        Tick(at=t0 + 6.0),
        FaceVerified(at=t0 + 6.1, transaction=tx, outcome="match", similarity=0.6, threshold=0.4),
        LivenessChecked(at=t0 + 6.2, transaction=tx, passed=True, score=0.9),
        BeamsChanged(at=t0 + 7.0, beams=(False,) * 5),
        PassageCompleted(at=t0 + 8.0, door=Door.EXIT, direction=PassageDirection.IN, persons=1),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--travellers", type=int, default=2000)
    args = ap.parse_args()
    lane = Lane(PassageConfig(), PolicyConfig())
    lane.handle(Started(at=0.0))
    per_tx: list[float] = []
    inputs = 0
    accepted = 0
    for n in range(args.travellers):
        events = traveller(f"t{n}", 10.0 * n + 1.0)
        start = time.perf_counter()
        for event in events:
            for c in lane.handle(event):
                accepted += type(c).__name__ == "TransactionFinished"
        per_tx.append(time.perf_counter() - start)
        inputs += len(events)
    ev = Evidence(
        today=TODAY,
        document=DOC,
        chip_ok=True,
        authenticity=("PA_OK", "AA_OK"),
        screening=ScreeningResult(),
        face=FaceEvidence(outcome="match"),
        liveness=True,
    )
    rules = PolicyConfig()
    start = time.perf_counter()
    rounds = 20000
    for _ in range(rounds):
        decide(ev, rules)
    decide_us = (time.perf_counter() - start) / rounds * 1e6
    per_tx.sort()
    print(
        json.dumps(
            {
                "travellers": args.travellers,
                "finished": accepted,
                "inputs_per_transaction": inputs // args.travellers,
                "transaction_ms": {
                    "median": round(statistics.median(per_tx) * 1000, 3),
                    "p95": round(per_tx[int(0.95 * len(per_tx))] * 1000, 3),
                },
                "input_us_mean": round(sum(per_tx) / inputs * 1e6, 1),
                "decide_us": round(decide_us, 1),
                "python": sys.version.split()[0],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
