"""Procedural wallpapers: shapes, ranges, seamless tiling, distinct patterns, registry names."""
import numpy as np
import pytest

import cnsr.assets as assets
from cnsr.assets import wallpapers


@pytest.mark.parametrize("name", sorted(wallpapers.BUILDERS))
def test_texture_shape_range_and_tiling(name):
    t = wallpapers.build(name, 128)
    assert t.shape == (128, 128, 3) and t.dtype == np.float32
    assert 0.0 <= t.min() and t.max() <= 1.0 and t.std() > 0.02
    # seamless: the jump across the wrap is no larger than the largest jump between two
    # neighbouring rows (columns) inside the image
    g = t.max(axis=2)
    assert np.abs(g[0] - g[-1]).mean() <= np.abs(np.diff(g, axis=0)).mean(axis=1).max() + 1e-3
    assert np.abs(g[:, 0] - g[:, -1]).mean() <= np.abs(np.diff(g, axis=1)).mean(axis=0).max() + 1e-3
    # a texture modulates the diffuse colour by max(rgb): keep it away from black
    assert g.mean() > 0.5


def test_patterns_are_distinct_and_registered():
    assert len(wallpapers.WALLPAPERS) >= 4
    imgs = [wallpapers.build(n, 64).max(axis=2) for n in wallpapers.WALLPAPERS]
    for i in range(len(imgs)):
        for j in range(i + 1, len(imgs)):
            assert np.abs(imgs[i] - imgs[j]).mean() > 0.02
    for n in wallpapers.BUILDERS:
        assert assets.has_texture(n)
    assert assets.get_texture("wallpaper_damask.png").shape == (wallpapers.SIZE, wallpapers.SIZE, 3)
