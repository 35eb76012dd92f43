"""Heavy work beside the bot: a child process at the lowest priority, run in short slices.

The quality check, an export and a backup each take seconds to minutes of CPU and disk. In the
bot's process they would hold the GIL against the event loop; in a child process at nice 19
they still slowed taps on a 2-core machine. So a child is `lower`ed (nice 19 and SCHED_IDLE:
any task of the bot or the Bot API that wakes preempts it) and run by a `Throttle`: a share of
every THROTTLE_PERIOD_S, stopped (SIGSTOP) the rest, since even an idle-class process slows
the bot through the shared caches (measured: an idle-class CPU spinner took tap p50 from 140 to
228 ms). A child that may be stopped calls `die_with_parent`, so it never outlives the bot.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading

LOWEST_NICE = 19
THROTTLE_PERIOD_S = 0.05


def lower(pid: int) -> None:
    """Nice 19 and SCHED_IDLE: any task of the bot or the Bot API that wakes preempts it.

    (Both may be refused, e.g. by a container's seccomp policy; the work then just runs at
    the priority it has.)
    """
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, LOWEST_NICE)
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))


def die_with_parent(parent: int) -> bool:
    """Linux: have the kernel SIGKILL this process when `parent` dies; False if unsupported.

    A throttle keeps a child stopped most of the time: if the bot were killed then, the
    child would stay stopped for ever, holding its read snapshot (and with it the WAL, which
    could no longer be checkpointed). SIGKILL ends a stopped process too.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # the parent died before the call above
        os._exit(1)
    return True


_PR_SET_PDEATHSIG = 1


class Throttle(threading.Thread):
    """Let a process run `share` of every THROTTLE_PERIOD_S, stopped (SIGSTOP) the rest.

    A thread, not the event loop: the slices stay short when the loop is busy. `stop` always
    leaves the process running (SIGCONT), so it can exit or be killed.
    """

    def __init__(self, pid: int, share: float, period: float = THROTTLE_PERIOD_S) -> None:
        """Throttle process `pid` (once started); share >= 1 or no SIGSTOP: do nothing."""
        super().__init__(name=f"throttle-{pid}", daemon=True)
        self.pid, self.share, self.period = pid, share, period
        self._done = threading.Event()
        self.stops = 0  # how many times the process was stopped (for tests)

    def run(self) -> None:
        """Stop and continue the process until `stop` is called or it is gone."""
        stop_sig, cont_sig = getattr(signal, "SIGSTOP", None), getattr(signal, "SIGCONT", None)
        if self.share >= 1.0 or stop_sig is None or cont_sig is None:
            return
        on, off = self.period * self.share, self.period * (1.0 - self.share)
        try:
            while not self._done.wait(on):
                os.kill(self.pid, stop_sig)
                self.stops += 1
                self._done.wait(off)
                os.kill(self.pid, cont_sig)
        except ProcessLookupError:
            pass  # it ended

    def stop(self) -> None:
        """End the slicing and leave the process running (call before reaping it)."""
        self._done.set()
        if self.is_alive():
            self.join()
        with contextlib.suppress(ProcessLookupError, AttributeError):
            os.kill(self.pid, signal.SIGCONT)
