"""Tests for the run filter language, field lookup and sorting of runs."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runlab.errors import FilterSyntaxError
from runlab.store.query import Filter, parse_filter, resolve_field, sort_records

NAN = float("nan")
DEC_1_0800_UTC = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc).timestamp()


def make_record(**fields: Any) -> dict[str, Any]:
    """A run record as the index produces it, with ``fields`` replacing defaults."""
    config = fields.pop("config", {"optim": {"lr": 0.01, "name": "sgd"}})
    record: dict[str, Any] = {
        "id": "261203-151207-a3f9",
        "name": "lr-0.01",
        "status": "finished",
        "started": DEC_1_0800_UTC,
        "ended": DEC_1_0800_UTC + 90.0,
        "tags": ["baseline", "cifar"],
        "sweep": None,
        "branch": "main",
        "commit": "0c1e9a2",
        "host": "gpu-01",
        "config": config,
        "config_flat": flatten(config),
        "metrics": {
            "val/acc": summary(last=0.93, min=0.1, max=0.95, count=20),
            "train/loss": summary(last=0.2, min=0.15, max=2.3, count=20),
        },
    }
    record.update(fields)
    return record


def summary(**values: float) -> dict[str, float]:
    return {"last": 0.0, "min": 0.0, "max": 0.0, "count": 1, "last_step": 19, **values}


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(config, dict) and config:
        items = [(str(key), value) for key, value in config.items()]
    elif isinstance(config, list) and config and prefix:
        return {prefix[:-1]: config}
    else:
        return {prefix[:-1]: config} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in items:
        flat.update(flatten(value, f"{prefix}{key}."))
    return flat


def matches(text: str, record: dict[str, Any]) -> bool:
    return parse_filter(text).matches(record)


# --- Operators and values --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("optim.lr = 0.01", True),
        ("optim.lr == 0.01", True),
        ("optim.lr != 0.01", False),
        ("optim.lr != 0.02", True),
        ("optim.lr < 0.02", True),
        ("optim.lr < 0.01", False),
        ("optim.lr <= 0.01", True),
        ("optim.lr > 0.001", True),
        ("optim.lr > 0.01", False),
        ("optim.lr >= 0.01", True),
        ("optim.name ~ 'g'", True),
        ("optim.name ~ '^g'", False),
    ],
)
def test_each_operator_compares_as_written(text: str, expected: bool) -> None:
    assert matches(text, make_record()) is expected


def test_lt_on_config_leaf_matches_smaller_learning_rate() -> None:
    assert matches("optim.lr < 0.1", make_record())
    assert not matches("optim.lr < 0.001", make_record())


@pytest.mark.parametrize(
    "text", ["optim.name = 'sgd'", 'optim.name = "sgd"', "optim.name = sgd"]
)
def test_string_value_quoted_or_bare_matches_config_string(text: str) -> None:
    assert matches(text, make_record())
    assert not matches(text.replace("sgd", "adam"), make_record())


def test_is_null_matches_null_config_and_missing_field() -> None:
    record = make_record(config={"resume": None, "epochs": 3})

    assert matches("resume is null", record)
    assert matches("nothing.here is null", record)
    assert not matches("epochs is null", record)
    assert matches("epochs is not null", record)
    assert not matches("resume is not null", record)


def test_null_value_with_equals_is_null_test() -> None:
    record = make_record(config={"resume": None, "epochs": 3})

    assert matches("resume = null", record)
    assert matches("epochs != null", record)
    assert not matches("epochs = null", record)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("val/acc.max > 0.9", True),
        ("val/acc.max > 0.95", False),
        ("val/acc.last = 0.93", True),
        ("val/acc.min < 0.2", True),
        ("val/acc.min < 0.1", False),
        ("val/acc.count = 20", True),
        ("val/acc.last_step >= 19", True),
        ("val/acc.median > 0", False),
        ("val/acc > 0", False),
    ],
)
def test_metric_summaries_compare_numerically(text: str, expected: bool) -> None:
    assert matches(text, make_record()) is expected


def test_run_id_is_a_bare_word_not_a_date_or_number() -> None:
    record = make_record()

    assert matches("id = 261203-151207-a3f9", record)
    assert matches("id = 261203-*", record)
    assert not matches("id = 261203-151207", record)


def test_date_like_text_compares_as_text_when_quoted() -> None:
    record = make_record(config={"data": "2026-12-01_v2"})

    assert matches("data = '2026-12-01_v2'", record)
    assert matches("data > 2026-11-30", record)


def test_status_compares_with_bare_word() -> None:
    assert matches("status = failed", make_record(status="failed"))
    assert not matches("status = failed", make_record(status="finished"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tag:baseline", True),
        ("TAG:baseline", True),
        ("tag:base*", True),
        ("tag:'cifar'", True),
        ("tag:base", False),
        ("tags = baseline", True),
        ("tags = cif?r", True),
        ("tags != baseline", False),
        ("tags != imagenet", True),
        ("tags ~ '^ci'", True),
        ("not tag:imagenet", True),
    ],
)
def test_tags_match_by_name_glob_or_regex(text: str, expected: bool) -> None:
    assert matches(text, make_record()) is expected


def test_tag_filter_is_false_for_run_without_tags() -> None:
    assert not matches("tag:baseline", make_record(tags=[]))
    assert not matches("tag:baseline", make_record(tags=None))


@pytest.mark.parametrize(
    ("name", "expected"),
    [("lr-0.1", True), ("lr-", True), ("xlr-0.1", False), ("LR-0.1", False)],
)
def test_equals_with_star_is_a_case_sensitive_glob(name: str, expected: bool) -> None:
    assert matches("name = 'lr-*'", make_record(name=name)) is expected
    assert matches("name != 'lr-*'", make_record(name=name)) is not expected


def test_glob_on_unnamed_run_matches_only_not_equal() -> None:
    assert not matches("name = 'lr-*'", make_record(name=None))
    assert matches("name != 'lr-*'", make_record(name=None))


def test_regex_searches_text_of_field() -> None:
    record = make_record(name="lr-0.1")

    assert matches(r"name ~ 'lr-\d'", record)
    assert matches("name ~ '0\\.1$'", record)
    assert not matches(r"name ~ '^0'", record)
    assert matches("optim.lr ~ '^0.01$'", record)


def test_regex_with_possible_nested_set_compiles_without_warning() -> None:
    # pytest turns warnings into errors, so a FutureWarning would fail here.
    assert matches("name ~ '[[x]'", make_record(name="a[b"))
    assert not matches("name ~ '[[x]'", make_record(name="ab"))


def test_quoted_string_reads_backslash_escapes() -> None:
    assert matches(r"name = 'it\'s'", make_record(name="it's"))
    assert matches(r'name = "say \"hi\""', make_record(name='say "hi"'))
    assert matches(r"name = 'a\\b'", make_record(name="a\\b"))


def test_strings_order_lexically() -> None:
    record = make_record()

    assert matches("optim.name > adam", record)
    assert matches("optim.name < 'tanh'", record)
    assert not matches("optim.name < adam", record)


def test_string_field_compared_with_number_reads_it_as_float() -> None:
    record = make_record(config={"width": "0.5", "act": "relu"})

    assert matches("width < 1", record)
    assert matches("width = 0.5", record)
    assert not matches("act < 1", record)
    assert matches("act != 1", record)


def test_number_field_compared_with_quoted_number_reads_it_as_float() -> None:
    assert matches("optim.lr = '0.01'", make_record())
    assert not matches("optim.lr = 'abc'", make_record())


def test_numbers_compare_across_int_and_float_spellings() -> None:
    record = make_record(config={"lr": 0.001, "epochs": 10})

    assert matches("lr = 1e-3", record)
    assert matches("lr = 0.0010", record)
    assert matches("epochs = 10.0", record)
    assert matches("epochs > -2", record)
    assert matches("epochs < inf", record)
    assert matches("epochs > -inf", record)


def test_lr_written_1e_3_matches_lt_0_01() -> None:
    """B01: a learning rate of 1e-3 is a float and compares as one."""
    assert matches("lr < 0.01", make_record(config={"lr": 0.001}))
    assert not matches("lr < 0.001", make_record(config={"lr": 0.001}))


def test_uppercase_on_key_matches_true() -> None:
    """B02: a key spelled ``ON`` is a string key and ``true`` finds it."""
    record = make_record(config={"mixup": {"ON": True, "alpha": 0.2}})

    assert matches("mixup.ON = true", record)
    assert matches("mixup.ON = TRUE", record)
    assert not matches("mixup.ON = false", record)
    assert matches("mixup.ON != false", record)


def test_booleans_equal_only_booleans() -> None:
    record = make_record(config={"flag": True, "one": 1})

    assert not matches("flag = 1", record)
    assert not matches("one = true", record)
    assert matches("flag != 1", record)
    assert not matches("flag > 0", record)


def test_list_values_never_equal_a_scalar() -> None:
    record = make_record(config={"eval_langs": ["en", "de", "no"]})

    assert not matches("eval_langs = en", record)
    assert matches("eval_langs != en", record)
    assert matches("eval_langs ~ 'de'", record)
    assert matches("eval_langs.2 = no", record)


# --- Dates -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(-1.0, False), (0.0, False), (1.0, True)],
)
def test_started_after_datetime_without_offset_is_utc(
    offset: float, expected: bool
) -> None:
    record = make_record(started=DEC_1_0800_UTC + offset)

    assert matches("started > 2026-12-01T08:00", record) is expected
    assert matches("started > 2026-12-01T08:00:00Z", record) is expected


def test_started_after_datetime_with_offset_converts_to_utc() -> None:
    # 10:00 at +02:00 is 08:00 UTC.
    early = make_record(started=DEC_1_0800_UTC - 1)
    late = make_record(started=DEC_1_0800_UTC + 1)

    assert matches("started > 2026-12-01T10:00:00+02:00", late)
    assert not matches("started > 2026-12-01T10:00:00+02:00", early)
    assert matches("started < 2026-12-01T03:00-05:00", early)


def test_date_without_time_is_utc_midnight() -> None:
    record = make_record(started=DEC_1_0800_UTC)

    assert matches("started > 2026-12-01", record)
    assert matches("started < 2026-12-02", record)
    assert matches("ended >= 2026-12-01T08:01:30.000", record)


def test_started_compares_with_epoch_number() -> None:
    record = make_record(started=DEC_1_0800_UTC)

    assert matches(f"started = {DEC_1_0800_UTC}", record)
    assert matches(f"started > {int(DEC_1_0800_UTC) - 1}", record)


def test_date_on_run_that_never_started_is_false() -> None:
    assert not matches("started > 2026-12-01", make_record(started=None))
    assert matches("started is null", make_record(started=None))


# --- Boolean structure -----------------------------------------------------


def test_and_binds_tighter_than_or() -> None:
    record = make_record(config={"a": 1, "b": 0, "c": 0})

    # a or (b and c) is true; (a or b) and c would be false.
    assert matches("a = 1 or b = 1 and c = 1", record)
    assert not matches("(a = 1 or b = 1) and c = 1", record)


def test_not_binds_tighter_than_and() -> None:
    record = make_record(config={"a": 1, "b": 1})

    # (not a) and b is false; not (a and b) is false too, so flip b.
    assert not matches("not a = 1 and b = 1", record)
    assert matches("not a = 2 and b = 1", record)
    assert matches("not (a = 1 and b = 2)", record)
    assert matches("not not a = 1", record)


def test_keywords_are_case_insensitive() -> None:
    record = make_record(config={"a": 1, "b": 2, "c": None})

    assert matches("a = 1 AND b = 2", record)
    assert matches("a = 9 Or b = 2", record)
    assert matches("NOT a = 9", record)
    assert matches("c IS NULL and a Is Not Null", record)


def test_operators_need_no_surrounding_space() -> None:
    record = make_record(config={"a": 1, "b": -2})

    assert matches("a=1 and b<-1 and(a>=1)", record)


def test_empty_filter_matches_everything() -> None:
    for text in ["", "   ", "\n\t"]:
        assert parse_filter(text).matches(make_record())
        assert parse_filter(text).matches({})


def test_filter_keeps_its_text() -> None:
    parsed = parse_filter("optim.lr < 0.1")

    assert isinstance(parsed, Filter)
    assert parsed.text == "optim.lr < 0.1"
    assert repr(parsed) == "Filter('optim.lr < 0.1')"


# --- Field names -----------------------------------------------------------


def test_backtick_name_holds_spaces_and_parentheses() -> None:
    record = make_record(metrics={"loss (train)": summary(last=0.3)})

    assert matches("`loss (train)`.last < 1", record)
    assert not matches("`loss (train)`.last > 1", record)


def test_unicode_metric_names_work_backticked_and_bare() -> None:
    record = make_record(metrics={"损失": summary(last=0.2)})

    assert matches("`损失`.last < 1", record)
    assert matches("`损失.last` < 1", record)
    assert matches("损失.last < 1", record)


def test_metric_name_may_hold_dots_slashes_and_at() -> None:
    record = make_record(
        metrics={"a.b": summary(last=2.0), "val/acc@5": summary(max=0.8)}
    )

    assert matches("a.b.last = 2", record)
    assert matches("val/acc@5.max = 0.8", record)
    assert not matches("a.last = 2", record)


def test_missing_field_fails_every_comparison_but_not_equal() -> None:
    record = make_record()

    for op in ["=", "<", "<=", ">", ">=", "~"]:
        assert not matches(f"nope {op} 1", record), op
    assert matches("nope != 1", record)
    assert matches("not nope = 1", record)


def test_nan_compares_false_with_everything_but_nan() -> None:
    record = make_record(metrics={"loss": summary(last=NAN)})

    assert not matches("loss.last < 1", record)
    assert not matches("loss.last > 1", record)
    assert not matches("loss.last = 1", record)
    assert matches("loss.last != 1", record)
    assert matches("loss.last = nan", record)
    assert matches("loss.last = NaN", record)
    assert not matches("loss.last != nan", record)
    assert not matches("val/acc.last = nan", record | {"metrics": {}})


def test_infinite_summary_compares_with_inf() -> None:
    record = make_record(metrics={"loss": summary(max=math.inf)})

    assert matches("loss.max = inf", record)
    assert matches("loss.max > 1e308", record)


# --- resolve_field ---------------------------------------------------------


def test_resolve_field_reads_reserved_fields_first() -> None:
    record = make_record(config={"name": "from-config", "status": "x"})

    assert resolve_field(record, "name") == "lr-0.01"
    assert resolve_field(record, "status") == "finished"
    assert resolve_field(record, "tags") == ["baseline", "cifar"]
    assert resolve_field(record, "config.name") == "from-config"


def test_resolve_field_duration_is_ended_minus_started() -> None:
    assert resolve_field(make_record(), "duration") == 90.0
    assert resolve_field(make_record(ended=None), "duration") is None
    assert matches("duration > 60", make_record())


def test_resolve_field_returns_nested_section_for_prefix() -> None:
    record = make_record(config={"optim": {"lr": 0.01}, "layers": [{"units": 64}]})

    assert resolve_field(record, "optim") == {"lr": 0.01}
    assert resolve_field(record, "config.optim") == {"lr": 0.01}
    assert resolve_field(record, "layers") == [{"units": 64}]
    assert resolve_field(record, "layers.0.units") == 64
    assert resolve_field(record, "layers.1.units") is None


def test_resolve_field_reads_metric_summary() -> None:
    record = make_record()

    assert resolve_field(record, "val/acc.max") == 0.95
    assert resolve_field(record, "val/acc.count") == 20
    assert resolve_field(record, "val/acc") is None
    assert resolve_field(record, "missing.last") is None


def test_resolve_field_prefers_config_key_over_metric() -> None:
    record = make_record(
        config={"val": {"last": 7}}, metrics={"val": summary(last=0.5)}
    )

    assert resolve_field(record, "val.last") == 7
    assert matches("val.last = 7", record)


def test_resolve_field_tolerates_record_without_config_or_metrics() -> None:
    assert resolve_field({}, "optim.lr") is None
    assert resolve_field({}, "val/acc.max") is None
    assert resolve_field({"config": {"a": {"b": 1}}}, "a.b") == 1


# --- sort_records ----------------------------------------------------------


def records_with(key: str, values: list[Any]) -> list[dict[str, Any]]:
    return [make_record(id=str(i), config={key: v}) for i, v in enumerate(values)]


def config_values(records: list[Any], key: str) -> list[Any]:
    return [resolve_field(record, key) for record in records]


def test_sort_records_orders_numbers_numerically() -> None:
    records = records_with("units", [100, 9, 10, 0.5])

    assert config_values(sort_records(records, ["units"]), "units") == [0.5, 9, 10, 100]


def test_sort_records_orders_strings_lexically() -> None:
    records = records_with("act", ["tanh", "relu", "Gelu", "gelu"])

    ordered = sort_records(records, ["act"])

    assert config_values(ordered, "act") == ["Gelu", "gelu", "relu", "tanh"]


def test_sort_records_minus_prefix_sorts_descending() -> None:
    records = records_with("units", [100, 9, 10])

    assert config_values(sort_records(records, ["-units"]), "units") == [100, 10, 9]


def test_sort_records_puts_missing_none_and_nan_last_both_ways() -> None:
    records = records_with("lr", [None, 0.1, NAN, 0.3])
    records.append(make_record(id="4", config={}))

    ascending = sort_records(records, ["lr"])
    descending = sort_records(records, ["-lr"])

    assert [r["id"] for r in ascending] == ["1", "3", "0", "2", "4"]
    assert [r["id"] for r in descending] == ["3", "1", "0", "2", "4"]


def test_sort_records_puts_numbers_before_bools_before_strings() -> None:
    records = records_with("x", ["b", 2, True, "a", 1, False])

    ascending = config_values(sort_records(records, ["x"]), "x")
    descending = config_values(sort_records(records, ["-x"]), "x")

    assert ascending == [1, 2, False, True, "a", "b"]
    assert descending == [2, 1, True, False, "b", "a"]


def test_sort_records_is_stable_across_several_keys() -> None:
    records = [
        make_record(id="a", status="failed", config={"lr": 0.1}),
        make_record(id="b", status="finished", config={"lr": 0.1}),
        make_record(id="c", status="failed", config={"lr": 0.2}),
        make_record(id="d", status="finished", config={"lr": 0.2}),
        make_record(id="e", status="failed", config={"lr": 0.1}),
    ]

    ordered = sort_records(records, ["status", "-lr"])

    assert [r["id"] for r in ordered] == ["c", "a", "e", "d", "b"]


def test_sort_records_by_metric_summary_descending() -> None:
    records = [
        make_record(id="low", metrics={"val/acc": summary(max=0.5)}),
        make_record(id="high", metrics={"val/acc": summary(max=0.9)}),
        make_record(id="none", metrics={}),
    ]

    ordered = sort_records(records, ["-val/acc.max"])

    assert [r["id"] for r in ordered] == ["high", "low", "none"]


def test_sort_records_without_keys_keeps_order() -> None:
    records = records_with("x", [3, 1, 2])

    assert sort_records(records, []) == records


# --- Errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("optim.lr <", "Expected a value after '<' at position 10.", 10),
        ("optim.lr < )", "Expected a value after '<' at position 11.", 11),
        ("(a = 1", "Unclosed parenthesis opened at position 0.", 0),
        ("a = 1)", "Unmatched ')' at position 5.", 5),
        (
            "optim.lr => 1",
            "Unknown operator '=>' at position 9; use one of = != < <= > >= ~ .",
            9,
        ),
        (
            "optim.lr 0.1",
            "Expected an operator (= != < <= > >= ~ or 'is null') after "
            "'optim.lr' at position 9.",
            9,
        ),
        ("x is", "Expected 'null' or 'not null' after 'is' at position 4.", 4),
        ("x is not 3", "Expected 'null' after 'not' at position 9.", 9),
        (
            "a = 1 b = 2",
            "Expected 'and', 'or' or the end of the filter after '1' at position 6.",
            6,
        ),
        ("(a = 1 b", "Expected 'and', 'or' or ')' after '1' at position 7.", 7),
        (
            "a = 1 and",
            "Expected a field name, 'tag:', 'not' or '(' after 'and' at position 9.",
            9,
        ),
        (
            "1x = 2",
            "Expected a field name, 'tag:', 'not' or '(' at position 0.",
            0,
        ),
        ("x = and", "Expected a value after '=' at position 4.", 4),
        ("name = 'lr-*", "Unclosed string opened at position 7.", 7),
        ("`loss (train).last < 1", "Unclosed backtick name opened at position 0.", 0),
        ("`` = 1", "Empty backtick name at position 0.", 0),
        ("tag:", "Expected a tag name after 'tag:' at position 4.", 4),
        (
            "x < true",
            "Cannot compare with 'true' using '<' at position 4; "
            "use = or != (or 'is null').",
            4,
        ),
        (
            "name ~ '('",
            "Invalid regular expression '(' at position 7: "
            "missing ), unterminated subpattern.",
            7,
        ),
        (
            "started > 2026-13-01",
            "Invalid date '2026-13-01' at position 10: month must be in 1..12.",
            10,
        ),
        (
            "started > 2026-12-01T08",
            "Invalid date '2026-12-01T08' at position 10; write a date as "
            "2026-12-01, 2026-12-01T08:00, 2026-12-01T08:00:00Z or "
            "2026-12-01T08:00:00+02:00, or quote it to compare it as text.",
            10,
        ),
        (
            "started > 2026-12-01T08:00+24:00",
            "Invalid date '2026-12-01T08:00+24:00' at position 10: "
            "UTC offset +24:00 is out of range; use -23:59 to +23:59.",
            10,
        ),
        (
            "name = 'a' 'b'",
            "Expected 'and', 'or' or the end of the filter after 'a' at position 11.",
            11,
        ),
        (
            "status = finshed",
            "'finshed' is not a run status (running, finished, failed, killed, "
            "crashed, unreadable); did you mean 'finished'?",
            9,
        ),
        (
            "started > yesterday",
            "started is a time: compare it with a date (2026-12-04, "
            "2026-12-04T17:21) or seconds since 1970, not 'yesterday'.",
            10,
        ),
        (
            "duration > 1m",
            "duration is in seconds: compare it with a number (duration > 600), "
            "not '1m'.",
            11,
        ),
        (
            "(" * 51 + "a = 1" + ")" * 51,
            "Filter nests too deeply at position 50; "
            "use at most 50 levels of parentheses and 'not'.",
            50,
        ),
    ],
)
def test_bad_filter_raises_syntax_error_with_position(
    text: str, message: str, position: int
) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)

    assert caught.value.args[0] == message
    assert caught.value.position == position
    assert caught.value.text == text


def test_syntax_error_str_shows_caret_under_offending_token() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter("optim.lr < 0.1 and val/acc.max => 0.9")

    assert str(caught.value) == (
        "Unknown operator '=>' at position 31; use one of = != < <= > >= ~ .\n"
        "  optim.lr < 0.1 and val/acc.max => 0.9\n"
        "                                 ^"
    )


def test_fifty_levels_of_nesting_still_parse() -> None:
    text = "(" * 50 + "a = 1" + ")" * 50

    assert matches(text, make_record(config={"a": 1}))
    assert matches("not " * 50 + "a = 1", make_record(config={"a": 1}))


# --- Robustness and scale --------------------------------------------------

SAMPLE_RECORD = make_record(
    config={"lr": 0.001, "flag": True, "langs": ["en"], "none": None, "s": "x"},
    metrics={"loss": summary(last=NAN, max=math.inf), "a.b": summary()},
)

FILTER_PIECES = [
    "(", ")", " ", "and", "or", "not", "is", "null", "tag:", "`", "'", '"',
    "\\", "=", "==", "!=", "<", "<=", ">", ">=", "~", "=>", "lr", "flag",
    "loss.last", "a.b.max", "started", "tags", "true", "nan", "-inf", "1e-3",
    "2026-12-01", "2026-12-01T08:00+02:00", "*", "[", "损失", "0",
]  # fmt: skip


def check_parse_outcome(text: str) -> None:
    try:
        parsed = parse_filter(text)
    except FilterSyntaxError as error:
        assert 0 <= error.position <= len(text)
        assert isinstance(str(error), str)
        return
    assert isinstance(parsed.matches(SAMPLE_RECORD), bool)
    assert isinstance(parsed.matches({}), bool)


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_parse_filter_on_any_text_returns_filter_or_syntax_error(text: str) -> None:
    check_parse_outcome(text)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(FILTER_PIECES), max_size=12).map(" ".join))
def test_parse_filter_on_token_soup_returns_filter_or_syntax_error(
    text: str,
) -> None:
    check_parse_outcome(text)


def test_deeply_nested_input_raises_syntax_error_not_recursion_error() -> None:
    for text in ["(" * 10_000, "not " * 10_000, "x ~ '" + "(" * 10_000 + "'"]:
        with pytest.raises(FilterSyntaxError):
            parse_filter(text)


def test_filter_selects_from_ten_thousand_records() -> None:
    records = [
        make_record(
            id=f"run-{i}",
            status="failed" if i % 3 == 0 else "finished",
            config={"optim": {"lr": i / 10_000}},
            metrics={"val/acc": summary(max=(i % 100) / 100)},
        )
        for i in range(10_000)
    ]
    parsed = parse_filter("optim.lr < 0.5 and val/acc.max > 0.9 and status != failed")

    selected = [record for record in records if parsed.matches(record)]

    expected = [i for i in range(5000) if i % 100 > 90 and i % 3 != 0]
    assert [record["id"] for record in selected] == [f"run-{i}" for i in expected]
    assert len(selected) == 300


def test_metric_prefix_reads_the_metric_where_a_config_key_shadows_it() -> None:
    record = {
        "config": {"grad": {"max": 5}},
        "config_flat": {"grad.max": 5},
        "metrics": {"grad": {"last": 1.0, "min": 0.5, "max": 9.0}},
    }

    assert resolve_field(record, "grad.max") == 5
    assert resolve_field(record, "metric.grad.max") == 9.0
    assert parse_filter("metric.grad.max > 8").matches(record)


def test_exit_code_is_a_field() -> None:
    assert parse_filter("exit_code = 2").matches({"exit_code": 2})
    assert not parse_filter("exit_code = 2").matches({"exit_code": 0})
