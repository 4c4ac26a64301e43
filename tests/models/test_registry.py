"""Registries: config names, settings and loss tables agree; a generator is one registration."""
import copy
import dataclasses
import subprocess
import sys
import typing
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from cnsr import config as C
from cnsr.config import ConfigError, load_config
from cnsr.models import build_model, encoders, generators, losses, partition
from cnsr.models import registry as R
from cnsr.models.generators.base import ImageGenerator
from cnsr.models.registry import SettingError, Settings, loss_setting, register_generator, setting
from cnsr.models.sharpness import DEFAULT_SHARPNESS

CODE = Path(__file__).resolve().parents[2] / "code"


def base(generator):
    return {"dataset": "room", "model": {
        "representations": [{"type": "Pool", "observation_passes": ["beauty"], "render_size": 16,
                             "representation_dim": 8}],
        "generators": [generator]}}


def test_registries_hold_the_package_components_and_config_uses_them():
    gens = R.generators()
    assert set(gens) == {"GQN", "PixelCNN", "Unet", "Sum", "Copy"}
    assert gens["PixelCNN"].cls is generators.PixelGenerator and gens["Unet"].cls is generators.UnetGenerator
    assert gens["GQN"].cls is generators.GQNGenerator and gens["Sum"].cls is generators.SumGenerator
    assert R.encoders() == {"Pool": encoders.PoolEncoder, "Tower": encoders.TowerEncoder,
                            "Pyramid": encoders.PyramidEncoder}
    assert set(R.loss_names()) == {"logl1", "logssim", "logl2", "l1", "ssim", "nll"}
    # every registered name is accepted by config validation, an unregistered one is not
    for name in R.encoder_types():
        d = base({"type": "Sum", "query_passes": ["beauty"]})
        d["model"]["representations"][0]["type"] = name
        assert load_config(d).model.representations[0].type == name
    for name in R.loss_names():
        assert load_config(base({"type": "PixelCNN", "settings": {"loss": [name]}})).model.generators[0].settings.loss \
            == [name]
    with pytest.raises(ConfigError, match="unknown loss"):
        load_config(base({"type": "PixelCNN", "settings": {"loss": ["l3"]}}))
    # config.py no longer keeps its own lists
    for stale in ("GENERATOR_TYPES", "GENERATOR_SETTINGS", "_SETTING_TYPES", "ENCODER_TYPES", "LOSSES"):
        assert not hasattr(C, stale), stale


def test_loss_table_is_what_the_generators_use():
    table = R.losses()
    y = torch.rand(2, 3, 16, 16)
    Y = torch.rand(2, 3, 16, 16)
    for name, entry in table.items():
        assert entry.function is getattr(losses, "ssim_loss" if name == "ssim" else name)
        assert losses.image_losses([name], Y, y)[name] == entry.function(Y, y)
        # log-space losses are those comparing with log1p(y): they vanish at Y = log1p(y)
        if name != "nll":
            target = torch.log1p(y) if entry.log_space else y
            assert losses.image_losses([name], target, y)[name].abs().item() < 1e-4, name
        assert losses.predicts_log([name]) == entry.log_space
        net = generators.PixelGenerator(3, 8, 3, layers=0, hidden_units=4, losses=[name])
        assert net.log_space == entry.log_space


@pytest.mark.parametrize("name", ["GQN", "PixelCNN", "Unet", "Sum", "Copy"])
def test_settings_are_documented_typed_and_their_defaults_validate(name):
    cls = R.generators()[name].settings
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
    # defaults of the nn.Module constructors are the settings' defaults
    net = generators.PixelGenerator(3, 8, 3)
    assert len(net.layers) == 8 and net.input.out_channels == 512 and net.losses == ["logl1", "logssim"]
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
    register_generator("Toy", settings=ToySettings)(ToyGenerator)
    try:
        yield
    finally:
        R.unregister_generator("Toy")


def test_adding_a_generator_is_one_registration(toy):
    d = base({"type": "Toy", "query_passes": ["normal", "albedo"], "output_passes": ["beauty"], "render_size": 8,
              "settings": {"scale": 2}})
    cfg = load_config(d)
    s = cfg.model.generators[0].settings
    assert isinstance(s, ToySettings) and s.scale == 2.0 and s.loss == ["l1"]
    assert load_config(cfg.to_dict()).to_dict() == cfg.to_dict()     # round trip through JSON form
    model = build_model(cfg)
    net = model.generator.generators[0]
    assert isinstance(net, ToyGenerator) and net.mix.in_channels == 6 and net.colour.in_features == 8
    assert model.parameter_counts()["generator0 (Toy)"] == 6 * 3 + 3 + 8 * 3 + 3
    b, n = 2, 2
    batch = {"observation_images": {"beauty": torch.rand(b, n, 3, 16, 16)},
             "observation_poses": torch.randn(b, n, 16, 1, 1),
             "query_images": {p: torch.rand(b, 3, 8, 8) for p in ("normal", "albedo", "beauty")},
             "query_poses": torch.randn(b, 16, 1, 1), "factor": -1}
    loss, logs = model.compute_loss(batch, 0)
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


def test_unregistered_generator_is_unknown_again(toy):
    R.unregister_generator("Toy")
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
    assert "Toy2" not in R.generators()


def test_config_import_does_not_import_torch():
    code = ("import sys; import cnsr.config, cnsr.scenes, cnsr.models.registry; "
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
