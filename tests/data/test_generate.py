"""Rendering datasets: JSON -> render -> EXR -> load, one step vs two steps, resume, shards."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("cnsr._renderer")

from cnsr.data import DatasetError, build_loader, read_batch_exr  # noqa: E402
from cnsr.data.generate import RenderSettings, json_tasks, random_tasks, run_tasks  # noqa: E402
from cnsr.data.json_batches import create_json_dataset  # noqa: E402
from cnsr.render import Renderer  # noqa: E402
from cnsr.render.camera import look_at_pose  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TINY = RenderSettings(size=16, spp=1, passes=["beauty", "normal", "position", "depth", "id", "indirect"],
                      threads=1, dataset="room")


def tiny_tasks(out, n_train=3, n_test=1, B=2, V=2, seed=0):
    return random_tasks("room", out, seed, {"train": n_train, "test": n_test}, B, B, V, True)


def test_json_render_exr_load_round_trip(tmp_path):
    create_json_dataset("room", tmp_path / "json", {"train": 1, "test": 0}, 0, 2, 2, 3, True, progress=False)
    counts = run_tasks(json_tasks(tmp_path / "json" / "train", tmp_path / "out"), TINY, workers=1, progress=False)
    assert counts == {"total": 1, "skipped": 0, "rendered": 1}
    data = read_batch_exr(tmp_path / "out" / "batch000000000.exr")
    assert data.shape == (2, 3, 16, 16) and set(data.images) == set(TINY.passes)
    factor = int((tmp_path / "json" / "train" / "batch000000000" / "factor.txt").read_text())
    assert data.factor == factor
    # any view re-rendered on its own from its JSON file gives the stored pixels and pose
    view = tmp_path / "json" / "train" / "batch000000000" / "scene0001" / "view002.json"
    scene = json.loads(view.read_text())
    r = Renderer(threads=1)
    r.load_scene(str(view))
    from cnsr.data.views import render_seed
    out = r.render(size=16, spp=1, seed=render_seed(scene, 1, 2, 3), passes=["beauty", "depth"])
    np.testing.assert_array_equal(data.images["beauty"][1, 2], np.moveaxis(out["beauty"], -1, 0).astype(np.float16))
    np.testing.assert_array_equal(data.images["depth"][1, 2, 0], out["depth"][..., 0].astype(np.float16))
    np.testing.assert_allclose(data.poses[1, 2], look_at_pose(scene["camera"]["position"], scene["camera"]["lookat"]),
                               atol=1e-5)
    assert np.isfinite(data.images["beauty"].astype(np.float32)).all() and data.images["beauty"].max() > 0
    # and the training loader reads it
    cfg = {"cached_dataset": True, "test_data_dir": str(tmp_path / "out"), "test_batch_size": 2,
           "views_per_scene": 3, "num_workers": 0,
           "model": {"representations": [{"type": "Pool", "observation_passes": ["beauty", "normal"],
                                          "render_size": 16}],
                     "generators": [{"type": "PixelCNN", "query_passes": ["position"], "render_size": 16}]}}
    batch = next(iter(build_loader(cfg, "test")))
    assert batch["observation_images"]["normal"].shape == (2, 2, 3, 16, 16)
    torch.testing.assert_close(batch["query_images"]["beauty"], torch.from_numpy(data.images["beauty"][:, 2]).float())


def test_one_step_equals_json_then_render(tmp_path):
    create_json_dataset("room", tmp_path / "json", {"train": 2, "test": 1}, 4, 2, 2, 2, True, progress=False)
    for split in ("train", "test"):
        run_tasks(json_tasks(tmp_path / "json" / split, tmp_path / "two" / split), TINY, workers=1, progress=False)
    run_tasks(tiny_tasks(tmp_path / "one", 2, 1, seed=4), TINY, workers=1, progress=False)
    for f in sorted((tmp_path / "one").rglob("*.exr")):
        a, b = read_batch_exr(f), read_batch_exr(tmp_path / "two" / f.relative_to(tmp_path / "one"))
        assert a.factor == b.factor
        for p in TINY.passes:
            np.testing.assert_array_equal(a.images[p], b.images[p])
    assert len(list((tmp_path / "one").rglob("*.exr"))) == 3


def test_resume_after_interruption(tmp_path, monkeypatch):
    tasks = tiny_tasks(tmp_path, n_train=4, n_test=1)
    real_replace, calls = os.replace, []

    def interrupted(tmp, path):
        calls.append(Path(path))
        if len(calls) == 3:               # Ctrl-C while the third batch is being written
            assert Path(tmp).exists()
            raise KeyboardInterrupt
        real_replace(tmp, path)

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_tasks(tasks, TINY, workers=1, progress=False)
    monkeypatch.setattr(os, "replace", real_replace)
    done = sorted(tmp_path.rglob("*.exr"))
    assert len(done) == 2 and not calls[2].exists()
    assert not [p for p in tmp_path.rglob(".*")], "the batch in flight must leave no temp file"
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in done}
    counts = run_tasks(tiny_tasks(tmp_path, n_train=4, n_test=1), TINY, workers=1, progress=False)
    assert counts == {"total": 5, "skipped": 2, "rendered": 3}
    for p, (mtime, data) in before.items():
        assert p.stat().st_mtime_ns == mtime and p.read_bytes() == data
    assert len(list(tmp_path.rglob("*.exr"))) == 5


def test_shards_render_every_batch_exactly_once(tmp_path, monkeypatch):
    rendered = []
    import cnsr.data.generate as gen
    real = gen.render_task
    monkeypatch.setattr(gen, "render_task", lambda r, t, s: rendered.append(t.out) or real(r, t, s))
    for i in range(3):
        run_tasks(tiny_tasks(tmp_path, n_train=5, n_test=2, B=1), TINY, workers=1, shard=(i, 3), progress=False)
    assert len(rendered) == len(set(rendered)) == 7
    assert sorted(rendered) == sorted(tmp_path.rglob("*.exr"))


def test_broken_json_names_the_file(tmp_path):
    create_json_dataset("room", tmp_path / "json", {"train": 1}, 0, 1, 1, 2, True, progress=False)
    bad = tmp_path / "json" / "train" / "batch000000000" / "scene0000" / "view001.json"
    bad.write_text("{ not json")
    with pytest.raises(DatasetError, match="view001.json"):
        run_tasks(json_tasks(tmp_path / "json" / "train", tmp_path / "out"), TINY, workers=1, progress=False)
    assert not list((tmp_path / "out").glob("*"))


def test_on_the_fly_batches(tmp_path):
    cfg = {"cached_dataset": False, "seed": 1, "batch_size": 2, "views_per_scene": 3, "samples_per_pixel": 1,
           "num_workers": 0, "latent_separation": True, "dataset": "room",
           "model": {"representations": [{"type": "Pool", "observation_passes": ["beauty", "id"], "render_size": 8}],
                     "generators": [{"type": "PixelCNN", "query_passes": ["normal"], "render_size": 16}]}}
    a = next(iter(build_loader(cfg, "train")))
    assert set(a["observation_images"]) == {"beauty", "normal", "id"}
    assert a["observation_images"]["beauty"].shape == (2, 2, 3, 16, 16)     # max render_size
    assert a["query_poses"].shape == (2, 16, 1, 1) and a["factor"] in (0, 1, 2)
    b = next(iter(build_loader(cfg, "train")))
    torch.testing.assert_close(a["observation_images"]["beauty"], b["observation_images"]["beauty"])
    c = next(iter(build_loader(cfg, "train", start_iteration=2)))   # the stream resumes at batch 2
    assert not torch.equal(a["query_poses"], c["query_poses"])
    # rendered in a background worker process: the same stream
    w = iter(build_loader({**cfg, "num_workers": 1}, "train"))
    first, second = next(w), next(w)
    torch.testing.assert_close(first["observation_images"]["beauty"], a["observation_images"]["beauty"])
    torch.testing.assert_close(second["query_poses"], c["query_poses"])


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs POSIX signals")
def test_ctrl_c_on_the_script_with_workers(tmp_path):
    """A real Ctrl-C on generate-dataset.py with 2 worker processes: exit 130, finished files
    intact, no temp files; the rerun renders only the rest."""
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"dataset": "room", "batch_size": 2, "test_batch_size": 2, "views_per_scene": 2,
                               "samples_per_pixel": 4, "render_size": 32, "latent_separation": True}))
    out = tmp_path / "ds"
    cmd = [sys.executable, str(ROOT / "code" / "generate-dataset.py"), "--config", str(cfg), "--out_folder",
           str(out), "--num_batches", "40", "--test_batches", "0", "--workers", "2", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120    # generous: the machine may be busy
    while time.time() < deadline and not list(out.rglob("*.exr")) and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()[-2000:]
    finished = sorted(out.rglob("*.exr"))
    assert 1 <= len(finished) < 40
    assert not list(out.rglob(".*")), "no temp files may survive"
    for f in finished:
        read_batch_exr(f, ["beauty"])
    counts = run_tasks(random_tasks("room", out, 0, {"train": 40}, 2, 2, 2, True), RenderSettings(
        size=32, spp=4, threads=1, dataset="room"), workers=1, progress=False)
    assert counts["skipped"] == len(finished) and counts["rendered"] == 40 - len(finished)


def test_passes_option():
    from cnsr.data.generate import parse_passes
    from cnsr.passes import PASS_NAMES
    assert parse_passes("all", ["beauty"]) == list(PASS_NAMES)
    assert parse_passes("needed", ["beauty", "id"]) == ["beauty", "id"]
    assert parse_passes("id, beauty", []) == ["beauty", "id"]     # canonical order
    with pytest.raises(ValueError, match="bogus"):
        parse_passes("beauty,bogus", [])


def test_reference_scene_files_render_into_a_batch(tmp_path, reference_scenes):
    """A batch folder of scene files written by the paper's randomizers (absolute OBJ paths
    replaced by bare names next to the files) renders, each scene loaded once for its views."""
    import shutil
    batch = tmp_path / "json" / "batch000000000"
    for s, name in enumerate(["room", "manymanyroom", "fewmaterialroom"]):
        d = batch / f"scene{s:04d}"
        d.mkdir(parents=True)
        for obj in reference_scenes.glob("*.obj"):
            shutil.copy(obj, d / obj.name)
        for v in range(2):
            shutil.copy(reference_scenes / f"{name}_{v}.json", d / f"view{v:03d}.json")
    (batch / "factor.txt").write_text("1\n")
    run_tasks(json_tasks(tmp_path / "json", tmp_path / "out"), TINY, workers=1, progress=False)
    data = read_batch_exr(tmp_path / "out" / "batch000000000.exr", ["beauty", "id"])
    assert data.shape == (3, 2, 16, 16) and data.factor == 1
    scene = json.loads((reference_scenes / "manymanyroom_1.json").read_text())
    r = Renderer(threads=1)
    r.load_scene(str(reference_scenes / "manymanyroom_1.json"))
    from cnsr.data.views import render_seed
    out = r.render(size=16, spp=1, seed=render_seed(scene, 1, 1, 2), passes=["beauty"])
    np.testing.assert_array_equal(data.images["beauty"][1, 1], np.moveaxis(out["beauty"], -1, 0).astype(np.float16))
    assert len({data.images["id"][s, 0].tobytes() for s in range(3)}) == 3


def test_batch_files_say_how_to_recreate_their_scenes(tmp_path):
    from cnsr.data import read_batch_meta
    from cnsr.data.batches import make_batch
    run_tasks(tiny_tasks(tmp_path, 1, 1, seed=7), TINY, workers=1, progress=False)
    meta = read_batch_meta(tmp_path / "test" / "batch000000000.exr")
    assert (meta["dataset"], meta["seed"], meta["split"], meta["index"], meta["spp"]) == ("room", 7, "test", 0, 1)
    scenes, factor = make_batch(meta["dataset"], meta["seed"], meta["split"], meta["index"], meta["scenes"],
                                meta["views"], True)
    from cnsr.render.camera import look_at_pose
    cam = scenes[1][0]["camera"]
    np.testing.assert_allclose(meta["poses"][1, 0], look_at_pose(cam["position"], cam["lookat"]), atol=1e-5)
    assert factor == meta["factor"] == -1
