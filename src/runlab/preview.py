"""A look at a dataset before training on it, logged to a run as media.

:func:`data_preview` takes the data as training takes it (a NumPy array, a
torch tensor, or a dataset object with ``__len__`` and ``__getitem__``) and
logs under ``<name>/``:

- ``samples``: one image tiling up to ``max_images`` items, evenly spaced from
  the first to the last, when the items are images (HW, HWC or CHW);
- ``feature_<i>``: a histogram per feature (the first 32) when the items are
  rows of features, an array (N, F);
- ``labels``: a histogram of the labels (one bin per integer label) when
  labels are given or the dataset yields ``(x, y)`` tuples; labels that are
  not numbers get a table of counts instead.

Logging the same preview for two preprocessing variants, in two runs, lets
the run page compare them side by side. A dataset is read item by item, at
most ``max_items`` of them (evenly spaced), so a preview of a large one costs
a bounded number of reads; a ``targets`` attribute as long as the dataset
(torchvision's datasets have one) gives its labels without reading items.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runlab.store.media import (
    MediaError,
    is_torch_tensor,
    torch_to_numpy,
    with_article,
)

if TYPE_CHECKING:
    import numpy as np

    from runlab.run import Run
    from runlab.store.media import MediaItem

__all__ = ["data_preview", "make_grid"]

logger = logging.getLogger(__name__)

MAX_FEATURES = 32
# Integer labels spanning more values than this get equal bins, not one each.
MAX_LABEL_BINS = 1000
_CHANNELS = (1, 3, 4)


def data_preview(
    run: Run,
    data: Any,
    labels: Any = None,
    *,
    name: str = "data",
    max_images: int = 64,
    step: int = 0,
    max_items: int = 10_000,
) -> dict[str, MediaItem]:
    """Log a sample grid and histograms of ``data`` (and its labels) to ``run``.

    Args:
        data: images (N, H, W), (N, H, W, C) or (N, C, H, W); features (N, F);
            or a dataset whose items are ``x`` or ``(x, y, ...)``.
        labels: one label per item; by default, the ``y`` a dataset yields.
        name: the prefix of the media names (``data/samples``...).
        max_images: how many images the grid tiles at most.
        step: the step the media are logged at (one per variant, say).
        max_items: how many items of a dataset are read at most.

    Returns:
        the logged items by media name (empty on a disabled rank).

    Raises:
        MediaError: the data is empty, of another shape, or the labels are
            not one per item.

    Example:
        >>> digits = sklearn.datasets.load_digits()  # doctest: +SKIP
        >>> runlab.data_preview(run, digits.images, digits.target)  # doctest: +SKIP
    """
    if max_images < 1 or max_items < 1:
        raise MediaError("data_preview needs max_images and max_items of 1 or more.")
    if not isinstance(name, str) or not name.strip():
        raise MediaError("data_preview needs a name (the prefix of its media).")
    # Everything is read and checked first: a failed call logs nothing.
    items, yielded, total = _read_items(data, max_items, max_images)
    found = _given_labels(labels, total) if labels is not None else yielded
    images = None if items.ndim <= 2 else _as_hwc_batch(_pick(items, max_images))
    _check_kinds(run, _planned_kinds(items, found, name))

    if images is None:
        logged = _log_features(run, items.reshape(len(items), -1), name, step)
    else:
        batch, scaling = _unit_range(images)
        caption = f"{len(batch)} of {total} items, evenly spaced{scaling}"
        sample = run.log_image(_key(name, "samples"), make_grid(batch), step, caption)
        logged = {_key(name, "samples"): sample}
    if found is not None:
        logged[_key(name, "labels")] = _log_labels(run, found, name, step)
    return {key: item for key, item in logged.items() if item is not None}


def _planned_kinds(
    items: np.ndarray[Any, Any], labels: np.ndarray[Any, Any] | None, name: str
) -> dict[str, str]:
    """The media names a preview will log, with their kinds."""
    if items.ndim <= 2:
        width = items.reshape(len(items), -1).shape[1]
        kinds = {
            _key(name, f"feature_{i}"): "histogram"
            for i in range(min(width, MAX_FEATURES))
        }
    else:
        kinds = {_key(name, "samples"): "image"}
    if labels is not None:
        numeric = labels.dtype.kind in "biuf"
        kinds[_key(name, "labels")] = "histogram" if numeric else "table"
    return kinds


def _check_kinds(run: Run, kinds: dict[str, str]) -> None:
    """Refuse a preview whose names already hold media of another kind."""
    if run.path is None:
        return  # a disabled rank logs nothing
    from runlab.store.media import list_media

    held = {entry["name"]: entry["kind"] for entry in list_media(run.path)}
    for media_name, kind in kinds.items():
        if held.get(media_name, kind) != kind:
            raise MediaError(
                f"Media {media_name!r} of run {run.path.name} holds "
                f"{held[media_name]}s; this preview would log {with_article(kind)}: give "
                "data_preview another name=."
            )


def _pick(images: np.ndarray[Any, Any], max_images: int) -> np.ndarray[Any, Any]:
    # An array comes whole; a dataset's images were picked when read.
    return images[spread(len(images), max_images)]


def _key(name: str, part: str) -> str:
    return f"{name}/{part}"


# Reading the data -------------------------------------------------------------


def _read_items(
    data: Any, max_items: int, max_images: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None, int]:
    """Return the items to show, the labels the data yields, and the item count.

    An array is shown whole (the grid picks its own sample); a dataset is
    read at evenly spaced indices: ``max_images`` images, or ``max_items``
    rows of features.
    """
    import numpy as np

    if is_torch_tensor(data):
        data = torch_to_numpy(data)
    if isinstance(data, np.ndarray):
        _check_items(len(data) if data.ndim else 0)
        return data, None, len(data)
    if not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
        raise MediaError(
            f"data_preview takes an array, a tensor or a dataset (with __len__ and "
            f"__getitem__), not {type(data).__name__}."
        )
    total = len(data)
    _check_items(total)
    first, has_label = _split_item(data[0])
    if first.ndim <= 1:
        xs, ys = _read_dataset(data, spread(total, max_items))
        return xs, ys if has_label else None, total
    xs, _ = _read_dataset(data, spread(total, max_images))
    return xs, _dataset_labels(data, total, max_items) if has_label else None, total


def _check_items(count: int) -> None:
    if count == 0:
        raise MediaError("data_preview was given no items; pass a non-empty dataset.")


def spread(total: int, count: int) -> list[int]:
    """Return ``count`` indices spaced evenly over ``range(total)``, ends included."""
    if total <= count:
        return list(range(total))
    if count == 1:
        return [0]
    # Consecutive values lie at least 1 apart, so rounding keeps them distinct.
    return [round(i * (total - 1) / (count - 1)) for i in range(count)]


def _split_item(item: Any) -> tuple[np.ndarray[Any, Any], bool]:
    """Return an item's ``x`` as an array, and whether it carried a label."""
    import numpy as np

    if isinstance(item, Mapping):
        raise MediaError(
            f"The dataset's items are dicts (keys {', '.join(map(str, item))}); "
            "data_preview takes arrays, or (x, y) tuples: pass e.g. "
            "[(d['image'], d['label']) for d in dataset]."
        )
    # (x, y) tuples; [x, y] lists too when x is an array (a row of numbers
    # given as a list is features, not a pair).
    has_label = (isinstance(item, tuple) and len(item) >= 2) or (
        isinstance(item, list) and len(item) == 2 and hasattr(item[0], "shape")
    )
    x = item[0] if has_label else item
    if is_torch_tensor(x):
        x = torch_to_numpy(x)
    return np.asarray(x), has_label


def _read_dataset(
    dataset: Any, indices: list[int]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
    import numpy as np

    xs, ys = [], []
    for index in indices:
        item = dataset[index]
        x, has_label = _split_item(item)
        xs.append(x)
        if has_label:
            ys.append(_label_value(item[1]))
    shapes = sorted({x.shape for x in xs})
    if len(shapes) > 1:
        listed = ", ".join(map(str, shapes))
        raise MediaError(
            f"The dataset's items have different shapes ({listed}); data_preview "
            "needs items of one shape."
        )
    return np.stack(xs), _one_per_item(ys) if ys else None


def _dataset_labels(
    dataset: Any, total: int, max_items: int
) -> np.ndarray[Any, Any] | None:
    import numpy as np

    targets = getattr(dataset, "targets", None)
    if targets is not None and not isinstance(targets, str):
        if is_torch_tensor(targets):
            targets = torch_to_numpy(targets)
        array = np.asarray(targets)
        if array.ndim == 1 and len(array) == total:
            return array
    labels = [_label_value(dataset[i][1]) for i in spread(total, max_items)]
    return _one_per_item(labels)


def _label_value(label: Any) -> Any:
    import numpy as np

    if is_torch_tensor(label):
        label = torch_to_numpy(label)
    if isinstance(label, np.ndarray) and label.size == 1:
        return label.item()
    return label


def _one_per_item(labels: list[Any]) -> np.ndarray[Any, Any] | None:
    """Return the labels a dataset yields as an array, or None if not scalars."""
    import numpy as np

    array = np.asarray(labels)
    if array.ndim != 1:
        logger.info(
            "Data preview: the dataset's labels are not one value per item "
            "(shape %s); no label histogram. Pass labels= to have one.",
            array.shape,
        )
        return None
    return array


def _given_labels(labels: Any, total: int) -> np.ndarray[Any, Any]:
    import numpy as np

    if is_torch_tensor(labels):
        labels = torch_to_numpy(labels)
    array = np.asarray(labels)
    if array.ndim != 1 or len(array) != total:
        raise MediaError(
            f"data_preview needs one label per item: {total} labels, not an "
            f"array of shape {array.shape}."
        )
    return array


# Logging ----------------------------------------------------------------------


def _log_features(
    run: Run, table: np.ndarray[Any, Any], name: str, step: int
) -> dict[str, MediaItem | None]:
    from runlab.store.media import histogram_fields

    features = table.shape[1]
    if features > MAX_FEATURES:
        logger.info(
            "Data preview %r shows the first %d of %d features.",
            name, MAX_FEATURES, features,
        )  # fmt: skip
    keys = [_key(name, f"feature_{i}") for i in range(min(features, MAX_FEATURES))]
    # Binned once first: a feature that cannot be binned stops the call before
    # any of them is logged.
    for i, key in enumerate(keys):
        histogram_fields(key, table[:, i])
    return {
        key: run.log_histogram(key, table[:, i], step=step)
        for i, key in enumerate(keys)
    }


def _as_hwc_batch(images: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Return images (N, H, W, C) or (N, C, H, W) as (N, H, W[, C])."""
    shape = tuple(images.shape)
    if images.ndim == 4 and shape[-1] not in _CHANNELS:
        if shape[1] not in _CHANNELS:
            raise MediaError(
                f"data_preview found images of shape {shape[1:]}: neither the "
                "first nor the last axis holds 1, 3 or 4 channels."
            )
        images = images.transpose(0, 2, 3, 1)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4):
        raise MediaError(f"data_preview cannot show items of shape {shape[1:]}.")
    return images


def _unit_range(images: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], str]:
    """Return images as float32 in [0, 1], and a caption note if they were scaled.

    uint8 is divided by 255 and floats already in [0, 1] are kept; anything
    else (normalised data, counts) is scaled from its own finite min and max.
    """
    import numpy as np

    values = images.astype(np.float32)
    if images.dtype == np.uint8:
        return values / 255.0, ""
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0, 1)
    note = ""
    if images.dtype.kind != "b" and (
        images.dtype.kind != "f" or low < 0.0 or high > 1.0
    ):
        width = high - low or 1.0
        values = (values - low) / width
        note = f"; scaled from [{low:g}, {high:g}] to [0, 1]"
    values = np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(values, 0.0, 1.0), note


def make_grid(
    images: np.ndarray[Any, Any], *, pad: int = 2, fill: float = 0.5
) -> np.ndarray[Any, Any]:
    """Tile images (N, H, W[, C]) into one near-square image, ``pad`` apart.

    The grid has ``ceil(sqrt(N))`` columns; ``fill`` is the value of the
    padding (mid grey in [0, 1] images, so it parts dark and light ones).
    """
    import numpy as np

    count, height, width = images.shape[:3]
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    shape = (rows * (height + pad) + pad, columns * (width + pad) + pad)
    grid = np.full(shape + images.shape[3:], fill, dtype=images.dtype)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = pad + row * (height + pad), pad + column * (width + pad)
        grid[top : top + height, left : left + width] = image
    return grid


def _log_labels(
    run: Run, labels: np.ndarray[Any, Any], name: str, step: int
) -> MediaItem | None:
    import numpy as np

    key = _key(name, "labels")
    if labels.dtype.kind in "biuf":
        values = labels.astype(np.float64)
        return run.log_histogram(key, values, step=step, bins=_label_bins(values))
    names, counts = np.unique(labels.astype(str), return_counts=True)
    rows = [
        {"label": str(n), "count": int(c)} for n, c in zip(names, counts, strict=True)
    ]
    return run.log_table(key, rows, step=step)


def _label_bins(values: np.ndarray[Any, Any]) -> int | list[float]:
    """One bin per integer label (edges at k - 0.5); else 64 equal bins."""
    import numpy as np

    finite = values[np.isfinite(values)]
    if not finite.size or not np.all(finite == np.round(finite)):
        return 64
    low, high = int(finite.min()), int(finite.max())
    if high - low >= MAX_LABEL_BINS:
        return 64
    return [k - 0.5 for k in range(low, high + 2)]
