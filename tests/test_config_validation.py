"""Config values that used to pass validation (and --dry_run) and then fail with a bare
traceback are refused up front with a ConfigError naming the key."""
import copy
import json

import pytest

from cnsr.config import ConfigError, load_config
from cnsr.render import SceneError


def base():
    return {"job_name": "v", "views_per_scene": 3,
            "model": {"representations": [{"type": "Pool", "observation_passes": ["beauty"], "representation_dim": 6,
                                           "render_size": 16}],
                      "generators": [{"type": "PixelCNN", "query_passes": ["normal"], "output_passes": ["beauty"],
                                      "render_size": 16, "settings": {"layers": 1, "hidden_units": 4}}]}}


def gen(**over):
    g = {"type": "PixelCNN", "query_passes": ["normal"], "output_passes": ["beauty"], "render_size": 16,
         "settings": {"layers": 1, "hidden_units": 4}}
    g.update(over)
    return g


def edit_model(fn):
    def f(c):
        fn(c["model"])
    return f


CASES = {
    "top-level render_size negative": (lambda c: c.update(render_size=-8), r"render_size"),
    "top-level render_size huge": (lambda c: c.update(render_size=100000), r"render_size"),
    "empty generators": (edit_model(lambda m: m.update(generators=[])), r"model\.generators"),
    "empty representations": (edit_model(lambda m: (m.update(representations=[]),
                                                    m["generators"][0].update(representations=[]))),
                              r"model\.representations"),
    "copy with other query passes": (edit_model(lambda m: m["generators"].append(
        {"type": "Copy", "query_passes": ["normal", "position"], "output_passes": ["beauty"], "render_size": 16,
         "settings": {"index": 0}})), r"generators\[1\]\.query_passes"),
    "learning_rate NaN": (lambda c: c.update(learning_rate=float("nan")), r"learning_rate"),
    "learning_rate negative": (lambda c: c.update(learning_rate=-1e-4), r"learning_rate"),
    "learning_rate zero": (lambda c: c.update(learning_rate=0), r"learning_rate"),
    "num_workers -1": (lambda c: c.update(num_workers=-1), r"num_workers"),
    "pose_dim 0": (edit_model(lambda m: m.update(pose_dim=0)), r"pose_dim"),
    "pose_dim 7": (edit_model(lambda m: m.update(pose_dim=7)), r"pose_dim"),
    "invariance_reg negative": (edit_model(lambda m: m["representations"][0].update(invariance_reg=-0.1)),
                                r"representations\[0\]\.invariance_reg"),
    "composite_training above 1": (edit_model(lambda m: m["representations"][0].update(composite_training=1.5)),
                                   r"representations\[0\]\.composite_training"),
    "pyramid at 8 px": (edit_model(lambda m: m["representations"][0].update(type="Pyramid", render_size=8)),
                        r"representations\[0\]\.render_size"),
    "log loss on normals": (edit_model(lambda m: m["generators"][0].update(
        output_passes=["normal"], query_passes=["position"], settings={"loss": ["logl1"]})),
        r"generators\[0\]\.settings\.loss.*normal"),
    "log ssim on positions": (edit_model(lambda m: m["generators"][0].update(
        output_passes=["beauty", "position"], settings={"loss": ["l1", "logssim"]})), r"settings\.loss.*position"),
    "settings not an object": (edit_model(lambda m: m["generators"][0].update(settings=[1, 2])),
                               r"generators\[0\]\.settings"),
    "generator render_size 0": (edit_model(lambda m: m["generators"][0].update(render_size=0)),
                                r"generators\[0\]\.render_size"),
    "generator render_size negative": (edit_model(lambda m: m["generators"][0].update(render_size=-16)),
                                       r"generators\[0\]\.render_size"),
    "gqn core_count 0": (edit_model(lambda m: m.update(generators=[gen(type="GQN", settings={"core_count": 0})])),
                         r"settings\.core_count"),
    "gqn downscaling 3": (edit_model(lambda m: m.update(generators=[gen(type="GQN", settings={"downscaling": 3})])),
                          r"settings\.downscaling"),
    "gqn on normals": (edit_model(lambda m: m.update(generators=[gen(type="GQN", output_passes=["normal"],
                                                                     settings={"loss": ["l1"]})])),
                       r"generators\[0\]\.output_passes.*normal"),
    "negative hidden_units": (edit_model(lambda m: m["generators"][0].update(settings={"hidden_units": -4})),
                              r"settings\.hidden_units"),
    "unet channels with a zero": (edit_model(lambda m: m.update(generators=[
        gen(type="Unet", settings={"channels": [8, 0, 8]})])), r"settings\.channels\[1\]"),
    "infinite partition_loss": (lambda c: c.update(partition_loss=float("inf")), r"partition_loss"),
    "integer beyond int64": (lambda c: c.update(seed=10 ** 400), r"seed.*64-bit"),
    "integral float beyond int64": (lambda c: c.update(iterations=1e300), r"iterations.*64-bit"),
    "huge integer as a float": (lambda c: c.update(partition_loss=10 ** 400), r"partition_loss"),
    "negative sharpening": (edit_model(lambda m: m["representations"][0].update(sharpening=-5)), r"sharpening"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_values_are_refused_naming_the_key(case):
    edit, needle = CASES[case]
    c = base()
    edit(c)
    with pytest.raises(ConfigError, match=needle):
        load_config(c)


def test_the_base_and_the_shipped_configs_stay_valid(repo_root):
    load_config(base())
    for path in sorted((repo_root / "configs").glob("*.json")):
        load_config(path)


def test_a_dataset_config_without_a_model_loads_but_does_not_train(tmp_path, capsys):
    from cnsr.engine import cli
    c = {"dataset": "room", "samples_per_pixel": 2, "render_size": 16}
    load_config(c)
    path = tmp_path / "data.json"
    path.write_text(json.dumps(c))
    assert cli.main(["--config", str(path), "--dry_run", "--device", "cpu"]) == 2
    assert "no encoders and generators" in capsys.readouterr().err


def test_a_model_of_sums_alone_loads_but_is_refused_for_training(tmp_path, capsys):
    from cnsr.config import check_trainable
    from cnsr.engine import cli
    c = base()
    c["model"]["generators"] = [{"type": "Sum", "query_passes": ["direct", "indirect"], "output_passes": ["beauty"],
                                 "render_size": 16}]
    with pytest.raises(ConfigError, match=r"model\.generators: nothing to train"):
        check_trainable(load_config(c))
    path = tmp_path / "sum.json"
    path.write_text(json.dumps(c))
    assert cli.main(["--config", str(path), "--dry_run", "--device", "cpu"]) == 2
    assert "nothing to train" in capsys.readouterr().err


def test_sum_after_a_trained_generator_is_fine():
    c = base()
    c["model"]["generators"].append({"type": "Sum", "query_passes": ["direct", "indirect"],
                                     "output_passes": ["beauty"], "render_size": 16})
    load_config(c)


def test_l1_on_signed_passes_is_fine():
    c = base()
    c["model"]["generators"][0].update(output_passes=["normal", "position"], settings={"loss": ["l1", "ssim"]})
    load_config(c)


def test_binary_config_and_scene_files_name_the_file(tmp_path):
    blob = bytes(range(256)) * 4
    cfg = tmp_path / "weights.json"
    cfg.write_bytes(blob)
    with pytest.raises(ConfigError, match=r"weights\.json.*UTF-8"):
        load_config(cfg)
    scene = tmp_path / "scene.json"
    scene.write_bytes(b"\x89PNG\r\n\x1a\n" + blob)
    from cnsr.render import Renderer
    with pytest.raises(SceneError, match=r"scene\.json.*UTF-8"):
        Renderer().load_scene(str(scene))
    with pytest.raises(SceneError, match="UTF-8"):
        Renderer().load_scene(b"\xff\xfe{")
