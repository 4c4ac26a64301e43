"""The full model: reference parameter counts, training, sampling, chaining, checkpoint loading."""
import copy
import math
from pathlib import Path

import pytest
import torch

from cnsr.config import load_config
from cnsr.models import build_model, load_reference_state_dict
from cnsr.passes import channels
from tiny import tiny_config as shared_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

#: Supp. Table 1 of the paper (the spec): trainable parameters per network.
POOL_3_DELTAS = 2_000_643
PAPER_COUNTS = {
    "room_beauty": {"PixelCNN": 4_199_939}, "archviz_beauty": {"PixelCNN": 4_199_939},
    "room_beauty_unet": {"Unet": 80_596_099}, "archviz_beauty_unet": {"Unet": 80_596_099},
    "room_beauty_gqn_buffers": {"GQN": 147_735_199}, "archviz_beauty_gqn_buffers": {"GQN": 147_735_199},
}


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS))
def test_reference_configs_have_the_papers_parameter_counts(name):
    model = build_model(CONFIGS / f"{name}.json")
    counts = model.parameter_counts()
    (gen_type, expected), = PAPER_COUNTS[name].items()
    assert counts == {"representation0 (PoolEncoder)": POOL_3_DELTAS, f"generator0 ({gen_type})": expected}


def test_pool_encoder_with_null_partition_has_four_deltas():
    cfg = load_config(CONFIGS / "room_beauty.json").to_dict()
    cfg["empty_partition"] = True
    assert build_model(cfg).parameter_counts()["representation0 (PoolEncoder)"] == 2_000_644


def tiny_config(generators=None, **top):
    """The shared tiny config with the id pass observed and these ``generators`` (a pixel one)."""
    return shared_config(representation={"observation_passes": ["beauty", "normal", "id"]},
                         generators=generators or [pixel()], **{"latent_separation": True, **top})


def pixel(query=("normal", "id"), out=("beauty",), **kw):
    g = {"type": "PixelCNN", "query_passes": list(query), "output_passes": list(out), "render_size": 16,
         "settings": {"layers": 2, "hidden_units": 16, "propagate_buffers": True}}
    g.update(kw)
    return g


def make_batch(b=3, n=2, s=16, factor=0, seed=0,
               passes=("beauty", "normal", "id", "direct", "indirect", "position")):
    g = torch.Generator().manual_seed(seed)
    return {"observation_images": {p: torch.rand(b, n, channels(p), s, s, generator=g) for p in passes},
            "observation_poses": torch.randn(b, n, 16, 1, 1, generator=g),
            "query_images": {p: torch.rand(b, channels(p), s, s, generator=g) for p in passes},
            "query_poses": torch.randn(b, 16, 1, 1, generator=g), "factor": factor}


def test_compute_loss_logs_and_partition_stats():
    torch.manual_seed(0)
    model = build_model(tiny_config(empty_partition=True))
    loss, logs = model.compute_loss(make_batch(factor=1), 5)
    assert loss.dim() == 0 and loss.requires_grad
    for key in ("generator0_logl1", "generator0_logssim", "partition_loss", "total_loss",
                "lighting_percentage", "geometry_percentage", "material_percentage", "null_percentage",
                "active_size"):
        assert isinstance(logs[key], float), key
    assert logs["total_loss"] == pytest.approx(logs["generator0_logl1"] + logs["generator0_logssim"]
                                               + logs["partition_loss"], rel=1e-5)
    assert logs["active_size"] == pytest.approx(9.0)
    stats = model.partition_stats()
    assert stats["lighting_percentage"] == pytest.approx(0.25) and stats["active_size"] == pytest.approx(9.0)
    # factor may come as a tensor from a DataLoader
    batch = make_batch(factor=2)
    batch["factor"] = torch.tensor([2])
    model.compute_loss(batch, 1)


@pytest.mark.parametrize("generator", [
    pixel(),
    {"type": "Unet", "query_passes": ["normal", "id"], "render_size": 16,
     "settings": {"channels": [8, 16, 16], "loss": ["logl1", "logssim"], "end_relu": False}},
    {"type": "GQN", "query_passes": ["normal", "id"], "render_size": 16,
     "settings": {"state_dim": 8, "core_count": 2}},
])
def test_tiny_training_run_loss_falls(generator):
    torch.manual_seed(0)
    model = build_model(tiny_config([generator], adaptive_separation=True))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = make_batch(b=4, factor=0)
    # a learnable target: beauty = a smooth function of the normals
    batch["query_images"]["beauty"] = batch["query_images"]["normal"].roll(1, dims=1) * 0.5
    gqn = generator["type"] == "GQN"
    # GQN: past the sigma annealing (sigma 0.7), minus the NLL's constant log(sigma sqrt(2 pi)) term
    offset = 10 ** 6 if gqn else 0
    const = (math.log(0.7) + 0.5 * math.log(2 * math.pi)) * 3 * 16 * 16 / (16 * 25) if gqn else 0.0
    losses = []
    for it in range(40):
        batch["factor"] = it % 3
        loss, logs = model.compute_loss(batch, it + offset)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(logs["total_loss"] - const)
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.8 * first, (first, last)
    assert model.representation.representations[0].deltas.grad is not None


def test_sample_outputs_linear_values():
    torch.manual_seed(0)
    model = build_model(tiny_config())
    batch = make_batch()
    with torch.no_grad():
        out = model.sample(batch)
        reps, _, _ = model.encode(batch)
        Y = model.generator.generators[0].predict(
            torch.cat([batch["query_images"]["normal"], batch["query_images"]["id"]], 1),
            batch["query_poses"], reps[0])
    assert isinstance(out, list) and set(out[0]) == {"beauty"}
    assert out[0]["beauty"].shape == (3, 3, 16, 16)
    assert torch.allclose(out[0]["beauty"], torch.exp(Y) - 1, atol=1e-5)
    assert out[0]["beauty"].min() >= 0
    # a pixel generator samples at the query buffers' resolution
    big = make_batch(s=32)
    with torch.no_grad():
        assert model.sample(big)[0]["beauty"].shape == (3, 3, 32, 32)
        assert model.sample(big, size=16)[0]["beauty"].shape == (3, 3, 16, 16)


def chain_config(detach, discard_first=True):
    return tiny_config([
        pixel(query=("normal",), out=("direct",), override_train=True, override_sample=True,
              detach=detach, discard_loss=discard_first),
        {"type": "Sum", "query_passes": ["direct", "indirect"], "output_passes": ["beauty"],
         "render_size": 16, "override_train": True, "override_sample": True},
        pixel(query=("beauty", "id"), out=("beauty",)),
    ])


def test_chaining_override_sample_feeds_predictions_forward():
    torch.manual_seed(0)
    model = build_model(chain_config(detach=False))
    batch = make_batch()
    with torch.no_grad():
        out = model.sample(batch)
    assert [set(o) for o in out] == [{"direct"}, {"beauty"}, {"beauty"}]
    assert torch.allclose(out[1]["beauty"], out[0]["direct"] + batch["query_images"]["indirect"])


@pytest.mark.parametrize("detach", [False, True])
def test_chaining_detach_and_discard_loss(detach):
    torch.manual_seed(0)
    model = build_model(chain_config(detach=detach))
    loss, logs = model.compute_loss(make_batch(), 0)
    assert "generator0_logl1" in logs                     # discarded losses are still logged
    assert logs["total_loss"] == pytest.approx(logs["generator2_logl1"] + logs["generator2_logssim"], rel=1e-5)
    loss.backward()
    first = model.generator.generators[0].final.weight.grad
    if detach:     # its own loss is discarded and its output detached: no gradient at all
        assert first is None or torch.all(first == 0)
    else:          # gradients reach it through the Sum and the last generator
        assert first is not None and first.abs().sum() > 0


def test_copy_generator_shares_the_module():
    cfg = tiny_config([pixel(), {"type": "Copy", "query_passes": ["normal", "id"], "render_size": 16,
                                 "settings": {"index": 0}}])
    model = build_model(cfg)
    gens = model.generator.generators
    assert gens[1] is gens[0]
    assert model.parameter_counts()["generator1 (Copy)"] == 0
    state = model.state_dict()
    assert "generator.generators.1.final.weight" in state
    _, logs = model.compute_loss(make_batch(), 0)
    assert "generator1_logl1" in logs
    load_reference_state_dict(build_model(cfg), state)


def data_parallel_keys(state):
    """Keys as the reference writes them under nn.DataParallel (multi_gpu)."""
    out = {}
    for k, v in state.items():
        parts = k.split(".")
        out[".".join(parts[:3] + ["module"] + parts[3:])] = v
    return out


@pytest.mark.parametrize("layout", ["plain", "data_parallel", "ddp", "checkpoint"])
def test_loading_reference_state_dict_reproduces_outputs(layout):
    torch.manual_seed(0)
    cfg = tiny_config()
    source = build_model(cfg)
    state = {k: v.clone() for k, v in source.state_dict().items()}
    assert "representation.representations.0.deltas" in state
    assert "generator.generators.0.input.weight" in state and "generator.generators.0.layers.1.bias" in state
    if layout == "data_parallel":
        state = data_parallel_keys(state)
        assert "representation.representations.0.module.conv1.weight" in state
    elif layout == "ddp":
        state = {"module." + k: v for k, v in state.items()}
    elif layout == "checkpoint":
        state = {"iteration": 10, "model_state": data_parallel_keys(state), "optimizer_state": {}}
    torch.manual_seed(1)
    target = build_model(cfg)
    batch = make_batch()
    with torch.no_grad():
        before = target.sample(batch)[0]["beauty"]
        load_reference_state_dict(target, state)
        after = target.sample(batch)[0]["beauty"]
        expected = source.sample(batch)[0]["beauty"]
    assert not torch.allclose(before, expected)
    assert torch.equal(after, expected)


def test_loading_a_checkpoint_of_another_config_fails_clearly():
    state = build_model(tiny_config()).state_dict()
    other = copy.deepcopy(tiny_config())
    other["model"]["representations"][0]["representation_dim"] = 16
    with pytest.raises(ValueError, match="representation.representations.0.conv1"):
        load_reference_state_dict(build_model(other), state)
    state.pop("generator.generators.0.final.bias")
    with pytest.raises(ValueError, match="missing in file: generator.generators.0.final.bias"):
        load_reference_state_dict(build_model(tiny_config()), state)


def test_gradient_regularization_in_training_step():
    torch.manual_seed(0)
    cfg = tiny_config()
    cfg["model"]["representations"][0]["gradient_reg"] = 1.0
    model = build_model(cfg)
    loss, _ = model.compute_loss(make_batch(factor=1), 0)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_tower_and_pyramid_encoders_in_the_model():
    for enc, size in (("Tower", 16), ("Pyramid", 32)):
        cfg = tiny_config([{"type": "GQN", "query_passes": ["normal"], "render_size": 16,
                            "settings": {"state_dim": 8, "core_count": 2, "cell_type": "GRU"}}])
        cfg["model"]["representations"][0].update(type=enc, render_size=size)
        model = build_model(cfg)
        loss, _ = model.compute_loss(make_batch(factor=0), 0)
        loss.backward()
        with torch.no_grad():
            assert model.sample(make_batch())[0]["beauty"].shape == (3, 3, 16, 16)


def test_reference_pixel_model_runs_on_a_tiny_batch():
    model = build_model(CONFIGS / "room_beauty.json")
    batch = make_batch(b=1, n=1, s=64, passes=("beauty", "normal", "position", "id"))
    batch["query_images"] = {k: v[..., :8, :8] for k, v in batch["query_images"].items()}
    with torch.no_grad():
        out = model.sample(batch)          # the pixel generator runs at the query resolution
    assert out[0]["beauty"].shape == (1, 3, 8, 8) and torch.isfinite(out[0]["beauty"]).all()


def test_detached_encoder_gets_no_gradient():
    cfg = tiny_config()
    cfg["model"]["representations"][0]["detach"] = True
    model = build_model(cfg)
    loss, logs = model.compute_loss(make_batch(), 0)
    loss.backward()
    assert all(p.grad is None for p in model.representation.parameters())
    assert model.generator.generators[0].final.weight.grad is not None
    assert "partition_loss" not in logs                  # no null partition configured


def test_module_conversions_channels_last_and_bf16_autocast():
    torch.manual_seed(0)
    model = build_model(tiny_config(empty_partition=True))
    batch = make_batch()
    with torch.no_grad():
        expected = model.sample(batch)[0]["beauty"]
    model = model.to(memory_format=torch.channels_last).to(torch.float64).to(torch.float32)
    cl = dict(batch, query_images={k: v.contiguous(memory_format=torch.channels_last)
                                   for k, v in batch["query_images"].items()})
    with torch.no_grad():
        assert torch.allclose(model.sample(cl)[0]["beauty"], expected, atol=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, logs = model.compute_loss(batch, 1)
    loss.backward()
    assert torch.isfinite(loss) and model.generator.generators[0].input.weight.grad is not None


@pytest.mark.parametrize("name", ["quickstart", "room_small_unet", "room_small_gqn"])
def test_small_configs_train_a_step(name):
    cfg = load_config(CONFIGS / f"{name}.json")
    assert not cfg.cached_dataset and cfg.max_render_size() == 32
    torch.manual_seed(0)
    model = build_model(cfg)
    batch = make_batch(b=2, n=cfg.views_per_scene - 1, s=32, passes=cfg.needed_passes(), factor=1)
    loss, logs = model.compute_loss(batch, 1)
    loss.backward()
    assert torch.isfinite(loss) and "lighting_percentage" in logs
    with torch.no_grad():
        assert model.sample(batch)[0]["beauty"].shape == (2, 3, 32, 32)


def test_parameter_order_is_the_references():
    """Reference optimizer states index parameters by position: generators first, then encoders,
    each in the order their layers were created."""
    model = build_model(CONFIGS / "room_beauty.json")
    names = [n for n, _ in model.named_parameters()]
    assert names[0] == "generator.generators.0.input.weight"
    assert names[names.index("generator.generators.0.final.bias") + 1] == "representation.representations.0.deltas"
    enc = [n.split(".")[3] for n in names if n.startswith("representation") and n.endswith("weight")]
    assert enc == ["conv1", "conv2", "conv3", "skip_conv1", "skip_conv2", "conv4", "conv5", "conv6"]


def test_reference_key_strips_every_wrapper_segment():
    from cnsr.models import reference_key
    assert reference_key("module.generator.generators.0.final.weight") == "generator.generators.0.final.weight"
    # a Copy of a DataParallel generator was wrapped twice in the reference
    assert reference_key("generator.generators.1.module.module.final.bias") == "generator.generators.1.final.bias"
    assert reference_key("generator.generators.0.down_block1.model.0.weight") == \
        "generator.generators.0.down_block1.model.0.weight"


def test_invariance_penalty_in_training_step():
    torch.manual_seed(0)
    cfg = tiny_config()
    loss0, _ = build_model(cfg).compute_loss(make_batch(factor=1), 0)
    torch.manual_seed(0)
    cfg["model"]["representations"][0]["invariance_reg"] = 3.0
    model = build_model(cfg)
    loss, logs = model.compute_loss(make_batch(factor=1), 0)
    assert 0 <= logs["invariance"] <= 1
    assert loss.item() == pytest.approx(loss0.item() + 3.0 * logs["invariance"], rel=1e-5)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_composite_training_step():
    cfg = tiny_config()
    cfg["model"]["representations"][0]["composite_training"] = 1.0
    model = build_model(cfg)
    loss, logs = model.compute_loss(make_batch(factor=0), 0)
    assert logs["composite"] == 1.0
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    # the same model with the paper's aggregation gives another loss on the same batch
    model.representation.representations[0].composite_training = 0.0
    loss0, logs0 = model.compute_loss(make_batch(factor=0), 0)
    assert "composite" not in logs0 and loss0.item() != pytest.approx(loss.item(), rel=1e-6)
