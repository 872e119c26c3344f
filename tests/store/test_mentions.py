"""Mentions of runs in journal text: finding them, and linking them in Markdown."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from runlab.store.mentions import RunMentions, find_mentions, link_mentions

ALPHA, BETA, GAMMA = "261203-151207-a3f9", "261203-151300-0b1c", "261204-090000-77aa"
RUNS: dict[str, str | None] = {ALPHA: "lr-0.01", BETA: "baseline run", GAMMA: None}


def href(run_id: str) -> str:
    return f"/runs/{run_id}"


def test_mentions_by_id_and_by_name_in_order_of_first_appearance() -> None:
    text = f"The baseline run lost to lr-0.01; {ALPHA} again, then {GAMMA}."

    assert find_mentions(text, RUNS) == [BETA, ALPHA, GAMMA]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("run lr-0.01 was best", True),
        ("it was lr-0.01.", True),
        ("(lr-0.01), lr-0.01: yes", True),
        ("runs/lr-0.01/README.md", True),
        ("**lr-0.01**", True),
        ("lr-0.012 is another", False),
        ("x-lr-0.01 is another", False),
        ("lr-0.01.5 is another", False),
        ("v.lr-0.01 is another", False),
        ("LR-0.01 differs in case", False),
        ("plr-0.01_x", False),
    ],
)
def test_name_mentions_need_whole_word_boundaries(text: str, found: bool) -> None:
    assert find_mentions(text, RUNS) == ([ALPHA] if found else [])


def test_id_inside_a_longer_word_is_no_mention() -> None:
    assert find_mentions(f"x{ALPHA} {ALPHA}0 {ALPHA}-old", RUNS) == []


def test_short_and_missing_names_are_not_mentions() -> None:
    runs: dict[str, str | None] = {ALPHA: "lr", BETA: None, GAMMA: "abc"}

    assert find_mentions("lr None abc", runs) == [GAMMA]


def test_longest_overlapping_mention_wins() -> None:
    runs: dict[str, str | None] = {ALPHA: "alpha", BETA: "alpha beta", GAMMA: "beta"}

    assert find_mentions("alpha beta, then beta", runs) == [BETA, GAMMA]


def test_shared_name_mentions_every_run_with_it_but_links_none() -> None:
    runs: dict[str, str | None] = {ALPHA: "seed-sweep", BETA: "seed-sweep"}

    assert find_mentions("the seed-sweep runs", runs) == [ALPHA, BETA]
    assert link_mentions("the seed-sweep runs", runs, href) == "the seed-sweep runs"


def test_id_wins_over_a_name_that_equals_it() -> None:
    runs: dict[str, str | None] = {ALPHA: None, BETA: ALPHA}

    assert find_mentions(f"see {ALPHA}", runs) == [ALPHA]


def test_mentions_among_ten_thousand_runs_in_a_long_entry() -> None:
    runs: dict[str, str | None] = {
        f"26{i // 10000:04d}-{i % 10000:06d}-{i % 65536:04x}": f"exp-{i}"
        for i in range(10000)
    }
    ids = list(runs)
    text = " ".join(
        f"line {i} compares exp-{i * 7} with {ids[i * 13]}." for i in range(700)
    )
    found = RunMentions(runs).find(text)

    expected = [x for i in range(700) for x in (ids[i * 7], ids[i * 13])]
    assert found == list(dict.fromkeys(expected))


def test_links_point_each_mention_at_its_run() -> None:
    text = f"# Result\n\n- lr-0.01 beat the baseline run ({GAMMA}).\n"

    linked = link_mentions(text, RUNS, href)

    assert linked == (
        f"# Result\n\n- [lr-0.01](/runs/{ALPHA}) beat the "
        f"[baseline run](/runs/{BETA}) ([{GAMMA}](/runs/{GAMMA})).\n"
    )


def test_links_leave_code_spans_and_code_blocks_as_written() -> None:
    text = (
        f"Run `runlab show {ALPHA}` or ``lr-0.01``.\n\n"
        "```sh\nrunlab show lr-0.01\n```\n\n"
        "~~~\nlr-0.01\n~~~\n\n"
        "    lr-0.01 indented\n\n"
        "> ```\n> lr-0.01 quoted\n> ```\n\n"
        "After: lr-0.01\n"
    )

    linked = link_mentions(text, RUNS, href)

    assert linked == text.replace("After: lr-0.01", f"After: [lr-0.01](/runs/{ALPHA})")


def test_unclosed_fence_keeps_the_rest_of_the_text_as_code() -> None:
    text = "lr-0.01\n\n```\nlr-0.01\n\nlr-0.01\n"

    assert link_mentions(text, RUNS, href) == text.replace(
        "lr-0.01", f"[lr-0.01](/runs/{ALPHA})", 1
    )


def test_unmatched_backtick_does_not_hide_a_mention() -> None:
    assert link_mentions("a ` then lr-0.01", RUNS, href) == (
        f"a ` then [lr-0.01](/runs/{ALPHA})"
    )


@pytest.mark.parametrize(
    "text",
    [
        "[lr-0.01](https://example.org/lr-0.01)",
        f"[see the run](/runs/{ALPHA})",
        "![plot of lr-0.01](lr-0.01.png)",
        "[lr-0.01][ref]\n\n[ref]: https://example.org/lr-0.01",
        "[lr-0.01]",
        "<https://example.org/lr-0.01>",
        "https://example.org/runs/lr-0.01/x",
        "<span title='lr-0.01'>",
    ],
)
def test_links_leave_existing_links_and_urls_as_written(text: str) -> None:
    assert link_mentions(text, RUNS, href) == text


def test_linked_markdown_renders_one_anchor_per_mention() -> None:
    runs: dict[str, str | None] = {ALPHA: "odd]name", BETA: "lr-0.01"}
    text = "odd]name and lr-0.01, `lr-0.01`, [lr-0.01](x)"

    linked = link_mentions(text, runs, lambda run_id: f"/runs/{run_id} (a)")
    html = MarkdownIt("commonmark", {"html": False}).render(linked)

    assert html == (
        f'<p><a href="/runs/{ALPHA}%20%28a%29">odd]name</a> and '
        f'<a href="/runs/{BETA}%20%28a%29">lr-0.01</a>, <code>lr-0.01</code>, '
        '<a href="x">lr-0.01</a></p>\n'
    )
