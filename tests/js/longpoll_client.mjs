// Autobahn|JS (npm `autobahn` 22) over WAMP-over-Longpoll: transports: [{type: 'longpoll', url}].
//
// autobahn's long-poll transport speaks through the browser's XMLHttpRequest; Node.js has
// none, so this script gives it a small one over node:http (what a browser does: one POST
// per request, the body and status handed back). Everything WAMP is autobahn's own code.
//
// WAMP_MODE=exchange: join, register `<prefix>.lp.add`, subscribe `<prefix>.to_lp`, print
//   {"ready": session}; on the event, call `<prefix>.py.mul(6, 7)` and publish
//   [product, event args...] to `<prefix>.to_py` (acknowledged), print the summary, leave.
// WAMP_MODE=stall: join, register `<prefix>.stall`, add a testament on `<prefix>.testament`,
//   print {"ready": session}, then exit without closing: the client stops polling.
import http from 'node:http';

import autobahn from 'autobahn';

class NodeXMLHttpRequest {
    constructor() {
        this.readyState = 0;
        this.status = 0;
        this.statusText = '';
        this.responseText = '';
        this.timeout = 0;
        this.onreadystatechange = null;
        this.ontimeout = null;
        this._headers = {};
    }

    open(method, url) {
        this._method = method;
        this._url = url;
        this.readyState = 1;
    }

    setRequestHeader(name, value) {
        this._headers[name] = value;
    }

    send(body) {
        const data = body === undefined || body === null ? '' : body;
        const req = http.request(this._url, {
            method: this._method,
            headers: {...this._headers, 'Content-Length': Buffer.byteLength(data)},
            agent: false,
        }, (res) => {
            const chunks = [];
            res.on('data', (chunk) => chunks.push(chunk));
            res.on('end', () => {
                this.status = res.statusCode;
                this.statusText = res.statusMessage;
                this.responseText = Buffer.concat(chunks).toString('utf8');
                this._done();
            });
        });
        if (this.timeout > 0) {
            req.setTimeout(this.timeout, () => {
                req.destroy();
                if (this.ontimeout) this.ontimeout();
            });
        }
        req.on('error', () => {
            if (this.readyState !== 4) {
                this.status = 0;
                this._done();
            }
        });
        req.end(data);
    }

    _done() {
        this.readyState = 4;
        if (this.onreadystatechange) this.onreadystatechange();
    }
}

globalThis.XMLHttpRequest = NodeXMLHttpRequest;

const url = process.env.WAMP_URL;
const prefix = process.env.WAMP_PREFIX;
const mode = process.env.WAMP_MODE || 'exchange';

function fail(message) {
    process.stderr.write(`${message}\n`);
    process.exit(1);
}

setTimeout(() => fail('timed out'), 30000).unref();

const connection = new autobahn.Connection({
    realm: 'realm1',
    transports: [{type: 'longpoll', url}],
    max_retries: 0,
    retry_if_unreachable: false,
});

connection.onclose = (reason, details) => {
    if (reason !== 'closed') fail(`connection closed: ${reason} ${JSON.stringify(details)}`);
    return true;
};

connection.onopen = async (session, details) => {
    try {
        if (session._socket.info.type !== 'longpoll') fail(`transport is ${session._socket.info.type}`);
        if (mode === 'stall') {
            await session.register(`${prefix}.stall`, () => 'still here');
            await session.call('wamp.session.add_testament', [`${prefix}.testament`, ['gone'], {}]);
            process.stdout.write(JSON.stringify({ready: session.id}) + '\n');
            process.exit(0);  // no close, no more polls
        }
        await session.register(`${prefix}.lp.add`, (args) => args[0] + args[1]);
        await session.subscribe(`${prefix}.to_lp`, async (args) => {
            try {
                const product = await session.call(`${prefix}.py.mul`, [6, 7]);
                await session.publish(`${prefix}.to_py`, [product, ...args], {}, {acknowledge: true});
                process.stdout.write(JSON.stringify({
                    session: session.id, authrole: details.authrole, product, event: args,
                }) + '\n');
                connection.close();
            } catch (e) {
                fail(`after the event: ${JSON.stringify(e)}`);
            }
        });
        process.stdout.write(JSON.stringify({ready: session.id}) + '\n');
    } catch (e) {
        fail(`session failed: ${JSON.stringify(e)}`);
    }
};

connection.open();
