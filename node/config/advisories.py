"""Warnings about a configuration that starts, but perhaps not as its author meant.

``wampnode check`` prints and ``wampnode start`` logs one line for each; the
node starts regardless (exit code 0). They are:

- a node directory or config file others may write (:mod:`node.config.permissions`);
- a ``static`` path whose directory does not exist yet. Crossbar.io starts such a
  node and answers 404 on that path, and Crossbar's published examples rely on it
  (``rest/caller`` names a ``../web`` it does not ship): refusing them would break
  configs that run today. The directory is looked up per request, so files appear
  once it is created (a build step that runs after the node starts, for instance).
"""
from __future__ import annotations

import os
from typing import List

from node.config import model, shown_path
from node.config.permissions import writable_warnings


def config_warnings(config: model.NodeConfig) -> List[str]:
    """One ``where: problem. Fix: ...`` line per thing worth a warning, in config order."""
    return (version_1_warnings(config) + writable_warnings(config.cbdir, config.config_file)
            + missing_static_directories(config))


def version_1_warnings(config: model.NodeConfig) -> List[str]:
    """A version 1 config is read as upgraded; the file still says version 1."""
    if not config.read_as_version_1:
        return []
    shown = shown_path(config.config_file)
    return [f"{shown}: version: a version 1 configuration (Crossbar.io before 2017), read as the version 2 "
            f"`crossbar upgrade` makes of it (permissions as uri/allow/disclose/cache; actions left out are not "
            f"allowed). Fix: rewrite the file with `wampnode upgrade --config {shown}`"]


def missing_static_directories(config: model.NodeConfig) -> List[str]:
    """Static paths whose directory does not exist (one that exists but is a file is an error)."""
    shown = shown_path(config.config_file)
    return [f"{shown}: {service.path}.directory: {service.directory} does not exist, so this path answers 404 "
            f"until it does. Fix: create the directory, or fix the path (relative paths start at the node directory)"
            for t in config.transports if t.web
            for service in t.web.paths.values()
            if isinstance(service, model.StaticPath) and not os.path.exists(service.directory)]
