"""Where a model came from: the git commit and the versions of the packages used."""

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

#: Distributions whose versions decide how a saved model behaves.
TRACKED_PACKAGES = ("numpy", "pandas", "pyarrow", "pydantic", "scikit-learn", "scipy", "skops")


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed version of each distribution; absent ones are left out."""
    versions = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def git_commit(start: Path) -> str | None:
    """Commit checked out in the git work tree holding ``start``, read from ``.git`` files.

    Reading the files (rather than running ``git``) works without git installed and
    handles linked work trees and packed refs. Returns None outside a repository.
    """
    for directory in (start.resolve(), *start.resolve().parents):
        dot_git = directory / ".git"
        if dot_git.is_dir():
            return _resolve_head(dot_git)
        if dot_git.is_file():
            pointer = dot_git.read_text(encoding="utf-8").strip().removeprefix("gitdir:").strip()
            return _resolve_head((directory / pointer).resolve())
    return None


def _resolve_head(git_dir: Path) -> str | None:
    head_file = git_dir / "HEAD"
    if not head_file.is_file():
        return None
    head = head_file.read_text(encoding="utf-8").strip()
    if not head.startswith("ref:"):
        return head or None
    ref = head.removeprefix("ref:").strip()
    common = git_dir
    if (git_dir / "commondir").is_file():
        common = (git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    for base in (git_dir, common):
        if (base / ref).is_file():
            return (base / ref).read_text(encoding="utf-8").strip()
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            commit, _, name = line.partition(" ")
            if name == ref:
                return commit
    return None
