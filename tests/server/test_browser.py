"""The page of `runlab ui` in a real browser: Debian's Chromium driven by Playwright.

Each test starts from a real ``runlab ui`` subprocess over a real store and
asserts what a user sees. Tests that only read share one server per module
(``lr_site``); tests that write (notes, journal, a live run) get their own
store and server (``fresh_site``). A test fails when the page logged a
console error (CSP violations are console errors), threw, or opened a dialog;
a failed test leaves a screenshot in ``test-artifacts/``.

The tests rely on the page's test hooks (the element ids and data attributes
the frontend keeps for them: #filter, tr[data-run-id], div.panel[data-series],
body[data-ready], ...) and on the URL state of docs/web.md.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from browser_kit import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LEARNING_RATES,
    MARKUP_NAME,
    MARKUP_TAG,
    SCRIPT_NOTE,
    PageWatch,
    UiServer,
    isolated_runs,
    lr_name,
    make_lr_store,
    make_one_run_store,
    query_of,
    row_ids,
    start_live_run,
    stop_process,
    wait_until,
)
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from runlab.server.app import is_page_built

if not CHROMIUM.exists():
    pytest.skip(
        "Debian's Chromium is not installed at /usr/bin/chromium; "
        "`.ci/run` installs it (apt-get install chromium).",
        allow_module_level=True,
    )
if not is_page_built():
    pytest.skip(
        "The web page is not built; run `make frontend` first.",
        allow_module_level=True,
    )

logger = logging.getLogger(__name__)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class Site:
    """A running server over a store: its URL, store folder and run ids."""

    url: str
    store: Path
    ids: dict[str, str]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def lr_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The learning-rate store of browser_kit, served for the whole module."""
    tmp = tmp_path_factory.mktemp("browser")
    store = tmp / "experiments"
    with isolated_runs(tmp):
        ids = make_lr_store(store)
    server = UiServer(store, tmp)
    yield Site(server.url, store, ids)
    server.stop()


@pytest.fixture
def fresh_site(tmp_path: Path) -> Iterator[Site]:
    """A store of one finished run named ``baseline``, and its own server."""
    store = tmp_path / "experiments"
    with isolated_runs(tmp_path):
        run_id = make_one_run_store(store, "baseline")
    server = UiServer(store, tmp_path)
    yield Site(server.url, store, {"baseline": run_id})
    server.stop()


def _call_failed(request: pytest.FixtureRequest) -> bool:
    # tests/server/conftest.py keeps each phase's report under this key; it
    # cannot be imported (conftest modules share one name), so find it.
    for plugin in request.config.pluginmanager.get_plugins():
        key = getattr(plugin, "phase_report_key", None)
        if isinstance(key, pytest.StashKey):
            report = request.node.stash.get(key, {}).get("call")
            return report is not None and report.failed
    return False


@pytest.fixture
def new_page(
    request: pytest.FixtureRequest, browser: Browser
) -> Iterator[Callable[[str], PageWatch]]:
    """Return ``new_page(base_url)``: a watched page in a fresh browser context.

    At teardown a page that logged errors fails the test, and the pages of a
    failed test are saved as screenshots.
    """
    watches: list[tuple[BrowserContext, PageWatch]] = []

    def open_page(base_url: str) -> PageWatch:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(10_000)
        watches.append((context, PageWatch(page, base_url)))
        return watches[-1][1]

    yield open_page

    failed = _call_failed(request)
    problems = [p for _, watch in watches for p in watch.problems]
    for number, (context, watch) in enumerate(watches):
        if failed or watch.problems:
            _save_screenshot(watch.page, f"{request.node.name}-{number}")
        context.close()
    assert not problems, "The page misbehaved:\n" + "\n".join(problems)


def _save_screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / (re.sub(r"[^\w.-]+", "_", name) + ".png")
    try:
        page.screenshot(path=str(path), full_page=True)
    except PlaywrightError as error:
        # A crashed page has no picture; the test's own failure says more.
        logger.warning("No screenshot of %s: %s", name, error.message)


@pytest.fixture
def lr_page(lr_site: Site, new_page: Callable[[str], PageWatch]) -> PageWatch:
    """A page on the shared server of the learning-rate store."""
    return new_page(lr_site.url)


@pytest.fixture
def fresh_page(fresh_site: Site, new_page: Callable[[str], PageWatch]) -> PageWatch:
    """A page on the test's own server (set up after it: closed before it stops)."""
    return new_page(fresh_site.url)


@pytest.fixture
def live_site(tmp_path: Path) -> Iterator[tuple[Site, subprocess.Popen[str]]]:
    """A store with a run logging a point every 0.2 s for 20 s, and its server."""
    store = tmp_path / "experiments"
    live, run_id = start_live_run(tmp_path, store)
    try:
        server = UiServer(store, tmp_path)
        yield Site(server.url, store, {"live": run_id}), live
        server.stop()
    finally:
        stop_process(live)


def _lr_ids(site: Site) -> list[str]:
    return [site.ids[lr_name(lr)] for lr in LEARNING_RATES]


def test_table_lists_every_run_and_shows_markup_names_as_text(
    lr_page: PageWatch, lr_site: Site
) -> None:
    page = lr_page.open("/")

    assert sorted(row_ids(page)) == sorted(lr_site.ids.values())
    expect(page.locator("#total")).to_contain_text(re.compile(r"\b6 runs"))
    markup_id = lr_site.ids["markup"]
    markup_row = page.locator(f"tr[data-run-id='{markup_id}']")
    expect(markup_row.locator(f"a[href$='/runs/{markup_id}']")).to_have_text(
        MARKUP_NAME
    )
    expect(markup_row).to_contain_text(MARKUP_TAG)
    assert page.locator("#runs-table img, #runs-table b").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_filter_on_enter_shows_matching_runs_and_keeps_it_in_the_url(
    lr_page: PageWatch, lr_site: Site
) -> None:
    page = lr_page.open("/")

    page.fill("#filter", "optim.lr < 0.05")
    page.press("#filter", "Enter")

    expected = {lr_site.ids["lr-0.001"], lr_site.ids["lr-0.01"]}
    wait_until(page, lambda: set(row_ids(page)) == expected, "the two filtered rows")
    assert query_of(page)["where"] == "optim.lr < 0.05"
    expect(page.locator("#total")).to_contain_text(re.compile(r"\b2 runs"))
    expect(page.locator("#filter-error")).to_be_hidden()


def test_bad_filter_shows_the_message_and_a_caret_at_the_error(
    lr_page: PageWatch, lr_site: Site
) -> None:
    lr_page.allow(r"status of 400")
    page = lr_page.open("/")
    bad = "optim.lr < < 1"
    answer = page.request.get(lr_site.url + "/api/runs", params={"where": bad})
    error = answer.json()["error"]

    page.fill("#filter", bad)
    page.press("#filter", "Enter")

    box = page.locator("#filter-error")
    expect(box).to_be_visible()
    expect(box).to_contain_text(error["message"])
    lines = box.inner_text().splitlines()
    carets = [line for line in lines if line.strip() == "^"]
    assert len(carets) == 1, lines
    assert carets[0].index("^") == error["position"]
    assert lines[lines.index(carets[0]) - 1] == bad


def test_sort_by_numeric_config_column_orders_numbers_not_text(
    lr_page: PageWatch, lr_site: Site
) -> None:
    page = lr_page.open("/")
    lr_ids = _lr_ids(lr_site)

    def lr_order() -> list[str]:
        return [run_id for run_id in row_ids(page) if run_id in lr_ids]

    page.click("th[data-column='config.optim.lr']")
    wait_until(page, lambda: lr_order() == lr_ids, "ascending numeric order")
    assert query_of(page)["sort"] == "config.optim.lr"

    page.click("th[data-column='config.optim.lr']")
    wait_until(page, lambda: lr_order() == lr_ids[::-1], "descending numeric order")
    assert query_of(page)["sort"] == "-config.optim.lr"


def _select(page: Page, run_ids: list[str]) -> None:
    # A click re-renders the table: check the new box, not the clicked one.
    for run_id in run_ids:
        box = f"tr[data-run-id='{run_id}'] input.select-run"
        page.click(box)
        expect(page.locator(box)).to_be_checked()


def _expect_panels(page: Page, metrics: set[str], series: int) -> None:
    panels = page.locator("#charts div.panel")
    expect(panels).to_have_count(len(metrics))
    for metric in metrics:
        panel = page.locator(f"#charts div.panel[data-metric='{metric}']")
        expect(panel).to_have_attribute("data-series", str(series))


def test_three_selected_runs_draw_three_series_and_survive_a_reload(
    lr_page: PageWatch, lr_site: Site
) -> None:
    page = lr_page.open("/")
    chosen = _lr_ids(lr_site)[:3]

    _select(page, chosen)

    _expect_panels(page, {"train/loss", "val/acc"}, 3)
    assert set(query_of(page)["selected"].split(",")) == set(chosen)
    page.reload()
    lr_page.wait_ready()
    for run_id in chosen:
        expect(
            page.locator(f"tr[data-run-id='{run_id}'] input.select-run")
        ).to_be_checked()
    _expect_panels(page, {"train/loss", "val/acc"}, 3)


def _hover_x_text(page: Page, metric: str) -> str:
    """Hover the middle of a panel's plot; return the x value of its legend."""
    panel = page.locator(f"#charts div.panel[data-metric='{metric}']")
    page.mouse.move(0, 0)
    panel.locator(".u-over").hover()
    value = panel.locator(".u-legend .u-series").first.locator(".u-value")
    return value.inner_text()


def _is_recent_time(text: str) -> bool:
    """Whether the text is a local date-time within an hour of now."""
    try:
        shown = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return False
    return abs((shown - datetime.now()).total_seconds()) < 3600


def _is_seconds_since_start(text: str) -> bool:
    """Whether the text is a duration under a minute ("0.0061 s" or 0:00:07)."""
    match = re.fullmatch(r"([\d.]+(?:e-?\d+)?) s|0:00:(\d\d)", text)
    return match is not None and float(match.group(1) or match.group(2)) < 60


@pytest.mark.parametrize(
    ("mode", "label", "is_x_value"),
    [
        ("time", "time", _is_recent_time),
        ("relative", "time since start", _is_seconds_since_start),
    ],
    ids=["time", "relative"],
)
def test_switching_the_x_axis_refetches_and_redraws_in_that_unit(
    lr_page: PageWatch,
    lr_site: Site,
    mode: str,
    label: str,
    is_x_value: Callable[[str], bool],
) -> None:
    chosen = _lr_ids(lr_site)[:3]
    page = lr_page.open("/?selected=" + ",".join(chosen))
    lr_page.wait_charts()
    _expect_panels(page, {"train/loss", "val/acc"}, 3)
    step = _hover_x_text(page, "train/loss")
    assert re.fullmatch(r"\d+", step) and int(step) < 20, step

    with page.expect_response(
        lambda r: "/api/series" in r.url and f"x={mode}" in r.url
    ):
        page.select_option("#x-axis", mode)

    panel = page.locator("#charts div.panel[data-metric='train/loss']")
    x_label = panel.locator(".u-legend .u-series").first.locator(".u-label")
    expect(x_label).to_have_text(label)
    expect(panel).to_have_attribute("data-series", "3")
    shown = _hover_x_text(page, "train/loss")
    assert is_x_value(shown), f"x value {shown!r} on the {mode} axis"
    assert query_of(page)["x"] == mode


def test_compare_lists_the_differing_key_and_overlays_two_curves(
    lr_page: PageWatch, lr_site: Site
) -> None:
    page = lr_page.open("/")
    pair = [lr_site.ids["lr-0.01"], lr_site.ids["lr-10"]]
    _select(page, pair)

    page.click("#compare")

    page.wait_for_url(re.compile(r"/compare\?runs="))
    lr_page.wait_ready()
    assert set(query_of(page)["runs"].split(",")) == set(pair)
    row = page.locator("tr", has_text="optim.lr").first
    expect(row).to_be_visible()
    cells = [text.strip() for text in row.locator("td").all_inner_texts()]
    assert "0.01" in cells and "10" in cells, cells
    expect(page.locator("div.panel[data-metric='train/loss']")).to_have_attribute(
        "data-series", "2"
    )


def test_notes_with_script_and_javascript_link_run_nothing(
    lr_page: PageWatch, lr_site: Site
) -> None:
    page = lr_page.open(f"/runs/{lr_site.ids['markup']}")

    notes = page.locator("#notes")
    expect(notes).to_contain_text(SCRIPT_NOTE.splitlines()[0])
    assert notes.locator("script, img").count() == 0
    assert notes.locator("a[href^='javascript' i]").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src='x']").count() == 0
    expect(page.locator("#app")).to_contain_text(MARKUP_NAME)


def test_editing_a_note_renders_it_and_saves_it_to_readme(
    fresh_page: PageWatch, fresh_site: Site
) -> None:
    run_id = fresh_site.ids["baseline"]
    page = fresh_page.open(f"/runs/{run_id}")
    text = "## Findings\n\nThe loss **plateaus** after step 5."

    page.click("#notes-edit")
    page.fill("#notes-text", text)
    page.click("#notes-save")

    notes = page.locator("#notes")
    expect(notes.locator("h2")).to_have_text("Findings")
    expect(notes.locator("strong")).to_have_text("plateaus")
    readme = fresh_site.store / run_id / "README.md"
    assert readme.read_text(encoding="utf-8") == text


def test_journal_entry_links_the_run_it_names(
    fresh_page: PageWatch, fresh_site: Site
) -> None:
    run_id = fresh_site.ids["baseline"]
    page = fresh_page.open("/journal")

    page.fill("#journal-text", "Tried baseline again: the loss plateaus.")
    page.click("#journal-save")

    link = page.locator(f"#journal-list a[href='/runs/{run_id}']")
    expect(link).to_have_count(1)
    expect(page.locator("#journal-list")).to_contain_text("the loss plateaus")
    link.click()
    page.wait_for_url(re.compile(f"/runs/{run_id}$"))
    fresh_page.wait_ready()
    expect(page.locator("#notes-edit")).to_be_visible()
    expect(page.locator("#app")).to_contain_text("baseline")


def test_running_run_grows_its_curve_and_shows_running(
    live_site: tuple[Site, subprocess.Popen[str]],
    new_page: Callable[[str], PageWatch],
) -> None:
    site, live = live_site
    run_id = site.ids["live"]
    watch = new_page(site.url)
    page = watch.open(f"/?selected={run_id}")
    watch.wait_charts()
    panel = page.locator("#charts div.panel[data-metric='train/loss']")
    expect(panel).to_have_attribute("data-series", "1")
    first = int(panel.get_attribute("data-shown") or 0)

    def grew() -> bool:
        return int(panel.get_attribute("data-shown") or 0) > first

    wait_until(page, grew, "new points of the running run", timeout=10)
    expect(page.locator(f"tr[data-run-id='{run_id}']")).to_contain_text("running")
    assert live.poll() is None, "the live run ended before the page saw it grow"


FAILING = (
    "import sys\n"
    "print('\\x1b[31mred\\x1b[0m text', flush=True)\n"
    "sys.stdout.write('step 10%\\rstep 50%\\rstep 100%\\n')\n"
    "raise SystemExit(3)\n"
)


def test_a_failed_run_says_how_it_ended_and_its_log_reads_as_a_terminal(
    fresh_page: PageWatch, fresh_site: Site
) -> None:
    import sys

    from runlab.launch import launch
    from runlab.store import open_store

    with isolated_runs(fresh_site.store.parent):
        run_id, code = launch(
            open_store(fresh_site.store), [sys.executable, "-c", FAILING],
            config={}, name="broken", system_metrics=False,
            cwd=fresh_site.store.parent,
        )  # fmt: skip
    assert code == 3

    page = fresh_page.open(f"/runs/{run_id}")

    expect(page.locator("#run-error")).to_have_text(
        "This run ended with an error: exit code 3"
    )
    expect(page.locator("#app")).not_to_contain_text("could not be read")
    expect(page.locator("#log")).to_have_text("red text\nstep 100%\n")
    # The run was outside any git repository; the page says so plainly.
    expect(page.locator("#app")).to_contain_text("Not run inside a git repository.")
    expect(page.locator("details.checkpoints")).to_have_count(0)


def test_a_selected_run_since_trashed_leaves_the_selection_and_says_so(
    fresh_page: PageWatch, fresh_site: Site
) -> None:
    from runlab.store import open_store

    kept = fresh_site.ids["baseline"]
    with isolated_runs(fresh_site.store.parent):
        gone = make_one_run_store(fresh_site.store, "short-lived")
    open_store(fresh_site.store).trash_run(gone)

    page = fresh_page.open(f"/?selected={gone},{kept}")
    fresh_page.wait_charts()

    expect(page.locator(".charts-note")).to_have_text(
        f"Charts of the 1 selected run. 1 selected run is no longer in the store "
        f"({gone}) and left the selection."
    )
    expect(page.locator(".selection-info")).to_have_text("1 selected")
    expect(page.locator("#compare")).to_be_disabled()
    assert f"selected={kept}" in page.url and gone not in page.url


def test_unticking_every_column_keeps_only_the_fixed_ones(
    fresh_page: PageWatch,
) -> None:
    page = fresh_page.open("/")
    expect(page.locator("#runs-table th[data-column='config.optim.lr']")).to_have_count(
        1
    )

    page.click("#columns-button")
    ticked = page.locator("#columns-panel input[type=checkbox]:checked")
    for _ in range(ticked.count()):
        ticked.first.uncheck()
    expect(ticked).to_have_count(0)
    page.reload()
    fresh_page.wait_ready()

    assert "columns=-" in page.url
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    expect(page.locator("#runs-table th[data-column^='config.']")).to_have_count(0)
    expect(page.locator("#runs-table th[data-column^='metric.']")).to_have_count(0)
