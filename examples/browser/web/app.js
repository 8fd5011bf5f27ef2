// The wampnode browser example: connect to this node's WebSocket path, subscribe,
// publish, register and call, and say in plain words what went wrong when it fails.
//
// The node URL defaults to the page's own origin: https://host:8443/ -> wss://host:8443/ws.
// ?url=wss://host:port/ws and ?realm=NAME override it.
"use strict";

const TOPIC = "com.example.browser.hello";
const PROCEDURE = "com.example.browser.add2";

const params = new URLSearchParams(window.location.search);
const url = params.get("url") ||
    (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + "/ws";
const realm = params.get("realm") || "realm1";

const $ = (id) => document.getElementById(id);
let published = 0;

function log(text) {
    const item = document.createElement("li");
    item.textContent = new Date().toLocaleTimeString() + "  " + text;
    $("log").appendChild(item);
}

function setState(state, text) {
    $("state").dataset.state = state;
    $("state").textContent = text || state;
    log("state: " + (text || state));
}

function showError(text) {
    if (text && text !== $("error").textContent) {  // once, not on every retry
        log("error: " + text);
    }
    $("error").textContent = text;
    $("error").hidden = !text;
}

// What a WAMP error means for a person; the URI stays visible for the developer.
function describeError(error) {
    const uri = (error && error.error) || String(error);
    const detail = error && error.args && error.args.length ? ": " + error.args[0] : "";
    const plain = {
        "wamp.error.not_authorized": "not allowed by the node's roles",
        "wamp.error.no_such_procedure": "nobody has registered this procedure",
        "wamp.error.no_such_realm": "the node has no such realm",
        "wamp.error.procedure_already_exists": "another session already registered this procedure",
        "wamp.error.authentication_failed": "the node refused the credentials",
    }[uri];
    return (plain ? plain + " (" + uri + ")" : uri) + detail;
}

// A browser tells a page nothing about why a WebSocket failed to open, so name the likely causes.
function describeUnreachable(target) {
    if (target.startsWith("wss:")) {
        const https = "https:" + target.slice(4).replace(/\/[^/]*$/, "/");
        return "Cannot connect to " + target + ". If the node is running, the browser rejected its " +
            "TLS certificate (certificate not trusted): import the CA certificate that signed it into " +
            "this browser, or open " + https + " to see the browser's reason. Otherwise the node " +
            "is not running or not listening there.";
    }
    return "Cannot connect to " + target + ": the node is not running or not listening there.";
}

function describeClose(reason, details) {
    if (reason === "unreachable") {
        return describeUnreachable(url);
    }
    if (reason === "lost") {
        return "Connection to " + url + " lost (the node stopped or the network went away).";
    }
    if (details && details.reason && details.reason !== "wamp.close.normal") {
        return "The node closed the session: " + describeError({error: details.reason, args: [details.message]});
    }
    return "";
}

async function publish(session) {
    published += 1;
    await session.publish(TOPIC, ["hello from the browser #" + published], {},
                          {acknowledge: true, exclude_me: false});
    log("published #" + published);
}

async function call(session) {
    try {
        const result = await session.call(PROCEDURE, [2, 3]);
        $("call").textContent = String(result);
        $("call").dataset.result = String(result);
        log("call result: " + result);
    } catch (error) {
        $("call").textContent = "failed: " + describeError(error);
        showError("Call failed: " + describeError(error));
    }
}

async function onOpen(session) {
    setState("connected", "connected (session " + session.id + ")");
    showError("");
    try {
        await session.subscribe(TOPIC, (args) => {
            const count = Number($("event").dataset.count) + 1;
            $("event").dataset.count = String(count);
            $("event").textContent = args[0] + " (" + count + " received)";
            log("event: " + args[0]);
        });
        try {
            await session.register(PROCEDURE, (args) => args[0] + args[1]);
            log("registered " + PROCEDURE);
        } catch (error) {  // another tab registered it first: call theirs
            log("not registered: " + describeError(error));
        }
        $("publish").disabled = false;
        $("call-again").disabled = false;
        $("publish").onclick = () => publish(session).catch((e) => showError("Publish failed: " + describeError(e)));
        $("call-again").onclick = () => call(session);
        await publish(session);
        await call(session);
    } catch (error) {
        showError(describeError(error));
    }
}

function start() {
    $("url").textContent = url;
    $("realm").textContent = realm;
    if (typeof autobahn === "undefined") {
        setState("failed");
        showError("The autobahn library did not load from autobahn/autobahn.min.js. " +
                  "Run `npm install` in examples/browser and reload.");
        return;
    }
    const connection = new autobahn.Connection({url: url, realm: realm, max_retries: 15});
    connection.onopen = onOpen;
    connection.onclose = (reason, details) => {
        $("publish").disabled = true;
        $("call-again").disabled = true;
        showError(describeClose(reason, details));
        if (details && details.will_retry) {
            setState(reason === "lost" ? "lost" : reason,
                     reason + ", retrying in " + Math.round(details.retry_delay) + " s");
        } else {
            setState(reason);
        }
        return false;
    };
    setState("connecting", "connecting to " + url);
    connection.open();
}

start();
