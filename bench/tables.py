"""Statistics of a series of runs and the Markdown cells and tables the benchmark reports show them in."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence


@dataclass(frozen=True)
class Summary:
    """Median and spread of a series of measurements."""

    median: float
    low: float
    high: float
    count: int

    @property
    def spread(self) -> float:
        return self.high - self.low


def summarize(values: Iterable[float | int | None]) -> Summary | None:
    """Median, min and max of the values that are not None; None when there are none."""
    data = [float(v) for v in values if v is not None]
    if not data:
        return None
    return Summary(statistics.median(data), min(data), max(data), len(data))


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def verdict_of(target: float | None, ok: Callable[[float], bool]) -> str:
    if target is None:
        return "–"
    return "met" if ok(target) else "NOT met"


def number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if digits == 0:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def median_cell(summary: Summary | None, unit: str = "", digits: int = 1) -> str:
    if summary is None:
        return "–"
    return f"{number(summary.median, digits)}{(' ' + unit) if unit else ''}"


def spread_cell(summary: Summary | None, digits: int = 1) -> str:
    """"low – high", or the single value when every run gave the same."""
    if summary is None:
        return "–"
    if summary.count == 1 or number(summary.low, digits) == number(summary.high, digits):
        return number(summary.low, digits)
    return f"{number(summary.low, digits)} – {number(summary.high, digits)}"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; `|` in cells is escaped."""
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)
