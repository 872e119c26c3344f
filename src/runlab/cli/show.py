"""``runlab show`` and ``runlab compare``: one run in full, or runs side by side."""

from __future__ import annotations

from typing import Any

import click

from runlab.cli.options import store_option
from runlab.cli.render import (
    SUMMARIES,
    echo_json,
    format_value,
    public_record,
    varying_config_keys,
)
from runlab.cli.render import console as make_console

__all__ = ["compare_command", "show_command"]


@click.command()
@click.argument("run")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON, with git and environment."
)
@store_option
def show_command(run: str, as_json: bool, store: str | None) -> None:
    """Show RUN (id, id prefix or name): status, config, metrics, git, environment.

    \b
    Example:
      runlab show 261203-1512
    """
    from runlab.store import open_store

    stored = open_store(store).load_run(run)
    if as_json:
        data = public_record(stored.record)
        data.update(git=stored.git, environment=stored.environment, meta=stored.meta)
        data["notes"] = stored.notes
        data["checkpoints"] = stored.checkpoints()
        echo_json(data)
        return
    _print_run(stored)


def _print_run(stored: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = make_console()
    record, meta = stored.record, stored.meta
    title = f"{stored.id}" + (f" ({stored.name})" if stored.name else "")
    console.print(f"[bold]{escape(title)}[/]  {escape(stored.status)}")
    facts = {
        "started": stored.started, "ended": stored.ended, "command": _command(meta),
        "cwd": meta.get("cwd"), "host": meta.get("host"), "exit code": meta.get("exit_code"),
        "tags": ", ".join(stored.tags) or None, "error": meta.get("error"),
        "git": _git_line(stored.git), "python": _python_line(stored.environment),
        "folder": str(stored.path),
    }  # fmt: skip
    for key, value in facts.items():
        if value is not None:
            console.print(f"  {key:10} {escape(str(value))}")
    config = Table(title="config", header_style="bold")
    for column in ("key", "value", "type"):
        config.add_column(column)
    for key, value in (record.get("config_flat") or {}).items():
        config.add_row(escape(key), escape(format_value(value)), type(value).__name__)
    console.print(config)
    console.print(_metrics_table(record))
    if stored.notes.strip():
        console.print("[bold]notes[/]")
        console.print(escape(stored.notes.strip()))


def _metrics_table(record: dict[str, Any]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="metrics", header_style="bold")
    table.add_column("metric")
    for key in SUMMARIES:
        table.add_column(key, justify="right")
    for name, summary in sorted((record.get("metrics") or {}).items()):
        table.add_row(
            escape(name), *(escape(format_value(summary.get(k))) for k in SUMMARIES)
        )
    return table


def _command(meta: dict[str, Any]) -> str | None:
    import shlex

    command = meta.get("command")
    return shlex.join(command) if isinstance(command, list) else None


def _git_line(git: dict[str, Any]) -> str | None:
    if not git:
        return None
    if not git.get("available"):
        return f"not recorded ({git.get('reason')})"
    where = git.get("branch") or ("detached" if git.get("detached") else "?")
    dirty = ", uncommitted changes" if git.get("dirty") else ""
    return f"{where} @ {(git.get('commit') or 'no commit')[:12]}{dirty}"


def _python_line(env: dict[str, Any]) -> str | None:
    python = env.get("python") or {}
    if not python:
        return None
    return f"{python.get('version')} ({len(env.get('packages') or [])} packages)"


@click.command()
@click.argument("runs", nargs=-1, required=True)
@click.option(
    "--all", "show_all", is_flag=True, help="Show config keys that are equal too."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_option
def compare_command(
    runs: tuple[str, ...], show_all: bool, as_json: bool, store: str | None
) -> None:
    """Compare RUNS: the config keys that differ, and metric summaries side by side.

    \b
    Example:
      runlab compare 261203-1512 261203-1530
    """
    from runlab.store import open_store

    target = open_store(store)
    records = [target.load_run(ref).record for ref in runs]
    keys = _config_keys(records) if show_all else varying_config_keys(records)
    metrics = [
        m for m in _metric_names(records) if show_all or not m.startswith("sys/")
    ]
    if as_json:
        echo_json(_comparison(records, keys, metrics))
        return
    _print_comparison(records, keys, metrics)


def _config_keys(records: list[dict[str, Any]]) -> list[str]:
    keys: list[str] = []
    for record in records:
        keys += [k for k in record.get("config_flat") or {} if k not in keys]
    return keys


def _metric_names(records: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for record in records:
        names += [n for n in record.get("metrics") or {} if n not in names]
    return sorted(names, key=lambda n: (n.startswith("sys/"), n))


def _comparison(
    records: list[dict[str, Any]], keys: list[str], metrics: list[str]
) -> dict[str, Any]:
    return {
        "runs": [r["id"] for r in records],
        "config": {
            k: [(r.get("config_flat") or {}).get(k) for r in records] for k in keys
        },
        "metrics": {
            m: [(r.get("metrics") or {}).get(m) for r in records] for m in metrics
        },
    }


def _print_comparison(
    records: list[dict[str, Any]], keys: list[str], metrics: list[str]
) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(header_style="bold")
    table.add_column("")
    for record in records:
        label = record["id"] + (f"\n{record['name']}" if record.get("name") else "")
        table.add_column(escape(label), justify="right")
    table.add_row("[bold]status[/]", *(escape(str(r.get("status"))) for r in records))
    for key in keys:
        values = [(r.get("config_flat") or {}).get(key) for r in records]
        table.add_row(escape(key), *(escape(format_value(v)) for v in values))
    table.add_section()
    for name in metrics:
        for summary in ("last", "max", "min"):
            values = [
                ((r.get("metrics") or {}).get(name) or {}).get(summary) for r in records
            ]
            table.add_row(
                escape(f"{name}.{summary}"), *(escape(format_value(v)) for v in values)
            )
    make_console().print(table)
    if not keys:
        click.echo("The runs' configs are identical.", err=True)
