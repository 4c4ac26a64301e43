"""Config loading: validation errors name the file and the key; reference configs; paths."""
import json
from pathlib import Path

import pytest

from cnsr.config import CODE_DIR, REPO_DIR, ConfigError, load_config, resolve_path, save_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def base():
    return {"dataset": "room", "model": {
        "representations": [{"type": "Pool", "observation_passes": ["beauty"], "render_size": 32}],
        "generators": [{"type": "PixelCNN", "query_passes": ["normal"], "settings": {"layers": 2}}]}}


def write(tmp_path, data, name="bad.json"):
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


@pytest.mark.parametrize("edit,key,words", [
    (lambda d: d.update(batch_sise=4), "batch_sise", "unknown key"),
    (lambda d: d.update(batch_size="16"), "batch_size", "integer"),
    (lambda d: d.update(latent_separation=1), "latent_separation", "true/false"),
    (lambda d: d["model"]["representations"][0].update(type="Towr"), "model.representations[0].type",
     "unknown encoder type"),
    (lambda d: d["model"]["representations"][0].update(observation_passes=["beauty", "nromal"]),
     "model.representations[0].observation_passes[1]", "unknown pass"),
    (lambda d: d["model"]["representations"][0].update(render_sise=64), "model.representations[0].render_sise",
     "unknown key"),
    (lambda d: d["model"]["generators"][0].update(type="PixelRNN"), "model.generators[0].type",
     "unknown generator type"),
    (lambda d: d["model"]["generators"][0]["settings"].update(layer=3), "model.generators[0].settings",
     "unknown key 'layer'"),
    (lambda d: d["model"]["generators"][0]["settings"].update(loss=["logl1", "vgg"]),
     "model.generators[0].settings.loss[1]", "unknown loss"),
    (lambda d: d["model"]["generators"][0]["settings"].update(hidden_units=12.5),
     "model.generators[0].settings.hidden_units", "integer"),
    (lambda d: d["model"]["generators"][0].update(representations=[1]), "model.generators[0].representations",
     "no encoder with index 1"),
    (lambda d: d["model"]["generators"].append({"type": "Unet", "render_size": 32,
                                                "settings": {"channels": [8, 8, 8, 8, 8, 8, 8]}}),
     "model.generators[1].settings.channels", "divisible"),
])
def test_validation_errors_name_file_and_key(tmp_path, edit, key, words):
    data = base()
    edit(data)
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert "bad.json" in msg and key in msg and words in msg, msg


def test_unknown_key_hint_is_the_same_every_run():
    """Several keys share the prefix: the hint must not depend on set iteration order."""
    for key, hint in (("Batch_Size", "batch_size"), ("test_foo", "test_data_dir"), ("batch_sise", "batch_size")):
        with pytest.raises(ConfigError, match=f"did you mean '{hint}'"):
            load_config({**base(), key: 1})


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="missing.json"):
        load_config(tmp_path / "missing.json")
    p = tmp_path / "broken.json"
    p.write_text("{\"seed\": 1,}")
    with pytest.raises(ConfigError, match="broken.json: not valid JSON"):
        load_config(p)


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.json")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.source == str(path)


def test_reference_config_values_and_defaults():
    cfg = load_config(CONFIGS / "room_beauty.json")
    assert cfg.batch_size == 16 and cfg.latent_separation and cfg.adaptive_separation
    rep = cfg.model.representations[0]
    assert rep.observation_passes == ["beauty", "normal", "position", "id"] and rep.end_sigmoid == 100
    gen = cfg.model.generators[0]
    assert gen.settings.layers == 10 and gen.settings.hidden_units == 512
    assert gen.settings.propagate_buffers and gen.settings.propagate_viewpoint
    gqn = load_config(CONFIGS / "room_beauty_gqn_buffers.json").model.generators[0].settings
    assert gqn.core_count == 12 and not gqn.upscale_sharing and not gqn.weight_sharing
    assert load_config(CONFIGS / "archviz_beauty.json").model.generators[0].render_size == 128


def test_unused_reference_keys_are_accepted():
    data = base()
    data["model"]["representations"][0]["observation_dim"] = 3
    data["model"]["generators"][0].update(query_dim=3, output_dim=3)
    load_config(data)


def test_data_paths_resolve_from_repo_root_and_from_code(monkeypatch):
    cfg = load_config(CONFIGS / "room_beauty.json")
    assert cfg.train_data_dir == "../datasets/room/train"
    expected = (REPO_DIR / "datasets" / "room" / "train").resolve()
    monkeypatch.chdir(REPO_DIR)
    assert cfg.data_dir("train") == expected
    monkeypatch.chdir(CODE_DIR)
    assert cfg.data_dir("train") == expected
    assert resolve_path("/abs/where") == Path("/abs/where")


def test_config_paths_resolve_from_repo_root_and_from_code(monkeypatch):
    monkeypatch.chdir(REPO_DIR)
    a = load_config("../configs/room_beauty.json")       # the reference's spelling, from the root
    b = load_config("configs/room_beauty.json")
    monkeypatch.chdir(CODE_DIR)
    c = load_config("../configs/room_beauty.json")
    assert a.to_dict() == b.to_dict() == c.to_dict()


def test_save_round_trip(tmp_path):
    cfg = load_config(CONFIGS / "room_beauty_unet.json")
    save_config(cfg, tmp_path / "copy.json")
    assert load_config(tmp_path / "copy.json").to_dict() == cfg.to_dict()


@pytest.mark.parametrize("wanted,last,chosen", [
    ("beauty", ["beauty"], "beauty"),
    ("indirect", ["beauty", "indirect"], "indirect"),     # the config's, where the last generator predicts it
    ("indirect", ["direct", "beauty"], "beauty"),         # else beauty
    ("beauty", ["diffuse", "specular"], "diffuse"),       # else the first
])
def test_output_pass_is_one_rule(wanted, last, chosen):
    from cnsr.config import output_pass

    d = json.loads((REPO_DIR / "configs" / "room_beauty.json").read_text())
    d["model"]["output_pass"] = wanted
    d["model"]["generators"][-1]["output_passes"] = last
    assert output_pass(load_config(d)) == chosen


def test_every_tool_takes_the_output_pass_from_the_config_rule():
    """The viewers, composite, the compositing benchmark, render-neural and the attributions
    choose the pass they show or score with cnsr.config.output_pass, and with no rule of their own."""
    import ast

    choosers = ["viewer/session.py", "analysis/cli.py", "analysis/compositing_benchmark.py",
                "analysis/neural_render.py", "analysis/attribution.py", "analysis/curves.py"]
    for rel in choosers + ["viewer/gqn.py", "viewer/attributions.py"]:   # the viewers: through their session
        tree = ast.parse((CODE_DIR / "cnsr" / rel).read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "config"
                    for a in n.names}
        assert ("output_pass" in imported) == (rel in choosers), rel
        # no ``"beauty" if "beauty" in ...`` fallback of its own
        rules = [n for n in ast.walk(tree) if isinstance(n, ast.IfExp) and isinstance(n.body, ast.Constant)
                 and n.body.value == "beauty"]
        assert not rules, f"{rel}:{rules[0].lineno}: a pass rule of its own"
