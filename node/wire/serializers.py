"""autobahn serializer objects from the names used in the config (lean variants: node.wire.codecs)."""
from __future__ import annotations

from typing import Any, List, Sequence


def _serializer_class(name: str) -> Any:
    from node.log import choose_twisted

    choose_twisted()  # autobahn's serializer module needs a txaio framework chosen first
    from node.wire.codecs import SERIALIZERS

    if name not in SERIALIZERS:
        from node.errors import ConfigError

        raise ConfigError("serializers", f'"{name}" cannot be used: autobahn found no codec for it',
                          "Install its codec (on PyPy, msgpack needs u-msgpack-python) or remove it")
    return SERIALIZERS[name]


def websocket_serializers(names: Sequence[str]) -> List[Any]:
    """Plain and batched variants (``wamp.2.json`` and ``wamp.2.json.batched``)."""
    from node.wire.messages import prepare_serializer

    result = []
    for name in names:
        cls = _serializer_class(name)
        result += [prepare_serializer(cls()), prepare_serializer(cls(batched=True))]
    return result


def rawsocket_serializers(names: Sequence[str]) -> List[Any]:
    """RawSocket negotiates one serializer id per format; no batched variants."""
    from node.wire.messages import prepare_serializer

    return [prepare_serializer(_serializer_class(name)()) for name in names]
