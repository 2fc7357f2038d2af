// Sends notifications through channel formatters.
'use strict';

const CHANNELS = {
  email: (msg) => `To: ${msg.to.address}\n\n${msg.text}`,
  sms: (msg) => `${msg.to.phone}: ${msg.text.slice(0, 140)}`,
};

function render(channel, msg) {
  return CHANNELS[channel](msg);
}

function buildMessage(user, text) {
  return { to: user.contact, text };
}

function notify(user, channel, text) {
  console.log(`INFO notify user=${user.id} channel=${channel}`);
  return render(channel, buildMessage(user, text));
}

const users = { 7: { id: 7, contacts: { address: 'a@example.org', phone: '555' } } };
console.log(notify(users[process.argv[2]], process.argv[3], process.argv.slice(4).join(' ')));
