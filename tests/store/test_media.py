"""Media of a run: images as PNG, histograms, tables and text, and their index.

Every test logs through a real run in a temporary store and reads back the
files with Pillow and the index through ``runlab.load_run``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image

import runlab
from runlab.errors import RunFinished, RunlabError, StoreError
from runlab.store.media import (
    MediaError,
    MediaWriter,
    list_media,
    read_media_index,
)

pytestmark = pytest.mark.usefixtures("runlab_env")


@pytest.fixture
def run() -> Iterator[runlab.Run]:
    with runlab.start() as run:
        yield run


def _png(run: runlab.Run, name: str) -> Image.Image:
    [item] = runlab.load_run(run.id).media(name)
    assert item.path is not None and item.path.suffix == ".png"
    with Image.open(item.path) as image:
        image.load()
        return image


def _index(run: runlab.Run) -> list[dict[str, Any]]:
    assert run.path is not None
    lines = (run.path / "media" / "index.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


# -- images --------------------------------------------------------------------


RNG = np.random.default_rng(0)
GREY = RNG.integers(0, 256, size=(5, 7), dtype=np.uint8)
RGB = RNG.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
RGBA = RNG.integers(0, 256, size=(5, 7, 4), dtype=np.uint8)


@pytest.mark.parametrize(
    ("image", "mode", "pixels"),
    [
        (GREY, "L", GREY),
        (RGB, "RGB", RGB),
        (RGBA, "RGBA", RGBA),
        (RGB.transpose(2, 0, 1), "RGB", RGB),
        (GREY[None], "L", GREY),
        (GREY[..., None], "L", GREY),
        (GREY / 255.0, "L", GREY),
        (RGB.astype(np.float32) / 255, "RGB", RGB),
        (GREY.astype(np.int64), "L", GREY),
        (GREY > 127, "L", np.where(GREY > 127, 255, 0)),
    ],
    ids=[
        "HW",
        "HWC3",
        "HWC4",
        "CHW3",
        "CHW1",
        "HWC1",
        "float-HW",
        "float32-HWC",
        "int64",
        "bool",
    ],
)
def test_numpy_images_round_trip_to_png_with_their_shape_and_pixels(
    run: runlab.Run, image: np.ndarray[Any, Any], mode: str, pixels: Any
) -> None:
    item = run.log_image("samples", image, step=1)
    png = _png(run, "samples")

    assert (png.mode, png.size) == (mode, (7, 5))
    assert np.array_equal(np.asarray(png), pixels)
    assert item is not None
    assert (item.data["width"], item.data["height"]) == (7, 5)
    assert item.data["channels"] == len(mode)


def test_channels_last_wins_when_both_ends_could_be_channels(
    run: runlab.Run,
) -> None:
    image = RNG.integers(0, 256, size=(3, 4, 3), dtype=np.uint8)
    run.log_image("tie", image)

    png = _png(run, "tie")

    assert (png.mode, png.size) == ("RGB", (4, 3))


@pytest.mark.parametrize(
    ("mode", "expected"), [("RGB", "RGB"), ("LA", "RGBA"), ("1", "L"), ("P", "RGB")]
)
def test_pil_images_are_saved_in_a_mode_of_1_3_or_4_channels(
    run: runlab.Run, mode: str, expected: str
) -> None:
    image = Image.fromarray(RGB).convert(mode)

    run.log_image("pil", image, step=0)
    png = _png(run, "pil")

    assert (png.mode, png.size) == (expected, (7, 5))
    assert np.array_equal(np.asarray(png), np.asarray(image.convert(expected)))


def test_torch_tensor_chw_is_saved_as_rgb(run: runlab.Run) -> None:
    torch = pytest.importorskip("torch")
    tensor = torch.from_numpy(RGB.transpose(2, 0, 1).astype(np.float32) / 255)

    run.log_image("tensor", tensor.requires_grad_(), step=2, caption="from torch")
    png = _png(run, "tensor")

    assert (png.mode, png.size) == ("RGB", (7, 5))
    assert np.array_equal(np.asarray(png), RGB)
    assert _index(run)[0]["caption"] == "from torch"


def test_bfloat16_tensor_is_read_as_float32(run: runlab.Run) -> None:
    torch = pytest.importorskip("torch")
    tensor = torch.full((4, 6), 0.5, dtype=torch.bfloat16)

    run.log_image("half", tensor)

    assert np.array_equal(np.asarray(_png(run, "half")), np.full((4, 6), 128))


def test_matplotlib_figure_is_rendered_at_its_size(run: runlab.Run) -> None:
    figure_module = pytest.importorskip("matplotlib.figure")
    figure = figure_module.Figure(figsize=(2, 1.5), dpi=50)
    figure.add_subplot().plot([0, 1], [1, 0])

    run.log_image("curve", figure, step=3)
    png = _png(run, "curve")

    assert (png.mode, png.size) == ("RGBA", (100, 75))
    assert _index(run)[0]["channels"] == 4


def test_float_image_outside_0_1_names_the_range_found(run: runlab.Run) -> None:
    image = np.linspace(-0.5, 2.25, 12).reshape(3, 4)

    with pytest.raises(MediaError) as raised:
        run.log_image("samples", image)

    assert str(raised.value) == (
        "Image 'samples' has float values from -0.5 to 2.25; float images must "
        "lie in [0, 1]: divide by 255 if they run to 255, or clip."
    )
    assert isinstance(raised.value, ValueError)
    assert isinstance(raised.value, RunlabError)


def test_4d_batch_says_to_log_each_image_or_make_a_grid(run: runlab.Run) -> None:
    with pytest.raises(MediaError) as raised:
        run.log_image("samples", np.zeros((16, 3, 32, 32), dtype=np.uint8))

    assert str(raised.value) == (
        "Image 'samples' is a batch of 16 images (shape (16, 3, 32, 32)); "
        "log each image (image[0] for a batch of one), or make a grid first."
    )


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (
            np.zeros((8, 8, 5)),
            "Image 'x' has shape (8, 8, 5): neither its first nor its last axis "
            "holds 1, 3 or 4 channels.",
        ),
        (np.zeros((0, 8)), "Image 'x' is empty (shape (0, 8))."),
        (
            np.array([[0.5, math.nan]]),
            "Image 'x' holds NaN values; replace them (numpy.nan_to_num) before "
            "logging it.",
        ),
        (
            np.array([[0, 300]]),
            "Image 'x' has integer values from 0 to 300; integer images must lie "
            "in 0..255: scale them, or log floats in [0, 1].",
        ),
        (
            [[0, 1], [1, 0]],
            "Image 'x' is a list; log a NumPy array (HW, HWC or CHW), a PIL "
            "image, a torch tensor or a Matplotlib figure.",
        ),
        (np.zeros(8), "Image 'x' has shape (8,); an image is HW, HWC or CHW."),
    ],
    ids=["channels", "empty", "nan", "int-range", "list", "1-D"],
)
def test_images_that_cannot_be_shown_are_refused_with_a_reason(
    run: runlab.Run, image: Any, message: str
) -> None:
    with pytest.raises(MediaError) as raised:
        run.log_image("x", image)

    assert str(raised.value) == message
    assert run.path is not None and not (run.path / "media").exists()


def test_a_name_logged_twice_at_a_step_gets_a_numbered_file(
    run: runlab.Run,
) -> None:
    for _ in range(3):
        run.log_image("samples", GREY, step=4)

    files = [item.data["file"] for item in runlab.load_run(run.id).media("samples")]

    assert files == [
        "images/samples/4.png",
        "images/samples/4-1.png",
        "images/samples/4-2.png",
    ]


def test_names_with_slashes_get_a_hashed_folder_and_keep_their_name(
    run: runlab.Run,
) -> None:
    run.log_image("val/Samples", GREY, step=0)

    [entry] = _index(run)

    assert entry["name"] == "val/Samples"
    assert entry["file"].startswith("images/val_Samples~")
    assert run.path is not None and (run.path / "media" / entry["file"]).is_file()


def test_default_step_is_the_last_logged_step_and_moves_no_counter(
    run: runlab.Run,
) -> None:
    run.log_text("before", "no point yet")
    run.log({"loss": 1.0}, step=7)
    run.log_image("after", GREY)
    run.log({"loss": 0.5})
    run.finish()
    stored = runlab.load_run(run.id)

    assert stored.media("before")[0].step == 0
    assert stored.media("after")[0].step == 7
    assert stored.metric("loss").steps.tolist() == [7, 8]


# -- histograms ----------------------------------------------------------------


def test_histogram_bins_and_counts_equal_numpy_histogram(run: runlab.Run) -> None:
    values = RNG.normal(size=1000)

    run.log_histogram("weights/fc1", values, step=1, bins=20)
    [item] = runlab.load_run(run.id).media("weights/fc1")
    counts, edges = np.histogram(values, bins=20)

    assert item.kind == "histogram" and item.path is None
    assert item.data["counts"] == counts.tolist()
    assert item.data["edges"] == edges.tolist()
    assert item.data["bins"] == 20
    assert (item.data["min"], item.data["max"]) == (values.min(), values.max())
    assert (item.data["count"], item.data["nonfinite"]) == (1000, 0)


def test_histogram_counts_nan_and_inf_apart_from_the_bins(run: runlab.Run) -> None:
    values = [1.0, 2.0, math.nan, math.inf, -math.inf, 3.0]

    run.log_histogram("h", values)
    [entry] = _index(run)
    counts, edges = np.histogram([1.0, 2.0, 3.0], bins=64)

    assert (entry["count"], entry["nonfinite"]) == (3, 3)
    assert entry["counts"] == counts.tolist()
    assert entry["edges"] == edges.tolist()


def test_histogram_takes_tensors_of_any_shape_and_bin_edges(run: runlab.Run) -> None:
    torch = pytest.importorskip("torch")
    tensor = torch.arange(12, dtype=torch.float32).reshape(3, 4)

    run.log_histogram("t", tensor, bins=[0, 4, 8, 12])
    [entry] = _index(run)

    assert entry["counts"] == [4, 4, 4]
    assert entry["edges"] == [0.0, 4.0, 8.0, 12.0]
    assert entry["bins"] == 3


def test_histogram_of_no_finite_values_has_no_min_or_max(run: runlab.Run) -> None:
    run.log_histogram("empty", [math.nan])

    [entry] = _index(run)

    assert (entry["min"], entry["max"], entry["count"]) == (None, None, 0)
    assert sum(entry["counts"]) == 0 and entry["nonfinite"] == 1


@pytest.mark.parametrize(
    ("values", "bins", "message"),
    [
        (
            ["a", "b"],
            64,
            "Histogram 'h' needs numbers (a list, an array or a tensor, of one "
            "shape); got list.",
        ),
        ([1.0], 0, "Histogram 'h' asks for 0 bins; give 1 to 10000."),
        ([1.0], [1.0], "Histogram 'h' needs 2 to 10001 finite bin edges."),
        (
            [1.0],
            [2.0, 1.0],
            "Histogram 'h' cannot be binned (`bins` must increase monotonically, "
            "when an array); give other bins.",
        ),
    ],
)
def test_histogram_of_non_numbers_or_bad_bins_is_refused(
    run: runlab.Run, values: Any, bins: Any, message: str
) -> None:
    with pytest.raises(MediaError) as raised:
        run.log_histogram("h", values, bins=bins)

    assert str(raised.value) == message


# -- tables and text -------------------------------------------------------------


def _table(run: runlab.Run, name: str) -> dict[str, Any]:
    [item] = runlab.load_run(run.id).media(name)
    assert item.path is not None
    data: dict[str, Any] = json.loads(item.path.read_text())
    assert item.data["columns"] == data["columns"]
    assert item.data["rows"] == len(data["rows"])
    return data


def test_table_from_dicts_has_the_union_of_keys_in_order(run: runlab.Run) -> None:
    rows = [{"id": 1, "pred": np.int64(3)}, {"id": 2, "score": np.float32(0.5)}]

    run.log_table("predictions", rows, step=2)

    assert _table(run, "predictions") == {
        "columns": ["id", "pred", "score"],
        "rows": [[1, 3, None], [2, None, 0.5]],
    }


def test_table_from_lists_takes_given_columns_or_numbers_them(
    run: runlab.Run,
) -> None:
    run.log_table("named", [(1, "a"), (2, "b")], columns=["n", "letter"])
    run.log_table("numbered", [[1.0, math.nan], [math.inf, 2.0]])

    assert _table(run, "named") == {
        "columns": ["n", "letter"],
        "rows": [[1, "a"], [2, "b"]],
    }
    assert _table(run, "numbered") == {
        "columns": ["c0", "c1"],
        "rows": [[1.0, "NaN"], ["Infinity", 2.0]],
    }


def test_table_from_a_dataframe_keeps_its_columns(run: runlab.Run) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {"label": ["cat", "dog"], "p": [0.9, float("nan")], "n": [3, 4]},
        index=[10, 11],
    )

    run.log_table("frame", frame)
    run.log_table("picked", frame, columns=["n", "label"])

    assert _table(run, "frame") == {
        "columns": ["label", "p", "n"],
        "rows": [["cat", 0.9, 3], ["dog", "NaN", 4]],
    }
    assert _table(run, "picked") == {
        "columns": ["n", "label"],
        "rows": [[3, "cat"], [4, "dog"]],
    }


def test_table_with_rows_of_unequal_length_is_refused(run: runlab.Run) -> None:
    with pytest.raises(MediaError) as raised:
        run.log_table("t", [[1, 2], [3]])

    assert str(raised.value) == (
        "Table 't' has rows of [1, 2] cells for 2 columns; give every row one "
        "cell per column."
    )


def test_text_is_saved_as_utf8_with_its_length(run: runlab.Run) -> None:
    text = "Größe: 3 × 4\nzweite Zeile"

    run.log_text("generated", text, step=5)
    [item] = runlab.load_run(run.id).media("generated")

    assert item.path is not None
    assert item.path.read_bytes() == text.encode("utf-8")
    assert item.data == {"file": "text/generated/5.txt", "chars": len(text)}


# -- the index -------------------------------------------------------------------


def test_index_lines_have_the_documented_fields(run: runlab.Run) -> None:
    run.log_image("i", GREY, step=1)
    run.log_histogram("h", [1, 2], step=1, bins=2)
    run.log_table("t", [{"a": 1}], step=1)
    run.log_text("x", "hi", step=1)

    keys = [list(entry) for entry in _index(run)]

    common = ["name", "kind", "step", "time"]
    assert keys == [
        [*common, "file", "width", "height", "channels", "caption"],
        [*common, "edges", "counts", "min", "max", "count", "nonfinite", "bins"],
        [*common, "file", "columns", "rows"],
        [*common, "file", "chars"],
    ]


def test_media_lists_steps_in_order_whatever_the_logging_order(
    run: runlab.Run,
) -> None:
    for step in (5, 1, 3):
        run.log_histogram("h", [step], step=step)

    stored = runlab.load_run(run.id)

    assert [item.step for item in stored.media("h")] == [1, 3, 5]
    assert stored.media_names() == [("h", "histogram")]
    assert run.path is not None
    assert list_media(run.path) == [
        {"name": "h", "kind": "histogram", "steps": [1, 3, 5], "count": 3}
    ]


def test_media_of_an_unknown_name_names_the_known_ones(run: runlab.Run) -> None:
    run.log_text("notes", "x")

    with pytest.raises(KeyError) as raised:
        runlab.load_run(run.id).media("nope")

    assert raised.value.args[0] == (
        f"Run {run.id} has no media 'nope'; it has: 'notes'."
    )


def test_a_name_keeps_the_kind_it_was_first_logged_with(run: runlab.Run) -> None:
    run.log_text("out", "x")

    with pytest.raises(MediaError) as raised:
        run.log_histogram("out", [1.0])

    assert str(raised.value) == (
        f"Media 'out' of run {run.id} holds texts; log the histogram under "
        "another name."
    )


def test_index_survives_a_torn_last_line_and_goes_on_after_it(
    run: runlab.Run,
) -> None:
    assert run.path is not None
    run.log_text("a", "one", step=0)
    index = run.path / "media" / "index.jsonl"
    with open(index, "ab") as handle:
        handle.write(b'{"name": "a", "kind": "text", "st')

    assert [e["step"] for e in read_media_index(run.path)] == [0]

    # A new writer (a resumed run, say) starts its line after the torn one.
    MediaWriter(run.path).write_text("a", "two", step=1)
    assert [e["step"] for e in read_media_index(run.path)] == [0, 1]
    assert index.read_bytes().count(b"\n") == 3


def test_a_write_the_file_system_refuses_raises_store_error(
    run: runlab.Run,
) -> None:
    assert run.path is not None
    (run.path / "media").write_text("a file where the folder should be")

    with pytest.raises(StoreError) as raised:
        run.log_text("x", "hello")

    assert str(raised.value).startswith(f"Cannot write text 'x' of run {run.id}: ")
    assert str(raised.value).endswith(". Check the store's free space and permissions.")


def test_a_run_without_media_has_no_media_names(run: runlab.Run) -> None:
    assert runlab.load_run(run.id).media_names() == []


def test_finished_run_refuses_media(run: runlab.Run) -> None:
    run.finish()

    with pytest.raises(RunFinished) as raised:
        run.log_image("samples", GREY)

    assert str(raised.value) == f"Run {run.id} is finished and accepts no more images."
    with pytest.raises(RunFinished):
        run.log_histogram("h", [1.0])
    with pytest.raises(RunFinished):
        run.log_table("t", [])
    with pytest.raises(RunFinished):
        run.log_text("x", "late")


def test_disabled_rank_logs_no_media(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    run = runlab.start()

    assert run.log_image("samples", GREY) is None
    assert run.log_text("x", "y") is None
    assert run.path is None


def test_a_float_image_a_rounding_error_over_one_is_clipped(run: runlab.Run) -> None:
    image = np.full((2, 2), 0.5)
    image[0, 0] = 1.0000001
    image[0, 1] = -1e-9

    run.log_image("normalised", image, step=0)

    assert np.asarray(_png(run, "normalised")).tolist() == [[255, 0], [128, 128]]


def test_a_float_image_out_of_range_says_by_how_much(run: runlab.Run) -> None:
    image = np.full((2, 2), 0.5)
    image[0, 0] = 1.0001

    with pytest.raises(MediaError) as raised:
        run.log_image("wrong", image, step=0)

    assert "has float values from 0.5 to 1.0001;" in str(raised.value)


def test_a_2d_array_is_a_table_and_pandas_missing_values_are_null(
    run: runlab.Run,
) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "y": ["a", "b"],
            "when": pd.to_datetime(["2020-01-01", None]),
            "i": pd.array([1, None], dtype="Int64"),
        }
    ).set_index("y")

    run.log_table("grid", np.arange(6).reshape(2, 3))
    run.log_table("frame", frame)

    assert _table(run, "grid") == {
        "columns": ["c0", "c1", "c2"],
        "rows": [[0, 1, 2], [3, 4, 5]],
    }
    assert _table(run, "frame") == {
        "columns": ["y", "when", "i"],
        "rows": [["a", "2020-01-01T00:00:00", 1], ["b", None, None]],
    }


@pytest.mark.parametrize(
    ("log", "message"),
    [
        (
            lambda run: run.log_table("cube", np.zeros((2, 2, 2))),
            "Table 'cube' is an array of 3 dimensions; a table is 2-D",
        ),
        (
            lambda run: run.log_text("t", "a\ud800b"),
            "Text 't' holds a character UTF-8 cannot store (a lone surrogate, "
            "'\\ud800' at 1)",
        ),
        (
            lambda run: run.log_histogram("z", np.array([1 + 2j])),
            "Histogram 'z' got complex numbers",
        ),
    ],
)
def test_more_bad_media_get_one_clear_error(
    run: runlab.Run, log: Any, message: str, recwarn: pytest.WarningsRecorder
) -> None:
    with pytest.raises(MediaError) as raised:
        log(run)

    assert str(raised.value).startswith(message)
    assert runlab.load_run(run.id).media_names() == []
    assert not recwarn.list


def test_a_histogram_of_a_huge_range_warns_nothing(
    run: runlab.Run, recwarn: pytest.WarningsRecorder
) -> None:
    with pytest.raises(MediaError, match="cannot be binned"):
        run.log_histogram("wide", [-1e308, 1e308], step=0)

    assert not recwarn.list


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([[1, 2], [3]], "needs numbers (a list, an array or a tensor, of one shape)"),
        (None, "got None; give it numbers."),
    ],
)
def test_ragged_or_missing_histogram_values_get_one_clear_error(
    run: runlab.Run, values: Any, message: str
) -> None:
    with pytest.raises(MediaError, match=re.escape(message)):
        run.log_histogram("grads", values, step=0)


def test_histograms_of_near_constants_masked_arrays_and_numpy_bin_counts(
    run: runlab.Run,
) -> None:
    run.log_histogram("near", [1.0, np.nextafter(1.0, 2.0)], step=0)
    run.log_histogram("masked", np.ma.array([1, 2, 1000], mask=[0, 0, 1]), step=0)
    run.log_histogram("bins", [1, 2, 3], step=0, bins=np.int64(3))

    stored = runlab.load_run(run.id)
    near = stored.media("near")[0].data
    assert (near["count"], sum(near["counts"])) == (2, 2)
    assert stored.media("masked")[0].data["max"] == 2.0
    assert stored.media("bins")[0].data["bins"] == 3


def test_a_refused_kind_leaves_no_folder(run: runlab.Run) -> None:
    run.log_image("s", np.zeros((2, 2), dtype=np.uint8), step=0)

    with pytest.raises(MediaError, match="holds images; log the table"):
        run.log_table("s", [[1]], step=0)

    assert not (run.path / "media" / "tables").exists()


def test_an_image_slow_to_encode_is_said_once_per_name(
    run: runlab.Run, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from runlab.store import media

    monkeypatch.setattr(media, "SLOW_ENCODE_S", -1.0)  # every encode is "slow"
    image = np.zeros((30, 40, 3), dtype=np.uint8)

    for step in range(3):
        run.log_image("big", image, step=step)
    run.log_image("other", image, step=0)

    said = [r.getMessage() for r in caplog.records if "as PNG took" in r.getMessage()]
    assert len(said) == 2
    assert said[0].startswith("Encoding image 'big' (40x30) as PNG took ")
    assert said[0].endswith("log a smaller image (downscale it) or log it less often.")
