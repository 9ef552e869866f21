"""The loop: monitor the champion, retrain when needed, decide, promote or roll back.

One run (``loop``): monitor the champion's logged traffic with its labels; roll back a
promotion of the last ``retrain.rollback_runs`` runs whose live performance alerts; otherwise,
on a drift or live-performance alert, a champion older than ``retrain.champion_max_age`` or
``force``, retrain a candidate and let :func:`~..core.promotion.promote_challenger` decide.
With ``promotion.shadow`` the new challenger waits instead: the servers score it in shadow, and
a later run decides on its labelled live records once there are ``promotion.min_rows`` of them
(no retrain replaces it meanwhile, unless it is older than ``retrain.window``).
Every run ends in one recorded :class:`~..core.promotion.Decision`. Runs take a lock in the
models folder: a second loop at the same time is refused as a temporary failure.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from ..core.config import TrainConfig, parse_duration
from ..core.data import file_lock
from ..core.models import TrackingError
from ..core.pipeline import PREDICTION_COLUMN
from ..core.promotion import Champions, Decision, promote_challenger
from ..core.schema import DataError
from .config import DEFAULT_MONITORING_CONFIG
from .inputs import CHAMPION_PREDICTION
from .monitor import WrittenReport, monitor_batch
from .retraining import (
    Candidate,
    ShadowRows,
    agreement,
    retrain,
    shadow_rows,
    write_shadow_set,
)

logger = logging.getLogger(__name__)

LOOP_LOCK = ".loop.lock"
#: The traffic whose drift a run judges: what was logged since the previous (nightly) run.
DRIFT_WINDOW = timedelta(hours=24)
#: How the trigger of a decision taken on shadow evidence (``promotion.shadow``) starts.
SHADOW_TRIGGER = "shadow"


@dataclass(frozen=True)
class LoopRun:
    """What one run saw and decided; ``wants_human`` when it ends with a problem left open."""

    decision: Decision
    #: None when nothing was logged in the window: there was no traffic to judge.
    monitoring: WrittenReport | None
    candidate: Candidate | None
    wants_human: bool

    def as_dict(self) -> dict[str, Any]:
        """What ``loop`` prints."""
        written = self.monitoring
        return {
            "decision": self.decision.model_dump(mode="json"),
            "monitoring": None
            if written is None
            else {
                "status": written.report.status,
                "performance": written.report.performance.status,
                "summary": written.report.summary,
                "reports": [str(path) for path in written.paths],
            },
            "candidate": self.candidate.as_dict() if self.candidate else None,
            "wants_human": self.wants_human,
        }


@dataclass(frozen=True)
class InShadow:
    """A challenger waiting in shadow (``promotion.shadow``) and its labelled live records."""

    version: str
    live: ShadowRows
    #: Why the records cannot decide yet (too few rows, or of a class); None: they can.
    short: str | None

    @property
    def ready(self) -> bool:
        """Whether the promotion rule can decide on the records now."""
        return self.short is None


@contextmanager
def loop_lock(models_dir: Path) -> Iterator[None]:
    """Hold the models folder's loop lock, or refuse at once when another loop holds it."""
    path = models_dir / LOOP_LOCK
    try:
        with file_lock(path, wait=False):
            yield
    except BlockingIOError:
        raise TrackingError(
            f"another loop is running (it holds {path}): try again when it has finished",
            temporary=True,
        ) from None


def run_loop(
    config: TrainConfig,
    store: Champions,
    *,
    report_dir: Path,
    monitoring_config: Path = DEFAULT_MONITORING_CONFIG,
    force: bool = False,
    dry_run: bool = False,
    now: datetime | None = None,
    drift_window: timedelta = DRIFT_WINDOW,
) -> LoopRun:
    """One run of the loop (see the module's docstring).

    Drift is judged on what was logged in ``drift_window`` before ``now``; live performance on
    the label window of the monitoring config. Without any traffic in the window the run keeps
    the champion (and retrains only when forced).
    """
    moment = now or datetime.now(UTC)
    with loop_lock(config.output.models_dir):
        champion = store.champion()
        if champion is None:
            raise DataError(f"{store.where} has no champion yet: train and promote one first")
        facts: dict[str, Any] = {"decided_at": moment, "champion": champion, "dry_run": dry_run}
        written: WrittenReport | None = None
        try:
            with store.open(champion) as bundle:  # wherever the store keeps it, verified
                written = monitor_batch(
                    bundle.directory,
                    config.retrain.logs,
                    report_dir=report_dir,
                    config_path=monitoring_config,
                    since=(moment - drift_window).isoformat(),
                    until=moment.isoformat(),
                    labels=config.retrain.labels,
                )
        except DataError as error:  # no log, or nothing logged in the window
            quiet = error
        if written is not None:
            report = written.report
            live_alert = (
                report.performance.status == "alert" and report.performance.source == "labels"
            )
            decisions = store.decisions()
            promoted = _recent_promotion(decisions, champion, config.retrain.rollback_runs)
            if live_alert and promoted is not None:
                decision = _roll_back(store, promoted, facts, dry_run)
                return LoopRun(decision, written, None, wants_human=True)
        waiting = _in_shadow(config, store, champion, moment)
        if waiting is not None and waiting.ready:
            return _decide_on_shadow(config, store, written, waiting, moment, dry_run)
        if written is None and not force:
            return _keep(store, f"no traffic to judge ({quiet})", "none", None, waiting, facts)
        trigger = "forced (--force)"
        if written is not None:
            found = _trigger(config, store, champion, written, force, moment)
            if found is None:
                why = f"no trigger ({written.report.summary})"
                return _keep(store, why, "none", written, waiting, facts)
            trigger = found
        if waiting is not None:  # it waits for labelled live records: no retrain over it
            return _keep(store, None, trigger, written, waiting, facts)
        return _retrain_and_decide(config, store, written, trigger, facts, dry_run)


def _retrain_and_decide(
    config: TrainConfig,
    store: Champions,
    written: WrittenReport | None,
    trigger: str,
    facts: dict[str, Any],
    dry_run: bool,
) -> LoopRun:
    """Retrain and decide; an alerting run that keeps the champion wants a human."""
    alerting = written is not None and written.report.status == "alert"
    moment: datetime = facts["decided_at"]
    try:
        candidate = retrain(config, store, now=moment)
    except DataError as error:
        reason = f"keep the champion: {error}"
        decision = Decision(action="keep", reason=reason, trigger=trigger, **facts)
        _record(store, decision, dry_run)
        return LoopRun(decision, written, None, wants_human=alerting)
    if not candidate.passed:
        failures = "; ".join(candidate.failures)
        reason = f"keep the champion: the candidate failed the quality gate ({failures})"
        decision = Decision(action="keep", reason=reason, trigger=trigger, **facts)
        _record(store, decision, dry_run)
        return LoopRun(decision, written, candidate, wants_human=alerting)
    if config.promotion.shadow:  # decided later, on the live records it serves in shadow
        reason = (
            f"keep the champion: challenger {candidate.version} waits in shadow for "
            f"promotion.min_rows = {config.promotion.min_rows} labelled live records "
            "(promotion.shadow)"
        )
        decision = Decision(
            action="keep", reason=reason, trigger=trigger, challenger=candidate.version, **facts
        )
        _record(store, decision, dry_run)
        return LoopRun(decision, written, candidate, wants_human=alerting)
    decision = promote_challenger(
        store, config, version=candidate.version, dry_run=dry_run, now=moment, trigger=trigger
    )
    wants_human = alerting and decision.action != "promote"
    return LoopRun(decision, written, candidate, wants_human=wants_human)


def _in_shadow(
    config: TrainConfig, store: Champions, champion: str, now: datetime
) -> InShadow | None:
    """The challenger that waits in shadow, with its labelled live records; None: none waits.

    Only with ``promotion.shadow``. A challenger already decided on shadow evidence waits no
    more, nor does one older than ``retrain.window`` that is still short of records: it never
    got traffic (no server scores it in shadow), and a retrain may replace it.
    """
    if not config.promotion.shadow:
        return None
    challenger = store.challenger()
    if challenger is None or challenger == champion:
        return None
    if any(
        decision.challenger == challenger and (decision.trigger or "").startswith(SHADOW_TRIGGER)
        for decision in store.decisions()
    ):
        return None
    with store.open(challenger) as bundle:
        metadata = bundle.metadata
    window = parse_duration(config.retrain.window)
    # The server logs the bundle's own version; a registry store names it by its number.
    live = shadow_rows(config, {challenger, metadata.version}, now - window, now)
    short = _short_of_rows(config, live.rows, metadata.classes, challenger)
    if short is not None and now - metadata.created_at > window:
        return None
    return InShadow(challenger, live, short)


def _short_of_rows(
    config: TrainConfig, rows: pd.DataFrame, classes: list[Any] | None, challenger: str
) -> str | None:
    """Why ``rows`` are too few for the promotion rule to decide on; None: they are enough."""
    settings = config.promotion
    if len(rows) < settings.min_rows:
        return (
            f"challenger {challenger} is in shadow with {len(rows)} of promotion.min_rows = "
            f"{settings.min_rows} labelled live records"
        )
    if config.task == "regression" or classes is None:
        return None
    counts = rows[config.data.target].astype(str).value_counts()
    found = {str(label): int(counts.get(str(label), 0)) for label in classes}
    short = {label: count for label, count in found.items() if count < settings.min_rows_per_class}
    if not short:
        return None
    return (
        f"challenger {challenger} is in shadow with {len(rows)} labelled live records, by class "
        f"{short}, fewer than promotion.min_rows_per_class = {settings.min_rows_per_class}"
    )


def _decide_on_shadow(
    config: TrainConfig,
    store: Champions,
    written: WrittenReport | None,
    waiting: InShadow,
    now: datetime,
    dry_run: bool,
) -> LoopRun:
    """Let the promotion rule decide on the challenger's labelled live records, kept as a file."""
    live = waiting.live
    path = write_shadow_set(live.rows, config, now)
    said = agreement(
        config.task, live.predictions[PREDICTION_COLUMN], live.predictions[CHAMPION_PREDICTION]
    )
    trigger = (
        f"{SHADOW_TRIGGER}: {len(live.rows)} labelled live records of challenger "
        f"{waiting.version} within retrain.window = {config.retrain.window}; live agreement "
        f"with the champion: {said}"
    )
    decision = promote_challenger(
        store,
        config,
        version=waiting.version,
        comparison=path,
        trigger=trigger,
        now=now,
        dry_run=dry_run,
    )
    alerting = written is not None and written.report.status == "alert"
    return LoopRun(decision, written, None, wants_human=alerting and decision.action != "promote")


def _keep(
    store: Champions,
    why: str | None,
    trigger: str,
    written: WrittenReport | None,
    waiting: InShadow | None,
    facts: dict[str, Any],
) -> LoopRun:
    """Keep the champion and record why, and which challenger waits in shadow, if one does."""
    challenger = None if waiting is None else waiting.version
    reasons = [why, None if waiting is None else waiting.short]
    reason = "keep the champion: " + "; ".join(text for text in reasons if text)
    decision = Decision(
        action="keep", reason=reason, trigger=trigger, challenger=challenger, **facts
    )
    _record(store, decision, facts["dry_run"])
    alerting = written is not None and written.report.status == "alert"
    return LoopRun(decision, written, None, wants_human=alerting)


def _trigger(
    config: TrainConfig,
    store: Champions,
    champion: str,
    written: WrittenReport,
    force: bool,
    now: datetime,
) -> str | None:
    """Why this run retrains: forced, an alert, or the champion's age; None: it does not."""
    report = written.report
    if force:
        return "forced (--force)"
    if report.status == "alert":
        cause = "live performance" if report.performance.status == "alert" else "drift"
        return f"{cause} alert: {report.summary}"
    max_age = config.retrain.champion_max_age
    if max_age is not None:
        with store.open(champion) as bundle:
            age = now - bundle.metadata.created_at
        if age > parse_duration(max_age):
            return (
                f"champion {champion} is {age.days} day(s) old, past "
                f"retrain.champion_max_age = {max_age}"
            )
    return None


def _recent_promotion(decisions: list[Decision], champion: str, runs: int) -> Decision | None:
    """The promotion that made ``champion``, if fewer than ``runs`` loop runs followed it.

    Loop runs are the decisions with a trigger; a ``promote`` command's are not counted. The
    first champion (nothing before it) has nothing to roll back to.
    """
    since = 0
    for decision in reversed(decisions):
        if decision.action == "promote" and decision.acted:
            recent = decision.challenger == champion and since < runs
            return decision if recent and decision.champion is not None else None
        if decision.action == "rollback" and decision.acted:
            return None
        since += decision.trigger is not None
    return None


def _roll_back(
    store: Champions, promoted: Decision, facts: dict[str, Any], dry_run: bool
) -> Decision:
    """Give the champion back to the one before ``promoted``; record it (undone if that fails)."""
    reason = (
        f"roll back: live performance of version {promoted.challenger}, promoted at "
        f"{promoted.decided_at.isoformat()}, alerts within retrain.rollback_runs; the previous "
        f"champion {promoted.champion} serves again"
    )
    decision = Decision(
        action="rollback",
        reason=reason,
        challenger=promoted.champion,
        trigger="live performance alert after a promotion",
        **facts,
    )
    if dry_run:
        return decision
    replaced, _ = store.rollback()
    decision = decision.model_copy(update={"acted": True})
    try:
        store.record(decision)
    except BaseException:
        store.promote(replaced)
        raise
    return decision


def _record(store: Champions, decision: Decision, dry_run: bool) -> None:
    if not dry_run:
        store.record(decision)
