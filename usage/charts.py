"""The geometry of the dashboard's charts, drawn as SVG by the template: no script, no inline style
(the page's CSP forbids both), nothing fetched from elsewhere."""

import math
from dataclasses import dataclass

# About the width a chart is shown at beside another, so that its text is about the page's size.
CHART_WIDTH = 440
CHART_HEIGHT = 150
GAP = 0.2  # of each column's slot, left empty between columns


@dataclass(frozen=True)
class Column:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float


@dataclass(frozen=True)
class ColumnChart:
    width: int
    height: int
    top: float  # the value at the top of the chart (a round number)
    columns: list[Column]

    @property
    def middle(self) -> float:
        return self.top / 2


def nice_top(largest: float) -> float:
    """The smallest of 1, 2, 5 × 10^n at or above `largest` (1 for an empty chart)."""
    if largest <= 0:
        return 1
    power = 10 ** math.floor(math.log10(largest))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= largest)


def column_chart(points: list[tuple[str, float]]) -> ColumnChart:
    """Columns for (label, value) points, left to right, scaled to a round top value."""
    top = nice_top(max((value for _label, value in points), default=0))
    slot = CHART_WIDTH / max(len(points), 1)
    columns = []
    for index, (label, value) in enumerate(points):
        height = CHART_HEIGHT * value / top
        x = index * slot + slot * GAP / 2
        columns.append(
            Column(
                round(x, 2),
                round(CHART_HEIGHT - height, 2),
                round(slot * (1 - GAP), 2),
                round(height, 2),
                label,
                value,
            )
        )
    return ColumnChart(CHART_WIDTH, CHART_HEIGHT, top, columns)


def shares(values: list[float]) -> list[float]:
    """Each value as a percentage of the largest, for the bars beside a table's rows."""
    largest = max(values, default=0)
    return [round(100 * value / largest, 1) if largest else 0.0 for value in values]


def percent_of(value: float, limit: float | None) -> float:
    """How much of a limit is used, as a percentage from 0 to 100 (0 without a limit)."""
    return 0.0 if not limit else round(min(100.0, 100 * value / limit), 1)
