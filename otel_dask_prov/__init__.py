"""OpenTelemetry tracing and W3C PROV provenance for Dask.

Every computation (one graph submission) becomes one OpenTelemetry trace: a
``dask.computation`` root span, one ``task <prefix>`` span per task attempt on
the scheduler (with its state transitions as events, its dependencies as links,
errors, retries and lost workers), and under each of those the worker's
``execute <prefix>`` span with ``transfer``/``compute``/``disk-*`` children.
``otel-prov convert`` turns the traces into a W3C PROV document.

Zero-code activation
--------------------
Add the module as a preload of the scheduler and of every worker::

    dask scheduler --preload otel_dask_prov
    dask worker tcp://scheduler:8786 --preload otel_dask_prov

With no endpoint configured, each process appends OTLP JSON lines to its own
file in ``./otel-dask-prov-traces/``: no services needed. To send to an
OpenTelemetry Collector instead, use the standard variables::

    export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317
    export OTEL_EXPORTER_OTLP_PROTOCOL=grpc          # or http/protobuf

or trailing preload options (``dask scheduler --preload otel_dask_prov
--otel-endpoint http://localhost:4317``), or the ``otel-dask-prov`` section of
the Dask configuration. The same works through the Dask config keys
``distributed.scheduler.preload`` / ``distributed.worker.preload`` and
``.preload-argv``. ``otel-prov settings`` lists every setting.

In-process use
--------------
>>> from distributed import Client, LocalCluster
>>> import otel_dask_prov
>>> client = Client(LocalCluster(n_workers=2))  # doctest: +SKIP
>>> otel_dask_prov.install(client, output_dir="traces")  # doctest: +SKIP

or register the plugins yourself::

    client.register_plugin(otel_dask_prov.TracingSchedulerPlugin())
    client.register_plugin(otel_dask_prov.TracingWorkerPlugin())

Joining an existing trace
-------------------------
If the client code runs inside an OpenTelemetry span, wrap the submission in
:func:`traced` so that the computation becomes a child of that span::

    with tracer.start_as_current_span("my-pipeline"), otel_dask_prov.traced():
        result = x.sum().compute()
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import attributes
from .errors import ConfigurationError, OtelDaskProvError
from .settings import SETTINGS, Settings, register_config_defaults, resolve_settings
from .version import __version__

if TYPE_CHECKING:
    from .capture.scheduler_plugin import TracingSchedulerPlugin
    from .capture.worker_plugin import TracingWorkerPlugin

__all__ = [
    "ConfigurationError",
    "OtelDaskProvError",
    "Settings",
    "TracingSchedulerPlugin",
    "TracingWorkerPlugin",
    "__version__",
    "attributes",
    "dask_setup",
    "dask_teardown",
    "install",
    "resolve_settings",
    "traced",
]

logger = logging.getLogger("otel_dask_prov")

_Function = TypeVar("_Function", bound=Callable[..., Any])

register_config_defaults()

_LAZY = {
    "TracingSchedulerPlugin": ".capture.scheduler_plugin",
    "TracingWorkerPlugin": ".capture.worker_plugin",
}


def __getattr__(name: str) -> Any:
    """Import the plugins (and so ``distributed``) only when used: ``otel-prov`` starts fast."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def install(client: Any, **options: Any) -> None:
    """Trace every computation of *client*'s cluster from now on.

    Registers :class:`TracingSchedulerPlugin` on the scheduler and
    :class:`TracingWorkerPlugin` on every current and future worker. *options*
    are settings (``endpoint=``, ``output_dir=``, ...), validated here first.
    It also asks the client to send the calling code with each submission
    (``distributed.diagnostics.computations.nframes``), so that the computation
    span can say which code submitted it, and describes the client's process
    (host, git revision of its working directory, ...) to the scheduler.
    """
    from .capture.probes import record_client
    from .capture.scheduler_plugin import TracingSchedulerPlugin
    from .capture.worker_plugin import TracingWorkerPlugin

    settings = resolve_settings(_check_filesystem=False, **options)
    _ask_for_submitting_code(settings)
    client.register_plugin(TracingSchedulerPlugin(**options))
    client.register_plugin(TracingWorkerPlugin(**options))
    if settings.enabled:
        record_client(client, **options)


@contextlib.contextmanager
def traced() -> Iterator[None]:
    """Make computations submitted inside the block join the current OpenTelemetry trace."""
    import dask
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        yield
        return
    from .capture.span_ids import format_traceparent

    traceparent = format_traceparent(context.trace_id, context.span_id, context.trace_flags.sampled)
    with dask.annotate(**{attributes.ANNOTATION: traceparent}):
        yield


# ---------------------------------------------------------------------------
# Preload entry points: ``dask scheduler|worker --preload otel_dask_prov [--otel-...]``
# ---------------------------------------------------------------------------
def _preload_options(command: _Function) -> _Function:
    for setting in reversed(SETTINGS):
        command = click.option(
            setting.option, setting.name, default=None, help=setting.help, show_default=False
        )(command)
    return command


@click.command(name="otel_dask_prov", context_settings={"ignore_unknown_options": False})
@_preload_options
def dask_setup(server: Any, **options: Any) -> Any:
    """Install the tracing plugin that fits *server* (a Scheduler or a Worker).

    As a client preload (``DASK_DISTRIBUTED__CLIENT__PRELOAD=otel_dask_prov``)
    it traces nothing itself: it asks the client to send its submitting code,
    describes the client to the scheduler and, in IPython or Jupyter, tells the
    scheduler which notebook cell defined each function (see
    :func:`otel_dask_prov.capture.probes.record_client`).
    """
    from distributed import Client, Nanny, Scheduler, Worker

    from .capture.scheduler_plugin import TracingSchedulerPlugin
    from .capture.worker_plugin import TracingWorkerPlugin

    given = {name: value for name, value in options.items() if value is not None}
    if isinstance(server, Client):
        try:
            settings = resolve_settings(_check_filesystem=False, **given)
        except ConfigurationError as error:  # the client works on, undescribed
            logger.warning("otel-dask-prov: client preload skipped: %s", error)
            return None
        return _set_up_client(server, settings)
    try:
        resolve_settings(**given)
    except ConfigurationError as error:
        _fail_startup(error)
    if isinstance(server, Scheduler):
        server.add_plugin(TracingSchedulerPlugin(**given))
        return None
    if isinstance(server, Worker):
        return server.plugin_add(TracingWorkerPlugin(**given))
    if isinstance(server, Nanny):
        logger.info("otel-dask-prov: preloaded in a nanny; tracing runs in its worker process")
        return None
    raise ConfigurationError("preload", type(server).__name__,
                             "not a Dask scheduler, worker or client")


async def _set_up_client(client: Any, settings: Settings) -> None:
    """The client preload's work (see :func:`dask_setup`)."""
    from .capture.probes.client import record_client_async

    if not settings.enabled:
        return
    _ask_for_submitting_code(settings)
    await record_client_async(client, settings)


def _ask_for_submitting_code(settings: Settings) -> None:
    """Make this process's clients send the code of each submission, if code is recorded.

    The computation span names the submitting code only when the client sends
    it (``distributed.diagnostics.computations.nframes``); a value the user set
    is kept.
    """
    import dask.config

    if settings.record_code and not dask.config.get(
        "distributed.diagnostics.computations.nframes", 0
    ):
        dask.config.set({"distributed.diagnostics.computations.nframes": 1})


def _fail_startup(error: ConfigurationError) -> None:
    """Stop a ``dask scheduler``/``dask worker`` command with one line, or raise in-process.

    Under the ``dask`` CLI an exception here would surface as a long asyncio
    traceback; the process has served nothing yet, so it exits with status 2
    after printing the error. In a Python program (``LocalCluster`` with a preload
    in the Dask config) the error is raised instead, so the program can handle it.
    """
    import os
    import sys

    cli_modules = ("distributed.cli.dask_scheduler", "distributed.cli.dask_worker")
    if any(name in sys.modules for name in cli_modules):
        print(f"otel-dask-prov: {error}", file=sys.stderr, flush=True)
        logging.shutdown()
        os._exit(2)
    raise error


def dask_teardown(server: Any) -> None:
    """Nothing to do: the plugins flush every span when their server closes."""
