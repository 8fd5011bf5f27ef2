// A backend for a guest worker (examples/configs/guest.json): node hello_backend.js URL
// Registers com.example.add2, publishes com.example.oncounter every second and calls
// com.example.mul2 (a client's). On SIGTERM (wampnode stop) it leaves with GOODBYE.
// Needs the npm package autobahn: `npm install` in examples/hosting/nodejs.
const autobahn = require('autobahn');

const connection = new autobahn.Connection({url: process.argv[2] || 'ws://127.0.0.1:8080/', realm: 'realm1'});
let timer = null;

connection.onopen = function (session) {
  session.register('com.example.add2', (args) => args[0] + args[1]).then(
    () => console.log('backend ready: com.example.add2 registered'));
  let counter = 0;
  timer = setInterval(() => {
    session.publish('com.example.oncounter', [counter]);
    counter += 1;
    session.call('com.example.mul2', [counter, 3]).then(
      (result) => console.log(`mul2(${counter}, 3) = ${result}`), () => {});
  }, 1000);
};

connection.onclose = function (reason) {
  if (timer) { clearInterval(timer); timer = null; }
};

process.on('SIGTERM', () => {
  if (connection.isOpen) { connection.close(); }
  setTimeout(() => process.exit(0), 200);
});

connection.open();
