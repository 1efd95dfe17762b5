"""Export: turn records into spans and ship them, off the event loop.

:class:`.span_pipeline.SpanPipeline` takes records from the capture stage,
builds :class:`.span_data.SpanData` on its own thread, encodes them as OTLP
JSON (:mod:`.otlp_json`) and writes them to a local file
(:mod:`.jsonl_files`), or sends them to a collector over OTLP HTTP/JSON
(:mod:`.otlp_http_json`) or the SDK's gRPC and HTTP/protobuf exporters. Spans
a collector does not accept are spilled to a local file and delivered later by
``otel-prov replay`` (:mod:`.replay`).
"""
