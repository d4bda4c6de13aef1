"""Train the MRZ character classifier, deterministically, from rendered OCR-B glyphs.

    python -m drivers.mrz_ocr.train [--out drivers/mrz_ocr/mrz_ocrb_mlp.npz]
                                    [--strips 6000] [--seed 7]

Random MRZ-like lines are drawn at a fixed pitch in OCR-B (mostly) and two other monospaced
fonts (so that slightly different MRZ printing still reads), with random resolution, small-cap
letters, stroke weight, blur, noise, glare, uneven light and JPEG compression; they are then cut
into cells by the very code the reader uses (``segment.line_cells``), and a two-layer perceptron
is trained on the cells with plain numpy (Adam, fixed seed). About a minute on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from drivers.mrz_ocr.fonts import load_font as _font
from drivers.mrz_ocr.fonts import ocrb_font_path
from drivers.mrz_ocr.recognise import ALPHABET, MODEL_PATH, Classifier
from drivers.mrz_ocr.segment import CHAR_H, STRIP_H, line_cells

EXTRA_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
)


def _fonts() -> list[tuple[str, float]]:
    fonts = [(str(ocrb_font_path()), 0.8)]
    extras = [p for p in EXTRA_FONTS if Path(p).exists()]
    for p in extras:
        fonts.append((p, 0.2 / len(extras)))
    total = sum(w for _, w in fonts)
    return [(p, w / total) for p, w in fonts]


def render_strip(text: str, rng: np.random.Generator, font_path: str) -> np.ndarray:
    """A degraded upright strip of ``text`` scaled like the reader's warp (CHAR_H high glyphs)."""
    pitch = float(rng.uniform(11.0, 36.0))
    probe = _font(font_path, 100)
    size = max(6, round(pitch / (probe.getlength("A") / 100.0)))
    font = _font(font_path, size)
    small = _font(font_path, max(5, round(size * 0.8)))
    cap_h = size * 0.72
    width = int(pitch * (len(text) + 2))
    height = int(cap_h * 3)
    paper = int(rng.integers(150, 250))
    ink = int(rng.integers(0, min(100, paper - 60)))
    img = Image.new("L", (width, height), paper)
    draw = ImageDraw.Draw(img)
    base_y = height / 2 + cap_h / 2
    smallcaps = rng.random() < 0.2
    for i, ch in enumerate(text):
        f = small if (smallcaps and ch.isalpha() and rng.random() < 0.5) else font
        jitter = float(rng.normal(0, 0.02 * pitch))
        draw.text((pitch * (i + 1) + jitter, base_y), ch, font=f, fill=ink, anchor="ls")
    arr: np.ndarray = np.asarray(img).astype(np.float32)
    weight = rng.random()
    if weight < 0.15:
        arr = cv2.erode(arr, np.ones((2, 2), np.uint8))
    elif weight < 0.3:
        arr = cv2.dilate(arr, np.ones((2, 2), np.uint8))
    _h, w = arr.shape
    ramp = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    arr *= 1.0 - float(rng.uniform(0, 0.35)) * ramp
    if rng.random() < 0.25:
        cx = float(rng.uniform(0, w))
        rad = float(rng.uniform(1.0, 4.0)) * cap_h
        xx = np.arange(w, dtype=np.float32)[None, :]
        arr += float(rng.uniform(40, 140)) * np.exp(-((xx - cx) ** 2) / (2 * rad**2))
    sigma = float(rng.choice([0.0, 0.5, 0.9, 1.3, 1.8]))
    if sigma:
        arr = cv2.GaussianBlur(arr, (0, 0), sigma)
    arr += rng.normal(0, float(rng.uniform(0, 14)), size=arr.shape).astype(np.float32)
    out: np.ndarray = np.clip(arr, 0, 255).astype(np.uint8)
    if rng.random() < 0.8:
        q = int(rng.integers(35, 95))
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, q])
        back = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if ok else None
        if back is not None:
            out = back
    # the reader's warp: line thickness estimate (with error) -> CHAR_H, small residual angle
    thickness = cap_h * float(rng.uniform(0.9, 1.2))
    s = CHAR_H / thickness
    angle = float(rng.normal(0, 0.4))
    center = (w / 2.0, base_y - cap_h / 2 + float(rng.normal(0, 0.08)) * cap_h)
    matrix = cv2.getRotationMatrix2D(center, angle, s)
    out_w = int(w * s)
    matrix[0, 2] += out_w / 2.0 - center[0]
    matrix[1, 2] += STRIP_H / 2.0 - center[1]
    return cv2.warpAffine(
        out, matrix, (out_w, STRIP_H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def random_text(rng: np.random.Generator, length: int) -> str:
    kinds = rng.choice(3, size=length, p=[0.35, 0.4, 0.25])
    out = []
    for k in kinds:
        if k == 0:
            out.append(ALPHABET[int(rng.integers(0, 10))])
        elif k == 1:
            out.append(ALPHABET[int(rng.integers(10, 36))])
        else:
            out.append("<")
    return "".join(out)


def make_dataset(strips: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    fonts = _fonts()
    xs, ys = [], []
    for k in range(strips):
        length = int(rng.choice([30, 36, 44]))
        text = random_text(rng, length)
        path = fonts[int(rng.choice(len(fonts), p=[w for _, w in fonts]))][0]
        strip = render_strip(text, rng, path)
        cells = line_cells(strip, (length,))
        if cells is None or cells.features.shape[0] != length:
            continue
        xs.append(cells.features)
        ys.append(np.array([ALPHABET.index(c) for c in text], dtype=np.int64))
        if k % 200 == 0:
            print(f"rendered {k}/{strips} lines", file=sys.stderr)
    return np.concatenate(xs), np.concatenate(ys)


def train(
    x: np.ndarray, y: np.ndarray, seed: int, hidden: int = 256, epochs: int = 30
) -> Classifier:
    rng = np.random.default_rng(seed)
    n, d = x.shape
    k = len(ALPHABET)
    w1 = (rng.normal(0, np.sqrt(2.0 / d), size=(d, hidden))).astype(np.float32)
    b1 = np.zeros(hidden, np.float32)
    w2 = (rng.normal(0, np.sqrt(1.0 / hidden), size=(hidden, k))).astype(np.float32)
    b2 = np.zeros(k, np.float32)
    params = [w1, b1, w2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    lr, beta1, beta2, eps, decay = 2e-3, 0.9, 0.999, 1e-8, 1e-5
    step = 0
    batch = 256
    for epoch in range(epochs):
        order = rng.permutation(n)
        rate = lr * (0.5 * (1 + np.cos(np.pi * epoch / epochs)))
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            xb, yb = x[idx], y[idx]
            h_pre = xb @ w1 + b1
            h = np.maximum(h_pre, 0)
            logits = h @ w2 + b2
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(yb)), yb] -= 1.0
            g_logits = p / len(yb)
            g_w2 = h.T @ g_logits + decay * w2
            g_b2 = g_logits.sum(axis=0)
            g_h = (g_logits @ w2.T) * (h_pre > 0)
            g_w1 = xb.T @ g_h + decay * w1
            g_b1 = g_h.sum(axis=0)
            step += 1
            for i, g in enumerate((g_w1, g_b1, g_w2, g_b2)):
                m[i] = beta1 * m[i] + (1 - beta1) * g
                v[i] = beta2 * v[i] + (1 - beta2) * g * g
                mh = m[i] / (1 - beta1**step)
                vh = v[i] / (1 - beta2**step)
                params[i] -= (rate * mh / (np.sqrt(vh) + eps)).astype(np.float32)
        print(f"epoch {epoch + 1}/{epochs}", file=sys.stderr)
    return Classifier(*params)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--strips", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    cv2.setRNGSeed(args.seed)
    x, y = make_dataset(args.strips, args.seed)
    split = int(len(x) * 0.9)
    model = train(x[:split], y[:split], args.seed + 1, epochs=args.epochs)
    held = model.log_probs(x[split:]).argmax(axis=1)
    accuracy = float((held == y[split:]).mean())
    model.save(args.out)
    print(
        json.dumps(
            {
                "out": str(args.out),
                "samples": len(x),
                "held_out_char_accuracy": round(accuracy, 5),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
