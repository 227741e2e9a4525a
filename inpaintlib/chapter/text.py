"""Numbers in generated sentences, written as a reader expects them: no "nan", no "-0.00", no "1 cell(s)"."""
from __future__ import annotations

import pandas as pd

__all__ = ["MISSING", "signed", "counted"]

#: What a table or a sentence prints for a missing value (NaN, None, NaT): an en dash, never ``nan`` or ``None``.
MISSING = "\u2013"


def signed(value: float, digits: int = 2) -> str:
    """``value`` with an explicit sign and ``digits`` decimals for generated text ("+0.21", "-1.05"); a value that
    rounds to zero is printed "0.00", never "-0.00" or "+0.00"; a missing one is :data:`MISSING`."""
    if pd.isna(value):
        return MISSING
    text = f"{value:+.{digits}f}"
    return text[1:] if float(text) == 0 else text


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun`` in the number ``n`` asks for: ``counted(1, "cell")`` is "1 cell", ``counted(3, "cell")``
    "3 cells" (``plural`` when adding "s" is wrong, e.g. ``counted(2, "pass", "passes")``)."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"
