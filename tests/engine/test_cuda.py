"""CUDA paths: loader hand-over, a training step, bf16 autocast, checkpoints across devices.

Marked ``cuda`` (``pytest -m cuda`` runs only these) and skipped without a GPU. With
``CNSR_TEST_DEVICE=cpu`` they run on the CPU instead, comparing the CPU with itself: a dry
run of their code for machines without a GPU (``benchmarks/gpu.sh --device cpu`` does that),
which proves nothing about CUDA.
"""
import os

import numpy as np
import pytest
import torch

from _standins import synthetic_loader, tiny_config

from cnsr.data import build_loader, write_batch_exr, write_batch_npz
from cnsr.engine.checkpoint import read_checkpoint
from cnsr.engine.trainer import Trainer

pytestmark = pytest.mark.cuda

#: the standard tiny config's model with a narrow pixel generator: the tests take seconds on a CPU too
MODEL = {"representations": [{"type": "Pool", "observation_passes": ["beauty"], "representation_dim": 8,
                              "render_size": 8}],
         "generators": [{"type": "PixelCNN", "query_passes": ["normal"], "output_passes": ["beauty"],
                         "render_size": 8, "settings": {"layers": 2, "hidden_units": 32}}]}


def small_config(**overrides):
    return tiny_config(model=MODEL, **overrides)


@pytest.fixture
def device():
    if torch.cuda.is_available():
        return torch.device("cuda")
    if os.environ.get("CNSR_TEST_DEVICE") == "cpu":
        return torch.device("cpu")
    pytest.skip("no CUDA device")


@pytest.fixture
def exact_fp32():
    """fp32 products and convolutions without TF32 (cuDNN allows it by default), restored after."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _flat(tree, prefix=""):
    """{'query_images/beauty': tensor, ..., 'factor': 2} of a nested batch."""
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}/"))
        else:
            out[prefix + k] = v
    return out


def _write_dataset(folder, scenes=4, views=4, size=8):
    """Two EXR batch files and one reference ``.npz`` per split, values exact in float16."""
    rng = np.random.default_rng(5)
    for split in ("train", "test"):
        (folder / split).mkdir(parents=True)
        for i in range(3):
            images = {"beauty": rng.uniform(0, 4, (scenes, views, 3, size, size)),
                      "normal": rng.uniform(-1, 1, (scenes, views, 3, size, size))}
            images = {p: (np.round(a * 256) / 256).astype(np.float16) for p, a in images.items()}
            poses = rng.normal(size=(scenes, views, 16)).astype(np.float32)
            if i < 2:
                write_batch_exr(folder / split / f"batch{i:09d}.exr", images, poses, i % 3)
            else:
                write_batch_npz(folder / split / f"batch{i:09d}.npz", images, poses, i % 3)


def test_loader_hand_over_on_the_device_equals_the_cpu_path(tmp_path, device):
    _write_dataset(tmp_path)
    cfg = small_config(batch_size=2, test_batch_size=2, cached_dataset=True, train_data_dir=str(tmp_path / "train"),
                      test_data_dir=str(tmp_path / "test"))
    for split in ("train", "test"):
        on_device = list(build_loader(cfg, split, device=device, num_workers=1))
        on_cpu = list(build_loader(cfg, split, device="cpu", num_workers=0))
        assert len(on_device) == len(on_cpu) == 3
        for a, b in zip(on_device, on_cpu):
            fa, fb = _flat(a), _flat(b)
            assert fa.keys() == fb.keys()
            for k, x in fa.items():
                y = fb[k]
                if not torch.is_tensor(y):
                    assert int(x) == int(y), k
                    continue
                assert x.device.type == device.type, k
                assert x.dtype == y.dtype == torch.float32, k
                assert torch.equal(x.cpu(), y), f"{split} {k} differs between {device} and cpu"


def _grads(trainer):
    return {n: p.grad.detach().cpu().clone() for n, p in trainer.model.named_parameters() if p.grad is not None}


def test_a_training_step_on_the_device_equals_the_cpu_step(tmp_path, device, exact_fp32):
    cfg = small_config()
    runs = {}
    for where in ("cpu", device):
        t = Trainer(cfg, device=where, out_folder=tmp_path / str(where), loader_factory=synthetic_loader,
                    progress=False, handle_signals=False, save_final=False)
        losses = []
        for it in (1, 2, 3):
            losses.append(t.step(it)["total_loss"])
            if it == 1:
                grads = _grads(t)
        runs[str(where)] = losses, grads, t
    (l_cpu, g_cpu, t_cpu), (l_dev, g_dev, t_dev) = runs["cpu"], runs[str(device)]
    assert next(t_dev.model.parameters()).device.type == device.type
    # the first loss and its gradients: same computation up to float rounding
    np.testing.assert_allclose(l_dev, l_cpu, rtol=1e-4)
    assert g_dev.keys() == g_cpu.keys() and len(g_cpu) > 0
    for n, g in g_cpu.items():
        scale = float(g.abs().max()) + 1e-12
        err = float((g_dev[n] - g).abs().max())
        assert err <= 1e-4 * scale + 1e-7, f"gradient of {n}: max difference {err:.3g} (scale {scale:.3g})"


def test_bf16_autocast_trains(tmp_path, device):
    cfg = small_config(mixed_precision=True)
    t = Trainer(cfg, device=device, out_folder=tmp_path, loader_factory=synthetic_loader,
                progress=False, handle_signals=False, save_final=False)
    assert t.autocast == (device.type == "cuda")
    seen = set()
    hooks = [m.register_forward_hook(lambda m, i, o: seen.add(o.dtype))
             for m in t.model.modules() if isinstance(m, torch.nn.Conv2d)]
    before = {n: p.detach().clone() for n, p in t.model.named_parameters()}
    summary = t.train(6)
    for h in hooks:
        h.remove()
    losses = [h["loss"] for h in t.history]
    assert len(losses) == 6 and all(np.isfinite(losses))
    if device.type == "cuda":
        assert torch.bfloat16 in seen, f"no convolution ran in bf16 (saw {seen})"
    for n, p in t.model.named_parameters():
        assert p.dtype == torch.float32, n          # autocast leaves the master weights in fp32
    assert any(not torch.equal(before[n], p.detach()) for n, p in t.model.named_parameters())
    # the same first loss as fp32, up to bf16 rounding
    ref = Trainer(small_config(), device=device, out_folder=tmp_path / "fp32", loader_factory=synthetic_loader,
                  progress=False, handle_signals=False, save_final=False)
    fp32 = ref.step(1)["total_loss"]
    assert abs(summary["first_loss"] - fp32) <= 3e-2 * abs(fp32)


def _state_on(trainer, device_type):
    for p in trainer.model.parameters():
        assert p.device.type == device_type
    for s in trainer.optimizer.state.values():
        for k, v in s.items():
            if torch.is_tensor(v) and k != "step":
                assert v.device.type == device_type, k


def test_checkpoint_written_on_the_device_resumes_on_the_cpu_and_back(tmp_path, device, exact_fp32):
    cfg = small_config(checkpoint_interval=1000)

    def trainer(where, checkpoint=None, folder="a"):
        return Trainer(cfg, device=where, checkpoint=checkpoint, out_folder=tmp_path / folder,
                       loader_factory=synthetic_loader, progress=False, handle_signals=False)

    gpu = trainer(device)
    gpu.train(3)
    first = gpu.last_checkpoint
    assert first is not None and read_checkpoint(first)["iteration"] == 4

    cpu = trainer("cpu", first, "b")
    assert cpu.start_iteration == 4
    _state_on(cpu, "cpu")
    for (n, a), b in zip(gpu.model.named_parameters(), cpu.model.parameters()):
        assert torch.equal(a.detach().cpu(), b.detach()), n
    cpu.train(5)
    second = cpu.last_checkpoint

    back = trainer(device, second, "c")
    assert back.start_iteration == 6
    _state_on(back, device.type)
    for (n, a), b in zip(cpu.model.named_parameters(), back.model.parameters()):
        assert torch.equal(a.detach(), b.detach().cpu()), n
    back.train(7)
    assert np.isfinite(back.history[-1]["loss"])

    # the run that went device -> cpu -> device took the steps of one that stayed on the CPU (same
    # batches and observation choices; float rounding differs between the devices)
    straight = trainer("cpu", None, "d")
    straight.train(7)
    mixed = [h["loss"] for h in gpu.history + cpu.history + back.history]
    np.testing.assert_allclose(mixed, [h["loss"] for h in straight.history], rtol=1e-2)
