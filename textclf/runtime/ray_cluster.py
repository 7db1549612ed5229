"""Ray for `textclf predict --engine ray`: imported only when asked for, joined or started here and stopped after.

Ray is an optional extra: nothing here imports it at module level, and `import textclf` never imports this module.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import warnings

from textclf.errors import ConfigError
from textclf.runtime.quiet import call_with_stderr_captured, temporary_environment

RAY_EXTRA = 'pip install "textclf[ray]"'
WORKER_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}  # TensorFlow's and Python's notices off


def import_ray():
    """Ray and Ray Data, or a `ConfigError` naming the install command."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError(f"--engine ray needs Ray, which is not installed: {RAY_EXTRA}") from None
    return ray



@contextlib.contextmanager
def ray_session(address=None, *, num_cpus=None, quiet=False):
    """Joins the Ray cluster at `address`, or starts one here (loopback, no dashboard) and stops it after.

    SIGTERM is turned into `KeyboardInterrupt` meanwhile, so a terminated run unwinds: its temporary
    output is removed and the Ray it started is stopped.

    Args:
        address: None (start Ray here), "auto", or "ray://HOST:PORT".
        num_cpus: Logical CPUs of a Ray started here.
        quiet: No Ray Data progress bars nor warnings.

    Yields:
        The `ray` module, connected.
    """
    ray = import_ray()
    started = not ray.is_initialized()
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # Ray's C++ notices are not the user's business
    previous = signal.getsignal(signal.SIGTERM)
    try:
        if started:
            _init(ray, address, num_cpus)
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # after ray.init, which sets its own (exit 15)
        logging.getLogger("ray.data").setLevel(logging.ERROR if quiet else logging.INFO)
        for name in ("ray.data.exceptions", "ray.data._internal.execution.streaming_executor_state"):
            logging.getLogger(name).setLevel(logging.CRITICAL)  # a failure is raised here and reported once
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = not quiet
        context.print_on_execution_start = False
        if quiet:  # a small input feeds fewer actors than --workers: true, and not worth a line under -q
            warnings.filterwarnings("ignore", message="The minimum number of concurrent actors")
        yield ray
    finally:
        try:
            if started:
                stop_autoscaler_monitor(ray)
                ray.shutdown()
        finally:
            signal.signal(signal.SIGTERM, previous)


def stop_autoscaler_monitor(ray):
    """Kills the autoscaler monitor of the Ray started here, before `ray.shutdown` stops the rest.

    `ray.shutdown` stops the GCS before the monitor, whose SIGTERM handler then tries to report its end to the
    GCS that is gone, until Ray kills it a second later (the order ray-project/ray#30672 fixed for `ray stop`,
    not for `ray.shutdown`): 1.0 of the 1.4 s that stopping took. The monitor of a one-run Ray holds nothing
    worth a graceful end. Uses Ray's private `_global_node` (tests/test_ray_engine.py checks that it is found);
    does nothing when it is not there.

    Returns:
        The number of monitor processes killed.
    """
    node = getattr(getattr(getattr(ray, "_private", None), "worker", None), "_global_node", None)
    killed = 0
    for info in (getattr(node, "all_processes", None) or {}).get("monitor", ()):
        with contextlib.suppress(OSError, AttributeError, subprocess.TimeoutExpired):  # never keeps Ray running
            info.process.kill()
            info.process.wait(5)
            killed += 1
    return killed


def _init(ray, address, num_cpus):
    """`ray.init`: joins `address`, or starts Ray here (loopback, no dashboard); workers get `WORKER_ENV`.

    A Ray started here passes its environment on to its workers, so it is given `WORKER_ENV` for the
    call: a job-level `runtime_env` would keep actors off the workers Ray starts in advance (measured: 1.5 s
    instead of 0.5 s until two actors answer). A cluster joined gets it as the `runtime_env`.
    """
    kwargs = dict(log_to_driver=False, logging_level="ERROR")
    if address:
        kwargs.update(address=address, runtime_env={"env_vars": dict(WORKER_ENV)})
    else:
        kwargs.update(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1")
    with temporary_environment({} if address else WORKER_ENV):
        # Ray's C++ start-up notices (such as the log level it was given) are dropped unless it fails
        call_with_stderr_captured(lambda: ray.init(**kwargs))
