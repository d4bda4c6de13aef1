"""``egate face evaluate DIR --labels labels.csv``: verification accuracy on a labelled set.

Every image is embedded once (the embeddings are cached on disk, keyed by the image's sha256
and the pipeline configuration, so a second run or another condition re-embeds nothing that is
already known), then all pairs (or a seeded sample of the impostor pairs) are compared. Printed:
failures to detect, genuine and impostor pair counts, FNMR at FMR 0.1 % and 0.01 % with the
thresholds they need, FNMR and FMR at the configured threshold; a DET curve is written as PNG.

``--condition chip`` degrades one image of every pair to a chip-like portrait (240x320, JPEG
2000 or JPEG of at most 18 KB, :func:`gate.face.evaluation.chip_like`; the format chosen by
the parity of the image's sha256, so about half of each) and compares it with the other,
undegraded image; ``chip-jpeg`` and ``chip-jp2`` use one format for all.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from gate import config
from gate.face import evaluation, models
from gate.face.errors import EvaluationError, ImageError
from gate.face.evaluation import ChipFormat
from gate.face.pipeline import EMBEDDERS, FaceEngine, FaceObservation, combine_views
from gate.face.portrait import decode_image, decode_portrait
from gate.files import InputFileError, read_bounded, read_text_bounded

CONDITIONS = ("raw", "chip", "chip-jpeg", "chip-jp2")
PIPELINE_VERSION = 2
"""Bumped whenever what :meth:`FaceEngine.observe` computes changes: old cache entries then
no longer match."""
DEFAULT_CACHE = Path("var/face-embeddings")
DEFAULT_DET = Path("var/face-evaluate-det.png")


@dataclass(frozen=True)
class LabelledImage:
    file: str
    identity: str


def read_labels(path: Path, root: Path) -> list[LabelledImage]:
    """The ``file,identity`` rows of a labels CSV (other columns ignored), checked against
    ``root``: every file must exist inside it."""
    try:
        text = read_text_bounded(path, "labels")
    except InputFileError as exc:
        raise EvaluationError(f"cannot read the labels file: {exc}") from None
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in reader.fieldnames or []]
    if "file" not in columns or "identity" not in columns:
        raise EvaluationError(
            f"{path}: the first line must name the columns, at least 'file,identity' "
            f"(found {', '.join(columns) or 'nothing'})"
        )
    rows: list[LabelledImage] = []
    seen: set[str] = set()
    missing: list[str] = []
    base = root.resolve()
    for line, raw in enumerate(reader, 2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        file, identity = row.get("file", ""), row.get("identity", "")
        if not file or not identity:
            raise EvaluationError(f"{path} line {line}: empty 'file' or 'identity'")
        target = (root / file).resolve()
        if not target.is_relative_to(base):
            raise EvaluationError(f"{path} line {line}: {file!r} points outside {root}")
        if file in seen:
            raise EvaluationError(f"{path} line {line}: {file!r} is listed twice")
        seen.add(file)
        if not target.is_file():
            missing.append(file)
        rows.append(LabelledImage(file, identity))
    if missing:
        raise EvaluationError(
            f"{len(missing)} files of {path} are not in {root}, e.g. {', '.join(missing[:3])}: "
            "file names are relative to DIR"
        )
    if len({r.identity for r in rows}) < 2:
        raise EvaluationError(f"{path}: need at least two identities to form impostor pairs")
    return rows


@dataclass(frozen=True)
class Observed:
    """What the cache keeps of one image's observation."""

    views: dict[str, npt.NDArray[np.float32]] | None
    """Each model's embedding of the face and of its mirror image; None without a face."""
    faces: int
    issues: str
    """Quality issue codes joined by '+', or '' when the face is fine or absent."""
    enhanced: str
    error: str = ""


class EmbeddingCache:
    """Observations of images by (pipeline configuration, image sha256), in one ``.npz`` per
    configuration under ``directory``, saved atomically every ``save_every`` new entries."""

    def __init__(self, directory: Path | None, config_key: str, save_every: int = 200) -> None:
        self.path = None if directory is None else directory / f"{config_key}.npz"
        self.save_every = save_every
        self.entries: dict[str, Observed] = {}
        self._unsaved = 0
        if self.path is not None and self.path.is_file():
            self._load(self.path)

    def _load(self, path: Path) -> None:
        try:
            with np.load(path, allow_pickle=False) as data:
                keys, names = data["keys"], [str(n) for n in data["view_names"]]
                views = {n: data[f"view_{n}"] for n in names}
                faces, issues, enhanced, errors = (
                    data["faces"], data["issues"], data["enhanced"], data["errors"]
                )  # fmt: skip
        except (OSError, ValueError, KeyError) as exc:
            print(f"face evaluate: ignoring unreadable cache {path}: {exc}", file=sys.stderr)
            return
        for i, key in enumerate(keys):
            found = bool(names) and all(np.isfinite(views[n][i]).all() for n in names)
            self.entries[str(key)] = Observed(
                {n: views[n][i] for n in names} if found else None,
                int(faces[i]), str(issues[i]), str(enhanced[i]), str(errors[i]),
            )  # fmt: skip

    def get(self, key: str) -> Observed | None:
        return self.entries.get(key)

    def put(self, key: str, value: Observed) -> None:
        self.entries[key] = value
        self._unsaved += 1
        if self._unsaved >= self.save_every:
            self.save()

    def save(self) -> None:
        if self.path is None or not self._unsaved:
            return
        keys = sorted(self.entries)
        shapes: dict[str, int] = {}
        for entry in self.entries.values():
            for name, vector in (entry.views or {}).items():
                shapes[name] = len(vector)
        views = {n: np.full((len(keys), d), np.nan, np.float32) for n, d in shapes.items()}
        for i, key in enumerate(keys):
            for name, vector in (self.entries[key].views or {}).items():
                views[name][i] = vector
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp.npz")
        arrays: dict[str, Any] = {
            "keys": np.array(keys),
            "view_names": np.array(sorted(views), dtype=str),
            "faces": np.array([self.entries[k].faces for k in keys], np.int32),
            "issues": np.array([self.entries[k].issues for k in keys]),
            "enhanced": np.array([self.entries[k].enhanced for k in keys]),
            "errors": np.array([self.entries[k].error for k in keys]),
        }
        arrays.update({f"view_{n}": v for n, v in views.items()})
        np.savez(tmp, **arrays)
        os.replace(tmp, self.path)
        self._unsaved = 0


def config_key(engine: FaceEngine, condition: str, *, pick: str | None = None) -> str:
    """A digest of everything that decides an image's views (not the weights or flip, which
    are applied when scoring)."""
    used = ["yunet", *engine.embedders]
    parts = {
        "pipeline": PIPELINE_VERSION,
        "models": {key: models.MODELS[key].sha256 for key in used},
        "pick": pick or engine.pick,
        "score_threshold": engine.detector.score_threshold,
        "condition": condition,
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    return f"{condition}-{digest}"


class Progress:
    """A one-line progress bar on stderr: count, rate and time left, redrawn twice a second."""

    def __init__(self, label: str, total: int, *, enabled: bool = True, width: int = 30) -> None:
        self.label, self.total, self.enabled, self.width = label, total, enabled, width
        self.started = time.monotonic()
        self._last = 0.0
        self._finished = False

    def update(self, done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or self._finished:
            return
        if not force and now - self._last < 0.5 and done < self.total:
            return
        self._last = now
        elapsed = max(1e-6, now - self.started)
        rate = done / elapsed
        left = (self.total - done) / rate if rate > 0 else 0.0
        filled = int(self.width * done / max(1, self.total))
        bar = "#" * filled + "." * (self.width - filled)
        print(
            f"\r{self.label} [{bar}] {done}/{self.total} {rate:.1f}/s, "
            f"{int(left) // 60}:{int(left) % 60:02d} left ",
            end="",
            file=sys.stderr,
            flush=True,
        )
        if done >= self.total:
            self._finished = True
            print(file=sys.stderr, flush=True)


def _observed(obs: FaceObservation) -> Observed:
    issues = "+".join(obs.quality.issues) if obs.quality is not None else ""
    views = dict(obs.views) if obs.embedding is not None else None
    return Observed(views, obs.face_count, issues, "+".join(obs.enhanced))


def degrade(data: bytes, fmt: ChipFormat) -> bytes:
    """The chip-like portrait bytes of an image file's bytes."""
    return evaluation.chip_like(decode_image(data), fmt)


def chip_format(condition: str, sha256_hex: str) -> ChipFormat:
    """The chip portrait format of an image under ``condition``."""
    if condition == "chip":
        return "jp2" if int(sha256_hex[-1], 16) % 2 == 0 else "jpeg"
    return "jpeg" if condition == "chip-jpeg" else "jp2"


def observe_images(
    engine: FaceEngine,
    files: Sequence[Path],
    cache: EmbeddingCache,
    condition: str = "raw",
    *,
    progress: Progress | None = None,
) -> list[Observed]:
    """One :class:`Observed` per file, from the cache or by running the pipeline once."""
    out: list[Observed] = []
    for n, path in enumerate(files, 1):
        data = read_bounded(path, "image")
        key = hashlib.sha256(data).hexdigest()
        hit = cache.get(key)
        if hit is None:
            try:
                if condition == "raw":
                    image = decode_image(data, what=str(path))
                else:
                    image = decode_portrait(degrade(data, chip_format(condition, key)))
                hit = _observed(engine.observe(image, enhance_if_needed=True, all_views=True))
            except ImageError as exc:
                hit = Observed(None, 0, "", "", str(exc))
            cache.put(key, hit)
        out.append(hit)
        if progress is not None:
            progress.update(n)
    cache.save()
    if progress is not None:
        progress.update(len(files), force=True)
    return out


def embedding_matrix(
    observed: Iterable[Observed], weights: dict[str, float], flip: bool
) -> npt.NDArray[np.float32]:
    """N x D embeddings of the given weighting (a row of NaN where no face was found)."""
    rows = [None if o.views is None else combine_views(o.views, weights, flip) for o in observed]
    dim = max((len(r) for r in rows if r is not None), default=1)
    matrix = np.full((len(rows), dim), np.nan, np.float32)
    for i, row in enumerate(rows):
        if row is not None:
            matrix[i] = row
    return matrix


def summarise(
    rows: Sequence[LabelledImage],
    observed: Sequence[Observed],
    scores: evaluation.PairScores,
    configured: float,
) -> dict[str, Any]:
    """The report's figures (the keys named in ``docs/face.md``)."""
    failed = [r.file for r, o in zip(rows, observed, strict=True) if o.views is None]
    issues: dict[str, int] = {}
    for o in observed:
        for code in filter(None, o.issues.split("+")):
            issues[code] = issues.get(code, 0) + 1
    report: dict[str, Any] = {
        "images": len(rows),
        "identities": len({r.identity for r in rows}),
        "failures_to_detect": len(failed),
        "failed_images": failed[:20],
        "unreadable": sum(1 for o in observed if o.error),
        "images_padded": sum(1 for o in observed if "padded" in o.enhanced),
        "quality_issues": dict(sorted(issues.items())),
        "genuine_pairs": int(scores.genuine.size),
        "impostor_pairs": int(scores.impostor.size),
        "impostor_pairs_in_set": scores.impostor_total,
    }
    if scores.genuine.size == 0:
        raise EvaluationError("no genuine pairs: every identity has a single image")
    report.update(evaluation.operating_points(scores.genuine, scores.impostor, configured))
    return report


def register_evaluate(sub: Any, threshold_type: Callable[[str], float]) -> None:
    p = sub.add_parser(
        "evaluate",
        help="measure FNMR/FMR on a labelled image folder (all pairs), with a DET curve",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("dir", type=Path, help="folder of images")
    p.add_argument(
        "--labels", type=Path, required=True, help="CSV with columns file,identity (file relative "
        "to DIR; other columns are ignored)"
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--pairs", default="all", type=_pairs,
        help="'all' (default) or N: score all genuine pairs and N impostor pairs drawn with --seed",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the impostor sample (--pairs N)")
    p.add_argument("--condition", choices=CONDITIONS, default="raw",
                   help="raw, or one image of each pair degraded to a chip portrait")  # fmt: skip
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="embed each face and its mirror image (default: [face] flip)")  # fmt: skip
    p.add_argument("--models", type=_names, default=None,
                   help="embedding models, e.g. sface,dlib_resnet (default: [face])")  # fmt: skip
    p.add_argument("--weights", type=_numbers, default=None,
                   help="one weight per --models entry, e.g. 0.5,0.5 (default: equal)")  # fmt: skip
    p.add_argument("--pick", choices=("largest", "centre"), default="largest",
                   help="which face of an image with several: the largest (as the lane) or the "
                   "one nearest the centre (photo collections such as LFW)")  # fmt: skip
    p.add_argument("--det", type=Path, default=DEFAULT_DET, help=f"DET PNG (default {DEFAULT_DET})")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                   help=f"embedding cache (default {DEFAULT_CACHE}); 'none': no cache")  # fmt: skip
    p.add_argument("--config", type=Path, default=None, help="lane configuration file")
    p.add_argument("--threshold", type=threshold_type, default=None,
                   help="override [face] threshold for the at_configured figures")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=evaluate)


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in EMBEDDERS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"models are a comma list of {', '.join(EMBEDDERS)}")
    return names


def _numbers(text: str) -> list[float]:
    try:
        values = [float(n) for n in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma list of numbers") from None
    if any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError("weights must be positive")
    return values


def _pairs(text: str) -> int | None:
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither 'all' nor a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("the number of impostor pairs must be at least 1")
    return value


def observe_set(
    engine: FaceEngine,
    root: Path,
    rows: Sequence[LabelledImage],
    condition: str,
    cache_dir: Path | None,
    *,
    show_progress: bool = True,
) -> list[Observed]:
    """Every labelled image observed under ``condition``, through the cache."""
    files = [root / r.file for r in rows]
    cache = EmbeddingCache(cache_dir, config_key(engine, condition))
    if engine.pick != "largest" and cache_dir is not None:
        # An image with at most one face gives the same observation whichever face rule is
        # used: take those from the cache of the default rule instead of embedding them again.
        largest = EmbeddingCache(cache_dir, config_key(engine, condition, pick="largest"))
        for key, entry in largest.entries.items():
            if entry.faces <= 1 and key not in cache.entries:
                cache.entries[key] = entry
    label = "embedding" if condition == "raw" else f"embedding {condition}"
    bar = Progress(label, len(files), enabled=show_progress)
    return observe_images(engine, files, cache, condition, progress=bar)


def run(
    engine: FaceEngine,
    root: Path,
    rows: Sequence[LabelledImage],
    *,
    condition: str,
    cache_dir: Path | None,
    sample: int | None = None,
    seed: int = 0,
    show_progress: bool = True,
) -> tuple[dict[str, Any], evaluation.PairScores]:
    """Embed (through the cache), score the pairs and summarise; for the CLI and the bench."""
    identities = [r.identity for r in rows]
    gallery = observe_set(engine, root, rows, "raw", cache_dir, show_progress=show_progress)
    probes = None
    if condition != "raw":
        probes = observe_set(engine, root, rows, condition, cache_dir, show_progress=show_progress)
    scores = evaluation.pair_scores(
        embedding_matrix(gallery, engine.weights, engine.flip),
        identities,
        probes=None if probes is None else embedding_matrix(probes, engine.weights, engine.flip),
        sample=sample,
        seed=seed,
    )
    observed = gallery if probes is None else probes
    report = summarise(rows, observed, scores, engine.threshold)
    if probes is not None:
        report["failures_to_detect_undegraded"] = sum(1 for o in gallery if o.views is None)
    return report, scores


def evaluate(args: argparse.Namespace) -> int:
    face = config.load_lane(args.config).face
    threshold = face.threshold if args.threshold is None else args.threshold
    root: Path = args.dir
    if not root.is_dir():
        raise EvaluationError(f"{root} is not a folder of images")
    rows = read_labels(args.labels, root)
    overrides: dict[str, Any] = {"threshold": threshold, "pick": args.pick}
    if args.flip is not None:
        overrides["flip"] = args.flip
    if args.models is not None:
        overrides["embedders"] = args.models
        overrides["weights"] = args.weights
    elif args.weights is not None:
        raise EvaluationError("--weights needs --models (one weight per model)")
    engine = FaceEngine.from_config(face, **overrides)
    cache_dir = None if str(args.cache) == "none" else args.cache
    started = time.perf_counter()
    report, scores = run(
        engine, root, rows, condition=args.condition, cache_dir=cache_dir,
        sample=args.pairs, seed=args.seed, show_progress=not args.quiet,
    )  # fmt: skip
    curve = evaluation.det_points(scores.genuine, scores.impostor)
    image = evaluation.det_image({f"{root.name} {args.condition}": curve}, title="DET curve")
    args.det.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.det), image):
        raise EvaluationError(f"cannot write the DET curve to {args.det}")
    report = {
        **report,
        "condition": args.condition,
        "models": engine.weights,
        "flip": engine.flip,
        "pick": engine.pick,
        "pairs": "all" if args.pairs is None else args.pairs,
        "det_curve_png": str(args.det),
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"{report['images']} images of {report['identities']} people ({args.condition}), "
        f"{report['failures_to_detect']} failures to detect"
    )
    print(f"{report['genuine_pairs']:,} genuine and {report['impostor_pairs']:,} impostor pairs")
    for key, label in (("at_fmr_0.001", "FMR 0.1%"), ("at_fmr_0.0001", "FMR 0.01%")):
        point = report[key]
        note = "" if point["impostor_pairs_allowed"] else ": not resolved, too few impostor pairs"
        print(f"at {label}: FNMR {point['fnmr'] * 100:.2f}% (threshold {point['threshold']}){note}")
    conf = report["at_configured"]
    print(
        f"at the configured threshold {conf['threshold']}: FNMR {conf['fnmr'] * 100:.2f}%, "
        f"FMR {conf['fmr'] * 100:.4f}%"
    )
    print(f"DET curve: {args.det}")
    return 0
