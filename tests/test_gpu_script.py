"""``benchmarks/gpu.sh``, the prepared GPU run, as a dry run on the CPU (tiny settings): it must
keep working where it cannot be tried before a GPU is at hand."""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("OpenEXR")   # the synthetic batch files are written in our EXR format


def run(repo_root, *args, env=None):
    return subprocess.run(["bash", str(repo_root / "benchmarks" / "gpu.sh"), *args], cwd=repo_root, env=env,
                          capture_output=True, text=True, timeout=600)


def test_help_and_bad_options(repo_root):
    r = run(repo_root, "--help")
    assert r.returncode == 0 and "--device" in r.stdout and "pip download" in r.stdout
    r = run(repo_root, "--no_such_option")
    assert r.returncode == 2 and "unknown option" in r.stderr


def test_dry_run_on_the_cpu_measures_every_stage(repo_root, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    env["OUT"] = str(tmp_path)                       # as on the GPU machine: results go to $OUT
    r = run(repo_root, "--device", "cpu", "--tiny", "--skip", "tests", "--python", sys.executable, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = (tmp_path / "summary.txt").read_text()
    assert "loader room_beauty: exit 0" in summary and "train room_beauty: exit 0" in summary
    assert "status 0" in summary and "tests:" not in summary

    loader = json.loads((tmp_path / "loader_room_beauty.json").read_text())
    assert [row["workers"] for row in loader["rows"]] == [1, 2]
    assert all(row["batches_per_s"] > 0 and row["mb_per_batch"] > 0 for row in loader["rows"])
    assert loader["extrapolated"]["batches_per_s"] == pytest.approx(15 * loader["rows"][0]["batches_per_s"])

    train = json.loads((tmp_path / "train_room_beauty.json").read_text())
    assert train["matrix_rates"]["fp32"] > 0
    rows = {row["setting"]: row for row in train["results"]}
    assert list(rows) == ["eager", "tf32+channels_last", "bf16+fused_adam+on_device"]
    for row in rows.values():
        assert row["correct"], row                   # the same first loss as eager on the same batch
        assert 0 < row["best_ms"] <= row["median_ms"]
        assert row["flops_per_iteration"] > 0 and row["measured_over_floor_median"] > 0
        assert 0 <= row["data_wait_fraction"] < 1
    assert rows["bf16+fused_adam+on_device"]["data_wait_fraction"] < 1e-3   # no loader at all
    assert sum("sustained_ms" in row for row in rows.values()) == 1
