"""The work done in an extraction process: text, metadata and hash of one page.

Everything CPU-heavy per page happens here, off the reactor: parsing, extraction,
normalization and hashing. Arguments and result are plain picklable values.

Each process is started by ``start`` (the pool's initializer): it dies with the crawl,
its address space is capped, and it is warmed up before its first page.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from multiprocessing import forkserver
from typing import NoReturn

from extraction import extract
from storage.previews import content_hash

# The exit status of a process that went over its memory limit on a page; the pool
# starts a fresh process, and the crawl records the page as over the limit.
MEMORY_LIMIT_EXIT = 87
# Peak address space within this share of the limit counts as over it: an allocation
# refused by the limit surfaces as anything from MemoryError to a parse error or an
# empty document (trafilatura and lxml catch it), so the peak is what tells.
MEMORY_LIMIT_MARGIN = 0.1
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_memory_limit = 0  # bytes; 0: none


def start(crawl_pid: int, memory_mb: int) -> None:
    """Initializer of an extraction process: die with the crawl, warm up, cap memory."""
    _die_with_crawl(crawl_pid)
    warm_up()
    if memory_mb > 0:
        _limit_memory(memory_mb * 1024 * 1024)


def warm_up() -> bool:
    """Import and build everything once, before the first page arrives."""
    extract("<html><body><article><p>warm up</p></article></body></html>")
    return True


def process_page(body: bytes, url: str) -> dict:
    try:
        found = extract(body, url)
    except MemoryError:
        _leave_over_memory_limit()
    if _near_memory_limit():
        _leave_over_memory_limit()
    metadata = found.to_dict()
    text = metadata.pop("text")
    metadata.pop("script_shell")
    return {
        "text": text,
        "title": found.title,
        "metadata": metadata,
        "content_hash": content_hash(text) if text.strip() else None,
        "page_status": found.page_status,
        "failure_reason": found.failure_reason,
        "script_shell": found.script_shell,
    }


def _leave_over_memory_limit() -> NoReturn:
    # Not back to work: the heap may be left fragmented, libxml2 half-way through a
    # failed allocation.
    os._exit(MEMORY_LIMIT_EXIT)


def _die_with_crawl(crawl_pid: int) -> None:
    """Make this process die when the crawl does, even while busy in C code on a page.

    Its parent is multiprocessing's forkserver, which exits once the write end of its
    "alive" pipe is closed everywhere. The crawl holds it, but the forkserver hands it
    to every process it forks as well, so this one closes its copy: the forkserver then
    exits with the crawl, and Linux sends this process SIGKILL. Elsewhere an idle
    process still leaves when the pool's pipe closes, a busy one after its page.
    """
    _close_forkserver_alive_fd()
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    # The crawl, and so the forkserver, may have died before prctl: no signal would come.
    try:
        os.kill(crawl_pid, 0)
    except ProcessLookupError:
        os._exit(0)


def _close_forkserver_alive_fd() -> None:
    # A private name of multiprocessing.forkserver (Python 3.11): should it go, the
    # forkserver and the busy processes outlive a killed crawl until their pages are done.
    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is not None:
        os.close(fd)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]


def _limit_memory(limit: int) -> None:
    global _memory_limit
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    _memory_limit = limit


def _near_memory_limit() -> bool:
    """Whether this process's peak address space came near its limit (Linux only)."""
    if not _memory_limit:
        return False
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmPeak:"))
    except (OSError, StopIteration):
        return False
    return peak_kb * 1024 >= _memory_limit * (1 - MEMORY_LIMIT_MARGIN)
