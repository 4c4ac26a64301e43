"""The learning-rate schedule of a run (config keys of ours: ``learning_rate_schedule``,
``warmup_iterations``, ``final_learning_rate``).

The rate at iteration ``i`` (1-based) is a pure function of the config, so a resumed run
continues on the same curve. ``constant`` is the paper's (Adam at ``learning_rate`` for the
whole run); ``cosine`` falls from ``learning_rate`` to ``final_learning_rate`` along a half
cosine that ends at the config's ``iterations``; ``warmup_iterations`` ramp the rate linearly
from ``learning_rate / warmup_iterations`` up to ``learning_rate`` first (either schedule).
No torch here: :mod:`cnsr.config` (a layer below the trainer) validates against :data:`SCHEDULES`.
"""
from __future__ import annotations

import math
from typing import Optional

#: The schedule names a config may give.
SCHEDULES = ("constant", "cosine")

#: ``final_learning_rate`` of a cosine schedule when the config gives none: 1 % of the peak.
DEFAULT_FINAL_FRACTION = 0.01


def learning_rate(iteration: int, base: float, iterations: int, schedule: str = "constant",
                  warmup: int = 0, final: Optional[float] = None) -> float:
    """The learning rate of ``iteration`` (1-based) in a run of ``iterations`` iterations."""
    if schedule not in SCHEDULES:
        raise ValueError(f"learning_rate_schedule: {schedule!r} is not one of {', '.join(SCHEDULES)}")
    i = max(int(iteration), 1)
    if warmup > 0 and i <= warmup:
        return base * i / warmup
    if schedule == "constant":
        return base
    low = base * DEFAULT_FINAL_FRACTION if final is None else final
    span = max(int(iterations) - warmup, 1)
    t = min(max(i - warmup, 0) / span, 1.0)
    return low + (base - low) * 0.5 * (1.0 + math.cos(math.pi * t))


def config_learning_rate(cfg, iteration: int) -> float:
    """:func:`learning_rate` with the schedule of a :class:`cnsr.config.Config`."""
    return learning_rate(iteration, cfg.learning_rate, cfg.iterations, cfg.learning_rate_schedule,
                         cfg.warmup_iterations, cfg.final_learning_rate)
