"""Figures of learning curves (matplotlib, Agg backend): one run (:func:`plot_run`) or several
runs overlaid (:func:`plot_compare`). Input: the ``curves.json`` dicts of
:mod:`cnsr.analysis.curves`. Every panel is labelled with its quantity and unit; shaded bands
are +-1 standard error over the benchmark's scenes."""
from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..io.atomic import atomic_path  # noqa: E402
from .compositing_benchmark import leak_share  # noqa: E402

FACTORS = ("lighting", "geometry", "material")
FACTOR_COLORS = {"lighting": "#d08b00", "geometry": "#3a7d44", "material": "#7b3fa0"}
KIND_COLORS = {"none": "#9a9a9a", "full": "#1f5fbf", "composite": "#d1452f"}
#: the targets of the CPU recipe, drawn as dotted lines
TRANSFER_TARGETS = {"lighting": 0.95, "material": 0.9}
#: what an empty transfer panel means (the benchmark's 'undefined' rule)
EMPTY_TRANSFER = ("undefined at every measured checkpoint:\nE_none - E_full within 2 standard errors,\n"
                  "so there is no change to transfer")


def _series(points: Sequence[Mapping[str, Any]], get) -> Tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for p in points:
        try:
            v = get(p)
        except (KeyError, TypeError):
            v = None
        if v is not None and np.isfinite(v):
            xs.append(p["iteration"])
            ys.append(v)
    return np.asarray(xs, float), np.asarray(ys, float)


def _band(ax, points, get_mean, get_se, color, label, **kw) -> bool:
    """Mean line with a +/- standard-error band; False where no point has a value."""
    x, y = _series(points, get_mean)
    if not len(x):
        return False
    _, se = _series(points, lambda p: get_se(p) if get_mean(p) is not None else None)
    ax.plot(x, y, color=color, label=label, marker="o", markersize=2.5, linewidth=1.3, **kw)
    if len(se) == len(y):
        ax.fill_between(x, y - se, y + se, color=color, alpha=0.18, linewidth=0)
    return True


def _say_empty(ax, text):
    """A panel with no point at all says why instead of staying blank."""
    t = ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=8, color="#555555")
    t.set_in_layout(False)      # a note inside the axes must not shrink them in tight_layout


def _wall_axis(ax, points):
    """A top axis in minutes of training where the points know their training seconds."""
    known = [(p["iteration"], p["train_seconds"]) for p in points if p.get("train_seconds") is not None]
    if len(known) < 2:
        return
    it = np.asarray([0.0] + [k[0] for k in known])
    sec = np.asarray([0.0] + [k[1] for k in known]) / 60.0
    order = np.argsort(it)
    it, sec = it[order], sec[order]

    def extrapolating(xp, fp):
        slope = (fp[-1] - fp[-2]) / max(xp[-1] - xp[-2], 1e-12)

        def f(x):
            x = np.asarray(x, float)
            return np.where(x <= xp[-1], np.interp(x, xp, fp), fp[-1] + (x - xp[-1]) * slope)
        return f

    fwd, inv = extrapolating(it, sec), extrapolating(sec, it)

    top = ax.secondary_xaxis("top", functions=(fwd, inv))
    top.set_xlabel("training time (min)", fontsize=7)
    top.tick_params(labelsize=7)


def _legend(ax, size=7):
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=size)


def _style(ax, title, ylabel, xlabel="iteration"):
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)


def _save(fig, path: Union[str, os.PathLike]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def plot_run(curves: Mapping[str, Any], path: Union[str, os.PathLike], title: Optional[str] = None) -> Path:
    """The figure of one run: a 3 x 4 grid of panels against iterations (training minutes on top).

    Row 1: training and held-out loss; clean-reference RMSE and MAPE; SSIM; partition sizes
    and the mask sharpness. Row 2: per factor, the benchmark's E_none / E_full / E_composite
    (RMSE, +-1 SE bands); the share of E_none that seeing the changed scene removes
    ((E_none - E_full) / E_none). Row 3: transfer scores on RMSE and on MAPE per factor (+-1 SE;
    missing where undefined); leak against the gap per factor (RMSE); per factor, the share of
    the representation's change that lands outside the factor's own partition (the benchmark's
    ``shift``). Below the panels, the last checkpoint's numbers."""
    pts = list(curves.get("points", []))
    run = curves.get("run", {})
    fig, axes = plt.subplots(3, 4, figsize=(17, 13))
    fig.suptitle(title or f"{run.get('job_name', 'run')}: learning curves "
                 f"({curves.get('settings', {}).get('compositing_scenes', '?')} compositing scenes, references at "
                 f"{curves.get('settings', {}).get('reference_spp', '?')} spp)", fontsize=11)

    ax = axes[0, 0]
    for key, color, label in (("train_loss", "#1f5fbf", "training (interval mean)"),
                              ("test_loss", "#d1452f", "held-out test batches")):
        x, y = _series(pts, lambda p, k=key: p.get(k))
        if len(x):
            ax.plot(x, y, color=color, marker="o", markersize=2.5, label=label)
    _style(ax, "loss (the run's training objective, every term)", "loss")
    _legend(ax)

    ax = axes[0, 1]
    _band(ax, pts, lambda p: p["reference"]["rmse"], lambda p: p["reference_se"]["rmse"], "#1f5fbf", "RMSE")
    _band(ax, pts, lambda p: p["reference"]["mape"], lambda p: p["reference_se"]["mape"], "#d1452f", "MAPE")
    ax.axhline(0.35, color="#1f5fbf", linestyle=":", linewidth=1)
    ax.axhline(0.5, color="#d1452f", linestyle=":", linewidth=1)
    spp = curves.get("settings", {}).get("reference_spp", "?")
    _style(ax, f"quality vs {spp}-spp references (dotted: targets)", "error (linear radiance; MAPE a fraction)")
    _legend(ax)

    ax = axes[0, 2]
    _band(ax, pts, lambda p: p["reference"]["ssim"], lambda p: p["reference_se"]["ssim"], "#3a7d44", "SSIM")
    if any("flip" in p.get("reference", {}) for p in pts):
        _band(ax, pts, lambda p: p["reference"]["flip"], lambda p: p["reference_se"]["flip"], "#7b3fa0", "FLIP")
    ax.axhline(0.7, color="#3a7d44", linestyle=":", linewidth=1)
    _style(ax, f"quality vs {spp}-spp references (dotted: SSIM target)", "SSIM / FLIP (0..1)")
    _legend(ax)

    ax = axes[0, 3]
    for f in FACTORS + ("null",):
        key = f"{f}_percentage"
        alt = "empty_percentage" if f == "null" else key
        x, y = _series(pts, lambda p, k=key, a=alt: p["partition"].get(k, p["partition"].get(a)))
        if len(x):
            ax.plot(x, 100 * y, color=FACTOR_COLORS.get(f, "#555555"), label=f"{f} %", marker="o", markersize=2)
    _style(ax, "partition sizes and mask sharpness", "share of the representation (%)")
    ax2 = ax.twinx()
    x, y = _series(pts, lambda p: p.get("sharpness"))
    if len(x):
        ax2.plot(x, y, color="black", linestyle="--", linewidth=1, label="sharpness k")
        ax2.set_ylabel("mask sharpness k", fontsize=8)
        ax2.tick_params(labelsize=7)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7)

    for j, f in enumerate(FACTORS):
        ax = axes[1, j]
        for kind in ("none", "full", "composite"):
            _band(ax, pts, lambda p, k=kind: p["compositing"][f]["errors"][k]["rmse"],
                  lambda p, k=kind: p["compositing"][f]["errors_se"][k]["rmse"], KIND_COLORS[kind], f"E_{kind}")
        _style(ax, f"{f}: compositing benchmark errors", "RMSE vs truth (linear radiance)")
        _legend(ax)
    ax = axes[1, 3]
    for f in FACTORS:
        _band(ax, pts, lambda p, f=f: p["read"][f]["rmse"]["fraction"] * 100,
              lambda p, f=f: p["read"][f]["rmse"]["gap_se"] / max(p["compositing"][f]["errors"]["none"]["rmse"], 1e-9) * 100,
              FACTOR_COLORS[f], f)
    ax.axhline(30, color="black", linestyle=":", linewidth=1)
    _style(ax, "read from the observations: (E_none - E_full) / E_none", "% of E_none (RMSE; dotted: 30 %)")
    _legend(ax)

    for j, m in enumerate(("rmse", "mape")):
        ax = axes[2, j]
        for f in FACTORS:
            if not _band(ax, pts, lambda p, f=f, m=m: p["compositing"][f]["transfer"][m],
                         lambda p, f=f, m=m: p["compositing"][f]["transfer_se"][m], FACTOR_COLORS[f], f):
                # named in the legend all the same, so that a missing curve is not mistaken for a lost one
                ax.plot([], [], color=FACTOR_COLORS[f], linestyle=":", label=f"{f}: undefined at every checkpoint")
        for f, t in TRANSFER_TARGETS.items():
            ax.axhline(t, color=FACTOR_COLORS[f], linestyle=":", linewidth=1)
        ax.set_ylim(-0.5, 1.5)
        _style(ax, f"transfer score on {m.upper()} (undefined points left out)", "transfer (1 = all of the change)")
        _legend(ax)
    ax = axes[2, 2]
    for f in FACTORS:
        _band(ax, pts, lambda p, f=f: p["compositing"][f]["leak"]["rmse"],
              lambda p, f=f: p["compositing"][f]["leak_se"]["rmse"], FACTOR_COLORS[f], f"{f} leak")
        x, y = _series(pts, lambda p, f=f: p["read"][f]["rmse"]["gap"])
        if len(x):
            ax.plot(x, y, color=FACTOR_COLORS[f], linestyle="--", linewidth=1, label=f"{f} gap")
    _style(ax, "leak |E_wrong swap - E_none| (solid) vs gap E_none - E_full (dashed)", "RMSE (linear radiance)")
    _legend(ax, 6)
    ax = axes[2, 3]
    drawn = False
    for f in FACTORS:
        x, y = _series(pts, lambda p, f=f: shift_outside(p, f))
        if len(x):
            ax.plot(x, 100 * y, color=FACTOR_COLORS[f], marker="o", markersize=2.5, label=f)
            drawn = True
    if not drawn:
        _say_empty(ax, "not measured in this run")
    ax.set_ylim(0, 100)
    _style(ax, "change of the representation outside the factor's partition",
           "% of the squared change, r(S_f) - r(S)")
    _legend(ax)

    for ax in axes.flat:
        _wall_axis(ax, pts)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.text(0.01, 0.005, _summary_text(curves), fontsize=8, va="bottom", family="monospace")
    return _save(fig, path)


def shift_outside(point: Mapping[str, Any], factor: str) -> Optional[float]:
    """The share (0..1) of the representation's change when ``factor`` changes that lands outside
    ``factor``'s own partition at one curve point, or None where it was not measured."""
    shift = ((point.get("compositing") or {}).get(factor) or {}).get("shift") or {}
    own = shift.get(factor)
    return None if own is None else 1.0 - own


def _summary_text(curves: Mapping[str, Any]) -> str:
    pts = curves.get("points", [])
    if not pts:
        return "no points"
    last = pts[-1]
    lines = [f"last checkpoint: iteration {last['iteration']}"]
    if last.get("train_seconds") is not None:
        lines.append(f"training time: {last['train_seconds'] / 60:.1f} min")
    ref = last.get("reference", {})
    lines.append("clean refs: " + ", ".join(f"{k.upper()} {v:.3g}" for k, v in ref.items()))
    for f in FACTORS:
        c = (last.get("compositing") or {}).get(f)
        if not c:
            continue
        t = c["transfer"]
        fmt = lambda v: "undef." if v is None else f"{v:.2f}"   # noqa: E731
        lines.append(f"{f:<9} transfer RMSE {fmt(t.get('rmse'))}  MAPE {fmt(t.get('mape'))}")
    summ = curves.get("summary", {})
    at = lambda v: "never" if v is None else f"{v:,}"   # noqa: E731
    for f in FACTORS:
        s = summ.get(f, {}).get("rmse", {})
        if s:
            lines.append(f"{f:<9} read at {at(s.get('first_read'))}, "
                         f"transfer>=0.8 at {at(s.get('first_transfer_0.8'))}")
    return "\n".join(lines)


def leak_ratio(point: Mapping[str, Any], factor: str) -> Optional[float]:
    """The leak of ``factor`` (RMSE) at one curve point as a share of its gap E_none - E_full, or
    None where the gap is within 2 standard errors of 0 (:func:`leak_share`)."""
    gap = point["read"][factor]["rmse"]
    return leak_share(point["compositing"][factor]["leak"]["rmse"], gap["gap"], gap.get("gap_se"))


#: the quantities of a comparison figure: (title, y label, getter, standard-error getter or None)
COMPARE_PANELS = [
    ("held-out test loss", "loss", lambda p: p["test_loss"], None),
    ("clean-reference RMSE", "RMSE (linear radiance)", lambda p: p["reference"]["rmse"],
     lambda p: p["reference_se"]["rmse"]),
    ("clean-reference MAPE", "MAPE (fraction)", lambda p: p["reference"]["mape"], lambda p: p["reference_se"]["mape"]),
    ("clean-reference SSIM", "SSIM", lambda p: p["reference"]["ssim"], lambda p: p["reference_se"]["ssim"]),
    ("material read: (E_none - E_full) / E_none", "% of E_none (RMSE)",
     lambda p: 100 * p["read"]["material"]["rmse"]["fraction"], None),
    ("material transfer (RMSE)", "transfer", lambda p: p["compositing"]["material"]["transfer"]["rmse"],
     lambda p: p["compositing"]["material"]["transfer_se"]["rmse"]),
    ("material transfer (MAPE)", "transfer", lambda p: p["compositing"]["material"]["transfer"]["mape"],
     lambda p: p["compositing"]["material"]["transfer_se"]["mape"]),
    ("material leak / gap (RMSE)", "leak / (E_none - E_full), where the gap > 2 SE",
     lambda p: leak_ratio(p, "material"), None),
    ("lighting read: (E_none - E_full) / E_none", "% of E_none (RMSE)",
     lambda p: 100 * p["read"]["lighting"]["rmse"]["fraction"], None),
    ("lighting transfer (RMSE)", "transfer", lambda p: p["compositing"]["lighting"]["transfer"]["rmse"],
     lambda p: p["compositing"]["lighting"]["transfer_se"]["rmse"]),
    ("material change outside its partition", "% of the squared change, r(S_f) - r(S)",
     lambda p: None if shift_outside(p, "material") is None else 100 * shift_outside(p, "material"), None),
    ("material partition size", "% of the representation", lambda p: 100 * p["partition"]["material_percentage"],
     None),
]

#: a second series drawn dashed in a panel of COMPARE_PANELS, for runs that have it: panel title ->
#: (the panel's title when any run has it, getter)
COMPARE_DASHED = {
    "material partition size": ("material (solid) and null (dashed) partition size",
                                lambda p: 100 * p["partition"]["null_percentage"]),
}


def spans_decades(values: Sequence[float], ratio: float = 100.0) -> bool:
    """Whether positive ``values`` span more than ``ratio`` (then a panel is drawn on a log
    scale: a loss that starts in the thousands would flatten every other run's curve)."""
    pos = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    return len(pos) > 1 and max(pos) > ratio * min(pos)


def _points_along(curves: Mapping[str, Any], x: str) -> list:
    """A run's points with ``iteration`` as the horizontal axis ``x`` asks (minutes: training time;
    points without it are left out)."""
    pts = list(curves.get("points", []))
    if x == "minutes":
        pts = [dict(p, iteration=p["train_seconds"] / 60) for p in pts if p.get("train_seconds") is not None]
    return pts


def plot_compare(runs: Sequence[Tuple[str, Mapping[str, Any]]], path: Union[str, os.PathLike],
                 x: str = "iteration", title: Optional[str] = None) -> Path:
    """Several runs' curves overlaid, one colour per run: ``runs`` = [(label, curves dict)].
    ``x``: ``"iteration"`` or ``"minutes"`` (training time; points without it are left out)."""
    cmap = plt.get_cmap("tab10")
    fig, axes = plt.subplots(3, 4, figsize=(17, 11))
    fig.suptitle(title or "learning curves compared", fontsize=11)
    # whether any run has a compositing benchmark at all (a monolithic run has none)
    any_benchmark = any(p.get("compositing") for _, c in runs for p in c.get("points", []))
    for (title_, ylabel, get, get_se), ax in zip(COMPARE_PANELS, axes.flat):
        drawn, undefined, plotted = False, [], []
        for i, (label, curves) in enumerate(runs):
            pts = _points_along(curves, x)
            if get_se is None:
                xs, ys = _series(pts, get)
                plotted.extend(ys)
                if len(xs):
                    ax.plot(xs, ys, color=cmap(i % 10), marker="o", markersize=2.5, linewidth=1.3, label=label)
                shown = bool(len(xs))
            else:
                shown = _band(ax, pts, get, get_se, cmap(i % 10), label)
            drawn = drawn or shown
            # a partitioned run with no defined point among those shown
            if "transfer" in title_ and not shown and any(p.get("compositing") for p in pts):
                undefined.append(label)
        if title_ in COMPARE_DASHED:
            dashed_title, get_dashed = COMPARE_DASHED[title_]
            for i, (label, curves) in enumerate(runs):
                xs, ys = _series(_points_along(curves, x), get_dashed)
                if len(xs):
                    ax.plot(xs, ys, color=cmap(i % 10), linestyle="--", linewidth=1.3)
                    title_ = dashed_title
        if not drawn:
            _say_empty(ax, EMPTY_TRANSFER if "transfer" in title_ and any_benchmark
                       else "not measured in these runs")
        elif undefined:
            note = ax.text(0.02, 0.03, "undefined at every checkpoint:\n" + "\n".join(
                textwrap.shorten(u, 48, placeholder="...") for u in undefined), transform=ax.transAxes,
                fontsize=6.5, color="#555555", va="bottom")
            note.set_in_layout(False)
        if "transfer" in title_:
            ax.set_ylim(-0.5, 1.5)
            ax.axhline(0.9 if "material" in title_ else 0.95, color="black", linestyle=":", linewidth=1)
        if ylabel == "loss" and spans_decades(plotted):
            ax.set_yscale("log")
            ylabel = "loss (log scale)"
        _style(ax, title_, ylabel, "training time (min)" if x == "minutes" else "iteration")
    _legend(axes.flat[0])
    fig.tight_layout()
    return _save(fig, path)
