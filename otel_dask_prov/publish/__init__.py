"""Publishing a run in the standards others read: Workflow Run RO-Crate and OpenLineage.

This stage comes after :mod:`otel_dask_prov.query`: it reads the columnar dataset
that ``otel-prov export`` writes (so the records of a run are interpreted once, by
the export), and writes what archives, lineage servers and catalogues load.
"""
