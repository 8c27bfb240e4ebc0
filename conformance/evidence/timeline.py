"""The run's timeline: what the run and each background watch did, and when, in one place. Every watch notes
its steps there (created, ended, sampled, deleted, gone), the runner notes its own (collection finished),
and `-v` prints it at the end of the run."""

from __future__ import annotations

import threading
import time
from typing import Any


class Timeline:
    """The run's timeline: what each watch did, and when (seconds since the run started). Thread-safe."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self.events: list[tuple[float, str, str]] = []
        self.watches: dict[str, Any] = {}  # name -> its watch (conformance.evidence.watches.base.Watch)

    def add(self, watch: Any) -> Any:
        self.watches[watch.name] = watch
        watch.timeline = self
        return watch

    def note(self, who: str, what: str) -> None:
        with self._lock:
            self.events.append((time.monotonic() - self.started, who, what))

    def in_order(self) -> list[tuple[float, str, str]]:
        with self._lock:
            return sorted(self.events)

    def lines(self) -> list[str]:
        return [f"{at:7.2f} s  {who:<17} {what}" for at, who, what in self.in_order()]

    def stop(self) -> None:
        for watch in self.watches.values():
            watch.stop()
