"""The model's life on the command line: ``data``, ``train``, ``evaluate``, ``predict``, ``card``.

Each handler imports the workflow (pandas, scikit-learn) when it runs, not when the parser is
built, and opens ``--model`` with ``core.models.open_model``, so a registered version
works wherever the project tracks with MLflow.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ..core.models import model_forms, open_model, training_recorder
from .options import (
    EXIT_FAILED,
    EXIT_OK,
    add_version_mismatch_option,
    config_options,
    load_train_config,
    print_json,
)

logger = logging.getLogger(__name__)

#: Where ``card`` writes a version's card unless ``--output`` says otherwise.
CARD_OUTPUT = Path("reports/card")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``data``, ``train``, ``evaluate``, ``predict`` and ``card`` with their handlers."""
    config = config_options()
    seed = argparse.ArgumentParser(add_help=False)
    seed.add_argument("--seed", type=int, help="random seed (config: seed)")
    data_paths = argparse.ArgumentParser(add_help=False)
    data_paths.add_argument(
        "--train-path", type=Path, help="training data (config: data.train_path)"
    )
    data_paths.add_argument("--test-path", type=Path, help="test data (config: data.test_path)")
    model = argparse.ArgumentParser(add_help=False)
    model.add_argument("--model", help=f"{model_forms()} (default: output.models_dir)")

    data = commands.add_parser(
        "data", parents=[config, seed, data_paths], help="write the demo data as train/test files"
    )
    data.add_argument(
        "--force", action="store_true", help="replace train/test files that hold other data"
    )
    data.set_defaults(handler=write_demo_data)
    train = commands.add_parser(
        "train",
        parents=[config, seed, data_paths],
        help="train, evaluate, save a new model version; publish it if the quality gate passes",
    )
    train.add_argument("--estimator", help="estimator name (config: estimator.name)")
    train.add_argument("--models-dir", type=Path, help="models root (config: output.models_dir)")
    train.set_defaults(handler=train_model)
    evaluate = commands.add_parser(
        "evaluate",
        parents=[config, model],
        help="score a saved model on the test data and apply the quality gate",
    )
    evaluate.add_argument("--input", dest="test_path", type=Path, help="test data to score")
    add_version_mismatch_option(evaluate)
    evaluate.set_defaults(handler=evaluate_model)
    predict = commands.add_parser(
        "predict", parents=[config, model], help="add prediction columns to a CSV/Parquet file"
    )
    predict.add_argument("--input", type=Path, help="rows to predict (default: data.test_path)")
    predict.add_argument("--output", type=Path, help="default: output.predictions_path")
    add_version_mismatch_option(predict)
    predict.set_defaults(handler=predict_rows)
    card = commands.add_parser(
        "card",
        parents=[config, model],
        help="write a model version's card (Markdown, HTML, figure) beside its bundle, with the "
        "config's card: text",
    )
    card.add_argument(
        "--output",
        type=Path,
        default=CARD_OUTPUT,
        help=f"folder for card.md, card.html and card.svg, never inside the bundle "
        f"(default: {CARD_OUTPUT})",
    )
    add_version_mismatch_option(card)
    card.set_defaults(handler=write_model_card)


def write_demo_data(args: argparse.Namespace) -> int:
    """``data``: write the demo data where the config's data paths point."""
    from ..core.workflow import write_data

    write_data(load_train_config(args), force=args.force)
    return EXIT_OK


def train_model(args: argparse.Namespace) -> int:
    """``train``: 0 when the new version passed the quality gate and was published, else 1."""
    from ..core.workflow import run_training

    config = load_train_config(args)
    recorder = training_recorder(config)
    result = run_training(config, record=recorder)
    metadata = result.metadata
    tracked: dict[str, Any] = recorder.summary() if recorder is not None else {}
    print_json(
        {
            "version": metadata.version,
            "directory": str(result.directory),
            "published": result.published,
            **tracked,
            "evaluation": metadata.evaluation,
            "metrics": metadata.metrics,
            "quality_gate": metadata.quality_gate.model_dump(),
        }
    )
    return EXIT_OK if result.published else EXIT_FAILED


def evaluate_model(args: argparse.Namespace) -> int:
    """``evaluate``: score ``--model`` on the test data; 1 when the quality gate fails."""
    from ..core.workflow import run_evaluation

    config = load_train_config(args)
    mismatch = args.allow_version_mismatch
    reference = args.model or config.output.models_dir
    with open_model(reference, config=config, allow_version_mismatch=mismatch) as opened:
        result = run_evaluation(config, opened.folder, allow_version_mismatch=mismatch)
    print_json(
        {
            "version": result.version,
            "metrics": result.metrics,
            "quality_gate": result.quality_gate.model_dump(),
        }
    )
    if not result.quality_gate.passed:
        logger.error("quality gate failed: %s", "; ".join(result.quality_gate.failures))
        return EXIT_FAILED
    return EXIT_OK


def predict_rows(args: argparse.Namespace) -> int:
    """``predict``: write ``--input`` with the model's prediction columns to ``--output``."""
    from ..core.workflow import run_prediction

    config = load_train_config(args)
    input_path = args.input or config.data.test_path
    if input_path is None:
        raise ValueError("no input: pass --input or set data.test_path")
    output_path = args.output or config.output.predictions_path
    mismatch = args.allow_version_mismatch
    reference = args.model or config.output.models_dir
    with open_model(reference, config=config, allow_version_mismatch=mismatch) as opened:
        run_prediction(opened.folder, input_path, output_path, allow_version_mismatch=mismatch)
    return EXIT_OK


def write_model_card(args: argparse.Namespace) -> int:
    """``card``: make ``--model``'s card again with the config's ``card:`` text in ``--output``."""
    from ..core.bundle import load_bundle
    from ..core.card import make_card, write_card

    config = load_train_config(args)
    mismatch = args.allow_version_mismatch
    reference = args.model or config.output.models_dir
    with open_model(reference, config=config, allow_version_mismatch=mismatch) as opened:
        bundle = opened.bundle or load_bundle(opened.folder, allow_version_mismatch=mismatch)
        found = opened.registered
        registered = f"models:/{found['name']}/{found['version']}" if found else None
        files = make_card(
            bundle.metadata, bundle.profile, bundle.model, config.card, registered=registered
        )
        written = write_card(files, args.output, bundle=bundle.directory)
    print_json({"version": bundle.metadata.version, "card": [str(path) for path in written]})
    return EXIT_OK
