"""Reading numeric columns from the text files instruments write.

One reader for every measured file (S(k)/G(r)/T(r), impedance, XPS, DSC): header lines
before the data are kept (some carry the temperature or the column names); ``#``, ``!``
and ``%`` start comments; columns are split at commas, semicolons, tabs or spaces. A
non-numeric cell after the data has started is an error naming the file and the line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vitreous.errors import InputFileError

__all__ = ["Table", "read_table"]

_SPLIT = re.compile(r"[,;\t ]+")


@dataclass(frozen=True)
class Table:
    """Numeric columns of a text file.

    Attributes
    ----------
    data : ndarray, shape (n_rows, n_columns)
        The numbers, as read (no unit conversion).
    header : tuple of str
        Text lines before the first numeric row, and comment lines, in file order.
    path : Path
        The file.
    """

    data: np.ndarray
    header: tuple[str, ...]
    path: Path


def _comment_free(line: str) -> str:
    for mark in ("#", "!", "%"):
        line = line.split(mark, 1)[0]
    return line.strip()


def read_table(
    path: str | os.PathLike, min_columns: int, what: str, min_rows: int = 3, max_columns: int | None = None
) -> Table:
    """Read ``min_columns`` … ``max_columns`` numeric columns from a text file.

    Parameters
    ----------
    path : path-like
        The file.
    min_columns : int
        Columns every data row must have (extra columns are kept up to ``max_columns``).
    what : str
        What the columns are, for error messages (e.g. ``"frequency Re(Z) Im(Z)"``).
    min_rows : int
        Fewest data rows accepted.
    max_columns : int, optional
        Keep at most this many columns (default: the fewest any data row has).

    Raises
    ------
    InputFileError
        Missing or unreadable file, no data, a non-numeric or non-finite cell after the data
        started (naming the line), too few columns or rows.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"cannot read {path}: no such file", hint="check the path")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}") from None
    rows: list[list[float]] = []
    header: list[str] = []
    for n, line in enumerate(text.splitlines(), start=1):
        body = _comment_free(line)
        if not body:
            if line.strip():
                header.append(line.strip())
            continue
        parts = [p for p in _SPLIT.split(body) if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            if not rows:
                header.append(line.strip())
                continue
            raise InputFileError(
                f"{path}, line {n}: '{line.strip()[:60]}' is not numbers", hint=f"expected columns: {what}"
            ) from None
        if len(values) < min_columns:
            raise InputFileError(
                f"{path}, line {n}: {len(values)} column(s), need {min_columns}", hint=f"expected columns: {what}"
            )
        if not all(np.isfinite(values[: max_columns or len(values)])):
            raise InputFileError(f"{path}, line {n}: non-finite number", hint="remove NaN/inf rows")
        rows.append(values)
    if not rows:
        raise InputFileError(f"{path}: no numeric data", hint=f"expected columns: {what}")
    if len(rows) < min_rows:
        raise InputFileError(f"{path}: {len(rows)} data row(s), need at least {min_rows}")
    width = min(len(r) for r in rows)
    if max_columns is not None:
        width = min(width, max_columns)
    return Table(np.array([r[:width] for r in rows], dtype=float), tuple(header), path)
