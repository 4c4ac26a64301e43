"""JSON that Python cannot read as it is: nesting deeper than the recursion limit, integers of
thousands of digits. Each is the project's error naming the file, never RecursionError or a
ValueError from the int conversion."""

import pytest

from cnsr.config import ConfigError, load_config
from cnsr.io.jsonfile import read_json_file

DEEP = "[" * 100_000 + "]" * 100_000
GIANT = '{"seed": ' + "9" * 5000 + "}"


@pytest.mark.parametrize("text, match", [(DEEP, "nested too deeply"), (GIANT, "Exceeds the limit")])
def test_config_files(tmp_path, text, match):
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"c.json: not a config file: .*{match}"):
        load_config(path)


@pytest.mark.parametrize("text", [DEEP, GIANT.replace("seed", "bounces")])
def test_scene_files_and_strings(tmp_path, text):
    from cnsr.render.scene import SceneError, read_scene
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(SceneError, match="s.json: not a scene file"):
        read_json_file(path, SceneError, "scene file")
    if text.startswith("{"):
        with pytest.raises(SceneError, match="<json string>: not a scene"):
            read_scene(text)


def test_a_giant_integer_in_a_config_dict_is_named_without_converting_it():
    with pytest.raises(ConfigError, match=r"seed: must be within .* got an integer of 16610 bits"):
        load_config({"seed": 10 ** 5000})


def test_train_script_exits_2_without_a_traceback(tmp_path, repo_root):
    import subprocess
    import sys
    path = tmp_path / "c.json"
    path.write_text(DEEP)
    p = subprocess.run([sys.executable, str(repo_root / "code" / "train-gqn.py"), "--config", str(path)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "nested too deeply" in p.stderr and "Traceback" not in p.stderr
