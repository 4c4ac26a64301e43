"""A rerun into an existing dataset folder must use the settings recorded in its dataset.json
(seed, image size, spp, passes, ...): otherwise it is refused naming the keys, instead of
skipping the 'finished' files and mixing two datasets; --force starts over."""
import json

import pytest

pytest.importorskip("cnsr._renderer")

from cnsr.data import read_batch_meta  # noqa: E402
from cnsr.data.cli import create_json_main, generate_main  # noqa: E402


@pytest.fixture
def cfg(tmp_path):
    def write(**over):
        d = {"dataset": "room", "batch_size": 1, "test_batch_size": 1, "views_per_scene": 2,
             "samples_per_pixel": 1, "render_size": 8, "latent_separation": True, **over}
        path = tmp_path / f"cfg{len(list(tmp_path.glob('cfg*.json')))}.json"
        path.write_text(json.dumps(d))
        return str(path)
    return write


def gen(cfg_path, out, *extra):
    return generate_main(["--config", cfg_path, "--out_folder", str(out), "--num_batches", "2", "--test_batches", "0",
                          "--workers", "1", "--threads", "1", "--quiet", *extra])


@pytest.mark.parametrize("change, key", [
    (({}, ["--seed", "5"]), "seed"),
    (({"samples_per_pixel": 2}, []), "samples_per_pixel"),
    (({"render_size": 16}, []), "render_size"),
    (({}, ["--passes", "beauty,normal"]), "passes"),
    (({"views_per_scene": 3}, []), "views_per_scene"),
])
def test_rerun_with_other_settings_is_refused_naming_the_key(tmp_path, cfg, capsys, change, key):
    out = tmp_path / "ds"
    assert gen(cfg(), out) == 0
    before = json.loads((out / "dataset.json").read_text())
    over, args = change
    assert gen(cfg(**over), out, *args) == 2
    err = capsys.readouterr().err
    assert "dataset.json" in err and key in err and "--force" in err
    assert json.loads((out / "dataset.json").read_text()) == before      # not overwritten


def test_same_settings_resume_and_may_extend(tmp_path, cfg):
    out = tmp_path / "ds"
    c = cfg()
    assert gen(c, out) == 0
    assert generate_main(["--config", c, "--out_folder", str(out), "--num_batches", "3", "--test_batches", "0",
                          "--workers", "1", "--threads", "1", "--quiet"]) == 0
    assert len(list((out / "train").glob("batch*.exr"))) == 3
    assert json.loads((out / "dataset.json").read_text())["size"] == 3


def test_force_starts_over(tmp_path, cfg):
    out = tmp_path / "ds"
    assert gen(cfg(), out) == 0
    assert gen(cfg(samples_per_pixel=2), out, "--force") == 0
    files = sorted((out / "train").glob("batch*.exr"))
    assert len(files) == 2 and all(read_batch_meta(f)["spp"] == 2 for f in files)
    assert json.loads((out / "dataset.json").read_text())["samples_per_pixel"] == 2
    assert gen(cfg(samples_per_pixel=1), out, "--force", "--shard", "0/2") == 2   # would delete other shards' work


def test_json_folders_are_checked_too(tmp_path, cfg, capsys):
    out = tmp_path / "json"
    args = ["--out_folder", str(out), "--num_batches", "1", "--test_batches", "0", "--quiet"]
    assert create_json_main(["--config", cfg(), *args]) == 0
    assert create_json_main(["--config", cfg(), "--seed", "9", *args]) == 2
    assert "seed" in capsys.readouterr().err
    assert create_json_main(["--config", cfg(), "--seed", "9", "--force", *args]) == 0
    assert json.loads((out / "dataset.json").read_text())["seed"] == 9
