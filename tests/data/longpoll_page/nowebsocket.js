// The page offers autobahn no WebSocket at all, as a network that breaks WebSockets would.
window.WebSocket = undefined;
window.MozWebSocket = undefined;
