"""The pass table of the C++ core agrees with cnsr.passes, and only requested passes come back."""
import numpy as np
import pytest

from cnsr import passes as P
from cnsr.render import Renderer
from render_helpers import box_room


def test_cpp_pass_table_matches_python():
    from cnsr import _renderer

    assert [tuple(p) for p in _renderer.PASSES] == list(P.PASSES.items())


def test_render_returns_requested_passes_only():
    r = Renderer(threads=2)
    r.load_scene(box_room())
    out = r.render(size=8, spp=1, passes=["depth", "beauty"])
    assert list(out) == ["depth", "beauty"]
    assert out["depth"].shape == (8, 8, 1) and out["beauty"].shape == (8, 8, 3)
    assert all(a.dtype == np.float32 for a in out.values())
    full = r.render(size=8, spp=1)
    assert list(full) == list(P.PASS_NAMES)
    for name, a in full.items():
        assert a.shape == (8, 8, P.channels(name))


def test_unknown_pass_raises():
    r = Renderer()
    r.load_scene(box_room())
    with pytest.raises(ValueError, match="glossiness"):
        r.render(size=4, spp=1, passes=["beauty", "glossiness"])


def test_beauty_does_not_depend_on_other_requested_passes():
    r = Renderer(threads=2)
    r.load_scene(box_room())
    a = r.render(size=12, spp=4, seed=3, passes=["beauty"])["beauty"]
    b = r.render(size=12, spp=4, seed=3)["beauty"]
    np.testing.assert_array_equal(a, b)
