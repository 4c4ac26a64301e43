"""Each training run owns its folder: versioned run folders, a lock against a second live run,
pruning only the run's own checkpoints, resumes that never delete later checkpoints, folders
checked before training, a full disk reported with the file and what to do."""
import json
import subprocess
import sys
import textwrap

import pytest
import torch

from _standins import TinyModel, disk_full_after, synthetic_loader, tiny_config
from cnsr.engine import checkpoint as ckpt
from cnsr.engine import trainer as trainer_module
from cnsr.engine.runfolder import RunFolder, RunFolderError
from cnsr.engine.trainer import Trainer


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """The default checkpoints/ and runs/ folders, inside the test's folder."""
    monkeypatch.setattr(trainer_module, "default_checkpoint_folder", lambda: tmp_path / "checkpoints")
    monkeypatch.setattr(trainer_module, "default_runs_folder", lambda: tmp_path / "runs")
    return tmp_path / "checkpoints", tmp_path / "runs"


def make(cfg=None, **kw):
    torch.manual_seed(0)
    return Trainer(cfg or tiny_config(iterations=10, checkpoint_interval=2), device="cpu", model=TinyModel(),
                   loader_factory=synthetic_loader, progress=False, handle_signals=False, **kw)


def iterations(folder, job="tiny"):
    return [i for i, _ in ckpt.list_checkpoints(folder, job)]


def test_new_runs_get_versioned_folders_with_their_records(roots):
    checkpoints, runs = roots
    first = make(keep_checkpoints=0)
    assert first.out_folder == checkpoints / "tiny" / "version_0"
    assert first.log_dir == runs / "tiny" / "version_0"
    first.train()
    second = make(keep_checkpoints=0)
    assert second.out_folder == checkpoints / "tiny" / "version_1"
    second.train(4)
    assert iterations(first.out_folder) == [2, 4, 6, 8, 10] and iterations(second.out_folder) == [2, 4]
    info = json.loads((first.out_folder / "run.json").read_text())
    assert info["job_name"] == "tiny" and info["checkpoints"] == [f"tiny_{i}.pt" for i in (2, 4, 6, 8, 10)]
    assert json.loads((first.out_folder / "config.json").read_text())["iterations"] == 10
    assert ckpt.read_checkpoint(first.out_folder / "tiny_10.pt")["run_id"] == info["run_id"]
    assert info["run_id"] != json.loads((second.out_folder / "run.json").read_text())["run_id"]


def test_resuming_an_earlier_checkpoint_never_deletes_a_later_one(roots):
    """The probe's case: resuming tiny_4 of a run into its own folder with keep 3 deleted the
    new run's checkpoints and the old run's older ones. Now the resume starts a new run folder
    beside it, and into the old folder explicitly it is refused."""
    first = make(keep_checkpoints=0)
    first.train()
    old = first.out_folder
    before = {p.name: p.stat().st_mtime_ns for p in old.iterdir() if p.suffix == ".pt"}
    resumed = make(checkpoint=old / "tiny_4.pt", keep_checkpoints=3)
    assert resumed.out_folder == old.parent / "version_1" and "not the newest" in resumed.run_folder_reason
    resumed.train()
    assert {p.name: p.stat().st_mtime_ns for p in old.iterdir() if p.suffix == ".pt"} == before
    assert iterations(resumed.out_folder) == [6, 8, 10]
    assert json.loads((resumed.out_folder / "run.json").read_text())["resumed_from"] == str((old / "tiny_4.pt").resolve())
    with pytest.raises(RunFolderError, match=r"tiny_4.pt into its own folder.*tiny_10.pt"):
        make(checkpoint=old / "tiny_4.pt", out_folder=old)
    assert {p.name: p.stat().st_mtime_ns for p in old.iterdir() if p.suffix == ".pt"} == before


def test_resuming_the_newest_checkpoint_continues_its_run(roots):
    first = make(keep_checkpoints=2)
    first.train(6)
    again = make(checkpoint=first.out_folder / "tiny_6.pt", keep_checkpoints=2)
    assert again.out_folder == first.out_folder and again.run_folder.run_id == first.run_folder.run_id
    again.train()
    assert iterations(first.out_folder) == [8, 10]      # the run's own older checkpoints were pruned
    assert len(json.loads((first.out_folder / "run.json").read_text())["sessions"]) == 2


def test_keep_1_keeps_the_new_checkpoint_and_never_prunes_another_runs(tmp_path, roots):
    """The probe's case: --keep_checkpoints 1 on a new run deleted the checkpoint just written and
    kept an unrelated older run's (a higher iteration in the same flat folder)."""
    flat = tmp_path / "flat"
    flat.mkdir()
    older = ckpt.save_checkpoint(flat, "tiny", TinyModel(), torch.optim.Adam(TinyModel().parameters()), 100)
    with pytest.raises(RunFolderError, match=r"tiny_100.pt.*another run"):
        make(out_folder=flat, keep_checkpoints=1)
    t = make(keep_checkpoints=1)
    t.train()
    assert iterations(t.out_folder) == [10] and older.is_file()
    # a folder with files of other jobs and files the run did not write: never touched
    shared = tmp_path / "shared"
    shared.mkdir()
    for name in ("other_3.pt", "notes.txt"):
        (shared / name).write_text("not ours")
    t = make(out_folder=shared, keep_checkpoints=1)
    t.train()
    assert sorted(p.name for p in shared.iterdir() if not p.name.startswith(".")) == \
        ["config.json", "notes.txt", "other_3.pt", "run.json", "tiny_10.pt"]


def test_a_second_live_run_into_the_folder_is_refused(tmp_path):
    folder = tmp_path / "run"
    first = make(out_folder=folder)
    with pytest.raises(RunFolderError, match=r"another training run is writing into this folder \(process \d+"):
        make(out_folder=folder)
    first.train(2)                   # the lock is let go when train() returns ...
    second = make(out_folder=folder, checkpoint=folder / "tiny_2.pt")   # ... so the run can continue
    assert second.start_iteration == 3


def test_a_run_in_another_process_holds_its_folder(tmp_path, repo_root):
    folder = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(repo_root / 'code')!r})
        from cnsr.engine.runfolder import RunFolder
        run = RunFolder({str(folder)!r}, "tiny").open()
        print("locked", flush=True)
        sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderError, match=f"process {holder.pid} on"):
            make(out_folder=folder)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    make(out_folder=folder).train(2)     # the lock dies with its process


def test_an_unwritable_or_full_run_folder_is_refused_before_training(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunFolderError, match=r"file/run.*cannot write there"):
        make(out_folder=tmp_path / "file" / "run")
    import cnsr.io.outputs as outputs
    monkeypatch.setattr(outputs, "free_bytes", lambda folder: 1000)
    with pytest.raises(RunFolderError, match=r"not enough free space for a checkpoint.*MB needed"):
        make(out_folder=tmp_path / "full")


def test_an_unwritable_log_dir_is_refused_before_the_first_iteration(tmp_path):
    (tmp_path / "file").write_text("x")
    t = make(tiny_config(iterations=4, logging=True), out_folder=tmp_path / "run", log_dir=tmp_path / "file" / "tb")
    calls = []
    t.step = lambda i: calls.append(i)
    with pytest.raises(RunFolderError, match="TensorBoard folder"):
        t.train()
    assert calls == []


def test_disk_full_while_saving_names_the_file_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    t = make(out_folder=tmp_path / "run")
    disk_full_after(monkeypatch, 3)
    with pytest.raises(ckpt.CheckpointWriteError, match=r"tiny_4.pt: cannot write the checkpoint.*disk is full"):
        t.train()
    assert iterations(tmp_path / "run") == [2]
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]


def test_overrides_and_the_checkpoints_config_are_recorded(roots):
    t = make(overrides=["batch_size=2", "model.representations[0].representation_dim=6"])
    assert t.cfg.batch_size == 2 and t.cfg.model.representations[0].representation_dim == 6
    assert "--set batch_size=2" in t.cfg.source
    t.train(2)
    info = json.loads((t.out_folder / "run.json").read_text())
    assert info["sessions"][-1]["overrides"] == ["batch_size=2", "model.representations[0].representation_dim=6"]
    assert json.loads((t.out_folder / "config.json").read_text())["batch_size"] == 2
    state = ckpt.read_checkpoint(t.out_folder / "tiny_2.pt")
    assert state["overrides"] == info["sessions"][-1]["overrides"] and state["config"]["batch_size"] == 2
    # the checkpoint's config is the default: nothing but the checkpoint is needed to resume
    again = Trainer(None, checkpoint=t.out_folder / "tiny_2.pt", device="cpu", model=TinyModel(),
                    loader_factory=synthetic_loader, progress=False, handle_signals=False,
                    overrides=["learning_rate=0.5"])
    assert again.cfg.batch_size == 2 and again.cfg.learning_rate == 0.5 and again.start_iteration == 3


def test_run_folder_record_prunes_only_its_own_files(tmp_path):
    model = TinyModel()
    opt = torch.optim.Adam(model.parameters())
    foreign = ckpt.save_checkpoint(tmp_path, "tiny", model, opt, 1)       # there before the run
    run = RunFolder(tmp_path, "tiny", resume_from=foreign).open()
    for it in (2, 3, 4):
        run.record(ckpt.save_checkpoint(tmp_path, "tiny", model, opt, it), keep=1)
    assert iterations(tmp_path) == [1, 4]
    run.release()


def test_a_checkpoint_whose_name_and_iteration_disagree_does_not_continue_in_its_folder(tmp_path):
    model = TinyModel()
    state = ckpt.make_checkpoint(model, torch.optim.Adam(model.parameters()), 3, config=tiny_config().to_dict())
    path = tmp_path / "run" / "tiny_8.pt"          # named 8, holds iteration 2: it would overwrite tiny_4 ...
    path.parent.mkdir()
    torch.save(state, path)
    with pytest.raises(RunFolderError, match=r"tiny_8.pt: its name says iteration 8, it holds iteration 2"):
        make(checkpoint=path, out_folder=path.parent)


def test_the_run_records_never_replace_the_config_file(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    cfg = folder / "config.json"
    cfg.write_text(json.dumps(tiny_config().to_dict()))
    with pytest.raises(RunFolderError, match=r"config.json would overwrite --config"):
        Trainer(str(cfg), device="cpu", model=TinyModel(), loader_factory=synthetic_loader, out_folder=folder,
                progress=False, handle_signals=False)
