"""How settings are resolved, and the one-line errors for settings that cannot work."""

from __future__ import annotations

import subprocess
from dataclasses import fields
from pathlib import Path

import dask.config
import pytest

from otel_dask_prov.errors import ConfigurationError
from otel_dask_prov.settings import (
    BUSY_BACKLOG,
    SETTINGS,
    SETTINGS_BY_NAME,
    Settings,
    config_defaults,
    config_schema,
    resolve_settings,
)
from tests.support.cluster import DaskProcesses, dask_command


def test_defaults_need_no_services(tmp_path: Path) -> None:
    settings = resolve_settings({}, output_dir=str(tmp_path))
    assert settings.enabled
    assert settings.endpoint is None  # local OTLP JSON lines files
    assert settings.output_dir == tmp_path
    assert settings.effective_spill_dir == tmp_path / "spill"
    assert settings.record_tracebacks is False  # opt-in: tracebacks can hold data



def test_the_table_is_the_fields_of_settings_with_their_defaults() -> None:
    assert [setting.name for setting in SETTINGS] == [field.name for field in fields(Settings)]
    defaults = Settings()
    assert {s.name: s.default for s in SETTINGS} == {s.name: getattr(defaults, s.name) for s in SETTINGS}
    assert resolve_settings({}, _check_filesystem=False) == defaults
    assert Settings().headers is not Settings().headers  # a mapping default is not shared


def test_help_texts_name_the_values_they_speak_of() -> None:
    assert f"until {BUSY_BACKLOG:,} records wait" in SETTINGS_BY_NAME["max_export_delay"].help
    assert "`grpc`, `http/protobuf`, or `http/json`" in SETTINGS_BY_NAME["protocol"].help
    assert f"`<output-dir>/{Settings().effective_spill_dir.name}`" in SETTINGS_BY_NAME["spill_dir"].help

def test_explicit_argument_beats_environment_beats_dask_config(tmp_path: Path) -> None:
    env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_DASK_PROV_OUTPUT_DIR": str(tmp_path)}
    with dask.config.set({"otel-dask-prov.protocol": "grpc", "otel-dask-prov.timeout": 3}):
        assert resolve_settings(env).protocol == "http/protobuf"
        assert resolve_settings(env, protocol="grpc").protocol == "grpc"
        assert resolve_settings({}, output_dir=str(tmp_path)).protocol == "grpc"
        assert resolve_settings(env).timeout == 3


@pytest.mark.parametrize(
    ("environ", "value"),
    [
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://a:1", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://b:2"},
         "http://a:1"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example:4317"},
         "https://collector.example:4317"),
    ],
    ids=["traces-specific-wins", "generic"],
)
def test_endpoint_from_standard_variables(environ: dict[str, str], value: str) -> None:
    assert resolve_settings(environ).endpoint == value


def test_standard_variables_are_parsed_as_the_spec_says(tmp_path: Path) -> None:
    settings = resolve_settings(
        {
            "OTEL_SDK_DISABLED": "true",
            "OTEL_SERVICE_NAME": "my-scheduler",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,team=hpc%20ops",
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20s3cret",
            "OTEL_BSP_SCHEDULE_DELAY": "250",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.25",
        },
        output_dir=str(tmp_path),
    )
    assert settings.enabled is False
    assert settings.service_name == "my-scheduler"
    assert dict(settings.resource_attributes) == {"deployment.environment": "prod", "team": "hpc ops"}
    assert dict(settings.headers) == {"authorization": "Bearer s3cret"}
    assert settings.export_interval == 0.25
    assert (settings.sampler, settings.sampler_arg) == ("parentbased_traceidratio", 0.25)


BAD_SETTINGS = [
    ({}, {"protocol": "thrift"},
     "invalid setting --otel-protocol='thrift': must be one of: grpc, http/protobuf, http/json"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4317"}, {},
     "invalid setting OTEL_EXPORTER_OTLP_ENDPOINT='localhost:4317': "
     "must be a URL such as http://localhost:4317"),
    ({}, {"endpoint": "http://collector:notaport"},
     "invalid setting --otel-endpoint='http://collector:notaport': has an invalid port"),
    ({"OTEL_EXPORTER_OTLP_HEADERS": "no-equals-sign"}, {},
     "invalid setting OTEL_EXPORTER_OTLP_HEADERS='no-equals-sign': "
     "'no-equals-sign' is not of the form key=value"),
    ({"OTEL_TRACES_SAMPLER_ARG": "2"}, {},
     "invalid setting OTEL_TRACES_SAMPLER_ARG='2': must be a number between 0 and 1"),
    ({}, {"certificate": "/no/such/ca.pem"},
     "invalid setting certificate='/no/such/ca.pem': no such file (expected a PEM CA file)"),
    ({}, {"no_such_setting": 1}, "invalid setting no_such_setting=1: unknown setting"),
]


@pytest.mark.parametrize(("environ", "explicit", "message"), BAD_SETTINGS,
                         ids=["protocol", "endpoint", "port", "headers", "ratio", "certificate", "unknown"])
def test_a_bad_setting_is_one_line_naming_it(environ: dict[str, str], explicit: dict[str, object],
                                             message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(environ, **explicit)
    assert str(caught.value) == message


def test_an_unwritable_output_directory_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigurationError,
                       match=r"invalid setting output-dir='.*a-file/traces': cannot write there"):
        resolve_settings({}, output_dir=str(blocker / "traces"))


def test_dask_config_section_has_a_schema_for_every_setting() -> None:
    defaults = config_defaults()
    schema = config_schema()["properties"]["otel-dask-prov"]["properties"]
    assert set(defaults) == set(schema) == {s.config_key for s in SETTINGS}
    assert dask.config.get("otel-dask-prov.protocol") == "grpc"  # registered on import


@pytest.mark.parametrize(
    ("role", "args", "env", "expected"),
    [
        ("scheduler", ["--otel-protocol", "thrift"], {},
         "otel-dask-prov: invalid setting --otel-protocol='thrift': "
         "must be one of: grpc, http/protobuf, http/json"),
        ("scheduler", [], {"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4317"},
         "otel-dask-prov: invalid setting OTEL_EXPORTER_OTLP_ENDPOINT='localhost:4317': "
         "must be a URL such as http://localhost:4317"),
        ("worker", [], {"OTEL_DASK_PROV_OUTPUT_DIR": "/proc/forbidden/traces"},
         "otel-dask-prov: invalid setting output-dir='/proc/forbidden/traces': cannot write there"),
    ],
    ids=["scheduler-option", "scheduler-env", "worker-output-dir"],
)
def test_dask_commands_stop_at_start_up_with_one_line(
    tmp_path: Path, role: str, args: list[str], env: dict[str, str], expected: str
) -> None:
    import os

    with DaskProcesses(tmp_path / "good", n_workers=0) as healthy:
        command = [*dask_command(), role, "--preload", "otel_dask_prov", *args]
        if role == "scheduler":
            command[2:2] = ["--host", "127.0.0.1", "--port", "0", "--dashboard-address", ":0"]
        else:
            command[2:2] = [healthy.address, "--no-nanny", "--no-dashboard"]
        done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
        healthy.stop()
    assert done.returncode == 2
    error_lines = [line for line in done.stderr.splitlines() if "otel-dask-prov" in line]
    assert len(error_lines) == 1, done.stderr
    assert error_lines[0].startswith(expected)
    assert "Traceback" not in done.stderr


def test_a_mapping_setting_given_as_text_in_the_dask_config_survives(tmp_path: Path) -> None:
    with dask.config.set({"otel-dask-prov.headers": "authorization=Bearer%20t0k3n"}):
        dask.config.update_defaults({"otel-dask-prov": config_defaults()})  # as on import
        settings = resolve_settings({}, output_dir=str(tmp_path))
    assert dict(settings.headers) == {"authorization": "Bearer t0k3n"}
