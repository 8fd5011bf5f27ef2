"""A function component: plain functions the node calls on the session's events.

``examples/configs/router-components.json`` names ``hooks.on_join`` as the ``join``
callback; it is called as ``on_join(session, details)`` once the session has joined.
"""


def on_join(session, details):
    """Registers ``com.example.whoami``: the identity this component joined with."""
    identity = {"authid": details.authid, "authrole": details.authrole, "realm": details.realm}
    return session.register(lambda: identity, "com.example.whoami")
