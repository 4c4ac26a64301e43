"""Faults in dataset files and dataset commands: a damaged batch-file header is a DatasetError
naming the file and the field (also in --dry_run); a file that shrinks while it is read is an
error, not SIGBUS; generate-dataset / create-dataset-json-files refuse what they cannot do
before starting (numbers out of range, an output folder that cannot be written or lacks room)
and name the file on a full disk; a JSON-source dataset refuses re-created scene files."""
import errno
import json
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from _data_helpers import synthetic_batch
from cnsr.data import DatasetError, ExrBatchFile, read_batch_exr, read_batch_meta, write_batch_exr


def batch_file(tmp_path, name="batch000000000.exr"):
    images, poses = synthetic_batch(B=2, V=3, passes=["beauty", "normal"])
    path = tmp_path / name
    write_batch_exr(path, images, poses, 1, meta={"dataset": "room", "spp": 4})
    return path


def patch_attribute(path, name, typ, value=None, size=None):
    """Overwrite the value (and/or the size field) of a header attribute in place."""
    raw = bytearray(path.read_bytes())
    key = name.encode() + b"\0" + typ.encode() + b"\0"
    at = raw.index(key) + len(key)
    if size is not None:
        raw[at:at + 4] = struct.pack("<i", size)
    if value is not None:
        raw[at + 4:at + 4 + len(value)] = value
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("name, typ, value, size, match", [
    ("cnsr.scenes", "int", struct.pack("<i", 0), None, r"'cnsr.scenes' is 0, must be in \[1, "),
    ("cnsr.scenes", "int", struct.pack("<i", -2), None, r"'cnsr.scenes' is -2"),
    ("cnsr.views", "int", struct.pack("<i", 0), None, r"'cnsr.views' is 0"),
    ("cnsr.factor", "int", struct.pack("<i", 7), None, r"'cnsr.factor' is 7, must be one of -1, 0, 1, 2"),
    ("cnsr.factor", "int", None, 2, r"'cnsr.factor' \(int, 2 bytes\) is malformed"),
    ("cnsr.dataset", "string", b"\xff\xfe\xfd\xfc", None, r"'cnsr.dataset' \(string, 4 bytes\) is malformed"),
    ("cnsr.poses", "floatvector", None, 7, r"'cnsr.poses' \(floatvector, 7 bytes\) is malformed"),
    ("channels", "chlist", None, 5, r"'channels' \(chlist, 5 bytes\) is malformed"),
    ("dataWindow", "box2i", None, 3, r"'dataWindow' \(box2i, 3 bytes\) is malformed"),
])
def test_a_damaged_header_names_the_file_and_the_field(tmp_path, name, typ, value, size, match):
    path = batch_file(tmp_path)
    patch_attribute(path, name, typ, value, size)
    for read in (read_batch_meta, ExrBatchFile, read_batch_exr):
        with pytest.raises(DatasetError, match=r"batch000000000\.exr: .*" + match):
            read(path)


def test_poses_that_are_not_finite_are_refused(tmp_path):
    path = batch_file(tmp_path)
    patch_attribute(path, "cnsr.poses", "floatvector", struct.pack("<f", float("nan")))
    with pytest.raises(DatasetError, match="cnsr.poses holds NaN"):
        read_batch_meta(path)


def test_the_dry_run_refuses_a_header_factor_of_7(tmp_path):
    from cnsr.config import load_config
    from cnsr.engine.cli import check_batch_files

    for split in ("train", "test"):
        (tmp_path / split).mkdir()
        batch_file(tmp_path / split)
    patch_attribute(tmp_path / "train" / "batch000000000.exr", "cnsr.factor", "int", struct.pack("<i", 7))
    cfg = load_config({"cached_dataset": True, "train_data_dir": str(tmp_path / "train"),
                       "test_data_dir": str(tmp_path / "test")})
    with pytest.raises(DatasetError, match=r"train/batch000000000\.exr: header attribute 'cnsr.factor' is 7"):
        check_batch_files(cfg, progress=False)


def test_an_npz_factor_of_7_is_refused_in_the_dry_run_too(tmp_path):
    from cnsr.data import write_batch_npz
    from cnsr.data.npzbatch import read_npz_header

    images, poses = synthetic_batch(B=2, V=3, passes=["beauty"])
    write_batch_npz(tmp_path / "b.npz", images, poses, 7)
    with pytest.raises(DatasetError, match=r"b\.npz: 'factor' is 7"):
        read_npz_header(tmp_path / "b.npz")


def test_a_file_truncated_while_it_is_read_is_an_error_not_sigbus(tmp_path, repo_root):
    """Opened (header checked), then truncated in place (a dataset rewritten during training),
    then read: a memory map would kill the process with SIGBUS."""
    path = batch_file(tmp_path)
    code = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(repo_root / 'code')!r})
        from cnsr.data import DatasetError, ExrBatchFile
        f = ExrBatchFile({str(path)!r})
        os.truncate({str(path)!r}, 2000)
        try:
            f.sheet("beauty").copy()
        except DatasetError as e:
            print("error:", e)
        """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, (p.returncode, p.stderr)
    assert "batch000000000.exr: truncated while being read" in p.stdout


def test_a_loader_worker_error_arrives_without_the_workers_traceback(tmp_path):
    from cnsr.data.loader import worker_message

    wrapped = DatasetError("Caught DatasetError in DataLoader worker process 0.\nOriginal Traceback (most recent "
                           "call last):\n  File \"x.py\", line 1, in f\ncnsr.data.exrbatch.DatasetError: "
                           "/d/batch1.exr: truncated\n")
    assert worker_message(wrapped) == "/d/batch1.exr: truncated"


# ------------------------------------------------------------------------------ the commands
def gen(*argv):
    from cnsr.data.cli import generate_main
    return generate_main(list(map(str, argv)))


def create(*argv):
    from cnsr.data.cli import create_json_main
    return create_json_main(list(map(str, argv)))


@pytest.fixture
def data_cfg(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"dataset": "room", "batch_size": 1, "test_batch_size": 1, "views_per_scene": 2,
                                "samples_per_pixel": 1, "render_size": 8, "latent_separation": True}))
    return path


@pytest.mark.parametrize("argv, match", [
    (["--num_batches", "-3"], "--num_batches: must be in [0, 1000000], got -3"),
    (["--size", "-3"], "--size: must be in [0, 1000000], got -3"),
    (["--num_batches", "1000000000000"], "got 1000000000000"),
    (["--num_batches", "1", "--seed", "1e23"], "--seed: expected an integer, got '1e23'"),
    (["--num_batches", "1", "--seed", "9" * 5000], "--seed: expected an integer of at most 40 digits"),
    (["--num_batches", "1", "--workers", "-1"], "--workers: must be >= 0"),
])
def test_numbers_out_of_range_are_usage_errors(tmp_path, data_cfg, capsys, argv, match):
    with pytest.raises(SystemExit) as e:
        gen("--config", data_cfg, "--out_folder", tmp_path / "ds", *argv)
    assert e.value.code == 2 and match in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


def test_an_output_folder_under_a_file_is_refused_at_once(tmp_path, data_cfg, capsys):
    (tmp_path / "file").write_text("x")
    assert gen("--config", data_cfg, "--out_folder", tmp_path / "file" / "ds", "--num_batches", "1") == 2
    assert create("--config", data_cfg, "--out_folder", tmp_path / "file" / "js", "--num_batches", "1") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("file/") == 2 and "cannot write there" in err


def test_not_enough_space_is_refused_before_rendering(tmp_path, data_cfg, capsys, monkeypatch):
    import cnsr.io.outputs as outputs
    monkeypatch.setattr(outputs, "free_bytes", lambda folder: 10_000)
    assert gen("--config", data_cfg, "--out_folder", tmp_path / "ds", "--num_batches", "1000") == 2
    assert "not enough free space for the batch files" in capsys.readouterr().err
    assert not list((tmp_path / "ds").rglob("*.exr"))


def test_a_full_disk_names_the_batch_and_keeps_the_finished_ones(tmp_path, data_cfg, capsys, monkeypatch):
    pytest.importorskip("cnsr._renderer")
    import cnsr.data.generate as generate
    real, written = generate.write_batch_exr, []

    def write(path, *a, **k):
        if written:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(path)
        return real(path, *a, **k)

    monkeypatch.setattr(generate, "write_batch_exr", write)
    out = tmp_path / "ds"
    assert gen("--config", data_cfg, "--out_folder", out, "--num_batches", "2", "--test_batches", "0",
               "--workers", "1", "--threads", "1", "--quiet") == 1
    err = capsys.readouterr().err
    assert "batch000000001.exr: No space left on device" in err and "disk is full" in err and "Traceback" not in err
    assert [p.name for p in (out / "train").iterdir()] == ["batch000000000.exr"]


def test_recreated_json_scene_files_are_refused(tmp_path, data_cfg, capsys):
    """The probe's case: create-dataset-json-files --force with another seed, then generate-dataset
    --in_folder again said '2 already finished' and kept renders of the old scenes."""
    pytest.importorskip("cnsr._renderer")
    js, out = tmp_path / "json", tmp_path / "ds"
    common = ["--workers", "1", "--threads", "1", "--quiet"]
    assert create("--config", data_cfg, "--out_folder", js, "--num_batches", "2", "--test_batches", "0",
                  "--seed", "1", "--quiet") == 0
    assert gen("--config", data_cfg, "--in_folder", js / "train", "--out_folder", out, *common) == 0
    first = read_batch_meta(out / "batch000000000.exr")["json_digest"]
    assert create("--config", data_cfg, "--out_folder", js, "--num_batches", "2", "--test_batches", "0",
                  "--seed", "2", "--force", "--quiet") == 0
    capsys.readouterr()
    assert gen("--config", data_cfg, "--in_folder", js / "train", "--out_folder", out, *common) == 2
    err = capsys.readouterr().err
    assert "dataset.json" in err and "batch000000000, batch000000001 changed since they were rendered" in err
    assert gen("--config", data_cfg, "--in_folder", js / "train", "--out_folder", out, "--force", *common) == 0
    assert read_batch_meta(out / "batch000000000.exr")["json_digest"] != first
    # the same scene files again: finished batches are skipped, as before
    assert gen("--config", data_cfg, "--in_folder", js / "train", "--out_folder", out, *common) == 0
    assert "0 batches rendered in" in (err := capsys.readouterr().err) and "2 already finished" in err


def test_old_spellings_work_with_a_note(tmp_path, data_cfg, capsys):
    assert create("--config", data_cfg, "--out_folder", tmp_path / "js", "--size", "1", "--testing-size", "0",
                  "--quiet") == 0
    err = capsys.readouterr().err
    assert "--size is deprecated here; it means --num_batches" in err
    assert "--testing_size is deprecated here; it means --test_batches" in err
    assert len(list((tmp_path / "js" / "train").iterdir())) == 1
    assert np.array_equal(sorted(p.name for p in (tmp_path / "js").iterdir()), ["dataset.json", "train"])


def test_batch_files_and_scene_files_never_share_a_dataset_folder(tmp_path, data_cfg, capsys):
    """generate-dataset into the folder of a JSON dataset (or the other way round) would replace
    its dataset.json and put two kinds of files side by side."""
    js = tmp_path / "json"
    assert create("--config", data_cfg, "--out_folder", js, "--num_batches", 1, "--test_batches", 0, "--quiet") == 0
    before = (js / "dataset.json").read_text()
    assert gen("--config", data_cfg, "--out_folder", js, "--num_batches", 1, "--test_batches", 0, "--quiet") == 2
    assert "holds a dataset of scene JSON files; this command makes batch files" in capsys.readouterr().err
    assert (js / "dataset.json").read_text() == before
