// A Node.js guest for the hosting tests (our own code, in the shape of Crossbar.io's
// hello example): node hostedapp.js URL REALM PREFIX
// Registers PREFIX.add2 and PREFIX.whoami, publishes PREFIX.oncounter every 0.2 s and
// calls PREFIX.mul2 (the client's), publishing each result on PREFIX.onmul2.
// On SIGTERM it leaves (GOODBYE) and exits 0. autobahn comes from NODE_PATH.
const autobahn = require('autobahn');

const [url, realm, prefix] = [process.argv[2], process.argv[3] || 'realm1', process.argv[4] || 'js'];
const connection = new autobahn.Connection({url: url, realm: realm, max_retries: -1,
                                            initial_retry_delay: 0.5, max_retry_delay: 5});
let timer = null;

connection.onopen = function (session) {
  console.log('joined session ' + session.id);
  session.register(prefix + '.add2', (args) => args[0] + args[1]);
  session.register(prefix + '.whoami', () => ({pid: process.pid, session: session.id}));
  let counter = 0;
  timer = setInterval(() => {
    session.publish(prefix + '.oncounter', [counter]);
    counter += 1;
    session.call(prefix + '.mul2', [counter, 3]).then(
      (result) => session.publish(prefix + '.onmul2', [result]), () => {});
  }, 200);
};

connection.onclose = function (reason, details) {
  console.error('connection closed: ' + reason);
  if (timer) { clearInterval(timer); timer = null; }
};

process.on('SIGTERM', () => {
  console.log('SIGTERM: leaving');
  if (timer) { clearInterval(timer); timer = null; }
  if (connection.isOpen) {
    connection.close('wamp.close.normal', 'guest stopping');
  }
  setTimeout(() => process.exit(0), 300);
});

connection.open();
