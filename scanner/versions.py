"""The versions of tlsverify and of the libraries its probe is made of, as the JSON documents record them."""

from __future__ import annotations

from functools import cache

from scanner.models import Tool


def _installed(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version  # 15 ms: only when a document is written

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


@cache
def current() -> Tool:
    """This process's tlsverify, sslyze and nassl, read from the installed distributions' metadata."""
    return Tool(
        name="tlsverify", version=_installed("tlsverify"), sslyze=_installed("sslyze"), nassl=_installed("nassl")
    )
