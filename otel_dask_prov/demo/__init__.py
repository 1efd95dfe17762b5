"""Development aids: ``otel-prov demo`` (:mod:`.command`), real local Dask
processes for it and for the tests (:mod:`.local_cluster`), and a summary of
trace files (:mod:`.trace_summary`)."""
