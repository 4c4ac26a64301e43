"""Reading the reference release's .npz batches."""
import numpy as np
import pytest

from cnsr.data import DatasetError, read_batch_npz, write_batch_npz

from _data_helpers import synthetic_batch


def reference_npz(path, images, poses, factor):
    """A batch exactly as the paper's generate-dataset.py saved it (written with numpy alone)."""
    B, V = poses.shape[:2]
    np.savez_compressed(path, **{p: a.astype(np.float16) for p, a in images.items()},
                        poses=poses.astype(np.float16).reshape(B, V, 16, 1, 1), factor=factor)


def test_reads_reference_layout(tmp_path):
    images, poses = synthetic_batch(passes=["beauty", "normal", "position", "id"])
    path = tmp_path / "batch0.npz"
    reference_npz(path, images, poses, 1)
    got = read_batch_npz(path, ["beauty", "id"])
    assert list(got.images) == ["beauty", "id"] and got.factor == 1
    np.testing.assert_array_equal(got.images["beauty"], images["beauty"])
    np.testing.assert_array_equal(got.images["id"], images["id"])
    assert got.poses.shape == (3, 4, 16) and got.poses.dtype == np.float32
    np.testing.assert_array_equal(got.poses, poses.astype(np.float16).astype(np.float32))
    everything = read_batch_npz(path)
    assert list(everything.images) == ["beauty", "position", "normal", "id"]


def test_writer_matches_reference_layout(tmp_path):
    images, poses = synthetic_batch(passes=["beauty", "depth"])
    path = tmp_path / "b.npz"
    write_batch_npz(path, images, poses, 2)
    with np.load(path) as z:
        assert set(z.files) == {"beauty", "depth", "poses", "factor"}
        assert z["beauty"].dtype == np.float16 and z["poses"].shape == (3, 4, 16, 1, 1)
        assert int(z["factor"]) == 2


def test_corrupt_and_truncated(tmp_path):
    images, poses = synthetic_batch(passes=["beauty"])
    path = tmp_path / "batch000000003.npz"
    reference_npz(path, images, poses, 0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="batch000000003.npz.*corrupt or truncated"):
        read_batch_npz(path)
    path.write_bytes(b"PK\x03\x04 nonsense")
    with pytest.raises(DatasetError, match="batch000000003.npz"):
        read_batch_npz(path)


def test_missing_pass(tmp_path):
    images, poses = synthetic_batch(passes=["beauty"])
    path = tmp_path / "b.npz"
    reference_npz(path, images, poses, 0)
    with pytest.raises(DatasetError, match="b.npz: pass 'normal' is not in this file"):
        read_batch_npz(path, ["normal"])
