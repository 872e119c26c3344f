"""Sample system use (CPU, memory, GPUs) while a run is live.

:func:`sample_system` takes one sample; :class:`SystemSampler` takes one every
``interval`` seconds on a daemon thread and hands it to a callback, which
typically appends the values as points of ``sys/...`` metric series.

A sample is a flat dict of floats:

- ``sys/cpu_percent``: CPU use of the whole machine, in percent of all cores,
  since the previous sample;
- ``sys/memory_percent`` and ``sys/memory_used_gb``: the machine's memory in
  use (GiB, 2**30 bytes);
- ``sys/proc_rss_mb``: resident memory of the sampled process and all its
  children (MiB, 2**20 bytes);
- ``sys/gpu{i}/util_percent`` and ``sys/gpu{i}/memory_used_gb`` for each GPU,
  only when NVML's Python bindings (``pynvml``) import and work.

psutil is imported on first use, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from runlab._threads import daemon_thread

__all__ = ["SystemSampler", "sample_system"]

logger = logging.getLogger(__name__)

_GIB = float(1 << 30)
_MIB = float(1 << 20)

_nvml_lock = threading.Lock()
# None: not tried yet; False: unusable here; otherwise the imported pynvml module.
_nvml: Any = None
# Whether psutil.cpu_percent has a baseline to measure from.
_cpu_primed = False


def sample_system(pid: int | None = None) -> dict[str, float]:
    """Return one sample of machine and process use (see the module docstring).

    Args:
        pid: the process whose resident memory (with its children's) is
            reported; this process when None.

    The first call in a process waits 0.1 s so that ``sys/cpu_percent`` covers a
    real interval rather than reading 0.
    """
    import psutil

    memory = psutil.virtual_memory()
    sample = {
        "sys/cpu_percent": _cpu_percent(psutil),
        "sys/memory_percent": float(memory.percent),
        "sys/memory_used_gb": memory.used / _GIB,
        "sys/proc_rss_mb": _tree_rss(psutil, pid or os.getpid()) / _MIB,
    }
    sample.update(_sample_gpus())
    return sample


def _cpu_percent(psutil: Any) -> float:
    """Return CPU use since the previous call; the first call measures 0.1 s."""
    global _cpu_primed
    if _cpu_primed:
        return float(psutil.cpu_percent(interval=None))
    _cpu_primed = True
    return float(psutil.cpu_percent(interval=0.1))


def _tree_rss(psutil: Any, pid: int) -> int:
    """Return the resident bytes of ``pid`` and its living descendants."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in processes:
        # A child may exit between listing and reading; it no longer uses memory.
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


def _sample_gpus() -> dict[str, float]:
    nvml = _load_nvml()
    if not nvml:
        return {}
    sample: dict[str, float] = {}
    for index in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        util = nvml.nvmlDeviceGetUtilizationRates(handle)
        memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        sample[f"sys/gpu{index}/util_percent"] = float(util.gpu)
        sample[f"sys/gpu{index}/memory_used_gb"] = memory.used / _GIB
    return sample


def _load_nvml() -> Any:
    """Return pynvml initialised once per process, or False where it cannot be."""
    global _nvml
    with _nvml_lock:
        if _nvml is None:
            _nvml = _init_nvml()
        return _nvml


def _init_nvml() -> Any:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as exc:  # no bindings, no driver, or no GPU: no GPU series
        logger.debug("GPU use will not be sampled: %s.", exc)
        return False
    # NVML stays initialised for the life of the process; each sample then
    # costs a few microseconds instead of a driver round trip.
    return pynvml


class SystemSampler:
    """Call ``callback`` with a :func:`sample_system` sample every ``interval`` seconds.

    The first sample comes one interval after :meth:`start`. A sample or
    callback that raises is logged once at WARNING (later failures at DEBUG)
    and sampling goes on. No callback runs after :meth:`stop` returns.
    """

    def __init__(
        self, callback: Callable[[dict[str, float]], None], interval: float = 5.0
    ) -> None:
        self.callback = callback
        self.interval = interval
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._warned = False

    def start(self) -> None:
        """Start sampling on a daemon thread; does nothing if already started.

        psutil is imported on that thread, so starting costs the caller
        nothing; if it cannot be imported, sampling stops with one warning.
        """
        if self._thread is not None:
            return
        self._stopping = threading.Event()
        self._thread = daemon_thread(self._loop, "runlab-system-sampler")
        self._thread.start()

    def _prime(self) -> bool:
        global _cpu_primed
        try:
            import psutil

            psutil.cpu_percent(interval=None)  # sets the baseline of the first sample
        except Exception as exc:
            logger.warning("System use will not be sampled: %s.", exc)
            return False
        _cpu_primed = True
        return True

    def stop(self) -> None:
        """Stop sampling; waits for a callback in progress, at most one interval."""
        with self._lock:
            self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.interval)

    def _loop(self) -> None:
        stopping = self._stopping
        if not self._prime():
            return
        while not stopping.wait(self.interval):
            try:
                sample = sample_system()
                with self._lock:
                    if stopping.is_set():
                        return
                    self.callback(sample)
            except Exception as exc:
                self._report(exc)

    def _report(self, exc: Exception) -> None:
        if self._warned:
            logger.debug("System sample failed again: %s.", exc)
            return
        self._warned = True
        logger.warning(
            "System sample failed (%s); sampling goes on and further failures "
            "are logged at DEBUG.",
            exc,
            exc_info=exc,
        )
