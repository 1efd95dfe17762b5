"""Code provenance: which function a task ran, and which notebook cell submitted it.

For each task the worker records the function it actually called
(``code.function.name`` = ``module.qualname``), where it was defined
(``code.file.path``, ``code.line.number``) and a digest of it
(``dask.task.function.digest``). The digest is computed once per function
object per worker process and cached, so a task costs one dictionary lookup.

Why on the worker, not the scheduler: the scheduler's event loop is the one
resource every task of the cluster shares, while workers run in parallel and
already run a wrapper on the executing thread; and the worker's copy of the
function is the one that ran.

The digest says what it was computed from:

* ``source-sha256:<hex>``: the function's source text (``inspect.getsource``),
  for functions imported by name from a module, which Dask ships by reference
  and every process loads from its own installed copy;
* ``bytecode-sha256:<hex>``: its compiled code (instructions, constants, names,
  recursively), for functions shipped by value from the client (``__main__``,
  notebooks, lambdas, closures), whose source file may not exist on the worker
  or may have changed since. Bytecode digests are only comparable under one
  Python version.

The basis depends only on the function, so the client computes the same digest
as the workers.

Builtins and other callables without Python code get a name but no digest.

>>> def double(x):
...     return 2 * x
>>> describe_function(double)[attr.CODE_FUNCTION_NAME]
'otel_dask_prov.capture.probes.code.double'
>>> notebook_cell("<ipython-input-3-5b7a2d3e01c4>")
'In[3]'
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import re
import sys
import types
from collections.abc import Callable
from typing import Any

from ... import attributes as attr

try:  # dask >= 2024.12: graphs of Task objects; fused tasks run _execute_subgraph
    from dask._task_spec import _execute_subgraph
except ImportError:  # pragma: no cover - older dask
    _execute_subgraph = None

try:
    from dask.utils import apply as _dask_apply
except ImportError:  # pragma: no cover
    _dask_apply = None

_IPYTHON_INPUT = re.compile(r"^<ipython-input-(\d+)-[0-9a-f]+>$")
_IPYKERNEL_CELL = re.compile(r"[\\/]ipykernel_\d+[\\/](\d+)\.py$")

SHIPPED_CODE_FILENAME = "<dynamic-code>"
"""What cloudpickle (3.1 and later) puts in place of the file name of code it ships
by value: not a file, so not recorded; a notebook cell comes from the client instead
(:mod:`~otel_dask_prov.capture.probes.notebook`)."""

MAX_CACHED_FUNCTIONS = 4096
"""The cache of digests is cleared when it holds this many functions."""


def notebook_cell(filename: str | None) -> str | None:
    """The Jupyter cell a code filename names, or ``None`` for ordinary files.

    IPython names cell code ``<ipython-input-N-hash>`` (``"In[N]"`` here);
    ipykernel writes each cell to ``/tmp/ipykernel_<pid>/<hash>.py``, the hash
    being that of the cell's source (``"ipykernel:<hash>"`` here).
    """
    if not filename:
        return None
    match = _IPYTHON_INPUT.match(filename)
    if match:
        return f"In[{match.group(1)}]"
    match = _IPYKERNEL_CELL.search(filename)
    if match:
        return f"ipykernel:{match.group(1)}"
    return None


def resolve_call(task: Any) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    """``(function, args, kwargs)`` of the user call a Dask task makes.

    Looks through Dask's own wrappers: fused tasks (the last call of the fused
    chain), ``dask.utils.apply`` and ``functools.partial``; legacy
    ``(func, *args)`` tuples are understood too. The function is ``None`` for
    nodes that call nothing (data, aliases).
    """
    func = getattr(task, "func", None)
    args: tuple[Any, ...] = getattr(task, "args", ())
    kwargs: dict[str, Any] = getattr(task, "kwargs", None) or {}
    if func is None and isinstance(task, tuple) and task and callable(task[0]):
        func, args = task[0], task[1:]
    if _execute_subgraph is not None and func is _execute_subgraph and len(args) >= 2:
        inner, output_key = args[0], args[1]
        node = inner.get(output_key) if isinstance(inner, dict) else None
        if node is not None:
            return resolve_call(node)
    if _dask_apply is not None and func is _dask_apply and args and callable(args[0]):
        func, args = args[0], args[1:]
    while isinstance(func, functools.partial):
        func = func.func
    return func, args, kwargs


def task_function(task: Any) -> Callable[..., Any] | None:
    """The user function a Dask task calls (see :func:`resolve_call`)."""
    function: Callable[..., Any] | None = resolve_call(task)[0]
    return function


def function_name(func: Any) -> str:
    """``module.qualname`` of *func* (of its type for other callables)."""
    target = func if hasattr(func, "__qualname__") or hasattr(func, "__name__") else type(func)
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(target)
    module = getattr(target, "__module__", None)
    return f"{module}.{name}" if module else str(name)


def _code_object(func: Any) -> types.CodeType | None:
    func = getattr(func, "__func__", func)  # bound methods
    code = getattr(func, "__code__", None)
    return code if isinstance(code, types.CodeType) else None


def _hash_code(code: types.CodeType, digest: Any) -> None:
    digest.update(code.co_code)
    for names in (code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars):
        digest.update(repr(names).encode())
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            _hash_code(constant, digest)
        else:
            digest.update(repr(constant).encode())


def shipped_by_reference(func: Any) -> bool:
    """Whether *func* is ``module.qualname`` of a module this process imported.

    That is when Dask (cloudpickle) ships a function by reference, so the
    answer is the same on the client and on every worker.
    """
    func = getattr(func, "__func__", func)
    module_name = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not module_name or not qualname or module_name == "__main__" or "<" in qualname:
        return False
    found: Any = sys.modules.get(module_name)
    for part in qualname.split("."):
        found = getattr(found, part, None)
        if found is None:
            return False
    return getattr(found, "__func__", found) is func


def function_digest(func: Any) -> str | None:
    """``source-sha256:<hex>`` or ``bytecode-sha256:<hex>`` of *func* (see module doc)."""
    if shipped_by_reference(func):
        try:
            source = inspect.getsource(func)
        except (OSError, TypeError):
            source = None
        if source:
            return "source-sha256:" + hashlib.sha256(source.encode()).hexdigest()
    return bytecode_digest(func)


def bytecode_digest(func: Any) -> str | None:
    """``bytecode-sha256:<hex>`` of *func*'s compiled code; ``None`` without Python code."""
    code = _code_object(func)
    if code is None:
        return None
    digest = hashlib.sha256()
    _hash_code(code, digest)
    return "bytecode-sha256:" + digest.hexdigest()


def describe_function(func: Any) -> dict[str, Any]:
    """Span attributes naming *func*: name, digest, file and first line when known."""
    attributes: dict[str, Any] = {attr.CODE_FUNCTION_NAME: function_name(func)}
    digest = function_digest(func)
    if digest is not None:
        attributes[attr.TASK_FUNCTION_DIGEST] = digest
    code = _code_object(func)
    if code is not None:
        if code.co_filename != SHIPPED_CODE_FILENAME:
            attributes.update(origin_attributes(code.co_filename))
        attributes[attr.CODE_LINE_NUMBER] = code.co_firstlineno
    return attributes


def origin_attributes(filename: str) -> dict[str, Any]:
    """``code.file.path`` and, for a notebook cell's file name, ``dask.code.notebook_cell``."""
    attributes: dict[str, Any] = {attr.CODE_FILE_PATH: filename}
    cell = notebook_cell(filename)
    if cell is not None:
        attributes[attr.NOTEBOOK_CELL] = cell
    return attributes


class FunctionCache:
    """:func:`describe_function` results, computed once per function object."""

    def __init__(self) -> None:
        self._known: dict[Any, dict[str, Any]] = {}

    def attributes(self, task: Any) -> dict[str, Any] | None:
        """Attributes of the function *task* calls (``None`` when it calls none)."""
        func = task_function(task)
        if func is None:
            return None
        try:
            known = self._known.get(func)
        except TypeError:  # an unhashable callable: describe it every time
            return describe_function(func)
        if known is None:
            if len(self._known) >= MAX_CACHED_FUNCTIONS:
                self._known.clear()
            known = self._known[func] = describe_function(func)
        return known
