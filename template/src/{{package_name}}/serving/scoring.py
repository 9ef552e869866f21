"""Record rows to the model's outputs with numpy when that is exact, else with the library.

:func:`compile_rows` reads a fitted pipeline of the shape ``build_pipeline`` makes (a
``ColumnTransformer`` of ``SimpleImputer``, ``StandardScaler`` and ``OneHotEncoder`` branches)
into a function that computes the same matrix, bit for bit, from rows in schema order: no
DataFrame, column lookups or input validation per call. Any other shape gets None, and rows
take :func:`frame_of` and the pipeline's own ``transform``. :func:`compile_outputs` does the
same for a linear estimator's predictions and probabilities (scikit-learn's own arithmetic
without its per-call input checks); other estimators are called as they are.
"""

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ..core.metrics import Task
from ..core.pipeline import Outputs, model_outputs
from ..core.schema import FeatureSchema

Rows = Sequence[Sequence[object]]
Matrix = npt.NDArray[Any]
#: Rows (values in schema order) -> the preprocessed float64 matrix.
RowsTransform = Callable[[Rows], npt.NDArray[np.float64]]
_Step = Callable[[Matrix], Matrix]


def frame_of(rows: Rows, schema: FeatureSchema) -> pd.DataFrame:
    """Rows as the frame training saw: float64 numbers, categories as objects, NaN if missing."""
    columns = list(zip(*rows, strict=True))
    data: dict[str, Any] = {}
    for position, column in enumerate(schema.columns):
        if column.kind == "numeric":
            data[column.name] = np.asarray(columns[position], dtype="float64")
        else:
            values = [np.nan if value is None else value for value in columns[position]]
            data[column.name] = pd.Series(values, dtype=object)
    return pd.DataFrame(data, columns=pd.Index(schema.feature_names, dtype=object))


def compile_rows(preprocess: Any, schema: FeatureSchema, probe: Rows) -> RowsTransform | None:
    """The numpy equivalent of the fitted ``preprocess``, or None for a shape it does not know.

    The matrix has the memory layout of ``preprocess.transform``'s (estimators' sums may
    depend on it); None too if the two disagree on the rows ``probe`` (two or more).
    """
    fast = _compile(preprocess, schema)
    if fast is None:
        return None
    with np.errstate(all="ignore"):
        expected = np.asarray(preprocess.transform(frame_of(probe, schema)), dtype="float64")
    if not np.array_equal(fast(probe), expected):
        return None
    order: Literal["C", "F"] = "F" if expected.flags.f_contiguous else "C"
    return lambda rows: np.asarray(fast(rows), order=order)


def compile_outputs(estimator: Any, task: Task, probe: Matrix) -> Outputs | None:
    """What a fitted linear ``estimator`` predicts for preprocessed rows, or None.

    Ridge regression and logistic regression (binary or multinomial) with dense coefficients
    have one; None too if the result differs at all from the estimator's own on ``probe``,
    e.g. after a scikit-learn release changes how it computes them.
    """
    kind = type(estimator)
    if kind not in {LogisticRegression, Ridge} or not isinstance(estimator.coef_, np.ndarray):
        return None
    coef, intercept = estimator.coef_, estimator.intercept_
    weights = coef if coef.ndim == 1 else coef.T
    if task == "regression" and kind is Ridge:

        def predict(matrix: Matrix) -> tuple[Matrix, None]:
            return np.asarray(matrix @ weights + intercept, dtype="float64"), None

        outputs: Outputs = predict
    elif task == "classification" and kind is LogisticRegression:
        classes = np.asarray(estimator.classes_)

        def predict_proba(matrix: Matrix) -> tuple[Matrix, Matrix]:
            scores = matrix @ weights + intercept
            if scores.shape[1] == 1:  # binary: the positive class's logistic
                positive = expit(scores.reshape(-1))
                probabilities = np.stack([1 - positive, positive], axis=1)
            else:  # multinomial: softmax
                scores -= scores.max(axis=1).reshape(-1, 1)
                np.exp(scores, out=scores)
                probabilities = scores / scores.sum(axis=1).reshape(-1, 1)
            return classes[np.argmax(probabilities, axis=1)], probabilities

        outputs = predict_proba
    else:
        return None
    expected = model_outputs(estimator, probe, task)
    given = outputs(probe)
    same = all(
        (want is None and got is None)
        or (want is not None and got is not None and np.array_equal(want, got))
        for want, got in zip(expected, given, strict=True)
    )
    return outputs if same else None


def _compile(preprocess: Any, schema: FeatureSchema) -> RowsTransform | None:
    """The numpy steps of a known ``preprocess`` shape, as one function of the rows."""
    if isinstance(preprocess, Pipeline) and len(preprocess.steps) == 1:
        preprocess = preprocess[0]
    if not isinstance(preprocess, ColumnTransformer):
        return None
    positions = {name: position for position, name in enumerate(schema.feature_names)}
    kinds = {column.name: column.kind for column in schema.columns}
    branches: list[tuple[list[int], bool, list[_Step]]] = []
    for _, transformer, selected in preprocess.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        names = list(selected) if isinstance(selected, list | tuple) else None
        if not names or any(not isinstance(name, str) or name not in positions for name in names):
            return None
        numeric = {kinds[name] == "numeric" for name in names}
        steps = _steps(transformer, numeric.pop()) if len(numeric) == 1 else None
        if steps is None:
            return None
        branches.append(([positions[name] for name in names], kinds[names[0]] == "numeric", steps))
    if not branches:
        return None

    def transform(rows: Rows) -> npt.NDArray[np.float64]:
        outputs = []
        for columns, numeric, steps in branches:
            values = [[row[column] for column in columns] for row in rows]
            matrix = np.array(values, dtype="float64" if numeric else object)
            with np.errstate(all="ignore"):  # overflows are scored as unscorable rows
                for step in steps:
                    matrix = step(matrix)
            outputs.append(matrix)
        return np.hstack(outputs) if len(outputs) > 1 else outputs[0]

    return transform


def _steps(transformer: Any, numeric: bool) -> list[_Step] | None:
    """The numpy steps of one fitted branch; None when a step is not one this module knows."""
    fitted = transformer.steps if isinstance(transformer, Pipeline) else [(None, transformer)]
    steps = []
    for _, step in fitted:
        made = _step(step, numeric)
        if made is None:
            return None
        steps.append(made)
        numeric = numeric or isinstance(step, OneHotEncoder)
    return steps if numeric else None  # the branch must end in numbers


def _step(step: Any, numeric: bool) -> _Step | None:
    """One fitted transformer as a function of a matrix (float64 if ``numeric``, else objects)."""
    kind = type(step)
    if kind is SimpleImputer and not step.add_indicator and _is_nan(step.missing_values):
        return _imputer(step.statistics_, numeric)
    if kind is StandardScaler and numeric:
        return _scaler(step.mean_, step.scale_)
    if kind is OneHotEncoder and not numeric:
        return _encoder(step)
    return None


def _imputer(statistics: Matrix, numeric: bool) -> _Step | None:
    """``SimpleImputer``: a missing value becomes its column's fitted statistic."""
    if numeric:
        fill = np.asarray(statistics, dtype="float64")
        if np.isnan(fill).any():  # a column without values would be dropped: not handled here
            return None
        return lambda matrix: np.where(np.isnan(matrix), fill, matrix)
    if any(_is_nan(value) for value in statistics):
        return None
    fills = list(statistics)

    def impute(matrix: Matrix) -> Matrix:
        for position, fill_value in enumerate(fills):
            column = matrix[:, position]
            missing = [value is None or _is_nan(value) for value in column]
            column[missing] = fill_value
        return matrix

    return impute


def _scaler(mean: Matrix | None, scale: Matrix | None) -> _Step:
    """``StandardScaler``: subtract the fitted mean, divide by the fitted scale (when fitted)."""

    def standardize(matrix: Matrix) -> Matrix:
        if mean is not None:
            matrix = matrix - mean
        if scale is not None:
            matrix = matrix / scale
        return matrix

    return standardize


def _encoder(encoder: OneHotEncoder) -> _Step | None:
    """``OneHotEncoder`` (dense, nothing dropped, unknown -> zeros) as dictionary lookups."""
    categories = encoder.categories_
    known = (
        encoder.drop is None
        and encoder.handle_unknown == "ignore"
        and not encoder.sparse_output
        and encoder.min_frequency is None
        and encoder.max_categories is None
        and np.dtype(encoder.dtype) == np.float64
        and all(isinstance(value, str) for values in categories for value in values)
    )
    if not known:
        return None
    lookups = [{value: position for position, value in enumerate(values)} for values in categories]
    offsets = np.cumsum([0, *(len(values) for values in categories)])

    def encode(matrix: Matrix) -> Matrix:
        encoded = np.zeros((len(matrix), offsets[-1]))
        for column, (lookup, offset) in enumerate(zip(lookups, offsets, strict=False)):
            for row, value in enumerate(matrix[:, column]):
                position = lookup.get(value)
                if position is not None:
                    encoded[row, offset + position] = 1.0
        return encoded

    return encode


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and value != value
