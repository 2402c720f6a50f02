"""The peak resident memory of this process, resettable on Linux: what a call allocated at its
worst, native allocations included (BLAS, numba, scikit-learn's trees), without sampling."""

from __future__ import annotations

import contextlib


def reset_peak() -> bool:
    """Reset the peak resident size to the current one (Linux ``/proc/self/clear_refs``);
    ``False`` where that is not possible (then :func:`peak_rss` is the process's lifetime peak)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def peak_rss() -> int:
    """The peak resident size in bytes since the last :func:`reset_peak` (or the start)."""
    with contextlib.suppress(OSError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # KiB on Linux
