"""The loop on the command line: ``retrain``, ``promote``, ``rollback`` and ``loop``.

``promote`` and ``rollback`` move the champion wherever it lives: the registry's aliases when the
project tracks with MLflow, else the models folder's ``latest.json``. Every decision they and
``loop`` take is printed and recorded (see ``core.promotion``).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..core.models import champions, model_forms, open_model
from .options import EXIT_FAILED, EXIT_OK, config_options, load_train_config, print_json

logger = logging.getLogger(__name__)

LOOP_REPORTS = Path("reports/loop")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``retrain``, ``promote``, ``rollback`` and ``loop`` with their handlers."""
    config = config_options()
    retrain = commands.add_parser(
        "retrain",
        parents=[config],
        help="train a candidate on the base data plus labelled production rows (retrain: in "
        "the config); make it the challenger if it passes the gate",
    )
    retrain.add_argument(
        "--reproduce",
        metavar="MODEL",
        help=f"train a past candidate again from its snapshot and compare ({model_forms()})",
    )
    retrain.set_defaults(handler=run_retrain)
    promote = commands.add_parser(
        "promote",
        parents=[config],
        help="make a version (default: the challenger) the champion, and record the decision",
    )
    promote.add_argument("--version", dest="model_version", help="the version to promote")
    promote.add_argument(
        "--if-better",
        action="store_true",
        help="promote only if it beats the champion by promotion.margin, significantly "
        "(paired bootstrap), on the comparison set retrain held out (else data.test_path)",
    )
    promote.add_argument(
        "--on", type=Path, help="with --if-better: the labelled data to compare on"
    )
    promote.add_argument("--metric", help="metric --if-better compares (config: promotion.metric)")
    promote.add_argument(
        "--dry-run", action="store_true", help="print the decision; move and record nothing"
    )
    promote.set_defaults(handler=promote_version)
    rollback = commands.add_parser(
        "rollback", parents=[config], help="give the champion back to the previous champion"
    )
    rollback.set_defaults(handler=roll_back)
    loop = commands.add_parser(
        "loop",
        parents=[config],
        help="monitor the champion; on an alert, its age or --force: retrain, decide, promote "
        "(or roll back a promotion that degraded); 1 when it needs a human",
    )
    loop.add_argument("--force", action="store_true", help="retrain whatever monitoring says")
    loop.add_argument(
        "--dry-run", action="store_true", help="decide and print; move and record nothing"
    )
    loop.add_argument(
        "--report-dir",
        type=Path,
        default=LOOP_REPORTS,
        help=f"where the monitoring report goes (default: {LOOP_REPORTS})",
    )
    loop.add_argument(
        "--drift-window",
        default="24h",
        help="judge drift on what was logged this long before now (default: 24h, a nightly run)",
    )
    loop.add_argument("--monitoring-config", type=Path, help="default: configs/monitoring.yaml")
    loop.set_defaults(handler=run_loop)


def run_retrain(args: argparse.Namespace) -> int:
    """``retrain``: 0 with a new challenger (or a reproduction), 1 when it failed the gate."""
    from ..monitoring.retraining import reproduce, retrain

    config = load_train_config(args)
    if args.reproduce is not None:
        with open_model(args.reproduce, config=config) as opened:
            from ..core.bundle import load_bundle

            bundle = opened.bundle or load_bundle(opened.folder)
            result = reproduce(bundle)
        print_json(result)
        return EXIT_OK if result["identical_predictions"] else EXIT_FAILED
    candidate = retrain(config, champions(config))
    print_json(candidate.as_dict())
    return EXIT_OK if candidate.passed else EXIT_FAILED


def promote_version(args: argparse.Namespace) -> int:
    """``promote``: 0 when promoted (or a dry run would) or nothing is to; 1: the champion stays.

    Nothing to promote: the challenger is the champion already, or there is none (without
    tracking, ``train`` publishes the champion itself and makes no challenger). A version asked
    for with ``--version`` is always decided on.
    """
    from datetime import UTC, datetime

    from ..core.promotion import Decision, promote_challenger

    if args.on is not None and not args.if_better:
        raise ValueError("--on only applies with --if-better")
    if args.metric is not None:
        if not args.if_better:
            raise ValueError("--metric only applies with --if-better")
        args.assignments = [*args.assignments, f"promotion.metric={args.metric}"]
    config = load_train_config(args)
    store = champions(config)
    if args.model_version is None:
        challenger, champion = store.challenger(), store.champion()
        if champion is not None and challenger in (None, champion):
            nothing = Decision(  # not a decision on anything: printed, never recorded
                decided_at=datetime.now(UTC),
                action="keep",
                dry_run=args.dry_run,
                champion=champion,
                challenger=challenger,
                reason=f"nothing to promote: version {champion} is the champion and there is "
                "no other challenger (retrain makes one)",
            )
            print_json(nothing.model_dump(mode="json"))
            logger.info("%s", nothing.reason)
            return EXIT_OK
    decision = promote_challenger(
        store,
        config,
        version=args.model_version,
        if_better=args.if_better,
        comparison=args.on,
        dry_run=args.dry_run,
    )
    print_json(decision.model_dump(mode="json"))
    if decision.action != "promote":
        logger.error("%s", decision.summary())
        return EXIT_FAILED
    return EXIT_OK


def roll_back(args: argparse.Namespace) -> int:
    """``rollback``: give the champion back to the version that held it before."""
    from datetime import UTC, datetime

    from ..core.promotion import Decision

    store = champions(load_train_config(args))
    replaced, champion = store.rollback()
    decision = Decision(
        decided_at=datetime.now(UTC),
        action="rollback",
        acted=True,
        champion=replaced,
        challenger=champion,
        reason=f"roll back: asked for; version {champion} is the champion again",
        trigger="rollback command",
    )
    try:
        store.record(decision)
    except BaseException:
        store.promote(replaced)
        raise
    print_json({"champion": champion, "replaced": replaced})
    return EXIT_OK


def run_loop(args: argparse.Namespace) -> int:
    """``loop``: 0 when the loop ended well, 1 when it wants a human (see the README)."""
    from ..core.config import parse_duration
    from ..monitoring.config import DEFAULT_MONITORING_CONFIG
    from ..monitoring.loop import run_loop as loop_once

    drift_window = parse_duration(args.drift_window)
    config = load_train_config(args)
    run = loop_once(
        config,
        champions(config),
        report_dir=args.report_dir,
        monitoring_config=args.monitoring_config or DEFAULT_MONITORING_CONFIG,
        force=args.force,
        dry_run=args.dry_run,
        drift_window=drift_window,
    )
    print_json(run.as_dict())
    if run.wants_human:
        logger.error("the loop needs a human: %s", run.decision.summary())
        return EXIT_FAILED
    return EXIT_OK
