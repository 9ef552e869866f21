"""The loop: monitor the champion, retrain when needed, decide, promote or roll back.

One run (``loop``): monitor the champion's logged traffic with its labels; roll back a
promotion of the last ``retrain.rollback_runs`` runs whose live performance alerts; otherwise,
on a drift or live-performance alert, a champion older than ``retrain.champion_max_age`` or
``force``, retrain a candidate and let :func:`~..core.promotion.promote_challenger` decide.
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

from ..core.config import TrainConfig, parse_duration
from ..core.data import file_lock
from ..core.models import TrackingError
from ..core.promotion import Champions, Decision, promote_challenger
from ..core.schema import DataError
from .config import DEFAULT_MONITORING_CONFIG
from .monitor import WrittenReport, monitor_batch
from .retraining import Candidate, retrain

logger = logging.getLogger(__name__)

LOOP_LOCK = ".loop.lock"
#: The traffic whose drift a run judges: what was logged since the previous (nightly) run.
DRIFT_WINDOW = timedelta(hours=24)


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
            if not force:
                reason = f"keep the champion: no traffic to judge ({error})"
                decision = Decision(action="keep", reason=reason, trigger="none", **facts)
                _record(store, decision, dry_run)
                return LoopRun(decision, None, None, wants_human=False)
            return _retrain_and_decide(config, store, None, "forced (--force)", facts, dry_run)
        report = written.report
        live_alert = report.performance.status == "alert" and report.performance.source == "labels"
        decisions = store.decisions()
        promoted = _recent_promotion(decisions, champion, config.retrain.rollback_runs)
        if live_alert and promoted is not None:
            decision = _roll_back(store, promoted, facts, dry_run)
            return LoopRun(decision, written, None, wants_human=True)
        trigger = _trigger(config, store, champion, written, force, moment)
        if trigger is None:
            reason = f"keep the champion: no trigger ({report.summary})"
            decision = Decision(action="keep", reason=reason, trigger="none", **facts)
            _record(store, decision, dry_run)
            return LoopRun(decision, written, None, wants_human=False)
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
    decision = promote_challenger(
        store, config, version=candidate.version, dry_run=dry_run, now=moment, trigger=trigger
    )
    wants_human = alerting and decision.action != "promote"
    return LoopRun(decision, written, candidate, wants_human=wants_human)


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
