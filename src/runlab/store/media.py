"""Media of a run: images, histograms, tables and text, logged by step.

Contract (docs/media.md shows the layout to users):
- Everything lives in the run's ``media/`` folder. ``index.jsonl`` holds one
  JSON object per logged item, in logging order: ``name``, ``kind``
  (``image``, ``histogram``, ``table``, ``text``), ``step``, ``time`` and the
  kind's own fields. Images are PNG files under ``images/<slug>/``, tables
  JSON under ``tables/<slug>/``, text UTF-8 under ``text/<slug>/``; a
  histogram lives in its index line alone.
- A file is written aside and renamed into place before its index line is
  appended, so a line never names a missing file. A file is never rewritten:
  a name logged twice at one step gets ``<step>-1.png``, ``<step>-2.png``...
- Each index line is appended in one write, under the run folder's lock. A
  torn last line (a crash mid-write) is skipped by readers, and the next
  writer starts its line after it rather than on it.
- A name holds one kind; logging a table under an image's name is an error.

Pillow encodes the PNGs, and NumPy, Pillow and torch are imported only when
media are written or converted, never at import.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import operator
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from runlab import _json
from runlab._atomic import stage_file
from runlab.errors import RunlabError, StoreError
from runlab.store import layout
from runlab.store.files import locked
from runlab.store.series import series_file_name

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

__all__ = [
    "KINDS",
    "EncodedImage",
    "MediaError",
    "MediaItem",
    "MediaWriter",
    "encode_image",
    "histogram_fields",
    "is_torch_tensor",
    "list_media",
    "read_media",
    "read_media_index",
    "table_content",
    "torch_to_numpy",
    "with_article",
]

logger = logging.getLogger(__name__)

INDEX_FILE = "index.jsonl"
KINDS = ("image", "histogram", "table", "text")
MAX_BINS = 10_000
# How far outside [0, 1] a float image may stray by rounding: it is clipped.
FLOAT_SLACK = 1e-6
_MISSING_TYPES = frozenset(["NAType", "NaTType"])
_FILES = {
    "image": ("images", ".png"),
    "table": ("tables", ".json"),
    "text": ("text", ".txt"),
}
_CHANNELS = (1, 3, 4)
# An image whose PNG takes longer than this to encode holds up the training
# loop that logged it: said once per name.
SLOW_ENCODE_S = 0.5


class MediaError(RunlabError, ValueError):
    """An image, histogram, table or text cannot be logged as given."""


@dataclass(frozen=True)
class MediaItem:
    """One logged item, as its index line says.

    Attributes:
        name, kind, step, time: the common fields of every line.
        path: the absolute path of its file (None for a histogram).
        data: the kind's own fields (``width``, ``edges``, ``columns``, ...).
    """

    name: str
    kind: str
    step: int
    time: float
    path: Path | None
    data: dict[str, Any] = field(default_factory=dict, hash=False)


class EncodedImage(NamedTuple):
    """An image as PNG bytes, with what its index line records."""

    png: bytes
    width: int
    height: int
    channels: int


# Reading ----------------------------------------------------------------------


def read_media_index(run_dir: Path) -> list[dict[str, Any]]:
    """Return the index lines of a run's media in logging order ([] without any).

    A torn last line is skipped quietly; any other line that is not an item
    (an object with a string ``name``, a known ``kind`` and an int ``step``)
    is skipped with a warning, so one bad line never hides the rest.
    """
    path = run_dir / layout.MEDIA_DIR / INDEX_FILE
    try:
        lines = path.read_bytes().split(b"\n")
    except FileNotFoundError:
        return []
    entries = []
    for number, line in enumerate(lines, 1):
        entry = _parse_entry(line) if line.strip() else None
        if entry is not None:
            entries.append(entry)
        elif number == len(lines) and line.strip():
            logger.debug("Skipping the torn last line of %s.", path)
        elif line.strip():
            logger.warning("Skipping line %d of %s: not a media item.", number, path)
    return entries


def _parse_entry(line: bytes) -> dict[str, Any] | None:
    try:
        entry = _json.loads(line)
    except ValueError:
        return None
    is_item = (
        isinstance(entry, dict)
        and isinstance(entry.get("name"), str)
        and entry.get("kind") in KINDS
        and type(entry.get("step")) is int
    )
    return entry if is_item else None


def list_media(run_dir: Path) -> list[dict[str, Any]]:
    """Summarise a run's media by name, in first-logged order.

    Returns:
        one dict per name: ``name``, ``kind``, ``steps`` (distinct, sorted)
        and ``count`` (items, counting repeats at a step).
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in read_media_index(run_dir):
        groups.setdefault(entry["name"], []).append(entry)
    return [
        {
            "name": name,
            "kind": group[0]["kind"],
            "steps": sorted({e["step"] for e in group}),
            "count": len(group),
        }
        for name, group in groups.items()
    ]


def read_media(run_dir: Path, name: str) -> list[MediaItem]:
    """Return the items logged under ``name``, sorted by step ([] if none).

    Items of one step keep their logging order.
    """
    entries = [e for e in read_media_index(run_dir) if e["name"] == name]
    items = [_to_item(run_dir, e) for e in entries]
    return sorted(items, key=lambda item: item.step)


def _to_item(run_dir: Path, entry: dict[str, Any]) -> MediaItem:
    common = ("name", "kind", "step", "time")
    file = entry.get("file")
    path = run_dir.absolute() / layout.MEDIA_DIR / file if file else None
    return MediaItem(
        name=entry["name"],
        kind=entry["kind"],
        step=entry["step"],
        time=float(entry.get("time") or 0.0),
        path=path,
        data={k: v for k, v in entry.items() if k not in common},
    )


# Writing ----------------------------------------------------------------------


class MediaWriter:
    """Writes one run's media, in the calling thread; threads may share it.

    Only the process that owns the run writes its media; the run folder's
    ``flock`` still orders its writes with other writers of the run's files.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.folder = run_dir / layout.MEDIA_DIR
        self._lock = threading.Lock()
        self._kinds: dict[str, str] | None = None
        self._slow_names: set[str] = set()

    def write_image(
        self, name: str, image: Any, *, step: int, caption: str | None = None
    ) -> MediaItem:
        """Save ``image`` (see :func:`encode_image`) as a PNG at ``step``."""
        _check_name(name)
        if caption is not None and not isinstance(caption, str):
            raise MediaError(
                f"The caption of image {name!r} must be a str, not "
                f"{type(caption).__name__}."
            )
        began = time.perf_counter()
        encoded = encode_image(name, image)
        took = time.perf_counter() - began
        if took > SLOW_ENCODE_S and name not in self._slow_names:
            self._slow_names.add(name)
            logger.warning(
                "Encoding image %r (%dx%d) as PNG took %.1f s in the code that "
                "logged it; log a smaller image (downscale it) or log it less often.",
                name, encoded.width, encoded.height, took,
            )  # fmt: skip
        fields = {
            "width": encoded.width,
            "height": encoded.height,
            "channels": encoded.channels,
            "caption": caption,
        }
        return self._add(name, "image", step, fields, encoded.png)

    def write_histogram(
        self, name: str, values: Any, *, step: int, bins: int | Sequence[float] = 64
    ) -> MediaItem:
        """Bin ``values`` (see :func:`histogram_fields`) and index them at ``step``."""
        _check_name(name)
        return self._add(name, "histogram", step, histogram_fields(name, values, bins))

    def write_table(
        self,
        name: str,
        rows: Any,
        *,
        step: int,
        columns: Sequence[Any] | None = None,
    ) -> MediaItem:
        """Save a table (see :func:`table_content`) as JSON at ``step``."""
        _check_name(name)
        names, cells = table_content(name, rows, columns)
        payload = _json.dumps({"columns": names, "rows": cells}) + "\n"
        fields = {"columns": names, "rows": len(cells)}
        return self._add(name, "table", step, fields, payload.encode("utf-8"))

    def write_text(self, name: str, text: str, *, step: int) -> MediaItem:
        """Save ``text`` as a UTF-8 file at ``step``."""
        _check_name(name)
        if not isinstance(text, str):
            raise MediaError(
                f"Text {name!r} must be a str, not {type(text).__name__}; "
                "convert it with str() first."
            )
        try:
            payload = text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise MediaError(
                f"Text {name!r} holds a character UTF-8 cannot store (a lone "
                f"surrogate, {text[err.start]!r} at {err.start}); fix the text, "
                "e.g. text.encode('utf-8', 'replace').decode()."
            ) from None
        fields = {"chars": len(text)}
        return self._add(name, "text", step, fields, payload)

    def _add(
        self,
        name: str,
        kind: str,
        step: int,
        fields: dict[str, Any],
        payload: bytes | None = None,
    ) -> MediaItem:
        entry: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "step": step,
            "time": time.time(),
        }
        staged = None
        try:
            # Checked before staging too: a refused call leaves no folder behind.
            with self._lock:
                self._check_kind(name, kind)
            staged = self._stage(name, kind, payload) if payload is not None else None
            with self._lock, locked(self.run_dir):
                self._claim(name, kind)
                if staged is not None:
                    entry["file"] = self._place(staged, name, kind, step)
                entry.update(fields)
                self._append(entry)
        except OSError as err:
            raise StoreError(
                f"Cannot write {kind} {name!r} of run {self.run_dir.name}: {err}. "
                "Check the store's free space and permissions."
            ) from err
        finally:
            if staged is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(staged)
        return _to_item(self.run_dir, entry)

    def _claim(self, name: str, kind: str) -> None:
        """Record that ``name`` holds ``kind``; raise if it holds another."""
        self._check_kind(name, kind)
        assert self._kinds is not None
        self._kinds.setdefault(name, kind)

    def _check_kind(self, name: str, kind: str) -> None:
        if self._kinds is None:
            self._kinds = {}
            for entry in read_media_index(self.run_dir):
                self._kinds.setdefault(entry["name"], entry["kind"])
        held = self._kinds.get(name, kind)
        if held != kind:
            raise MediaError(
                f"Media {name!r} of run {self.run_dir.name} holds {held}s; "
                f"log the {kind} under another name."
            )

    def _stage(self, name: str, kind: str, payload: bytes) -> Path:
        """Write ``payload`` to a hidden file in the name's folder, on disk."""
        folder = self.folder / _FILES[kind][0] / _slug(name)
        folder.mkdir(parents=True, exist_ok=True)
        # The index line that follows must never name an empty file.
        return stage_file(folder, lambda handle: handle.write(payload), prefix=".")

    def _place(self, staged: Path, name: str, kind: str, step: int) -> str:
        """Rename ``staged`` to the step's first free file name; return it."""
        folder_name, suffix = _FILES[kind]
        slug = _slug(name)
        for repeat in range(1_000_000):
            stem = f"{step}-{repeat}" if repeat else str(step)
            target = staged.parent / f"{stem}{suffix}"
            # Under the run's lock no other writer picks a name meanwhile.
            if not target.exists():
                os.replace(staged, target)
                return f"{folder_name}/{slug}/{target.name}"
        raise MediaError(f"Media {name!r} has no free file name at step {step}.")

    def _append(self, entry: dict[str, Any]) -> None:
        line = (_json.dumps(entry) + "\n").encode("utf-8")
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / INDEX_FILE, "a+b", buffering=0) as handle:
            end = handle.tell()
            if end and os.pread(handle.fileno(), 1, end - 1) != b"\n":
                # A crash cut the last line short; ours must not extend it.
                line = b"\n" + line
            written = 0
            while written < len(line):
                written += handle.write(line[written:]) or 0


def _slug(name: str) -> str:
    """The name's folder: a plain lower-case name as it is, others hashed."""
    return series_file_name(name, set()).removesuffix(".bin")


def _check_name(name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"Media names must be strings, not {type(name).__name__}.")
    if not name.strip():
        raise MediaError("A media name must not be empty; name what is logged.")


# Images -----------------------------------------------------------------------


def encode_image(name: str, image: Any) -> EncodedImage:
    """Return ``image`` as PNG bytes with its size and channel count.

    Accepts NumPy arrays ``HW`` (grey), ``HWC`` or ``CHW`` with 1, 3 or 4
    channels (channels last wins when both ends could be channels); ``uint8``
    as it is, other integers in 0..255, bools as 0/255, floats in [0, 1]
    scaled to 0..255. Also PIL images (modes other than L, RGB and RGBA are
    converted), torch tensors (as NumPy, on the CPU) and Matplotlib figures
    (anything with ``savefig``, rendered to PNG).

    Raises:
        MediaError: the type is not one of these; the array is a batch
            (4-D), empty, holds NaN, has no axis of 1, 3 or 4 channels, or
            has values outside the range of its type.
    """
    if callable(getattr(image, "savefig", None)):
        return _encode_figure(image)
    picture = _to_pil(name, image)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return EncodedImage(
        buffer.getvalue(), picture.width, picture.height, len(picture.getbands())
    )


def _encode_figure(figure: Any) -> EncodedImage:
    from PIL import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    png = buffer.getvalue()
    with Image.open(io.BytesIO(png)) as decoded:
        return EncodedImage(png, decoded.width, decoded.height, len(decoded.getbands()))


def _to_pil(name: str, image: Any) -> Image.Image:
    from PIL import Image

    if isinstance(image, Image.Image):
        return _pil_in_png_mode(name, image)
    array = _to_array(name, image)
    return Image.fromarray(_to_uint8(name, _to_hwc(name, array)))


def _pil_in_png_mode(name: str, image: Image.Image) -> Image.Image:
    """Return ``image`` in mode L, RGB or RGBA (what the index can describe)."""
    import numpy as np

    if image.width * image.height == 0:
        raise MediaError(f"Image {name!r} is empty ({image.width}x{image.height}).")
    if image.mode in ("L", "RGB", "RGBA"):
        return image
    if image.mode == "1":
        return image.convert("L")
    if len(image.getbands()) == 1 and image.mode != "P":
        # 16-bit and float grey: the array rules say which values fit.
        return _to_pil(name, np.asarray(image))
    alpha = "A" in image.getbands() or "transparency" in image.info
    return image.convert("RGBA" if alpha else "RGB")


def _to_array(name: str, image: Any) -> np.ndarray[Any, Any]:
    import numpy as np

    if is_torch_tensor(image):
        image = torch_to_numpy(image)
    if isinstance(image, np.ndarray):
        return image
    raise MediaError(
        f"Image {name!r} is {with_article(type(image).__name__)}; log a NumPy array (HW, "
        "HWC or CHW), a PIL image, a torch tensor or a Matplotlib figure."
    )


def _to_hwc(name: str, array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Return ``array`` as HW (grey) or HWC with 3 or 4 channels."""
    shape = tuple(array.shape)
    if array.ndim == 4:
        raise MediaError(
            f"Image {name!r} is a batch of {shape[0]} images (shape {shape}); "
            "log each image (image[0] for a batch of one), or make a grid first."
        )
    if array.ndim not in (2, 3):
        raise MediaError(
            f"Image {name!r} has shape {shape}; an image is HW, HWC or CHW."
        )
    if array.size == 0:
        raise MediaError(f"Image {name!r} is empty (shape {shape}).")
    if array.ndim == 3:
        if shape[-1] not in _CHANNELS and shape[0] in _CHANNELS:
            array = array.transpose(1, 2, 0)
        elif shape[-1] not in _CHANNELS:
            raise MediaError(
                f"Image {name!r} has shape {shape}: neither its first nor its "
                "last axis holds 1, 3 or 4 channels."
            )
    return array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array


def _to_uint8(name: str, array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    import numpy as np

    kind = array.dtype.kind
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if kind == "b":
        return np.ascontiguousarray(array, dtype=np.uint8) * 255
    if kind == "f":
        return _float_to_uint8(name, array)
    if kind in "iu":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise MediaError(
                f"Image {name!r} has integer values from {low} to {high}; integer "
                "images must lie in 0..255: scale them, or log floats in [0, 1]."
            )
        return np.ascontiguousarray(array, dtype=np.uint8)
    raise MediaError(
        f"Image {name!r} has dtype {array.dtype}; log uint8, bool or float pixels."
    )


def _float_to_uint8(name: str, array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    import numpy as np

    if np.isnan(array).any():
        raise MediaError(
            f"Image {name!r} holds NaN values; replace them (numpy.nan_to_num) "
            "before logging it."
        )
    low, high = float(array.min()), float(array.max())
    # Rounding error (1.0000001 after a normalisation) is not a mistake.
    if low < -FLOAT_SLACK or high > 1.0 + FLOAT_SLACK:
        raise MediaError(
            f"Image {name!r} has float values from {low:.9g} to {high:.9g}; float "
            "images must lie in [0, 1]: divide by 255 if they run to 255, or clip."
        )
    unit = np.clip(array.astype(np.float64), 0.0, 1.0)
    return np.rint(unit * 255.0).astype(np.uint8)


def is_torch_tensor(value: Any) -> bool:
    """Tell whether ``value`` is a torch tensor, without importing torch."""
    return type(value).__module__.startswith("torch") and callable(
        getattr(value, "detach", None)
    )


def torch_to_numpy(tensor: Any) -> np.ndarray[Any, Any]:
    """Return a tensor's values as a NumPy array, copied to the CPU."""
    tensor = tensor.detach().cpu()
    # NumPy has no bfloat16; float32 holds every bfloat16 value exactly.
    if str(tensor.dtype) == "torch.bfloat16":
        tensor = tensor.float()
    return tensor.numpy()


# Histograms and tables --------------------------------------------------------


def histogram_fields(
    name: str, values: Any, bins: int | Sequence[float] = 64
) -> dict[str, Any]:
    """Bin the finite values of ``values`` as ``numpy.histogram`` does.

    Args:
        values: numbers in any shape: a list, a NumPy array, a torch tensor.
        bins: how many equal bins span the finite values (1 to 10,000), or
            the bin edges themselves (increasing).

    Returns:
        ``edges``, ``counts``, ``min``, ``max`` (None without finite values),
        ``count`` (finite values binned), ``nonfinite`` (NaN and infinities
        left out) and ``bins``.
    """
    import numpy as np

    array = _numbers(name, values)
    finite = array[np.isfinite(array)]
    spec = _bin_spec(name, bins)
    try:
        with np.errstate(all="ignore"):
            counts, edges = _binned(finite, spec)
    except ValueError as err:
        raise MediaError(
            f"Histogram {name!r} cannot be binned ({err}); give other bins."
        ) from None
    return {
        "edges": edges.tolist(),
        "counts": counts.tolist(),
        "min": float(finite.min()) if finite.size else None,
        "max": float(finite.max()) if finite.size else None,
        "count": int(finite.size),
        "nonfinite": int(array.size - finite.size),
        "bins": int(counts.size),
    }


def _binned(
    finite: np.ndarray[Any, Any], spec: int | list[float]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """``numpy.histogram``; values too close to split into ``spec`` equal bins
    (1.0 and the next float) are binned as numpy bins a constant: a width of 1."""
    import numpy as np

    try:
        return np.histogram(finite, bins=spec)
    except ValueError:
        if not isinstance(spec, int) or not finite.size:
            raise
        low, high = float(finite.min()), float(finite.max())
        return np.histogram(finite, bins=spec, range=(low - 0.5, high + 0.5))


def _numbers(name: str, values: Any) -> np.ndarray[Any, Any]:
    import numpy as np

    if is_torch_tensor(values):
        values = torch_to_numpy(values)
    if values is None:
        raise MediaError(f"Histogram {name!r} got None; give it numbers.")
    if np.ma.isMaskedArray(values):
        values = values.compressed()  # masked values are not data
    try:
        if np.iscomplexobj(values):
            raise MediaError(
                f"Histogram {name!r} got complex numbers; log their .real, .imag "
                "or abs() as separate histograms."
            )
        return np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError) as err:
        if isinstance(err, MediaError):
            raise
        raise MediaError(
            f"Histogram {name!r} needs numbers (a list, an array or a tensor, "
            f"of one shape); got {type(values).__name__}."
        ) from None


def _bin_spec(name: str, bins: Any) -> int | list[float]:
    if not isinstance(bins, bool) and hasattr(bins, "__index__"):
        bins = operator.index(bins)  # np.int64(5) too
    if isinstance(bins, int) and not isinstance(bins, bool):
        if not 1 <= bins <= MAX_BINS:
            raise MediaError(
                f"Histogram {name!r} asks for {bins} bins; give 1 to {MAX_BINS}."
            )
        return bins
    try:
        edges = [float(e) for e in bins]
    except (TypeError, ValueError):
        raise MediaError(
            f"Histogram {name!r} takes a bin count or a list of bin edges, not "
            f"{bins!r}."
        ) from None
    if not 2 <= len(edges) <= MAX_BINS + 1 or not all(map(math.isfinite, edges)):
        raise MediaError(
            f"Histogram {name!r} needs 2 to {MAX_BINS + 1} finite bin edges."
        )
    return edges


def table_content(
    name: str, rows: Any, columns: Sequence[Any] | None = None
) -> tuple[list[str], list[list[Any]]]:
    """Return a table's column names and rows of JSON-ready cells.

    Args:
        rows: a list of dicts (columns: the union of their keys, in order of
            first appearance; a missing key is null), a list of lists or
            tuples (columns ``c0``, ``c1``... unless given), a 2-D array,
            or a pandas DataFrame (its columns, after its index when the
            index is named; pd.NA and NaT become null).
        columns: the columns to keep, in order (for dicts and DataFrames), or
            the names of the list rows' columns.

    Cells become strict JSON: NumPy scalars as numbers, NaN and infinities as
    strings, other objects as their ``str``.
    """
    if callable(getattr(rows, "itertuples", None)) and hasattr(rows, "columns"):
        return _frame_content(name, rows, columns)
    if hasattr(rows, "ndim") and callable(getattr(rows, "tolist", None)):
        if rows.ndim != 2:
            raise MediaError(
                f"Table {name!r} is an array of {rows.ndim} dimensions; a table "
                "is 2-D: one row per item, one column per field."
            )
        rows = rows.tolist()
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Iterable):
        raise MediaError(
            f"Table {name!r} is {with_article(type(rows).__name__)}; log a list of dicts, "
            "a list of lists or a pandas DataFrame."
        )
    rows = list(rows)
    if all(isinstance(row, Mapping) for row in rows):
        return _dict_content(rows, columns)
    if all(isinstance(row, (list, tuple)) for row in rows):
        return _list_content(name, rows, columns)
    raise MediaError(
        f"Table {name!r} mixes kinds of rows; make every row a dict, or every "
        "row a list."
    )


def _frame_content(
    name: str, frame: Any, columns: Sequence[Any] | None
) -> tuple[list[str], list[list[Any]]]:
    # A named index (set_index("label")) is data: it becomes the first
    # columns. An unnamed one (0, 1, 2..., or what a filter left) is not.
    if any(level is not None for level in frame.index.names):
        frame = frame.reset_index()
    if columns is not None:
        try:
            frame = frame[list(columns)]
        except KeyError as err:
            raise MediaError(f"Table {name!r} has no column {err}.") from None
    cells = [
        [_cell(value) for value in row]
        for row in frame.itertuples(index=False, name=None)
    ]
    return [str(c) for c in frame.columns], cells


def _dict_content(
    rows: list[Mapping[Any, Any]], columns: Sequence[Any] | None
) -> tuple[list[str], list[list[Any]]]:
    keys = list(columns) if columns is not None else list(_union(rows))
    cells = [[_cell(row.get(key)) for key in keys] for row in rows]
    return [str(k) for k in keys], cells


def _union(rows: list[Mapping[Any, Any]]) -> dict[Any, None]:
    keys: dict[Any, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    return keys


def _list_content(
    name: str, rows: list[Sequence[Any]], columns: Sequence[Any] | None
) -> tuple[list[str], list[list[Any]]]:
    widths = {len(row) for row in rows}
    width = len(columns) if columns is not None else max(widths, default=0)
    if widths - {width}:
        raise MediaError(
            f"Table {name!r} has rows of {sorted(widths)} cells for {width} "
            "columns; give every row one cell per column."
        )
    names = [str(c) for c in columns] if columns is not None else None
    cells = [[_cell(value) for value in row] for row in rows]
    return names or [f"c{i}" for i in range(width)], cells


def _cell(value: Any) -> Any:
    # A cell holding an array would otherwise end in jsonable's item() call.
    if getattr(value, "ndim", 0) and callable(getattr(value, "tolist", None)):
        value = value.tolist()
    # pandas' missing values (pd.NA, NaT) are null; a float NaN stays "NaN".
    if type(value).__name__ in _MISSING_TYPES:
        return None
    return _json.jsonable(value)


def with_article(noun: str) -> str:
    """``noun`` with its article: "a list", "an Axes"."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
