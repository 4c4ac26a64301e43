"""Computing a viewer's state in a background thread, so that its window keeps drawing."""
from __future__ import annotations

import threading
import time
from typing import Optional


class BackgroundUpdater:
    """Runs ``state.update(progressive=True)`` in a thread whenever ``state.needs_update()`` (the
    controls ask for a new result, e.g. an attribution), so that the window keeps drawing the
    last one. ``error`` holds the last exception."""

    def __init__(self, state, poll: float = 0.01):
        self.state, self.poll = state, poll
        self.error: Optional[BaseException] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="attribution-update", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.state.needs_update():
                    self.state.update(progressive=True)
                    continue
            except Exception as e:  # noqa: BLE001 - shown in the window, the thread goes on
                self.error = e
                time.sleep(0.5)
            self._stop.wait(self.poll)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
