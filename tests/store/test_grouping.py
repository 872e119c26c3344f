"""Group keys and labels shared by the page's grouped charts and reports."""

from __future__ import annotations

from runlab.store.grouping import (
    config_value,
    freeze_value,
    seedless_items,
    varying_items,
)


def test_a_list_stored_item_by_item_is_taken_whole() -> None:
    flat = {"model.hidden.0": 128, "model.hidden.1": 64, "optim.lr": 0.1}

    assert config_value(flat, "model.hidden") == [128, 64]
    assert config_value(flat, "optim.lr") == 0.1


def test_a_missing_key_or_a_gapped_list_is_none() -> None:
    flat = {"model.hidden.0": 128, "model.hidden.2": 64}

    assert config_value(flat, "model.hidden") is None
    assert config_value(flat, "optim") is None


def test_frozen_values_hash_and_compare() -> None:
    a = freeze_value({"b": [1, 2], "a": {"y": 1, "x": 2}})
    b = freeze_value({"a": {"x": 2, "y": 1}, "b": (1, 2)})

    assert a == b
    assert hash(a) == hash(b)
    assert a == (("a", (("x", 2), ("y", 1))), ("b", (1, 2)))


def test_seedless_items_drop_every_seed_and_sort_by_key() -> None:
    flat = {"seed": 1, "data.seed": 2, "seeds": 3, "b": [1], "a": "x"}

    assert seedless_items(flat) == (("a", "x"), ("b", (1,)), ("seeds", 3))


def test_varying_items_leave_out_what_every_group_shares() -> None:
    keys = [
        (("optim.lr", 0.1), ("width", 64)),
        (("optim.lr", 0.01), ("width", 64)),
    ]

    assert varying_items(keys) == [(("optim.lr", 0.1),), (("optim.lr", 0.01),)]


def test_single_item_keys_keep_their_item_even_when_shared() -> None:
    keys = [(("optim.lr", 0.1),)]

    assert varying_items(keys) == keys
    assert varying_items([]) == []
