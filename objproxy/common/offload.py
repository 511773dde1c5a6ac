"""Running blocking calls (fsync, SQLite) off the eventlet hub.

Why one helper: eventlet's thread pool delivers each result through a pipe
watched by the hub of the OS thread that first used the pool.  Only the main
thread's hub is guaranteed to keep running, so a call from any other OS
thread (a WSGI app served by a plain threaded server, as some tests and
tools do) would hand the pool to a hub that may never run again, and every
later call from the main thread would wait forever.  Outside the main
thread the call therefore simply runs inline.
"""
from eventlet import patcher, tpool

_threading = patcher.original('threading')


def run_inline(func, *args, **kwargs):
    """An ``offload`` that just calls ``func`` in this thread."""
    return func(*args, **kwargs)


def run_in_thread(func, *args, **kwargs):
    """``func(*args, **kwargs)`` in eventlet's native thread pool.

    The calling green thread waits; the hub keeps serving other requests
    meanwhile (fsync and sqlite3 release the GIL).  Exceptions are carried
    back and raised here.
    """
    if _threading.current_thread() is not _threading.main_thread():
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
