"""The sweep pages of `runlab ui` in a real browser (Chromium driven by Playwright).

One real ``runlab ui`` serves the store of sweep_kit (a grid of eight trials
made by real `runlab run` runs, plus a pending trial) and a second sweep whose
name and parameter hold markup. Tests fail when the page logged a console
error (CSP violations among them), threw, or opened a dialog.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_kit import CHROMIUM, CHROMIUM_ARGS, PageWatch, UiServer, wait_until
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sweep_kit import GRID, SWEEP_NAME, SweepStore, best_val_acc, make_sweep_store

from runlab.server.app import is_page_built
from runlab.sweep.session import holding_sweep
from runlab.sweep.state import TrialState, create_sweep, read_sweep

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

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MARKUP = "<img src=x onerror=window.__pwned=1>"
TRIALS = len(GRID) + 1
RELU = {i for i, (_, act) in enumerate(GRID) if act == "relu"}


@dataclass
class SweepSite:
    url: str
    store: Path
    sweep: SweepStore
    markup_id: str
    live_id: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SweepSite]:
    tmp = tmp_path_factory.mktemp("browser-sweeps")
    store = tmp / "experiments"
    sweep = make_sweep_store(store, tmp)
    odd = create_sweep(
        store, file_text="method: grid\n", file="odd.yaml", method="grid",
        name=MARKUP, trials=[TrialState(index=0, params={"note": MARKUP})],
    )  # fmt: skip
    live = create_sweep(
        store, file_text="method: random\n", file="live.yaml", method="random",
        name="live", trials=[TrialState(index=0, params={"x": 1}, state="running")],
    )  # fmt: skip
    server = UiServer(store, tmp)
    # Held as the process running the live sweep holds it: its trial runs.
    with holding_sweep(live):
        yield SweepSite(server.url, store, sweep, odd.id, live.id)
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def watch(
    request: pytest.FixtureRequest, browser: Browser, site: SweepSite
) -> Iterator[PageWatch]:
    """A watched page; one that misbehaved fails the test and leaves a picture."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(10_000)
    watched = PageWatch(page, site.url)
    yield watched
    if watched.problems:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
    assert not watched.problems, "The page misbehaved:\n" + "\n".join(watched.problems)


def trial_rows(page: Page) -> list[int]:
    """The trial indexes of the table's rows, top to bottom."""
    found: list[str] = page.eval_on_selector_all(
        "#sweep-trials tbody tr[data-trial]", "rows => rows.map(r => r.dataset.trial)"
    )
    return [int(index) for index in found]


def brush(page: Page, axis: str, low: float, high: float) -> None:
    """Drag along an axis from fraction ``low`` to ``high`` of its height."""
    line = page.locator(f"g.pc-axis[data-axis='{axis}'] line.pc-axis-line")
    box = line.bounding_box()
    assert box is not None
    x = box["x"] + box["width"] / 2
    bottom = box["y"] + box["height"]
    page.mouse.move(x, bottom - low * box["height"])
    page.mouse.down()
    page.mouse.move(x, bottom - high * box["height"], steps=5)
    page.mouse.up()


def axis_centre(page: Page, axis: str) -> tuple[float, float]:
    box = page.locator(
        f"g.pc-axis[data-axis='{axis}'] line.pc-axis-line"
    ).bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def open_sweep(watch: PageWatch, site: SweepSite) -> Page:
    return watch.open(f"/sweeps/{site.sweep.sweep_id}")


def test_sweep_page_lists_every_trial_and_draws_one_line_each(
    watch: PageWatch, site: SweepSite
) -> None:
    page = open_sweep(watch, site)

    assert sorted(trial_rows(page)) == list(range(TRIALS))
    plot = page.locator("#parallel")
    expect(plot).to_have_attribute("data-lines", str(TRIALS))
    expect(plot).to_have_attribute("data-selected", str(TRIALS))
    expect(page.locator("#pc-metric")).to_have_value("val/acc.max")
    axes = page.locator("g.pc-axis")
    names = [axes.nth(i).get_attribute("data-axis") for i in range(axes.count())]
    assert names == ["optim.lr", "model.act", "seed", "val/acc.max"]
    lr_axis = page.locator("g.pc-axis[data-axis='optim.lr']")
    expect(lr_axis).to_have_attribute("data-scale", "log")
    act_axis = page.locator("g.pc-axis[data-axis='model.act']")
    expect(act_axis).to_have_attribute("data-scale", "category")
    expect(page.locator("h1")).to_have_text(SWEEP_NAME)
    expect(page.locator("#sweep-counts")).to_contain_text("finished 8")
    run_link = page.locator(
        f"tr[data-trial='0'] a[href='/runs/{site.sweep.run_ids[0]}']"
    )
    expect(run_link).to_have_count(1)


def test_brushing_axes_filters_the_trials_and_double_click_clears_one(
    watch: PageWatch, site: SweepSite
) -> None:
    page = open_sweep(watch, site)
    plot = page.locator("#parallel")

    # model.act holds relu, tanh, gelu (the pending trial), bottom to top.
    brush(page, "model.act", 0.02, 0.3)
    expect(plot).to_have_attribute("data-selected", str(len(RELU)))
    wait_until(page, lambda: set(trial_rows(page)) == RELU, "only the relu trials")
    expect(page.locator("#trials-shown")).to_contain_text("4 of 9 trials")

    # A second brush narrows (AND): lr 0.01 and above, on a log axis.
    brush(page, "optim.lr", 0.45, 1.05)
    expect(plot).to_have_attribute("data-selected", "2")
    wait_until(page, lambda: set(trial_rows(page)) == {4, 6}, "relu with lr >= 0.01")

    page.mouse.dblclick(*axis_centre(page, "model.act"))
    expect(plot).to_have_attribute("data-selected", "5")
    wait_until(page, lambda: set(trial_rows(page)) == {4, 5, 6, 7, 8}, "lr >= 0.01")
    expect(plot).to_have_attribute("data-lines", str(TRIALS))


def test_brushes_live_in_the_url_and_come_back_on_reload(
    watch: PageWatch, site: SweepSite
) -> None:
    page = open_sweep(watch, site)
    plot = page.locator("#parallel")
    brush(page, "model.act", 0.02, 0.3)
    brush(page, "optim.lr", 0.45, 1.05)
    expect(plot).to_have_attribute("data-selected", "2")
    assert "brush=" in page.url

    page.reload()
    watch.wait_ready()

    expect(plot).to_have_attribute("data-selected", "2")
    wait_until(page, lambda: set(trial_rows(page)) == {4, 6}, "the same two trials")
    expect(
        page.locator("g.pc-axis[data-axis='optim.lr'] rect.pc-brush")
    ).to_be_visible()
    page.click("#pc-clear")
    expect(plot).to_have_attribute("data-selected", str(TRIALS))
    wait_until(page, lambda: "brush=" not in page.url, "the brushes gone from the URL")


def test_an_unreadable_brush_parameter_is_ignored(
    watch: PageWatch, site: SweepSite
) -> None:
    bad = '{"model.act":[0.5,0.1],"optim.lr":"x","seed":[0,2]}'
    page = watch.open(f"/sweeps/{site.sweep.sweep_id}?brush={bad}")

    expect(page.locator("#parallel")).to_have_attribute("data-selected", str(TRIALS))
    assert sorted(trial_rows(page)) == list(range(TRIALS))


def test_sorting_by_the_objective_orders_trials_with_missing_last(
    watch: PageWatch, site: SweepSite
) -> None:
    page = open_sweep(watch, site)
    best = {i: best_val_acc(lr, act) for i, (lr, act) in enumerate(GRID)}
    ascending = sorted(best, key=lambda i: (best[i], i))
    header = "th[data-column='metric.val/acc.max']"

    page.click(header)
    wait_until(page, lambda: trial_rows(page) == [*ascending, 8], "ascending")
    page.click(header)
    descending = sorted(best, key=lambda i: (-best[i], i))
    wait_until(page, lambda: trial_rows(page) == [*descending, 8], "descending")
    assert "sort=-metric.val/acc.max" in page.url


def test_choosing_a_metric_replaces_the_last_axis_and_keeps_it_in_the_url(
    watch: PageWatch, site: SweepSite
) -> None:
    page = open_sweep(watch, site)

    page.select_option("#pc-metric", "train/loss.last")

    expect(page.locator("g.pc-axis[data-axis='train/loss.last']")).to_have_count(1)
    expect(page.locator("g.pc-axis[data-axis='val/acc.max']")).to_have_count(0)
    assert "metric=train/loss.last" in page.url
    page.reload()
    watch.wait_ready()
    expect(page.locator("#pc-metric")).to_have_value("train/loss.last")


def test_sweeps_list_links_each_sweep_and_shows_markup_as_text(
    watch: PageWatch, site: SweepSite
) -> None:
    page = watch.open("/sweeps")

    rows = page.locator("#sweeps-table tbody tr[data-sweep-id]")
    expect(rows).to_have_count(3)
    expect(page.locator("#sweeps-table")).to_contain_text(MARKUP)
    assert page.locator("#sweeps-table img").count() == 0
    expect(page.locator("#topbar nav a.active")).to_have_text("Sweeps")

    page.click(f"tr[data-sweep-id='{site.sweep.sweep_id}'] a")
    page.wait_for_url(re.compile(f"/sweeps/{site.sweep.sweep_id}$"))
    watch.wait_ready()
    expect(page.locator("#parallel")).to_have_attribute("data-lines", str(TRIALS))


def test_sweep_with_markup_in_its_name_and_values_runs_nothing(
    watch: PageWatch, site: SweepSite
) -> None:
    page = watch.open(f"/sweeps/{site.markup_id}")

    expect(page.locator("h1")).to_have_text(MARKUP)
    expect(page.locator("#sweep-trials")).to_contain_text(MARKUP)
    expect(page.locator("#parallel")).to_have_attribute("data-lines", "1")
    page.wait_for_timeout(300)
    assert page.locator("#app img").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_unknown_sweep_shows_the_error_and_a_way_back(
    watch: PageWatch, site: SweepSite
) -> None:
    watch.allow(r"status of 404")
    page = watch.open("/sweeps/sw-nope")

    expect(page.locator("#error-banner")).to_contain_text("No sweep 'sw-nope'")
    expect(page.locator("#app a[href='/sweeps']")).to_have_count(1)


def test_sweep_with_running_trials_shows_their_end_without_a_reload(
    watch: PageWatch, site: SweepSite
) -> None:
    page = watch.open(f"/sweeps/{site.live_id}")
    counts = page.locator("#sweep-counts")
    expect(counts).to_have_text("running 1")

    live = read_sweep(site.store, site.live_id)
    live.trials[0].state = "finished"
    live.save()

    expect(counts).to_have_text("finished 1", timeout=12_000)
