"""The one table the bench prints, and the same data as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Value = float | int | str


@dataclass
class Row:
    section: str
    label: str
    value: Value
    unit: str = ""
    note: str = ""


@dataclass
class Target:
    label: str
    measured: str
    met: bool


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    #: Raw numbers by key, for targets and for the JSON file.
    data: dict[str, Any] = field(default_factory=dict)

    def row(self, section: str, label: str, value: Value, unit: str = "", note: str = "") -> None:
        self.rows.append(Row(section, label, value, unit, note))

    def target(self, label: str, measured: str, met: bool) -> None:
        self.targets.append(Target(label, measured, met))

    def render(self) -> str:
        lines: list[str] = []
        width_label = max([len(r.label) for r in self.rows] + [len(t.label) for t in self.targets] + [10])
        values = [_format(r.value) + (f" {r.unit}" if r.unit else "") for r in self.rows]
        width_value = max([len(v) for v in values] + [8])
        section = None
        rule = "-" * (width_label + width_value + 50)
        lines.append(rule)
        order = sorted(range(len(self.rows)), key=lambda i: self.rows[i].section)  # stable
        for row, value in ((self.rows[i], values[i]) for i in order):
            if row.section != section:
                section = row.section
                lines.append(f"{section}")
            lines.append(f"  {row.label:<{width_label}}  {value:>{width_value}}  {row.note}".rstrip())
        if self.targets:
            lines.append("Targets")
            for t in self.targets:
                verdict = "met" if t.met else "NOT MET"
                lines.append(f"  {t.label:<{width_label}}  {verdict:>{width_value}}  {t.measured}")
        lines.append(rule)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "rows": [asdict(r) for r in self.rows],
            "targets": [asdict(t) for t in self.targets],
            "data": self.data,
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, default=str) + "\n", encoding="utf-8")


def _format(value: Value) -> str:
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return value
