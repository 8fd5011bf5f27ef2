"""Function router components: callbacks named in the config (session.on(event, fn))."""
EVENTS = []


def on_connect(session, transport):
    EVENTS.append("connect")


def on_join(session, details):
    EVENTS.append("join")
    return session.register(lambda: {"authrole": details.authrole, "events": list(EVENTS)}, "com.test.fn.info")


def on_leave(session, details):
    EVENTS.append("leave")


def on_disconnect(session, was_clean=True):
    EVENTS.append("disconnect")


def failing_join(session, details):
    raise ValueError("join callback failed on purpose")
