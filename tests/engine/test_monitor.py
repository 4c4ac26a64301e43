"""The TensorBoard comparison image and the flattening of partition statistics."""
import numpy as np
import torch

from cnsr.engine.monitor import comparison_grid, flatten_stats
from cnsr.io.preview import display


def test_comparison_grid_is_the_labelled_upscaled_figure():
    """TensorBoard's image is the evaluation figure: reference | prediction | FLIP error |
    observations per scene, tiles upscaled to >= 128 px (not 8 px tiles), labels, colour bar."""
    from figure_helpers import find_tile

    from cnsr.metrics import comparison_figure

    ref = torch.rand(5, 3, 8, 8)
    pred = torch.rand(5, 3, 4, 4)                       # a generator at a lower resolution
    obs = torch.full((5, 2, 3, 16, 16), 0.5)
    grid = comparison_grid(ref, pred, obs, "beauty", max_rows=3, title="beauty of generator 0, iteration 50")
    assert grid.shape[0] == 3 and grid.dtype == torch.float32
    img = grid.permute(1, 2, 0).numpy()
    assert img.shape[0] > 3 * 128 and img.shape[1] > 5 * 128
    expected = comparison_figure(ref, pred, "beauty", obs, "beauty", max_rows=3,
                                 title="beauty of generator 0, iteration 50")
    assert np.array_equal(img, expected)
    for i in range(3):                                  # every tile is the one display mapping of its input
        assert len(find_tile(img, display("beauty", ref[i]), 128)) == 1
        assert len(find_tile(img, display("beauty", pred[i]), 128)) == 1
    assert len(find_tile(img, display("beauty", obs[0, 0]), 128)) == 3 * 2
    assert img.max() > 0.99                             # white labels


def test_comparison_grid_shows_observations_in_their_own_pass():
    from figure_helpers import find_tile

    ref = torch.zeros(1, 3, 4, 4)
    obs = torch.full((1, 1, 1, 4, 4), 2.0)              # a depth observation under a beauty prediction
    grid = comparison_grid(ref, ref, obs, "beauty", observation_pass="depth")
    assert len(find_tile(grid.permute(1, 2, 0).numpy(), display("depth", obs[0, 0]), 128)) == 1


def test_monitor_logs_the_figure(tmp_path):
    from cnsr.engine.monitor import TensorBoardMonitor

    mon = TensorBoardMonitor(tmp_path)
    logged = {}
    mon.writer.add_image = lambda tag, img, step: logged.setdefault(tag, (img, step))
    batch = {"query_images": {"beauty": torch.rand(2, 3, 8, 8)},
             "observation_images": {"beauty": torch.rand(2, 2, 3, 8, 8)}}
    metrics = mon.test_batch(batch, [{"beauty": torch.rand(2, 3, 8, 8)}], 50)
    mon.close()
    img, step = logged["images/beauty_0"]
    assert step == 50 and img.shape[0] == 3 and img.shape[1] > 2 * 128 and img.shape[2] > 5 * 128
    assert "flip/beauty_0" in metrics


def test_flatten_stats():
    stats = {"lighting_percentage": torch.tensor(0.25), "per": {"a": 1, "b": [2.0, 3.0]}, "skip": None}
    assert flatten_stats(stats) == {"lighting_percentage": 0.25, "per/a": 1.0, "per/b/0": 2.0, "per/b/1": 3.0}
