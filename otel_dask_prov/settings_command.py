"""``otel-prov settings``: every setting, where it can be set, and its value here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .settings import CONFIG_SECTION, SETTINGS, resolve_settings


def _show(value: Any) -> str:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "(none)"
    return "(unset)" if value is None else str(value)


@click.command(name="settings")
def settings_command() -> None:
    """List every setting: preload option, environment variables, Dask config key, value here."""
    resolved = resolve_settings(_check_filesystem=False)
    for setting in SETTINGS:
        value = getattr(resolved, setting.name)
        if setting.name == "headers" and value:
            value = dict.fromkeys(value, "***")  # header values are credentials
        click.echo(f"{setting.config_key} = {_show(value)}")
        click.echo(f"    {setting.help}")
        sources = [setting.option, *setting.env, f"{CONFIG_SECTION}.{setting.config_key}"]
        click.echo(f"    set with: {', '.join(sources)}")
