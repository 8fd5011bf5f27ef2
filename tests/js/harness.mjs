// The scenario every JavaScript client runs against a node, whatever the library.
//
// A client script (autobahn_client.mjs, wampy_client.mjs) only adapts its library to
// the small session interface below; the scenario, the checks and the exit code live
// here so that both libraries are held to exactly the same behaviour.
//
// Session interface (all async except info):
//   subscribe(topic, onEvent(args, kwargs))   publish(topic, args, kwargs)  (acknowledged)
//   register(procedure, fn(args, kwargs) -> {args, kwargs}; throw {uri} for an ERROR)
//   call(procedure, args, kwargs) -> {args, kwargs}; rejects with an Error whose .uri is the ERROR URI
//   close()   info -> {session, authid, authrole, authmethod}
//
// Settings come from the environment (secrets are never passed on the command line):
//   WAMP_URL, WAMP_REALM (realm1), WAMP_SERIALIZER (json|msgpack|cbor), WAMP_CA (PEM file to
//   trust for wss), WAMP_PREFIX (URI prefix unique to the test), WAMP_CREDENTIALS: JSON list of
//   two {authmethod: "wampcra"|"cryptosign", authid, secret | private_key + public_key (hex)}
//   (absent: both anonymous).
// Success: one JSON line on stdout, exit 0. Failure: "FAIL: ..." on stderr, exit 1.

import fs from 'node:fs';

const DEADLINE_MS = 20000;

export function settings() {
    const env = process.env;
    const need = (name) => {
        if (!env[name]) throw new Error(`environment variable ${name} is required`);
        return env[name];
    };
    const credentials = env.WAMP_CREDENTIALS ? JSON.parse(env.WAMP_CREDENTIALS) : [null, null];
    return {
        url: need('WAMP_URL'),
        realm: env.WAMP_REALM || 'realm1',
        serializer: need('WAMP_SERIALIZER'),
        ca: env.WAMP_CA ? fs.readFileSync(env.WAMP_CA) : undefined,
        prefix: need('WAMP_PREFIX'),
        credentials,
    };
}

export class CheckFailed extends Error {}

// msgpackr (wampy's msgpack) decodes every 64-bit integer, e.g. a session ID above 2^32,
// as a BigInt; WAMP IDs stay below 2^53, so a Number holds them exactly.
function toJson(value) {
    return JSON.stringify(value, (key, v) => (typeof v === 'bigint' ? Number(v) : v));
}

function check(condition, what) {
    if (!condition) throw new CheckFailed(what);
}

function same(actual, expected, what) {
    const a = toJson(actual);
    const e = toJson(expected);
    check(a === e, `${what}: expected ${e}, got ${a}`);
}

async function until(predicate, what, ms = 5000) {
    const end = Date.now() + ms;
    while (!predicate()) {
        if (Date.now() > end) throw new CheckFailed(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
}

async function rejectsWith(promise, uri, what) {
    try {
        await promise;
    } catch (e) {
        same(e.uri, uri, `${what}: ERROR URI`);
        return;
    }
    throw new CheckFailed(`${what}: expected ERROR ${uri}, the call succeeded`);
}

const PAYLOAD_ARGS = [1, 'two', 'ünï', 2.5, true, null, [1, [2]], {x: [3]}];
const PAYLOAD_KWARGS = {k: 'v', nested: {list: [1, 2], flag: false}};

/** `callee` subscribes and registers; `caller` publishes and calls: the router routes between them. */
export async function exercise(caller, callee, prefix) {
    const events = [];
    await callee.subscribe(`${prefix}.topic`, (args, kwargs) => events.push({args, kwargs}));
    await callee.register(`${prefix}.add`, (args) => ({args: [args[0] + args[1]]}));
    await callee.register(`${prefix}.echo`, (args, kwargs) => ({args, kwargs}));
    await callee.register(`${prefix}.fail`, () => {
        throw {uri: 'com.example.failure', args: ['it failed']};
    });

    await caller.publish(`${prefix}.topic`, PAYLOAD_ARGS, PAYLOAD_KWARGS);
    await caller.publish(`${prefix}.topic`, ['second'], {});
    await until(() => events.length >= 2, 'two events');
    same(events[0], {args: PAYLOAD_ARGS, kwargs: PAYLOAD_KWARGS}, 'first event');
    same(events[1].args, ['second'], 'second event');

    same((await caller.call(`${prefix}.add`, [2, 3], {})).args, [5], 'add(2, 3)');
    same(await caller.call(`${prefix}.echo`, PAYLOAD_ARGS, PAYLOAD_KWARGS),
         {args: PAYLOAD_ARGS, kwargs: PAYLOAD_KWARGS}, 'echo');
    await rejectsWith(caller.call(`${prefix}.fail`, [], {}), 'com.example.failure', 'fail()');
    await rejectsWith(caller.call(`${prefix}.missing`, [], {}), 'wamp.error.no_such_procedure', 'missing()');
    // No wait needed: the router sent any event of the two publications to the callee
    // before the INVOCATIONs of the calls made after them, which the callee has answered.
    same(events.length, 2, 'events delivered (no duplicates)');
    return {events: events.length, calls: 4};
}

/** Run `body` with a deadline; print its JSON result, or FAIL and exit 1. */
export function main(body) {
    const timer = setTimeout(() => {
        process.stderr.write(`FAIL: no result within ${DEADLINE_MS} ms\n`);
        process.exit(1);
    }, DEADLINE_MS);
    body().then((result) => {
        clearTimeout(timer);
        process.stdout.write(toJson(result) + '\n');
        process.exit(0);
    }, (error) => {
        clearTimeout(timer);
        const text = error instanceof Error ? error.stack || error.message : toJson(error);
        process.stderr.write(`FAIL: ${text}\n`);
        process.exit(1);
    });
}
