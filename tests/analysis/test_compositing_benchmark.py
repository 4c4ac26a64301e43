"""cnsr.analysis.compositing_benchmark: transfer scores, leak, the JSON layout and the command."""
import json
import math
from types import SimpleNamespace

import pytest
import torch

from cnsr.analysis.compositing_benchmark import FactorData, score_factor, summarize_factor, transfer_score
from tiny import tiny_config

N, PIX = 6, 4


class ThirdsEncoder:
    """Static partitions of a 3-dimensional representation: dimension i belongs to factor i."""
    adaptive = False

    def factor_mask(self, factor, iteration):
        m = torch.ones(3)
        m[factor] = 0          # ~0 inside the factor's partition, 1 outside
        return m


class HandModel(torch.nn.Module):
    """Observations carry the scene's (lighting, geometry, material) values as the three channels
    of a 1x1 image; the encoder writes them into dimensions (l, g, m), or with ``leaky`` puts the
    lighting into the geometry dimension as well (l, g + l, m); the decoder paints the value of
    dimension ``read`` everywhere."""

    def __init__(self, read, leaky=False):
        super().__init__()
        self.read, self.leaky = read, leaky
        self.cfg = SimpleNamespace(latent_separation=True)
        self.iteration = 0
        self.representation = SimpleNamespace(representations=[ThirdsEncoder()])
        self.generator = SimpleNamespace(sample=self.decode)

    def encode(self, batch, factor=-1):
        v = batch["observation_images"]["beauty"].mean(dim=(1, 3, 4))          # [B, 3]
        if self.leaky:
            v = torch.stack([v[:, 0], v[:, 1] + v[:, 0], v[:, 2]], dim=1)
        return [v[:, :, None, None]], {}, 0.0

    def decode(self, query, reps):
        value = reps[0][:, self.read]                                            # [B, 1, 1]
        return [{"beauty": value[:, None].expand(-1, 3, PIX, PIX).clone()}]


def factor_data(factor, truth):
    """Scenes S (random values) and S_f (factor ``factor`` moved by 0.5 .. 0.6); the reference of
    S_f is ``truth(values of S_f)`` everywhere."""
    g = torch.Generator().manual_seed(factor)
    s = torch.rand(N, 3, generator=g)
    sf = s.clone()
    sf[:, factor] += 0.5 + 0.1 * torch.rand(N, generator=g)

    def batch(values):
        return {"observation_images": {"beauty": values[:, None, :, None, None]}, "query_images": {}}
    ref = truth(sf)[:, None, None, None].expand(-1, 3, PIX, PIX).clone()
    return FactorData(batch(s), batch(sf), ref)


def run(model, factor, truth, metrics=("l1", "rmse", "mape")):
    names = ("lighting", "geometry", "material")
    scored = score_factor(model, factor_data(factor, truth), names[factor], "beauty", metrics)
    return summarize_factor(scored["errors"], metrics)


def test_transfer_is_one_when_the_decoder_reads_only_the_swapped_partition():
    out = run(HandModel(read=0), 0, truth=lambda v: v[:, 0])
    for m in ("l1", "rmse", "mape"):
        assert out["errors"]["full"][m] == pytest.approx(0, abs=1e-6)
        assert out["errors"]["none"][m] > 0.4 if m != "mape" else out["errors"]["none"][m] > 0
        assert out["transfer"][m] == pytest.approx(1.0, abs=1e-6)
        # the other partitions do not change with the lighting: no leak
        assert out["leak"][m] == pytest.approx(0, abs=1e-6)
    assert set(out["leak_by_partition"]) == {"geometry", "material"}


def test_transfer_is_zero_when_the_decoder_ignores_the_swapped_partition():
    """The encoder put the lighting into the geometry partition and the decoder reads only that:
    swapping the lighting partition changes nothing; swapping the geometry one carries it all."""
    out = run(HandModel(read=1, leaky=True), 0, truth=lambda v: v[:, 1] + v[:, 0])
    for m in ("l1", "rmse"):
        assert out["transfer"][m] == pytest.approx(0.0, abs=1e-6)
        assert out["errors"]["composite"][m] == pytest.approx(out["errors"]["none"][m])
        # the geometry swap moves the error all the way to E_full; the material swap not at all
        assert out["leak_by_partition"]["geometry"][m] == pytest.approx(
            out["errors"]["none"][m] - out["errors"]["full"][m], rel=1e-5)
        assert out["leak_by_partition"]["material"][m] == pytest.approx(0, abs=1e-6)


def test_shift_says_where_the_representation_changes():
    """The clean encoder moves only the changed factor's dimension; the leaky one moves the
    geometry dimension by as much as the lighting one when the lighting changes."""
    names = ("lighting", "geometry", "material")
    for factor in range(3):
        scored = score_factor(HandModel(read=0), factor_data(factor, lambda v: v[:, 0]), names[factor], "beauty",
                              ("rmse",))
        assert scored["shift"] == pytest.approx({g: float(g == names[factor]) for g in names})
    scored = score_factor(HandModel(read=1, leaky=True), factor_data(0, lambda v: v[:, 0]), "lighting", "beauty",
                          ("rmse",))
    assert scored["shift"] == pytest.approx({"lighting": 0.5, "geometry": 0.5, "material": 0.0})
    # nothing changes (S_f = S): no share to give
    data = factor_data(2, lambda v: v[:, 0])
    assert score_factor(HandModel(read=0), FactorData(data.base, data.base, data.reference), "material", "beauty",
                        ("rmse",))["shift"] == {g: None for g in names}


def test_transfer_is_undefined_when_seeing_the_change_does_not_help():
    """The decoder reads only lighting; the geometry change is invisible to it: E_full = E_none."""
    out = run(HandModel(read=0), 1, truth=lambda v: v[:, 0] + v[:, 1])
    assert out["transfer"]["l1"] is None and out["transfer_se"]["l1"] is None
    assert out["errors"]["full"]["l1"] == pytest.approx(out["errors"]["none"]["l1"])


def test_transfer_score_by_hand():
    none = [1.0, 1.2, 0.9, 1.1]
    full = [0.5, 0.6, 0.4, 0.5]
    comp = [0.75, 0.9, 0.65, 0.8]
    t, se = transfer_score(none, comp, full)
    # none - comp is exactly half of none - full in every scene: the ratio 0.5 has no spread
    assert t == pytest.approx(0.5) and se == pytest.approx(0.0, abs=1e-12)
    # within 2 standard errors of 0: undefined
    assert transfer_score([1.0, 1.1, 0.9], [1.0, 1.0, 1.0], [1.05, 1.0, 0.95]) == (None, None)


def test_standard_errors_by_hand():
    """Three scenes worked through on paper.

    E_none = (1.0, 1.2, 0.8): mean 1.0, deviations (0, .2, -.2), sample sd .2, se .2 / sqrt 3.
    Transfer: a = none - composite = (.3, .4, .1), b = none - full = (.6, .6, .4); mean a = 4/15,
    mean b = 8/15, r = 1/2. Per scene, the delta method's linearisation z = (a - r b) / mean b
    = (0, .1, -.1) / (8/15) = (0, 3/16, -3/16): sample sd 3/16, se 3/16 / sqrt 3 = sqrt(3) / 16.
    (b's se: sd sqrt(.04 / 3), se 1/15, well under mean b / 2: defined.)
    Leak: |E_geometry - E_none| = (.1, 0, 0), |E_material - E_none| = (.1, .2, 0), per scene
    (.1, .1, 0): mean 1/15, deviations (1/30, 1/30, -1/15), sample sd sqrt(1/300), se 1/30.
    """
    errors = {"none": {"l1": [1.0, 1.2, 0.8]}, "full": {"l1": [0.4, 0.6, 0.4]},
              "composite": {"l1": [0.7, 0.8, 0.7]},
              "leak:geometry": {"l1": [1.1, 1.2, 0.8]}, "leak:material": {"l1": [0.9, 1.0, 0.8]}}
    out = summarize_factor(errors, ["l1"])
    assert out["errors"]["none"]["l1"] == pytest.approx(1.0)
    assert out["errors_se"]["none"]["l1"] == pytest.approx(0.2 / math.sqrt(3))
    assert out["errors_se"]["full"]["l1"] == pytest.approx(1 / 15)          # (.4, .6, .4): sd sqrt(.04 / 3)
    assert out["transfer"]["l1"] == pytest.approx(0.5)
    assert out["transfer_se"]["l1"] == pytest.approx(math.sqrt(3) / 16)
    assert out["leak"]["l1"] == pytest.approx(1 / 15)
    assert out["leak_se"]["l1"] == pytest.approx(1 / 30)
    assert out["leak_by_partition"] == {"geometry": {"l1": pytest.approx(1 / 30)},
                                        "material": {"l1": pytest.approx(0.1)}}


SIZE = 8


def tiny_cfg(**overrides):
    settings = dict(job_name="benchtiny", seed=2, views_per_scene=2, latent_separation=True,
                    adaptive_separation=True, empty_partition=True)
    settings.update(overrides)
    return tiny_config(SIZE, representation={"representation_dim": 9},
                       generator={"settings": {"layers": 1, "hidden_units": 4}}, **settings)


def test_benchmark_command_writes_the_json_layout_and_grids(tmp_path, capsys):
    pytest.importorskip("cnsr._renderer")
    from cnsr.analysis.cli import evaluate_main
    from cnsr.engine.checkpoint import save_checkpoint
    from cnsr.models import build_model

    for name, cfg in (("cfg", tiny_cfg()), ("flat", tiny_cfg(latent_separation=False))):
        (tmp_path / f"{name}.json").write_text(json.dumps(cfg))
    torch.manual_seed(0)
    model = build_model(tiny_cfg())
    ckpt = save_checkpoint(tmp_path, "benchtiny", model, torch.optim.Adam(model.parameters()), 3)
    out = tmp_path / "bench"
    args = ["--checkpoint", str(ckpt), "--compositing", "--scenes", "3", "--reference_spp", "2",
            "--out_folder", str(out), "--device", "cpu", "--no_progress", "--rows", "2"]
    assert evaluate_main(["--config", str(tmp_path / "cfg.json")] + args) == 0
    report = json.loads((out / "compositing.json").read_text())
    assert report["scenes"] == 3 and report["reference_spp"] == 2
    assert list(report["factors"]) == ["lighting", "geometry", "material"]
    metrics = {"mape", "rmse", "ssim", "psnr", "flip"}
    for entry in report["factors"].values():
        assert set(entry["errors"]) == {"composite", "full", "none"}
        assert all(set(v) == metrics for v in entry["errors"].values())
        assert set(entry["transfer"]) == metrics and set(entry["leak"]) == metrics
        for m, t in entry["transfer"].items():
            assert t is None or math.isfinite(t)
        # the null partition (zero in every encoding) holds none of the change
        assert list(entry["shift"]) == ["lighting", "geometry", "material"]
        assert sum(entry["shift"].values()) == pytest.approx(1.0)
    for f in ("lighting", "geometry", "material"):
        assert (out / f"compositing_{f}.png").is_file()
    captured = capsys.readouterr()
    printed = captured.out
    assert "transfer" in printed and "lighting" in printed and "FLIP" in printed
    assert "outside its own" in printed
    # the query G-buffer (normal) shows the geometry of S_f: said, naming the pass; nothing shows materials
    assert list(report["caveats"]) == ["geometry"] and "normal" in report["caveats"]["geometry"]
    assert "warning: geometry" in captured.err and "normal" in captured.err
    # a model without latent_separation: a clear message, exit 1
    assert evaluate_main(["--config", str(tmp_path / "flat.json")] + args) == 2
    assert "latent_separation" in capsys.readouterr().err


def test_benchmark_library_call_with_static_partitions():
    """The library entry point with static thirds (no adaptive partitioning), no grids."""
    pytest.importorskip("cnsr._renderer")
    from cnsr.analysis.compositing_benchmark import compositing_benchmark
    from cnsr.config import load_config
    from cnsr.models import build_model
    from cnsr.render import Renderer

    cfg = load_config(tiny_cfg(adaptive_separation=False, empty_partition=False))
    torch.manual_seed(1)
    model = build_model(cfg).eval()
    report = compositing_benchmark(model, cfg, scenes=2, reference_spp=1, metrics=["rmse"], rows=0,
                                   progress=False, renderer=Renderer(threads=1))
    assert report["scenes"] == 2 and report["metrics"] == ["rmse"]
    for entry in report["factors"].values():
        assert entry["errors"]["none"]["rmse"] > 0 and entry["leak"]["rmse"] >= 0
    with pytest.raises(ValueError, match="at least 2 scenes"):
        compositing_benchmark(model, cfg, scenes=1, progress=False)


def test_caveats_name_the_pass_that_shows_a_factor():
    """A query G-buffer holding albedo: the material caveat names it; the quick start's (no albedo)
    gets the geometry caveat only."""
    from pathlib import Path

    from cnsr.analysis.compositing_benchmark import query_caveats
    from cnsr.config import load_config

    path = Path(__file__).resolve().parents[2] / "configs" / "quickstart.json"
    quick = load_config(str(path))
    assert set(query_caveats(quick)) == {"geometry"}
    data = json.loads(path.read_text())
    data["model"]["generators"][0]["query_passes"].append("albedo")
    caveats = query_caveats(load_config(data))
    assert set(caveats) == {"geometry", "material"}
    assert "albedo" in caveats["material"] and "S_f's query view" in caveats["material"]
    assert "query_passes" in caveats["material"]                  # what to do instead
    assert set(query_caveats(load_config(tiny_cfg()))) == {"geometry"}
