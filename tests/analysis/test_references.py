"""cnsr.analysis.references: the test batches' query views re-rendered (clean references)."""
import json

import numpy as np
import pytest
import torch

from tiny import tiny_config

SIZE = 8


def tiny_cfg(tmp_path=None, **overrides):
    from cnsr.config import load_config
    return load_config(tiny_config(SIZE, representation={"representation_dim": 6},
                                   generator={"settings": {"layers": 1, "hidden_units": 4}},
                                   **{"job_name": "reftiny", "seed": 3, "samples_per_pixel": 2, **overrides}))


def test_on_the_fly_references_are_the_batches_scenes():
    """At the dataset's spp, the re-rendered query views are the test batches' query images
    exactly; at more spp they are the same views with less noise."""
    pytest.importorskip("cnsr._renderer")
    from cnsr.analysis.references import ReferenceRenderer
    from cnsr.data.onthefly import RenderedBatches
    from cnsr.data.views import offset_seeds, render_views
    from cnsr.render import Renderer

    cfg = tiny_cfg()
    renderer = Renderer(threads=1)
    stream = RenderedBatches(cfg, "test", batch_size=2, seed=cfg.seed)
    for k in (0, 1):
        batch = stream.batch(renderer, k)
        same = ReferenceRenderer(cfg, cfg.samples_per_pixel, renderer=renderer)(k, batch)
        assert torch.equal(same["beauty"], batch["query_images"]["beauty"])
    refs = ReferenceRenderer(cfg, 64, renderer=renderer)
    clean = refs(1, batch)["beauty"]
    # the same views at 64 spp: close to an independent 64-spp render of batch 1's query
    # views, and much closer to it than the 2-spp query images are
    views, _, _, prov = refs.query_views(1, 2)
    assert prov["index"] == 1 and prov["seed"] == cfg.seed
    images, _ = render_views(renderer, [[v] for v in views], SIZE, 64, ["beauty"], offset_seeds(12345))
    independent = torch.from_numpy(images["beauty"][:, 0])
    noisy = batch["query_images"]["beauty"]
    assert (clean - independent).abs().mean() < 0.5 * (noisy - independent).abs().mean()


def test_batch_file_references_use_the_recorded_provenance(tmp_path):
    pytest.importorskip("cnsr._renderer")
    from cnsr.analysis.references import CleanReferenceError, ReferenceRenderer
    from cnsr.data.generate import RenderSettings, Task, render_task
    from cnsr.data.loader import build_loader
    from cnsr.data.exrbatch import read_batch_exr, write_batch_exr
    from cnsr.render import Renderer

    folder = tmp_path / "test"
    renderer = Renderer(threads=1)
    settings = RenderSettings(size=SIZE, spp=2, passes=["beauty", "normal"], dataset="room")
    for i in range(2):
        render_task(renderer, Task(out=folder / f"batch{i:09d}.exr", dataset="room", seed=11, split="test",
                                   index=i, batch_size=3, views_per_scene=3), settings)
    cfg = tiny_cfg(cached_dataset=True, test_data_dir=str(folder))
    refs = ReferenceRenderer(cfg, 2, renderer=renderer)
    assert refs.describe()["spp"] == 2 and "recorded" in refs.describe()["source"]
    batches = list(build_loader(cfg, "test"))
    assert len(batches) == 2
    for k, batch in enumerate(batches):
        got = refs(k, batch)["beauty"]
        want = batch["query_images"]["beauty"]
        # the file stores half floats
        assert torch.allclose(got.half().float(), want, rtol=1e-3, atol=1e-3)
    # a file without provenance: a clear error naming it
    data = read_batch_exr(folder / "batch000000000.exr", ["beauty", "normal"])
    bare = tmp_path / "bare"
    write_batch_exr(bare / "batch000000000.exr", data.images, data.poses, data.factor)
    cfg = tiny_cfg(cached_dataset=True, test_data_dir=str(bare))
    with pytest.raises(CleanReferenceError, match="batch000000000.exr.*re-create"):
        ReferenceRenderer(cfg, 4, renderer=renderer)(0, batches[0])


def test_evaluate_scores_against_the_references_it_is_given():
    from cnsr.analysis.evaluation import evaluate

    ref = torch.rand(2, 3, SIZE, SIZE)

    class Echo(torch.nn.Module):
        iteration = 0

        def sample(self, batch):
            return [{"beauty": batch["query_images"]["beauty"].clone()}]

    class Clean:
        def __call__(self, k, batch):
            return {"beauty": batch["query_images"]["beauty"] + 0.5}

        def describe(self):
            return {"kind": "path-traced", "spp": 99, "source": "test"}

    report = evaluate(Echo(), [{"query_images": {"beauty": ref}}], progress=False, metrics=["l1", "rmse"],
                      references=Clean())
    assert report["metrics"]["beauty_0"] == {"l1": pytest.approx(0.5), "rmse": pytest.approx(0.5)}
    assert report["references"]["spp"] == 99
