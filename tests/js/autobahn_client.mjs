// Autobahn|JS (npm `autobahn` 22) against a node: two sessions run harness.mjs's scenario.
// Authentication uses autobahn's own helpers: auth_cra (derive_key, sign) and
// auth_cryptosign (create_connection, sign_challenge).
import https from 'node:https';

import autobahn from 'autobahn';

import {exercise, main, settings} from './harness.mjs';

const SERIALIZERS = {
    json: () => new autobahn.serializer.JSONSerializer(),
    msgpack: () => new autobahn.serializer.MsgpackSerializer(),
    cbor: () => new autobahn.serializer.CBORSerializer(),
};

function craChallenge(secret) {
    return (session, method, extra) => {
        const key = extra.salt
            ? autobahn.auth_cra.derive_key(secret, extra.salt, extra.iterations, extra.keylen)
            : secret;
        return autobahn.auth_cra.sign(key, extra.challenge);
    };
}

function connection(cfg, credential) {
    const options = {
        url: cfg.url,
        realm: cfg.realm,
        serializers: [SERIALIZERS[cfg.serializer]()],
        max_retries: 0,
        retry_if_unreachable: false,
    };
    // the websocket transport takes its TLS settings from an https.Agent
    const agent = cfg.ca ? new https.Agent({ca: cfg.ca}) : undefined;
    options.transports = [{type: 'websocket', url: cfg.url, agent}];
    if (!credential) return new autobahn.Connection(options);
    if (credential.authmethod === 'wampcra') {
        return new autobahn.Connection({...options, authmethods: ['wampcra'], authid: credential.authid,
                                        onchallenge: craChallenge(credential.secret)});
    }
    if (credential.authmethod === 'cryptosign') {
        const seed = autobahn.util.htob(credential.private_key);
        const pkey = autobahn.nacl.sign.keyPair.fromSeed(seed);
        const conn = autobahn.auth_cryptosign.create_connection({
            url: cfg.url, realm: cfg.realm, authid: credential.authid, pkey, serializers: options.serializers,
        });
        // create_connection knows no retry or TLS options: set them on what it built
        conn._max_retries = 0;
        conn._retry_if_unreachable = false;
        conn._options.transports[0].agent = agent;
        return conn;
    }
    throw new Error(`unknown authmethod ${credential.authmethod}`);
}

/** Open a connection; resolves with the session adapter once WELCOME arrived. */
function open(cfg, credential) {
    return new Promise((resolve, reject) => {
        const conn = connection(cfg, credential);
        let closed = null;
        conn.onopen = (session, details) => resolve(adapt(conn, session, details, () => closed));
        conn.onclose = (reason, details) => {
            closed = reason;
            reject(new Error(`connection closed before joining: ${reason} ${JSON.stringify(details)}`));
            return true;  // no reconnect
        };
        conn.open();
    });
}

function errorFrom(e) {
    const err = new Error(`${e.error}: ${JSON.stringify(e.args)}`);
    err.uri = e.error;
    return err;
}

function adapt(conn, session, details, closedReason) {
    return {
        info: {session: session.id, authid: details.authid, authrole: details.authrole,
               authmethod: details.authmethod, roles: Object.keys(details.roles || {}).sort()},
        subscribe: (topic, onEvent) => session.subscribe(topic, (args, kwargs) => onEvent(args || [], kwargs || {})),
        publish: (topic, args, kwargs) => session.publish(topic, args, kwargs, {acknowledge: true}),
        register: (procedure, fn) => session.register(procedure, (args, kwargs) => {
            try {
                const r = fn(args || [], kwargs || {});
                return new autobahn.Result(r.args || [], r.kwargs || {});
            } catch (e) {
                throw new autobahn.Error(e.uri, e.args || []);
            }
        }),
        call: async (procedure, args, kwargs) => {
            let r;
            try {
                r = await session.call(procedure, args, kwargs);
            } catch (e) {
                throw errorFrom(e);
            }
            if (r instanceof autobahn.Result) return {args: r.args || [], kwargs: r.kwargs || {}};
            return {args: r === null || r === undefined ? [] : [r], kwargs: {}};
        },
        close: () => new Promise((resolve) => {
            if (closedReason() !== null) return resolve();
            conn.onclose = () => { resolve(); return true; };
            conn.close();
        }),
    };
}

main(async () => {
    const cfg = settings();
    const caller = await open(cfg, cfg.credentials[0]);
    const callee = await open(cfg, cfg.credentials[1]);
    const outcome = await exercise(caller, callee, cfg.prefix);
    await caller.close();
    await callee.close();
    return {library: `autobahn ${autobahn.version}`, sessions: [caller.info, callee.info], ...outcome};
});
