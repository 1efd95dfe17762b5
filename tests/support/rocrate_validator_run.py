"""Run the real ``rocrate-validator`` command on a crate, also on a machine without network.

``python -m tests.support.rocrate_validator_run ARGS...`` is ``rocrate-validator ARGS...``.
The validator fetches the crate's JSON-LD context (``https://w3id.org/ro/crate/1.1/context``)
twice: its own checks 3.1 and 3.2 (through ``requests``) and rdflib's JSON-LD parser. When
``w3id.org`` cannot be resolved here, both are served the 1.1 context rebuilt from the
context the ``rocrate`` package ships (``rocrate/data/ro-crate.jsonld``, RO-Crate 1.3):
its schema.org terms (the same IRIs in 1.1), with the terms 1.1 maps elsewhere set as
1.1 sets them (:data:`CONTEXT_1_1`, copied from the published 1.1 context). Nothing else
is changed: every check of the validator runs.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

CONTEXT_URLS = ("https://w3id.org/ro/crate/1.1/context", "https://w3id.org/ro/crate/1.1/context/")


def online() -> bool:
    try:
        socket.getaddrinfo("w3id.org", 443)
    except OSError:
        return False
    return True


CONTEXT_1_1 = {
    "File": "http://schema.org/MediaObject",
    "path": "http://schema.org/contentUrl",
    "Journal": "http://schema.org/Periodical",
    "cite-as": "https://www.w3.org/ns/iana/link-relations/relation#cite-as",
    "hasFile": "http://pcdm.org/models#hasFile",
    "hasMember": "http://pcdm.org/models#hasMember",
    "RepositoryCollection": "http://pcdm.org/models#Collection",
    "RepositoryObject": "http://pcdm.org/models#Object",
    "ComputationalWorkflow": "https://bioschemas.org/ComputationalWorkflow",
    "input": "https://bioschemas.org/ComputationalWorkflow#input",
    "output": "https://bioschemas.org/ComputationalWorkflow#output",
    "FormalParameter": "https://bioschemas.org/FormalParameter",
    "funding": "http://schema.org/funding",
    "wasDerivedFrom": "http://www.w3.org/ns/prov#wasDerivedFrom",
    "conformsTo": "http://purl.org/dc/terms/conformsTo",
}
"""The terms of the RO-Crate 1.1 context that are not ``http://schema.org/<term>``."""


def _bundled_context() -> bytes:
    import rocrate

    document = json.loads((Path(rocrate.__file__).parent / "data" / "ro-crate.jsonld").read_text())
    terms = {term: iri for term, iri in document["@context"].items()
             if isinstance(iri, str) and iri.startswith("http://schema.org/")}
    terms.update(CONTEXT_1_1)
    return json.dumps({"@id": CONTEXT_URLS[0], "@context": terms}).encode()


def serve_context_locally() -> Callable[[], None]:
    """Serve the RO-Crate 1.1 context from here; returns what undoes it."""
    import requests
    from rdflib.plugins.shared.jsonld import context as jsonld_context

    document = _bundled_context()
    fetch = jsonld_context.source_to_json

    def source_to_json(source: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(source, str) and source in CONTEXT_URLS:
            return json.loads(document), None
        return fetch(source, *args, **kwargs)

    jsonld_context.source_to_json = source_to_json  # type: ignore[assignment]
    send = requests.adapters.HTTPAdapter.send

    def send_local(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.url in CONTEXT_URLS:
            response = requests.Response()
            response.status_code = 200
            response.headers["Content-Type"] = "application/ld+json"
            response._content = document
            response.url = request.url
            response.request = request
            return response
        return send(self, request, *args, **kwargs)

    requests.adapters.HTTPAdapter.send = send_local  # type: ignore[method-assign]

    def undo() -> None:
        jsonld_context.source_to_json = fetch
        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]

    return undo


def main() -> None:
    if not online():
        serve_context_locally()
    from rocrate_validator.cli import cli

    sys.argv[0] = "rocrate-validator"
    cli()


if __name__ == "__main__":
    main()
