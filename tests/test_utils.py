"""Atomic writes, gzip-transparent reading, provenance records."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat

import numpy as np
import pytest

from drg.errors import DRGError, InputError
from drg.provenance import RunRecord, update_summary
from drg.utils import atomic_directory, atomic_path, atomic_write, file_sha256, open_text, seed_everything


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as handle:
            handle.write("partial")
            raise RuntimeError("crash")
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "a.txt") as handle:
            handle.write("x")
        with atomic_path(tmp_path / "b.npz") as tmp:
            np.savez(tmp, x=np.arange(2))
    finally:
        os.umask(old)
    for name in ("a.txt", "b.npz"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644


def test_atomic_path_for_numpy(tmp_path):
    path = tmp_path / "a.npz"
    with atomic_path(path) as tmp:
        np.savez(tmp, x=np.arange(3))
    assert np.array_equal(np.load(path)["x"], np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]


def test_open_text_reads_gzip_and_plain(tmp_path):
    plain = tmp_path / "a.txt"
    plain.write_text("hello\n")
    packed = tmp_path / "a.txt.gz"
    with gzip.open(packed, "wt") as handle:
        handle.write("hello\n")
    for path in (plain, packed):
        with open_text(path) as handle:
            assert handle.read() == "hello\n"
    with pytest.raises(InputError, match="file not found"):
        open_text(tmp_path / "missing.txt")


def test_error_message_names_file_line_and_record():
    err = DRGError("expected 3 columns", path="x.bed", line=7, record="peak1")
    assert str(err) == "x.bed, line 7, record 'peak1': expected 3 columns"


def test_seed_everything_is_reproducible():
    a = seed_everything(5).random(3)
    b = seed_everything(5).random(3)
    assert np.array_equal(a, b)


def test_run_record_and_summary_sections(tmp_path):
    data = tmp_path / "in.txt"
    data.write_text("abc")
    record = RunRecord("drg test", seed=1)
    record.add_inputs([data])
    with record.step("work"):
        pass
    record.write(tmp_path)
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["inputs"][str(data)]["sha256"] == hashlib.sha256(b"abc").hexdigest() == file_sha256(data)
    assert run["seed"] == 1 and "work" in run["timings_s"]
    update_summary(tmp_path, "data", {"n": 1})
    update_summary(tmp_path, "training", {"r": np.float32(0.5)})
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary == {"data": {"n": 1}, "training": {"r": 0.5}}


def test_atomic_directory_replaces_only_on_success(tmp_path):
    target = tmp_path / "cache"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as tmp:
            (tmp / "new.txt").write_text("new")
            raise RuntimeError("crash")
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    with atomic_directory(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]
