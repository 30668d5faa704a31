"""What changes when a worker's threads are gevent's greenlets (gunicorn's gevent worker).

Under the gevent worker every request runs on the worker's one thread, switching only where it
waits. Two places care: the batcher closes a batch when nothing else is ready to run
(:func:`idle`), and a large image is decoded on a real thread (:func:`off_loop`) so that the
small requests of the same worker keep being answered while Pillow works without the GIL. Under
gthread (or outside gunicorn) both fall back to the plain behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def cooperative() -> bool:
    """Whether this process's threads are gevent's greenlets (``threading`` monkey-patched)."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return bool(monkey.is_module_patched("threading"))


def idle() -> Callable[[], None] | None:
    """gevent's ``idle`` (wait until every other ready greenlet has run) where the process is
    cooperative, else None."""
    if not cooperative():
        return None
    from gevent import idle as gevent_idle

    return gevent_idle


def off_loop(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` on gevent's pool of real threads where the process is cooperative
    (the caller's greenlet waits; the others run), else here. Exceptions reach the caller."""
    if not cooperative():
        return function(*args)
    from gevent import get_hub

    return get_hub().threadpool.apply(function, args)
