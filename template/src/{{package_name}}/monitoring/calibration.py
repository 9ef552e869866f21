"""How often the monitor alerts on data of known distribution: false alerts and power.

A claim about a monitoring rule is a measurement. :func:`measure_alert_rates` trains a model
on rows of :func:`synthetic_rows`, a generator whose distribution is known, then runs the
monitor (:func:`~.monitor.run_monitoring`, in process, as ``monitor`` runs it on a prediction
log) on many fresh windows of the same distribution, where every alert is false, and on
windows where the informative feature ``x1`` is shifted, where every miss is one. Windows
carry the target, so the performance check runs too. :func:`measure_live_performance_rates`
does the same for live performance (``monitor --labels``): windows of labelled rows drawn like
the training data, and windows where the relation between ``x1`` and the target changed (a
concept change: the inputs are drawn as before), judged as the live path judges them. Rates
come with exact (Clopper-Pearson) 95% confidence intervals. ``scripts/bench_alerts.py`` prints
them for every estimator.
"""

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import binomtest

from ..core.bundle import ModelBundle
from ..core.config import parse_config
from ..core.metrics import Task
from ..core.training import check_quality_gate, train_model
from ..core.workflow import describe_model
from .config import AlertingConfig, MonitoringConfig
from .inputs import CurrentBatch, Reference
from .monitor import _judgeable, model_outputs, openmp_threads_for, performance, run_monitoring

#: The feature a shifted window moves; it carries the strongest signal of the target.
SHIFTED_FEATURE = "x1"
SEGMENTS = ("a", "b", "c")
SEGMENT_SHARES = (0.5, 0.3, 0.2)
SEGMENT_EFFECTS = (0.0, 0.5, -0.5)
CHANNELS = ("online", "store")

Strategy = Literal["holdout", "cv"]
#: The coefficient of ``x1`` in the signal the models are trained on.
X1_EFFECT = 1.5
#: What :func:`synthetic_rows` draws, as the benchmark prints it.
GENERATOR = (
    "x1, x2 ~ N(0, 1), x3 ~ Exp(1), x4 ~ U(0, 1) (noise), segment a/b/c with shares "
    "0.5/0.3/0.2, channel online/store (noise); signal = b x1 - x2 + 0.5 (x3 - 1) + 0/0.5/-0.5 "
    "by segment, b = 1.5 (1 - 2 relation): relation 0 (training) b = 1.5, 0.5 x1 has no effect, "
    "1 its effect is flipped; classification: target = 1 with probability expit(signal); "
    "regression: target = 2 signal + N(0, 1)"
)


def synthetic_rows(
    task: Task,
    rows: int,
    rng: np.random.Generator,
    *,
    shift: float = 0.0,
    relation: float = 0.0,
) -> pd.DataFrame:
    """``rows`` independent draws of features and target, as :data:`GENERATOR` states.

    ``shift`` moves the mean of ``x1``, in its standard deviations (which are 1); the target
    follows the shifted ``x1`` (a covariate shift: the relation between features and target
    stays). ``relation`` changes that relation and nothing else (a concept change: the
    features are drawn as before): the coefficient of ``x1`` in the signal goes from
    :data:`X1_EFFECT` (1.5) to 1.5 (1 - 2 ``relation``), so 0.5 removes ``x1``'s effect and 1
    flips it. The random draws are the same for every ``relation``.
    """
    x1 = rng.standard_normal(rows) + shift
    x2 = rng.standard_normal(rows)
    x3 = rng.exponential(1.0, rows)
    segment = rng.choice(len(SEGMENTS), size=rows, p=SEGMENT_SHARES)
    effect = X1_EFFECT * (1.0 - 2.0 * relation)
    signal = effect * x1 - x2 + 0.5 * (x3 - 1.0) + np.asarray(SEGMENT_EFFECTS)[segment]
    if task == "classification":
        target = (rng.random(rows) < expit(signal)).astype(np.int64)
    else:
        target = 2.0 * signal + rng.standard_normal(rows)
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "x3": x3,
            "x4": rng.random(rows),
            "segment": np.asarray(SEGMENTS)[segment],
            "channel": np.asarray(CHANNELS)[rng.integers(0, len(CHANNELS), rows)],
            "target": target,
        }
    )


@dataclass(frozen=True)
class Rate:
    """``hits`` of ``windows``, with an exact 95% confidence interval.

    Of no window (e.g. none could be judged) the rate is NaN and its interval 0 to 1.
    """

    hits: int
    windows: int

    @property
    def value(self) -> float:
        """The share of windows that alerted."""
        return self.hits / self.windows if self.windows else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        """Clopper-Pearson 95% confidence interval of the rate."""
        if not self.windows:
            return 0.0, 1.0
        found = binomtest(self.hits, self.windows).proportion_ci(confidence_level=0.95)
        return float(found.low), float(found.high)


@dataclass(frozen=True)
class AlertRates:
    """What the monitor did on same-distribution and on shifted windows of several models.

    On same-distribution windows every alert is false; they are counted by cause: drift (a
    feature or prediction column alerts), of which prediction columns, and performance.
    """

    task: Task
    estimator: str
    strategy: Strategy
    window_rows: int
    #: Same-distribution windows whose run alerted, for any cause.
    false_alerts: Rate
    drift_false_alerts: Rate
    prediction_false_alerts: Rate
    performance_false_alerts: Rate
    #: Drift false alerts of each model: how much the rate varies with the training sample.
    drift_false_alerts_by_model: tuple[Rate, ...]
    #: Windows with ``x1`` shifted whose run alerted.
    power: Rate


def measure_alert_rates(
    task: Task,
    estimator: str,
    workdir: Path,
    *,
    config: MonitoringConfig | None = None,
    strategy: Strategy = "holdout",
    shift: float = 0.5,
    window_rows: int = 300,
    models: int = 5,
    windows_per_model: int = 40,
    shifted_per_model: int = 20,
    train_rows: int = 2000,
    test_rows: int = 1000,
    seed: int = 0,
) -> AlertRates:
    """Train ``models`` models on fresh synthetic data and monitor windows of each kind.

    Each model is trained as ``train`` trains (``strategy``, the estimator's default
    parameters, no quality gate) on ``train_rows`` rows, with ``test_rows`` hold-out rows,
    then monitored on ``windows_per_model`` same-distribution windows and
    ``shifted_per_model`` with ``x1`` shifted by ``shift``, each of ``window_rows`` labelled
    rows; each model's alerting history goes to ``workdir/model-<n>``. Rates pool every
    model's windows: a model's reference is itself a sample, so one model's rate varies
    around the rule's. Alerting counts every window on its own (one breach alerts); the other
    settings are ``config``'s (default: the shipped ones).
    """
    sizes = (window_rows, models, windows_per_model, shifted_per_model, train_rows, test_rows)
    if min(sizes) < 1:
        raise ValueError("every row and window count must be positive")
    rng = np.random.default_rng(seed)
    settings = (config or MonitoringConfig()).model_copy(
        update={"alerting": AlertingConfig(breaches=1, windows=1)}
    )
    data_rows = (train_rows, test_rows)
    counts: Counter[str] = Counter()
    by_model = []
    for model in range(models):
        directory = workdir / f"model-{model}"
        directory.mkdir(parents=True)
        bundle = _train_bundle(task, estimator, directory.name, rng, strategy, data_rows)
        reference = Reference.of_bundle(bundle)
        drift_before = counts["drift"]
        frames = [
            synthetic_rows(
                task, window_rows, rng, shift=shift if window >= windows_per_model else 0
            )
            for window in range(windows_per_model + shifted_per_model)
        ]
        for window, batch in enumerate(_logged_windows(bundle, frames)):
            report = run_monitoring(
                reference, batch, settings, history_path=directory / "history.json"
            )
            if window >= windows_per_model:
                counts["caught"] += report.status == "alert"
                continue
            predictions = any(column.status == "alert" for column in report.predictions)
            features = any(column.status == "alert" for column in report.features)
            counts["any"] += report.status == "alert"
            counts["drift"] += features or predictions
            counts["prediction"] += predictions
            counts["performance"] += report.performance.status == "alert"
        by_model.append(Rate(counts["drift"] - drift_before, windows_per_model))
    windows = models * windows_per_model
    return AlertRates(
        task=task,
        estimator=estimator,
        strategy=strategy,
        window_rows=window_rows,
        false_alerts=Rate(counts["any"], windows),
        drift_false_alerts=Rate(counts["drift"], windows),
        prediction_false_alerts=Rate(counts["prediction"], windows),
        performance_false_alerts=Rate(counts["performance"], windows),
        drift_false_alerts_by_model=tuple(by_model),
        power=Rate(counts["caught"], models * shifted_per_model),
    )


@dataclass(frozen=True)
class LivePerformanceRates:
    """What live performance judged on windows of labelled rows of several models.

    A window is judged when it has ``performance.min_rows`` labelled rows and, for
    classification, ``performance.min_rows_per_class`` of each class; otherwise live
    performance "cannot judge yet" and the window counts in neither rate.
    """

    task: Task
    estimator: str
    labelled_rows: int
    #: How far the relation of ``x1`` and the target changed in the changed windows (the
    #: ``relation`` of :func:`synthetic_rows`).
    change: float
    #: Windows of both kinds that were judged, and that could not be judged yet.
    judged: int
    cannot_judge: int
    #: Judged windows drawn like the training data whose performance check alerted.
    false_alerts: Rate
    #: Judged windows with the changed relation whose performance check alerted.
    power: Rate


def measure_live_performance_rates(
    task: Task,
    estimator: str,
    *,
    labelled_rows: int = 100,
    models: int = 5,
    windows_per_model: int = 40,
    changed_per_model: int = 20,
    change: float = 0.5,
    config: MonitoringConfig | None = None,
    strategy: Strategy = "holdout",
    train_rows: int = 2000,
    test_rows: int = 1000,
    seed: int = 0,
) -> LivePerformanceRates:
    """Train ``models`` models on fresh synthetic data and judge live performance on windows.

    Each model is trained as in :func:`measure_alert_rates`, then its predictions on
    ``windows_per_model`` windows drawn like the training data and ``changed_per_model``
    windows whose relation between ``x1`` and the target changed by ``change`` (see
    :func:`synthetic_rows`), each of ``labelled_rows`` rows whose labels came back, are judged
    as ``monitor --labels`` judges the labelled rows it joined: the min-rows rules
    (``_judgeable``), then :func:`~.monitor.performance` against the training metrics, with
    ``config``'s performance settings (default: the shipped ones). Rates pool every model's
    judged windows.
    """
    sizes = (labelled_rows, models, windows_per_model, changed_per_model, train_rows, test_rows)
    if min(sizes) < 1:
        raise ValueError("every row and window count must be positive")
    rng = np.random.default_rng(seed)
    settings = (config or MonitoringConfig()).performance
    data_rows = (train_rows, test_rows)
    counts: Counter[str] = Counter()
    for model in range(models):
        bundle = _train_bundle(task, estimator, f"model-{model}", rng, strategy, data_rows)
        metadata = bundle.metadata
        frames = [
            synthetic_rows(
                task, labelled_rows, rng, relation=change if window >= windows_per_model else 0
            )
            for window in range(windows_per_model + changed_per_model)
        ]
        for window, batch in enumerate(_logged_windows(bundle, frames)):
            kind = "changed" if window >= windows_per_model else "unchanged"
            labels = batch.frame[metadata.target]
            report = _judgeable(metadata.classes, labels, settings, metadata.task)
            if report is None:
                report = performance(bundle, model_outputs(bundle, batch), settings)
            if report.status == "skipped":
                counts["cannot_judge"] += 1
                continue
            counts[kind] += 1
            counts[f"{kind}_alerts"] += report.status == "alert"
    return LivePerformanceRates(
        task=task,
        estimator=estimator,
        labelled_rows=labelled_rows,
        change=change,
        judged=counts["unchanged"] + counts["changed"],
        cannot_judge=counts["cannot_judge"],
        false_alerts=Rate(counts["unchanged_alerts"], counts["unchanged"]),
        power=Rate(counts["changed_alerts"], counts["changed"]),
    )


def _logged_windows(bundle: ModelBundle, frames: list[pd.DataFrame]) -> list[CurrentBatch]:
    """Each window with the model's predictions, as the prediction log would carry them.

    The model scores every window in one pass: each row is scored on its own, so these are
    the predictions ``monitor`` would make window by window, at a fraction of the cost.
    """
    version = bundle.metadata.version
    with openmp_threads_for(len(frames[0])):
        predicted = bundle.predict(pd.concat(frames, ignore_index=True))
    starts = np.cumsum([0, *(len(frame) for frame in frames)])
    return [
        CurrentBatch(
            source=Path(f"window-{window}"),
            frame=frame,
            predictions=predicted.iloc[start:end]
            .reset_index(drop=True)
            .assign(model_version=version),
        )
        for window, (frame, start, end) in enumerate(zip(frames, starts, starts[1:], strict=False))
    ]


def _train_bundle(
    task: Task,
    estimator: str,
    name: str,
    rng: np.random.Generator,
    strategy: Strategy,
    rows: tuple[int, int],
) -> ModelBundle:
    """Train on fresh synthetic rows as ``train`` does, in memory: no data files, no bundle.

    ``train`` runs the same :func:`~..core.training.train_model`; writing and loading the
    bundle would only add time (the round trip leaves the model as it was).
    """
    train, test = (synthetic_rows(task, count, rng) for count in rows)
    config = parse_config(
        {
            "task": task,
            "seed": int(rng.integers(2**31)),
            "data": {"train_path": f"{name}-train.csv", "test_path": f"{name}-test.csv"},
            "estimator": {"name": estimator},
            "split": {"strategy": strategy},
        }
    )
    # Threads only cost on a few thousand rows (HistGradientBoosting trains the same trees
    # with any number of them, in a tenth of the CPU time with one on a busy 2-core machine).
    with openmp_threads_for(sum(rows)):
        trained = train_model(config, train, test if strategy == "holdout" else None)
    gate = check_quality_gate(trained.metrics, config.quality_gate)
    metadata = describe_model(config, trained, gate, {}, name, datetime.now(UTC))
    return ModelBundle(Path(name), trained.pipeline, metadata, trained.profile)
