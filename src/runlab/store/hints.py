"""Hints for keys no run has: the closest known key, for a warning or an error.

A filter, sort or column key that is a typo (``optim.lrr``) matches nothing and
sorts nothing, silently; :func:`unknown_keys` finds such keys and the key most
like each, for ``runlab ls`` and the web page's sort.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from runlab.store.query import METRIC_SUMMARIES, RESERVED_FIELDS, Record, resolve_field

__all__ = ["unknown_keys"]


def unknown_keys(
    records: Sequence[Record], keys: Iterable[str]
) -> dict[str, str | None]:
    """The ``keys`` no record has a value for, each with the closest known key.

    For hints after a listing: a key that is a typo (``optim.lrr``) matches
    nothing and sorts nothing, silently. Nothing is unknown without records.
    """
    if not records:
        return {}
    missing: dict[str, str | None] = {}
    for key in dict.fromkeys(k.removeprefix("-") for k in keys):
        if key in RESERVED_FIELDS or key == "tags":
            continue
        if not any(resolve_field(record, key) is not None for record in records):
            missing[key] = None
    if missing:
        import difflib  # only when a key is missing: its import is not free

        known = sorted(_known_keys(records))
        for key in missing:
            close = difflib.get_close_matches(key, known, n=1)
            missing[key] = close[0] if close else None
    return missing


def _known_keys(records: Sequence[Record]) -> set[str]:
    known = set(RESERVED_FIELDS)
    for record in records:
        known.update(record.get("config_flat") or {})
        for metric in record.get("metrics") or {}:
            known.update(f"{metric}.{summary}" for summary in METRIC_SUMMARIES)
    return known
