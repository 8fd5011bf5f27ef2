"""``resource`` path: a Twisted Web resource made by a class the config names
(Crossbar.io's ``RouterWebServiceTwistedWeb``): ``classname(extra)``.

The class is found with the router worker's ``pythonpath``. Request bodies: the
resource takes one (up to the web transport's ``max_request_body``, kept in memory)
unless its class says ``takes_body = False`` (:mod:`node.web.body`).
"""
from __future__ import annotations

from typing import Any, Sequence

from twisted.web import resource

from node.config.model import ResourcePath
from node.errors import ConfigError, ConfigErrors
from node.web.pyload import add_pythonpath, load


def twisted_resource(config: ResourcePath, pythonpath: Sequence[str] = ()) -> Any:
    """The resource ``config.classname(config.extra)``.

    @raise ConfigErrors: the class does not resolve, or does not make a resource.
    """
    add_pythonpath(pythonpath)
    module_name, _, name = config.classname.rpartition(".")
    where = f"{config.path}.classname"
    make = load(module_name, name, where, f"resource class {config.classname}")
    try:
        built = make(config.extra)
    except Exception as e:
        raise ConfigErrors([ConfigError(where, f"resource class {config.classname}: {name}(extra) raised "
                                               f"{type(e).__name__}: {e}", "Fix the class or its `extra`")]) from None
    if not resource.IResource.providedBy(built):
        raise ConfigErrors([ConfigError(where, f"{config.classname}(extra) made a {type(built).__name__}, "
                                               "not a Twisted Web resource", "Name a twisted.web.resource.Resource")])
    if not hasattr(built, "takes_body"):
        built.takes_body = True  # node.web.body: the application reads the bodies it wants
    return built
