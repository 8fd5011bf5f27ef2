"""A component module whose import fails: a dependency that is not installed."""
import wampnode_no_such_dependency  # noqa: F401


class Session:
    pass
