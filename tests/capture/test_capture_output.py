from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from runlab.capture import output
from runlab.capture.output import OutputTee, StreamPump

# The folder that holds the runlab package, for the scripts run as subprocesses.
SRC = str(Path(output.__file__).resolve().parents[2])


def run_script(code: str, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    """Run ``code`` in a fresh Python; bytes keep its carriage returns as written."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    env = {
        **os.environ,
        "PYTHONPATH": SRC,
        "PYTHONUNBUFFERED": "1",
        "PYTHONIOENCODING": "utf-8",
    }
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, env=env, timeout=60
    )


def test_output_tee_copies_stdout_and_stderr_to_log_and_terminal(
    tmp_path: Path,
) -> None:
    log = tmp_path / "run" / "log.txt"
    proc = run_script(
        f"""
        import sys
        from runlab.capture.output import OutputTee

        print("before start")
        tee = OutputTee({str(log)!r})
        tee.start()
        print("epoch 1 loss 0.5")
        print("warning: lr high", file=sys.stderr)
        sys.stdout.write("progress 50%\\rprogress 100%\\n")
        sys.stdout.writelines(["a\\n", "b\\n"])
        print("héllo ✓")
        tee.stop()
        print("after stop")
        """,
        tmp_path,
    )

    assert proc.returncode == 0, proc.stderr.decode()
    assert log.read_bytes().decode("utf-8") == (
        "epoch 1 loss 0.5\n"
        "warning: lr high\n"
        "progress 50%\rprogress 100%\n"
        "a\nb\n"
        "héllo ✓\n"
    )
    assert proc.stdout.decode("utf-8") == (
        "before start\n"
        "epoch 1 loss 0.5\n"
        "progress 50%\rprogress 100%\n"
        "a\nb\n"
        "héllo ✓\n"
        "after stop\n"
    )
    assert proc.stderr == b"warning: lr high\n"


def test_output_tee_log_survives_sigkill(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    proc = run_script(
        f"""
        import os, signal
        from runlab.capture.output import OutputTee

        OutputTee({str(log)!r}).start()
        print("step 1")
        print("step 2")
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        tmp_path,
    )

    assert proc.returncode == -signal.SIGKILL
    assert log.read_text() == "step 1\nstep 2\n"


def test_output_tee_appends_to_an_existing_log(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    log.write_text("earlier\n")
    tee = OutputTee(log)

    tee.start()
    try:
        sys.stdout.write("later\n")
    finally:
        tee.stop()

    assert log.read_text() == "earlier\nlater\n"


def test_output_tee_streams_behave_like_the_originals(tmp_path: Path) -> None:
    original = sys.stdout
    tee = OutputTee(tmp_path / "log.txt")

    tee.start()
    try:
        stream = sys.stdout
        assert stream is not original
        assert stream.encoding == original.encoding
        assert stream.errors == original.errors
        assert stream.isatty() == original.isatty()
        assert stream.writable()
        assert stream.write("abc") == 3
    finally:
        tee.stop()

    assert sys.stdout is original


def test_output_tee_stream_written_after_stop_does_not_raise(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    tee = OutputTee(log)
    tee.start()
    stream = sys.stdout
    tee.stop()

    stream.write("late\n")
    stream.flush()
    tee.stop()

    assert log.read_text() == ""


def test_output_tee_keeps_whole_lines_from_many_threads(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    tee = OutputTee(log)

    def chatter(worker: int) -> None:
        for n in range(200):
            sys.stdout.write(f"worker {worker} line {n}\n")

    tee.start()
    try:
        threads = [threading.Thread(target=chatter, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        tee.stop()

    expected = sorted(f"worker {w} line {n}" for w in range(8) for n in range(200))
    assert sorted(log.read_text().splitlines()) == expected


def test_stream_pump_copies_child_output_to_every_sink_unchanged(
    tmp_path: Path,
) -> None:
    payload = "x = b'tick 10%\\rtick 100%\\n' + bytes(range(256)) * 1000"
    child = subprocess.Popen(
        [sys.executable, "-c", f"import sys; {payload}; sys.stdout.buffer.write(x)"],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    with open(tmp_path / "term", "wb") as term, open(tmp_path / "log.txt", "wb") as log:
        pump = StreamPump(child.stdout, [term, log])
        pump.start()
        pump.join(timeout=30)
    child.wait()
    child.stdout.close()

    expected = b"tick 10%\rtick 100%\n" + bytes(range(256)) * 1000
    assert (tmp_path / "term").read_bytes() == expected
    assert (tmp_path / "log.txt").read_bytes() == expected


def test_stream_pump_drops_a_failing_sink_and_feeds_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "print('one'); print('two')"], stdout=subprocess.PIPE
    )
    assert child.stdout is not None
    closed = open(tmp_path / "closed", "wb")  # noqa: SIM115
    closed.close()
    with open(tmp_path / "log.txt", "wb") as log:
        pump = StreamPump(child.stdout, [closed, log])
        pump.start()
        pump.join(timeout=30)
    child.wait()
    child.stdout.close()

    assert (tmp_path / "log.txt").read_bytes() == b"one\ntwo\n"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert (
        warnings[0]
        .getMessage()
        .startswith(f"Stopped copying output to {tmp_path / 'closed'}")
    )


def test_line_sinks_of_two_pumps_never_split_a_line(tmp_path: Path) -> None:
    import threading

    from runlab.capture.output import LineSink

    log = tmp_path / "log.txt"
    with open(log, "ab", buffering=0) as target:
        lock = threading.Lock()
        out, err = LineSink(target, lock), LineSink(target, lock)
        out.write(b"to out")
        err.write(b"to err\n")
        out.write(b"\nprogress 1\rprogress 2\r")
        err.write(b"no newline at the end")
        out.close()
        err.close()

    assert log.read_bytes() == (
        b"to err\nto out\nprogress 1\rprogress 2\rno newline at the end"
    )
