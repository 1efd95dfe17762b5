"""Export: turn records into spans and ship them, off the event loop.

:class:`.span_pipeline.SpanPipeline` takes records from the capture stage,
builds :class:`.span_data.SpanData` on its own thread, encodes them as OTLP
JSON (:mod:`.otlp_json`) and writes them to a local file
(:mod:`.jsonl_files`), or sends them to a collector over OTLP: protobuf
(:mod:`.otlp_protobuf`) over gRPC (:mod:`.otlp_grpc`) or HTTP, or JSON over
HTTP (:mod:`.otlp_http`), as :mod:`.exporters` chooses. Spans
a collector does not accept are spilled to a local file and delivered later by
``otel-prov replay`` (:mod:`.replay`).
"""
