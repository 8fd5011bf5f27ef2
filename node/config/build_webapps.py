"""Build the ``json``, ``archive``, ``wsgi``, ``resource`` and ``wap`` web paths
(:mod:`node.config.model_webapps`) from their validated, default-filled dicts."""
from __future__ import annotations

import json
import os
from typing import Any, Callable, Dict

from node.config import model


def json_body(value: Any, options: Dict[str, Any]) -> bytes:
    """The value as served: indented for people (``prettify``) or compact, UTF-8."""
    if options["prettify"]:
        text = json.dumps(value, indent=3, ensure_ascii=False, sort_keys=options["sort_keys"]) + "\n"
    else:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=options["sort_keys"])
    return text.encode("utf-8")


def _json(raw: Dict[str, Any], cbdir: str, where: str, trust: Callable[..., Any]) -> model.JsonPath:
    options = raw["options"]
    return model.JsonPath(body=json_body(raw["value"], options), allow_cross_origin=options["allow_cross_origin"],
                          discourage_caching=options["discourage_caching"], path=where)


def _archive(raw: Dict[str, Any], cbdir: str, where: str, trust: Callable[..., Any]) -> model.ArchivePath:
    prefix = raw["object_prefix"].strip("/")
    return model.ArchivePath(
        archive=os.path.normpath(os.path.join(cbdir, os.path.expanduser(raw["archive"]))),
        origin=raw.get("origin"), download=raw["download"], cache=raw["cache"],
        default_object=raw.get("default_object"), object_prefix=prefix + "/" if prefix else "",
        mime_types=dict(raw["mime_types"]), hashes=tuple(h.lower() for h in raw.get("hashes", ())),
        default_file=raw["options"].get("default_file"), trust=trust(raw["trust"], cbdir, f"{where}.trust"),
        max_download_size=raw["max_download_size"], download_timeout=float(raw["download_timeout"]), path=where)


def _wsgi(raw: Dict[str, Any], cbdir: str, where: str, trust: Callable[..., Any]) -> model.WsgiPath:
    return model.WsgiPath(module=raw["module"], object=raw["object"], minthreads=raw["minthreads"],
                          maxthreads=max(raw["maxthreads"], raw["minthreads"], 1), path=where)


def _resource(raw: Dict[str, Any], cbdir: str, where: str, trust: Callable[..., Any]) -> model.ResourcePath:
    return model.ResourcePath(classname=raw["classname"], extra=raw["extra"], path=where)


def _wap(raw: Dict[str, Any], cbdir: str, where: str, trust: Callable[..., Any]) -> model.WapPath:
    templates = raw["templates"]
    directory = os.path.normpath(os.path.join(cbdir, os.path.expanduser(templates))) \
        if isinstance(templates, str) else None
    routes = tuple(model.WapRoute(pattern=r["path"], method=r["method"], call=r.get("call"), render=r["render"],
                                  path=f"{where}.routes[{i}]") for i, r in enumerate(raw["routes"]))
    return model.WapPath(templates=directory, package=None if directory else templates["package"],
                         resource=None if directory else templates["resource"], sandbox=raw["sandbox"],
                         routes=routes, realm=raw["wamp"]["realm"], role=raw["wamp"]["authrole"], path=where)


WEBAPP_BUILDERS: Dict[str, Callable[[Dict[str, Any], str, str, Callable[..., Any]], object]] = {
    "json": _json, "archive": _archive, "wsgi": _wsgi, "resource": _resource, "wap": _wap}
