"""Each provenance part can be switched off: then only the core's attributes remain."""

from __future__ import annotations

from pathlib import Path

from distributed import Client, LocalCluster

import otel_dask_prov
from otel_dask_prov import attributes as attr
from tests.support.provenance_tasks import write_known_bytes
from tests.support.traces import read_spans


def test_switching_provenance_off_leaves_only_the_core_attributes(tmp_path: Path) -> None:
    off = dict(record_code=False, task_io=False, record_environment=False)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        otel_dask_prov.install(client, output_dir=str(tmp_path), **off)
        assert client.submit(write_known_bytes, str(tmp_path / "x"), 10, key="w").result() == 10
    spans = read_spans([tmp_path])
    execution = next(s for s in spans if s.kind == attr.RECORD_TASK_EXECUTION)
    root = next(s for s in spans if s.kind == attr.RECORD_COMPUTATION)
    assert not [name for name in execution.attributes if name.startswith(("code.", "dask.io."))]
    assert attr.TASK_FUNCTION_DIGEST not in execution.attributes
    assert attr.COMPUTATION_CODE not in root.attributes
    assert not [name for name in execution.resource if name.startswith("dask.deployment.")]
    assert attr.OS_DESCRIPTION not in execution.resource
