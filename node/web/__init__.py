"""The ``web`` transport: a Twisted Web site built from a config's path tree.

One module per path ``type`` (static, nodeinfo, redirect; websocket paths come from
:mod:`node.transports.websocket`), chosen from a table in :mod:`node.web.tree`.
"""

from __future__ import annotations
