"""Speed and accuracy of MRZ parse and repair on corrupted ICAO specimens; prints JSON.

Each trial takes one specimen (TD1, TD2, TD3, MRV-A, MRV-B, TD1/TD2 long number), replaces
1 to ``--errors`` characters by a confusion-set partner, and records whether parse flags it,
whether the original is repair's first candidate / among its first ten, whether the first
candidate's BAC key is the original's / the original key is among the candidates' keys (what a
reader retrying BAC needs), and the time taken.

    /work/venv/bin/python bench/mrz_repair.py --trials 2000 --errors 2 --seed 1
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from gate.mrz import CONFUSION_SETS, bac_keys, parse, repair

TODAY = datetime.date(2026, 11, 21)
SPECIMENS = {
    "TD3": (
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
    ),
    "TD2": ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6"),
    "TD1": (
        "I<UTOD231458907<<<<<<<<<<<<<<<",
        "7408122F1204159UTO<<<<<<<<<<<6",
        "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
    ),
    "MRVA": (
        "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L8988901C4XXX4009078F96121096ZE184226B<<<<<<",
    ),
    "MRVB": ("V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "L8988901C4XXX4009078F9612109<<<<<<<<"),
    "TD1-long": (
        "I<UTOD23145890<7349<<<<<<<<<<<",
        "3407127M9507122UTO<<<<<<<<<<<2",
        "STEVENSON<<PETER<JOHN<<<<<<<<<",
    ),
    "TD2-long": ("I<UTOSTEVENSON<<PETER<JOHN<<<<<<<<<<", "D23145890<UTO3407127M95071227349<<<8"),
}
PARTNERS = {ch: group.replace(ch, "") for group in CONFUSION_SETS for ch in group}


def corrupt(lines: tuple[str, ...], errors: int, rng: random.Random) -> tuple[str, ...]:
    rows = [list(line) for line in lines]
    spots = [(i, j) for i, row in enumerate(rows) for j, ch in enumerate(row) if ch in PARTNERS]
    for i, j in rng.sample(spots, errors):
        rows[i][j] = rng.choice(PARTNERS[rows[i][j]])
    return tuple("".join(row) for row in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--errors", type=int, default=1, help="corrupted characters per trial")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    parse_ms: list[float] = []
    repair_ms: list[float] = []
    flagged = top1 = top10 = key_top1 = key_any = changed = 0
    for _ in range(args.trials):
        name = rng.choice(sorted(SPECIMENS))
        good = SPECIMENS[name]
        bad = corrupt(good, rng.randint(1, args.errors), rng)
        t0 = time.perf_counter()
        result = parse(bad, today=TODAY)
        t1 = time.perf_counter()
        cands = repair(bad, today=TODAY)
        t2 = time.perf_counter()
        parse_ms.append((t1 - t0) * 1000)
        repair_ms.append((t2 - t1) * 1000)
        changed += bad != good
        flagged += not result.valid
        lines = [c.lines for c in cands]
        top1 += bool(lines) and lines[0] == good
        top10 += good in lines[:10]
        good_key = parse(good, today=TODAY).bac_key
        key_top1 += bool(cands) and cands[0].bac_key == good_key
        key_any += good_key in bac_keys(cands)

    def q(values: list[float], p: float) -> float:
        return round(sorted(values)[min(len(values) - 1, int(p * len(values)))], 3)

    print(
        json.dumps(
            {
                "benchmark": "mrz_repair",
                "trials": args.trials,
                "max_errors": args.errors,
                "seed": args.seed,
                "flagged_invalid": round(flagged / args.trials, 4),
                "original_first": round(top1 / args.trials, 4),
                "original_in_top10": round(top10 / args.trials, 4),
                "bac_key_of_first_correct": round(key_top1 / args.trials, 4),
                "bac_key_among_candidates": round(key_any / args.trials, 4),
                "parse_ms_median": round(statistics.median(parse_ms), 3),
                "repair_ms_median": round(statistics.median(repair_ms), 3),
                "repair_ms_p95": q(repair_ms, 0.95),
                "repair_ms_max": round(max(repair_ms), 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
