"""Registries: config names, settings, capabilities and loss tables agree; adding an encoder, a
generator, a scene family or a metric is one registration, each shown by a toy one that trains,
renders or scores one step."""
import ast
import copy
import dataclasses
import subprocess
import sys
import typing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from cnsr import config as C
from cnsr import registry as R
from cnsr.config import ConfigError, load_config
from cnsr.models import build_model, encoders, generators, losses, partition
from cnsr.models.encoders import Encoder
from cnsr.models.generators.base import ImageGenerator
from cnsr.registry import (loss_setting, register_encoder, register_generator, register_metric,
                           register_scene_family)
from cnsr.schedules import DEFAULT_SHARPNESS
from cnsr.settings import SettingError, Settings, setting

CODE = Path(__file__).resolve().parents[1] / "code"


def base(generator, representation=None, **top):
    rep = {"type": "Pool", "observation_passes": ["beauty"], "render_size": 16, "representation_dim": 8}
    rep.update(representation or {})
    d = {"dataset": "room", "model": {"representations": [rep], "generators": [generator]}}
    d.update(top)
    return d


def batch_for(cfg, b=2, n=2, size=16, query_size=8, factor=-1, seed=0):
    """A random batch with every pass the config reads."""
    from cnsr.passes import channels

    g = torch.Generator().manual_seed(seed)
    passes = cfg.needed_passes()
    return {"observation_images": {p: torch.rand(b, n, channels(p), size, size, generator=g) for p in passes},
            "observation_poses": torch.randn(b, n, 16, 1, 1, generator=g),
            "query_images": {p: torch.rand(b, channels(p), query_size, query_size, generator=g) for p in passes},
            "query_poses": torch.randn(b, 16, 1, 1, generator=g), "factor": factor}


def test_registries_hold_the_package_components_and_config_uses_them():
    gens = R.GENERATORS
    assert set(gens) == {"GQN", "PixelCNN", "Unet", "Sum", "Copy"}
    assert gens["PixelCNN"].cls is generators.PixelGenerator and gens["Unet"].cls is generators.UnetGenerator
    assert gens["GQN"].cls is generators.GQNGenerator and gens["Sum"].cls is generators.SumGenerator
    assert {n: e.cls for n, e in R.ENCODERS.items()} == {
        "Pool": encoders.PoolEncoder, "Tower": encoders.TowerEncoder, "Pyramid": encoders.PyramidEncoder}
    assert R.ENCODERS["Pyramid"].settings is encoders.PyramidSettings
    assert set(R.LOSSES) == {"logl1", "logssim", "logl2", "l1", "ssim", "nll", "relmse"}
    assert set(R.SCENE_FAMILIES) == {"room", "manylightroom", "manymaterialroom", "manymanyroom",
                                     "fewmaterialroom", "archviz"}
    assert {"mape", "rmse", "ssim", "psnr", "flip", "l1"} <= set(R.METRICS)
    # every registered name is accepted by config validation, an unregistered one is not
    for name in R.ENCODERS:
        d = base({"type": "Sum", "query_passes": ["beauty"]}, {"type": name, "render_size": 16})
        assert load_config(d).model.representations[0].type == name
    for name in R.LOSSES:
        assert load_config(base({"type": "PixelCNN", "settings": {"loss": [name]}})).model.generators[0].settings.loss \
            == [name]
    for name in R.SCENE_FAMILIES:
        assert load_config({"dataset": name}).dataset == name
    with pytest.raises(ConfigError, match="unknown loss"):
        load_config(base({"type": "PixelCNN", "settings": {"loss": ["l3"]}}))
    with pytest.raises(ConfigError, match=r"^<config>: dataset: unknown dataset 'roon'; one of room, "):
        load_config({"dataset": "roon"})
    # config.py keeps no lists of its own
    for stale in ("GENERATOR_TYPES", "GENERATOR_SETTINGS", "_SETTING_TYPES", "ENCODER_TYPES", "DATASETS",
                  "LOG_SPACE_GENERATORS"):
        assert not hasattr(C, stale), stale


def test_config_module_names_no_registered_component():
    """config.py derives every rule from the registries: no string in it is the name of an
    encoder, generator, loss, dataset or metric."""
    tree = ast.parse((CODE / "cnsr" / "config.py").read_text())
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    names = set(R.ENCODERS) | set(R.GENERATORS) | set(R.LOSSES) | set(R.SCENE_FAMILIES) | set(R.METRICS)
    assert not strings & names, sorted(strings & names)
    assert "mean" in strings and "Sum" in names          # the check sees strings and names


def test_entry_without_type_gets_the_registry_default():
    """The reference's defaults (a Tower encoder, a GQN generator, the room dataset) come from
    the registrations."""
    d = base({"query_passes": []}, {"render_size": 16})
    d["model"]["representations"][0].pop("type")
    d.pop("dataset")
    cfg = load_config(d)
    assert (cfg.model.representations[0].type, cfg.model.generators[0].type, cfg.dataset) == \
        (R.ENCODERS.default, R.GENERATORS.default, R.SCENE_FAMILIES.default) == ("Tower", "GQN", "room")


def test_loss_table_is_what_the_generators_use():
    y = torch.rand(2, 3, 16, 16)
    Y = torch.rand(2, 3, 16, 16)
    for name, entry in R.LOSSES.items():
        assert entry.function is getattr(losses, "ssim_loss" if name == "ssim" else name)
        assert losses.image_losses([name], Y, y)[name] == entry.function(Y, y)
        # log-space losses are those comparing with log1p(y): they vanish at Y = log1p(y)
        if name != "nll":
            target = torch.log1p(y) if entry.log_space else y
            assert losses.image_losses([name], target, y)[name].abs().item() < 1e-4, name
        assert losses.predicts_log([name]) == entry.log_space
        net = generators.PixelGenerator(3, 8, 3, layers=0, hidden_units=4, losses=[name])
        assert net.log_space == entry.log_space


def test_capabilities_of_the_package_generators():
    caps = {n: (e.log_space, e.trainable, e.per_pixel, e.reuses) for n, e in R.GENERATORS.items()}
    assert caps == {"GQN": (True, True, False, None), "PixelCNN": (False, True, True, None),
                    "Unet": (False, True, False, None), "Sum": (False, False, True, None),
                    "Copy": (False, False, False, "index")}


@pytest.mark.parametrize("kind,name", [("generator", n) for n in ("GQN", "PixelCNN", "Unet", "Sum", "Copy")] +
                         [("encoder", n) for n in ("Pool", "Tower", "Pyramid")])
def test_settings_are_documented_typed_and_their_defaults_validate(kind, name):
    cls = (R.GENERATORS if kind == "generator" else R.ENCODERS)[name].settings
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        assert f.metadata.get("doc"), f"{name}.{f.name} has no documentation"
        assert f.name in hints
    default = cls()
    check = default.validate if name != "Copy" else (lambda *a: None)
    check(None, 1)
    assert dataclasses.asdict(default) == default.to_dict()


def test_settings_defaults_are_the_reference_ones():
    """The paper's defaults (its config-options list): one place each, read back through a config."""
    gqn = load_config(base({"type": "GQN"})).model.generators[0].settings
    assert (gqn.cell_type, gqn.latent_dim, gqn.state_dim, gqn.core_count, gqn.downscaling) == ("LSTM", 3, 128, 12, 4)
    assert not gqn.weight_sharing and gqn.upscale_sharing and gqn.loss == ["nll"]
    pix = load_config(base({"type": "PixelCNN"})).model.generators[0].settings
    assert (pix.layers, pix.hidden_units, pix.loss) == (8, 512, ["logl1", "logssim"])
    assert not pix.propagate_buffers and pix.propagate_representation and pix.propagate_viewpoint and pix.end_relu
    unet = load_config(base({"type": "Unet", "render_size": 64})).model.generators[0].settings
    assert unet.loss == ["l1", "ssim"] and unet.end_relu
    pyr = load_config(base({"type": "Sum", "query_passes": ["beauty"]}, {"type": "Pyramid"})).model
    assert pyr.representations[0].settings.filters == 32
    # defaults of the nn.Module constructors are the settings' defaults
    net = generators.PixelGenerator(3, 8, 3)
    assert len(net.layers) == 8 and net.input.out_channels == 512 and net.losses == ["logl1", "logssim"]
    assert encoders.PyramidEncoder(3, 8, render_size=16).in_conv.out_channels == 32
    # a list default is not shared between instances
    a, b = generators.UnetSettings(), generators.UnetSettings()
    a.channels.append(1)
    assert len(b.channels) == 7


def test_sharpness_defaults_are_written_once():
    rep = load_config(base({"type": "Sum", "query_passes": ["beauty"]})).model.representations[0]
    assert (rep.start_sigmoid, rep.end_sigmoid, rep.sharpen_sigmoid, rep.sharpening, rep.final_sharpening) == \
        (5.0, 100.0, 100.0, 500000, 100000)
    assert dataclasses.astuple(DEFAULT_SHARPNESS) == (5.0, 100.0, 100.0, 500000, 100000)
    enc = encoders.PoolEncoder(3, 6)
    for it in (0, 250000, 500000, 550000, 10 ** 7):
        assert enc.sharpness(it) == partition.sharpness(it) == DEFAULT_SHARPNESS(it)
    assert partition.sharpness(250000) == pytest.approx(52.5)
    # a partial override keeps the other defaults
    assert encoders.PoolEncoder(3, 6, sharpness=dict(sharpen=1000)).sharpness(10 ** 7) == 1000


@pytest.mark.parametrize("generator,key,words", [
    ({"type": "PixelCNN", "settings": {"hidden_units": 0}}, "settings.hidden_units", "must be >= 1, got 0"),
    ({"type": "PixelCNN", "settings": {"layers": -1}}, "settings.layers", "must be >= 0"),
    ({"type": "Unet", "render_size": 16, "settings": {"channels": [4, 0, 8]}}, "settings.channels[1]", ">= 1"),
    ({"type": "Unet", "render_size": 16, "settings": {"channels": [4]}}, "settings.channels", "at least 2 levels"),
    ({"type": "GQN", "settings": {"cell_type": "RNN"}}, "settings.cell_type", "one of LSTM, GRU"),
    ({"type": "GQN", "settings": {"core_count": 0}}, "settings.core_count", "must be >= 1"),
    ({"type": "GQN", "settings": {"state_dim": 0}}, "settings.state_dim", "must be >= 1"),
    ({"type": "GQN", "render_size": 16, "settings": {"downscaling": 3}}, "settings.downscaling",
     "must divide the render_size 16"),
    ({"type": "GQN", "settings": {"downscaling": 0}}, "settings.downscaling", "must be >= 1"),
    ({"type": "GQN", "settings": {"sigma_end": 0}}, "settings.sigma_end", "must be > 0"),
    ({"type": "GQN", "settings": {"loss": ["nll", "vgg"]}}, "settings.loss[1]", "unknown loss 'vgg'"),
    ({"type": "Copy"}, "settings.index", "needs the index"),
    ({"type": "Copy", "settings": {"index": 0}}, "settings.index", "must name an earlier generator"),
    ({"type": "Sum", "settings": {"index": 0}}, "settings", "unknown key 'index' for a Sum generator; known: none"),
    ({"type": "PixelCNN", "settings": [1]}, "settings", "expected an object"),
])
def test_setting_constraints_name_the_key(generator, key, words):
    with pytest.raises(ConfigError) as e:
        load_config(base(generator))
    msg = str(e.value)
    assert f"model.generators[0].{key}:" in msg and words in msg, msg


@pytest.mark.parametrize("representation,key,words", [
    ({"type": "Pyramid", "settings": {"filters": 0}}, "settings.filters", "must be >= 1, got 0"),
    ({"type": "Pyramid", "render_size": 8}, "render_size", "a Pyramid encoder needs at least 16"),
    ({"type": "Pool", "settings": {"filters": 8}}, "settings", "unknown key 'filters' for a Pool encoder; known: none"),
])
def test_encoder_setting_constraints_name_the_key(representation, key, words):
    with pytest.raises(ConfigError) as e:
        load_config(base({"type": "Sum", "query_passes": ["beauty"]}, representation))
    msg = str(e.value)
    assert f"model.representations[0].{key}:" in msg and words in msg, msg


# ---------------------------------------------------------------------- a toy generator
@dataclass
class ToySettings(Settings):
    """A per-pixel affine map of the query buffers, plus a learned colour from r."""
    scale: float = setting(1.0, "factor on the query buffers", min=0)
    loss: typing.List[str] = loss_setting(["l1"])

    def check(self, spec, position):
        if spec is not None and not spec.query_passes:
            raise SettingError("scale", "a Toy generator scales its query passes: give it some")


class ToyGenerator(ImageGenerator):
    def __init__(self, x_dim, r_dim, out_dim, scale, losses):
        super().__init__(losses, end_relu=False)
        self.scale = scale
        self.mix = nn.Conv2d(x_dim, out_dim, 1)
        self.colour = nn.Linear(r_dim, out_dim)

    @classmethod
    def from_config(cls, s, io, previous):
        return cls(io.x_dim, io.r_dim, io.out_dim, s.scale, s.loss)

    def predict(self, x, v, r):
        return self.mix(self.scale * x) + self.colour(r.mean(dim=(2, 3)))[:, :, None, None]


@pytest.fixture
def toy():
    register_generator("Toy", settings=ToySettings, per_pixel=True)(ToyGenerator)
    try:
        yield
    finally:
        R.GENERATORS.remove("Toy")


def test_adding_a_generator_is_one_registration(toy):
    d = base({"type": "Toy", "query_passes": ["normal", "albedo"], "output_passes": ["beauty"], "render_size": 8,
              "settings": {"scale": 2}}, {"render_size": 16})
    cfg = load_config(d)
    s = cfg.model.generators[0].settings
    assert isinstance(s, ToySettings) and s.scale == 2.0 and s.loss == ["l1"]
    assert load_config(cfg.to_dict()).to_dict() == cfg.to_dict()     # round trip through JSON form
    model = build_model(cfg)
    net = model.generator.generators[0]
    assert isinstance(net, ToyGenerator) and net.mix.in_channels == 6 and net.colour.in_features == 8
    assert model.parameter_counts()["generator0 (Toy)"] == 6 * 3 + 3 + 8 * 3 + 3
    loss, logs = model.compute_loss(batch_for(cfg), 0)
    loss.backward()
    assert "generator0_l1" in logs and net.mix.weight.grad is not None
    # a Copy of it shares its weights
    d2 = copy.deepcopy(d)
    d2["model"]["generators"].append({"type": "Copy", "query_passes": ["normal", "albedo"], "render_size": 8,
                                      "settings": {"index": 0}})
    m2 = build_model(d2)
    assert m2.generator.generators[1] is m2.generator.generators[0]
    assert m2.parameter_counts()["generator1 (Copy)"] == 0
    # its constraints are checked with the key named
    for settings, words in (({"scale": -1}, "settings.scale: must be >= 0"), ({"scale": "big"}, "expected a number"),
                            ({"scael": 1}, "unknown key 'scael' for a Toy generator; known: scale, loss")):
        bad = copy.deepcopy(d)
        bad["model"]["generators"][0]["settings"] = settings
        with pytest.raises(ConfigError, match=words):
            load_config(bad)
    bad = copy.deepcopy(d)
    bad["model"]["generators"][0]["query_passes"] = []
    with pytest.raises(ConfigError, match=r"generators\[0\]\.settings\.scale: a Toy generator"):
        load_config(bad)


def test_capabilities_decide_the_rules(toy):
    """What config validation and the tools decide about a generator comes from its entry: per
    pixel (and so does a Copy of it), log space, trainable."""
    d = base({"type": "Toy", "query_passes": ["normal"], "render_size": 8},
             {"type": "Pool", "render_size": 16, "representation_dim": 8})
    d["model"]["generators"].append({"type": "Copy", "query_passes": ["normal"], "render_size": 8,
                                     "settings": {"index": 0}})
    model = build_model(d)
    pooled, spatial = [torch.zeros(1, 8, 1, 1)], [torch.zeros(1, 8, 4, 4)]
    assert model.generator.per_pixel(pooled) and not model.generator.per_pixel(spatial)
    R.GENERATORS.remove("Toy")
    register_generator("Toy", settings=ToySettings)(ToyGenerator)
    assert not build_model(d).generator.per_pixel(pooled)
    R.GENERATORS.remove("Toy")
    register_generator("Toy", settings=ToySettings, log_space=True)(ToyGenerator)
    signed = copy.deepcopy(d)
    signed["model"]["generators"][1]["output_passes"] = ["normal"]      # the Copy runs the log-space network
    signed["model"]["generators"][0]["output_passes"] = ["normal"]
    with pytest.raises(ConfigError, match=r"generators\[0\]\.output_passes: a Toy generator models log"):
        load_config(signed)
    R.GENERATORS.remove("Toy")
    register_generator("Toy", settings=ToySettings, trainable=False)(ToyGenerator)
    with pytest.raises(ConfigError, match=r"nothing to train: every generator has no weights of its own \(Sum, Copy, "
                                          r"Toy"):
        C.check_trainable(load_config(d))


def test_a_reused_network_must_get_its_channel_counts():
    """Any generator whose entry reuses an earlier network is checked against it (Copy here)."""
    d = base({"type": "PixelCNN", "query_passes": ["normal"], "render_size": 8})
    d["model"]["generators"].append({"type": "Copy", "query_passes": ["depth"], "render_size": 8,
                                     "settings": {"index": 0}})
    with pytest.raises(ConfigError, match=r"generators\[1\]\.query_passes: a Copy reuses generator 0's network, "
                                          r"which takes 3 channels of query_passes; these give 1"):
        load_config(d)


def test_unregistered_generator_is_unknown_again(toy):
    R.GENERATORS.remove("Toy")
    try:
        with pytest.raises(ConfigError, match="unknown generator type 'Toy'"):
            load_config(base({"type": "Toy", "query_passes": ["normal"]}))
    finally:
        register_generator("Toy", settings=ToySettings)(ToyGenerator)


def test_registering_twice_or_without_settings_fails(toy):
    with pytest.raises(ValueError, match="registered already"):
        register_generator("Toy", settings=ToySettings)(ToyGenerator)
    with pytest.raises(TypeError, match="Settings dataclass"):
        register_generator("Toy2", settings=dict)
    with pytest.raises(TypeError, match="from_config"):
        register_generator("Toy2", settings=ToySettings)(nn.Conv2d)
    with pytest.raises(TypeError, match="reuses='source' is not a field of ToySettings"):
        register_generator("Toy2", settings=ToySettings, reuses="source")
    with pytest.raises(ValueError, match="the default generator type is 'GQN' already"):
        register_generator("Toy2", settings=ToySettings, default=True)(ToyGenerator)
    assert "Toy2" not in R.GENERATORS


# ---------------------------------------------------------------------- a toy encoder
@dataclass
class StripeSettings(Settings):
    """A new hyper-parameter of a new encoder: one field here, nothing in config.py or model.py."""
    stripes: int = setting(2, "horizontal bands the image is averaged over", min=1)


class StripeEncoder(Encoder):
    """Mean colour of ``stripes`` horizontal bands of the image, with the pose, through one layer."""

    def __init__(self, x_dim, r_dim, v_dim=16, render_size=64, stripes=2, **options):
        super().__init__(x_dim, r_dim, v_dim, render_size, **options)
        self.stripes = stripes
        self.fc = nn.Linear(x_dim * stripes + v_dim, r_dim)

    def encode_views(self, x, v):
        bands = nn.functional.adaptive_avg_pool2d(x, (self.stripes, 1)).flatten(1)
        return torch.relu(self.fc(torch.cat([bands, v.flatten(1)], dim=1)))[:, :, None, None]


@pytest.fixture
def stripes():
    register_encoder("Stripes", settings=StripeSettings)(StripeEncoder)
    try:
        yield
    finally:
        R.ENCODERS.remove("Stripes")


def test_adding_an_encoder_is_one_registration(stripes):
    d = base({"type": "PixelCNN", "query_passes": ["normal"], "render_size": 8,
              "settings": {"layers": 1, "hidden_units": 4, "loss": ["logl1"]}},
             {"type": "Stripes", "representation_dim": 6, "settings": {"stripes": 4}},
             latent_separation=True, empty_partition=True)
    cfg = load_config(d)
    assert cfg.model.representations[0].settings == StripeSettings(stripes=4)
    assert load_config(cfg.to_dict()).to_dict() == cfg.to_dict()
    model = build_model(cfg)
    enc = model.representation.representations[0]
    assert isinstance(enc, StripeEncoder) and enc.stripes == 4 and enc.fc.in_features == 3 * 4 + 16
    assert enc.latent_separation and enc.empty_partition and enc.deltas.numel() == 4   # the shared options
    loss, logs = model.compute_loss(batch_for(cfg, factor=1), 0)
    loss.backward()
    assert enc.fc.weight.grad is not None and "null_percentage" in logs
    with pytest.raises(ConfigError, match=r"representations\[0\]\.settings\.stripes: must be >= 1, got 0"):
        load_config(base(d["model"]["generators"][0], {"type": "Stripes", "settings": {"stripes": 0}}))


# ---------------------------------------------------------------------- a toy scene family
def _toy_family():
    from cnsr.scenes.base import SceneRandomizer, material, room_shell, sphere_entry, transform

    class LanternBox(SceneRandomizer):
        """A grey box with one sphere of random colour and size, lit by one light of random colour."""

        def __init__(self, seed=None):
            super().__init__(seed, bounces=2, hide_lights=True)
            self.random_scene()

        def randomize_lighting(self):
            self._state["lighting"] = {"colour": self.rng.uniform(5, 20, 3).tolist()}

        def randomize_geometry(self):
            self._state["geometry"] = {"radius": float(self.rng.uniform(0.3, 0.8))}

        def randomize_materials(self):
            self._state["material"] = {"colour": self.rng.uniform(0.1, 0.9, 3).tolist()}

        def random_view(self):
            a = float(self.rng.uniform(-0.5, 0.5))
            self.camera = {"position": [2.0 * np.sin(a), 1.0, 2.0 * np.cos(a)], "lookat": [0.0, 0.3, 0.0],
                           "fov": 70.0, "near": 0.01, "far": 50.0}

        def animate_view(self, t):
            self.random_view()

        def _materials_json(self):
            walls = {w: material((0.5, 0.5, 0.5)) for w in ("back_wall", "front_wall", "left_wall", "right_wall",
                                                            "floor", "ceiling")}
            return {**walls, "ball": material(self._state["material"]["colour"]),
                    "light": material((1, 1, 1), emission=self._state["lighting"]["colour"])}

        def _lights_json(self):
            return [sphere_entry("light", 0.2, transform(0.0, (0.0, 2.0, 0.0)), (0.0, 0.0, 0.0))]

        def _geometry_json(self):
            r = self._state["geometry"]["radius"]
            return [sphere_entry("ball", r, transform(0.0, (0.0, r - 0.5, 0.0)), (0.0, 0.0, 0.0))] + \
                room_shell(3.0, 3.0, -0.5, 2.5)

    return LanternBox


@pytest.fixture
def lanternbox():
    register_scene_family("lanternbox", "a sphere in a grey box")(_toy_family())
    try:
        yield
    finally:
        R.SCENE_FAMILIES.remove("lanternbox")


def test_adding_a_scene_family_is_one_registration(lanternbox):
    """Registered, a family is a config's dataset, make_randomizer's name and the stream that
    on-the-fly training renders: one batch of it trains one step."""
    pytest.importorskip("cnsr._renderer")
    from cnsr import scenes
    from cnsr.data.onthefly import RenderedBatches
    from cnsr.render import Renderer

    assert "lanternbox" in scenes.DATASETS
    rz = scenes.make_randomizer("lanternbox", seed=3)
    parts = rz.with_factor(scenes.LIGHTING).factor_parts()
    assert parts["geometry"] == rz.factor_parts()["geometry"]     # the factors work as for the package's own
    cfg = load_config(base({"type": "PixelCNN", "query_passes": ["normal"], "render_size": 8,
                            "settings": {"layers": 1, "hidden_units": 4, "loss": ["logl1"]}},
                           {"observation_passes": ["beauty"], "render_size": 8},
                           dataset="lanternbox", views_per_scene=2, samples_per_pixel=1, latent_separation=True))
    batch = RenderedBatches(cfg, "train", batch_size=2, seed=1).batch(Renderer(threads=1), 0)
    assert batch["query_images"]["beauty"].shape == (2, 3, 8, 8) and batch["query_images"]["beauty"].sum() > 0
    loss, _ = build_model(cfg).compute_loss(batch, 0)
    loss.backward()
    assert torch.isfinite(loss)


# ---------------------------------------------------------------------- a toy metric
def test_adding_a_metric_is_one_registration():
    """Registered, a metric is a name evaluation scores and tables."""
    from cnsr.analysis.evaluation import evaluate, format_table

    @register_metric("worst", label="WORST", higher_is_better=False, fmt=".3f")
    def worst(prediction, reference):
        return (prediction - reference).abs().amax().item()

    class Off(torch.nn.Module):
        iteration = 0

        def sample(self, batch):
            out = batch["query_images"]["beauty"].clone()
            out[0, 1, 2, 3] += 0.5
            return [{"beauty": out}]

    try:
        ref = torch.rand(2, 3, 8, 8)
        report = evaluate(Off(), [{"query_images": {"beauty": ref}}], progress=False, metrics=["worst", "l1"])
        # per image, then the mean over the two scenes: (0.5 + 0) / 2
        assert report["metrics"]["beauty_0"] == {"worst": pytest.approx(0.25), "l1": pytest.approx(0.5 / (2 * 3 * 64))}
        assert "WORST" in format_table(report) and "0.250" in format_table(report)
    finally:
        R.METRICS.remove("worst")


def test_a_new_file_in_a_registrys_package_registers_unlisted(tmp_path, monkeypatch):
    """What makes a new component one file: a registry imports every module of its packages on
    the first lookup, so a module nobody lists registers itself."""
    pkg = tmp_path / "toyplugins"
    (pkg / "deeper").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "deeper" / "__init__.py").write_text("")
    (pkg / "deeper" / "newkind.py").write_text(
        "from cnsr.registry import register_scene_family\n"
        "@register_scene_family('walked', 'found by the walk')\n"
        "def walked(seed=None):\n"
        "    return seed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    families = R.Registry("dataset", ["toyplugins"])
    monkeypatch.setattr(R, "SCENE_FAMILIES", families)      # where register_scene_family puts entries
    try:
        assert families.names() == ("walked",) and families["walked"].build(7) == 7
        assert families.default is None
        with pytest.raises(R.UnknownName, match="unknown dataset 'roam'; one of walked"):
            families.lookup("roam")
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] == "toyplugins"]:
            del sys.modules[name]


def test_config_import_does_not_import_torch():
    code = ("import sys; import cnsr.config, cnsr.scenes, cnsr.registry; "
            "cnsr.config.load_config({'dataset': 'archviz'}); "
            "print(any(m == 'torch' or m.startswith('torch.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=CODE, check=True)
    assert out.stdout.strip() == "False"


def test_config_dataclasses_check_field_constraints_too():
    """Any config dataclass may declare per-key constraints with ``setting``: _fill checks them."""
    @dataclass
    class Section:
        size: int = setting(64, "image size", min=1)
        mode: str = setting("mean", "aggregation", choices=("mean", "max"))

    assert C._fill(Section, {"size": 8}, "model.part").size == 8
    with pytest.raises(ConfigError, match=r"^model\.part\.size: must be >= 1, got 0$"):
        C._fill(Section, {"size": 0}, "model.part")
    with pytest.raises(ConfigError, match=r"^mode: unknown mode 'min'; one of mean, max$"):
        C._fill(Section, {"mode": "min"}, "")
