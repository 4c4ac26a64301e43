"""Determinism across thread counts, seeds, and 1/sqrt(spp) convergence."""
import numpy as np
import pytest

from cnsr.render import Renderer
from render_helpers import box_room


@pytest.fixture(scope="module")
def renderer():
    r = Renderer()
    r.load_scene(box_room(glossy=True, bounces=3))
    return r


def test_identical_for_any_thread_count(renderer):
    outs = [renderer.render(size=20, spp=3, seed=7, threads=t) for t in (1, 2, 3, 0)]
    for other in outs[1:]:
        for name in outs[0]:
            np.testing.assert_array_equal(outs[0][name], other[name], err_msg=name)


def test_seed_changes_the_noise_only(renderer):
    a = renderer.render(size=12, spp=4, seed=1, passes=["beauty", "normal"])
    b = renderer.render(size=12, spp=4, seed=2, passes=["beauty", "normal"])
    c = renderer.render(size=12, spp=4, seed=1, passes=["beauty", "normal"])
    assert not np.array_equal(a["beauty"], b["beauty"])
    np.testing.assert_array_equal(a["beauty"], c["beauty"])


def test_error_falls_like_one_over_sqrt_spp():
    """RMSE against a high-spp reference, averaged over seeds, has log-log slope -1/2 in spp."""
    r = Renderer()
    r.load_scene(box_room(glossy=False, bounces=2, light_radius=0.3))
    size = 16
    ref = r.render(size=size, spp=4096, seed=100, passes=["beauty"])["beauty"]
    spps = [2, 8, 32, 128]
    mse = [np.mean([np.mean((r.render(size=size, spp=spp, seed=s, passes=["beauty"])["beauty"] - ref) ** 2)
                    for s in range(4)]) for spp in spps]
    slope = np.polyfit(np.log(spps), 0.5 * np.log(mse), 1)[0]
    assert -0.65 < slope < -0.35, (slope, mse)
