"""The gate a stage passes before it publishes: validate, record, then go on or stop.

A job computes its frame, persists it (or stores it: bronze's events are read back
from the shuffle files of its checked rows), calls `check(...)` on it, and only then
MERGEs it into its table. `check` runs the stage's suite with great-expectations on
that already-computed frame (GX bundles the row-wise rules of one frame into a few
aggregate passes), keeps the results in the run, and raises `QualityGateError` when
a critical expectation failed: the stage is not published, and the error stops
every stage after it.

Recording is once per run, not once per gate: `recorded(spark, gates)` wraps a
whole run (`ottlake batch`, or one job's `main`), and when it ends, passed or
failed, appends every gate's results to `<lake>/_quality/results` in one Delta
commit and renders Data Docs once (about a second each: per gate, they were a
third of the aggregates stage at 10M events).

Cost: the result format asks for counts only (`partial_unexpected_count` 0): GX
then needs no extra job per expectation to sample unexpected values.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from ottlake.errors import QualityGateError
from quality import docs, results
from quality.suites import CRITICAL, MAX_QUARANTINE_SHARE, SUITES, Suite
from schemas.layout import Lake

RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}
_DATASOURCE = "ottlake"
_BATCH = "whole_frame"


@dataclass
class GateRun:
    """One pipeline run's gates: the id every stage records, the thresholds from
    settings, (made on first use, one per lake) the GX context that holds this
    run's suites and results, and the result rows not recorded yet."""

    run_id: str
    max_quarantine_share: float = 0.05
    recording_seconds: float = 0.0
    _contexts: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _making: dict[str, Future[Any]] = field(default_factory=dict, repr=False, compare=False)
    _pending: dict[str, tuple[Lake, list[results.ResultRow]]] = field(default_factory=dict, repr=False,
                                                                        compare=False)

    @classmethod
    def new(cls, *, max_quarantine_share: float = 0.05) -> GateRun:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return cls(f"{stamp}-{uuid.uuid4().hex[:8]}", max_quarantine_share)

    def parameters(self) -> dict[str, Any]:
        """The suites' `$PARAMETER` values."""
        return {MAX_QUARANTINE_SHARE: self.max_quarantine_share}

    def prepare(self, lake: Lake) -> None:
        """Start making the lake's GX context in a thread of its own: importing GX
        and building the context is 3-5 s of Python that the run's first gate
        would otherwise wait for, while the stage before it runs in the JVM. Only
        once the run's SparkSession is built: GX's Spark source asks for the
        session (getOrCreate), and must find that one, not make its own."""
        if lake.root in self._contexts or lake.root in self._making:
            return
        maker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ottlake-gx-context")
        self._making[lake.root] = maker.submit(_new_context, lake)
        maker.shutdown(wait=False)

    def context(self, lake: Lake) -> Any:
        if lake.root not in self._contexts:
            making = self._making.pop(lake.root, None)
            self._contexts[lake.root] = making.result() if making else _new_context(lake)
        return self._contexts[lake.root]

    def keep(self, lake: Lake, rows: list[results.ResultRow]) -> None:
        self._pending.setdefault(lake.root, (lake, []))[1].extend(rows)

    def record(self, spark: SparkSession) -> float:
        """Append the results kept since the last call to each lake's results table
        (one commit a lake) and render its Data Docs; the seconds it took (also
        added to `recording_seconds`)."""
        began = time.perf_counter()
        pending, self._pending = self._pending, {}
        for lake, rows in pending.values():
            if rows:
                results.append(spark, lake.quality_results, rows)
                docs.build(self.context(lake))
        seconds = time.perf_counter() - began
        self.recording_seconds += seconds
        return seconds


@contextlib.contextmanager
def recorded(spark: SparkSession, gates: GateRun) -> Iterator[GateRun]:
    """Run a block of gated stages; when it ends, whether it passed, a gate stopped
    it or it failed, record what the gates found (GateRun.record). A failure to
    record does not hide the block's own error."""
    try:
        yield gates
    except BaseException:
        with contextlib.suppress(Exception):
            gates.record(spark)
        raise
    gates.record(spark)


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str  # type(columns), e.g. expect_column_values_to_be_between(rebuffer_ratio)
    critical: bool
    success: bool
    observed_value: str | None
    unexpected_count: int | None

    def describe(self) -> str:
        if self.unexpected_count is not None:
            return f"{self.expectation}: {self.unexpected_count:,} unexpected"
        return f"{self.expectation}: observed {self.observed_value}"


@dataclass(frozen=True)
class GateOutcome:
    """What one gate found. `seconds` is what the gate cost its stage: its
    validation (recording is once per run: GateRun.record)."""

    stage: str
    suite: str
    rows: int | None
    seconds: float
    expectations: tuple[ExpectationOutcome, ...]

    @property
    def critical_failures(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if e.critical and not e.success]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if not e.critical and not e.success]

    def summary(self) -> str:
        """One line naming the suite, the first critical failure and its count."""
        failures = self.critical_failures
        if not failures:
            return f"quality gate {self.suite} passed ({len(self.warnings)} warning(s))"
        more = f" (and {len(failures) - 1} more critical)" if len(failures) > 1 else ""
        return (f"quality gate {self.suite} failed: {failures[0].describe()}{more}; "
                f"stage {self.stage} not published")


def check(lake: Lake, *, suite: str, frame: DataFrame, run: GateRun) -> GateOutcome:
    """Validate `frame` (persisted or stored by the caller) against the suite named `suite`,
    keep the results in `run`, and raise QualityGateError on a critical failure."""
    return check_all(lake, {suite: frame}, run=run)[0]


def check_all(lake: Lake, frames: Mapping[str, DataFrame], *,
              run: GateRun) -> list[GateOutcome]:
    """Validate each frame against the suite it is keyed by, keep the results in
    `run` (recorded when the run ends: `recorded`), then raise QualityGateError if
    any critical expectation failed. A stage with two outputs gates both before
    writing either."""
    started = time.perf_counter()
    context = run.context(lake)  # the run's first gate makes it (about 2 s), and is charged with it
    outcomes: list[GateOutcome] = []
    rows: list[results.ResultRow] = []
    for suite, frame in frames.items():
        checked_at = datetime.now(UTC)
        outcome = _validate(context, SUITES[suite], frame, run, checked_at)
        outcome = replace(outcome, seconds=time.perf_counter() - started)
        started = time.perf_counter()
        outcomes.append(outcome)
        rows += _rows(outcome, run.run_id, checked_at.replace(tzinfo=None))
    run.keep(lake, rows)
    failed = [o for o in outcomes if o.critical_failures]
    if failed:
        raise QualityGateError(failed[0].summary())
    return outcomes


def _validate(context: Any, spec: Suite, frame: DataFrame, run: GateRun, checked_at: datetime) -> GateOutcome:
    from great_expectations.core.run_identifier import RunIdentifier

    # A check column the frame already has is the job's own (suites: cheaper than the formula).
    checked = frame.select("*", *(build().alias(name) for name, build in spec.checks.items()
                                  if name not in frame.columns))
    result = _validation(context, spec).run(
        batch_parameters={"dataframe": checked},
        expectation_parameters=run.parameters(),
        result_format=RESULT_FORMAT,
        run_id=RunIdentifier(run_name=run.run_id, run_time=checked_at),
    )
    counted = [item.result.get("element_count") for item in result.results if item.result.get("element_count")]
    return GateOutcome(spec.stage, spec.name, max(counted) if counted else None, 0.0,
                       tuple(_outcome(item) for item in result.results))


def _rows(outcome: GateOutcome, run_id: str, checked_at: datetime) -> list[results.ResultRow]:
    return [
        results.ResultRow(run_id, outcome.stage, outcome.suite, item.expectation, item.critical, item.success,
                          item.observed_value, item.unexpected_count, outcome.rows, outcome.seconds, checked_at)
        for item in outcome.expectations
    ]


def _outcome(item: Any) -> ExpectationOutcome:
    """One GX ExpectationValidationResult, flattened."""
    config = item.expectation_config
    observed = item.result.get("observed_value")
    if item.exception_info and item.exception_info.get("raised_exception"):
        observed = f"error: {item.exception_info.get('exception_message')}"
    unexpected = item.result.get("unexpected_count")
    return ExpectationOutcome(
        expectation=_label(config.type, config.kwargs),
        critical=str(getattr(config.severity, "value", config.severity)) == CRITICAL,
        success=bool(item.success),
        observed_value=None if observed is None else json.dumps(observed, default=str),
        unexpected_count=None if unexpected is None else int(unexpected),
    )


def _label(kind: str, kwargs: dict[str, Any]) -> str:
    columns = [kwargs[key] for key in ("column", "column_A", "column_B") if kwargs.get(key)]
    columns += list(kwargs.get("column_list") or [])
    condition = kwargs.get("row_condition")
    where = f" where {_condition_text(condition)}" if condition else ""
    return f"{kind}({', '.join(columns)}){where}"


def _condition_text(condition: Any) -> str:
    """A GX row condition as text: `start_outcome != 'started'`."""
    if hasattr(condition, "model_dump"):
        condition = condition.model_dump()
    if isinstance(condition, dict) and condition.get("type") == "comparison":
        return f"{condition['column']['name']} {condition['operator']} {condition['parameter']!r}"
    return str(condition)


def _new_context(lake: Lake) -> Any:
    """An ephemeral GX context: in-memory stores, our Data Docs site only, no
    analytics, no progress bars."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={docs.SITE: docs.site_config(lake)},
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    # persist=False: the jobs persist (or store) the frames they gate, once.
    context.data_sources.add_spark(name=_DATASOURCE, persist=False)
    return context


def _validation(context: Any, spec: Suite) -> Any:
    """The context's validation definition of `spec`, made on first use."""
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError

    try:
        return context.validation_definitions.get(spec.name)
    except DataContextError:  # not made yet in this context
        pass
    asset = context.data_sources.get(_DATASOURCE).add_dataframe_asset(name=spec.name)
    batch = asset.add_batch_definition_whole_dataframe(_BATCH)
    suite = context.suites.add(gx.ExpectationSuite(name=spec.name, expectations=spec.expectations(),
                                                   meta={"stage": spec.stage, "about": spec.about}))
    return context.validation_definitions.add(gx.ValidationDefinition(name=spec.name, data=batch, suite=suite))
