"""The suite's tables, ours beside the paper's: Markdown (``results.md``) and JSON (``results.json``).

One builder per table (:data:`TABLE_BUILDERS`); each turns the runs' stored column groups
(:mod:`cnsr.experiments.columns`) and the suite's paper numbers into a title, column names,
rows (dicts) and notes. Runs that have not finished appear as rows marked ``not run``.
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

from ..analysis.compositing import FACTORS
from ..analysis.compositing_benchmark import leak_share
from ..io.atomic import atomic_path
from .columns import QUALITY_METRICS
from .suite import Experiment, Suite

Table = Dict[str, Any]


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "—"
        if v != 0 and abs(v) < 1e-3:
            return f"{v:.0e}"
        return f"{v:.0f}" if abs(v) >= 100 else f"{v:.{digits}g}"
    return str(v)


def _pct(v: Optional[float]) -> Optional[str]:
    return None if v is None else f"{v:.0f}"


def _group(results: Dict[str, Any], name: str, group: str) -> Dict[str, Any]:
    return (results.get(name) or {}).get("groups", {}).get(group, {}).get("values", {}) or {}


def _finished(results: Dict[str, Any], name: str) -> bool:
    return bool((results.get(name) or {}).get("finished"))


def _partitioning_label(cfg: Dict[str, Any]) -> str:
    if not cfg.get("latent_separation", False):
        return "monolithic"
    if not cfg.get("adaptive_separation", True):
        return "static"
    return "adaptive + null" if cfg.get("empty_partition", False) else "adaptive"


def _rep(cfg: Dict[str, Any], key: str, default=None):
    reps = cfg.get("model", {}).get("representations", [{}])
    return reps[0].get(key, default) if reps else default


def _rows_of(suite: Suite, table: str) -> List[Experiment]:
    return [e for e in suite.experiments if table in e.tables]


def _pm(values: Dict[str, Any], key: str, measured: bool, fmt: str = ".2f") -> Optional[str]:
    """``value±se`` of ``values[key]`` (``key_se``); 'undefined' where a measured score is null,
    None (shown as —) where nothing was measured."""
    if not measured:
        return None
    v, se = values.get(key), values.get(f"{key}_se")
    if v is None:
        return "undefined"
    return f"{v:{fmt}}" + (f"±{se:{fmt}}" if se is not None and se == se else "")


def partitioning_table(suite: Suite, results: Dict[str, Any]) -> Table:
    rows = []
    for e in _rows_of(suite, "partitioning"):
        q = _group(results, e.name, "reference")      # metrics against clean references
        rows.append({"experiment": e.name, "dataset": e.dataset, "partitioning": _partitioning_label(e.config),
                     "status": "done" if _finished(results, e.name) else "not run",
                     **{m: q.get(m) for m in QUALITY_METRICS},
                     "paper_mape": e.paper.get("mape")})
    spp = next((r for r in (_group(results, e.name, "reference") for e in _rows_of(suite, "partitioning"))
                if r.get("reference_spp")), {})
    return {"title": "Fig. 9: partitioning costs little quality (PrimitiveRoom)",
            "columns": [("experiment", "experiment"), ("partitioning", "partitioning"), ("status", "status"),
                        ("mape", "MAPE"), ("rmse", "RMSE"), ("ssim", "SSIM"), ("psnr", "PSNR"), ("flip", "FLIP"),
                        ("paper_mape", "paper MAPE")],
            "rows": rows,
            "notes": ["The output pass on the test batches"
                      + (f" ({spp['test_scenes']} scenes)" if spp.get("test_scenes") else "")
                      + " against clean references (the query views path-traced at "
                      + (f"{spp['reference_spp']}" if spp.get("reference_spp") else "reference_spp")
                      + " spp); MAPE with eps 0.01 as the paper (cnsr.metrics)."]}


def compositing_table(suite: Suite, results: Dict[str, Any]) -> Table:
    rows = []
    info: Dict[str, Any] = {}
    for e in suite.experiments:
        c = _group(results, e.name, "compositing")
        measured = bool(c) and c.get("wall_s") is not None
        if measured:
            info = c
        row = {"experiment": e.name, "dataset": e.dataset, "partitioning": _partitioning_label(e.config),
               "status": "done" if _finished(results, e.name) else "not run"}
        for f in FACTORS:
            row[f"{f}_mape"] = _pm(c, f"{f}_transfer_mape", measured)
            row[f"{f}_rmse"] = _pm(c, f"{f}_transfer_rmse", measured)
            row[f"{f}_leak"] = _pm(c, f"{f}_leak_mape", measured, ".2g")
        rows.append(row)
    columns = [("experiment", "experiment"), ("partitioning", "partitioning"), ("status", "status")]
    for f in FACTORS:
        columns += [(f"{f}_mape", f"{f} transfer (MAPE)"), (f"{f}_rmse", f"{f} transfer (RMSE)"),
                    (f"{f}_leak", f"{f} leak (MAPE)")]
    return {"title": "Fig. 9, compositing: does a swapped partition carry its factor's change? (transfer scores)",
            "columns": columns, "rows": rows,
            "notes": ["Compositing benchmark (cnsr.analysis.compositing_benchmark)"
                      + (f" on {info['scenes']} held-out scenes per factor, references at {info['reference_spp']} spp"
                         if info else "")
                      + ": transfer = (E_none - E_composite) / (E_none - E_full) ± standard error; 1 = the "
                      "swapped partition carries the whole change the model can express, 0 = none. 'undefined': "
                      "E_none - E_full is within 2 standard errors of 0 (seeing the changed scene does not "
                      "improve the prediction measurably, so there is nothing to transfer). Leak: |E_g - E_none| "
                      "for a swapped wrong partition g (MAPE), averaged over both; — : a monolithic "
                      "representation has no partitions. The paper reports no transfer score; its Fig. 9 "
                      "shows such composites qualitatively."]}


def partition_sizes_table(suite: Suite, results: Dict[str, Any]) -> Table:
    rows = []
    for e in _rows_of(suite, "partition_sizes"):
        p = _group(results, e.name, "partition")
        paper = e.paper.get("partition_sizes") or {}
        parts = [p.get(k) for k in ("lighting", "geometry", "material")]
        active = sum(parts) if None not in parts else None
        paper_parts = [paper.get(k) for k in ("lighting", "geometry", "material")]
        paper_active = sum(paper_parts) if paper and None not in paper_parts else None
        rows.append({
                     "active_shares": None if not active else "/".join(f"{100 * x / active:.0f}" for x in parts),
                     "paper_active_shares": None if not paper_active else
                     "/".join(f"{100 * x / paper_active:.0f}" for x in paper_parts),"experiment": e.name, "dataset": e.dataset, "partitioning": _partitioning_label(e.config),
                     "status": "done" if _finished(results, e.name) else "not run",
                     "lighting": p.get("lighting"), "geometry": p.get("geometry"),
                     "material": p.get("material"), "null": p.get("null"),
                     "paper": "/".join(_pct(paper.get(k)) or "—" for k in ("lighting", "geometry", "material", "null"))
                     if paper else None})
    return {"title": "Table 1: learned partition sizes per dataset (% of the representation)",
            "columns": [("experiment", "experiment"), ("dataset", "dataset"), ("partitioning", "partitioning"),
                        ("status", "status"), ("lighting", "lighting %"), ("geometry", "geometry %"),
                        ("material", "material %"), ("null", "null %"),
                        ("paper", "paper L/G/M/null %"), ("active_shares", "L/G/M % of active"),
                        ("paper_active_shares", "paper L/G/M % of active")],
            "rows": rows,
            "notes": ["Sizes are softmax(deltas) of the encoder at the final checkpoint (model.partition_stats()); "
                      "'of active': lighting / geometry / material as shares of the non-null dimensions."]}


def null_partition_table(suite: Suite, results: Dict[str, Any]) -> Table:
    rows = []
    for e in _rows_of(suite, "null_partition"):
        p = _group(results, e.name, "partition")
        paper_e = suite.paper_counterpart(e.name)
        pcfg = paper_e.config if paper_e is not None else {}
        cfg = results.get(e.name, {}).get("config") or e.config     # as trained, where the run recorded it
        r_dim = _rep(cfg, "representation_dim", 256)
        rows.append({"experiment": e.name, "dataset": e.dataset,
                     "status": "done" if _finished(results, e.name) else "not run",
                     "representation_dim": r_dim, "beta": cfg.get("partition_loss", 0.01),
                     "active_dims": p.get("active_dims"),
                     "active_fraction": None if p.get("active_dims") is None else 100 * p["active_dims"] / r_dim,
                     "paper_representation_dim": _rep(pcfg, "representation_dim") if pcfg else None,
                     "paper_beta": pcfg.get("partition_loss") if pcfg else None,
                     "paper_active_dims": e.paper.get("active_dims"),
                     "paper_active_fraction": None if not (pcfg and e.paper.get("active_dims")) else
                     100 * e.paper["active_dims"] / _rep(pcfg, "representation_dim", 256)})
    return {"title": "Figs. 10-11: the null partition compresses the representation (active dimensions)",
            "columns": [("experiment", "experiment"), ("status", "status"), ("representation_dim", "r"),
                        ("beta", "beta"), ("active_dims", "active dims"), ("active_fraction", "active %"),
                        ("paper_representation_dim", "paper r"), ("paper_beta", "paper beta"),
                        ("paper_active_dims", "paper active dims"), ("paper_active_fraction", "paper active %")],
            "rows": rows,
            "notes": ["Active dimensions: (1 - p_null) r at the final checkpoint; beta is partition_loss "
                      "(the loss is beta r/256 (1 - p_null))."]}


#: the targets of the CPU recipe (README, "Experiments"): on the final checkpoint of a run
TARGETS = {"read_fraction": 0.3, "transfer": {"lighting": 0.95, "material": 0.9}, "leak_of_gap": 0.2,
           "rmse": 0.35, "mape": 0.5, "ssim": 0.7}


def _at(v: Any) -> Optional[str]:
    return None if v is None else f"{v:,}"


def curves_table(suite: Suite, results: Dict[str, Any]) -> Table:
    """When the effect appears: from each run's learning curves."""
    rows = []
    for e in suite.experiments:
        c = _group(results, e.name, "curves")
        if not c.get("points"):
            continue
        row = {"experiment": e.name, "partitioning": _partitioning_label(e.config), "points": c["points"]}
        for f in ("lighting", "material"):
            row[f"{f}_read_at"] = _at(c.get(f"{f}_read_at")) or "never"
            row[f"{f}_t08"] = "/".join(_at(c.get(f"{f}_transfer_0.8_at_{m}")) or "never" for m in ("rmse", "mape"))
            frac = c.get(f"{f}_gap_fraction")
            row[f"{f}_read_final"] = None if frac is None else f"{100 * frac:.0f} %"
        rows.append(row)
    return {"title": "When the effect appears (learning curves of every kept checkpoint)",
            "columns": [("experiment", "experiment"), ("partitioning", "partitioning"), ("points", "checkpoints"),
                        ("lighting_read_at", "lighting read at"), ("lighting_t08", "lighting transfer >= 0.8 at (RMSE/MAPE)"),
                        ("lighting_read_final", "lighting read, final"),
                        ("material_read_at", "material read at"), ("material_t08", "material transfer >= 0.8 at (RMSE/MAPE)"),
                        ("material_read_final", "material read, final")],
            "rows": rows,
            "notes": ["'read at': the first measured iteration at which seeing the changed scene lowered the error "
                      "measurably (E_none - E_full beyond 2 standard errors) and by at least 30 % of E_none (RMSE); "
                      "'read, final': (E_none - E_full) / E_none at the last checkpoint. Figures: <run>/curves/curves.png, "
                      "and the runs of each table overlaid in curves_<table>.png."]}


def _check(ok: Optional[bool], text: str) -> str:
    return text if ok is None else f"{text} {'✓' if ok else '✗'}"


def targets_table(suite: Suite, results: Dict[str, Any]) -> Table:
    """The CPU recipe's targets (:data:`TARGETS`) on the final checkpoint of each partitioned run."""
    rows = []
    t = TARGETS
    for e in suite.experiments:
        c = _group(results, e.name, "curves")
        if not c.get("points") or not e.config.get("latent_separation"):
            continue
        row = {"experiment": e.name}
        for f in ("lighting", "material"):
            gap, se, frac = c.get(f"{f}_gap_rmse"), c.get(f"{f}_gap_rmse_se"), c.get(f"{f}_gap_fraction")
            ok = None if gap is None or se is None or frac is None else bool(gap > 2 * se and frac >= t["read_fraction"])
            row[f"{f}_read"] = None if frac is None else _check(ok, f"{100 * frac:.0f} % ({gap / se:.1f} SE)"
                                                             if se else f"{100 * frac:.0f} %")
            parts = []
            for m in ("rmse", "mape"):
                v = c.get(f"{f}_transfer_{m}")
                parts.append("undef." if v is None else f"{v:.2f}")
            vals = [c.get(f"{f}_transfer_{m}") for m in ("rmse", "mape")]
            ok = None if gap is None else all(v is not None and v >= t["transfer"][f] for v in vals)
            row[f"{f}_transfer"] = _check(ok, " / ".join(parts))
            leak = c.get(f"{f}_leak_rmse")
            share = leak_share(leak, gap, se)
            if leak is None or gap is None:
                row[f"{f}_leak"] = None
            elif share is None:             # a gap within noise: any share of it means nothing
                row[f"{f}_leak"] = _check(False, "undef.")
            else:
                row[f"{f}_leak"] = _check(share <= t["leak_of_gap"], f"{100 * share:.0f} %")
        for m, better in (("rmse", "low"), ("mape", "low"), ("ssim", "high")):
            v = c.get(f"final_{m}")
            ok = None if v is None else (v <= t[m] if better == "low" else v >= t[m])
            row[m] = None if v is None else _check(ok, f"{v:.3g}")
        rows.append(row)
    return {"title": "The CPU recipe's targets on the final checkpoint (✓ met, ✗ missed)",
            "columns": [("experiment", "experiment"),
                        ("lighting_read", "lighting read (>= 30 %, > 2 SE)"),
                        ("lighting_transfer", "lighting transfer RMSE / MAPE (>= 0.95)"),
                        ("lighting_leak", "lighting leak / gap (<= 20 %)"),
                        ("material_read", "material read (>= 30 %, > 2 SE)"),
                        ("material_transfer", "material transfer RMSE / MAPE (>= 0.9)"),
                        ("material_leak", "material leak / gap (<= 20 %)"),
                        ("rmse", "RMSE (<= 0.35)"), ("mape", "MAPE (<= 0.5)"), ("ssim", "SSIM (>= 0.7)")],
            "rows": rows,
            "notes": ["read: (E_none - E_full) / E_none of the compositing benchmark (RMSE) and the gap in standard "
                      "errors of the paired per-scene differences; leak / gap: the error moved by swapping a wrong "
                      "partition (mean over both, RMSE) as a share of E_none - E_full, 'undef.' where that gap is "
                      "within 2 standard errors (as the transfer); quality against the clean references of the "
                      "test split."]}


def runs_table(suite: Suite, results: Dict[str, Any]) -> Table:
    rows = []
    for e in suite.experiments:
        run = _group(results, e.name, "run")
        rows.append({"experiment": e.name, "dataset": e.dataset,
                     "status": "done" if _finished(results, e.name) else
                     (results.get(e.name) or {}).get("status", "not run"),
                     "iterations": run.get("iterations"),
                     "train_minutes": None if run.get("train_wall_s") is None else run["train_wall_s"] / 60,
                     "it_per_s": run.get("it_per_s")})
    return {"title": "Runs", "columns": [("experiment", "experiment"), ("dataset", "dataset"), ("status", "status"),
                                         ("iterations", "iterations"), ("train_minutes", "training (min)"),
                                         ("it_per_s", "it/s")],
            "rows": rows, "notes": []}


#: table id -> builder, in report order
TABLE_BUILDERS: Dict[str, Callable[[Suite, Dict[str, Any]], Table]] = {
    "partitioning": partitioning_table,
    "compositing": compositing_table,
    "partition_sizes": partition_sizes_table,
    "null_partition": null_partition_table,
    "curves": curves_table,
    "targets": targets_table,
    "runs": runs_table,
}

#: figures of the report: file name -> (title, the table whose runs it overlays)
CURVE_FIGURES = {"curves_partitioning.png": ("Fig. 9 runs: learning curves", "partitioning"),
                 "curves_partition_sizes.png": ("Table 1 runs: learning curves", "partition_sizes"),
                 "curves_null_partition.png": ("Figs. 10-11 runs: learning curves", "null_partition")}


def machine_description() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def build_report(suite: Suite, results: Dict[str, Any], datasets: Dict[str, Any]) -> Dict[str, Any]:
    tables = {tid: fn(suite, results) for tid, fn in TABLE_BUILDERS.items()}
    return {"scale": suite.scale, "suite": str(suite.path), "machine": machine_description(),
            "written": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "datasets": datasets, "experiments": results,
            "tables": {tid: {"title": t["title"], "columns": [c for c, _ in t["columns"]], "rows": t["rows"],
                             "notes": t["notes"]} for tid, t in tables.items()},
            "_headers": {tid: dict(t["columns"]) for tid, t in tables.items()}}


def to_markdown(report: Dict[str, Any]) -> str:
    lines = [f"# Experiments ({report['scale']} scale)", "",
             f"Machine: {report['machine']}. Written {report['written']}.", ""]
    if report.get("datasets"):
        lines += ["Datasets: " + "; ".join(
            f"{k}: {v.get('train_batches')} + {v.get('test_batches')} batches of {v.get('batch_size')} scenes, "
            f"{v.get('render_size')} px, {v.get('samples_per_pixel')} spp"
            + (f", rendered in {v['generation_s'] / 60:.1f} min" if v.get("generation_s") else "")
            for k, v in report["datasets"].items()), ""]
    for tid, t in report["tables"].items():
        headers = report["_headers"][tid]
        if not t["rows"] and tid in ("curves", "targets"):
            continue
        lines += [f"## {t['title']}", ""]
        lines.append("| " + " | ".join(headers[c] for c in t["columns"]) + " |")
        lines.append("|" + "---|" * len(t["columns"]))
        for row in t["rows"]:
            lines.append("| " + " | ".join(_fmt(row.get(c)) for c in t["columns"]) + " |")
        lines.append("")
        for n in t["notes"]:
            lines.append(f"- {n}")
        if t["notes"]:
            lines.append("")
    figures = report.get("figures") or {}
    if figures:
        lines += ["## Learning curves", ""]
        for name, title in figures.items():
            lines += [f"![{title}]({name})", ""]
    return "\n".join(lines)


def write_report(report: Dict[str, Any], out_folder: Union[str, os.PathLike]) -> List[Path]:
    out = Path(out_folder)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "results.md", out / "results.json"
    with atomic_path(md) as tmp:
        tmp.write_text(to_markdown(report) + "\n")
    data = {k: v for k, v in report.items() if k != "_headers"}
    data["tables"] = {tid: dict(t, headers=[report["_headers"][tid][c] for c in t["columns"]])
                      for tid, t in report["tables"].items()}
    with atomic_path(js) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
    return [md, js]
