// Log in by ticket when the URL carries one (?ticket=...), else by the cookie alone:
// what a page does after a person logged in once and comes back (tests/test_cookie_browser.py).
"use strict";
const params = new URLSearchParams(window.location.search);
const ticket = params.get("ticket");
const connection = new autobahn.Connection({
    url: "ws://" + window.location.host + "/ws",
    realm: "realm1",
    authmethods: ticket ? ["ticket"] : ["cookie"],
    authid: ticket ? "joe" : undefined,
    onchallenge: function (session, method) {
        if (method === "ticket" && ticket) { return ticket; }
        throw new Error("no credentials for " + method);
    },
    max_retries: 0,
});
window.result = null;
connection.onopen = function (session, details) {
    window.result = {authid: details.authid, authrole: details.authrole,
                     authmethod: details.authmethod, authprovider: details.authprovider};
    document.getElementById("state").textContent = "joined as " + details.authid;
};
connection.onclose = function (reason, details) {
    if (!window.result) {
        window.result = {error: reason + " " + (details.reason || "") + " " + (details.message || "")};
    }
};
connection.open();
