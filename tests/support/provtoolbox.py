"""ProvToolbox, the Java PROV library, as a third-party reader of our PROV.

:func:`classpath` fetches a ProvToolbox version from Maven Central (once per
machine, cached outside the repository by ``scripts/build-provtoolbox``) and
:func:`provconvert` runs its command-line converter
(``org.openprovenance.prov.interop.CommandLineArguments``), which reads a file
in the format its extension names and writes another. A test reads our PROV
with it, has it write PROV-N, and compares what it wrote with what we wrote
(:func:`containers`). Without Java or Maven the tests skip, saying so; a
failing Maven build is a failure, not a skip.

What each version reads (``docs/prov-mapping.md``, "Read by other tools", says why):

=========  =====  =======  =========  =======
version    PROV-N PROV-XML PROV-JSON  JSON-LD
=========  =====  =======  =========  =======
0.9.27     yes    yes      yes        no: JSON-LD 1.0 as RDF only
2.2.1      yes    no: bug  no reader  yes
=========  =====  =======  =========  =======
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build-provtoolbox"
VERSIONS = ("0.9.27", "2.2.1")
READS: dict[str, tuple[str, ...]] = {
    "0.9.27": ("provn", "xml", "json"),
    "2.2.1": ("provn", "jsonld"),
}
"""The formats of ours each version reads back intact (the others: see the module's table)."""
EXTENSIONS = {"provn": ".provn", "xml": ".xml", "json": ".json", "jsonld": ".jsonld"}
MAIN = "org.openprovenance.prov.interop.CommandLineArguments"


@functools.cache
def classpath(version: str) -> str:
    """The Java classpath of ProvToolbox *version*, fetched by ``scripts/build-provtoolbox``."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"ProvToolbox needs {' and '.join(missing)} (a JDK >= 11 and Maven 3), "
                    "not found on PATH")
    done = subprocess.run([str(SCRIPT), version], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"scripts/build-provtoolbox {version} failed:\n{done.stderr}"
    return Path(done.stdout.splitlines()[-1]).read_text().strip()


def provconvert(version: str, infile: Path, outfile: Path) -> None:
    """Have ProvToolbox *version* read *infile* and write *outfile* (formats by extension)."""
    done = subprocess.run(
        ["java", "-Xmx1g", "-cp", classpath(version), MAIN,
         "-infile", str(infile), "-outfile", str(outfile)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and outfile.exists(), (
        f"ProvToolbox {version} could not convert {infile.name}:\n{done.stderr[-3000:]}")


def containers(path: Path) -> dict[str, tuple[int, list[str]]]:
    """Per container (``(document)`` or a bundle's id): its record count and sorted record ids."""
    from prov.model import ProvDocument

    document = ProvDocument.deserialize(str(path), format="provn")

    def described(container: object) -> tuple[int, list[str]]:
        records = container.get_records()  # type: ignore[attr-defined]
        return len(records), sorted(str(r.identifier) for r in records if r.identifier)

    found = {"(document)": described(document)}
    for bundle in document.bundles:
        found[str(bundle.identifier)] = described(bundle)
    return found
