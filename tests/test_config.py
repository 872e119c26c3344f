"""Tests for runlab.config: YAML 1.2 files, overrides, flat views, argparse."""

from __future__ import annotations

import argparse
import copy
import enum
import math
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runlab.config import (
    ConfigView,
    Override,
    apply_overrides,
    config_from_namespace,
    dump_config,
    dumps_config,
    fill_parser_defaults,
    flatten_config,
    get_dotted,
    load_config,
    loads_config,
    merge_config,
    parse_override,
    set_dotted,
    to_config_dict,
)
from runlab.errors import ConfigError

BASE_YAML = "optim:\n  lr: 0.1\nlayers: [{units: 64}, {units: 32}]\n"


def write(tmp_path: Path, text: str, name: str = "cfg.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def same(left: Any, right: Any) -> bool:
    """Equal values of identical types; NaN equals NaN and -0.0 differs from 0.0."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(same, left, right))
    if isinstance(left, float):
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return left == right and math.copysign(1, left) == math.copysign(1, right)
    return bool(left == right)


def plain_types(value: Any) -> set[type]:
    if isinstance(value, dict):
        keys = {type(key) for key in value}
        return {dict} | keys | set().union(*(plain_types(v) for v in value.values()))
    if isinstance(value, list):
        return {list} | set().union(*(plain_types(v) for v in value))
    return {type(value)}


# -- loading -------------------------------------------------------------------


def test_load_config_reads_exponent_floats_as_floats(tmp_path: Path) -> None:
    # B01
    text = "lr: 1e-3\nweight_decay: 5e-4\neps: 1.0e-8\nbudget: 1e+6\n"
    config = load_config(write(tmp_path, text))

    assert config == {
        "lr": 0.001,
        "weight_decay": 0.0005,
        "eps": 1e-08,
        "budget": 1000000.0,
    }
    assert {type(value) for value in config.values()} == {float}


def test_load_config_keeps_on_no_off_as_strings(tmp_path: Path) -> None:
    # B02
    text = "mixup:\n  ON: true\n  alpha: 0.2\neval_langs: [en, de, no]\ncache: off\n"
    config = load_config(write(tmp_path, text))

    assert config == {
        "mixup": {"ON": True, "alpha": 0.2},
        "eval_langs": ["en", "de", "no"],
        "cache": "off",
    }
    assert list(config["mixup"]) == ["ON", "alpha"]


def test_load_config_reads_only_true_and_false_as_booleans() -> None:
    text = "a: yes\nb: NO\nc: On\nd: y\ne: true\nf: false\ng: ~\nh: null\ni: ''\n"

    assert same(
        loads_config(text),
        {"a": "yes", "b": "NO", "c": "On", "d": "y", "e": True, "f": False}
        | {"g": None, "h": None, "i": ""},
    )


def test_load_config_reads_leading_zeros_as_decimal_not_octal() -> None:
    config = loads_config("month: 08\ncode: 012\nexplicit: 0o12\nhex: 0x1F\n")

    assert same(config, {"month": 8, "code": 12, "explicit": 10, "hex": 31})


def test_load_config_turns_every_key_into_the_string_written() -> None:
    config = loads_config("1: a\ntrue: b\nnull: c\n1.5: d\n")

    assert config == {"1": "a", "true": "b", "null": "c", "1.5": "d"}


def test_load_config_returns_only_plain_python_types() -> None:
    text = "a: {b: [1, 2.5, x, null, true, {c: d}]}\nwhen: 2024-01-01\n"
    config = loads_config(text)

    assert plain_types(config) <= {dict, list, str, int, float, bool, type(None)}
    assert config["when"] == "2024-01-01"


def test_load_config_reads_non_finite_floats() -> None:
    config = loads_config("a: .nan\nb: .inf\nc: -.inf\n")

    assert math.isnan(config["a"])
    assert (config["b"], config["c"]) == (math.inf, -math.inf)


def test_load_config_of_empty_or_comment_only_file_is_empty(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == {}
    assert load_config(write(tmp_path, "# nothing yet\n", "c.yaml")) == {}


def test_load_config_applies_merge_keys_with_local_keys_winning() -> None:
    text = "base: &b {lr: 0.1, wd: 0.0}\nrun:\n  <<: *b\n  lr: 0.2\n"

    assert loads_config(text)["run"] == {"lr": 0.2, "wd": 0.0}


def test_load_config_rejects_duplicate_key_naming_path_and_lines(
    tmp_path: Path,
) -> None:
    # B04
    text = "data:\n  seq_len: 512\n  batch: 32\n  seq_len: 4096\n"
    path = write(tmp_path, text)

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value) == (
        f"{path}: duplicate key 'data.seq_len' at lines 2 and 4; remove one of them."
    )


def test_loads_config_rejects_keys_that_are_equal_as_written_strings() -> None:
    with pytest.raises(ConfigError) as caught:
        loads_config("1: a\n'1': b\n", "cfg.yaml")

    assert (
        str(caught.value)
        == "cfg.yaml: duplicate key '1' at lines 1 and 2; remove one of them."
    )


def test_load_config_reports_malformed_yaml_as_path_line_column(tmp_path: Path) -> None:
    path = write(tmp_path, "optim:\n  lr: 0.1\nname sgd\nseed: 1\n")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value) == f"{path}:4:1: could not find expected ':'"


def test_loads_config_reports_unclosed_list_in_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        loads_config("layers: [64, 64\n", "cfg.yaml")

    assert (
        str(caught.value) == "cfg.yaml:2:1: expected ',' or ']', but got '<stream end>'"
    )


def test_loads_config_reports_bad_indentation_position() -> None:
    with pytest.raises(ConfigError) as caught:
        loads_config("a:\n  b: 1\n   c: 2\n", "cfg.yaml")

    assert str(caught.value) == "cfg.yaml:3:5: mapping values are not allowed here"


def test_loads_config_reports_control_character_position() -> None:
    with pytest.raises(ConfigError) as caught:
        loads_config("a: 1\nb: \x00\n", "cfg.yaml")

    assert str(caught.value) == "cfg.yaml:2:4: unacceptable character #x0000"


def test_load_config_rejects_a_top_level_list() -> None:
    with pytest.raises(ConfigError) as caught:
        loads_config("- 1\n- 2\n", "cfg.yaml")

    assert str(caught.value) == (
        "cfg.yaml: the top level is a list, not a mapping; "
        "write the config as 'key: value' lines."
    )


def test_load_config_rejects_a_top_level_scalar() -> None:
    with pytest.raises(
        ConfigError, match=r"^cfg\.yaml: the top level is a single value, not"
    ):
        loads_config("42\n", "cfg.yaml")


def test_load_config_rejects_tags_outside_plain_data() -> None:
    with pytest.raises(ConfigError) as caught:
        loads_config("blob: !!binary aGk=\n", "cfg.yaml")

    assert str(caught.value) == (
        "cfg.yaml:1:7: unsupported tag '!!binary'; "
        "a config holds strings, numbers, booleans, null, lists and mappings."
    )


def test_load_config_rejects_an_alias_that_contains_itself() -> None:
    with pytest.raises(ConfigError) as caught:
        loads_config("a: &x [*x]\n", "cfg.yaml")

    assert str(caught.value) == "cfg.yaml:1:4: 'a.0' contains itself via an alias."


def test_load_config_rejects_a_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ConfigError) as caught:
        load_config("x.yaml")

    assert str(caught.value) == "Config file 'x.yaml' does not exist."


def test_load_config_rejects_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_bytes(b"name: caf\xe9\n")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert (
        str(caught.value)
        == f"Config file '{path}' is not UTF-8 text (byte 9); save it as UTF-8."
    )


# -- dumping -------------------------------------------------------------------

TRICKY = {
    "strings": [
        "no",
        "off",
        "ON",
        "yes",
        "1e-3",
        ".5e1",
        "null",
        "~",
        "08",
        "true",
        "",
        "=",
        "<<",
    ],
    "floats": [1.0, 0.001, 1e16, 1e-08, -0.0, 5e-324],
    "big": 2**63 + 1,
    "negative": -(2**63),
    "none": None,
    "flags": [True, False],
    "text": "café ☕ 学习",
    "empty": {"dict": {}, "list": []},
    "1": "key that looks like an int",
}


def test_dump_config_round_trips_tricky_values_with_types(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"

    dump_config(TRICKY, path)

    assert same(load_config(path), TRICKY)


def test_dumps_config_quotes_strings_other_yaml_readers_would_retype() -> None:
    text = dumps_config({"cache": "off", "lr": "1e-3", "month": "08", "name": "sgd"})

    assert text == "cache: 'off'\nlr: '1e-3'\nmonth: '08'\nname: sgd\n"


def test_dumps_config_writes_floats_with_a_dot_and_non_finite_as_yaml() -> None:
    config = {"a": 1.0, "b": 1e16, "c": math.nan, "d": math.inf, "e": -math.inf}

    text = dumps_config(config)

    assert text == "a: 1.0\nb: 1.0e+16\nc: .nan\nd: .inf\ne: -.inf\n"
    assert same(loads_config(text), config)


def test_dumps_config_keeps_key_order_unicode_and_block_style() -> None:
    config = {"zeta": 1, "alpha": {"naïve": "日本"}, "layers": [{"units": 64}]}

    text = dumps_config(config)

    assert text == "zeta: 1\nalpha:\n  naïve: 日本\nlayers:\n  - units: 64\n"


def test_dumps_config_turns_paths_tuples_enums_and_views_into_plain_data() -> None:
    class Mode(enum.Enum):
        FAST = "fast"

    config = {"out": Path("runs/a"), "shape": (3, 4), "mode": Mode.FAST}
    config["view"] = ConfigView({"x": 1})

    assert loads_config(dumps_config(config)) == {
        "out": "runs/a",
        "shape": [3, 4],
        "mode": "fast",
        "view": {"x": 1},
    }


def test_dumps_config_rejects_values_yaml_cannot_store() -> None:
    with pytest.raises(ConfigError) as caught:
        dumps_config({"model": {"act": object()}})

    assert str(caught.value) == (
        "Config value at 'model.act' is a object, which a config cannot store; "
        "convert it to one of strings, numbers, booleans, null, lists and mappings."
    )


def test_dump_config_replaces_the_file_and_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("old: 1\n", encoding="utf-8")
    path.chmod(0o640)

    dump_config({"new": 2}, path)

    assert path.read_text(encoding="utf-8") == "new: 2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]
    assert path.stat().st_mode & 0o777 == 0o640


def test_dump_config_into_a_missing_folder_raises_config_error(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "config.yaml"

    with pytest.raises(ConfigError) as caught:
        dump_config({"a": 1}, path)

    assert (
        str(caught.value)
        == f"Cannot write config file '{path}': No such file or directory."
    )


# -- overrides -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("optim.lr=0.01", Override("optim.lr", 0.01)),
        ("model.layers=[64,64]", Override("model.layers", [64, 64])),
        ("name=sgd", Override("name", "sgd")),
        ("+new.key=value", Override("new.key", "value", is_new=True)),
        ("~key", Override("key", None, is_delete=True)),
        ("x=null", Override("x", None)),
        ("x='1'", Override("x", "1")),
        ("x=", Override("x", "")),
        ("x={a: 1}", Override("x", {"a": 1})),
        ("x=1e-3", Override("x", 0.001)),
        ("x=no", Override("x", "no")),
        ("note=fix #12", Override("note", "fix #12")),
        ("note=a: b", Override("note", "a: b")),
    ],
)
def test_parse_override_reads_value_as_yaml_flow_value(
    text: str, expected: Override
) -> None:
    assert parse_override(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "optim.lr",
            "Override 'optim.lr' has no '='; write key=value, +key=value to add a key, "
            "or ~key to remove one.",
        ),
        ("=1", "Override '=1' has an empty key; write key=value."),
        (
            "a..b=1",
            "Override 'a..b=1' has an empty part in key 'a..b'; "
            "separate names with single dots.",
        ),
        (
            "x=[1,2",
            "Override 'x=[1,2' has a malformed value: "
            "expected ',' or ']', but got '<stream end>'.",
        ),
    ],
)
def test_parse_override_rejects_malformed_text_naming_it(
    text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_override(text)

    assert str(caught.value) == message


def test_apply_overrides_sets_dotted_keys_nested_and_leaves_input_alone() -> None:
    # B06
    base = loads_config(BASE_YAML)
    before = copy.deepcopy(base)

    result = apply_overrides(base, ["optim.lr=0.01", "layers.0.units=8"])

    assert result == {"optim": {"lr": 0.01}, "layers": [{"units": 8}, {"units": 32}]}
    assert "optim.lr" not in result
    assert base == before


def test_apply_overrides_names_unknown_key_and_suggests_close_one() -> None:
    base = {"optim": {"lr": 0.1, "momentum": 0.9}}

    with pytest.raises(ConfigError) as caught:
        apply_overrides(base, ["optim.lrr=0.01"], source="config.yaml")

    assert str(caught.value) == (
        "Config key 'optim.lrr' does not exist in config.yaml; "
        "did you mean 'optim.lr'? Use +optim.lrr=... to add it."
    )


def test_apply_overrides_joins_several_suggestions_with_or() -> None:
    base = {"optim": {"lr1": 0.1, "lr2": 0.2}}

    with pytest.raises(ConfigError) as caught:
        apply_overrides(base, ["optim.lr=0.01"], source="config.yaml")

    assert str(caught.value) == (
        "Config key 'optim.lr' does not exist in config.yaml; "
        "did you mean 'optim.lr2' or 'optim.lr1'? Use +optim.lr=... to add it."
    )


def test_apply_overrides_omits_suggestion_when_nothing_is_close() -> None:
    with pytest.raises(ConfigError) as caught:
        apply_overrides({"optim": {"lr": 0.1}}, ["batch_size=8"])

    assert str(caught.value) == (
        "Config key 'batch_size' does not exist in the config. "
        "Use +batch_size=... to add it."
    )


def test_apply_overrides_plus_adds_key_and_creates_parents() -> None:
    result = apply_overrides({"optim": {"lr": 0.1}}, ["+new.key=1", "+optim.wd=0.0"])

    assert result == {"optim": {"lr": 0.1, "wd": 0.0}, "new": {"key": 1}}


def test_apply_overrides_plus_sets_an_existing_key_and_appends_to_lists() -> None:
    base = {"lr": 0.1, "layers": [64]}

    result = apply_overrides(base, ["+lr=0.2", "+layers.1=32"])

    assert result == {"lr": 0.2, "layers": [64, 32]}


def test_apply_overrides_tilde_removes_a_key() -> None:
    result = apply_overrides({"optim": {"lr": 0.1, "wd": 0.0}}, ["~optim.wd"])

    assert result == {"optim": {"lr": 0.1}}


def test_apply_overrides_tilde_on_missing_key_raises() -> None:
    with pytest.raises(ConfigError) as caught:
        apply_overrides({"optim": {"lr": 0.1}}, ["~optim.lrr"], source="config.yaml")

    assert str(caught.value) == (
        "Config key 'optim.lrr' does not exist in config.yaml; "
        "did you mean 'optim.lr'? Nothing to remove with ~optim.lrr."
    )


def test_apply_overrides_plus_through_a_number_raises() -> None:
    with pytest.raises(ConfigError) as caught:
        apply_overrides({"optim": {"lr": 0.1}}, ["+optim.lr.decay=0.5"])

    assert str(caught.value) == (
        "Cannot set config key 'optim.lr.decay': "
        "'optim.lr' holds a float, not a mapping."
    )


def test_apply_overrides_reaches_a_literal_key_holding_a_dot() -> None:
    assert apply_overrides({"optim.lr": 0.1}, ["optim.lr=0.2"]) == {"optim.lr": 0.2}


def test_sweep_values_land_nested_and_show_in_the_flat_view(tmp_path: Path) -> None:
    # B06: a sweep over `optim.lr` must change the value the script reads.
    base = load_config(write(tmp_path, BASE_YAML, "base.yaml"))
    for value in [0.01, 0.001]:
        config = copy.deepcopy(base)

        set_dotted(config, "optim.lr", value)

        assert config == {
            "optim": {"lr": value},
            "layers": [{"units": 64}, {"units": 32}],
        }
        assert flatten_config(config) == {
            "optim.lr": value,
            "layers.0.units": 64,
            "layers.1.units": 32,
        }


def test_get_dotted_reads_nested_keys_and_list_items() -> None:
    config = loads_config(BASE_YAML)

    assert get_dotted(config, "optim.lr") == 0.1
    assert get_dotted(config, "layers.1.units") == 32
    assert get_dotted(config, "layers.1") == {"units": 32}


def test_get_dotted_raises_key_error_when_missing() -> None:
    with pytest.raises(KeyError):
        get_dotted({"optim": {"lr": 0.1}}, "optim.wd")
    with pytest.raises(KeyError):
        get_dotted({"layers": [1]}, "layers.1")


def test_set_dotted_creates_missing_parents() -> None:
    config: dict[str, Any] = {"a": 1}

    set_dotted(config, "model.head.units", 8)

    assert config == {"a": 1, "model": {"head": {"units": 8}}}


# -- flattening and merging ----------------------------------------------------


def test_flatten_config_joins_paths_and_list_indices() -> None:
    # B06
    assert flatten_config(loads_config(BASE_YAML)) == {
        "optim.lr": 0.1,
        "layers.0.units": 64,
        "layers.1.units": 32,
    }


def test_flatten_config_keeps_empty_dicts_and_lists_as_leaves() -> None:
    assert flatten_config({"a": {}, "b": [], "c": [[], 1]}) == {
        "a": {},
        "b": [],
        "c.0": [],
        "c.1": 1,
    }


def test_flatten_config_rejects_a_dotted_key_next_to_the_same_nested_path(
    tmp_path: Path,
) -> None:
    # B06: the file loads, but its flat view would have two 'optim.lr'.
    config = load_config(write(tmp_path, '"optim.lr": 1\noptim: {lr: 2}\n'))

    with pytest.raises(ConfigError) as caught:
        flatten_config(config)

    assert str(caught.value) == (
        "Config keys are ambiguous: 'optim.lr' is both a key holding a dot "
        "and a nested path; rename the key."
    )


def test_merge_config_lets_primary_win_and_fallback_fill_gaps() -> None:
    primary = {"optim": {"lr": 0.01}, "layers": [8], "name": "run"}
    fallback = {"optim": {"lr": 0.1, "wd": 0.0}, "layers": [64, 64], "seed": 1}

    merged = merge_config(primary, fallback)

    assert merged == {
        "optim": {"lr": 0.01, "wd": 0.0},
        "layers": [8],
        "name": "run",
        "seed": 1,
    }
    merged["optim"]["lr"] = 5
    assert primary["optim"] == {"lr": 0.01}
    assert fallback["optim"] == {"lr": 0.1, "wd": 0.0}


# -- ConfigView ----------------------------------------------------------------


def test_config_view_reads_keys_as_attributes_and_items() -> None:
    view = ConfigView(loads_config(BASE_YAML))

    assert view.optim.lr == 0.1
    assert view["optim"]["lr"] == 0.1
    assert isinstance(view.optim, ConfigView)
    assert [layer.units for layer in view.layers] == [64, 32]
    assert isinstance(view.layers, list)


def test_config_view_behaves_as_a_mapping() -> None:
    view = ConfigView({"optim": {"lr": 0.1}, "seed": 1})

    assert "seed" in view
    assert "lr" not in view
    assert len(view) == 2
    assert list(view) == ["optim", "seed"]
    assert view.get("missing", 7) == 7
    assert view == {"optim": {"lr": 0.1}, "seed": 1}
    assert repr(view) == "ConfigView({'optim': {'lr': 0.1}, 'seed': 1})"


def test_config_view_missing_attribute_names_key_and_suggests() -> None:
    view = ConfigView({"optim": {"lr": 0.1, "wd": 0.0}})

    with pytest.raises(AttributeError) as caught:
        _ = view.optim.lrr

    assert (
        str(caught.value) == "Config has no key 'optim.lrr'; did you mean 'optim.lr'?"
    )


def test_config_view_is_read_only_and_to_dict_copies() -> None:
    data = {"optim": {"lr": 0.1}, "layers": [{"units": 64}]}
    view = ConfigView(data)

    with pytest.raises(AttributeError, match="read-only"):
        view.seed = 1
    copied = view.to_dict()
    copied["optim"]["lr"] = 5
    copied["layers"][0]["units"] = 1

    assert data == {"optim": {"lr": 0.1}, "layers": [{"units": 64}]}
    assert type(copied["optim"]) is dict


def test_config_view_survives_pickle_and_deepcopy() -> None:
    view = ConfigView({"optim": {"lr": 0.1}})

    assert pickle.loads(pickle.dumps(view)).optim.lr == 0.1
    assert copy.deepcopy(view).optim.lr == 0.1


# -- argparse and user input ---------------------------------------------------


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--optim-lr", type=float, default=1.0)
    parser.add_argument("--layers", type=int, nargs="+", default=[1])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--amp", action="store_true")
    parser.add_argument("--name", default="default")
    return parser


def test_fill_parser_defaults_feeds_argparse_from_the_config(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "lr: 0.5\noptim:\n  lr: 0.01\nlayers: [64, 64]\n"
        "epochs: '3'\namp: true\nunknown: 1\n",
    )
    parser = make_parser()

    fill_parser_defaults(parser, load_config(path))

    assert vars(parser.parse_args([])) == {
        "lr": 0.5,
        "optim_lr": 0.01,
        "layers": [64, 64],
        "epochs": 3,
        "amp": True,
        "name": "default",
    }
    assert parser.parse_args(["--lr", "0.1", "--name", "x"]).lr == 0.1


def test_fill_parser_defaults_beats_earlier_set_defaults_and_fills_subcommands() -> (
    None
):
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int)
    parser.set_defaults(seed=1)
    train = parser.add_subparsers(dest="command").add_parser("train")
    train.add_argument("--batch-size", type=int, default=8)

    fill_parser_defaults(parser, {"seed": 7, "batch_size": 32})

    assert vars(parser.parse_args(["train"])) == {
        "seed": 7,
        "command": "train",
        "batch_size": 32,
    }


def test_config_from_namespace_makes_values_yaml_friendly() -> None:
    class Mode(enum.Enum):
        FAST = "fast"

    namespace = argparse.Namespace(
        out=Path("runs"),
        shape=(2, 3),
        mode=Mode.FAST,
        lr=0.1,
        name=None,
        other=range(2),
    )

    assert config_from_namespace(namespace) == {
        "out": "runs",
        "shape": [2, 3],
        "mode": "fast",
        "lr": 0.1,
        "name": None,
        "other": "range(0, 2)",
    }


@dataclass
class TrainConfig:
    lr: float = 0.1
    layers: list[int] = field(default_factory=lambda: [64])


class ContainerLike:
    """Duck-types OmegaConf's container conversion."""

    def to_container(self) -> dict[str, Any]:
        return {"lr": 0.3}


def test_to_config_dict_accepts_every_supported_input(tmp_path: Path) -> None:
    path = write(tmp_path, "lr: 1e-3\n")
    original: dict[Any, Any] = {"optim": {"lr": 0.1}, 1: "one"}

    from_mapping = to_config_dict(original)

    assert to_config_dict(path) == {"lr": 0.001}
    assert to_config_dict(str(path)) == {"lr": 0.001}
    assert from_mapping == {"optim": {"lr": 0.1}, "1": "one"}
    assert from_mapping["optim"] is not original["optim"]
    assert to_config_dict(ConfigView({"a": {"b": 1}})) == {"a": {"b": 1}}
    from_dataclass = to_config_dict(TrainConfig())  # type: ignore[arg-type]
    assert from_dataclass == {"lr": 0.1, "layers": [64]}
    assert to_config_dict(ContainerLike()) == {"lr": 0.3}  # type: ignore[arg-type]
    assert to_config_dict(argparse.Namespace(lr=0.2)) == {"lr": 0.2}
    assert to_config_dict(None) == {}


def test_to_config_dict_rejects_other_types_naming_them() -> None:
    with pytest.raises(ConfigError) as caught:
        to_config_dict([1, 2])  # type: ignore[arg-type]

    assert str(caught.value) == (
        "Cannot use a list as a run config; pass a YAML file path, a mapping, "
        "a dataclass instance, an argparse.Namespace or None."
    )


def test_importing_config_does_not_import_heavy_modules() -> None:
    heavy = "{'numpy', 'rich', 'psutil'}"
    code = f"import sys, runlab.config; print(sorted({heavy} & set(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}

    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )

    assert result.stdout == "[]\n"


# -- round-trip property -------------------------------------------------------

TRICKY_STRINGS = [
    "no",
    "off",
    "ON",
    "1e-3",
    ".5e1",
    "",
    "null",
    "~",
    "08",
    "true",
    "<<",
    "=",
]
TRICKY_STRINGS += [
    "1:20",
    "2024-01-01",
    ".nan",
    "- a",
    "a: b",
    "#x",
    "'",
    " a ",
    "\x85",
]
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.text(),
    st.sampled_from(TRICKY_STRINGS),
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
    ),
    max_leaves=20,
)
CONFIGS = st.dictionaries(
    st.text() | st.sampled_from(TRICKY_STRINGS), VALUES, max_size=6
)


@settings(max_examples=300, deadline=None)
@given(config=CONFIGS)
def test_dump_then_load_returns_the_same_config_and_types(
    tmp_path_factory: pytest.TempPathFactory, config: dict[str, Any]
) -> None:
    path = tmp_path_factory.mktemp("roundtrip") / "config.yaml"

    dump_config(config, path)

    assert same(load_config(path), config)
