"""The pass table of the C++ core agrees with cnsr.passes (names, channels, which passes need
the path tracer, which hold negative values), and only requested passes come back."""
import re
from pathlib import Path

import numpy as np
import pytest

from cnsr import passes as P
from cnsr.render import Renderer
from render_helpers import box_room

PASSES_H = Path(__file__).resolve().parents[2] / "csrc" / "passes.h"


def test_cpp_pass_table_matches_python():
    from cnsr import _renderer

    assert [tuple(p) for p in _renderer.PASSES] == [(n, p.channels) for n, p in P.PASS_TABLE.items()]
    assert list(P.PASSES.items()) == [(n, p.channels) for n, p in P.PASS_TABLE.items()]


def test_cpp_shading_passes_are_the_tables():
    """The renderer runs its estimators for the passes of PassSet::needs_shading: the table's
    shading column (read from the C++ source, in PassId order)."""
    text = PASSES_H.read_text()
    ids = re.findall(r"\b(k[A-Z]\w*)\b", re.search(r"enum PassId[^{]*\{(.*?)\}", text, re.S).group(1))
    ids = [i for i in ids if i != "kNumPasses"]
    shading = re.findall(r"\b(k[A-Z]\w*)\b", re.search(r"needs_shading\(\)[^{]*\{(.*?)\}", text, re.S).group(1))
    assert len(ids) == len(P.PASS_NAMES) and shading
    assert {P.PASS_NAMES[ids.index(i)] for i in shading} == set(P.SHADING_PASSES)


def test_table_columns_hold_for_rendered_passes():
    """In a lit box room: every signed pass shows negative values and no other pass does (beyond
    rounding); every shading pass, asked for alone, is computed (the path tracer ran)."""
    r = Renderer(threads=2)
    r.load_scene(box_room())
    out = r.render(size=16, spp=4, seed=1)
    for name, info in P.PASS_TABLE.items():
        lo, hi = float(out[name].min()), float(out[name].max())
        if info.signed:
            assert lo < -0.1, name
        else:
            assert lo >= -0.01 * max(hi, 1.0), (name, lo)
    for name in P.SHADING_PASSES:
        alone = r.render(size=8, spp=2, seed=1, passes=[name])[name]
        assert alone.max() > 0, name


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
