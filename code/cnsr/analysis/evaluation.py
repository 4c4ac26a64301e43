"""Held-out evaluation of a trained model: mean metrics (the paper's MAPE, RMSE, SSIM, PSNR and
FLIP by default: :mod:`cnsr.metrics`) per output pass and generator.

``python code/evaluate.py --config C --checkpoint P`` runs the model over the config's test
split (its batch files, or batches rendered on the fly with ``cached_dataset: false``), scores
every predicted pass that has a reference with :func:`cnsr.metrics.score_outputs` (the
metrics the training monitor logs), and writes to ``--out_folder``:

* ``metrics.json``: ``{"config", "checkpoint", "split", "batches", "scenes", "references",
  "metrics": {"<pass>_<generator>": {"mape", "rmse", "ssim", "psnr", "flip"}}}`` (one key per
  metric) — means over the scenes of all evaluated batches. ``references``
  says what the predictions were scored against: the batches' own query images (rendered at
  the dataset's spp, noisy) or, with ``reference_spp=N``, the query views re-rendered at N spp
  (:mod:`cnsr.analysis.references`). Every metric is computed per image and averaged over the
  scenes (RMSE and PSNR too: the mean of per-image values, as in the compositing benchmark);
* ``<pass>_<generator>.png``: one row per scene (of the first batch, at most ``rows``),
  columns reference | prediction | error, each tile upscaled (nearest) to at least
  ``MIN_TILE`` pixels, rows and columns labelled. Reference and prediction are shown by
  :func:`cnsr.io.preview.display`, as everywhere else (tone-mapped radiance, [-1, 1] -> [0, 1]
  for directions, ...); the error
  is ``|prediction - reference|`` averaged over channels, scaled so that the largest error in
  the grid is white (the scale is printed and stored in ``metrics.json`` under ``error_scale``).

From Python (e.g. once per trained model)::

    from cnsr import load_model
    from cnsr.data import build_loader
    model = load_model(cfg, checkpoint)                      # eval mode, iteration set
    report = evaluate(model, build_loader(cfg, "test"), batches=4, reference_spp=256,
                      out_folder="eval", progress=False)     # the metrics.json dict
    report["metrics"]["beauty_0"]["flip"]
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Union

import torch
from tqdm import tqdm

from ..io.atomic import atomic_path
from ..io.png import write_png
from ..io.preview import display, grid
from ..metrics import DEFAULT_METRICS, METRICS, check_metrics, per_image_metrics, score_outputs
from .references import ReferenceRenderer

#: smallest side of a grid tile (pixels): smaller images are upscaled (nearest) to be readable
MIN_TILE = 128


def _grid(reference: torch.Tensor, prediction: torch.Tensor, pass_name: str, rows: int,
          reference_label: str = "reference"):
    """``(rows, 3)`` labelled tiles as a float image in [0, 1], and the error scale used."""
    b = min(reference.shape[0], rows)
    ref, pred = reference[:b].float().cpu(), prediction[:b].float().cpu()
    err = (pred - ref).abs().mean(dim=1, keepdim=True)
    scale = float(err.max().clamp_min(1e-8))
    tiles = [[display(pass_name, ref[i]), display(pass_name, pred[i]), (err[i] / scale).clamp(0, 1)]
             for i in range(b)]
    return grid(tiles, gap=2, min_tile=MIN_TILE, row_labels=[f"scene {i}" for i in range(b)],
                col_labels=[reference_label, "prediction", f"|error| (white = {scale:.3g})"]), scale


def evaluate(model: torch.nn.Module, loader, batches: Optional[int] = None,
             out_folder: Optional[Union[str, os.PathLike]] = None, rows: int = 4,
             progress: bool = True, info: Optional[Dict[str, Any]] = None,
             metrics: Sequence[str] = DEFAULT_METRICS, reference_spp: Optional[int] = None,
             references: Optional[Callable[[int, Dict[str, Any]], Dict[str, torch.Tensor]]] = None,
             cfg=None, data_dir: Optional[Union[str, os.PathLike]] = None) -> Dict[str, Any]:
    """Score ``model`` on up to ``batches`` batches of ``loader`` (all when None; the loader
    must then be finite) with ``metrics`` (names of :data:`cnsr.metrics.METRICS`). Returns the
    ``metrics.json`` dict; writes it and the image grids to ``out_folder`` when given.

    References: by default each batch's own query images. ``reference_spp=N``: the test
    batches' query views re-rendered at N spp (:class:`cnsr.analysis.references.ReferenceRenderer`
    of ``cfg``, default ``model.cfg``; ``loader`` must then be the config's test loader, batch
    ``k`` of it being test batch ``k``; ``data_dir`` as given to the loader).
    ``references(k, batch) -> {pass: [B, C, H, W]}`` replaces that with any callable."""
    metrics = check_metrics(metrics)
    ref_info: Dict[str, Any] = {"kind": "batch", "source": "the test batches' own query images "
                                                           "(rendered at the dataset's spp)"}
    if references is None and reference_spp is not None:
        references = ReferenceRenderer(cfg if cfg is not None else model.cfg, reference_spp, data_dir=data_dir)
    if references is not None:
        ref_info = references.describe() if hasattr(references, "describe") else {"kind": "custom"}
    ref_label = f"reference ({ref_info['spp']} spp)" if "spp" in ref_info else "reference"
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
            if references is not None:
                batch = dict(batch, query_images=dict(batch["query_images"], **references(n, batch)))
            results = score_outputs(batch, outputs, [])
            if not results:
                raise ValueError("the model predicts no pass that the test data has a reference of")
            b = int(results[0][2].shape[0])
            for name, g, ref, pred, _ in results:
                key = f"{name}_{g}"
                acc = sums.setdefault(key, {k: 0.0 for k in metrics})
                for k, values in per_image_metrics(pred, ref, metrics).items():
                    acc[k] += float(sum(values))
                if n == 0:
                    grids[key] = _grid(ref, pred, name, rows, ref_label)
            scenes += b
            n += 1
            bar.update(1)
    if n == 0:
        raise ValueError("the test split gave no batches to evaluate")
    report: Dict[str, Any] = dict(info or {})
    report.update({"batches": n, "scenes": scenes, "references": ref_info,
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
    refs = report.get("references", {})
    against = f"path-traced references at {refs['spp']} spp" if "spp" in refs else "the batches' own query images"
    lines.append(f"({report['batches']} batches, {report['scenes']} scenes; scored against {against})")
    return "\n".join(lines)
