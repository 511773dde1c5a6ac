"""Running blocking calls (fsync, SQLite) off the eventlet hub.

Why one helper: eventlet's thread pool delivers each result through a pipe
watched by the hub of the OS thread that first used the pool.  Only the main
thread's hub is guaranteed to keep running, so a call from any other OS
thread (a WSGI app served by a plain threaded server, as some tests and
tools do, or a call nested in a call already running in the pool) would
hand the pool to a hub that may never run again, and every later call from
the main thread would wait forever.  Outside the main thread the call
therefore simply runs inline: that thread is not a hub.

``pause`` is the matching wait: code that polls for a lock (a SQLite write
lock, a pending file's flock) sleeps with it, so a wait on the main thread
lets the other green threads run, and a wait inside a pool thread sleeps
that thread only.  A poll must never sleep in SQLite's own busy handler
or in ``time.sleep`` on the main thread: that freezes every request of
the server for as long as the lock is held.
"""
import ctypes
import os

import eventlet
from eventlet import patcher, tpool

_threading = patcher.original('threading')
_time = patcher.original('time')

# glibc mallopt parameters
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


def limit_thread_arenas(arenas=2, mmap_threshold=128 * 1024):
    """Keep a server that offloads to a thread pool from growing its RSS.

    glibc gives each thread that allocates its own malloc arena (up to 8
    per core) and raises its mmap threshold as big buffers are freed, so
    SQLite page caches and 256 KiB I/O buffers handled in 20 pool threads
    end up as free memory scattered over a dozen arenas that are never
    returned: a storage node grew by tens of MB in minutes that way.  Two
    arenas and a fixed threshold (big buffers are mmapped and unmapped
    when freed) keep it flat.  The MALLOC_ARENA_MAX and
    MALLOC_MMAP_THRESHOLD_ environment variables still win.
    """
    try:
        libc = ctypes.CDLL('libc.so.6')
        if 'MALLOC_ARENA_MAX' not in os.environ:
            libc.mallopt(M_ARENA_MAX, arenas)
        if 'MALLOC_MMAP_THRESHOLD_' not in os.environ:
            libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


limit_thread_arenas()


def on_main_thread():
    """True in the main OS thread (the one whose hub serves requests)."""
    return _threading.current_thread() is _threading.main_thread()


def pause(seconds):
    """Wait ``seconds`` without ever blocking the main thread's hub."""
    if on_main_thread():
        eventlet.sleep(seconds)
    else:
        _time.sleep(seconds)


def run_inline(func, *args, **kwargs):
    """An ``offload`` that just calls ``func`` in this thread."""
    return func(*args, **kwargs)


def run_in_thread(func, *args, **kwargs):
    """``func(*args, **kwargs)`` in eventlet's native thread pool.

    The calling green thread waits; the hub keeps serving other requests
    meanwhile (fsync and sqlite3 release the GIL).  Exceptions are carried
    back and raised here.
    """
    if not on_main_thread():
        return func(*args, **kwargs)

    def call():
        try:
            return True, func(*args, **kwargs)
        except BaseException as err:  # re-raised in the caller
            return False, err
    ok, value = tpool.execute(call)
    if ok:
        return value
    raise value
