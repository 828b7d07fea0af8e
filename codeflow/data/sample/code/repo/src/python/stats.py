"""Small statistics helpers."""

from __future__ import annotations

import math
from collections.abc import Iterable


class RunningStats:
    """Welford's online mean and variance."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self._m2 = 0.0

    def push(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self._m2 += delta * (x - self.mean)

    @property
    def stdev(self) -> float:
        return math.sqrt(self._m2 / (self.n - 1)) if self.n > 1 else 0.0


def summarize(values: Iterable[float]) -> dict[str, float]:
    stats = RunningStats()
    for v in values:
        stats.push(v)
    return {"n": stats.n, "mean": stats.mean, "stdev": stats.stdev}


if __name__ == "__main__":
    print(summarize([1.0, 2.0, 4.0, 8.0]))
