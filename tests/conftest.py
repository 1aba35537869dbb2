"""Shared fixtures. Real third-party data is read from ``../shared/data`` beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()


def shared_file(relative: str) -> Path:
    """Path of a file under ../shared/data; skips the calling test when it is missing."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared data file not available: {relative}")
    return path


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep decompressed genomes and indexes of the test run out of the user's cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("DRG_CACHE", str(tmp_path_factory.mktemp("drg_cache")))
    yield
    mp.undo()


@pytest.fixture
def shared():
    """The ``shared_file`` helper as a fixture: ``shared("genomes/lambda_virus.fa.gz")``."""
    return shared_file
