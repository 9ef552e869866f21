"""Demo data that ships inside scikit-learn, so a new project trains offline in seconds."""

from pathlib import Path

import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import train_test_split

from .tabular import DataError, holds_table, write_table
from .tasks import Task


def load_demo_frame(task: Task, *, target: str = "target") -> pd.DataFrame:
    """Breast cancer (classification) or diabetes (regression): features plus ``target``."""
    loader = load_breast_cancer if task == "classification" else load_diabetes
    bunch = loader(as_frame=True)
    frame: pd.DataFrame = bunch.frame
    return frame.rename(columns={"target": target})


def split_frame(
    frame: pd.DataFrame, *, target: str, test_size: float, seed: int, stratify: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded train/test split of whole rows, stratified on ``target`` when asked."""
    train, test = train_test_split(
        frame,
        test_size=test_size,
        random_state=seed,
        stratify=frame[target] if stratify else None,
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def write_demo_data(
    task: Task,
    *,
    train_path: Path,
    test_path: Path,
    target: str,
    test_size: float,
    seed: int,
    force: bool = False,
) -> tuple[Path, Path]:
    """Write the task's demo data set as a train file and a hold-out test file.

    An existing file is replaced only with ``force`` or when it already holds exactly these
    rows (a rerun), so a team's own data is never overwritten by accident.

    Raises:
        DataError: naming the first existing file that holds other data, before writing any.
    """
    frame = load_demo_frame(task, target=target)
    train, test = split_frame(
        frame, target=target, test_size=test_size, seed=seed, stratify=task == "classification"
    )
    planned = {train_path: train, test_path: test}
    for path, rows in planned.items():
        if not force and path.exists() and not holds_table(path, rows):
            raise DataError(
                f"{path} exists and is not the demo data this command writes: refusing to "
                "overwrite it (pass --force to replace it)"
            )
    return write_table(train, train_path), write_table(test, test_path)
