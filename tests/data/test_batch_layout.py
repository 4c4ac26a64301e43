"""The training batch layout (split_views), input conditioning and device moves (cnsr.data.layout)."""
import numpy as np
import pytest
import torch

from _data_helpers import synthetic_batch
from cnsr.data.layout import batch_to_device, condition_inputs, split_views


def test_split_views_round_trip():
    images, poses = synthetic_batch(B=3, V=4, passes=["beauty", "normal", "depth"], seed=5)
    before = {p: a.copy() for p, a in images.items()}
    # a reversed channel axis (negative strides, as the RGB sheets of our batch files have)
    images["beauty"] = images["beauty"][:, :, ::-1]
    batch = split_views(images, poses, 2, 3)
    assert batch["factor"] == 2
    assert batch["observation_poses"].shape == (3, 3, 16, 1, 1) and batch["query_poses"].shape == (3, 16, 1, 1)
    for p, a in images.items():
        obs, query = batch["observation_images"][p], batch["query_images"][p]
        assert obs.dtype == torch.float32 and obs.is_contiguous() and query.shape == (3,) + a.shape[2:]
        # observations + query put back together give the input views
        whole = torch.cat([obs, query[:, None]], dim=1).numpy()
        np.testing.assert_array_equal(whole, a.astype(np.float32))
    back = torch.cat([batch["observation_poses"], batch["query_poses"][:, None]], 1).reshape(3, 4, 16)
    np.testing.assert_array_equal(back.numpy(), poses)
    np.testing.assert_array_equal(images["normal"], before["normal"])      # inputs untouched


def test_split_views_fewer_observations_and_half_output():
    images, poses = synthetic_batch(B=2, V=5, passes=["beauty"], seed=1)
    batch = split_views(images, poses.reshape(2, 5, 16, 1, 1), -1, 2, dtype=torch.float16)
    obs = batch["observation_images"]["beauty"]
    assert obs.dtype == torch.float16 and obs.shape == (2, 2, 3, 8, 8)
    np.testing.assert_array_equal(obs.numpy(), images["beauty"][:, :2])
    np.testing.assert_array_equal(batch["query_images"]["beauty"].numpy(), images["beauty"][:, 4])   # the last view


def test_split_views_conditions_the_copies_only():
    images, poses = synthetic_batch(B=1, V=2, passes=["indirect", "roughness", "mirror"], seed=2)
    images["roughness"][:] = 0.5
    images["roughness"][..., 0, 0] = 0.9
    keep = {p: a.copy() for p, a in images.items()}
    batch = split_views(images, poses, -1, 1)
    for part in ("observation_images", "query_images"):
        t = batch[part]
        assert t["indirect"].min() >= 0 and t["indirect"].max() > 0
        assert (t["mirror"][..., 0, 0] == 0).all()
        np.testing.assert_array_equal(t["mirror"][..., 1:, :].numpy() != 0,
                                      (keep["mirror"][:, -1] if part == "query_images" else keep["mirror"][:, :1])[..., 1:, :] != 0)
    for p in images:
        np.testing.assert_array_equal(images[p], keep[p])


def test_roughness_zeroes_mirror_passes():
    rough = np.array([0.2, 0.9], np.float16).reshape(1, 1, 1, 1, 2)
    mirror = np.ones((1, 1, 3, 1, 2), np.float16)
    images = {"roughness": rough, "mirror": mirror}
    condition_inputs(images)
    np.testing.assert_array_equal(images["mirror"][0, 0, :, 0], [[1, 0]] * 3)


def test_condition_inputs_clamps_indirect_and_is_idempotent():
    ind = np.array([-1.0, 0.0, 2.0], np.float32).reshape(1, 1, 3, 1, 1)
    images = {"indirect": ind}
    condition_inputs(images)
    np.testing.assert_array_equal(ind.ravel(), [0, 0, 2])
    condition_inputs(images)
    np.testing.assert_array_equal(ind.ravel(), [0, 0, 2])


def test_batch_to_device_float_and_channels_last():
    images, poses = synthetic_batch(B=2, V=3, passes=["beauty"], seed=3)
    batch = split_views(images, poses, 1, 2, dtype=torch.float16)
    moved = batch_to_device(batch, "cpu")
    assert moved["factor"] == 1
    assert moved["observation_images"]["beauty"].dtype == torch.float32
    torch.testing.assert_close(moved["query_images"]["beauty"], batch["query_images"]["beauty"].float())

    kept = batch_to_device(batch, torch.device("cpu"), to_float=False, channels_last=True)
    q = kept["query_images"]["beauty"]
    assert q.dtype == torch.float16 and q.is_contiguous(memory_format=torch.channels_last)
    assert not q.is_contiguous()                                   # 4-D tensors really were converted
    assert kept["observation_images"]["beauty"].is_contiguous()    # 5-D tensors are left alone
    torch.testing.assert_close(q, batch["query_images"]["beauty"], rtol=0, atol=0)
    assert kept["query_poses"].shape == (2, 16, 1, 1)
    # integer tensors keep their type
    assert batch_to_device({"ids": torch.arange(3)}, "cpu")["ids"].dtype == torch.int64


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_batch_to_device_cuda():
    images, poses = synthetic_batch(B=1, V=2, passes=["beauty"])
    batch = batch_to_device(split_views(images, poses, 0, 1, dtype=torch.float16), "cuda")
    assert batch["query_images"]["beauty"].device.type == "cuda"
    assert batch["query_images"]["beauty"].dtype == torch.float32
