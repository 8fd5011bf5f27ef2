// Wampy.js (npm `wampy` 8), its serializer unmodified, sending back the IDs the node hands out.
//
// The node's subscription and registration IDs are random up to 2^53, so most exceed 2^32;
// cbor-x (wampy's CBOR) encodes any integer above 2^32 as a float64, so UNSUBSCRIBE,
// UNREGISTER and PUBLISH's `eligible` carry them as e.g. 752174776083218.0. One session
// subscribes, unsubscribes, registers and unregisters ROUNDS times; a second session
// publishes to it (eligible: its session ID) and calls it in between, so each ID is used.
// Settings and output as in harness.mjs (WAMP_URL, WAMP_SERIALIZER, WAMP_CA, WAMP_PREFIX);
// the summary lists every ID the node handed out, for the test to check their range.
import {Wampy} from 'wampy';
import {CborSerializer} from 'wampy/CborSerializer.js';
import {JsonSerializer} from 'wampy/JsonSerializer.js';
import {MsgpackSerializer} from 'wampy/MsgpackSerializer.js';
import websocket from 'websocket';

import {CheckFailed, main, settings} from './harness.mjs';

const SERIALIZERS = {json: JsonSerializer, msgpack: MsgpackSerializer, cbor: CborSerializer};
const ROUNDS = 4;

async function open(cfg) {
    const client = new Wampy(cfg.url, {
        ws: websocket.w3cwebsocket,
        wsRequestOptions: cfg.ca ? {ca: cfg.ca} : undefined,
        realm: cfg.realm,
        serializer: new SERIALIZERS[cfg.serializer](),
        autoReconnect: false,
    });
    await client.connect();
    return client;
}

async function until(predicate, what, ms = 5000) {
    const end = Date.now() + ms;
    while (!predicate()) {
        if (Date.now() > end) throw new CheckFailed(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
}

main(async () => {
    const cfg = settings();
    const owner = await open(cfg);
    const peer = await open(cfg);
    const session = owner.getSessionId();
    const ids = {sessions: [Number(session), Number(peer.getSessionId())], subscriptions: [], registrations: []};
    const topic = `${cfg.prefix}.topic`;
    const procedure = `${cfg.prefix}.double`;
    for (let round = 0; round < ROUNDS; round++) {
        const events = [];
        const sub = await owner.subscribe(topic, (e) => events.push(e.argsList[0]));
        ids.subscriptions.push(Number(sub.subscriptionId));
        await peer.publish(topic, {argsList: [round]}, {eligible: [session]});
        await until(() => events.length === 1, `the event of round ${round}`);
        if (events[0] !== round) throw new CheckFailed(`round ${round}: event ${events[0]}`);
        await owner.unsubscribe(sub.subscriptionId);

        const reg = await owner.register(procedure, (inv) => ({argsList: [inv.argsList[0] * 2]}));
        ids.registrations.push(Number(reg.registrationId));
        const result = await peer.call(procedure, {argsList: [round + 1]});
        if (result.argsList[0] !== 2 * (round + 1)) throw new CheckFailed(`round ${round}: result ${result.argsList}`);
        await owner.unregister(procedure);
    }
    await peer.publish(topic, {argsList: ['late']}, {});  // nobody subscribed any more: acknowledged, not delivered
    let missing = null;
    try {
        await peer.call(procedure, {argsList: [1]});
    } catch (e) {
        missing = e.errorUri;
    }
    if (missing !== 'wamp.error.no_such_procedure') throw new CheckFailed(`call after unregister: ${missing}`);
    await owner.disconnect();
    await peer.disconnect();
    return {library: 'wampy 8', serializer: cfg.serializer, rounds: ROUNDS, ids};
});
