"""Champion against challenger: the promotion rule, its decisions, and where champions live.

The rule (:func:`decide`) scores both models on the same labelled comparison set and promotes
only when the configured metric improves by at least ``promotion.margin`` and a one-sided
paired bootstrap of the improvement (rows resampled together for both models,
:func:`scipy.stats.bootstrap`) says it is not noise at ``promotion.level``; with enough rows
(and rows per class), and not sooner than ``promotion.min_interval`` after the last promotion.
Every outcome is a :class:`Decision` that names its reason and is recorded by the store.

A store (:class:`Champions`) knows the champion and the challenger and moves them: the MLflow
registry's aliases (``tracking.RegistryChampions``), or, without tracking, the models folder
(:class:`LocalChampions`): ``latest.json`` is the champion, ``challenger.json`` the candidate
``retrain`` left, and ``decisions.jsonl`` the record.
"""

import json
import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError
from scipy import stats

from .bundle import (
    LATEST_POINTER,
    ArtifactError,
    ModelBundle,
    ModelMetadata,
    incompatibilities,
    is_version_name,
    latest_version,
    load_bundle,
    publish_latest,
    read_pointer,
    sha256_file,
)
from .config import PromotionConfig, TrainConfig, parse_duration
from .data import file_lock, read_table, write_text_atomically
from .metrics import LOWER_IS_BETTER, PRIMARY_METRICS, Task
from .pipeline import PREDICTION_COLUMN, PROBABILITY_PREFIX
from .schema import DataError, require_columns

Action = Literal["promote", "keep", "rollback"]
#: What the decisions record and the command line call the test.
PAIRED_TEST = "paired bootstrap"
#: Resampled rows scored at once, at most: memory stays bounded however large the set.
BOOTSTRAP_CELLS = 2_000_000
DECISIONS_LOG = "decisions.jsonl"
CHALLENGER_POINTER = "challenger.json"
DECISIONS_LOCK = ".decisions.lock"


class Decision(BaseModel):
    """One decision on the champion: what, why, and the evidence (scores, test, rows)."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    decided_at: datetime
    action: Action
    #: Whether the action was carried out (not for ``keep`` or a dry run).
    acted: bool = False
    dry_run: bool = False
    reason: str
    challenger: str | None = None
    champion: str | None = None
    metric: str | None = None
    higher_is_better: bool | None = None
    challenger_score: float | None = None
    champion_score: float | None = None
    #: Challenger minus champion, oriented so that positive is better.
    gain: float | None = None
    margin: float | None = None
    test: str | None = None
    #: One-sided: the share of resampled gains at or below zero.
    p_value: float | None = None
    #: The gain's lower confidence bound at ``1 - level``.
    lower_bound: float | None = None
    level: float | None = None
    resamples: int | None = None
    rows: int = 0
    rows_per_class: dict[str, int] = {}
    comparison: str | None = None
    comparison_sha256: str | None = None
    #: What led to it when the loop decided: the monitoring status and the trigger.
    trigger: str | None = None

    def summary(self) -> str:
        """One line: the reason, which starts with the action."""
        return f"{self.reason} (dry run: nothing moved)" if self.dry_run else self.reason


@dataclass(frozen=True)
class PairedScores:
    """Both models' outputs on the same labelled rows."""

    task: Task
    truth: npt.NDArray[Any]
    #: Predicted values, or class probabilities with one column per class in ``classes``.
    champion: npt.NDArray[np.float64]
    challenger: npt.NDArray[np.float64]
    classes: npt.NDArray[Any]

    @property
    def rows(self) -> int:
        """Comparison rows."""
        return len(self.truth)


class Champions(Protocol):
    """Where the champion and the challenger live, and where decisions are recorded."""

    #: Where, for messages: a models folder or a tracking store and model name.
    where: str

    def champion(self) -> str | None:
        """The champion's version, or None before the first."""
        ...

    def challenger(self) -> str | None:
        """The challenger's version, or None when there is none."""
        ...

    def open(self, version: str) -> AbstractContextManager[ModelBundle]:
        """The verified bundle of ``version``."""
        ...

    def promote(self, version: str) -> Callable[[], None]:
        """Make ``version`` the champion; return what undoes it."""
        ...

    def rollback(self) -> tuple[str, str]:
        """Give the champion back to the previous one: (replaced, champion now)."""
        ...

    def record(self, decision: Decision) -> None:
        """Keep ``decision``."""
        ...

    def decisions(self) -> list[Decision]:
        """Every recorded decision, oldest first."""
        ...


def primary_metric(config: TrainConfig) -> str:
    """The metric the promotion rule compares."""
    return config.promotion.metric or PRIMARY_METRICS[config.task]


def paired_scores(
    frame: pd.DataFrame, champion: ModelBundle, challenger: ModelBundle
) -> PairedScores:
    """Both models' outputs on ``frame``'s rows, which must carry the target.

    Raises:
        DataError: when the target is missing or has no value in a row.
        SchemaError: when a model refuses the rows.
    """
    metadata = champion.metadata
    require_columns(frame, [metadata.target], source="comparison data")
    truth = frame[metadata.target]
    if truth.isna().any():
        raise DataError(f"comparison data: {int(truth.isna().sum())} row(s) without a target")
    classes = np.asarray(metadata.classes)
    outputs: list[npt.NDArray[np.float64]] = []
    for bundle in (champion, challenger):
        predicted = bundle.predict(frame)
        if metadata.task == "regression":
            outputs.append(predicted[PREDICTION_COLUMN].to_numpy(dtype="float64"))
        else:
            columns = [f"{PROBABILITY_PREFIX}{label}" for label in metadata.classes]
            outputs.append(predicted[columns].to_numpy(dtype="float64"))
    if metadata.task == "classification":  # labels as the models know them (1.0 is class 1)
        known = {str(label): index for index, label in enumerate(metadata.classes)}
        codes = truth.map(lambda value: known.get(str(value), -1)).to_numpy()
        if (codes < 0).any():
            unknown = sorted({str(value) for value in truth[codes < 0]})[:5]
            raise DataError(f"comparison data: classes the models do not know: {unknown}")
        return PairedScores(metadata.task, codes, outputs[0], outputs[1], classes)
    values = truth.to_numpy(dtype="float64")
    return PairedScores(metadata.task, values, outputs[0], outputs[1], classes)


def decide(
    scores: PairedScores | None,
    config: PromotionConfig,
    metric: str,
    *,
    champion: str | None,
    challenger: str,
    last_promotion: datetime | None,
    now: datetime,
    seed: int,
) -> Decision:
    """Apply the promotion rule to ``scores``; ``None`` scores: there is no champion to beat."""
    higher = metric not in LOWER_IS_BETTER
    facts: dict[str, Any] = {
        "decided_at": now,
        "champion": champion,
        "challenger": challenger,
        "metric": metric,
        "higher_is_better": higher,
        "margin": config.margin,
        "level": config.level,
    }
    if scores is None or champion is None:
        return Decision(action="promote", reason="there is no champion to beat", **facts)
    facts["rows"] = scores.rows
    per_class: dict[str, int] = {}
    if scores.task == "classification":
        counts = np.bincount(scores.truth.astype(int), minlength=len(scores.classes))
        per_class = {
            str(label): int(count) for label, count in zip(scores.classes, counts, strict=True)
        }
        facts["rows_per_class"] = per_class
    index = np.arange(scores.rows)
    if scores.rows:
        champion_score = float(_metric(metric, scores, scores.champion, index))
        challenger_score = float(_metric(metric, scores, scores.challenger, index))
        gain = challenger_score - champion_score if higher else champion_score - challenger_score
        facts |= {
            "champion_score": _finite(champion_score),
            "challenger_score": _finite(challenger_score),
            "gain": _finite(gain),
        }
    if scores.rows < config.min_rows:
        reason = (
            f"keep the champion: {scores.rows} comparison row(s), fewer than "
            f"promotion.min_rows = {config.min_rows}: too few to tell the models apart"
        )
        return Decision(action="keep", reason=reason, **facts)
    short = {
        label: count for label, count in per_class.items() if count < config.min_rows_per_class
    }
    if short:
        reason = (
            f"keep the champion: comparison rows per class {short}, fewer than "
            f"promotion.min_rows_per_class = {config.min_rows_per_class}"
        )
        return Decision(action="keep", reason=reason, **facts)
    if facts["gain"] is None or facts["gain"] < config.margin:
        reason = (
            f"keep the champion: {metric} {_shown(facts['challenger_score'])} against "
            f"{_shown(facts['champion_score'])}, a gain of {_shown(facts['gain'])}, below "
            f"promotion.margin = {config.margin}"
        )
        return Decision(action="keep", reason=reason, **facts)
    p_value, lower = paired_bootstrap(
        scores, metric, resamples=config.resamples, level=config.level, seed=seed
    )
    facts |= {
        "test": PAIRED_TEST,
        "p_value": p_value,
        "lower_bound": lower,
        "resamples": config.resamples,
    }
    if not p_value < config.level:
        reason = (
            f"keep the champion: the {metric} gain of {facts['gain']:.4g} may be noise "
            f"(paired bootstrap p = {p_value:.3g}, not below promotion.level = {config.level})"
        )
        return Decision(action="keep", reason=reason, **facts)
    interval = parse_duration(config.min_interval)
    if last_promotion is not None and now - last_promotion < interval:
        reason = (
            f"keep the champion: the last promotion was {now - last_promotion} ago, sooner "
            f"than promotion.min_interval = {config.min_interval} (the challenger did win: "
            f"{metric} gain {facts['gain']:.4g}, p = {p_value:.3g})"
        )
        return Decision(action="keep", reason=reason, **facts)
    reason = (
        f"promote: {metric} {facts['challenger_score']:.4g} against {facts['champion_score']:.4g}, "
        f"a gain of {facts['gain']:.4g} (at least {config.margin}); paired bootstrap "
        f"p = {p_value:.3g} < {config.level}"
    )
    return Decision(action="promote", reason=reason, **facts)


def paired_bootstrap(
    scores: PairedScores, metric: str, *, resamples: int, level: float, seed: int
) -> tuple[float, float]:
    """The one-sided p-value of "no gain" and the gain's lower bound at ``1 - level``.

    Rows are resampled with replacement, the same rows for both models; the gain is recomputed
    on each resample. A resample where the metric is undefined (one class) counts as no gain.
    """
    higher = metric not in LOWER_IS_BETTER

    def gain(index: npt.NDArray[np.int64], axis: int = -1) -> npt.NDArray[np.float64]:
        challenger = _metric(metric, scores, scores.challenger, index)
        champion = _metric(metric, scores, scores.champion, index)
        # Undefined (NaN) counts as no gain here: a NaN would make scipy warn that the
        # interval cannot be calculated.
        return np.nan_to_num(challenger - champion if higher else champion - challenger, nan=0.0)

    result = stats.bootstrap(
        (np.arange(scores.rows),),
        gain,
        n_resamples=resamples,
        batch=max(1, BOOTSTRAP_CELLS // max(scores.rows, 1)),
        vectorized=True,
        confidence_level=1 - level,
        alternative="greater",
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    gains = result.bootstrap_distribution
    p_value = float((np.count_nonzero(gains <= 0) + 1) / (gains.size + 1))
    lower = float(np.quantile(gains, level))
    return p_value, lower


def _metric(
    metric: str, scores: PairedScores, outputs: npt.NDArray[np.float64], index: npt.NDArray[Any]
) -> npt.NDArray[np.float64]:
    """``metric`` of ``outputs`` on the rows ``index`` picks, one value per row of ``index``.

    Written for resamples (``index`` of shape (..., rows)); equal to scikit-learn's metrics on
    the same rows (see the unit tests).
    """
    truth = scores.truth[index]
    if scores.task == "regression":
        error = outputs[index] - truth
        if metric == "rmse":
            return np.asarray(np.sqrt(np.mean(error**2, axis=-1)))
        if metric == "mae":
            return np.asarray(np.mean(np.abs(error), axis=-1))
        if metric == "r2":
            residual = np.sum(error**2, axis=-1)
            total = np.sum((truth - truth.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.asarray(1 - residual / total)
        raise ValueError(f"{metric!r} is not a regression metric")
    predicted = np.argmax(outputs, axis=-1)[index]
    classes = range(len(scores.classes))
    positive = [1] if len(scores.classes) == 2 else classes
    if metric == "accuracy":
        return np.asarray(np.mean(predicted == truth, axis=-1))
    if metric == "roc_auc":
        aucs = [_auc(scores.truth == k, outputs[:, k], index) for k in positive]
        return np.asarray(np.mean(aucs, axis=0))
    if metric == "f1":
        return np.asarray(np.mean([_f1(truth == k, predicted == k) for k in positive], axis=0))
    raise ValueError(f"{metric!r} is not a classification metric")


def _auc(
    actual: npt.NDArray[np.bool_], score: npt.NDArray[np.float64], index: npt.NDArray[Any]
) -> npt.NDArray[np.float64]:
    """ROC AUC of the rows ``index`` picks (one value per row of ``index``); NaN with one class.

    Counted, not sorted per resample: each positive wins over the negatives scored below it
    and half of those tied with it, from per-resample counts of negatives at each distinct score.
    """
    _, levels = np.unique(score, return_inverse=True)
    width = int(levels.max()) + 1
    rows = index.reshape(-1, index.shape[-1])
    picked, positive = levels[rows], actual[rows]
    offsets = np.arange(len(rows))[:, None] * width
    counts = np.bincount((picked + offsets)[~positive], minlength=len(rows) * width)
    negatives = counts.reshape(len(rows), width)
    below = np.cumsum(negatives, axis=1) - negatives / 2
    wins = np.sum(np.take_along_axis(below, picked, axis=1) * positive, axis=1)
    positives = positive.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = wins / (positives * (rows.shape[1] - positives))
    return np.asarray(auc.reshape(index.shape[:-1]))


def _f1(actual: npt.NDArray[np.bool_], predicted: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """F1 of one class along the last axis (0 when it is never predicted nor present)."""
    hits = np.sum(actual & predicted, axis=-1)
    total = np.sum(actual, axis=-1) + np.sum(predicted, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 2 * hits / total, 0.0)


def _shown(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4g}"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def last_promotion(decisions: list[Decision]) -> datetime | None:
    """When a promotion last replaced a champion (the first champion was not a comparison)."""
    times = [
        item.decided_at
        for item in decisions
        if item.action == "promote" and item.acted and item.champion is not None
    ]
    return max(times, default=None)


def promote_challenger(
    store: Champions,
    config: TrainConfig,
    *,
    version: str | None = None,
    if_better: bool = True,
    comparison: Path | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    trigger: str | None = None,
) -> Decision:
    """Decide on ``version`` (default: the challenger), act on it and record the decision.

    With ``if_better``, :func:`decide` compares it with the champion on ``comparison``: by
    default the comparison set ``retrain`` held out for it, else ``data.test_path``. Without,
    it is promoted as asked. A recording that fails undoes the promotion, so the champion
    never changes unrecorded. A dry run acts on nothing and records nothing.
    """
    moment = now or datetime.now(UTC)
    chosen = version or store.challenger()
    if chosen is None:
        raise ValueError(
            f"{store.where} has no challenger: run retrain (or train) first, or pass --version"
        )
    champion = store.champion()
    metric = primary_metric(config)
    if champion == chosen:
        decision = Decision(
            decided_at=moment,
            action="keep",
            challenger=chosen,
            champion=champion,
            metric=metric,
            reason=f"keep the champion: version {chosen} already is the champion",
        )
    elif not if_better:
        decision = Decision(
            decided_at=moment,
            action="promote",
            challenger=chosen,
            champion=champion,
            metric=metric,
            reason="promote: asked for without --if-better (no comparison)",
        )
    else:
        decision = _compare(store, config, chosen, champion, comparison, moment, metric)
    decision = decision.model_copy(update={"dry_run": dry_run, "trigger": trigger})
    if dry_run:
        return decision
    if decision.action != "promote":
        store.record(decision)
        return decision
    undo = store.promote(chosen)
    decision = decision.model_copy(update={"acted": True})
    try:
        store.record(decision)
    except BaseException:
        undo()
        raise
    return decision


def _compare(
    store: Champions,
    config: TrainConfig,
    chosen: str,
    champion: str | None,
    comparison: Path | None,
    now: datetime,
    metric: str,
) -> Decision:
    if champion is None:
        return decide(
            None,
            config.promotion,
            metric,
            champion=None,
            challenger=chosen,
            last_promotion=None,
            now=now,
            seed=config.seed,
        )
    with store.open(chosen) as candidate, store.open(champion) as incumbent:
        problems = incompatibilities(incumbent.metadata, candidate.metadata)
        if problems:
            raise DataError(
                f"version {chosen} cannot replace champion {champion}: " + "; ".join(problems)
            )
        path = comparison or comparison_set(candidate.metadata) or config.data.test_path
        if path is None:
            raise ValueError("no comparison data: pass --on, or set data.test_path")
        scores = paired_scores(read_table(path), incumbent, candidate)
    decision = decide(
        scores,
        config.promotion,
        metric,
        champion=champion,
        challenger=chosen,
        last_promotion=last_promotion(store.decisions()),
        now=now,
        seed=config.seed,
    )
    return decision.model_copy(
        update={"comparison": str(path), "comparison_sha256": sha256_file(path)}
    )


def comparison_set(metadata: ModelMetadata) -> Path | None:
    """The comparison set ``retrain`` held out for this candidate, if it made one."""
    held_out = metadata.data.get("test") if metadata.retrain is not None else None
    if held_out is None:
        return None
    path = Path(held_out.path)
    if not path.is_file():
        raise DataError(
            f"the comparison set of version {metadata.version} ({path}) is gone: pass --on"
        )
    if sha256_file(path) != held_out.sha256:
        raise DataError(
            f"the comparison set of version {metadata.version} ({path}) changed since it was "
            "trained: pass --on"
        )
    return path


class LocalChampions:
    """Champions in a models folder: ``latest.json`` is the champion (``tracking: none``)."""

    def __init__(self, models_dir: Path) -> None:
        """Use the versions, pointers and decisions log of ``models_dir``."""
        self.models_dir = models_dir
        self.where = str(models_dir)
        self.log = models_dir / DECISIONS_LOG

    def champion(self) -> str | None:
        """The version ``latest.json`` names."""
        return latest_version(self.models_dir)

    def challenger(self) -> str | None:
        """The version ``challenger.json`` names (written by ``retrain``)."""
        return read_pointer(self.models_dir / CHALLENGER_POINTER)

    def _folder(self, version: str) -> Path:
        """The folder of ``version``; a name that is a path (``../x``) is refused."""
        if not is_version_name(version):
            raise ArtifactError(f"{version!r} is not a version of {self.where}: name a folder")
        return self.models_dir / version

    def set_challenger(self, version: str) -> None:
        """Point ``challenger.json`` at ``version``."""
        write_text_atomically(
            self.models_dir / CHALLENGER_POINTER, json.dumps({"version": version}) + "\n"
        )

    @contextmanager
    def open(self, version: str) -> Iterator[ModelBundle]:
        """The verified bundle of ``version``."""
        yield load_bundle(self._folder(version))

    def promote(self, version: str) -> Callable[[], None]:
        """Point ``latest.json`` at ``version``; the undo puts the old pointer back."""
        pointer = self.models_dir / LATEST_POINTER
        previous = pointer.read_text(encoding="utf-8") if pointer.is_file() else None
        publish_latest(self.models_dir, self._folder(version).name)

        def undo() -> None:
            if previous is None:
                pointer.unlink(missing_ok=True)
            else:
                write_text_atomically(pointer, previous)

        return undo

    def rollback(self) -> tuple[str, str]:
        """Point ``latest.json`` back at the champion before the current one."""
        history = champion_history(self.decisions())
        current = self.champion()
        if current is not None and history[-1:] != [current]:
            history.append(current)  # published without a decision (train)
        if len(history) < 2:
            raise DataError(
                f"{self.where} has no earlier champion to roll back to (champions recorded: "
                f"{history or 'none'})"
            )
        publish_latest(self.models_dir, history[-2])
        return history[-1], history[-2]

    def record(self, decision: Decision) -> None:
        """Append ``decision`` to ``decisions.jsonl``."""
        line = decision.model_dump_json() + "\n"
        with (
            file_lock(self.models_dir / DECISIONS_LOCK),
            self.log.open("a", encoding="utf-8") as log,
        ):
            log.write(line)
            log.flush()

    def decisions(self) -> list[Decision]:
        """The decisions log, oldest first; a line that is not a decision is refused."""
        if not self.log.is_file():
            return []
        found = []
        for number, line in enumerate(self.log.read_text(encoding="utf-8").splitlines(), 1):
            try:
                found.append(Decision.model_validate_json(line))
            except ValidationError as error:
                raise DataError(
                    f"{self.log}, line {number}: not a decision ({error.error_count()} problem(s))"
                ) from None
        return found


def champion_history(decisions: list[Decision]) -> list[str]:
    """The champions in turn, replayed from the decisions carried out (rollbacks undo).

    Each one moved the champion from its ``champion`` to its ``challenger``; a champion that
    came in between without a decision (``train`` published it) joins the history there.
    """
    history: list[str] = []
    for decision in decisions:
        if not decision.acted or decision.action == "keep" or decision.challenger is None:
            continue
        if decision.champion is not None and history[-1:] != [decision.champion]:
            history.append(decision.champion)
        if decision.action == "rollback" and history[-1:] == [decision.champion]:
            history.pop()
        if history[-1:] != [decision.challenger]:
            history.append(decision.challenger)
    return history
