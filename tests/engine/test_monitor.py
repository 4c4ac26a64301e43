"""The TensorBoard comparison image and the flattening of partition statistics."""
import torch

from cnsr.engine.monitor import comparison_grid, flatten_stats
from cnsr.io.preview import display


def test_comparison_grid_layout():
    ref = torch.zeros(5, 3, 8, 8)
    pred = torch.ones(5, 3, 4, 4)                       # a generator at a lower resolution
    obs = torch.full((5, 2, 3, 16, 16), 0.5)
    grid = comparison_grid(ref, pred, obs, "beauty", max_rows=3)
    assert grid.shape == (3, 3 * 8, 4 * 8)              # 3 scenes x (reference, prediction, 2 observations)
    # every tile is the one display mapping of its input
    for col, value in enumerate((0.0, 1.0, 0.5, 0.5)):
        expected = display("beauty", torch.full((3, 8, 8), value))
        assert torch.allclose(grid[:, :, 8 * col:8 * col + 8], expected.repeat(1, 3, 1))
    assert grid[:, :, 8:16].max() < 1                  # radiance 1 is tone-mapped, not clipped white


def test_comparison_grid_shows_observations_in_their_own_pass():
    ref = torch.zeros(1, 3, 4, 4)
    obs = torch.full((1, 1, 1, 4, 4), 2.0)              # a depth observation under a beauty prediction
    grid = comparison_grid(ref, ref, obs, "beauty", observation_pass="depth")
    assert torch.allclose(grid[:, :, 8:], display("depth", obs[0, 0]))


def test_flatten_stats():
    stats = {"lighting_percentage": torch.tensor(0.25), "per": {"a": 1, "b": [2.0, 3.0]}, "skip": None}
    assert flatten_stats(stats) == {"lighting_percentage": 0.25, "per/a": 1.0, "per/b/0": 2.0, "per/b/1": 3.0}
