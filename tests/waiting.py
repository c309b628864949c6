"""The one way tests wait: poll a check until it holds, or fail at the deadline with the picture."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Watched(Protocol):
    """A running system a test waits on: it can say it stopped, and show what it was doing."""

    def exited(self) -> str | None: ...

    def diagnostics(self) -> str: ...


def wait_for(
    what: str,
    check: Callable[[], T],
    *,
    timeout: float = 20.0,
    interval: float = 0.1,
    watched: Watched | None = None,
) -> T:
    """Return `check()` once it is truthy. An exception from `check` counts as "not yet" (a table
    may not exist yet); a watched system that exits ends the wait at once."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        exited = watched.exited() if watched is not None else None
        if exited:
            raise AssertionError(f"{exited} while waiting for {what}\n{_picture(watched)}")
        try:
            result = check()
        except Exception as error:
            last_error = error
        else:
            if result:
                return result
            last_error = None
        if time.monotonic() >= deadline:
            because = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {what}{because}\n{_picture(watched)}"
            )
        time.sleep(interval)


def _picture(watched: Watched | None) -> str:
    return watched.diagnostics() if watched is not None else ""
