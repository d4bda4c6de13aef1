"""The MRZ search is bounded in time: a large page of dense ordinary text (thousands of line
pieces) is searched within the budget, an MRZ on such a page is still found, and a search that
runs out of budget says so."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from drivers.mrz_ocr import locate, pipeline
from drivers.mrz_ocr.pipeline import BUDGET_SPENT, read_image
from simulator.docpages import random_identity, render_page

TEXT_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LIMIT = 3.0  # s on the loaded 2-core machine; the search budget is SEARCH_BUDGET (1.5 s)


def dense_text_page(width: int = 3000, height: int = 4000, seed: int = 1) -> np.ndarray:
    """A page of random lower-case words in a proportional font, 34 px line pitch: every line
    is long, thin and parallel to the next, the worst case for a line-group search (before the
    bound, 203 s)."""
    rng = np.random.default_rng(seed)
    img = Image.new("L", (width, height), 235)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(TEXT_FONT, 22)
    y = 40
    while y < height - 40:
        x = 40
        while x < width - 300:
            n = int(rng.integers(3, 12))
            word = "".join(chr(int(c)) for c in rng.integers(97, 123, n))
            draw.text((x, y), word, font=font, fill=20)
            x += int(font.getlength(word)) + int(rng.integers(10, 60))
        y += 34
    return np.asarray(img).copy()


def test_dense_text_page_has_no_mrz_and_is_searched_quickly() -> None:
    page = dense_text_page()
    started = time.perf_counter()
    result = read_image(page)
    seconds = time.perf_counter() - started
    assert not result.found
    assert seconds < LIMIT, result.timings


def test_passport_page_on_a_dense_text_page_is_read() -> None:
    page = dense_text_page()
    rng = np.random.default_rng(7)
    identity = random_identity(rng, "TD3")
    passport, lines = render_page(identity, dpi=300, rng=rng)
    gray = passport.mean(axis=2).astype(np.uint8)
    h, w = gray.shape
    page[1500 : 1500 + h, 900 : 900 + w] = gray
    started = time.perf_counter()
    result = read_image(page)
    assert time.perf_counter() - started < LIMIT, result.timings
    assert result.lines == lines


def test_merge_is_one_pass_and_bounded() -> None:
    """A line cut into three pieces becomes one; a thousand parallel pieces merge quickly."""
    pieces = [
        np.array([[x, 100], [x + 50, 100], [x + 50, 108], [x, 108]], np.float32)
        for x in (0, 60, 120)
    ]
    merged = locate._merge_collinear(pieces)
    assert len(merged) == 1
    many = [
        np.array([[x, y], [x + 50, y], [x + 50, y + 8], [x, y + 8]], np.float32)
        for y in range(0, 40 * locate.MAX_PIECES, 40)
        for x in (0, 60)
    ]
    started = time.perf_counter()
    assert len(locate._merge_collinear(many)) == locate.MAX_PIECES
    assert time.perf_counter() - started < 1.0


def test_spent_budget_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "SEARCH_BUDGET", 0.0)
    result = read_image(dense_text_page(1200, 1600))
    assert not result.found
    assert result.budget_spent
    assert result.message == BUDGET_SPENT
    assert result.to_dict()["budget_spent"] is True
    assert locate.find_mrz(dense_text_page(600, 800), deadline=0.0) == []
