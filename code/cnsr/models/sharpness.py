"""The sharpness schedule of the partition masks: its defaults are written here only.

The config keys ``start_sigmoid``, ``end_sigmoid``, ``sharpen_sigmoid``, ``sharpening`` and
``final_sharpening`` of an encoder take their defaults from :data:`DEFAULT_SHARPNESS`, as do
:func:`cnsr.models.partition.sharpness` and the encoders. No torch here: ``cnsr.config`` imports it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SharpnessSchedule:
    """Sharpness ``k`` of the partition masks as a function of the training iteration.

    Ramps linearly from ``start`` to ``end`` over ``sharpening`` iterations, then from ``end``
    to ``sharpen`` over ``final_sharpening`` iterations, and stays there.
    """
    start: float = 5.0
    end: float = 100.0
    sharpen: float = 100.0
    sharpening: int = 500000
    final_sharpening: int = 100000

    def __call__(self, iteration: int) -> float:
        if iteration <= self.sharpening:
            return max(self.start + (self.end - self.start) * iteration / max(self.sharpening, 1), self.start)
        k = self.end + (self.sharpen - self.end) * (iteration - self.sharpening) / max(self.final_sharpening, 1)
        return min(self.sharpen, max(k, self.end))


#: The paper's schedule (5 -> 100 over 5e5 iterations, then -> 100 over 1e5).
DEFAULT_SHARPNESS = SharpnessSchedule()
