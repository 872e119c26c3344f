"""Helpers of the browser tests: a real `runlab ui`, stores, a watched page.

- ``runlab_env(tmp)``: the environment a child process (the server, a live
  run) gets: no system sampling, no git of this checkout, no run to attach to.
- ``make_lr_store(path)``: five finished runs over learning rates whose text
  order differs from their numeric order, plus one run whose name, tag and
  notes hold markup.
- ``UiServer``: ``python -m runlab ui --port 0`` in a subprocess; ``url`` is
  parsed from its first line.
- ``PageWatch``: a page whose console errors, uncaught errors and dialogs are
  recorded; the test module fails a test that left any.
- ``wait_until``: polls a condition while Playwright keeps serving the page.

Imported by test_browser.py alone (pytest puts this folder on sys.path).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Dialog, Error, Page

import runlab

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
MARKUP_NAME = "<img src=x onerror=alert(1)>"
MARKUP_TAG = "<b>bold</b>"
SCRIPT_NOTE = (
    "<script>window.__pwned=1</script>\n\n"
    "[x](javascript:window.__pwned=1) and <img src=x onerror=window.__pwned=1>"
)
# Numeric order 0.001 < 0.01 < 0.1 < 2 < 10; as text "10" sorts before "2".
LEARNING_RATES = (0.001, 0.01, 0.1, 2.0, 10.0)
URL_LINE = re.compile(r"^runlab ui: .* at (http://\S+?)/?\s")
_LEAKY = ("RUNLAB_RUN_DIR", "RUNLAB_DIR", "RANK", "LOCAL_RANK", "RUNLAB_URI")


def runlab_env(tmp: Path) -> dict[str, str]:
    """The environment of a child process: isolated from the developer's."""
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    env.update(
        RUNLAB_SYSTEM_METRICS="0",
        GIT_CEILING_DIRECTORIES=str(tmp),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        PYTHONUNBUFFERED="1",
    )
    return env


@contextmanager
def isolated_runs(tmp: Path) -> Iterator[None]:
    """Runs started in this process inside: no sampling, no checkout's git."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)
        for key, value in runlab_env(tmp).items():
            if os.environ.get(key) != value:
                mp.setenv(key, value)
        for key in _LEAKY:
            mp.delenv(key, raising=False)
        yield


def lr_name(lr: float) -> str:
    return f"lr-{lr:g}"


def make_lr_store(path: Path) -> dict[str, str]:
    """Create the runs described in the module docstring; return name -> id."""
    ids = {}
    for lr in LEARNING_RATES:
        config = {"optim": {"lr": lr}, "seed": 0, "epochs": 20}
        run = runlab.start(store=path, name=lr_name(lr), config=config)
        for step in range(20):
            run.log({"train/loss": 1.0 / (1.0 + step * lr)}, step=step)
        for step in range(5):
            run.log({"val/acc": min(1.0, 0.2 + step * lr)}, step=step)
        run.finish()
        ids[lr_name(lr)] = run.id
    odd = runlab.start(store=path, name=MARKUP_NAME, tags=[MARKUP_TAG])
    odd.note(SCRIPT_NOTE)
    odd.finish()
    ids["markup"] = odd.id
    return ids


def make_one_run_store(path: Path, name: str) -> str:
    """Create a store with one finished run of a few points; return its id."""
    run = runlab.start(store=path, name=name, config={"optim": {"lr": 0.1}})
    for step in range(10):
        run.log({"train/loss": 1.0 / (1 + step)}, step=step)
    run.finish()
    return run.id


class UiServer:
    """A ``runlab ui`` subprocess on a free port of 127.0.0.1."""

    def __init__(self, store: Path, tmp: Path) -> None:
        self.log_path = tmp / "ui-server.log"
        command = [sys.executable, "-m", "runlab", "ui", "--store", str(store)]
        # The child keeps its own handle of the log; ours may close at once.
        with open(self.log_path, "w", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [*command, "--port", "0"],
                cwd=tmp,
                env=runlab_env(tmp),
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.url = self._read_url(timeout=30)

    def _read_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(encoding="utf-8")
            match = URL_LINE.match(text)
            if match:
                return match.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        text = self.log_path.read_text(encoding="utf-8")
        raise RuntimeError(f"runlab ui printed no URL; its output:\n{text}")

    def stop(self) -> None:
        """Ctrl-C the server; kill it if it has not stopped in 10 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class PageWatch:
    """A page that records what a user would call a broken page.

    ``problems`` lists console errors (CSP violations among them), uncaught
    exceptions and dialogs (which are dismissed); ``allow(pattern)`` excuses
    console errors the test provokes on purpose (a 400 answer).
    """

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.problems: list[str] = []
        self._allowed: list[re.Pattern[str]] = []
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("dialog", self._on_dialog)

    def allow(self, pattern: str) -> None:
        self._allowed.append(re.compile(pattern))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if any(p.search(message.text) for p in self._allowed):
            return
        self.problems.append(f"console error: {message.text} at {message.location}")

    def _on_page_error(self, error: Error) -> None:
        self.problems.append(f"page error: {error.message}")

    def _on_dialog(self, dialog: Dialog) -> None:
        self.problems.append(f"dialog ({dialog.type}): {dialog.message}")
        dialog.dismiss()

    def open(self, path: str) -> Page:
        """Go to ``path`` of the server and wait for the page's first render."""
        self.page.goto(self.base_url + path)
        self.wait_ready()
        return self.page

    def wait_ready(self) -> None:
        self.page.wait_for_selector("body[data-ready='1']", state="attached")

    def wait_charts(self) -> None:
        self.page.wait_for_selector("#charts[data-charts-ready='1']", state="attached")


def wait_until(
    page: Page, check: Callable[[], object], what: str, timeout: float = 10.0
) -> None:
    """Poll ``check`` every 100 ms until it is true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout} s waiting for {what}.")
        page.wait_for_timeout(100)


def row_ids(page: Page) -> list[str]:
    """The run ids of the table's rows, top to bottom."""
    ids: list[str] = page.eval_on_selector_all(
        "#runs-table tbody tr[data-run-id]", "rows => rows.map(r => r.dataset.runId)"
    )
    return ids


def query_of(page: Page) -> dict[str, str]:
    """The query of the page's URL, decoded."""
    return dict(parse_qsl(urlsplit(page.url).query))


def start_live_run(script_dir: Path, store: Path) -> tuple[subprocess.Popen[str], str]:
    """Start a run that logs a point every 0.2 s for 20 s; return it and its id."""
    script = script_dir / "live_run.py"
    script.write_text(LIVE_SCRIPT, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(script), str(store)],
        cwd=script_dir,
        env=runlab_env(script_dir),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    run_id = process.stdout.readline().strip()
    if not run_id:
        process.kill()
        raise RuntimeError("The live run printed no id.")
    return process, run_id


LIVE_SCRIPT = """\
import sys, time
import runlab

run = runlab.start(store=sys.argv[1], name="live", config={"optim": {"lr": 0.5}})
print(run.id, flush=True)
for step in range(100):
    run.log({"train/loss": 1.0 / (1 + step)}, step=step)
    time.sleep(0.2)
run.finish()
"""


def stop_process(process: subprocess.Popen[str]) -> None:
    """Terminate a child process and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout:
        process.stdout.close()
