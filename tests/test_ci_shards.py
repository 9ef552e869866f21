"""CI's shards, collected as CI runs them, select every test of the meta suite exactly once."""

import importlib.util
import subprocess
from collections import Counter
from types import ModuleType

from rendering import TEMPLATE_ROOT


def _load_shard_times() -> ModuleType:
    """scripts/shard_times.py, which parses ci.yml and predicts the shards."""
    spec = importlib.util.spec_from_file_location("shard_times", SHARD_TIMES)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {SHARD_TIMES}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SHARD_TIMES = TEMPLATE_ROOT / "scripts" / "shard_times.py"
shard_times = _load_shard_times()


def test_shards_select_every_test_exactly_once() -> None:
    shards, template = shard_times.shard_job()
    args = [
        "",
        *(shard_times.shard_args(template, shards, group) for group in range(1, shards + 1)),
    ]
    runs = [
        subprocess.Popen(
            shard_times.collect_command(pytest_args),
            cwd=TEMPLATE_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for pytest_args in args
    ]  # collected side by side: each run is mostly interpreter and copier start-up
    outputs = [run.communicate()[0] for run in runs]
    for pytest_args, run, output in zip(args, runs, outputs, strict=True):
        assert run.returncode == 0, f"collecting with PYTEST_ARGS={pytest_args!r} failed:\n{output}"
    whole, *selected = map(shard_times.test_ids, outputs)

    assert len(set(whole)) == len(whole) > 100
    assert all(selected), "an empty shard fails its job (pytest exits 5): use fewer shards"
    counts = Counter(nodeid for shard in selected for nodeid in shard)
    assert sorted(counts) == sorted(whole), "tests missing from every shard, or only in shards"
    assert [nodeid for nodeid, count in counts.items() if count > 1] == []
    # scripts/shard_times.py predicts exactly these shards, so its time estimates are theirs.
    assert [ids for ids, _ in shard_times.split(whole, shards)] == selected
