"""A small real store and the real app over it, for the API tests.

The store holds four finished runs (two learning rates x two seeds) with
``train/loss`` over 100 steps, ``val/acc`` with a NaN and an infinity, and one
run whose name, tag, config value and notes hold markup; plus one long run of
20,000 points for thinning.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import runlab
from runlab.server import create_app
from runlab.store import open_store

BASE = "http://127.0.0.1:8765"
# Each phase's report, kept on the test item so a fixture can see a failure
# at teardown (the browser tests save a screenshot then).
phase_report_key = pytest.StashKey[dict[str, pytest.CollectReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None]:
    report = yield
    item.stash.setdefault(phase_report_key, {})[report.when] = report
    return report


MARKUP = "<img src=x onerror=alert(1)>"


def make_demo_store(path: Path) -> dict[str, str]:
    """Create the runs described above; return name -> run id."""
    ids = {}
    for lr in (0.1, 0.01):
        for seed in (1, 2):
            name = f"lr{lr}-s{seed}"
            config = {"optim": {"lr": lr}, "seed": seed, "epochs": 100}
            run = runlab.start(store=path, name=name, config=config, tags=["grid"])
            for step in range(100):
                loss = 1.0 / (1 + step * lr * seed)
                run.log({"train/loss": loss}, step=step)
            run.log({"val/acc": 0.5}, step=0)
            run.log({"val/acc": math.nan}, step=1)
            run.log({"val/acc": math.inf}, step=2)
            run.log({"val/acc": 0.9 if lr == 0.1 else 0.8}, step=3)
            run.finish()
            ids[name] = run.id
    odd = runlab.start(
        store=path, name=MARKUP, config={"note": "<script>x</script>"}, tags=["<b>"]
    )
    odd.note("[click](javascript:alert(1)) <script>alert(1)</script>")
    for step in range(20_000):
        odd.log(
            {"long": math.sin(step / 100.0) + (1e6 if step == 12_345 else 0)}, step=step
        )
    odd.finish()
    ids["odd"] = odd.id
    return ids


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    mp = pytest.MonkeyPatch()
    mp.setenv("RUNLAB_SYSTEM_METRICS", "0")
    mp.delenv("RUNLAB_RUN_DIR", raising=False)
    path = tmp_path_factory.mktemp("ui") / "experiments"
    # Outside any repository: the runs must not capture this checkout's git.
    mp.chdir(path.parent)
    mp.setenv("GIT_CEILING_DIRECTORIES", str(path.parent))
    try:
        ids = make_demo_store(path)
    finally:
        mp.undo()
    return path, ids


@pytest.fixture
def client(demo_store: tuple[Path, dict[str, str]]) -> Iterator[TestClient]:
    app = create_app(open_store(demo_store[0]))
    with TestClient(app, base_url=BASE) as test_client:
        yield test_client


@pytest.fixture
def own_store(demo_store: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    """A copy of the demo store that a test may change."""
    copy = tmp_path / "experiments"
    shutil.copytree(demo_store[0], copy, symlinks=True)
    return copy


@pytest.fixture
def writer(own_store: Path) -> Iterator[TestClient]:
    """The app over ``own_store``."""
    app = create_app(open_store(own_store))
    with TestClient(app, base_url=BASE) as test_client:
        yield test_client


@pytest.fixture
def ids(demo_store: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return demo_store[1]


def _strict_json(text: str) -> Any:
    def refuse(token: str) -> Any:
        raise ValueError(f"non-strict JSON token {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def strict_json() -> Callable[[str], Any]:
    """Parse JSON refusing bare NaN/Infinity, as a browser's JSON.parse does."""
    return _strict_json


@pytest.fixture
def markup() -> str:
    """The markup held by the odd run's name."""
    return MARKUP
