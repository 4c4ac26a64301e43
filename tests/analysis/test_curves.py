"""Learning curves: each checkpoint measured like evaluate.py and the compositing benchmark measure
it alone, only new checkpoints measured, the summary, the figures and the command line."""
import json
import math

import numpy as np
import pytest
import torch

from cnsr.analysis import curves as C
from tiny import tiny_config

SIZE = 8


def tiny_cfg(**overrides):
    return tiny_config(SIZE, representation={"representation_dim": 9, "sharpening": 20, "final_sharpening": 10},
                       generator={"settings": {"layers": 1, "hidden_units": 4}},
                       **{"job_name": "curvetiny", "seed": 2, "views_per_scene": 2, "iterations": 30,
                          "latent_separation": True, "adaptive_separation": True, **overrides})


SETTINGS = C.CurveSettings(reference_spp=2, reference_batches=1, compositing_scenes=3, metrics=("rmse", "mape"))


def write_run(folder, iterations=(10, 20), seconds=None):
    from cnsr.config import load_config
    from cnsr.engine.checkpoint import save_checkpoint
    from cnsr.models import build_model

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(tiny_cfg()))
    cfg = load_config(tiny_cfg())
    paths = []
    for i, it in enumerate(iterations):
        torch.manual_seed(it)
        model = build_model(cfg)
        extra = {"train_seconds": seconds[i]} if seconds else None
        paths.append(save_checkpoint(folder, "curvetiny", model, torch.optim.Adam(model.parameters()), it,
                                     config=cfg.to_dict(), extra=extra))
    return paths


def test_train_seconds_from_the_speed_log_by_hand():
    # intervals of 100 iterations at 10, 20 and 5 it/s: 10 + 5 + 20 s
    speed = [(100, 10.0, 0.0), (200, 20.0, 0.0), (300, 5.0, 0.0)]
    assert C.train_seconds_from_speed(speed, 300) == pytest.approx(35.0)
    assert C.train_seconds_from_speed(speed, 200) == pytest.approx(15.0)
    assert C.train_seconds_from_speed(speed, 250) == pytest.approx(15.0 + 50 / 20.0)   # the tail at the last speed
    assert C.train_seconds_from_speed(speed, 50) is None


def test_summary_finds_the_first_iterations():
    def point(it, t, gap, se, none):
        factor = {"transfer": {"rmse": t, "mape": None}}
        read = {"rmse": {"gap": gap, "gap_se": se, "fraction": gap / none}, "mape": {"gap": 0, "gap_se": 1,
                                                                               "fraction": 0}}
        return {"iteration": it, "compositing": {f: factor for f in ("lighting", "geometry", "material")},
                "read": {f: read for f in ("lighting", "geometry", "material")}}

    pts = [point(1000, None, 0.01, 0.02, 1.0),     # not read, transfer undefined
           point(2000, 0.5, 0.2, 0.05, 1.0),       # read by the gap rule only partly: 20 % < 30 %
           point(3000, 0.85, 0.35, 0.05, 1.0),     # read and composited
           point(4000, 0.7, 0.4, 0.05, 1.0)]
    s = C.summarize(pts)["material"]
    assert s["rmse"] == {"first_transfer_0.8": 3000, "first_read": 3000}
    assert s["mape"] == {"first_transfer_0.8": None, "first_read": None}


def test_read_scores_orient_the_gap_and_its_standard_error():
    none, full = [1.0, 2.0, 3.0], [0.5, 1.0, 2.5]
    per_scene = {"material": {"none": {"rmse": none, "ssim": [0.5, 0.6, 0.7]},
                              "full": {"rmse": full, "ssim": [0.6, 0.8, 0.7]}}}
    r = C.read_scores({}, per_scene, ["rmse", "ssim"])["material"]
    d = np.subtract(none, full)
    assert r["rmse"]["gap"] == pytest.approx(d.mean())
    assert r["rmse"]["gap_se"] == pytest.approx(d.std(ddof=1) / math.sqrt(3))
    assert r["rmse"]["fraction"] == pytest.approx(d.mean() / 2.0)
    assert r["ssim"]["gap"] == pytest.approx(0.1)     # higher is better: full - none
    assert r["ssim"]["fraction"] is None


def test_points_equal_evaluate_and_the_benchmark_and_only_new_checkpoints_are_measured(tmp_path, monkeypatch):
    pytest.importorskip("cnsr._renderer")
    from cnsr.analysis.compositing_benchmark import compositing_benchmark
    from cnsr.analysis.evaluation import evaluate
    from cnsr.config import load_config
    from cnsr.data import build_loader
    from cnsr.engine.api import load_model

    run = tmp_path / "run"
    paths = write_run(run, (10, 20), seconds=[1.5, 3.0])
    curves = C.measure_run(run, settings=SETTINGS, progress=False)
    assert [p["iteration"] for p in curves["points"]] == [10, 20]
    assert [p["train_seconds"] for p in curves["points"]] == [1.5, 3.0]
    assert (run / "curves" / "curves.json").is_file() and (run / "curves" / "curves.png").stat().st_size > 10000
    stored = json.loads((run / "curves" / "curves.json").read_text())
    assert stored["points"] == curves["points"] and stored["settings"] == SETTINGS.to_dict()

    # a point equals what evaluate.py and the compositing benchmark measure for that checkpoint alone
    cfg = load_config(tiny_cfg())
    model = load_model(cfg, paths[1])
    bench = compositing_benchmark(model, cfg, scenes=3, reference_spp=2, seed=0, metrics=["rmse", "mape"], rows=0,
                                  progress=False)
    point = curves["points"][1]
    for f in ("lighting", "geometry", "material"):
        for kind in ("none", "full", "composite"):
            assert point["compositing"][f]["errors"][kind]["rmse"] == pytest.approx(
                bench["factors"][f]["errors"][kind]["rmse"], rel=1e-5)
        assert point["compositing"][f]["leak"]["mape"] == pytest.approx(bench["factors"][f]["leak"]["mape"],
                                                                        rel=1e-5, abs=1e-9)
        shift = point["compositing"][f]["shift"]
        assert list(shift) == ["lighting", "geometry", "material"] and sum(shift.values()) == pytest.approx(1.0)
        assert shift == pytest.approx(bench["factors"][f]["shift"], rel=1e-5, abs=1e-12)
    ev = evaluate(load_model(cfg, paths[1]), build_loader(cfg, "test", num_workers=0), batches=1, reference_spp=2,
                  cfg=cfg, metrics=["rmse", "mape"], progress=False)
    assert point["reference"]["rmse"] == pytest.approx(ev["metrics"]["beauty_0"]["rmse"], rel=1e-5)
    assert point["reference"]["mape"] == pytest.approx(ev["metrics"]["beauty_0"]["mape"], rel=1e-5)
    assert point["sharpness"] == pytest.approx(5 + 95 * 20 / 20)

    # measuring again measures nothing; a new checkpoint alone is measured, from the cached renders
    measured = []
    real = C.measure_checkpoint
    monkeypatch.setattr(C, "measure_checkpoint", lambda data, p, i, s=None: measured.append(i) or real(data, p, i, s))
    monkeypatch.setattr(C.CurveData, "_render_test", lambda *a: pytest.fail("references rendered again"))
    C.measure_run(run, settings=SETTINGS, progress=False)
    assert measured == []
    write_run(run, (30,))
    again = C.measure_run(run, settings=SETTINGS, progress=False)
    assert measured == [30] and [p["iteration"] for p in again["points"]] == [10, 20, 30]
    assert again["points"][:2] == curves["points"]

    # points measured before the shift was recorded get it from the encoders alone, the rest kept
    path = run / "curves" / "curves.json"
    stored = json.loads(path.read_text())
    for f in ("lighting", "material"):
        del stored["points"][0]["compositing"][f]["shift"]
    path.write_text(json.dumps(stored))
    filled = C.measure_run(run, settings=SETTINGS, progress=False)
    assert measured == [30]
    assert filled["points"] == again["points"]


def test_command_line_curves_and_compare(tmp_path, capsys):
    pytest.importorskip("cnsr._renderer")
    from cnsr.analysis.cli import evaluate_main

    run = tmp_path / "run"
    write_run(run, (10,))
    args = ["--checkpoints", str(run), "--reference_spp", "2", "--num_batches", "1", "--scenes", "2", "--metrics",
            "rmse,mape,ssim", "--device", "cpu", "--no_progress"]
    assert evaluate_main(args) == 0
    out = capsys.readouterr().out
    assert "iteration" in out and "curves.json" in out
    assert evaluate_main(["--compare", str(run), str(run / "curves" / "curves.json"), "--labels", "a,b",
                          "--out_folder", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 10000
    # no checkpoints: bad input (exit 2) naming the folder; wrong label count: exit 2
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text(json.dumps(tiny_cfg()))
    assert evaluate_main(["--checkpoints", str(tmp_path / "empty"), "--no_progress"]) == 2
    assert "no checkpoints" in capsys.readouterr().err
    assert evaluate_main(["--compare", str(run), "--labels", "a,b", "--out_folder", str(tmp_path / "x")]) == 2
    assert evaluate_main(["--compare", str(tmp_path / "empty")]) == 2
    assert "no curves.json" in capsys.readouterr().err


def _synthetic_points(lighting_mape, factor="lighting"):
    """Three checkpoints of a partitioned run; ``factor``'s MAPE transfer as given per point."""
    pts = []
    for k, it in enumerate((1000, 2000, 3000)):
        comp, read = {}, {}
        for f in ("lighting", "geometry", "material"):
            t = {"rmse": 0.5 + 0.1 * k, "mape": lighting_mape[k] if f == factor else 0.4 + 0.1 * k}
            comp[f] = {"transfer": t, "transfer_se": {"rmse": 0.05, "mape": 0.05},
                       "leak": {"rmse": 0.01}, "leak_se": {"rmse": 0.005}}
            read[f] = {"rmse": {"gap": 0.1, "gap_se": 0.02, "fraction": 0.2}}
        pts.append({"iteration": it, "test_loss": 1.0 - 0.1 * k, "train_loss": 1.0,
                    "reference": {"rmse": 0.5, "mape": 1.0, "ssim": 0.5},
                    "reference_se": {"rmse": 0.01, "mape": 0.01, "ssim": 0.01},
                    "partition": {"material_percentage": 0.3}, "compositing": comp, "read": read})
    return {"points": pts}


def _drawn(monkeypatch, draw, read=lambda ax: [t.get_text() for t in ax.texts]):
    """Draw a figure without saving it: panel title -> ``read(panel)`` (default: its texts)."""
    from cnsr.analysis import curve_plots
    seen = {}

    def keep(fig, path):
        seen.update({ax.get_title(): read(ax) for ax in fig.axes})
        import matplotlib.pyplot as plt
        plt.close(fig)
        return path
    monkeypatch.setattr(curve_plots, "_save", keep)
    draw(curve_plots)
    return seen


def test_compare_says_which_transfer_curves_are_undefined_instead_of_leaving_them_out(tmp_path, monkeypatch):
    undefined = _synthetic_points([None, None, None], "material")
    defined = _synthetic_points([0.9, 0.95, 1.0], "material")
    monolithic = {"points": [{k: v for k, v in p.items() if k not in ("compositing", "read")}
                             for p in defined["points"]]}
    texts = _drawn(monkeypatch, lambda cp: cp.plot_compare(
        [("mono", monolithic), ("a", undefined), ("b", defined)], tmp_path / "c.png"))
    # one run defined: the undefined one is named, the monolithic one (no benchmark) is not
    assert texts["material transfer (MAPE)"] == ["undefined at every checkpoint:\na"]
    assert texts["material transfer (RMSE)"] == []
    # no run defined: the panel says why it is empty
    texts = _drawn(monkeypatch, lambda cp: cp.plot_compare([("a", undefined)], tmp_path / "c.png"))
    from cnsr.analysis.curve_plots import EMPTY_TRANSFER
    assert texts["material transfer (MAPE)"] == [EMPTY_TRANSFER]
    texts = _drawn(monkeypatch, lambda cp: cp.plot_compare([("mono", monolithic)], tmp_path / "c.png"))
    assert texts["material transfer (MAPE)"] == ["not measured in these runs"]
    # runs measured before the representation shift: that panel says so
    assert texts["material change outside its partition"] == ["not measured in these runs"]


def test_compare_draws_the_leak_share_only_where_the_gap_is_measurable(tmp_path, monkeypatch):
    """leak / gap is drawn only at checkpoints whose gap exceeds 2 standard errors (the transfer's
    rule): a gap of noise would put a point at any height and squash the others."""
    from cnsr.analysis.curve_plots import leak_ratio
    curves = _synthetic_points([0.9, 0.95, 1.0])
    curves["points"][1]["read"]["material"]["rmse"] = {"gap": 0.0004, "gap_se": 0.03, "fraction": 0.001}
    assert leak_ratio(curves["points"][0], "material") == pytest.approx(0.01 / 0.1)
    assert leak_ratio(curves["points"][1], "material") is None
    ys = _drawn(monkeypatch, lambda cp: cp.plot_compare([("a", curves)], tmp_path / "c.png"),
                read=lambda ax: [list(line.get_ydata()) for line in ax.get_lines()])
    panel = next(v for k, v in ys.items() if k.startswith("material leak / gap"))
    assert [pytest.approx(y) for y in panel[0]] == [0.1, 0.1]          # the noise point left out


def test_run_figure_names_a_factor_undefined_at_every_checkpoint(tmp_path, monkeypatch):
    curves = _synthetic_points([None, None, None])
    curves["summary"] = C.summarize(curves["points"])
    legends = _drawn(monkeypatch, lambda cp: cp.plot_run(curves, tmp_path / "r.png"),
                     read=lambda ax: [t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else [])
    mape = legends["transfer score on MAPE (undefined points left out)"]
    assert "lighting: undefined at every checkpoint" in mape and "material" in mape
    assert "lighting" in legends["transfer score on RMSE (undefined points left out)"]


def test_compare_draws_the_null_partition_dashed_only_when_a_run_has_one(tmp_path, monkeypatch):
    plain = _synthetic_points([0.9, 0.95, 1.0])
    null = _synthetic_points([0.9, 0.95, 1.0])
    for k, p in enumerate(null["points"]):
        p["partition"] = {"material_percentage": 0.3, "null_percentage": 0.25 - 0.05 * k}
    lines = lambda ax: [(ln.get_linestyle(), list(ln.get_ydata())) for ln in ax.get_lines()]
    seen = _drawn(monkeypatch, lambda cp: cp.plot_compare([("a", plain)], tmp_path / "c.png"), read=lines)
    assert [style for style, _ in seen["material partition size"]] == ["-"]
    seen = _drawn(monkeypatch, lambda cp: cp.plot_compare([("a", plain), ("n", null)], tmp_path / "c.png"),
                  read=lines)
    panel = seen["material (solid) and null (dashed) partition size"]
    assert [style for style, _ in panel] == ["-", "-", "--"]
    assert panel[2][1] == pytest.approx([25.0, 20.0, 15.0])    # in % of the representation


def test_the_figure_summary_says_never_for_a_factor_not_yet_read():
    """The text box of a run's curves once printed Python's ``None`` for a factor never read."""
    from cnsr.analysis.curve_plots import _summary_text
    curves = {"points": [{"iteration": 2000, "reference": {"rmse": 0.5}}],
              "summary": {"lighting": {"rmse": {"first_read": 7000, "first_transfer_0.8": None}}}}
    text = _summary_text(curves)
    assert "lighting  read at 7,000, transfer>=0.8 at never" in text and "None" not in text


def test_a_loss_spanning_decades_is_drawn_on_a_log_scale():
    from cnsr.analysis.curve_plots import spans_decades
    assert spans_decades([4000.0, 2.0, 0.9, 0.2]) and not spans_decades([0.9, 0.5, 0.2])
    assert not spans_decades([5.0]) and not spans_decades([None, float("nan"), 0.0, 3.0])
