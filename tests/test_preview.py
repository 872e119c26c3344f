"""data_preview: a sample grid and histograms of a dataset, logged to a real run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image

import runlab
from runlab.preview import make_grid, spread
from runlab.store.media import MediaError

pytestmark = pytest.mark.usefixtures("runlab_env")


@pytest.fixture
def run() -> Iterator[runlab.Run]:
    with runlab.start() as run:
        yield run


def _pixels(item: Any) -> np.ndarray[Any, Any]:
    with Image.open(item.path) as image:
        return np.asarray(image)


class Pairs:
    """A map-style dataset as PyTorch defines one: ``__len__`` and ``(x, y)`` items."""

    def __init__(self, xs: Any, ys: Any) -> None:
        self.xs = xs
        self.ys = ys
        self.reads = 0

    def __len__(self) -> int:
        return len(self.xs)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        self.reads += 1
        return self.xs[index], self.ys[index]


def test_digits_get_a_grid_of_64_and_a_label_histogram(run: runlab.Run) -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()

    logged = runlab.data_preview(run, digits.images, digits.target)
    stored = runlab.load_run(run.id)
    [grid] = stored.media("data/samples")
    [labels] = stored.media("data/labels")

    assert sorted(logged) == ["data/labels", "data/samples"]
    # 8 x 8 tiles of 8 x 8 pixels, 2 pixels apart and around.
    assert _pixels(grid).shape == (82, 82)
    assert grid.data["caption"] == (
        "64 of 1797 items, evenly spaced; scaled from [0, 16] to [0, 1]"
    )
    assert labels.data["counts"] == np.bincount(digits.target).tolist()
    assert labels.data["edges"] == [k - 0.5 for k in range(11)]


def test_grid_tiles_show_the_evenly_spaced_items(run: runlab.Run) -> None:
    images = np.stack([np.full((3, 4), i, dtype=np.uint8) for i in range(10)])

    runlab.data_preview(run, images, max_images=4)
    [grid] = runlab.load_run(run.id).media("data/samples")
    pixels = _pixels(grid)

    # Two columns of two; items 0, 3, 6 and 9 of ten, at their tile corners.
    assert pixels.shape == (2 * 5 + 2, 2 * 6 + 2)
    assert [pixels[2, 2], pixels[2, 8], pixels[7, 2], pixels[7, 8]] == [0, 3, 6, 9]
    assert pixels[0, 0] == 128


def test_a_torch_dataset_of_pairs_gives_labels_from_its_items(
    run: runlab.Run,
) -> None:
    torch = pytest.importorskip("torch")
    xs = torch.rand(100, 3, 6, 5)
    ys = torch.arange(100) % 4
    dataset = torch.utils.data.TensorDataset(xs, ys)

    logged = runlab.data_preview(run, dataset, name="train", max_images=9)

    assert sorted(logged) == ["train/labels", "train/samples"]
    assert _pixels(logged["train/samples"]).shape == (3 * 8 + 2, 3 * 7 + 2, 3)
    assert logged["train/labels"].data["counts"] == [25, 25, 25, 25]


def test_a_dataset_with_targets_is_not_read_for_its_labels(run: runlab.Run) -> None:
    images = np.zeros((50, 4, 4), dtype=np.uint8)
    dataset = Pairs(images, [i % 2 for i in range(50)])
    dataset.targets = dataset.ys  # type: ignore[attr-defined]

    logged = runlab.data_preview(run, dataset, max_images=4)

    assert dataset.reads == 1 + 4
    assert logged["data/labels"].data["counts"] == [25, 25]


def test_a_dataset_is_read_at_most_max_items_times_for_labels(
    run: runlab.Run,
) -> None:
    dataset = Pairs(np.zeros((1000, 4, 4), dtype=np.uint8), list(range(1000)))

    logged = runlab.data_preview(run, dataset, max_images=4, max_items=100)

    assert dataset.reads == 1 + 4 + 100
    assert logged["data/labels"].data["count"] == 100


def test_tabular_data_gets_a_histogram_per_feature_up_to_32(
    run: runlab.Run,
) -> None:
    table = np.random.default_rng(1).normal(size=(200, 40))

    logged = runlab.data_preview(run, table, name="x")
    [feature_5] = runlab.load_run(run.id).media("x/feature_5")
    counts, edges = np.histogram(table[:, 5], bins=64)

    assert sorted(logged) == sorted(f"x/feature_{i}" for i in range(32))
    assert feature_5.data["counts"] == counts.tolist()
    assert feature_5.data["edges"] == edges.tolist()


def test_a_dataset_of_feature_rows_gets_feature_histograms(run: runlab.Run) -> None:
    rows = np.arange(30, dtype=np.float64).reshape(10, 3)
    dataset = Pairs(rows, ["a", "b"] * 5)

    logged = runlab.data_preview(run, dataset)

    assert sorted(logged) == [
        "data/feature_0",
        "data/feature_1",
        "data/feature_2",
        "data/labels",
    ]
    assert logged["data/feature_1"].data["min"] == 1.0
    assert logged["data/feature_1"].data["max"] == 28.0


def test_labels_that_are_not_numbers_get_a_table_of_counts(run: runlab.Run) -> None:
    images = np.zeros((5, 4, 4), dtype=np.uint8)

    runlab.data_preview(run, images, ["cat", "dog", "cat", "cat", "dog"])
    [item] = runlab.load_run(run.id).media("data/labels")

    assert item.kind == "table"
    assert item.path is not None
    assert item.path.read_text() == (
        '{"columns":["label","count"],"rows":[["cat",3],["dog",2]]}\n'
    )


def test_labels_must_be_one_per_item(run: runlab.Run) -> None:
    images = np.zeros((5, 4, 4), dtype=np.uint8)

    with pytest.raises(MediaError) as raised:
        runlab.data_preview(run, images, [0, 1])

    assert str(raised.value) == (
        "data_preview needs one label per item: 5 labels, not an array of shape (2,)."
    )
    assert runlab.load_run(run.id).media_names() == []  # nothing logged


def test_a_preview_clashing_with_logged_media_logs_nothing(run: runlab.Run) -> None:
    images = np.zeros((5, 4, 4), dtype=np.uint8)
    runlab.data_preview(run, images, [0, 1, 0, 1, 0])

    with pytest.raises(MediaError) as raised:
        runlab.data_preview(run, images, ["a", "b", "a", "b", "a"], step=1)

    assert str(raised.value) == (
        f"Media 'data/labels' of run {run.id} holds histograms; this preview would "
        "log a table: give data_preview another name=."
    )
    stored = runlab.load_run(run.id)
    assert [i.step for i in stored.media("data/samples")] == [0]
    assert [i.step for i in stored.media("data/labels")] == [0]


def test_empty_data_is_refused(run: runlab.Run) -> None:
    with pytest.raises(MediaError) as raised:
        runlab.data_preview(run, np.zeros((0, 8, 8)))

    assert str(raised.value) == (
        "data_preview was given no items; pass a non-empty dataset."
    )


def test_spread_picks_evenly_spaced_indices_with_both_ends() -> None:
    assert spread(10, 4) == [0, 3, 6, 9]
    assert spread(3, 5) == [0, 1, 2]
    assert spread(7, 1) == [0]


def test_make_grid_pads_between_and_around_tiles() -> None:
    images = np.ones((5, 2, 3, 3), dtype=np.float32)

    grid = make_grid(images, pad=1, fill=0.0)

    # ceil(sqrt(5)) = 3 columns, 2 rows.
    assert grid.shape == (2 * 3 + 1, 3 * 4 + 1, 3)
    assert grid.sum() == 5 * 2 * 3 * 3


def test_a_dataset_of_items_of_different_shapes_is_refused(run: runlab.Run) -> None:
    dataset = Pairs([np.zeros(3), np.zeros(2)], [0, 1])

    with pytest.raises(MediaError) as raised:
        runlab.data_preview(run, dataset)

    assert str(raised.value) == (
        "The dataset's items have different shapes ((2,), (3,)); data_preview "
        "needs items of one shape."
    )


def test_a_feature_that_cannot_be_binned_logs_no_feature(run: runlab.Run) -> None:
    rows = np.random.default_rng(0).random((50, 3))
    rows[0, 2] = 1e308
    rows[1, 2] = -1e308

    with pytest.raises(MediaError, match="feature_2' cannot be binned"):
        runlab.data_preview(run, rows)

    assert runlab.load_run(run.id).media_names() == []


def test_dict_items_and_an_empty_name_are_refused_clearly(run: runlab.Run) -> None:
    dataset = [{"image": np.zeros((4, 4)), "label": 0}] * 3

    with pytest.raises(MediaError, match="The dataset's items are dicts"):
        runlab.data_preview(run, dataset)
    with pytest.raises(MediaError, match="data_preview needs a name"):
        runlab.data_preview(run, np.zeros((3, 4, 4)), name="")


def test_list_pairs_with_an_array_give_labels(run: runlab.Run) -> None:
    dataset = [[np.full((4, 4), i / 4), i % 2] for i in range(4)]

    logged = runlab.data_preview(run, dataset)

    assert sorted(logged) == ["data/labels", "data/samples"]
