"""Runs grouped by config keys: the page's grouped charts and a report's rows.

Contract:
- A group key is a tuple of ``(key, value)`` pairs, hashable and comparable for
  equality: lists become tuples and mappings tuples of sorted pairs.
- A dotted key that names a list stored item by item in the flat config
  (``model.hidden`` for ``model.hidden.0``, ``model.hidden.1``) takes the whole
  list; a key the run lacks takes None.
- ``~seed`` stands for every key of the config but those named ``seed`` or
  ending in ``.seed``: runs that differ only in their seed share a group.
- A group's label names only the items that vary among the groups, except that
  groups keyed by one item each keep it (``optim.lr=0.1`` tells more than
  ``all``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ALL_BUT_SEED",
    "KeyItems",
    "config_value",
    "freeze_value",
    "seedless_items",
    "varying_items",
]

ALL_BUT_SEED = "~seed"

KeyItems = tuple[tuple[str, Any], ...]


def config_value(config_flat: Mapping[str, Any], key: str) -> Any:
    """Return the value of dotted ``key`` in a flat config, a list re-assembled."""
    if key in config_flat:
        return config_flat[key]
    prefix = f"{key}."
    items = {
        k[len(prefix) :]: v for k, v in config_flat.items() if k.startswith(prefix)
    }
    indices = [str(i) for i in range(len(items))]
    if items and sorted(items) == sorted(indices):
        return [items[i] for i in indices]
    return None


def freeze_value(value: Any) -> Any:
    """Return a hashable stand-in: lists become tuples, mappings sorted pairs."""
    if isinstance(value, (list, tuple)):
        return tuple(freeze_value(item) for item in value)
    if isinstance(value, Mapping):
        pairs = ((str(k), freeze_value(v)) for k, v in value.items())
        return tuple(sorted(pairs, key=_key_name))
    return value


def seedless_items(config_flat: Mapping[str, Any]) -> KeyItems:
    """Return every config item but the seeds, frozen and sorted by key."""
    items = (
        (key, freeze_value(value))
        for key, value in config_flat.items()
        if key != "seed" and not key.endswith(".seed")
    )
    return tuple(sorted(items, key=_key_name))


def varying_items(keys: Sequence[KeyItems]) -> list[KeyItems]:
    """Return each key without the items every key shares (see the contract)."""
    if not keys or all(len(key) == 1 for key in keys):
        return list(keys)
    shared = set(keys[0]).intersection(*keys[1:])
    return [tuple(item for item in key if item not in shared) for key in keys]


def _key_name(item: tuple[str, Any]) -> str:
    # Sort by key alone: values of one key may be of types that do not compare.
    return item[0]
