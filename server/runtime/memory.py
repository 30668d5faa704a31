"""A worker's memory: what it hands back to the system, and when.

Each reload frees a whole model set; each large upload a decoded image. glibc keeps freed
memory for reuse unless told otherwise, so without these a worker's RSS climbs with every
reload and stays at its largest image.
"""

from __future__ import annotations

import ctypes
import gc

#: Buffers of at least this many bytes get pages of their own (glibc's mmap threshold, fixed):
#: a decoded image at the pixel limit (16 MB as RGBA) goes back to the system when freed.
LARGE_BUFFER_BYTES = 4 * 1024 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h


def return_large_buffers(threshold: int = LARGE_BUFFER_BYTES) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes; False where the C library is not glibc.

    glibc raises the threshold each time a large mmapped buffer is freed, so from the second
    large image on its buffers came from the heap and stayed there: after one 2048 x 2048 PNG
    a process kept 48 MB more, and 40 MB more again for each thread that decoded one. With the
    threshold fixed they are unmapped as they are freed (and the heap is trimmed above 128 KB).
    Images under 1 megapixel (every canvas and photo of the benchmark) stay on the heap.
    """
    try:
        return bool(ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False


def release_memory() -> None:
    """Free what the swapped-out snapshot held and hand the freed heap back to the system.

    Requests still holding the old snapshot keep it alive until they end; what they drop later
    is returned at the next reload. Without ``malloc_trim`` glibc keeps the pages of the old
    sessions and merged graphs, and a worker's RSS climbs by tens of MB per reload.
    """
    gc.collect()
    trim_heap()


def trim_heap() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass
