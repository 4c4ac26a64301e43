"""``cnsr.load_model``: our checkpoints and the reference's (names from the spec, with and
without DataParallel/DDP ``module.`` segments) load into the model of a config."""
import json

import pytest
import torch

import cnsr
from cnsr.engine import checkpoint as ckpt
from tiny import tiny_config

R, X, HID, LAYERS, SIZE = 12, 7, 16, 2, 16    # x: beauty + normal + id = 7 channels


def config_dict():
    return tiny_config(SIZE, representation={"observation_passes": ["beauty", "normal", "id"], "representation_dim": R},
                       generator={"query_passes": ["beauty", "normal", "id"],
                                  "settings": {"layers": LAYERS, "hidden_units": HID, "propagate_buffers": True}},
                       job_name="api", latent_separation=True, adaptive_separation=True)


def reference_state(prefix_style):
    """A state dict with the parameter names and shapes the spec gives for the reference's
    Pool encoder and pixel generator, filled with random values."""
    g = torch.Generator().manual_seed(0)
    enc = {"conv1": (R, X, 2), "skip_conv1": (R, R, 2), "conv2": (R // 2, R, 3), "conv3": (R, R // 2, 2),
           "skip_conv2": (R, R + 16, 3), "conv4": (R // 2, R + 16, 3), "conv5": (R, R // 2, 3), "conv6": (R, R, 1)}
    prop = X + R + 16
    gen = {"input": (HID, X + 16 + R, 1), "final": (1 * 3, HID, 1)}
    gen.update({f"layers.{i}": (HID, HID + prop, 1) for i in range(LAYERS)})
    mid = ".module" if prefix_style == "dataparallel" else ""
    lead = "module." if prefix_style == "ddp" else ""
    sd = {f"{lead}representation.representations.0{mid}.deltas": torch.rand(3, generator=g) + 0.5}
    for name, (o, i, k) in enc.items():
        sd[f"{lead}representation.representations.0{mid}.{name}.weight"] = torch.randn(o, i, k, k, generator=g) * 0.1
        sd[f"{lead}representation.representations.0{mid}.{name}.bias"] = torch.randn(o, generator=g) * 0.1
    for name, (o, i, k) in gen.items():
        sd[f"{lead}generator.generators.0{mid}.{name}.weight"] = torch.randn(o, i, k, k, generator=g) * 0.1
        sd[f"{lead}generator.generators.0{mid}.{name}.bias"] = torch.randn(o, generator=g) * 0.1
    return sd


def batch(b=2, n=2):
    g = torch.Generator().manual_seed(1)
    obs = {"beauty": torch.rand(b, n, 3, SIZE, SIZE, generator=g), "normal": torch.randn(b, n, 3, SIZE, SIZE, generator=g),
           "id": torch.rand(b, n, 1, SIZE, SIZE, generator=g)}
    query = {"beauty": torch.rand(b, 3, SIZE, SIZE, generator=g), "normal": torch.randn(b, 3, SIZE, SIZE, generator=g),
             "id": torch.rand(b, 1, SIZE, SIZE, generator=g)}
    return {"observation_images": obs, "observation_poses": torch.randn(b, n, 16, 1, 1, generator=g),
            "query_images": query, "query_poses": torch.randn(b, 16, 1, 1, generator=g), "factor": -1}


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "api.json"
    path.write_text(json.dumps(config_dict()))
    return path


@pytest.mark.parametrize("prefix_style", ["plain", "dataparallel", "ddp"])
def test_reference_layout_checkpoint_loads(tmp_path, config_file, prefix_style):
    sd = reference_state(prefix_style)
    path = tmp_path / "api_1000000.pt"
    torch.save({"iteration": 1000001, "model_state": sd, "optimizer_state": {"state": {}, "param_groups": []}}, path)
    model = cnsr.load_model(config_file, path)
    assert not model.training
    own = model.state_dict()
    for key, value in ckpt.strip_parallel_prefixes(sd).items():
        assert torch.equal(own[key], value), key
    # the partition sharpness follows the checkpoint; the iteration reported is its name's (it stores
    # the next one to run, as the reference's files do)
    assert model.iteration == 1000000
    with torch.no_grad():
        out = model.sample(batch())
    assert isinstance(out, list) and out[0]["beauty"].shape == (2, 3, SIZE, SIZE)
    assert torch.isfinite(out[0]["beauty"]).all()


def test_our_checkpoint_reproduces_the_outputs(tmp_path, config_file):
    from cnsr.models import build_model
    torch.manual_seed(0)
    model = build_model(config_dict()).eval()
    path = ckpt.save_checkpoint(tmp_path, "api", model, torch.optim.Adam(model.parameters()), 99)
    loaded = cnsr.load_model(config_file, path)
    assert loaded.iteration == 99
    model.set_iteration(99)
    with torch.no_grad():
        a, b = model.sample(batch()), loaded.sample(batch())
    assert torch.equal(a[0]["beauty"], b[0]["beauty"])


def test_our_checkpoint_loads_with_its_own_config(tmp_path):
    from cnsr.config import load_config
    from cnsr.models import build_model
    cfg = load_config(config_dict())
    model = build_model(cfg)
    path = ckpt.save_checkpoint(tmp_path, "api", model, torch.optim.Adam(model.parameters()), 9, config=cfg.to_dict())
    loaded = cnsr.load_model(checkpoint=path, overrides=["test_batch_size=3"])
    assert loaded.cfg.model == cfg.model and loaded.cfg.test_batch_size == 3 and loaded.iteration == 9
    ref = tmp_path / "ref.pt"
    torch.save({"iteration": 5, "model_state": model.state_dict()}, ref)
    with pytest.raises(ckpt.CheckpointError, match="ref.pt: carries no config.*--config"):
        cnsr.load_model(checkpoint=ref)


def test_a_device_this_machine_lacks_is_refused(tmp_path, config_file, monkeypatch):
    from cnsr.engine.devices import DeviceError
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(DeviceError, match="--device cuda: this machine has no CUDA device"):
        cnsr.load_model(config_file, device="cuda")
    with pytest.raises(DeviceError, match="not a device name"):
        cnsr.load_model(config_file, device="gpu0")


def test_checkpoint_for_another_config_names_file_and_keys(tmp_path):
    path = tmp_path / "ref.pt"
    torch.save({"iteration": 5, "model_state": reference_state("plain")}, path)
    other = config_dict()
    other["model"]["representations"][0]["representation_dim"] = 8
    with pytest.raises(ckpt.CheckpointError) as e:
        cnsr.load_model(other, path)
    msg = str(e.value)
    assert "ref.pt" in msg and "representation.representations.0.conv1.weight" in msg and "in file vs" in msg


class ReferenceOrder(torch.nn.Module):
    """The reference model registers its generators before its encoders: its parameter
    order (which its optimizer state follows) differs from ours."""

    def __init__(self, model):
        super().__init__()
        self.generator = model.generator
        self.representation = model.representation


def test_reference_checkpoint_resumes_with_its_optimizer_state(tmp_path, config_file):
    from cnsr.engine.trainer import Trainer
    from cnsr.models import build_model

    torch.manual_seed(0)
    ref = ReferenceOrder(build_model(config_dict()))
    opt = torch.optim.Adam(ref.parameters(), lr=1e-4)
    for _ in range(2):
        opt.zero_grad()
        sum((p * torch.randn_like(p)).sum() for p in ref.parameters()).backward()
        opt.step()
    sd = ref.state_dict()
    assert next(iter(sd)).startswith("generator.")
    path = tmp_path / "api_2.pt"
    torch.save({"iteration": 3, "model_state": sd, "optimizer_state": opt.state_dict()}, path)

    t = Trainer(config_file, device="cpu", checkpoint=path, progress=False, handle_signals=False,
                out_folder=tmp_path, log_dir=tmp_path / "runs")
    assert t.start_iteration == 3
    ref_state = {name: opt.state[p] for name, p in ref.named_parameters()}
    for name, p in t.model.named_parameters():
        assert torch.equal(p, dict(ref.named_parameters())[name]), name
        got = t.optimizer.state[p]
        assert torch.equal(got["exp_avg"], ref_state[name]["exp_avg"]), name
        assert torch.equal(got["exp_avg_sq"], ref_state[name]["exp_avg_sq"]), name
