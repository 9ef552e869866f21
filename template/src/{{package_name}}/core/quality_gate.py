"""Quality gate: a model is published only when every metric is within its bounds."""

import math
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from .config import Threshold


class GateResult(BaseModel):
    """Whether a model passed, and a sentence for every bound it broke."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    passed: bool
    failures: list[str] = []


def check_quality_gate(
    metrics: Mapping[str, float], thresholds: Mapping[str, Threshold]
) -> GateResult:
    """Compare ``metrics`` with ``thresholds``; a NaN or absent metric fails its bound."""
    failures = []
    for metric, bound in thresholds.items():
        value = metrics.get(metric, math.nan)
        if math.isnan(value):
            failures.append(f"{metric} could not be computed")
            continue
        if bound.min is not None and value < bound.min:
            failures.append(f"{metric} = {value:.4g} is below the minimum {bound.min:.4g}")
        if bound.max is not None and value > bound.max:
            failures.append(f"{metric} = {value:.4g} is above the maximum {bound.max:.4g}")
    return GateResult(passed=not failures, failures=failures)
