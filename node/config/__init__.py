"""Reading ``config.json``: JSON, environment references, schema, then semantic checks.

:func:`load_config` is the one entry point; it raises :class:`ConfigErrors` with
every problem found (never only the first), each a one-line message. It reads
only the config file: the TLS and trust files a config names are read by the
layers that use them, which report their faults through :func:`file_errors`.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, List, Mapping, Optional, Sequence

from node.config.model import NodeConfig
from node.config.version1 import is_version_1, upgrade
from node.errors import ConfigError, ConfigErrors, NodeError

__all__ = ["load_config", "read_json", "NodeConfig", "default_config_file", "config_file_in", "file_errors",
           "shown_path"]


def default_config_file(cbdir: str) -> str:
    return os.path.join(cbdir, "config.json")


def config_file_in(cbdir: str, config_file: Optional[str]) -> str:
    """The file ``--config`` names: as Crossbar.io reads it, a relative path is in the node
    directory (``crossbar start --config=config1.json`` with ``.crossbar/config1.json``);
    one that is not there but is relative to the current directory is taken from there."""
    if config_file is None:
        return default_config_file(cbdir)
    if os.path.isabs(config_file):
        return config_file
    in_cbdir = os.path.join(cbdir, config_file)
    if os.path.exists(in_cbdir) or not os.path.exists(config_file):
        return in_cbdir
    return config_file


MAX_CONFIG_SIZE = 16 * 1024 * 1024  # a config is kilobytes; this stops /dev/zero or a log file


def shown_path(config_file: str) -> str:
    """How messages name the config file: the shorter of its relative and absolute paths."""
    return min(os.path.relpath(config_file), os.path.abspath(config_file), key=len)


def file_errors(config: NodeConfig, problems: Sequence[NodeError]) -> ConfigErrors:
    """Faults of files ``config`` names (TLS keys, trust CAs) as errors of the config:
    each line starts with the config file, as :func:`load_config`'s lines do."""
    where = shown_path(config.config_file)
    return ConfigErrors([ConfigError(f"{where}: {e.where}", e.problem, e.fix) for e in problems])


def read_json(config_file: str) -> Any:
    """Parse the file; every way it can fail becomes one :class:`ConfigError`."""
    where = config_file
    try:
        with open(config_file, "rb") as f:
            data = f.read(MAX_CONFIG_SIZE + 1)
    except FileNotFoundError:
        raise ConfigError(where, "file not found",
                          "Run `wampnode init` to create a node directory, or pass --cbdir/--config")
    except IsADirectoryError:
        raise ConfigError(where, "is a directory, not a file", "Pass the config.json file itself")
    except PermissionError:
        raise ConfigError(where, "permission denied reading the file",
                          "Make it readable by the user running the node")
    if len(data) > MAX_CONFIG_SIZE:
        raise ConfigError(where, f"larger than {MAX_CONFIG_SIZE // 1048576} MiB, so not a node configuration",
                          "Pass the node's config.json (--config FILE or --cbdir DIR)")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(where, f"not UTF-8 text (byte {e.start})", "Save the file as UTF-8")
    except json.JSONDecodeError as e:
        raise ConfigError(where, f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}",
                          "Fix the JSON syntax there")


def load_config(cbdir: str, config_file: Optional[str] = None,
                environ: Optional[Mapping[str, str]] = None) -> NodeConfig:
    """Load, validate and check a node configuration.

    @raise ConfigErrors: with all problems found.
    """
    # imported here: every layer imports node.config.model for its types, and that
    # runs this package first; loading (jsonschema, ~60 ms) waits until a config is read
    from node.config.build import build_node
    from node.config.checks import run_checks
    from node.config.environment import substitute
    from node.config.starred import expand_starred_uris
    from node.config.validation import validation_errors, with_defaults

    cbdir = os.path.abspath(cbdir)
    config_file = config_file_in(cbdir, config_file)
    where = shown_path(config_file)
    try:
        raw = read_json(config_file)
    except ConfigError as e:
        raise ConfigErrors([e])
    read_as_version_1 = is_version_1(raw)
    if read_as_version_1:  # as `crossbar upgrade` would rewrite it (`wampnode upgrade` does)
        raw = upgrade(raw)
    raw, errors = substitute(raw, os.environ if environ is None else environ, where)
    raw = expand_starred_uris(raw)  # Crossbar's "com.example.*" spelling, made explicit
    missing = {e.where for e in errors}
    errors += [e for e in validation_errors(raw, where) if e.where not in missing]
    if errors:
        raise ConfigErrors(errors)
    raw = with_defaults(raw)
    config = build_node(raw, cbdir, os.path.abspath(config_file))
    problems: List[ConfigError] = run_checks(config, raw, where)
    if problems:
        raise ConfigErrors(problems)
    return dataclasses.replace(config, read_as_version_1=True) if read_as_version_1 else config
