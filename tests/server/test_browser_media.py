"""Media on the page of `runlab ui` in a real browser (Chromium driven by Playwright).

One real ``runlab ui`` serves a store of two runs that logged media with
``Run.log_image`` and its siblings: ``samples`` images at steps 0, 1 (twice)
and 2 in both runs; a histogram over three steps, a table, a text holding
markup and an image under a name made of markup in the first. A test fails
when the page logged a console error (CSP violations among them), threw, or
opened a dialog.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from browser_kit import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PageWatch,
    UiServer,
    isolated_runs,
    wait_until,
)
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

import runlab
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

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MARKUP = "<img src=x onerror=window.__pwned=1>"
HIST = "weights/fc1"
# Width of the image at each step, so a loaded image tells its step.
WIDTHS = {0: 10, 1: 12, 2: 14}


@dataclass
class MediaSite:
    url: str
    first: str
    second: str


def _image(width: int, shade: int) -> np.ndarray:
    return np.full((8, width, 3), shade, dtype=np.uint8)


def _log_samples(run: runlab.Run, shade: int) -> None:
    for step, width in WIDTHS.items():
        run.log_image("samples", _image(width, shade + 10 * step), step=step)
    run.log_image("samples", _image(WIDTHS[1], 0), step=1)


def _log_first(run: runlab.Run) -> None:
    _log_samples(run, 200)
    # Bins [0, 1), [1, 2), [2, 3]: counts 5,1,0 then 2,3,1 then 0,1,5.
    for step, counts in enumerate(((5, 1, 0), (2, 3, 1), (0, 1, 5))):
        values = [bin_ + 0.5 for bin_, n in enumerate(counts) for _ in range(n)]
        run.log_histogram(HIST, values, step=step, bins=[0.0, 1.0, 2.0, 3.0])
    rows = [["cat", 0.25], ["dog", 0.9], ["fox", math.nan], ["eel", 0.5]]
    run.log_table("predictions", rows, step=3, columns=["label", "p"])
    run.log_text("generated", f"once upon a time {MARKUP}", step=3)
    run.log_image(MARKUP, _image(4, 90), step=0)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaSite]:
    tmp = tmp_path_factory.mktemp("browser-media")
    store = tmp / "experiments"
    with isolated_runs(tmp):
        first = runlab.start(store=store, name="first")
        _log_first(first)
        first.finish()
        second = runlab.start(store=store, name="second")
        _log_samples(second, 30)
        second.finish()
    server = UiServer(store, tmp)
    yield MediaSite(server.url, first.id, second.id)
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
    request: pytest.FixtureRequest, browser: Browser, site: MediaSite
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


def open_media(watch: PageWatch, path: str) -> Page:
    page = watch.open(path)
    page.wait_for_selector("#media[data-media-ready='1']", state="attached")
    return page


def loaded_widths(images: Locator) -> list[int]:
    """naturalWidth of each image, 0 for one not loaded (yet)."""
    widths: list[int] = images.evaluate_all(
        "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)"
    )
    return widths


def test_image_grid_shows_the_last_step_and_the_slider_moves_it(
    watch: PageWatch, site: MediaSite
) -> None:
    page = open_media(watch, f"/runs/{site.first}")
    view = page.locator("div.media-images[data-name='samples']")
    images = view.locator("img.media-image")

    expect(view).to_have_attribute("data-step", "2")
    expect(images).to_have_count(1)
    expect(images).to_have_attribute(
        "src", f"/runs/{site.first}/media-file/images/samples/2.png"
    )
    wait_until(page, lambda: loaded_widths(images) == [WIDTHS[2]], "step 2 loaded")

    view.locator("input[type=range].media-step").focus()
    page.keyboard.press("ArrowLeft")

    expect(view).to_have_attribute("data-step", "1")
    expect(images).to_have_count(2)
    assert images.evaluate_all("imgs => imgs.map(i => i.getAttribute('src'))") == [
        f"/runs/{site.first}/media-file/images/samples/1.png",
        f"/runs/{site.first}/media-file/images/samples/1-1.png",
    ]
    wait_until(page, lambda: loaded_widths(images) == [WIDTHS[1]] * 2, "step 1 loaded")


def test_an_image_name_of_markup_is_text_and_its_file_loads(
    watch: PageWatch, site: MediaSite
) -> None:
    page = open_media(watch, f"/runs/{site.first}")

    heads = page.locator("#media h3.media-name").all_inner_texts()
    assert any(head.startswith(MARKUP) for head in heads), heads
    images = page.locator("#media img.media-image")
    wait_until(
        page, lambda: all(w > 0 for w in loaded_widths(images)), "every image loaded"
    )
    assert page.locator("#media img[src='x']").count() == 0
    assert page.evaluate("window.__pwned") is None


def _painted_pixels(page: Page, name: str) -> int:
    count: int = page.locator(
        f"div.media-histogram[data-name='{name}'] canvas"
    ).evaluate(
        """c => {
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             let n = 0;
             for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n += 1;
             return n;
           }"""
    )
    return count


def test_histogram_draws_a_heat_map_of_three_steps_and_a_ridge_plot(
    watch: PageWatch, site: MediaSite
) -> None:
    page = open_media(watch, f"/runs/{site.first}")
    view = page.locator(f"div.media-histogram[data-name='{HIST}']")

    expect(view).to_have_attribute("data-steps", "3")
    expect(view).to_have_attribute("data-mode", "heatmap")
    heat = _painted_pixels(page, HIST)
    assert heat > 1000, heat

    view.locator("select.histogram-mode").select_option("ridge")

    expect(view).to_have_attribute("data-mode", "ridge")
    expect(view).to_have_attribute("data-steps", "3")
    assert _painted_pixels(page, HIST) > 0


def test_table_sorts_numbers_on_a_header_click_with_nan_last(
    watch: PageWatch, site: MediaSite
) -> None:
    page = open_media(watch, f"/runs/{site.first}")
    view = page.locator("div.media-table[data-name='predictions']")
    first_column = view.locator("table.media-table-grid tbody tr td:first-child")

    expect(view).to_have_attribute("data-step", "3")
    expect(first_column).to_have_text(["cat", "dog", "fox", "eel"])

    view.locator("th[data-col='1']").click()
    expect(first_column).to_have_text(["cat", "eel", "dog", "fox"])
    view.locator("th[data-col='1']").click()
    expect(first_column).to_have_text(["dog", "eel", "cat", "fox"])
    expect(view.locator("th[data-col='1']")).to_have_attribute(
        "aria-sort", "descending"
    )


def test_text_is_shown_as_text(watch: PageWatch, site: MediaSite) -> None:
    page = open_media(watch, f"/runs/{site.first}")
    body = page.locator("div.media-text[data-name='generated'] pre.media-text-body")

    expect(body).to_have_text(f"once upon a time {MARKUP}")
    assert body.locator("img").count() == 0


def test_compare_shows_both_runs_images_side_by_side_at_one_step(
    watch: PageWatch, site: MediaSite
) -> None:
    page = watch.open(f"/compare?runs={site.first},{site.second}")
    page.wait_for_selector("#media[data-media-ready='1']", state="attached")
    view = page.locator("div.media-compare[data-name='samples']")
    columns = view.locator("div.media-compare-run")

    expect(columns).to_have_count(2)
    assert columns.evaluate_all("cs => cs.map(c => c.dataset.runId)") == [
        site.first,
        site.second,
    ]
    images = view.locator("img.media-image")
    wait_until(
        page, lambda: loaded_widths(images) == [WIDTHS[2]] * 2, "both step 2 images"
    )
    boxes = [images.nth(i).bounding_box() for i in range(2)]
    assert boxes[0] and boxes[1] and boxes[0]["x"] < boxes[1]["x"]
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 1, boxes

    view.locator("input.media-step").focus()
    page.keyboard.press("Home")

    expect(view).to_have_attribute("data-step", "0")
    for column, run_id in zip(columns.all(), (site.first, site.second), strict=True):
        expect(column.locator("img.media-image")).to_have_attribute(
            "src", f"/runs/{run_id}/media-file/images/samples/0.png"
        )
    wait_until(
        page, lambda: loaded_widths(images) == [WIDTHS[0]] * 2, "both step 0 images"
    )
    expect(page.locator(f"div.media-compare[data-name='{HIST}']")).to_have_count(0)


def test_a_running_run_shows_new_media_unless_the_reader_looks_back(
    browser: Browser, tmp_path: Path
) -> None:
    store = tmp_path / "experiments"
    with isolated_runs(tmp_path):
        run = runlab.start(store=store, name="live")
        run.log_image("samples", _image(WIDTHS[0], 50), step=0)
        server = UiServer(store, tmp_path)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            watch = PageWatch(context.new_page(), server.url)
            page = open_media(watch, f"/runs/{run.id}")
            view = page.locator("div.media-images[data-name='samples']")
            expect(view).to_have_attribute("data-step", "0")

            # New items while the reader follows the newest: shown at once.
            run.log_image("samples", _image(WIDTHS[1], 60), step=1)
            run.log_image("later", _image(WIDTHS[2], 70), step=1)
            expect(view).to_have_attribute("data-step", "1", timeout=12_000)
            expect(page.locator("div.media-images[data-name='later']")).to_have_count(1)
            assert loaded_widths(view.locator("img.media-image")) in ([0], [WIDTHS[1]])

            # The reader went back to step 0: a new step waits for them.
            view.locator("input.media-step").focus()
            page.keyboard.press("Home")
            expect(view).to_have_attribute("data-step", "0")
            media = f"/api/runs/{run.id}/media"
            with page.expect_response(lambda r: r.url.endswith(media), timeout=12_000):
                run.log_image("samples", _image(WIDTHS[2], 80), step=2)
            expect(view).to_have_attribute("data-step", "0")
            view.locator("input.media-step").focus()
            page.keyboard.press("End")
            expect(view).to_have_attribute("data-step", "2", timeout=12_000)
            assert not watch.problems, "\n".join(watch.problems)
        finally:
            context.close()
            run.finish()
            server.stop()
