"""preview-scenes.py checks its numbers and its output before rendering anything."""
import pytest

from cnsr.scenes.cli import preview_main


@pytest.mark.parametrize("args, match", [
    (["--exposure", "nan"], "--exposure: must be a finite number, got nan"),
    (["--exposure", "0"], "--exposure: must be greater than 0"),
    (["--count", "0"], "--count: must be in [1, 10000], got 0"),
    (["--image_size", "-4"], "--image_size: must be in [1, 4096]"),
    (["--seed", "1e23"], "--seed: expected an integer"),
])
def test_numbers_out_of_range_are_usage_errors(tmp_path, capsys, args, match):
    with pytest.raises(SystemExit) as e:
        preview_main(["--out", str(tmp_path / "p.png"), *args])
    assert e.value.code == 2 and match in capsys.readouterr().err
    assert not (tmp_path / "p.png").exists()


def test_an_output_that_cannot_be_written_is_refused_before_rendering(tmp_path, capsys, monkeypatch):
    import cnsr.scenes.cli as cli
    monkeypatch.setattr(cli, "contact_sheet", lambda *a, **k: pytest.fail("rendered"))
    (tmp_path / "file").write_text("x")
    assert preview_main(["--out", str(tmp_path / "file" / "p.png")]) == 2
    assert preview_main(["--out", str(tmp_path / "p.exr")]) == 2
    err = capsys.readouterr().err
    assert "file: is a file, not a folder" in err and "give a .png file name" in err and "Traceback" not in err
