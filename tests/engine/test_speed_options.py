"""The trainer's speed options that also exist on CPUs: fused Adam and the TF32 switch."""
import numpy as np
import torch

from _standins import synthetic_loader, tiny_config

from cnsr.engine.trainer import Trainer

MODEL = {"representations": [{"type": "Pool", "observation_passes": ["beauty"], "representation_dim": 8,
                              "render_size": 8}],
         "generators": [{"type": "PixelCNN", "query_passes": ["normal"], "output_passes": ["beauty"],
                         "render_size": 8, "settings": {"layers": 2, "hidden_units": 32}}]}


def _run(tmp_path, **options):
    t = Trainer(tiny_config(model=MODEL), device="cpu", out_folder=tmp_path, loader_factory=synthetic_loader,
                progress=False, handle_signals=False, save_final=False, **options)
    return t, [t.step(i)["total_loss"] for i in (1, 2, 3, 4)]


def test_fused_adam_takes_the_steps_of_adam(tmp_path):
    plain, losses = _run(tmp_path / "a")
    fused, fused_losses = _run(tmp_path / "b", fused_adam=True)
    assert fused.optimizer.defaults.get("fused") is True and not plain.optimizer.defaults.get("fused")
    np.testing.assert_allclose(fused_losses, losses, rtol=1e-5)
    for (n, a), b in zip(plain.model.named_parameters(), fused.model.parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), atol=1e-5, err_msg=n)   # rounding; steps are 1e-2


def test_tf32_switches_matrix_products_and_convolutions(tmp_path):
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        Trainer(tiny_config(model=MODEL), device="cpu", out_folder=tmp_path, loader_factory=synthetic_loader,
                progress=False, handle_signals=False)
        assert not torch.backends.cuda.matmul.allow_tf32       # off unless asked
        Trainer(tiny_config(model=MODEL), device="cpu", out_folder=tmp_path, loader_factory=synthetic_loader,
                progress=False, handle_signals=False, tf32=True)
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
