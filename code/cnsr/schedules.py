"""Schedules: values that are pure functions of the training iteration.

**The learning rate** of a run (config keys of ours: ``learning_rate_schedule``,
``warmup_iterations``, ``final_learning_rate``, ``learning_rate_step``, ``learning_rate_decay``).

The rate at iteration ``i`` (1-based) is a pure function of the config, so a resumed run
continues on the same curve. ``constant`` is the paper's (Adam at ``learning_rate`` for the
whole run); ``cosine`` falls from ``learning_rate`` to ``final_learning_rate`` along a half
cosine that ends at the config's ``iterations``; ``step`` keeps ``learning_rate`` up to and
including iteration ``learning_rate_step`` and ``final_learning_rate`` after it (a high rate to
leave the start, then the low one); ``warmup_iterations`` ramp the rate linearly from
``learning_rate / warmup_iterations`` up to ``learning_rate`` first (any schedule);
``learning_rate_decay`` multiplies the rate of the run's last ``learning_rate_decay`` iterations
(any schedule) by a half cosine that falls from 1 to :data:`DEFAULT_FINAL_FRACTION` at the
config's ``iterations``: a high rate held and then annealed, which ends a run at a low rate
whatever its schedule was.

**The sharpness** ``k`` of the partition masks (:class:`SharpnessSchedule`): its defaults are
written here only. The config keys ``start_sigmoid``, ``end_sigmoid``, ``sharpen_sigmoid``,
``sharpening`` and ``final_sharpening`` of an encoder take their defaults from
:data:`DEFAULT_SHARPNESS`, as do :func:`cnsr.models.partition.sharpness` and the encoders.

No torch here: :mod:`cnsr.config` (a layer below the trainer and the models) validates against
:data:`SCHEDULES` and takes the sharpness defaults from here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

#: The schedule names a config may give.
SCHEDULES = ("constant", "cosine", "step")

#: ``final_learning_rate`` of a cosine or step schedule when the config gives none: 1 % of the peak.
DEFAULT_FINAL_FRACTION = 0.01


def learning_rate(iteration: int, base: float, iterations: int, schedule: str = "constant",
                  warmup: int = 0, final: Optional[float] = None, step: int = 0, decay: int = 0) -> float:
    """The learning rate of ``iteration`` (1-based) in a run of ``iterations`` iterations
    (``step``: the last iteration at ``base`` of a step schedule; ``decay``: the run's last
    iterations over which the rate is annealed, see the module's text)."""
    rate = _scheduled_rate(iteration, base, iterations, schedule, warmup, final, step)
    if decay > 0:
        t = min(max(int(iteration) - (int(iterations) - decay), 0) / decay, 1.0)
        rate *= DEFAULT_FINAL_FRACTION + (1.0 - DEFAULT_FINAL_FRACTION) * _half_cosine(t)
    return rate


def _half_cosine(t: float) -> float:
    """1 at ``t`` = 0 falling along a half cosine to 0 at ``t`` = 1."""
    return 0.5 * (1.0 + math.cos(math.pi * t))


def _scheduled_rate(iteration: int, base: float, iterations: int, schedule: str, warmup: int,
                    final: Optional[float], step: int) -> float:
    """The rate of the schedule itself, before the final decay."""
    if schedule not in SCHEDULES:
        raise ValueError(f"learning_rate_schedule: {schedule!r} is not one of {', '.join(SCHEDULES)}")
    i = max(int(iteration), 1)
    if warmup > 0 and i <= warmup:
        return base * i / warmup
    if schedule == "constant":
        return base
    low = base * DEFAULT_FINAL_FRACTION if final is None else final
    if schedule == "step":
        return base if i <= step else low
    span = max(int(iterations) - warmup, 1)
    t = min(max(i - warmup, 0) / span, 1.0)
    return low + (base - low) * _half_cosine(t)


def config_learning_rate(cfg, iteration: int) -> float:
    """:func:`learning_rate` with the schedule of a :class:`cnsr.config.Config`."""
    return learning_rate(iteration, cfg.learning_rate, cfg.iterations, cfg.learning_rate_schedule,
                         cfg.warmup_iterations, cfg.final_learning_rate, cfg.learning_rate_step,
                         cfg.learning_rate_decay)


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
