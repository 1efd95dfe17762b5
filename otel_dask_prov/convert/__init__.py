"""Turn otel-dask-prov traces into W3C PROV documents (``otel-prov convert``).

Usage
-----
From the command line::

    otel-prov convert otel-dask-prov-traces/ -o run.json       # PROV-JSON
    otel-prov convert traces.jsonl.gz -f provn                  # PROV-N on stdout
    otel-prov convert traces/ -o run.svg                        # a picture (Graphviz)

From Python::

    >>> from otel_dask_prov.convert import convert, to_document
    >>> report = convert(["otel-dask-prov-traces"], "run.json")   # doctest: +SKIP
    >>> document = to_document(["otel-dask-prov-traces"])         # doctest: +SKIP
    >>> document.get_records()                                    # doctest: +SKIP

Inputs
------
Files or directories (searched recursively for ``*.json``, ``*.jsonl``,
``*.ndjson``, plain or gzipped) holding OTLP JSON lines (our local-file
default, an OpenTelemetry Collector's file exporter, the SDK's OTLP JSON file
exporter, proto3-JSON variants), Jaeger's JSON (``/api/traces`` responses and
the UI's download) or the Python SDK's console span JSON. The spans of one
computation may be spread over several files (the scheduler's and each
worker's): they are joined by trace id.

Output
------
One PROV document with one bundle per trace (``--flatten`` for one flat
document), in PROV-JSON (default), PROV-N, PROV-XML, PROV-JSONLD, RDF (TriG,
Turtle), Graphviz DOT, SVG or PNG. ``docs/prov-mapping.md`` describes the
mapping from spans to PROV. The conversion itself is recorded in the document:
the tool, its version, and every input file with its SHA-256 digest.

Scale
-----
PROV-JSON and PROV-N are written by streaming writers (:mod:`.streaming`)
whose memory does not grow with the number of finished traces; the other
formats build the whole document in memory with the ``prov`` library, which
is much slower and grows with the document. Inputs are read twice: once to index them (and check
them: a malformed line stops the conversion before anything is written, unless
``skip_invalid``), once to convert them in time order across files. For inputs
of 64 MiB or more (or with ``parallel=True``) a second process
(:mod:`.readahead`) scans about half the files in the first pass and decodes
the spans in the second, while this one maps and writes; the document is the
same, byte for byte. The timings of both are in ``docs/performance.md``.

Modules
-------
* the first pass: :mod:`.scan`, over :mod:`.discovery` (which files),
  :mod:`.input_streams` (gzip, SHA-256, whole documents), :mod:`.file_scan`
  (one file), :mod:`.scan_index` (what it keeps), :mod:`.resource_catalog` (the
  processes that wrote spans) and :mod:`.scan_merge` (the pass shared with a
  second process);
* the second pass: :mod:`.unit_reader` (the units read back), :mod:`.readers`
  (input formats, decoded with the OTLP JSON structs of
  :mod:`otel_dask_prov.export.otlp_json_decode`), :mod:`.shapes` (other shapes as
  OTLP), :mod:`.model` (the normalized span);
* the mapping: :mod:`.mapping`, :mod:`.attribute_pairs` (span attributes as PROV
  attributes), :mod:`.taskdata` (arguments, files and profiles of a task),
  :mod:`.darshan_mapping` (Darshan logs and DXT segments), :mod:`.prov_records`
  (records as tuples), :mod:`.identifiers` (record ids);
* the writers: :mod:`.streaming` and :mod:`.formats`;
* the run: :mod:`.pipeline`, :mod:`.readahead` (the second process), :mod:`.api`
  and :mod:`.command` (the library call and the command line).
"""

from .api import convert, to_document
from .pipeline import ConversionReport

__all__ = ["ConversionReport", "convert", "to_document"]
