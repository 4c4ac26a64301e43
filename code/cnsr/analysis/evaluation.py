"""Held-out evaluation of a trained model: mean metrics (SSIM, PSNR and L1 by default) per output
pass and generator.

``python code/evaluate.py --config C --checkpoint P`` runs the model over the config's test
split (its batch files, or batches rendered on the fly with ``cached_dataset: false``), scores
every predicted pass that has a reference with :func:`cnsr.metrics.score_outputs` (the
metrics the training monitor logs), and writes to ``--out_folder``:

* ``metrics.json``: ``{"config", "checkpoint", "split", "batches", "scenes",
  "metrics": {"<pass>_<generator>": {"ssim", "psnr", "l1"}}}`` (one key per metric)  — means over batches, each
  batch weighted by its number of scenes;
* ``<pass>_<generator>.png``: one row per scene (of the first batch, at most ``rows``),
  columns reference | prediction | error. Reference and prediction are shown by
  :func:`cnsr.io.preview.display`, as everywhere else (tone-mapped radiance, [-1, 1] -> [0, 1]
  for directions, ...); the error
  is ``|prediction - reference|`` averaged over channels, scaled so that the largest error in
  the grid is white (the scale is printed and stored in ``metrics.json`` under ``error_scale``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

import torch
from tqdm import tqdm

from ..io.atomic import atomic_path
from ..io.png import write_png
from ..io.preview import display, grid
from ..metrics import DEFAULT_METRICS, METRICS, check_metrics, score_outputs


def _grid(reference: torch.Tensor, prediction: torch.Tensor, pass_name: str, rows: int):
    """``(H*rows, 3*W, 3)`` float image in [0, 1] and the error scale used."""
    b = min(reference.shape[0], rows)
    ref, pred = reference[:b].float().cpu(), prediction[:b].float().cpu()
    err = (pred - ref).abs().mean(dim=1, keepdim=True)
    scale = float(err.max().clamp_min(1e-8))
    tiles = [[display(pass_name, ref[i]), display(pass_name, pred[i]), (err[i] / scale).clamp(0, 1)]
             for i in range(b)]
    return grid(tiles), scale


def evaluate(model: torch.nn.Module, loader, batches: Optional[int] = None,
             out_folder: Optional[Union[str, os.PathLike]] = None, rows: int = 4,
             progress: bool = True, info: Optional[Dict[str, Any]] = None,
             metrics: Sequence[str] = DEFAULT_METRICS) -> Dict[str, Any]:
    """Score ``model`` on up to ``batches`` batches of ``loader`` (all when None; the loader
    must then be finite) with ``metrics`` (names of :data:`cnsr.metrics.METRICS`). Returns the
    ``metrics.json`` dict; writes it and the image grids to ``out_folder`` when given."""
    metrics = check_metrics(metrics)
    sums: Dict[str, Dict[str, float]] = {}
    scenes = 0
    n = 0
    grids: Dict[str, Any] = {}
    total = batches
    if total is None:
        try:
            total = len(loader)
        except TypeError:
            total = None
    model.eval()
    with torch.no_grad(), tqdm(total=total, desc="evaluate", unit="batch", disable=not progress) as bar:
        for batch in loader:
            if batches is not None and n >= batches:
                break
            outputs = model.sample(batch)
            results = score_outputs(batch, outputs, metrics)
            if not results:
                raise ValueError("the model predicts no pass that the test data has a reference of")
            b = int(results[0][2].shape[0])
            for name, g, ref, pred, m in results:
                key = f"{name}_{g}"
                acc = sums.setdefault(key, {k: 0.0 for k in metrics})
                for k in metrics:
                    acc[k] += m[k] * b
                if n == 0:
                    grids[key] = _grid(ref, pred, name, rows)
            scenes += b
            n += 1
            bar.update(1)
    if n == 0:
        raise ValueError("the test split gave no batches to evaluate")
    report: Dict[str, Any] = dict(info or {})
    report.update({"batches": n, "scenes": scenes,
                   "metrics": {key: {k: v / scenes for k, v in acc.items()} for key, acc in sums.items()},
                   "error_scale": {key: s for key, (_, s) in grids.items()}})
    if out_folder is not None:
        out = Path(out_folder)
        out.mkdir(parents=True, exist_ok=True)
        for key, (img, _) in grids.items():
            write_png(out / f"{key}.png", img)
        with atomic_path(out / "metrics.json") as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n")
    return report


def format_table(report: Dict[str, Any]) -> str:
    """The metrics of :func:`evaluate` as a fixed-width text table (one column per metric)."""
    names = list(next(iter(report["metrics"].values()), {}))
    labels = {n: METRICS[n].label if n in METRICS else n for n in names}
    lines = [f"{'pass_generator':<24}" + "".join(f"{labels[n]:>10}" for n in names)]
    for key, m in report["metrics"].items():
        lines.append(f"{key:<24}" + "".join(f"{m[n]:>10{METRICS[n].fmt if n in METRICS else '.4f'}}"
                                             for n in names))
    lines.append(f"({report['batches']} batches, {report['scenes']} scenes)")
    return "\n".join(lines)
