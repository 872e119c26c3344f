"""Package differences between two environments, as diff and reproduce show them."""

from __future__ import annotations

from runlab.capture.environment import package_differences


def pkg(name: str, version: str, commit: str | None = None) -> dict[str, object]:
    entry: dict[str, object] = {"name": name, "version": version, "editable": False}
    if commit:
        entry["commit"] = commit
    return entry


def test_added_removed_and_changed_versions_by_name() -> None:
    before = [pkg("numpy", "1.26.4"), pkg("torch", "2.13.0"), pkg("Old_Pkg", "1.0")]
    after = [pkg("numpy", "2.1.0"), pkg("torch", "2.13.0"), pkg("rich", "14.0")]

    found = package_differences(before, after)

    assert found == {
        "added": [{"name": "rich", "version": "14.0"}],
        "removed": [{"name": "Old_Pkg", "version": "1.0"}],
        "changed": [{"name": "numpy", "before": "1.26.4", "after": "2.1.0"}],
    }


def test_same_version_at_another_commit_is_a_change() -> None:
    before = [pkg("runlab", "0.1.0", "a" * 40)]
    after = [pkg("runlab", "0.1.0", "b" * 40)]

    [change] = package_differences(before, after)["changed"]

    assert change == {
        "name": "runlab",
        "before": f"0.1.0 ({'a' * 12})",
        "after": f"0.1.0 ({'b' * 12})",
    }


def test_names_match_across_case_and_separators() -> None:
    found = package_differences(
        [pkg("ruamel.yaml", "0.18")], [pkg("Ruamel-Yaml", "0.18")]
    )
    assert found == {"added": [], "removed": [], "changed": []}
