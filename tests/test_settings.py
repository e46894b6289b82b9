"""Server settings: file < environment < flags, and clear errors for a bad config file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fila.errors import InvalidArgument
from fila.server import settings
from tests.fila_process import fila_command


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "fila.toml"
    p.write_text(text)
    return str(p)


def test_precedence_file_env_flags(tmp_path: Path) -> None:
    conf = write(tmp_path, '[server]\nlisten_addr = "127.0.0.1:7000"\ndata_dir = "from-file"\n'
                           "[scheduler]\nquantum = 4\n[limits]\nmax_payload_bytes = 1000\n")
    s = settings.load(conf, env={})
    assert (s.listen_addr, s.data_dir, s.quantum, s.limits.max_payload_bytes) == (
        "127.0.0.1:7000", "from-file", 4, 1000)
    s = settings.load(conf, env={"FILA_LISTEN_ADDR": "127.0.0.1:7001", "FILA_DATA_DIR": "env"})
    assert (s.listen_addr, s.data_dir) == ("127.0.0.1:7001", "env")
    s = settings.load(conf, listen_addr="127.0.0.1:7002", env={"FILA_LISTEN_ADDR": "x"})
    assert s.listen_addr == "127.0.0.1:7002"


def test_storage_section_is_accepted_for_data_dir(tmp_path: Path) -> None:
    assert settings.load(write(tmp_path, '[storage]\ndata_dir = "d"\n'), env={}).data_dir == "d"


@pytest.mark.parametrize(("text", "message"), [
    ('[sever]\nlisten_addr = "x"\n', "unknown section [sever]"),
    ('[server]\nlisten = "x"\n', "unknown key 'listen' in [server]"),
    ('[log]\nlevel = "verbose"\n', "log level must be one of"),
    ('[log]\nformat = "xml"\n', '[log] format must be "text" or "json"'),
    ('[metrics]\ntop_keys = "x"\n', "[metrics] top_keys must be a positive integer"),
    ("[scheduler]\nquantum = 0\n", "[scheduler] quantum must be a positive integer"),
    ("[limits]\nmax_payload_bytes = -1\n", "[limits] max_payload_bytes must be a positive integer"),
    ("[lua]\nbreaker_cooldown_ms = true\n", "[lua] breaker_cooldown_ms must be a positive integer"),
    ("[server\n", "config file"),
])
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        settings.load(write(tmp_path, text), env={})
    assert message in str(info.value)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="does not exist"):
        settings.load(str(tmp_path / "nope.toml"), env={})


def test_fila_serve_refuses_a_bad_config_with_one_line(tmp_path: Path) -> None:
    conf = write(tmp_path, '[log]\nlevel = "verbose"\n')
    r = subprocess.run([*fila_command(), "serve", "--config", conf, "--data-dir", str(tmp_path / "d")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "error: log level must be one of debug, info, warning, error, got 'verbose'"]


def test_fila_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "fila.toml").write_text('[server]\nlisten_addr = "127.0.0.1:7009"\n')
    import os

    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert settings.load(env={}).listen_addr == "127.0.0.1:7009"
    finally:
        os.chdir(old)
