"""Training batches from dataset files: layout, both formats, conditioning, corrupt files, order."""

import numpy as np
import pytest
import torch

from cnsr.data import BatchFileDataset, DatasetError, build_loader, write_batch_exr, write_batch_npz
from cnsr.data.loader import BatchSampler

from _data_helpers import synthetic_batch

PASSES = ["beauty", "normal", "position", "id"]


def small_config(tmp_path, **over):
    cfg = {"seed": 3, "train_data_dir": str(tmp_path / "train"), "test_data_dir": str(tmp_path / "test"),
           "batch_size": 2, "test_batch_size": 3, "views_per_scene": 3, "cached_dataset": True,
           "num_workers": 0, "latent_separation": True,
           "model": {"representations": [{"type": "Pool", "observation_passes": ["beauty", "normal"],
                                          "render_size": 8}],
                     "generators": [{"type": "PixelCNN", "query_passes": ["position", "id"],
                                     "render_size": 8}]}}
    cfg.update(over)
    return cfg


def write_split(folder, n, fmt="exr", B=3, V=4, factor=1):
    folder.mkdir(parents=True, exist_ok=True)
    contents = []
    for i in range(n):
        images, poses = synthetic_batch(B=B, V=V, passes=PASSES + ["indirect"], seed=i)
        (write_batch_exr if fmt == "exr" else write_batch_npz)(folder / f"batch{i:09d}.{fmt}", images, poses, factor)
        contents.append((images, poses))
    return contents


def test_layout_shapes_dtypes(tmp_path):
    write_split(tmp_path / "test", 2)
    loader = build_loader(small_config(tmp_path), "test")
    batch = next(iter(loader))
    B, N = 3, 2     # test_batch_size 3, views_per_scene 3 -> 2 observations + 1 query
    assert set(batch["observation_images"]) == set(PASSES) == set(batch["query_images"])
    assert batch["observation_images"]["beauty"].shape == (B, N, 3, 8, 8)
    assert batch["observation_images"]["id"].shape == (B, N, 1, 8, 8)
    assert batch["query_images"]["normal"].shape == (B, 3, 8, 8)
    assert batch["observation_poses"].shape == (B, N, 16, 1, 1)
    assert batch["query_poses"].shape == (B, 16, 1, 1)
    assert batch["factor"] == 1
    for t in list(batch["observation_images"].values()) + [batch["query_poses"]]:
        assert t.dtype == torch.float32 and t.is_contiguous()
    assert len(loader) == 2 and len(list(loader)) == 2


def test_views_and_scenes_come_from_the_right_places(tmp_path):
    (images, poses), = write_split(tmp_path / "test", 1, V=5)
    batch = next(iter(build_loader(small_config(tmp_path), "test")))
    # observations: the file's first views; query: its last view; scenes: the first test_batch_size
    np.testing.assert_array_equal(batch["observation_images"]["position"].numpy(),
                                  images["position"][:3, :2].astype(np.float32))
    np.testing.assert_array_equal(batch["query_images"]["beauty"].numpy(), images["beauty"][:3, 4].astype(np.float32))
    np.testing.assert_array_equal(batch["query_poses"].numpy().reshape(3, 16), poses[:3, 4])
    np.testing.assert_array_equal(batch["observation_poses"].numpy().reshape(3, 2, 16), poses[:3, :2])


def test_exr_and_reference_npz_give_the_same_batches(tmp_path):
    write_split(tmp_path / "exr", 2, "exr")
    write_split(tmp_path / "npz", 2, "npz")
    cfg = small_config(tmp_path)
    a = list(build_loader(cfg, "train", data_dir=tmp_path / "exr", seed=5))
    b = list(build_loader(cfg, "train", data_dir=tmp_path / "npz", seed=5))
    assert len(a) == len(b) == 2
    for x, y in zip(a, b):
        for key in ("observation_images", "query_images"):
            for p in PASSES:
                torch.testing.assert_close(x[key][p], y[key][p], rtol=0, atol=0)
        # the reference stores poses in float16
        torch.testing.assert_close(x["query_poses"].half().float(), y["query_poses"], rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("fmt", ["exr", "npz"])
@pytest.mark.parametrize("B,V,batch_size", [(4, 4, 4), (6, 5, 4)])
def test_loaded_values_exact_for_every_dtype_and_scene_subset(tmp_path, fmt, dtype, B, V, batch_size):
    # our files store RGB channels sorted by name (B, G, R): views onto them have negative
    # strides, which the converting copy must handle; scene subsets need not be contiguous and
    # the file may hold more views than wanted (the query is its last)
    (images, poses), = write_split(tmp_path / "train", 1, fmt, B=B, V=V)
    files = sorted((tmp_path / "train").iterdir())
    ds = BatchFileDataset(files, PASSES + ["indirect"], batch_size=batch_size, views_per_scene=4,
                          random_scenes=True, seed=3, dtype=dtype)
    for index in range(3):
        batch = ds[index]
        scenes, n_obs = ds._choose(B, V, index, files[0])
        assert n_obs == 3
        for p in PASSES + ["indirect"]:
            a = images[p][scenes].astype(np.float32)
            if p == "indirect":
                a = np.maximum(a, 0)
            obs, query = batch["observation_images"][p], batch["query_images"][p]
            assert obs.dtype == query.dtype == dtype and obs.is_contiguous() and query.is_contiguous()
            np.testing.assert_array_equal(obs.float().numpy(), a[:, :3])
            np.testing.assert_array_equal(query.float().numpy(), a[:, -1])
        q = poses[scenes][:, -1] if fmt == "exr" else poses[scenes][:, -1].astype(np.float16)
        if dtype == torch.float16:
            q = q.astype(np.float16)
        np.testing.assert_array_equal(batch["query_poses"].float().numpy().reshape(4, 16), q.astype(np.float32))
        assert batch["observation_poses"].shape == (4, 3, 16, 1, 1) and batch["observation_poses"].is_contiguous()


def test_only_needed_passes_and_indirect_clamped(tmp_path):
    write_split(tmp_path / "test", 1)
    cfg = small_config(tmp_path)
    cfg["model"]["generators"][0]["output_passes"] = ["indirect"]
    batch = next(iter(build_loader(cfg, "test")))
    assert set(batch["query_images"]) == set(PASSES + ["indirect"])
    assert batch["query_images"]["indirect"].min() >= 0
    assert batch["observation_images"]["indirect"].max() > 0


def test_training_order_shuffled_reproducible_and_resumable():
    s = BatchSampler(10, shuffle=True, seed=7)
    e0 = list(s)
    assert list(s) == e0            # iterating twice gives the same epoch (DataLoader does so)
    s.set_epoch(1)
    e1 = list(s)
    assert sorted(e0) == list(range(10)) and sorted(x - 10 for x in e1) == list(range(10))
    assert e0 != list(range(10))
    assert e0 == list(BatchSampler(10, shuffle=True, seed=7))
    resumed = BatchSampler(10, shuffle=True, seed=7, skip=13)
    assert list(resumed) == e1[3:] and len(resumed) == 7
    resumed.set_epoch(2)
    assert len(list(resumed)) == 10
    # ranks split an epoch with no overlap
    parts = [list(BatchSampler(10, shuffle=True, seed=7, rank=r, world_size=3)) for r in range(3)]
    assert sorted(sum(parts, [])) == sorted(e0)


def test_random_scene_subsets_are_reproducible(tmp_path):
    write_split(tmp_path / "train", 1, B=6)
    files = sorted((tmp_path / "train").iterdir())
    ds = BatchFileDataset(files, PASSES, batch_size=3, views_per_scene=3, random_scenes=True, seed=1)
    a, b, c = ds[0], ds[0], ds[1]
    torch.testing.assert_close(a["query_poses"], b["query_poses"])
    assert a["query_poses"].shape[0] == 3
    assert not torch.equal(a["query_poses"], c["query_poses"])  # epoch 2 of a 1-file dataset: new subset


def test_corrupt_file_error_names_it(tmp_path):
    write_split(tmp_path / "test", 3)
    bad = tmp_path / "test" / "batch000000001.exr"
    bad.write_bytes(bad.read_bytes()[:5000])
    loader = build_loader(small_config(tmp_path), "test")
    with pytest.raises(DatasetError, match="batch000000001.exr.*truncated"):
        list(loader)


def test_corrupt_file_skipped_with_warning(tmp_path):
    write_split(tmp_path / "test", 3)
    bad = tmp_path / "test" / "batch000000001.exr"
    bad.write_bytes(b"garbage")
    loader = build_loader(small_config(tmp_path, skip_corrupt=True), "test")
    with pytest.warns(RuntimeWarning, match="batch000000001.exr"):
        batches = list(loader)
    assert len(batches) == 3   # the bad file's turn is served by the next file


def test_factor_minus_one_warns_for_partitioned_training(tmp_path):
    write_split(tmp_path / "train", 1, factor=-1)
    with pytest.warns(RuntimeWarning, match="factor -1"):
        next(iter(build_loader(small_config(tmp_path), "train")))


def test_background_workers(tmp_path):
    write_split(tmp_path / "train", 3)
    loader = build_loader(small_config(tmp_path, num_workers=2), "train", seed=2)
    got = list(loader)
    ref = list(build_loader(small_config(tmp_path), "train", seed=2))
    assert len(got) == 3
    for x, y in zip(got, ref):
        # the workers carve a batch's tensors out of one block of shared memory
        for key in ("observation_images", "query_images"):
            for p in PASSES:
                torch.testing.assert_close(x[key][p], y[key][p], rtol=0, atol=0)
                assert x[key][p].is_contiguous()
        for key in ("observation_poses", "query_poses"):
            torch.testing.assert_close(x[key], y[key], rtol=0, atol=0)


def test_empty_or_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        build_loader(small_config(tmp_path), "train")
    (tmp_path / "train").mkdir()
    with pytest.raises(DatasetError, match="no batch files"):
        build_loader(small_config(tmp_path), "train")


def test_convert_reference_npz_folder(tmp_path, capsys):
    from cnsr.data.cli import generate_main
    write_split(tmp_path / "npz", 3, "npz")
    (tmp_path / "npz" / "batch000000002.npz").write_bytes(b"broken")
    argv = ["--config", "../configs/quickstart_data.json", "--from_npz", str(tmp_path / "npz"),
            "--out_folder", str(tmp_path / "exr"), "--quiet"]
    assert generate_main(argv) == 2                       # the broken file is named, the rest done
    assert "batch000000002.npz" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "exr").glob("*.exr")) == ["batch000000000.exr", "batch000000001.exr"]
    (tmp_path / "npz" / "batch000000002.npz").unlink()
    assert generate_main(argv) == 0
    from cnsr.data import list_batch_files
    import shutil
    mixed = tmp_path / "mixed"
    shutil.copytree(tmp_path / "npz", mixed)
    shutil.copy(tmp_path / "exr" / "batch000000000.exr", mixed)
    assert [p.name for p in list_batch_files(mixed)] == ["batch000000000.exr", "batch000000001.npz"]
    cfg = small_config(tmp_path)
    a = list(build_loader(cfg, "train", data_dir=tmp_path / "exr", seed=1))
    b = list(build_loader(cfg, "train", data_dir=tmp_path / "npz", seed=1))
    for x, y in zip(a, b):
        for p in PASSES:
            torch.testing.assert_close(x["query_images"][p], y["query_images"][p], rtol=0, atol=0)
        torch.testing.assert_close(x["observation_poses"], y["observation_poses"], rtol=0, atol=0)
        assert x["factor"] == y["factor"]
