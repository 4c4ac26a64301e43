"""Factor batches and the JSON dataset layout: reproducibility, factor semantics, shards."""
import json

import pytest

from cnsr.data.batches import batch_seed, make_batch
from cnsr.data.cli import create_json_main
from cnsr.data.json_batches import create_json_dataset, parse_shard, read_json_batch, shard_items
from cnsr.scenes import make_randomizer

FACTOR_KEYS = {0: "lighting", 1: "geometry", 2: "material"}


def parts(dataset, scene):
    p = make_randomizer(dataset, seed=0).factor_parts(scene)
    return {k: json.dumps(v, sort_keys=True) for k, v in p.items()}


@pytest.mark.parametrize("dataset", ["room", "archviz"])
@pytest.mark.parametrize("factor", [0, 1, 2])
def test_factor_batches_vary_only_their_factor(dataset, factor, monkeypatch):
    import cnsr.data.batches as batches
    monkeypatch.setattr(batches, "choose_factor", lambda rng, split, sep: factor)
    scenes, got = make_batch(dataset, seed=1, split="train", index=0, batch_size=4, views_per_scene=3,
                             latent_separation=True)
    assert got == factor and len(scenes) == 4 and all(len(v) == 3 for v in scenes)
    first = [parts(dataset, views[0]) for views in scenes]
    varying = FACTOR_KEYS[factor]
    for key in FACTOR_KEYS.values():
        values = {p[key] for p in first}
        if key == varying:
            assert len(values) == 4, f"{key} must differ between the scenes of a {varying} batch"
        else:
            assert len(values) == 1, f"{key} must be shared by the scenes of a {varying} batch"
    for views in scenes:
        ps = [parts(dataset, v) for v in views]
        # views of one scene: same scene, different cameras
        assert all(p[k] == ps[0][k] for p in ps for k in FACTOR_KEYS.values())
        assert len({p["camera"] for p in ps}) == len(views)


@pytest.mark.parametrize("dataset", ["room", "archviz"])
def test_test_batches_vary_everything(dataset):
    scenes, factor = make_batch(dataset, seed=1, split="test", index=0, batch_size=4, views_per_scene=2,
                                latent_separation=True)
    assert factor == -1
    ps = [parts(dataset, views[0]) for views in scenes]
    for key in FACTOR_KEYS.values():
        assert len({p[key] for p in ps}) == 4, key


def test_factor_rule():
    def factors(split, sep):
        return {make_batch("room", 0, split, i, 1, 2, sep)[1] for i in range(12)}
    assert factors("train", True) == {0, 1, 2}
    assert factors("train", False) == {-1}
    assert factors("test", True) == {-1}


def test_batch_seeds_distinct_per_split_and_index():
    seeds = {batch_seed(0, s, i) for s in ("train", "test") for i in range(100)}
    assert len(seeds) == 200
    assert batch_seed(0, "train", 5) == batch_seed(0, "train", 5) != batch_seed(1, "train", 5)


def tree(folder):
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_json_files_reproducible_and_layout(tmp_path):
    argv = ["--config", "../configs/quickstart_data.json", "--num_batches", "2", "--test_batches", "1", "--quiet"]
    assert create_json_main(argv + ["--out_folder", str(tmp_path / "a")]) == 0
    assert create_json_main(argv + ["--out_folder", str(tmp_path / "b")]) == 0
    a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
    a.pop("dataset.json"), b.pop("dataset.json")
    assert a == b, "same config and seed must give the same JSON files"
    names = sorted(a)
    assert "train/batch000000001/scene0003/view003.json" in names    # batch 4, views_per_scene 4
    assert "test/batch000000000/factor.txt" in names
    assert a["test/batch000000000/factor.txt"].strip() == "-1"
    assert int(a["train/batch000000000/factor.txt"]) in (0, 1, 2)
    scenes, factor = read_json_batch(tmp_path / "a" / "train" / "batch000000000")
    assert len(scenes) == 4 and len(scenes[0]) == 4
    scene = json.loads(scenes[0][0].read_text())
    assert {"camera", "materials", "geometry", "lights", "bounces"} <= set(scene)
    assert create_json_main(argv + ["--out_folder", str(tmp_path / "c"), "--seed", "9"]) == 0
    c = tree(tmp_path / "c")
    c.pop("dataset.json")
    assert c != a


def test_shards_cover_every_batch_once(tmp_path):
    assert parse_shard("2/5") == (2, 5)
    for bad in ("5/5", "-1/3", "1", "a/b", "0/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)
    items = list(range(23))
    parts_ = [shard_items(items, (i, 4)) for i in range(4)]
    assert sorted(sum(parts_, [])) == items
    # JSON creation in 3 shards = one run
    for i in range(3):
        create_json_dataset("room", tmp_path / "sharded", {"train": 4, "test": 2}, 0, 2, 2, 2, True,
                            shard=(i, 3), progress=False)
    create_json_dataset("room", tmp_path / "whole", {"train": 4, "test": 2}, 0, 2, 2, 2, True, progress=False)
    assert tree(tmp_path / "sharded") == tree(tmp_path / "whole")
