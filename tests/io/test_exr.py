"""cnsr.io.exr: round trips, channel naming, attributes, atomic writes, errors."""
import os

import numpy as np
import pytest

from cnsr.io.exr import channel_names, read_exr, read_exr_attrs, read_exr_image, write_exr
from cnsr.passes import PASS_NAMES, PASSES, exr_channel_names


@pytest.fixture
def passes():
    rng = np.random.default_rng(0)
    return {n: rng.random((6, 7, c)).astype(np.float32) * 10 for n, c in PASSES.items()}


def test_float32_round_trip_is_exact(tmp_path, passes):
    path = write_exr(tmp_path / "a.exr", passes, half=False)
    back = read_exr(path)
    assert set(back) == set(PASS_NAMES)
    for n in passes:
        np.testing.assert_array_equal(back[n], passes[n])
        assert back[n].dtype == np.float32


def test_half_round_trip_and_subset(tmp_path, passes):
    path = write_exr(tmp_path / "h.exr", passes, half=True, compression="piz")
    back = read_exr(path, passes=["beauty", "depth"])
    assert list(back) == ["beauty", "depth"]
    np.testing.assert_allclose(back["beauty"], passes["beauty"], rtol=1e-3)
    with pytest.raises(KeyError, match="glow"):
        read_exr(path, passes=["glow"])


def test_channel_names_follow_the_pass_table(tmp_path, passes):
    import OpenEXR

    path = write_exr(tmp_path / "c.exr", {"beauty": passes["beauty"], "depth": passes["depth"]})
    with OpenEXR.File(str(path), separate_channels=True) as f:
        assert set(f.channels()) == {"beauty.R", "beauty.G", "beauty.B", "depth.Y"}
    assert channel_names("depth", 1) == exr_channel_names("depth")
    assert channel_names("extra", 4) == ["extra.R", "extra.G", "extra.B", "extra.A"]
    with pytest.raises(ValueError):
        channel_names("beauty", 1)


def test_attributes_round_trip(tmp_path, passes):
    pose = np.arange(16, dtype=np.float32)
    path = write_exr(tmp_path / "p.exr", {"beauty": passes["beauty"]},
                     attrs={"cnsr.pose": pose, "cnsr.factor": "2", "cnsr.spp": 64, "gain": 1.5})
    a = read_exr_attrs(path)
    np.testing.assert_array_equal(a["cnsr.pose"], pose)
    assert a["cnsr.factor"] == "2" and a["cnsr.spp"] == 64 and a["gain"] == pytest.approx(1.5)


def test_writes_are_atomic_and_validated(tmp_path, passes):
    path = tmp_path / "sub" / "x.exr"
    write_exr(path, {"beauty": passes["beauty"]})
    assert sorted(os.listdir(tmp_path / "sub")) == ["x.exr"]  # no temporary left behind
    with pytest.raises(ValueError):
        write_exr(tmp_path / "y.exr", {"beauty": passes["beauty"], "depth": np.zeros((3, 3, 1))})
    with pytest.raises(ValueError):
        write_exr(tmp_path / "y.exr", {})
    with pytest.raises(ValueError):
        write_exr(tmp_path / "y.exr", {"beauty": passes["beauty"]}, compression="lzma")
    assert not (tmp_path / "y.exr").exists()
    # a failed write keeps the previous file intact
    with pytest.raises(Exception):
        write_exr(path, {"beauty": passes["beauty"]}, attrs={"bad": object()})
    np.testing.assert_allclose(read_exr(path)["beauty"], passes["beauty"], rtol=1e-3)


def test_2d_arrays_and_images(tmp_path):
    img = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    path = write_exr(tmp_path / "g.exr", {"Y": img}, half=False)
    rgb = read_exr_image(path)
    assert rgb.shape == (3, 4, 3)
    np.testing.assert_array_equal(rgb[..., 1], img)
    with pytest.raises(FileNotFoundError):
        read_exr(tmp_path / "none.exr")
    (tmp_path / "junk.exr").write_bytes(b"junk")
    with pytest.raises(OSError):
        read_exr(tmp_path / "junk.exr")


def test_default_layer_copies_a_pass_and_reads_back_without_it(tmp_path, passes):
    import OpenEXR

    path = write_exr(tmp_path / "d.exr", passes, half=False, default_layer="beauty")
    with OpenEXR.File(str(path), separate_channels=True) as f:
        chans = {k: np.asarray(v.pixels) for k, v in f.channels().items()}
    for c, k in enumerate("RGB"):
        assert np.array_equal(chans[k], passes["beauty"][..., c])
    back = read_exr(path)
    assert set(back) == set(PASS_NAMES)                            # the copy is not a pass
    assert np.array_equal(read_exr_image(path), passes["beauty"])
    assert read_exr_attrs(path)["cnsr.default_layer"] == "beauty"
    # a one-channel pass becomes the grey default layer Y
    path = write_exr(tmp_path / "y.exr", {"depth": passes["depth"]}, half=False, default_layer="depth")
    assert set(read_exr(path)) == {"depth"}
    assert np.array_equal(read_exr_image(path), np.repeat(passes["depth"], 3, axis=-1))


def test_default_layer_must_be_a_written_pass(tmp_path, passes):
    with pytest.raises(ValueError, match="glow"):
        write_exr(tmp_path / "x.exr", {"beauty": passes["beauty"]}, default_layer="glow")
    with pytest.raises(ValueError, match="channels"):
        write_exr(tmp_path / "x.exr", {"two": np.zeros((2, 2, 2), np.float32)}, default_layer="two")
    assert not (tmp_path / "x.exr").exists()
