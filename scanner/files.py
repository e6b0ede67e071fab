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
