"""The one way tlsverify writes a file: to a temporary file beside it, then renamed into place, so a crash
never leaves half a report or half a policy."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, content: str, keep_mode: bool = False) -> None:
    """Write `content` to `path` whole or not at all. Without `keep_mode` the file is owner-only (reports
    name internal hosts). With it, a file that exists keeps its mode, a new one gets the usual mode (the
    umask's), and a symbolic link is followed (the file it points at is replaced, not the link).
    Raises OSError."""
    target = path.resolve() if keep_mode else path
    private_folders(target.parent)
    mode = None
    if keep_mode:
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_together(files: dict[Path, str]) -> None:
    """Write several files so that none is replaced unless all could be written: each goes to a temporary
    file first, and only then are they renamed into place (owner-only). Leftovers of an earlier, killed
    write of the same names are removed. Raises OSError."""
    written: dict[Path, str] = {}
    try:
        for path, content in files.items():
            private_folders(path.parent)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            written[path] = tmp
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(content)
        for path, tmp in written.items():
            os.replace(tmp, path)
    except BaseException:
        for tmp in written.values():
            Path(tmp).unlink(missing_ok=True)
        raise
    for path in files:
        for stale in path.parent.glob(f".{path.name}.*"):
            stale.unlink(missing_ok=True)


def check_writable(folder: Path, names: list[str]) -> str | None:
    """Why reports cannot be written to `folder` (made owner-only here if missing), or None when they can."""
    try:
        private_folders(folder)
    except OSError as exc:
        return f"cannot create the folder {folder}: {exc.strerror or exc}"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is not writable"
    in_the_way = [name for name in names if (folder / name).is_dir()]
    if in_the_way:
        return f"{folder / in_the_way[0]} is a folder, where a report file belongs"
    return None


def private_folders(folder: Path) -> None:
    """Create `folder` and any missing parents owner-only (0700), whatever the umask: the reports and the
    database inside name internal hosts, and a folder others may write lets them replace those."""
    missing = []
    for part in (folder, *folder.parents):
        if part.exists():
            break
        missing.append(part)
    for part in reversed(missing):
        try:
            part.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(part, 0o700)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
