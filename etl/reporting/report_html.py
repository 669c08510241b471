"""The morning report as one self-contained HTML page: the template, its charts, its headline.

The page fetches nothing when opened: its CSS is inline, its charts are inline SVG, it has no
script, and its Content-Security-Policy forbids loading anything else should a later edit try.
Text from the database (batch names, file names, error messages) is escaped by Jinja's
autoescaping; nothing from it is ever marked safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from .. import __version__
from ..rows import BATCH_STATUSES, RUN_COUNTS
from ..text import duration_text, one_line, shorten
from .charts import Series, bar_chart, fills_width, hbar_chart
from .report_changes import STUCK_AFTER
from .report_data import MAX_RUNS, ReportData
from .report_labels import MIN_COMPARED
from .run_history import RunRecord

# Okabe–Ito colours: distinguishable with the common forms of colour blindness.
STATUS_COLORS = {
    "UNINITIALISED": "#999999",
    "PROCESSING": "#0072B2",
    "READY": "#009E73",
    "ERROR": "#D55E00",
}
RUN_COLORS = {
    "succeeded": "#009E73",
    "partial": "#E69F00",
    "failed": "#D55E00",
    "aborted": "#999999",
    "running": "#0072B2",
}
RUN_STATUSES = tuple(RUN_COLORS)
COUNT_COLORS = {"inserted": "#0072B2", "updated": "#CC79A7", "failed": "#D55E00"}
_TONE_BY_STATUS = {
    "succeeded": "ok",
    "partial": "warn",
    "failed": "bad",
    "aborted": "bad",
    "running": "info",
}
_SYMBOL = {"ok": "✓", "warn": "⚠", "bad": "✗", "info": "…", "empty": "–"}
_ERROR_IN_HEADLINE = 120


@dataclass(frozen=True)
class ThisRun:
    """What a sync that asks for the report knows about its own end.

    The report trusts ``etl_runs`` when the run's end is recorded there; this covers the
    cases where it is not: no run was started (a usage error, the lock held by another run),
    or the database went away before the run could be closed.
    """

    status: str  # succeeded, partial, failed, aborted; or "did not run"
    message: str | None = None
    run_id: int | None = None
    recorded: bool = True


@dataclass(frozen=True)
class Headline:
    """The first line of the page and its <title>: what a mail client previews."""

    text: str
    tone: str  # ok, warn, bad, info or empty

    @property
    def title(self) -> str:
        return f"{_SYMBOL[self.tone]} {self.text}"


def headline(run: RunRecord | None, this_run: ThisRun | None = None) -> Headline:
    """The run's outcome and counts, from ``etl_runs`` when its end is recorded there."""
    if this_run is not None and not _recorded(run, this_run):
        tone = _TONE_BY_STATUS.get(this_run.status, "bad")
        message = f": {_headline(this_run.message)}" if this_run.message else ""
        if this_run.run_id is None:
            return Headline(f"Sync {this_run.status}{message}", tone)
        return Headline(
            f"Run {this_run.run_id} {this_run.status}{message} (its end is not recorded in "
            "etl_runs)",
            tone,
        )
    if run is None:
        return Headline("Nothing yet: no run is recorded in this database", "empty")
    text = (
        f"Run {run.run_id} {run.status}: {run.inserted} inserted, {run.updated} updated, "
        f"{run.unchanged} unchanged, {run.failed} failed"
    )
    if run.error_message:
        text += f" — {_headline(run.error_message)}"
    return Headline(text, _TONE_BY_STATUS.get(run.status, "bad"))


def _recorded(run: RunRecord | None, this_run: ThisRun) -> bool:
    return (
        this_run.recorded
        and this_run.run_id is not None
        and run is not None
        and run.run_id == this_run.run_id
    )


def render_report(
    data: ReportData,
    *,
    database: str,
    this_run: ThisRun | None = None,
    problem: str | None = None,
) -> str:
    """The page. ``database`` names the database (its URL with the password hidden);
    ``problem`` says why the store could not be read, when it could not."""
    top = headline(data.run, this_run)
    template = _environment().get_template("report.html.j2")
    return template.render(
        title=top.title,
        tone=top.tone,
        data=data,
        database=database,
        problem=problem,
        version=__version__,
        statuses=BATCH_STATUSES,
        run_counts=RUN_COUNTS,
        status_colors=STATUS_COLORS,
        run_colors=RUN_COLORS,
        count_colors=COUNT_COLORS,
        max_runs=MAX_RUNS,
        stuck_hours=int(STUCK_AFTER.total_seconds() // 3600),
        min_compared=MIN_COMPARED,
        charts=_charts(data),
        timelines=_timelines(data),
    )


_CHARTS = (
    "status",
    "ready",
    "durations",
    "changes",
    "responses_per_day",
    "responses_per_batch",
    "datasets",
    "agreement",
)


def _charts(data: ReportData) -> dict:
    """Each chart that has something to draw; the template says so in words for the others."""
    charts: dict = {**dict.fromkeys(_CHARTS), "agreement": _agreement_chart(data)}
    days = data.status_days
    if days:
        charts["status"] = bar_chart(
            [d.day.isoformat() for d in days],
            [
                Series(s, [d.counts[s] for d in days], STATUS_COLORS[s])
                for s in BATCH_STATUSES
                if any(d.counts[s] for d in days)
            ],
            title="Batches in each status at the end of each day (UTC)",
            axis_labels=[_short_day(d.day) for d in days],
        )
    processing = data.processing
    if processing is not None and processing.ready:
        charts["ready"] = bar_chart(
            [label for label, _ in processing.buckets],
            [Series("batches", [n for _, n in processing.buckets], STATUS_COLORS["READY"])],
            title="Batches that became READY in the window, by time from PROCESSING to READY",
        )
    runs = list(reversed(data.runs))  # oldest first, left to right
    if runs:
        labels = [f"run {run.run_id}" for run in runs]
        tooltips = [f"run {r.run_id}, {_clock(r.started_at)} UTC, {r.status}" for r in runs]
        durations = [run.duration(data.generated_at) for run in runs]
        charts["durations"] = bar_chart(
            labels,
            [
                Series(
                    status,
                    [d if r.status == status else 0 for r, d in zip(runs, durations, strict=True)],
                    c,
                )
                for status, c in RUN_COLORS.items()
                if any(r.status == status for r in runs)
            ],
            title="Duration of each run",
            tooltips=tooltips,
            axis_labels=[str(run.run_id) for run in runs],
            durations=True,
        )
        if any(r.inserted or r.updated or r.failed for r in runs):
            charts["changes"] = bar_chart(
                labels,
                [
                    Series(name, [getattr(r, name) for r in runs], color)
                    for name, color in COUNT_COLORS.items()
                ],
                title="Batches inserted, updated and failed in each run",
                tooltips=tooltips,
                axis_labels=[str(run.run_id) for run in runs],
            )
    responses = data.responses
    if responses is not None:
        if responses.per_day:
            charts["responses_per_day"] = bar_chart(
                [day.isoformat() for day, _ in responses.per_day],
                [Series("responses", [n for _, n in responses.per_day], "#0072B2")],
                title="Responses per day (UTC)",
                axis_labels=[_short_day(day) for day, _ in responses.per_day],
            )
        charts["responses_per_batch"] = hbar_chart(
            [b.batch_name or b.batch_id for b in responses.top_batches],
            [b.responses for b in responses.top_batches],
            title="Batches with the most responses",
            color="#0072B2",
            unit="responses",
        )
    reuse = data.datasets
    if reuse is not None and reuse.top:
        charts["datasets"] = hbar_chart(
            [d.filename for d in reuse.top],
            [d.batches_using for d in reuse.top],
            title="Datasets listed by the most batches",
            color="#56B4E9",
            unit="batches",
        )
    return charts


def _agreement_chart(data: ReportData) -> Markup | None:
    """Mean alpha per batch (the weakest first), when any batch has one."""
    labels = data.labels
    if labels is None or not any(b.mean_alpha is not None for b in labels.batches):
        return None
    shown = [b for b in labels.batches if b.mean_alpha is not None]
    # Alpha below 0 (worse than chance) draws as no bar; its value is in the table.
    return hbar_chart(
        [b.name or b.batch_id for b in shown],
        [max(round(b.mean_alpha, 3), 0.0) for b in shown],
        title="Krippendorff's alpha per batch, averaged over its instructions",
        color="#009E73",
        unit="alpha",
    )


def _timelines(data: ReportData) -> set[str]:
    """The charts over time wide enough to scroll on a narrow screen: those open at their right
    end, on the latest day or run."""
    bars = {
        "status": len(data.status_days),
        "durations": len(data.runs),
        "changes": len(data.runs),
        "responses_per_day": len(data.responses.per_day) if data.responses else 0,
    }
    return {name for name, n in bars.items() if fills_width(n)}


_ENVIRONMENT: Environment | None = None


def _environment() -> Environment:
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        env = Environment(
            loader=PackageLoader("etl.reporting", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(
            clock=_clock,
            day=_day,
            seconds=_seconds,
            human=_human_duration,
            percent=_percent,
            share=_share,
            three=_three,
        )
        _ENVIRONMENT = env
    return _ENVIRONMENT


def _clock(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _day(value: date) -> str:
    return value.isoformat()


def _short_day(value: date) -> str:
    return f"{value:%b} {value.day}"


def _seconds(value: float | None) -> str:
    """Seconds for a table cell: a plain number a spreadsheet reads, to the tenth."""
    return "" if value is None else f"{value:.1f}"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def _share(value: float | None) -> str:
    """A ratio (0 to 1) as a whole percentage; a dash when there is none."""
    return "–" if value is None else f"{100 * value:.0f}%"


def _three(value: float | None) -> str:
    """An agreement figure to three decimals, as the published examples give them."""
    return "–" if value is None else f"{value:.3f}"


def _human_duration(seconds: float | None) -> str:
    return "–" if seconds is None else duration_text(seconds)


def _headline(text: str) -> str:
    return shorten(one_line(text), _ERROR_IN_HEADLINE)
