"""Our batch file format: round trips, what an EXR viewer sees, damaged files."""
import numpy as np
import OpenEXR
import pytest

from cnsr.data import DatasetError, ExrBatchFile, read_batch_exr, read_batch_meta, write_batch_exr
from cnsr.passes import PASS_NAMES, exr_channel_names

from _data_helpers import synthetic_batch


def test_round_trip_all_passes(tmp_path, batch):
    images, poses = batch
    path = tmp_path / "batch000000000.exr"
    write_batch_exr(path, images, poses, factor=2, meta={"dataset": "room", "spp": 8})
    got = read_batch_exr(path)
    assert list(got.images) == list(PASS_NAMES)
    for p in PASS_NAMES:
        assert got.images[p].dtype == np.float16 and got.images[p].shape == images[p].shape
        np.testing.assert_array_equal(got.images[p], images[p])
    np.testing.assert_array_equal(got.poses, poses)
    assert got.factor == 2 and got.meta["dataset"] == "room" and got.meta["spp"] == 8
    meta = read_batch_meta(path)
    assert (meta["scenes"], meta["views"], meta["factor"]) == (3, 4, 2)
    assert meta["passes"] == list(PASS_NAMES)
    assert not list(tmp_path.glob(".*")), "no temporary file may be left behind"


def test_partial_read_and_float32(tmp_path, batch):
    images, poses = batch
    path = tmp_path / "b.exr"
    write_batch_exr(path, images, poses, factor=-1)
    got = read_batch_exr(path, ["normal", "depth"], dtype=np.float32)
    assert list(got.images) == ["normal", "depth"]
    assert got.images["depth"].dtype == np.float32
    np.testing.assert_array_equal(got.images["normal"], images["normal"].astype(np.float32))
    np.testing.assert_array_equal(got.images["depth"], images["depth"].astype(np.float32))


def test_any_exr_reader_sees_a_contact_sheet(tmp_path, batch):
    """The OpenEXR library reads the file: half channels named <pass>.R/G/B / <pass>.Y, scene b
    view v at rows b*H.., columns v*W.."""
    images, poses = batch
    B, V, _, H, W = images["beauty"].shape
    path = tmp_path / "b.exr"
    write_batch_exr(path, images, poses, factor=0)
    f = OpenEXR.File(str(path), separate_channels=True)
    ch = f.channels()
    assert set(ch) == {c for p in PASS_NAMES for c in exr_channel_names(p)}
    assert ch["beauty.R"].pixels.dtype == np.float16
    assert ch["beauty.R"].pixels.shape == (B * H, V * W)
    b, v = 2, 1
    np.testing.assert_array_equal(ch["beauty.G"].pixels[b * H:(b + 1) * H, v * W:(v + 1) * W], images["beauty"][b, v, 1])
    np.testing.assert_array_equal(ch["depth.Y"].pixels[b * H:(b + 1) * H, v * W:(v + 1) * W], images["depth"][b, v, 0])
    hdr = f.header()
    assert hdr["cnsr.factor"] == 0 and hdr["cnsr.scenes"] == B and hdr["cnsr.views"] == V
    np.testing.assert_array_equal(np.asarray(hdr["cnsr.poses"], np.float32), poses.reshape(-1))


@pytest.mark.parametrize("compression", ["zip", "piz"])
def test_compressed_files_read_through_the_library(tmp_path, compression):
    images, poses = synthetic_batch(passes=["beauty", "id", "roughness"])
    path = tmp_path / "b.exr"
    write_batch_exr(path, images, poses, factor=1, compression=compression)
    got = read_batch_exr(path, ["id", "beauty"])
    np.testing.assert_array_equal(got.images["beauty"], images["beauty"])
    np.testing.assert_array_equal(got.images["id"], images["id"])


def test_sheet_is_a_view_onto_the_file(tmp_path, batch):
    images, poses = batch
    path = tmp_path / "b.exr"
    write_batch_exr(path, images, poses, factor=0)
    with ExrBatchFile(path) as f:
        s = f.sheet("position")
        assert s.shape == images["position"].shape and not s.flags.owndata
        np.testing.assert_array_equal(s[1, 2:], images["position"][1, 2:])


def test_truncated_file_names_the_file(tmp_path, batch):
    images, poses = batch
    path = tmp_path / "batch000000007.exr"
    write_batch_exr(path, images, poses, factor=0)
    data = path.read_bytes()
    for cut in (len(data) - 100, len(data) // 2, 40, 0):
        path.write_bytes(data[:cut])
        with pytest.raises(DatasetError, match="batch000000007.exr.*(truncated|empty)"):
            read_batch_exr(path, ["beauty"])


def test_garbage_and_foreign_files(tmp_path):
    bad = tmp_path / "junk.exr"
    bad.write_bytes(b"this is not an image at all")
    with pytest.raises(DatasetError, match="junk.exr.*not an OpenEXR"):
        read_batch_exr(bad)
    plain = tmp_path / "plain.exr"
    OpenEXR.File({"compression": OpenEXR.NO_COMPRESSION},
                 {"beauty.R": np.zeros((4, 4), np.float16)}).write(str(plain))
    with pytest.raises(DatasetError, match="plain.exr.*not a cnsr batch file"):
        read_batch_exr(plain)


def test_missing_pass_names_file_and_pass(tmp_path):
    images, poses = synthetic_batch(passes=["beauty"])
    path = tmp_path / "b.exr"
    write_batch_exr(path, images, poses, factor=0)
    with pytest.raises(DatasetError, match=r"b.exr: pass 'albedo' is not in this file"):
        read_batch_exr(path, ["beauty", "albedo"])


def test_bad_shapes_rejected(tmp_path, batch):
    images, poses = batch
    images["depth"] = images["depth"][:, :, :, :4]
    with pytest.raises(ValueError, match="depth"):
        write_batch_exr(tmp_path / "b.exr", images, poses, factor=0)
    assert not list(tmp_path.iterdir())


def test_values_beyond_half_range_stay_finite(tmp_path):
    images, poses = synthetic_batch(passes=["beauty"])
    images["beauty"] = images["beauty"].astype(np.float32)
    images["beauty"][0, 0, 0, 0, 0] = 1e6      # a firefly far beyond float16's 65504
    write_batch_exr(tmp_path / "b.exr", images, poses, factor=0)
    got = read_batch_exr(tmp_path / "b.exr").images["beauty"]
    assert np.isfinite(got).all() and got[0, 0, 0, 0, 0] == np.float16(65504)
