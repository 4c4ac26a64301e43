"""render-scene.py refuses bad numbers and unwritable outputs with a message and an exit code,
before rendering, never with a traceback."""
import json
import shutil

import pytest

from render_helpers import box_room
from cnsr.render import cli


@pytest.fixture
def scene(tmp_path):
    path = tmp_path / "scene.json"
    path.write_text(json.dumps(box_room()))
    return str(path)


def run(capsys, *args):
    code = cli.main(list(map(str, args)))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("args, needle", [
    (["--bounces", 2 ** 31], "bounces"),
    (["--bounces", -1], "bounces"),
    (["--image_size", 100000], "image_size"),
    (["--size", 0], "size"),
    (["--spp", 0], "spp"),
    (["--seed", "1e23"], "seed"),
])
def test_bad_numbers_exit_2(tmp_path, capsys, scene, args, needle):
    with pytest.raises(SystemExit) as e:      # a usage error: argparse's exit status 2
        run(capsys, "--scene_file", scene, "--out", tmp_path / "o.exr", "--spp", 1, *args)
    err = capsys.readouterr().err
    assert e.value.code == 2 and needle in err and "Traceback" not in err


def test_unwritable_out_is_found_before_rendering(tmp_path, capsys, scene, monkeypatch):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    rendered = []
    from cnsr.render import Renderer
    real = Renderer.render
    monkeypatch.setattr(Renderer, "render", lambda self, **kw: rendered.append(1) or real(self, **kw))
    code, err = run(capsys, "--scene_file", scene, "--image_size", 8, "--spp", 1, "--out", blocker / "o.exr")
    assert code == 2 and "file.txt" in err and not rendered


def test_full_disk_is_found_before_rendering(tmp_path, capsys, scene, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=1000))
    code, err = run(capsys, "--scene_file", scene, "--image_size", 64, "--spp", 1, "--out", tmp_path / "o.exr")
    assert code == 2 and "not enough free space" in err and not (tmp_path / "o.exr").exists()


def test_an_image_that_does_not_fit_into_memory_is_refused_before_rendering(tmp_path, capsys, scene, monkeypatch):
    """The probe's case: --size 16384 ran out of memory."""
    monkeypatch.setattr(cli, "available_memory", lambda: 8 * 2 ** 30)
    rendered = []
    from cnsr.render import Renderer
    monkeypatch.setattr(Renderer, "render", lambda self, **kw: rendered.append(1))
    code, err = run(capsys, "--scene_file", scene, "--image_size", 16384, "--out", tmp_path / "o.exr")
    assert code == 2 and "--image_size 16384 with 38 channels needs about 114.0 GiB" in err and not rendered
    assert "Traceback" not in err


def test_out_of_memory_while_rendering_is_an_error(tmp_path, capsys, scene, monkeypatch):
    from cnsr.render import Renderer

    def oom(self, **kw):
        raise MemoryError("std::bad_alloc")
    monkeypatch.setattr(Renderer, "render", oom)
    code, err = run(capsys, "--scene_file", scene, "--image_size", 8, "--spp", 1, "--out", tmp_path / "o.exr")
    assert code == 1 and "out of memory" in err and "Traceback" not in err


def test_a_failing_write_after_rendering_is_an_error_not_a_traceback(tmp_path, capsys, scene, monkeypatch):
    def full(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(cli, "write_exr", full)
    code, err = run(capsys, "--scene_file", scene, "--image_size", 8, "--spp", 1, "--out", tmp_path / "o.exr")
    assert code == 1 and "No space left" in err and "o.exr" in err


def test_the_output_never_replaces_the_scene_file(tmp_path, capsys, scene):
    before = open(scene).read()
    code, err = run(capsys, "--scene_file", scene, "--image_size", 8, "--spp", 1, "--out", scene)
    assert code == 2 and f"would overwrite --scene_file {scene}" in err and open(scene).read() == before
