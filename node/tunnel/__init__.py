"""``wampnode tunnel``: local TCP (or stdio) over a WebSocket, through HTTP proxies."""
