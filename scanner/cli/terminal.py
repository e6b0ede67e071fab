"""The terminal at the edge: a rich console for the summary (colour only on a terminal, and never with
NO_COLOR set), and the live progress bar that moves with each connection a probe opens."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from scanner.models import ProbeResult
from scanner.report.text import count

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.progress import Progress, TaskID

EXPECTED_CONNECTIONS = 16
"""Connections one endpoint's probe usually opens (14.7 to 15.5 measured over the benchmark's servers): the
bar moves by 1/16 of an endpoint with each, up to 90% of it until the endpoint finishes."""


def console(stream: TextIO) -> Console:
    """A console on `stream`: colour and wrapping to its width on a terminal; plain text elsewhere. rich
    honours NO_COLOR, FORCE_COLOR, TERM=dumb and COLUMNS itself."""
    from rich.console import Console

    return Console(file=stream, highlight=False, soft_wrap=False)


def show(stream: TextIO, make: Callable[[int], list[RenderableType]]) -> None:
    """Print what `make` lays out for the width: on a terminal in colour at its width; elsewhere (a pipe, a
    file, a log) as plain text at $COLUMNS or 80 columns, without the trailing blanks that pad table cells."""
    out = console(stream)
    renderables = make(out.width)
    if out.is_terminal:
        for item in renderables:
            out.print(item)
    else:
        from scanner.report.text import render

        print(render(renderables, out.width), file=stream)


class LiveProgress:
    """A bar on standard error for a run: endpoints done, connections opened, the endpoint last heard from.
    Called from the scan's worker threads; rich's progress takes its own lock."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._open: dict[str, int] = {}
        self._done = 0
        self._connections = 0
        self._total = 0

    def _start(self, total: int) -> tuple[Progress, TaskID]:
        if self._progress is None or self._task is None:
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(),
                BarColumn(),
                TextColumn("{task.fields[done]}/{task.total:.0f} endpoints", markup=False),
                TextColumn("{task.fields[connections]}", markup=False),
                TimeElapsedColumn(),
                # an endpoint id (`apns@2001:db8::1`) is text: no markup, and no `:a:` read as an emoji
                TextColumn("{task.fields[last]}", style="dim", markup=False),
                console=console(self._stream),
                transient=False,
            )
            self._task = self._progress.add_task("probing", total=total, done=0, connections="", last="")
            self._progress.start()
        return self._progress, self._task

    def _update(self, total: int, last: str) -> None:
        progress, task = self._start(total)
        moving = sum(min(0.9, n / EXPECTED_CONNECTIONS) for n in self._open.values())
        progress.update(
            task,
            total=total,
            completed=self._done + moving,
            done=self._done,
            connections=count(self._connections, "connection"),
            last=last if len(last) <= 40 else last[:39] + "…",
        )

    def started(self, total: int) -> None:
        with self._lock:
            self._total = total
            self._update(total, "")

    def connected(self, endpoint_id: str) -> None:
        with self._lock:
            self._connections += 1
            self._open[endpoint_id] = self._open.get(endpoint_id, 0) + 1
            self._update(self._total, endpoint_id)

    def finished(self, result: ProbeResult, done: int, total: int) -> None:
        with self._lock:
            self._open.pop(result.endpoint_id, None)
            self._done = done
            self._total = total
            self._update(total, result.endpoint_id)

    def close(self) -> None:
        """Stop the bar, leaving its last state on the screen (and the cursor shown again)."""
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None
