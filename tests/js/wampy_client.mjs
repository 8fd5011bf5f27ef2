// Wampy.js (npm `wampy` 8) against a node: two sessions run harness.mjs's scenario.
// Authentication uses the npm helpers `wampy-cra` and `wampy-cryptosign`; the WebSocket
// is the `websocket` package's W3C client, which takes Node's TLS options (the test CA).
import {Wampy} from 'wampy';
import {CborSerializer} from 'wampy/CborSerializer.js';
import {JsonSerializer} from 'wampy/JsonSerializer.js';
import {MsgpackSerializer} from 'wampy/MsgpackSerializer.js';
import websocket from 'websocket';
import * as wampyCra from 'wampy-cra';
import * as wampyCryptosign from 'wampy-cryptosign';

import {exercise, main, settings} from './harness.mjs';

const SERIALIZERS = {json: JsonSerializer, msgpack: MsgpackSerializer, cbor: CborSerializer};

function authOptions(credential) {
    if (!credential) return {};
    if (credential.authmethod === 'wampcra') {
        return {authid: credential.authid, authmethods: ['wampcra'], onChallenge: wampyCra.sign(credential.secret)};
    }
    if (credential.authmethod === 'cryptosign') {
        return {authid: credential.authid, authmethods: ['cryptosign'], authextra: {pubkey: credential.public_key},
                onChallenge: wampyCryptosign.sign(credential.private_key)};
    }
    throw new Error(`unknown authmethod ${credential.authmethod}`);
}

function errorFrom(e) {
    const err = new Error(`${e.errorUri}: ${JSON.stringify(e.argsList)}`);
    err.uri = e.errorUri;
    return err;
}

async function open(cfg, credential) {
    const client = new Wampy(cfg.url, {
        ws: websocket.w3cwebsocket,
        wsRequestOptions: cfg.ca ? {ca: cfg.ca} : undefined,
        realm: cfg.realm,
        serializer: new SERIALIZERS[cfg.serializer](),
        autoReconnect: false,
        ...authOptions(credential),
    });
    const details = await client.connect();
    return {
        info: {session: client.getSessionId(), authid: details.authid, authrole: details.authrole,
               authmethod: details.authmethod, roles: Object.keys(details.roles || {}).sort()},
        subscribe: (topic, onEvent) => client.subscribe(topic, (e) => onEvent(e.argsList || [], e.argsDict || {})),
        publish: (topic, args, kwargs) => client.publish(topic, {argsList: args, argsDict: kwargs}),
        register: (procedure, fn) => client.register(procedure, (inv) => {
            try {
                const r = fn(inv.argsList || [], inv.argsDict || {});
                return {argsList: r.args || [], argsDict: r.kwargs || {}};
            } catch (e) {
                throw {error: e.uri, argsList: e.args || []};
            }
        }),
        call: async (procedure, args, kwargs) => {
            let r;
            try {
                r = await client.call(procedure, {argsList: args, argsDict: kwargs});
            } catch (e) {
                throw errorFrom(e);
            }
            return {args: r.argsList || [], kwargs: r.argsDict || {}};
        },
        close: () => client.disconnect(),
    };
}

main(async () => {
    const cfg = settings();
    const caller = await open(cfg, cfg.credentials[0]);
    const callee = await open(cfg, cfg.credentials[1]);
    const outcome = await exercise(caller, callee, cfg.prefix);
    await caller.close();
    await callee.close();
    return {library: 'wampy 8', sessions: [caller.info, callee.info], ...outcome};
});
