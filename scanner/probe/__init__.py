"""The only code that touches sockets and sslyze; everything it finds comes out as `scanner.models`.

sslyze's package `__init__` imports every plugin it has, cryptodatahub's tables among them: 0.2 s of every
run, where the probe uses five of its modules (0.05 s). The console script therefore registers `sslyze` as
its package without running that `__init__` (`defer_sslyze_init`); the first use of a name from the package
itself (`from sslyze import X`) runs it then, into the same module. sslyze's scanner and plugins import
the package from inside their own imports, which such a deferred `__init__` cannot serve (a circular
import): code that uses them calls `complete_sslyze_init` first.
"""

from __future__ import annotations

import importlib.util
import sys
import threading

_lock = threading.RLock()
_running = False
"""The deferred `__init__` is running (in the thread holding the lock: what it asks of the package meanwhile
is not there yet, and Python then imports a submodule of that name; any other thread waits for the lock)."""


def defer_sslyze_init() -> None:
    """Register `sslyze` with its `__init__` deferred; nothing if it is imported already."""
    with _lock:
        if "sslyze" in sys.modules:
            return
        spec = importlib.util.find_spec("sslyze")
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            return  # not installed as a package: the import fails where it is used, with Python's own message
        package = importlib.util.module_from_spec(spec)
        package.__dict__["__getattr__"] = _complete_then_get
        sys.modules["sslyze"] = package


def complete_sslyze_init() -> None:
    """Run sslyze's deferred `__init__`, if it was deferred and has not run yet."""
    global _running
    with _lock:
        package = sys.modules.get("sslyze")
        if package is None or "__getattr__" not in package.__dict__ or _running:
            return
        spec = package.__spec__
        assert spec is not None and spec.loader is not None
        _running = True
        try:
            spec.loader.exec_module(package)  # the hook stays until this ends: others wait on the lock
            del package.__dict__["__getattr__"]
        finally:
            _running = False


def _complete_then_get(name: str) -> object:
    complete_sslyze_init()
    try:
        return sys.modules["sslyze"].__dict__[name]
    except KeyError:
        raise AttributeError(f"module 'sslyze' has no attribute {name!r}") from None
