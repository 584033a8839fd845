"""Repeated measurements summarised as median, min and max."""

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def text(self, digits: int) -> str:
        """`median (min–max)`, or the one value when there is only one."""
        median = f"{self.median:.{digits}f}"
        if len(self.values) == 1:
            return median
        return f"{median} ({min(self.values):.{digits}f}–{max(self.values):.{digits}f})"


def ratio(numerator: Sample | None, denominator: Sample | None) -> float | None:
    if numerator is None or denominator is None or denominator.median == 0:
        return None
    return numerator.median / denominator.median
