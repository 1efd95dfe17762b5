"""Keeping secrets out of traces: what the ``redact`` setting masks.

A value is masked when its *name* (a keyword argument, an environment variable,
a Dask config key) contains one of the ``redact`` fragments, case-insensitively.
Values are also masked when they contain the value of a secret-looking
environment variable of this process (``AWS_SECRET_ACCESS_KEY=...`` passed on as
a task argument, say), so a secret does not leak under an innocent name.

>>> redactor = Redactor(("token",), environ={"API_TOKEN": "s3cr3t-value"})
>>> redactor.is_secret_name("GITHUB_TOKEN")
True
>>> redactor.mask("url=https://host/?key=s3cr3t-value")
'url=https://host/?key=<redacted>'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

REDACTED = "<redacted>"
MIN_SECRET_LENGTH = 6
"""Environment values shorter than this are not searched for in other values
(``1`` or ``true`` would mask everything)."""


class Redactor:
    """Masks values by name and by the content of secret-looking environment variables."""

    def __init__(self, fragments: Iterable[str], environ: Mapping[str, str] | None = None) -> None:
        self.fragments = tuple(fragment.lower() for fragment in fragments if fragment)
        environ = os.environ if environ is None else environ
        secrets = {
            value for name, value in environ.items()
            if len(value) >= MIN_SECRET_LENGTH and self.is_secret_name(name)
        }
        self.secret_values = tuple(sorted(secrets, key=len, reverse=True))

    def is_secret_name(self, name: str) -> bool:
        """Whether *name* contains one of the fragments."""
        lowered = name.lower()
        return any(fragment in lowered for fragment in self.fragments)

    def mask(self, text: str) -> str:
        """*text* with every known secret value replaced by ``<redacted>``."""
        for secret in self.secret_values:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def value(self, name: str, text: str) -> str:
        """*text* as recorded under *name*: fully masked for a secret name."""
        return REDACTED if self.is_secret_name(name) else self.mask(text)
