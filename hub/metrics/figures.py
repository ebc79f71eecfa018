"""The arithmetic of response metrics, pure and exact, so a test can check it by hand.

- ``median``: the middle value of the sorted durations; for an even count, the mean
  of the two middle values, rounded down to a whole second.
- ``p90``: the nearest-rank 90th percentile: the value at rank ceil(0.9 × n) of the
  sorted durations (1-based). For 1 to 10 values that is the largest but one
  rounded up: 10 values → the 9th, 5 values → the 5th.
- ``rate``: on time ÷ (on time + late), None when there is nothing to divide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Durations:
    """Whole-second durations over one period: how many, their median and p90."""

    count: int
    median_seconds: int | None
    p90_seconds: int | None


@dataclass(frozen=True)
class Punctuality:
    """Things due in one period: done on time, done late, and still not done."""

    on_time: int
    late: int
    missed: int

    @property
    def rate(self) -> float | None:
        done = self.on_time + self.late
        return None if done == 0 else round(self.on_time / done, 4)


def median(values: list[int]) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) // 2


def p90(values: list[int]) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def durations(values: Iterable[int]) -> Durations:
    seconds = [int(v) for v in values]
    return Durations(count=len(seconds), median_seconds=median(seconds), p90_seconds=p90(seconds))


def change(current: int | None, previous: int | None) -> int | None:
    """Seconds more (positive) or less (negative) than the previous period; None
    when either period has no figure."""
    if current is None or previous is None:
        return None
    return current - previous
