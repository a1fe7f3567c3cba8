"""The GPU lease: at most N GPU stages at once, and the CPU when there is no GPU.

A stage that can use a GPU asks the lease for a device. With CUDA present and
a slot free it gets ``"cuda"`` (waiting for a slot up to ``wait_s``); without
CUDA, or with no slots configured, it gets ``"cpu"`` at once. A stage that
fails on the GPU for lack of memory or a driver raises :class:`GpuUnavailable`
(or a CUDA out-of-memory error), and the worker runs it again on the CPU.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class GpuUnavailable(RuntimeError):
    """The GPU path failed for want of a device, a driver or memory: use the CPU."""


_OOM_MARKERS = ("cuda out of memory", "out of memory", "cudnn_status_alloc_failed", "cuda error", "no nvenc capable devices",
                "cannot load libcuda", "cannot load nvcuda", "no cuda-capable device", "driver does not support")


def is_gpu_failure(exc: BaseException) -> bool:
    """True for errors that mean "this would work on the CPU": GPU OOM, missing device or driver."""
    if isinstance(exc, GpuUnavailable):
        return True
    name = type(exc).__name__.lower()
    if name in ("outofmemoryerror", "cudaoutofmemoryerror"):
        return True
    text = str(exc).lower()
    return any(marker in text for marker in _OOM_MARKERS)


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (False when torch or CUDA is missing)."""
    try:
        import torch
    except Exception:  # noqa: BLE001 - no torch means no GPU path
        return False
    try:
        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001
        return False


class GpuLease:
    """Hands out ``"cuda"`` to at most ``slots`` holders at once; ``"cpu"`` when CUDA is absent."""

    def __init__(self, slots: int, probe: Callable[[], bool] = cuda_available, wait_s: float = 600.0):
        self.slots = slots
        self.wait_s = wait_s
        self._probe = probe
        self._has_gpu: bool | None = None
        self._semaphore = threading.BoundedSemaphore(max(slots, 1))
        self._lock = threading.Lock()
        self.in_use = 0
        self.peak = 0

    @property
    def has_gpu(self) -> bool:
        if self._has_gpu is None:
            self._has_gpu = self.slots > 0 and self._probe()
        return self._has_gpu

    @contextmanager
    def acquire(self) -> Iterator[str]:
        """Yield the device to run on; a GPU slot is held for the duration of the block."""
        if not self.has_gpu or not self._semaphore.acquire(timeout=self.wait_s):
            yield "cpu"
            return
        with self._lock:
            self.in_use += 1
            self.peak = max(self.peak, self.in_use)
        try:
            yield "cuda"
        finally:
            with self._lock:
                self.in_use -= 1
            self._semaphore.release()
            _release_cuda_cache()


def _release_cuda_cache() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - best effort
        pass
