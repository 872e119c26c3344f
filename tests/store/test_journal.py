"""The journal over a real store folder: entries, hand-written files, search."""

from __future__ import annotations

import errno
import logging
import os
import re
import time
from pathlib import Path

import pytest

import runlab
from runlab.errors import RunlabError, StoreError
from runlab.store import open_store
from runlab.store.doctor import check_store
from runlab.store.journal import (
    Journal,
    JournalEntryNotFound,
    JournalError,
    is_entry_id,
)

ENTRY_ID = re.compile(r"\d{4}-\d{2}-\d{2}-\d{6}-[0-9a-f]{4}")
WHEN = 1796310727.25
ALPHA, BETA, GAMMA = "261203-151207-a3f9", "261203-151300-0b1c", "261204-090000-77aa"
RUNS: dict[str, str | None] = {ALPHA: "lr-0.01", BETA: "baseline run", GAMMA: None}


def href(run_id: str) -> str:
    return f"/runs/{run_id}"


def journal_files(store: Path) -> list[str]:
    return sorted(os.listdir(store / "journal"))


def write_by_hand(store: Path, name: str, content: str, mtime: float = WHEN) -> Path:
    folder = store / "journal"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(content, encoding="utf-8")
    os.utime(path, (mtime, mtime))
    return path


# Writing and reading entries ---------------------------------------------------


def test_added_entry_reads_back_with_its_text_tags_and_times(store: Path) -> None:
    journal = Journal(store)

    added = journal.add_entry(
        "\n\n# Lower lr\n\nlr-0.01 won.\n\n", ["idea", "lr"], WHEN
    )

    assert ENTRY_ID.fullmatch(added.id)
    assert added.id.startswith(time.strftime("%Y-%m-%d-%H%M%S", time.localtime(WHEN)))
    assert added.path == store / "journal" / f"{added.id}.md"
    assert journal.get_entry(added.id) == added
    assert added.text == "# Lower lr\n\nlr-0.01 won."
    assert added.tags == ("idea", "lr")
    assert added.created == pytest.approx(WHEN, abs=1e-3)
    assert added.updated == added.created


def test_entry_file_is_front_matter_then_the_text(store: Path) -> None:
    added = Journal(store).add_entry("A *note*", ["idea", "two words", "true"], WHEN)

    lines = added.path.read_text(encoding="utf-8").split("\n")

    assert lines[0] == "---"
    assert re.fullmatch(
        r"created: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.250[+-]\d\d:\d\d", lines[1]
    )
    assert lines[2] == lines[1].replace("created", "updated")
    assert lines[3:] == ['tags: [idea, "two words", "true"]', "---", "A *note*", ""]


def test_entry_as_dict_has_the_web_api_fields(store: Path) -> None:
    added = Journal(store).add_entry("## Plan\nmore", ["x"], WHEN)

    assert added.to_dict() == {
        "id": added.id,
        "title": "Plan",
        "created": added.created,
        "updated": added.updated,
        "tags": ["x"],
        "text": "## Plan\nmore",
    }


def test_title_is_the_first_non_empty_line_cut_at_80_characters(store: Path) -> None:
    long_line = "### " + "word " * 30

    added = Journal(store).add_entry(f"   \n{long_line}\nsecond line")

    assert added.title == ("word " * 16).strip()
    assert len(added.title) <= 80


def test_entries_list_newest_first(store: Path) -> None:
    journal = Journal(store)
    middle = journal.add_entry("middle", when=WHEN)
    oldest = journal.add_entry("oldest", when=WHEN - 86400)
    newest = journal.add_entry("newest", when=WHEN + 0.5)

    assert [e.id for e in journal.list_entries()] == [newest.id, middle.id, oldest.id]


def test_entries_of_one_second_list_in_the_order_written(store: Path) -> None:
    journal = Journal(store)
    ids = [journal.add_entry(f"entry {i}", when=WHEN + i / 100).id for i in range(5)]

    assert [e.id for e in journal.list_entries()] == ids[::-1]


def test_entries_added_in_the_same_second_get_distinct_ids(store: Path) -> None:
    journal = Journal(store)

    # 1,000 draws from 65,536 suffixes clash at least once but 1 time in 2,000.
    ids = {journal.add_entry(f"entry {i}", when=WHEN).id for i in range(1000)}

    assert len(ids) == 1000
    assert len(journal.list_entries()) == 1000


def test_listing_a_store_without_a_journal_is_empty_and_creates_nothing(
    store: Path,
) -> None:
    assert Journal(store).list_entries() == []
    assert not store.exists()


def test_first_entry_creates_the_store_with_its_gitignore(store: Path) -> None:
    Journal(store).add_entry("first")

    assert (store / ".gitignore").read_text().splitlines()[-1] == "*"


def test_update_replaces_text_keeps_created_and_sets_updated(store: Path) -> None:
    journal = Journal(store)
    added = journal.add_entry("first thought", ["idea"], WHEN)

    updated = journal.update_entry(added.id, "second thought")

    assert updated.id == added.id
    assert updated.text == "second thought"
    assert updated.tags == ("idea",)
    assert updated.created == added.created
    assert updated.updated > time.time() - 60
    assert journal.get_entry(added.id) == updated


def test_update_with_tags_replaces_them(store: Path) -> None:
    journal = Journal(store)
    added = journal.add_entry("text", ["idea", "lr"], WHEN)

    assert journal.update_entry(added.id, "text", ["done"]).tags == ("done",)
    assert journal.update_entry(added.id, "text", []).tags == ()


def test_update_that_changes_nothing_leaves_the_file_alone(store: Path) -> None:
    journal = Journal(store)
    added = journal.add_entry("same text", ["idea"], WHEN)
    before = os.stat(added.path)

    same = journal.update_entry(added.id, "same text\n", ["idea"])

    after = os.stat(added.path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert same == added


def test_writes_leave_no_temporary_files(store: Path) -> None:
    journal = Journal(store)
    added = journal.add_entry("one", when=WHEN)
    journal.update_entry(added.id, "two")
    other = journal.add_entry("three", when=WHEN)

    assert journal_files(store) == sorted([f"{added.id}.md", f"{other.id}.md"])


def test_entry_is_written_whole_where_hard_links_are_refused(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(source: object, target: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refuse)
    journal = Journal(store)

    added = journal.add_entry("on a FAT disk", ["usb"], WHEN)

    assert journal.get_entry(added.id).text == "on a FAT disk"
    assert journal_files(store) == [f"{added.id}.md"]


def test_search_needs_every_word_in_text_or_tags_in_any_case(store: Path) -> None:
    journal = Journal(store)
    lr = journal.add_entry("Lower LR helped the baseline", ["sweep"], WHEN)
    noise = journal.add_entry("Noise in the baseline", ["seeds"], WHEN + 1)

    assert journal.search("lr BASELINE") == [lr]
    assert journal.search("baseline") == [noise, lr]
    assert journal.search("seeds noise") == [noise]
    assert journal.search("lr seeds") == []
    assert journal.search("  ") == [noise, lr]


# Refusals ----------------------------------------------------------------------


def test_empty_text_raises_journal_error(store: Path) -> None:
    journal = Journal(store)

    with pytest.raises(JournalError) as caught:
        journal.add_entry(" \n\t ")

    assert (
        str(caught.value) == "A journal entry needs some text; give it a line or more."
    )
    assert isinstance(caught.value, ValueError)
    assert not store.exists()


def test_bad_tags_raise_journal_error(store: Path) -> None:
    journal = Journal(store)
    added = journal.add_entry("text", when=WHEN)

    with pytest.raises(JournalError, match="'a,b' is not allowed"):
        journal.add_entry("text", ["a,b"])
    with pytest.raises(JournalError, match="must be a list of words"):
        journal.update_entry(added.id, "text", "idea")
    assert journal.get_entry(added.id) == added


def test_missing_entry_raises_journal_entry_not_found(store: Path) -> None:
    journal = Journal(store)
    journal.add_entry("text")

    with pytest.raises(JournalEntryNotFound) as caught:
        journal.get_entry("2020-01-01-000000-0000")

    assert isinstance(caught.value, KeyError)
    assert isinstance(caught.value, RunlabError)
    assert str(caught.value) == (
        f"No journal entry '2020-01-01-000000-0000' in {store / 'journal'}."
    )


@pytest.mark.parametrize(
    "crafted",
    ["../outside", "..", ".", ".hidden", "a/b", "", "x\ny", "a\\b", "x" * 201],
)
def test_crafted_ids_touch_nothing_outside_the_journal(
    store: Path, crafted: str
) -> None:
    journal = Journal(store)
    journal.add_entry("inside", when=WHEN)
    outside = store / "outside.md"
    outside.write_text("untouched\n")

    with pytest.raises(JournalEntryNotFound):
        journal.get_entry(crafted)
    with pytest.raises(JournalEntryNotFound):
        journal.update_entry(crafted, "overwritten")

    assert outside.read_text() == "untouched\n"
    assert not is_entry_id(crafted)


def test_entry_linking_outside_the_journal_is_neither_listed_nor_read(
    store: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal(store)
    kept = journal.add_entry("inside", when=WHEN)
    secret = tmp_path / "secret.md"
    secret.write_text("secret\n")
    (store / "journal" / "leak.md").symlink_to(secret)

    with caplog.at_level(logging.WARNING, logger="runlab.store.journal"):
        assert journal.list_entries() == [kept]
    with pytest.raises(JournalEntryNotFound):
        journal.get_entry("leak")
    assert "leak.md: it links outside" in caplog.text


def test_journal_that_cannot_be_written_raises_store_error(store: Path) -> None:
    store.mkdir()
    (store / "journal").write_text("a file where the folder should be\n")

    with pytest.raises(StoreError) as caught:
        Journal(store).add_entry("text")

    assert str(caught.value).startswith(
        f"Cannot add a journal entry in {store / 'journal'}: [Errno 17] File exists"
    )


# Files written by hand ---------------------------------------------------------


def test_file_without_front_matter_is_an_entry_dated_by_its_file_time(
    store: Path,
) -> None:
    write_by_hand(store, "ideas.md", "# Ideas\n\ntry warmup\n", mtime=WHEN)

    entry = Journal(store).get_entry("ideas")

    assert (entry.id, entry.title, entry.tags) == ("ideas", "Ideas", ())
    assert entry.text == "# Ideas\n\ntry warmup"
    assert entry.created == entry.updated == WHEN
    assert Journal(store).list_entries() == [entry]


def test_update_of_a_hand_written_file_adds_front_matter_and_keeps_its_date(
    store: Path,
) -> None:
    path = write_by_hand(store, "my notes.md", "plain\n", mtime=WHEN)
    journal = Journal(store)

    updated = journal.update_entry("my notes", "plain, then more", ["hand"])

    assert path.read_text().startswith("---\ncreated: ")
    assert updated.created == pytest.approx(WHEN, abs=1e-3)
    assert (updated.text, updated.tags) == ("plain, then more", ("hand",))


def test_hand_written_front_matter_is_read_in_its_common_forms(store: Path) -> None:
    write_by_hand(
        store,
        "a.md",
        "---\ncreated: 2026-12-03T15:12:07Z\ntags:\n  - idea\n  - 2026\n---\ntext a\n",
    )
    write_by_hand(
        store, "b.md", "---\ncreated: 2026-12-03 15:12:07\ntags: x, y\n---\nb\n"
    )

    a, b = Journal(store).get_entry("a"), Journal(store).get_entry("b")

    assert a.created == 1796310727.0
    assert a.tags == ("idea", "2026")
    assert a.text == "text a"
    assert b.created == time.mktime((2026, 12, 3, 15, 12, 7, 0, 0, -1))
    assert b.tags == ("x", "y")


def test_malformed_front_matter_is_read_as_text_with_a_warning(
    store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal(store)
    good = journal.add_entry("good", when=WHEN)
    content = "---\ntags: [unclosed\n---\nbody\n"
    bad = write_by_hand(store, "bad.md", content, mtime=WHEN - 10)

    with caplog.at_level(logging.WARNING, logger="runlab.store.journal"):
        entries = journal.list_entries()

    assert [e.id for e in entries] == [good.id, "bad"]
    assert entries[1].text == content.strip()
    assert entries[1].created == WHEN - 10
    assert f"Journal file {bad} has a malformed front matter" in caplog.text


def test_unclosed_front_matter_and_a_horizontal_rule_are_text(
    store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_by_hand(store, "open.md", "---\ncreated: 2020-01-01\nno end\n")
    write_by_hand(store, "rule.md", "---\nJust a rule above.\n\n---\n\nmore\n")

    with caplog.at_level(logging.WARNING, logger="runlab.store.journal"):
        entries = {e.id: e for e in Journal(store).list_entries()}

    assert entries["open"].text == "---\ncreated: 2020-01-01\nno end"
    assert entries["rule"].text == "---\nJust a rule above.\n\n---\n\nmore"
    assert "open.md has an unclosed front matter" in caplog.text


def test_bad_date_in_front_matter_falls_back_to_the_file_time(
    store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_by_hand(store, "when.md", "---\ncreated: last tuesday\n---\nx\n", mtime=WHEN)

    with caplog.at_level(logging.WARNING, logger="runlab.store.journal"):
        entry = Journal(store).get_entry("when")

    assert entry.created == entry.updated == WHEN
    assert "has a bad date 'last tuesday'" in caplog.text


def test_files_that_are_not_entries_are_not_listed(store: Path) -> None:
    journal = Journal(store)
    added = journal.add_entry("real", when=WHEN)
    write_by_hand(store, ".hidden.md", "hidden\n")
    write_by_hand(store, ".new-1a2b3c4d.md.tmp", "half written\n")
    write_by_hand(store, "picture.png", "not markdown\n")
    (store / "journal" / "folder.md").mkdir()

    assert journal.list_entries() == [added]


# The journal beside the runs ---------------------------------------------------


def test_journal_folder_is_not_taken_for_a_run(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLAB_SYSTEM_METRICS", "0")
    monkeypatch.delenv("RUNLAB_RUN_DIR", raising=False)
    run = runlab.start(store=store, name="lr-0.01")
    run.finish()
    Journal(store).add_entry(f"run {run.id} done", when=WHEN)

    opened = open_store(store)

    assert opened.run_ids_on_disk() == [run.id]
    assert [r["id"] for r in opened.records()] == [run.id]
    assert check_store(opened) == []
