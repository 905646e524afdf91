"""Where the harness's runs are fitted: in this process (jobs 1) or in N worker processes.

    pool = Pool(jobs, initializer, initargs)   workers start with the "spawn" context (torch and fork
                                               do not mix) and run `initializer(*initargs)` once, so
                                               the spec and the data cross the process boundary once
    pool.submit(fn, *args) -> Future           fn and args are pickled to a worker (jobs 1: run here)
    pool.close() / pool.stop()                 wait for the workers / terminate them (Ctrl-C, errors)

Workers ignore SIGINT: Ctrl-C reaches the parent, which stops them, so a worker never half-handles
an interrupt. The parent alone writes the store; workers return (record, generations).
"""

from __future__ import annotations

import multiprocessing
import signal
from concurrent.futures import Future, ProcessPoolExecutor

from .._checks import check_int

STOP_GRACE_SECONDS = 5.0   # after SIGTERM, before SIGKILL (Pool.stop)


class Pool:
    """Runs tasks in `jobs` spawned worker processes, or in this process when `jobs` is 1.

    Parameters
    ----------
    jobs : int
        Worker processes (>= 1); 1 runs every task here, synchronously.
    initializer : callable
        Run once in each worker before its first task (a module-level function).
    initargs : tuple
        Its arguments (pickled once per worker).
    """

    def __init__(self, jobs: int, initializer, initargs: tuple = ()):
        check_int("jobs", jobs, low=1)
        self.jobs = jobs
        self._executor = None
        if jobs > 1:
            self._executor = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_start, initargs=(initializer, initargs))

    def submit(self, fn, *args) -> Future:
        """`fn(*args)` as a Future: done at once with jobs 1, else when a worker has run it."""
        if self._executor is not None:
            return self._executor.submit(fn, *args)
        done: Future = Future()
        try:
            done.set_result(fn(*args))
        except Exception as e:   # the caller reads it from the future, as from a worker
            done.set_exception(e)
        return done

    def close(self) -> None:
        """Wait for the running tasks and end the workers."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def stop(self) -> None:
        """End the workers now, dropping queued and running tasks (their results are lost)."""
        if self._executor is None:
            return
        # ProcessPoolExecutor has no public terminate before Python 3.14; shutdown alone would wait
        # for the running fits to finish. Its clean-up then joins every worker it knows, so a worker
        # still alive would block it for ever: every child this process started is terminated (also
        # one whose start the interrupt cut short, before the executor recorded it), then killed if
        # it outlives STOP_GRACE_SECONDS.
        workers = {*multiprocessing.active_children(), *(self._executor._processes or {}).values()}
        for process in workers:
            process.terminate()
        for process in workers:
            process.join(STOP_GRACE_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        self._executor.shutdown(wait=True, cancel_futures=True)


def _start(initializer, initargs) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    initializer(*initargs)
