"""The command-line conventions every script shares (cnsr.arguments, cnsr.overrides, cnsr.io.outputs)."""
import errno
import tempfile

import pytest

from cnsr.arguments import ArgumentParser, integer, number, report
from cnsr.config import ConfigError
from cnsr.io.outputs import OutputError, prepare_folder, refuse_overwriting_inputs
from cnsr.overrides import apply_overrides, parse_override, with_overrides


def parser():
    p = ArgumentParser(prog="x")
    p.add_argument("--image_size", type=integer(1, 64), default=8, deprecated_aliases=["--size"])
    p.add_argument("--no_progress", action="store_true", deprecated_aliases=["--quiet_bar"])
    p.add_argument("--exposure", type=number(above=0), default=1.0)
    return p


def test_hyphen_forms_and_old_spellings(capsys):
    a = parser().parse_args(["--image-size=16", "--no-progress"])
    assert a.image_size == 16 and a.no_progress
    a = parser().parse_args(["--size", "4", "--quiet_bar"])
    assert a.image_size == 4 and a.no_progress
    err = capsys.readouterr().err
    assert "--size is deprecated here; it means --image_size" in err and "--quiet_bar is deprecated" in err
    assert "--size" not in parser().format_help()          # old spellings are not advertised


@pytest.mark.parametrize("argv, message", [
    (["--image_size", "0"], "--image_size: must be in [1, 64], got 0"),
    (["--image_size", "1e3"], "--image_size: expected an integer, got '1e3'"),
    (["--exposure", "nan"], "--exposure: must be a finite number, got nan"),
    (["--exposure", "-1"], "--exposure: must be greater than 0"),
])
def test_numbers_out_of_range(capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        parser().parse_args(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_report_sorts_failures_from_bad_input(capsys):
    assert report("x", OSError(errno.ENOSPC, "No space left on device", "/d/f.exr")) == 1
    assert "/d/f.exr: No space left on device (the disk is full" in capsys.readouterr().err
    assert report("x", ConfigError("c.json: seed: bad")) == 2
    assert report("x", MemoryError()) == 1 and "out of memory" in capsys.readouterr().err


def test_overrides():
    assert parse_override("model.generators[0].settings.hidden_units=64") == \
        (["model", "generators", 0, "settings", "hidden_units"], 64)
    assert parse_override("model.generators.0.render_size=32")[0] == ["model", "generators", 0, "render_size"]
    assert parse_override("train_data_dir=datasets/x")[1] == "datasets/x"
    assert parse_override('job_name="8"')[1] == "8"
    d = {"model": {"generators": [{"type": "PixelCNN"}]}}
    assert apply_overrides(d, ["model.generators[0].settings.layers=2"])["model"]["generators"][0]["settings"] == \
        {"layers": 2}
    assert d == {"model": {"generators": [{"type": "PixelCNN"}]}}          # the input is not changed
    for bad, match in (("batch_size", "expected KEY=VALUE"), ("model.generators[3].x=1", "has 1 entries"),
                       ("[0]=1", "is not a key path"), ("a..b=1", "is not a key path")):
        with pytest.raises(ConfigError, match=match):
            apply_overrides(d, [bad])
    cfg = with_overrides({"batch_size": 2}, ["batch_size=3", "learning_rate=1e-3"], "c.json")
    assert cfg.batch_size == 3 and cfg.learning_rate == 1e-3 and cfg.source == \
        "c.json --set batch_size=3 --set learning_rate=1e-3"
    with pytest.raises(ConfigError, match=r"c.json --set batch_size=-1: batch_size: must be >= 1"):
        with_overrides({}, ["batch_size=-1"], "c.json")


def test_a_read_only_folder_is_found_by_the_probe(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError, match=r"--out_folder .*ro: cannot write there \(Permission denied\)"):
        prepare_folder(tmp_path / "ro")


def test_outputs_are_never_inputs(tmp_path):
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "link.json").symlink_to(tmp_path / "a.json")
    with pytest.raises(OutputError, match="--out .*link.json would overwrite --config .*a.json"):
        refuse_overwriting_inputs({"--out": tmp_path / "link.json"}, {"--config": tmp_path / "a.json"})
    refuse_overwriting_inputs({"--out": tmp_path / "b.json"}, {"--config": tmp_path / "a.json", "--x": None})
