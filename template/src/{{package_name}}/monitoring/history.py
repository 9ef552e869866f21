"""Alerting that does not flap: a small JSON history of past windows, k of the last N.

The history file holds one entry per monitoring run (window), newest last. A run alerts when
it breached and at least ``breaches`` of the last ``windows`` runs (itself included) breached.
"""

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from ..core import write_text_atomically
from .config import AlertingConfig
from .report import AlertingReport

HISTORY_FILE = "history.json"


class Window(BaseModel):
    """One past monitoring run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    generated_at: datetime
    current: str
    breached: bool


class History(BaseModel):
    """Past runs, oldest first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    windows: list[Window] = []


def read_history(path: Path) -> History:
    """The history at ``path``; an absent file is an empty history."""
    if not path.is_file():
        return History()
    try:
        return History.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as error:
        raise ValueError(
            f"alert history {path} is malformed ({error.error_count()} problem(s)); "
            "fix or delete it to start a new history"
        ) from None


def record_window(path: Path, window: Window, config: AlertingConfig) -> AlertingReport:
    """Append ``window`` to the history at ``path`` (atomically) and decide whether to alert."""
    history = read_history(path)
    windows = [*history.windows, window][-config.history_size :]
    recent = windows[-config.windows :]
    breaches = sum(entry.breached for entry in recent)
    write_text_atomically(path, History(windows=windows).model_dump_json(indent=2) + "\n")
    return AlertingReport(
        breached=window.breached,
        alert=window.breached and breaches >= config.breaches,
        breaches=breaches,
        windows=len(recent),
        required=config.breaches,
        history=str(path),
    )
