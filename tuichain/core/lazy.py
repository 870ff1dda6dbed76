"""A computed-once attribute for the chain's value objects, without a lock.

Python 3.11's `functools.cached_property` takes one lock, shared by every instance
of the class, on each first read. A sync reads a txid or a hash once per object it
decodes, from the event loop and the writer at once, so that lock was both a cost
and a point of contention. Values here are pure functions of frozen fields: two
threads computing one at the same time store equal results, so no lock is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class cached(Generic[T]):  # noqa: N801  (used as a decorator, like property)
    """Compute on first read, then keep in the instance's `__dict__`, where later reads
    find it before this descriptor. A decoder may store the value there first."""

    def __init__(self, fn: Callable[[Any], T]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> cached[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> T | cached[T]:
        if obj is None:
            return self
        value = self.fn(obj)
        obj.__dict__[self.name] = value
        return value
