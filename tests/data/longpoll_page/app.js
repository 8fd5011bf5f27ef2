// One session over WAMP-over-Longpoll: it registers and calls a procedure, subscribes and
// gets its own event; results go into the DOM for the test to read.
function show(id, text, key, value) {
    const element = document.getElementById(id);
    element.textContent = text;
    if (key) element.dataset[key] = value;
}

const connection = new autobahn.Connection({
    realm: 'realm1',
    transports: [{type: 'longpoll', url: `${location.origin}/lp`}],
    max_retries: 0,
});

connection.onopen = async (session) => {
    try {
        show('transport', session._socket.info.type, 'type', session._socket.info.type);
        await session.register('com.lp.browser.add', (args) => args[0] + args[1]);
        await session.subscribe('com.lp.browser.hello', (args) => show('event', args[0], 'text', args[0]));
        await session.publish('com.lp.browser.hello', ['hello over long-poll'], {},
                              {acknowledge: true, exclude_me: false});
        const sum = await session.call('com.lp.browser.add', [2, 3]);
        show('call', String(sum), 'result', String(sum));
    } catch (e) {
        show('error', JSON.stringify(e), 'error', '1');
    }
};

connection.onclose = (reason, details) => {
    show('error', `closed: ${reason} ${JSON.stringify(details)}`, 'error', '1');
};

connection.open();
