"""``redirect`` paths: a 302 to ``url``."""
from __future__ import annotations

from twisted.web.util import Redirect

from node.config.model import RedirectPath


def redirect_resource(config: RedirectPath) -> Redirect:
    return Redirect(config.url.encode("utf-8"))
