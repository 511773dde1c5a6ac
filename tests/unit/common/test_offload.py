"""The thread-pool offload: results, errors, and calls from other threads."""
import threading
import time

import pytest

from objproxy.common.offload import run_in_thread


def test_result_and_error_come_back():
    assert run_in_thread(lambda a, b=0: a + b, 2, b=3) == 5
    with pytest.raises(ZeroDivisionError):
        run_in_thread(lambda: 1 / 0)


def test_a_call_from_another_thread_leaves_the_pool_usable():
    """A call from a non-main thread must not capture the pool for that
    thread's hub: the main thread's next call would then never return."""
    seen = []

    def worker():
        seen.append(run_in_thread(threading.get_ident))
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert seen == [thread.ident]       # ran inline in that thread
    done = []
    waiter = threading.Timer(10, lambda: done.append('timeout'))
    waiter.start()
    try:
        assert run_in_thread(lambda: 'ok') == 'ok'
    finally:
        waiter.cancel()
    assert done == []


def test_pause_on_the_main_thread_lets_green_threads_run():
    """A lock poll that pauses on the main thread must let the hub run
    other green threads (a blocking sleep would freeze the server)."""
    import eventlet
    from objproxy.common.offload import pause
    ran = []
    eventlet.spawn(ran.append, 'other')
    pause(0.01)
    assert ran == ['other']


def test_pause_in_another_thread_sleeps_that_thread_only():
    from objproxy.common.offload import pause
    took = []

    def worker():
        start = time.monotonic()
        pause(0.05)
        took.append(time.monotonic() - start)
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert took and took[0] >= 0.04
    # the pool still answers the main thread afterwards
    assert run_in_thread(lambda: 'ok') == 'ok'
