"""What the observability tests read: the SDK's in-memory span exporter and metric reader
(one pair per process: the global providers can be set only once), metric deltas, and
the ``logto_asgi`` log records with their structured extras.

A test clears the finished spans and snapshots the metrics when it starts
(:meth:`Telemetry.reset`); what it then reads is what its own requests produced.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from opentelemetry.sdk.metrics.export import (
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

#: The meter (and tracer) name of the contract.
SCOPE = "logto_asgi"
#: LogRecord attributes every record has: anything else on a record is an ``extra``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
#: The structured extras of the contract.
LOG_FIELDS = ("logto_event", "logto_outcome", "logto_error_code", "logto_session")

#: An attribute value as the tests compare it (the SDK types them loosely).
AttrValue = object
MetricKey = tuple[str, tuple[tuple[str, AttrValue], ...]]


class SwitchableSpanExporter(InMemorySpanExporter):
    """The in-memory exporter, which drops spans once the observability tests are done
    (other test folders of the same run must not fill it)."""

    def __init__(self) -> None:
        super().__init__()
        self.recording = True

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not self.recording:
            return SpanExportResult.SUCCESS
        return super().export(spans)


def attrs(span: ReadableSpan) -> Mapping[str, AttrValue]:
    return span.attributes or {}


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.trace_id)


def parent_id(span: ReadableSpan) -> int | None:
    return int(span.parent.span_id) if span.parent is not None else None


def is_error(span: ReadableSpan) -> bool:
    return span.status.status_code is StatusCode.ERROR


@dataclass
class Spans:
    """Finished spans (a snapshot), with the lookups the tests need."""

    all: list[ReadableSpan]

    def named(self, name: str, **attributes: AttrValue) -> list[ReadableSpan]:
        return [
            s for s in self.all if s.name == name and all(attrs(s).get(k) == v for k, v in attributes.items())
        ]

    def one(self, name: str, **attributes: AttrValue) -> ReadableSpan:
        found = self.named(name, **attributes)
        assert len(found) == 1, f"{len(found)} {name} spans {attributes}; all: {self.summary()}"
        return found[0]

    def by_id(self, ident: int) -> ReadableSpan | None:
        return next((s for s in self.all if span_id(s) == ident), None)

    def ancestors(self, span: ReadableSpan) -> Iterator[ReadableSpan]:
        current = span
        while (parent := parent_id(current)) is not None:
            found = self.by_id(parent)
            if found is None:
                return
            yield found
            current = found

    def is_under(self, span: ReadableSpan, ancestor: ReadableSpan) -> bool:
        return any(span_id(a) == span_id(ancestor) for a in self.ancestors(span))

    def under(self, ancestor: ReadableSpan, name: str, **attributes: AttrValue) -> list[ReadableSpan]:
        return [s for s in self.named(name, **attributes) if self.is_under(s, ancestor)]

    def servers(self) -> list[ReadableSpan]:
        return [s for s in self.all if s.kind is SpanKind.SERVER]

    def summary(self) -> list[str]:
        return [f"{s.name} {dict(attrs(s))} {s.status.status_code.name}" for s in self.all]


def metric_points(reader: InMemoryMetricReader, scope: str = SCOPE) -> dict[MetricKey, float]:
    """Every data point of the ``scope`` meter: a counter's value, a histogram's count."""
    points: dict[MetricKey, float] = {}
    data = reader.get_metrics_data()
    if data is None:
        return points
    for resource in data.resource_metrics:
        for scoped in resource.scope_metrics:
            if scoped.scope.name != scope:
                continue
            for metric in scoped.metrics:
                for point in metric.data.data_points:
                    key = (metric.name, tuple(sorted((point.attributes or {}).items())))
                    if isinstance(point, HistogramDataPoint | ExponentialHistogramDataPoint):
                        points[key] = float(point.count)
                    elif isinstance(point, NumberDataPoint):
                        points[key] = float(point.value)
    return points


@dataclass
class MetricDelta:
    """What the metrics gained between two snapshots (counters: value; histograms: points)."""

    gained: dict[MetricKey, float]

    def total(self, name: str, **attributes: AttrValue) -> float:
        """The gain of ``name`` summed over the points whose attributes include ``attributes``."""
        return sum(
            value
            for (metric, point), value in self.gained.items()
            if metric == name and all(dict(point).get(k) == v for k, v in attributes.items())
        )

    def points(self, name: str) -> list[dict[str, AttrValue]]:
        return [dict(point) for (metric, point) in self.gained if metric == name]


@dataclass
class Telemetry:
    """The process's span exporter and metric reader, reset per test."""

    exporter: SwitchableSpanExporter
    reader: InMemoryMetricReader
    _baseline: dict[MetricKey, float] = field(default_factory=dict)

    def reset(self) -> None:
        """Forget the spans so far and take the metrics' baseline."""
        self.exporter.clear()
        self._baseline = metric_points(self.reader)

    def spans(self) -> Spans:
        return Spans(list(self.exporter.get_finished_spans()))

    def metrics(self) -> MetricDelta:
        now = metric_points(self.reader)
        gained = {k: v - self._baseline.get(k, 0.0) for k, v in now.items()}
        return MetricDelta({k: v for k, v in gained.items() if v})

    def wait_for(self, name: str, timeout: float = 5.0, **attributes: AttrValue) -> Spans:
        """The spans once one named ``name`` has finished (spans of a served app end in
        its own thread, possibly just after the response was sent)."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans()
            if spans.named(name, **attributes) or time.monotonic() > deadline:
                return spans
            time.sleep(0.02)


class RecordingHandler(logging.Handler):
    """Keeps every record of the ``logto_asgi`` loggers."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def extras(self, record: logging.LogRecord) -> dict[str, object]:
        return {k: v for k, v in vars(record).items() if k not in _STANDARD}

    def text(self) -> str:
        """Every record as a line: level, logger, message, every extra, any traceback."""
        formatter = logging.Formatter()
        lines = []
        for record in self.records:
            line = f"{record.levelname} {record.name} {record.getMessage()} "
            line += json.dumps(self.extras(record), default=repr, sort_keys=True)
            if record.exc_info:
                line += "\n" + formatter.formatException(record.exc_info)
            if record.stack_info:
                line += "\n" + record.stack_info
            lines.append(line)
        return "\n".join(lines)

    def with_field(self, key: str, value: object) -> list[logging.LogRecord]:
        return [r for r in self.records if getattr(r, key, None) == value]


def span_text(spans: Spans) -> str:
    """Everything a span exporter would ship about these spans."""
    parts: list[str] = []
    for span in spans.all:
        parts.append(span.name)
        parts.extend(f"{k}=" + str(v) for k, v in attrs(span).items())
        parts.append(span.status.description or "")
        for event in span.events:
            parts.append(event.name)
            parts.extend(f"{k}=" + str(v) for k, v in (event.attributes or {}).items())
        for link in span.links:
            parts.extend(f"{k}=" + str(v) for k, v in (link.attributes or {}).items())
    return "\n".join(parts)


def metric_text(reader: InMemoryMetricReader) -> str:
    """Every metric name and data point attribute of every meter."""
    parts: list[str] = []
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data is not None else []:
        for scoped in resource.scope_metrics:
            for metric in scoped.metrics:
                parts.append(f"{metric.name} {metric.description} {metric.unit}")
                for point in metric.data.data_points:
                    parts.extend(f"{k}=" + str(v) for k, v in (point.attributes or {}).items())
    return "\n".join(parts)
