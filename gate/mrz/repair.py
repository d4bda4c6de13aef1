"""OCR repair: ranked candidate corrections of an MRZ, each with its BAC key material.

The search is bounded (see docs/mrz.md, "Repair"):

1. Every position belongs to a field with a character class (digits in dates and check digits,
   letters and '<' in names and codes, digits, letters and '<' in document numbers and optional
   data, M/F/X/'<' for sex).
2. Each position gets options: keep it (when its class allows it), a confusion-set partner
   allowed by the class (``<``/K, 0/O/Q/D, 1/I/L, 2/Z, 5/S, 6/G, 8/B), or, for a character the
   class forbids without an allowed partner and for check digits, any allowed character.
3. Fields protected by a check digit (document number, birth, expiry, TD3 optional data) are
   enumerated with at most two optional changes plus the forced ones, and only variants whose
   check digit (and calendar date) hold are kept. Country codes keep only known codes. Data that
   only the composite check digit protects (TD1/TD2 optional data) gets at most one change.
4. A best-first search combines the fields' variants in order of total cost and keeps those
   whose composite check digit holds (incrementally: a change adds a known amount to the
   weighted sum).

``score`` is the sum of the change costs: lower is better, 0 is the input as read.
"""

from __future__ import annotations

import datetime
import heapq
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gate.mrz.checkdigit import VALUES, WEIGHTS
from gate.mrz.keys import BacKey
from gate.mrz.layout import Layout, Span, choose_layout, is_french_id
from gate.mrz.model import Candidate
from gate.mrz.parser import DIGITS, LETTERS, char_value, parse_lines, split_lines

CONFUSION_SETS: tuple[str, ...] = ("<K", "0OQD", "1IL", "2Z", "5S", "6G", "8B")
PARTNERS: dict[str, str] = {ch: group.replace(ch, "") for group in CONFUSION_SETS for ch in group}

ALNUM = DIGITS + LETTERS + "<"
ALPHA = LETTERS + "<"
SEX = "MFX<"

COST_FORCED = 0.2  # a character the field forbids, replaced by a confusion partner
COST_SWAP = 1.0  # an allowed character replaced by a confusion partner (BAC fields)
COST_SWAP_OTHER = 1.2  # the same outside the BAC fields: BAC-relevant variants rank first
COST_FILLER_TO_K = 1.8  # OCR reads '<' as 'K' far more often than 'K' as '<'
COST_NAME_FILLER = 0.5  # keeping a 'K' that stands among the name's trailing fillers
COST_ARBITRARY_FORCED = 2.0  # a forbidden character with no allowed partner
COST_ARBITRARY = 2.5  # a check digit read as another digit
COST_LENGTH = 3.0  # per character added or removed to fix a line length
COST_UNSATISFIED = 10.0  # a field whose check could not be satisfied: kept as read

COST_REPEAT = 0.3  # the same confusion again in one field (alphanumeric): one misread glyph
GLYPH_PAIRS = frozenset(
    frozenset(pair) for pair in ("O0", "I1", "B8", "S5", "Z2")
)  # the confusions a third swap in an alphanumeric field may use
MAX_SWAPS = 3  # changes in one alphanumeric field with a check digit (the third: GLYPH_PAIRS)
MAX_SWAP_VARIANTS = 4  # variants with MAX_SWAPS changes kept per field (bounded retries)

MAX_LENGTH_FIX = 3  # characters a line may miss or have too many (padded / cut)
MAX_UNREADABLE = 4  # more non-MRZ characters than this: no candidates (bounded search)

_MAX_POPS = 1500
_MAX_EXTENSION = 6  # longest long-number extension tried (with its check digit)
_FILLER_LOOKALIKES = " «‹_-"

Pos = tuple[int, int]
Change = tuple[int, int, str, str]  # 0-based line, column, from, to
Choice = tuple[Pos, str, float]  # a position, its new character, the cost
Accept = Callable[[dict[Pos, str], Sequence[Choice]], bool]


@dataclass(frozen=True)
class _Variant:
    changes: tuple[Change, ...]
    cost: float
    composite_delta: int = 0
    composite_digit: int | None = None  # only for the composite check digit's own group


def _kind(ch: str) -> str:
    return "d" if ch.isdigit() else ("f" if ch == "<" else "a")


def _swap_cost(old: str, new: str, neighbours: str, cost: float) -> float:
    """A swap that makes the character look like its neighbours (a digit between digits, a
    filler among fillers) is a little cheaper (5 % per neighbour), one that makes it stand out
    a little dearer: a tie-break where check digits cannot decide."""
    score = sum(_kind(n) == _kind(new) for n in neighbours) - sum(
        _kind(n) == _kind(old) for n in neighbours
    )
    return cost * (1 - 0.05 * score)


def _options(
    ch: str, allowed: str, swap_cost: float, check_digit: bool, neighbours: str = ""
) -> tuple[bool, list[tuple[str, float]]]:
    """(whether ``ch`` may stay, the alternatives with their costs)."""
    if ch in allowed:
        alts = [
            (p, _swap_cost(ch, p, neighbours, COST_FILLER_TO_K if ch == "<" else swap_cost))
            for p in PARTNERS.get(ch, "")
            if p in allowed
        ]
        if check_digit:
            alts += [
                (d, COST_ARBITRARY) for d in allowed if d != ch and d not in PARTNERS.get(ch, "")
            ]
        return True, alts
    forced = [(p, COST_FORCED) for p in PARTNERS.get(ch, "") if p in allowed]
    if not forced and ch in _FILLER_LOOKALIKES and "<" in allowed:
        forced = [("<", COST_FORCED)]
    if not forced:
        forced = [(a, COST_ARBITRARY_FORCED) for a in allowed]
    return False, forced


class _Search:
    def __init__(self, layout: Layout, lines: list[str], extension: int | None) -> None:
        self.layout = layout
        self.lines = lines
        self.extension = extension  # long number: characters of it (with its check digit)
        self.composite_weight: dict[Pos, int] = {}
        index = 0
        for line, start, end in layout.composite_spans:
            for col in range(start, end):
                self.composite_weight[(line, col)] = WEIGHTS[index % 3]
                index += 1

    def char(self, pos: Pos) -> str:
        return self.lines[pos[0]][pos[1]]

    def delta(self, changes: Sequence[Change]) -> int:
        total = 0
        for line, col, old, new in changes:
            weight = self.composite_weight.get((line, col))
            if weight:
                total += ((char_value(new) or 0) - (char_value(old) or 0)) * weight
        return total % 10

    def enumerate(
        self,
        positions: list[tuple[Pos, str, bool]],
        swap_cost: float,
        max_optional: int,
        accept: Accept | None,
        keep: int,
        glyph_swaps: int = 0,
    ) -> list[_Variant]:
        """Variants of one field: forced changes x up to ``max_optional`` optional changes,
        filtered by ``accept`` (given the field's text as position -> character).

        ``glyph_swaps`` (alphanumeric fields with a check digit): also variants of up to that
        many changes when every change is a :data:`GLYPH_PAIRS` swap of a data character (the
        issue's ``AOOB0OCD1`` for ``A00B00CD1``: three ``0`` read ``O`` at weights 3, 1, 1
        leave the check digit as it was), at most :data:`MAX_SWAP_VARIANTS` of them; in such a
        field the same confusion repeated costs :data:`COST_REPEAT` (one misread glyph of the
        font rather than several independent errors), so a consistent swap ranks before
        unrelated double changes."""
        forced: list[tuple[Pos, list[tuple[str, float]]]] = []
        optional: list[tuple[Pos, str, float]] = []
        in_field = {pos for pos, _, is_check in positions if not is_check}
        text_cells = [pos for pos, allowed, is_check in positions if not is_check]
        filler_like = {
            text_cells[j]
            for j in _filler_ks("".join(self.char(p) for p in text_cells), after=1)
            if dict((p, a) for p, a, _ in positions)[text_cells[j]] == ALNUM
        }
        penalties: dict[Pos, float] = {}
        for pos, allowed, is_check in positions:
            neighbours = "".join(
                self.char(n) for n in ((pos[0], pos[1] - 1), (pos[0], pos[1] + 1)) if n in in_field
            )
            may_keep, alts = _options(self.char(pos), allowed, swap_cost, is_check, neighbours)
            if pos in filler_like:
                # A 'K' among fillers is most likely a misread filler: reading it as '<' is
                # (nearly) free, keeping it costs.
                alts = [(a, COST_FORCED / 2 if a == "<" else c) for a, c in alts]
                penalties[pos] = COST_NAME_FILLER
            if may_keep:
                optional.extend((pos, a, c) for a, c in alts)
            else:
                forced.append((pos, alts))
        # Bound the forced product (several unreadable characters in one field).
        while forced and _product([len(a) for _, a in forced]) > 1500:
            longest = max(range(len(forced)), key=lambda i: len(forced[i][1]))
            pos, alts = forced[longest]
            forced[longest] = (pos, alts[: max(1, len(alts) // 2)])
        if len(forced) >= 2:
            max_optional = min(max_optional, 1)
        base = {pos: self.char(pos) for pos, _, _ in positions}
        found: list[_Variant] = []
        forced_lists = [[(pos, a, c) for a, c in alts] for pos, alts in forced]
        checks = {pos for pos, _, is_check in positions if is_check}

        def variant(chosen: Sequence[Choice]) -> _Variant:
            changes = tuple(sorted((pos[0], pos[1], self.char(pos), new) for pos, new, _ in chosen))
            changed = {pos for pos, _, _ in chosen}
            costs = [c for _, _, c in chosen]
            if glyph_swaps:
                seen: set[tuple[str, str]] = set()
                costs = []
                for pos, new, c in sorted(chosen, key=lambda item: -item[2]):
                    pair = (self.char(pos), new)
                    costs.append(c * COST_REPEAT if pair in seen else c)
                    seen.add(pair)
            cost = sum(costs) + sum(v for p, v in penalties.items() if p not in changed)
            return _Variant(changes, cost, self.delta(changes))

        for forced_choice in itertools.product(*forced_lists):
            for k in range(max_optional + 1):
                for extra in itertools.combinations(optional, k):
                    if len({pos for pos, _, _ in extra}) < k:
                        continue
                    chosen = (*forced_choice, *extra)
                    if accept is not None and not accept(base, chosen):
                        continue
                    found.append(variant(chosen))
        if glyph_swaps > max_optional and not forced:
            glyphs = [
                (pos, a, c)
                for pos, a, c in optional
                if pos not in checks and frozenset((self.char(pos), a)) in GLYPH_PAIRS
            ]
            more: list[_Variant] = []
            for k in range(max_optional + 1, glyph_swaps + 1):
                for extra in itertools.combinations(glyphs, k):
                    if len({pos for pos, _, _ in extra}) < k:
                        continue
                    if accept is not None and not accept(base, extra):
                        continue
                    more.append(variant(extra))
            more.sort(key=lambda v: (v.cost, v.changes))
            found.extend(more[:MAX_SWAP_VARIANTS])
        found.sort(key=lambda v: (v.cost, len(v.changes), v.changes))
        if found:
            return found[:keep]
        # Nothing satisfies the field: keep it with its forced changes only, penalised.
        changes = tuple(
            sorted((pos[0], pos[1], self.char(pos), alts[0][0]) for pos, alts in forced)
        )
        cost = sum(alts[0][1] for _, alts in forced) + COST_UNSATISFIED + sum(penalties.values())
        return [_Variant(changes, cost, self.delta(changes))]


def _product(values: list[int]) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def _span_positions(span: Span | None) -> list[Pos]:
    if span is None:
        return []
    line, start, end = span
    return [(line, col) for col in range(start, end)]


def _check_accept(
    search: _Search,
    data: list[Pos],
    check: Pos,
    allow_empty_filler: bool = False,
    date: bool = False,
) -> Accept:
    """Accept a variant whose check digit holds (and, for dates, that is a calendar date).
    The weighted sum is updated per change instead of recomputed: the search stays fast.
    Characters outside the MRZ set are always changed (their class forbids them), so their
    value in the base sum never matters."""
    weights = {p: WEIGHTS[i % 3] for i, p in enumerate(data)}
    base_total = sum(VALUES.get(search.char(p), 0) * weights[p] for p in data)

    def text(base: dict[Pos, str], chosen: Sequence[Choice]) -> str:
        cells = dict(base)
        for pos, new, _ in chosen:
            cells[pos] = new
        return "".join(cells[p] for p in data)

    def accept(base: dict[Pos, str], chosen: Sequence[Choice]) -> bool:
        total = base_total
        digit = base[check]
        for pos, new, _ in chosen:
            if pos == check:
                digit = new
            else:
                total += (VALUES[new] - VALUES.get(base[pos], 0)) * weights[pos]
        if digit == str(total % 10):
            return not date or _plausible_date(text(base, chosen))
        if allow_empty_filler and digit == "<":
            return set(text(base, chosen)) == {"<"}
        return False

    return accept


def _plausible_date(text: str) -> bool:
    if set(text) == {"<"}:
        return True
    if not text.isdigit():
        return False
    mm, dd = int(text[2:4]), int(text[4:6])
    if not 1 <= mm <= 12 or dd < 1:
        return False
    # 2000 is a leap year, so 29 February is accepted for every multiple of four.
    try:
        datetime.date(2000 + int(text[:2]), mm, dd)
    except ValueError:
        return False
    return True


def _country_accept(span: Span) -> Accept:
    from gate.mrz.countries import is_known, normalise_code

    positions = _span_positions(span)

    def accept(base: dict[Pos, str], chosen: Sequence[Choice]) -> bool:
        cells = dict(base)
        for pos, new, _ in chosen:
            cells[pos] = new
        return is_known(normalise_code("".join(cells[p] for p in positions)))

    return accept


def _name_variants(search: _Search, span: Span) -> list[_Variant]:
    """The name as read with forbidden characters replaced by their first allowed partner,
    the same with one of them replaced by another partner (a '0' may be O, Q or D), and,
    when some 'K's sit among the trailing fillers, the first reading with those as '<'."""
    line, start, end = span
    forced: list[tuple[int, str, list[tuple[str, float]]]] = []
    text = list(search.lines[line][start:end])
    for j, ch in enumerate(text):
        may_keep, alts = _options(ch, ALPHA, COST_SWAP_OTHER, False)
        if not may_keep:
            forced.append((start + j, ch, alts))
            text[j] = alts[0][0]
    first = [(line, col, ch, alts[0][0]) for col, ch, alts in forced]
    base_cost = sum(alts[0][1] for _, _, alts in forced)
    variants = [_Variant(tuple(first), base_cost, search.delta(first))]
    for i, (col, ch, alts) in enumerate(forced):
        for rank, (alt, cost) in enumerate(alts[1:3], 1):
            changes = list(first)
            changes[i] = (line, col, ch, alt)
            extra = cost - alts[0][1] + 0.01 * rank
            variants.append(_Variant(tuple(changes), base_cost + extra, search.delta(changes)))
        if len(variants) >= 6:
            break
    # Two fillers before the run: in a well-formed name only the separator '<<' is followed by
    # letters, so a valid name is never "repaired".
    filler_ks = _filler_ks("".join(text), after=2)
    if filler_ks:
        extra_changes = [(line, start + j, "K", "<") for j in filler_ks]
        # 'K's among trailing fillers are almost surely misread fillers: that reading ranks
        # first, the name as read (with its 'K's) after it.
        all_changes = tuple(sorted(first + extra_changes))
        variants.append(_Variant(all_changes, base_cost, search.delta(all_changes)))
        penalty = COST_NAME_FILLER * len(extra_changes)
        variants = [
            v
            if v.changes == all_changes
            else _Variant(v.changes, v.cost + penalty, v.composite_delta)
            for v in variants
        ]
    variants.sort(key=lambda v: v.cost)
    return variants


def _filler_ks(name: str, after: int = 2) -> list[int]:
    """Indices of 'K' runs that stand where fillers belong: preceded by ``after`` or more
    fillers and followed by a filler or the end. A 'K' run right after the first '<<' (a
    name's secondary identifier) is left alone."""
    out: list[int] = []
    separator = name.find("<<")
    j = 0
    while j < len(name):
        if (
            name[j] == "K"
            and j >= after
            and name[j - after : j] == "<" * after
            and j != separator + 2
        ):
            end = j
            while end < len(name) and name[end] == "K":
                end += 1
            if end == len(name) or name[end] == "<":
                out.extend(range(j, end))
            j = end
        else:
            j += 1
    return out


def _free_variant(search: _Search, positions: list[tuple[Pos, str]]) -> list[_Variant]:
    changes: list[Change] = []
    cost = 0.0
    for pos, allowed in positions:
        may_keep, alts = _options(search.char(pos), allowed, COST_SWAP_OTHER, False)
        if not may_keep:
            changes.append((pos[0], pos[1], search.char(pos), alts[0][0]))
            cost += alts[0][1]
    return [_Variant(tuple(changes), cost, search.delta(changes))]


def _groups(search: _Search) -> list[list[_Variant]]:
    lay = search.layout
    groups: list[list[_Variant]] = []
    keep_check = 8

    # Document code and sex: no check digit covers them; the class fixes forbidden characters.
    code_line, code_start, _ = lay.document_code
    groups.append(
        _free_variant(search, [((code_line, code_start), lay.code_letters)])
        if len(lay.code_letters) == 1
        else search.enumerate(
            [((code_line, code_start), lay.code_letters, False)], COST_SWAP_OTHER, 0, None, 1
        )
    )
    # The type letter: a '<'/'K' swap is offered as a further reading, nothing else.
    second = (code_line, code_start + 1)
    swappable = 1 if search.char(second) in "<K" else 0
    groups.append(search.enumerate([(second, ALPHA, False)], COST_SWAP_OTHER, swappable, None, 2))
    groups.append(_free_variant(search, [(p, SEX) for p in _span_positions(lay.sex)]))

    for span in (lay.issuing_state, lay.nationality):
        cells = [(p, ALPHA, False) for p in _span_positions(span)]
        groups.append(search.enumerate(cells, COST_SWAP_OTHER, 1, _country_accept(span), 3))

    groups.append(_name_variants(search, lay.name_field))

    # Document number (with its long-number continuation in the optional data).
    number = _span_positions(lay.document_number)
    check_pos = _span_positions(lay.document_number_check)[0]
    optional = _span_positions(lay.optional_data)
    if search.extension is not None:
        extension_len = search.extension
        extension = optional[:extension_len]
        data = number + extension[:-1]
        digit = extension[-1]
        # A long number fills its nine places and its extension: no fillers inside.
        cells = [(p, DIGITS + LETTERS, False) for p in data] + [(digit, DIGITS, True)]
        groups.append(
            search.enumerate(cells, COST_SWAP, 2, _check_accept(search, data, digit), keep_check)
        )
        groups.append(search.enumerate([(check_pos, "<", False)], COST_SWAP, 0, None, 1))
        if extension_len < len(optional):  # the filler that ends the extension stays one
            separator = optional[extension_len]
            groups.append(search.enumerate([(separator, "<", False)], COST_SWAP, 0, None, 1))
        optional = optional[extension_len + 1 :]
    else:
        cells = [(p, ALNUM, False) for p in number] + [(check_pos, DIGITS, True)]
        accept = _check_accept(search, number, check_pos)
        groups.append(search.enumerate(cells, COST_SWAP, 2, accept, keep_check, MAX_SWAPS))

    for span, check_span in (
        (lay.date_of_birth, lay.date_of_birth_check),
        (lay.date_of_expiry, lay.date_of_expiry_check),
    ):
        data = _span_positions(span)
        digit = _span_positions(check_span)[0]
        unknown = "<" if all(search.char(p) == "<" for p in data) else ""
        cells = [(p, DIGITS + unknown, False) for p in data] + [(digit, DIGITS, True)]
        groups.append(
            search.enumerate(
                cells, COST_SWAP, 2, _check_accept(search, data, digit, date=True), keep_check
            )
        )

    composite_covered = lay.composite_check is not None
    if lay.optional_data_check is not None:
        digit = _span_positions(lay.optional_data_check)[0]
        empty = all(search.char(p) == "<" for p in optional)
        cells = [(p, ALNUM, False) for p in optional] + [
            (digit, DIGITS + ("<" if empty else ""), True)
        ]
        accept = _check_accept(search, optional, digit, True)
        groups.append(search.enumerate(cells, COST_SWAP_OTHER, 2, accept, keep_check, MAX_SWAPS))
    else:
        for part in (optional, _span_positions(lay.optional_data_2)):
            if not part:
                continue
            cells = [(p, ALNUM, False) for p in part]
            limit = 1 if composite_covered else 0
            groups.append(search.enumerate(cells, COST_SWAP_OTHER, limit, None, 60))

    if lay.composite_check is not None:
        pos = _span_positions(lay.composite_check)[0]
        may_keep, alts = _options(search.char(pos), DIGITS, COST_SWAP, True)
        variants = [_Variant((), 0.0, 0, int(search.char(pos)))] if may_keep else []
        for new, cost in alts:
            variants.append(_Variant(((pos[0], pos[1], search.char(pos), new),), cost, 0, int(new)))
        variants.sort(key=lambda v: v.cost)
        groups.append(variants)
    return groups


def _normalise(lines: list[str], layout: Layout) -> tuple[list[str], list[Change], float]:
    """Upper-case, and fit every line to the layout's length (counted as changes)."""
    out: list[str] = []
    changes: list[Change] = []
    cost = 0.0
    for i, raw in enumerate(lines):
        line = "".join(ch.upper() if "a" <= ch <= "z" else ch for ch in raw)
        for j, (a, b) in enumerate(zip(raw, line, strict=True)):
            if a != b:
                changes.append((i, j, a, b))
                cost += COST_FORCED
        length = layout.line_length
        if len(line) < length:
            changes.extend((i, j, "", "<") for j in range(len(line), length))
            cost += COST_LENGTH * (length - len(line))
            line = line + "<" * (length - len(line))
        elif len(line) > length:
            changes.extend((i, j, line[j], "") for j in range(length, len(line)))
            cost += COST_LENGTH * (len(line) - length)
            line = line[:length]
        out.append(line)
    return out, changes, cost


def repair(
    lines: Sequence[str] | str,
    *,
    today: datetime.date | None = None,
    max_candidates: int = 10,
) -> list[Candidate]:
    """Ranked candidate readings of an MRZ (best first, ``score`` lower is better).

    When the input is valid, the first candidate is the input itself (score 0); the others are
    readings that pass every check digit as well (for example ``6``/``G``, ``1``/``L`` and
    ``<``/``K`` swaps, which check digits cannot see). A reader that fails BAC retries with the
    next candidate's ``bac_key``; :func:`bac_keys` lists the distinct keys in order.
    Returns ``[]`` when the shape matches no MRZ format.
    """
    if isinstance(today, datetime.datetime):
        today = today.date()
    return repair_lines(split_lines(lines), today or datetime.date.today(), max_candidates)


def repair_lines(
    lines: list[str], today: datetime.date, max_candidates: int = 10
) -> list[Candidate]:
    """:func:`repair` on already split lines with an explicit ``today`` (pure)."""
    if is_french_id(lines):  # no chip to open: the reading as it is, when it is valid
        result = parse_lines(lines, today)
        return [Candidate(tuple(lines), 0.0, [], result, None)] if result.valid else []
    layout = choose_layout([line.upper()[:1] + line[1:] for line in lines])
    if layout is None or max_candidates <= 0:
        return []
    if any(abs(len(line) - layout.line_length) > MAX_LENGTH_FIX for line in lines):
        return []  # far from any MRZ shape: nothing sensible to propose
    fixed, base_changes, base_cost = _normalise(lines, layout)
    unreadable = sum(ch not in ALNUM and ch not in _FILLER_LOOKALIKES for ln in fixed for ch in ln)
    if unreadable > MAX_UNREADABLE:
        return []  # not an MRZ with a few OCR errors: nothing sensible to propose
    check = layout.document_number_check
    opt_line, opt_start, _ = layout.optional_data
    check_char = fixed[check[0]][check[1]]
    # Long number: the extension (number continuation and its check digit) runs to a filler;
    # since '<' and 'K' are confused, every early '<' or 'K' may be where it ends.
    optional = fixed[opt_line][opt_start : layout.optional_data[2]]
    splits: list[int | None] = [
        k
        for k in range(1, min(len(optional), _MAX_EXTENSION) + 1)
        if (k == len(optional) or optional[k] in "<K") and optional[:k].count("<") <= 1
    ]
    modes: list[int | None] = [None]
    if layout.long_number and check_char in "<K" and optional.strip("<"):
        modes = splits + ([None] if check_char == "K" else [])
    chosen: list[tuple[float, list[str], list[Change]]] = []
    for mode in modes:
        chosen.extend(_search(layout, fixed, mode, max_candidates))
    chosen.sort(key=lambda item: item[0])
    candidates: list[Candidate] = []
    seen: set[tuple[str, ...]] = set()
    for cost, out_lines, changes in chosen:
        if tuple(out_lines) in seen:
            continue
        seen.add(tuple(out_lines))
        result = parse_lines(out_lines, today)
        all_changes = sorted(base_changes + changes)
        candidates.append(
            Candidate(
                lines=tuple(out_lines),
                score=round(base_cost + cost, 6),
                changes=[(ln + 1, col + 1, old, new) for ln, col, old, new in all_changes],
                result=result,
                bac_key=result.bac_key,
            )
        )
    candidates.sort(key=lambda c: (not c.result.valid, c.score))
    if candidates and candidates[0].result.valid:
        # Best-effort readings that still fail a check only when nothing passes them all.
        candidates = [c for c in candidates if c.result.valid]
    return candidates[:max_candidates]


def _search(
    layout: Layout, fixed: list[str], extension: int | None, max_candidates: int
) -> list[tuple[float, list[str], list[Change]]]:
    """Best-first combination of every field's variants under the composite check digit."""
    search = _Search(layout, fixed, extension)
    groups = [g for g in _groups(search) if g]
    composite_base = 0
    if layout.composite_check is not None:
        text = "".join(fixed[ln][s:e] for ln, s, e in layout.composite_spans)
        composite_base = sum((char_value(ch) or 0) * WEIGHTS[i % 3] for i, ch in enumerate(text))

    # Fields with a single reading are folded into a fixed part; the search runs over the rest.
    fixed_changes: list[Change] = []
    fixed_cost = 0.0
    fixed_delta = 0
    fixed_digit: int | None = None
    multi: list[list[_Variant]] = []
    for group in groups:
        if len(group) == 1:
            fixed_changes.extend(group[0].changes)
            fixed_cost += group[0].cost
            fixed_delta += group[0].composite_delta
            if group[0].composite_digit is not None:
                fixed_digit = group[0].composite_digit
        else:
            multi.append(group)
    digit_group = next(
        (g for g, group in enumerate(multi) if group[0].composite_digit is not None), None
    )

    def satisfied(state: tuple[int, ...], delta: int) -> bool:
        if layout.composite_check is None:
            return True
        digit = (
            fixed_digit
            if digit_group is None
            else multi[digit_group][state[digit_group]].composite_digit
        )
        return digit is not None and (composite_base + delta) % 10 == digit

    start = tuple(0 for _ in multi)
    start_cost = fixed_cost + sum(group[0].cost for group in multi)
    start_delta = fixed_delta + sum(group[0].composite_delta for group in multi)
    heap: list[tuple[float, tuple[int, ...], int]] = [(start_cost, start, start_delta)]
    seen = {start}
    out: list[tuple[float, list[str], list[Change]]] = []
    pops = 0
    while heap and len(out) < max_candidates and pops < _MAX_POPS:
        cost, state, delta = heapq.heappop(heap)
        pops += 1
        if satisfied(state, delta):
            rows = [list(line) for line in fixed]
            changes = list(fixed_changes)
            for g, i in enumerate(state):
                changes.extend(multi[g][i].changes)
            for line, col, _old, new in changes:
                rows[line][col] = new
            out.append((cost, ["".join(row) for row in rows], changes))
        for g, group in enumerate(multi):
            i = state[g]
            if i + 1 < len(group):
                nxt = (*state[:g], i + 1, *state[g + 1 :])
                if nxt not in seen:
                    seen.add(nxt)
                    step_cost = group[i + 1].cost - group[i].cost
                    step_delta = group[i + 1].composite_delta - group[i].composite_delta
                    heapq.heappush(heap, (cost + step_cost, nxt, delta + step_delta))
    return out


def bac_keys(candidates: Sequence[Candidate]) -> list[BacKey]:
    """The distinct BAC keys of ``candidates`` in order: what a reader retries BAC with."""
    out: list[BacKey] = []
    for cand in candidates:
        if cand.bac_key is not None and cand.bac_key not in out:
            out.append(cand.bac_key)
    return out
