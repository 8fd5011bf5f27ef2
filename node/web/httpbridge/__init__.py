"""The HTTP bridge: web paths that turn a POST into a WAMP publication or call.

Crossbar.io's ``publisher``, ``caller`` and ``webhook`` path types, with the same
request and answer formats, option names and signatures, so that its clients
(``crossbarhttp3``, ``curl`` recipes, GitHub webhooks) work unchanged. Where
Crossbar.io is unsafe or hangs, this does better: signatures are compared in
constant time and a nonce is accepted once; a body has a limit by default; CORS
is only for origins allowed in the options; a call has a deadline (504); every
refusal is a 4xx with a one-line JSON reason and a log line naming the client.

- :mod:`.request`: what every bridge path checks (method, origin, client, TLS,
  content type, UTF-8) and how it answers;
- :mod:`.signing`: signed requests (HMAC-SHA256, timestamp window, nonce cache);
- :mod:`.payload`: the strict JSON reading of a body;
- :mod:`.paths`: the three path types, publishing and calling through a
  :class:`~node.router.local.LocalSession` of the path's realm and role.
"""
from __future__ import annotations

from node.web.httpbridge.paths import bridge_resource

__all__ = ["bridge_resource"]
