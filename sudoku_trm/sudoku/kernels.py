"""The exact solver's kernels run as plain Python until a process has work enough to pay for compiling them.

Importing numba and loading its cached machine code costs a process about 0.7 s (the first run after an
install, compiling, some 10 s), while checking one easy puzzle as plain Python takes 2 ms. So every kernel
(`@kernel`) starts as plain Python, and the callers (solver.py, logic.py) spend a shared budget of
`PLAIN_WORK` propagations (~0.6 ms each as Python on the development CPU: 0.3 s in all) before
`compile_all` swaps each kernel for numba's compiled version, which gives identical results some hundred
times faster. A typed puzzle, or a short file, is then checked without numba ever being imported; a big batch
compiles at once. Without numba the kernels stay plain Python, however much work comes.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

PLAIN_WORK = 500  # propagations a process runs as plain Python before compiling pays (~0.3 s of them)

Function = TypeVar("Function", bound=Callable)
Key = tuple[str, str]  # (module, name) of a kernel


@dataclass
class _State:
    compiled: bool = False
    left: int = PLAIN_WORK  # propagations still to run as plain Python


_plain: dict[Key, Callable] = {}  # every kernel's plain Python function, in definition order
_compiled: dict[Key, Callable] = {}  # its numba dispatcher, made once per process
_state = _State()


def kernel(function: Function) -> Function:
    """Mark a module-level function as a kernel: plain Python now, numba-compiled (cached on disk) once
    `compile_all` runs. Kernels call each other through their modules' globals, which `compile_all` rebinds."""
    _plain[(function.__module__, function.__name__)] = function
    return function


def compiled() -> bool:
    """The kernels are numba's compiled versions now."""
    return _state.compiled


def plain_work_left() -> int:
    """Propagations still to run as plain Python before compiling; 0 once compiled."""
    return 0 if _state.compiled else _state.left


def use(work: int) -> None:
    """About to run `work` propagations' worth of kernel calls: spend them as plain Python, or compile first
    where the budget left cannot cover them (a big batch compiles at once)."""
    if _state.compiled:
        return
    if work > _state.left:
        compile_all()
    else:
        _state.left -= work
        if _state.left <= 0:
            compile_all()


def compile_all() -> bool:
    """Swap every kernel for its numba version, in every module that holds it (a kernel imported by name into
    another kernel module included); True once compiled, False without numba (the kernels stay Python)."""
    if _state.compiled:
        return True
    try:
        from numba import njit
    except ImportError:
        _state.left = sys.maxsize  # nothing to compile: never ask again
        return False
    for key, plain_function in _plain.items():
        if key not in _compiled:
            _compiled[key] = njit(cache=True)(plain_function)
    _rebind({id(_plain[key]): _compiled[key] for key in _plain})
    _state.compiled = True
    return True


def _bound() -> dict[Key, Callable]:
    """What each kernel's name is bound to in its module now: the plain function or the dispatcher."""
    return {(module, name): vars(sys.modules[module])[name] for module, name in _plain}


def _rebind(swap: dict[int, Callable]) -> None:
    """Replace, in every kernel module, each global that is a key of `swap` (by identity) by its value."""
    for module_name in {module for module, _ in _plain}:
        namespace = vars(sys.modules[module_name])
        for name, value in list(namespace.items()):
            if id(value) in swap:
                namespace[name] = swap[id(value)]


@contextmanager
def plain(work: int = PLAIN_WORK) -> Iterator[None]:
    """For tests: the kernels as plain Python with a fresh budget of `work`, as a new process has them;
    afterwards the previous state (compiled or not, the budget) comes back."""
    global _state
    before, kernels_before = _state, _bound()
    _rebind({id(now): _plain[key] for key, now in kernels_before.items()})
    _state = _State(compiled=False, left=work)
    try:
        yield
    finally:
        _rebind({id(now): kernels_before[key] for key, now in _bound().items()})
        _state = before
