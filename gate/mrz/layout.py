"""Where each field sits in the five MRZ formats (ICAO Doc 9303 Parts 4 to 7).

Positions here are 0-based (line index, start, end exclusive); everything shown to people is
1-based. Layouts are facts of the standard:

- TD3 (Part 4, 2 x 44), MRV-A (Part 7, 2 x 44), TD2 (Part 6, 2 x 36), MRV-B (Part 7, 2 x 36),
  TD1 (Part 5, 3 x 30).
- Composite check digit: TD3 over line 2 columns 1-10, 14-20, 22-43; TD2 over line 2 columns
  1-10, 14-20, 22-35; TD1 over line 1 columns 6-30 and line 2 columns 1-7, 9-15, 19-29.
  Visas have no composite check digit.
"""

from __future__ import annotations

from dataclasses import dataclass

Span = tuple[int, int, int]  # line index, start, end (exclusive), all 0-based


@dataclass(frozen=True)
class Layout:
    name: str
    line_count: int
    line_length: int
    code_letters: str  # allowed first characters of the document code
    document_code: Span
    issuing_state: Span
    name_field: Span
    document_number: Span
    document_number_check: Span
    nationality: Span
    date_of_birth: Span
    date_of_birth_check: Span
    sex: Span
    date_of_expiry: Span
    date_of_expiry_check: Span
    optional_data: Span
    optional_data_check: Span | None
    optional_data_2: Span | None
    composite_check: Span | None
    composite_spans: tuple[Span, ...]
    long_number: bool  # the document number may continue in the optional data


def _two_line(
    name: str, length: int, letters: str, opt_end: int, opt_check: bool, composite: bool
) -> Layout:
    return Layout(
        name=name,
        line_count=2,
        line_length=length,
        code_letters=letters,
        document_code=(0, 0, 2),
        issuing_state=(0, 2, 5),
        name_field=(0, 5, length),
        document_number=(1, 0, 9),
        document_number_check=(1, 9, 10),
        nationality=(1, 10, 13),
        date_of_birth=(1, 13, 19),
        date_of_birth_check=(1, 19, 20),
        sex=(1, 20, 21),
        date_of_expiry=(1, 21, 27),
        date_of_expiry_check=(1, 27, 28),
        optional_data=(1, 28, opt_end),
        optional_data_check=(1, opt_end, opt_end + 1) if opt_check else None,
        optional_data_2=None,
        composite_check=(1, length - 1, length) if composite else None,
        composite_spans=((1, 0, 10), (1, 13, 20), (1, 21, length - 1)) if composite else (),
        long_number=name != "TD3",
    )


TD3 = _two_line("TD3", 44, "P", 42, True, True)
MRVA = _two_line("MRVA", 44, "V", 44, False, False)
TD2 = _two_line("TD2", 36, "ACI", 35, False, True)
MRVB = _two_line("MRVB", 36, "V", 36, False, False)
TD1 = Layout(
    name="TD1",
    line_count=3,
    line_length=30,
    code_letters="ACI",
    document_code=(0, 0, 2),
    issuing_state=(0, 2, 5),
    name_field=(2, 0, 30),
    document_number=(0, 5, 14),
    document_number_check=(0, 14, 15),
    nationality=(1, 15, 18),
    date_of_birth=(1, 0, 6),
    date_of_birth_check=(1, 6, 7),
    sex=(1, 7, 8),
    date_of_expiry=(1, 8, 14),
    date_of_expiry_check=(1, 14, 15),
    optional_data=(0, 15, 30),
    optional_data_check=None,
    optional_data_2=(1, 18, 29),
    composite_check=(1, 29, 30),
    composite_spans=((0, 5, 30), (1, 0, 7), (1, 8, 15), (1, 18, 29)),
    long_number=True,
)

LAYOUTS: dict[str, Layout] = {lay.name: lay for lay in (TD1, TD2, TD3, MRVA, MRVB)}


def choose_layout(lines: list[str]) -> Layout | None:
    """The layout for these lines by line count, length and document code; ``None`` when the
    shape fits none. Lengths may be off by a few characters (OCR): the nearest one is chosen."""
    if len(lines) == 3:
        return TD1
    if len(lines) != 2:
        return None
    length = max(len(lines[0]), len(lines[1]))
    visa = lines[0][:1] == "V"
    if abs(length - 44) <= abs(length - 36):
        return MRVA if visa else TD3
    return MRVB if visa else TD2
