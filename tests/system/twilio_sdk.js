// Twilio's official Node SDK as a client of smsgate's Twilio front (tests/system/test_twilio_sdks.py runs this).
//
//   node tests/system/twilio_sdk.js run        create through each channel, fetch until delivered, list with
//                                              paging, a wrong token; status callbacks received on a local
//                                              server and checked with twilio.validateRequest
//   node tests/system/twilio_sdk.js validate   read [{url, signature, params}] on stdin, print whether each
//                                              request validates (twilio.validateRequest)
//
// Environment: TWILIO_FRONT_URL (smsgate's base URL), TWILIO_FRONT_SID, TWILIO_FRONT_TOKEN, TWILIO_FRONT_TO, and
// TWILIO_FRONT_FROM as JSON {"channel label": "From"}. NODE_PATH points at tools/twilio-node/node_modules.
// Prints one JSON object on stdout; the Python test asserts on it.
"use strict";

const http = require("http");
const twilio = require("twilio");

const env = process.env;
const TOKEN = env.TWILIO_FRONT_TOKEN;

function client(token) {
  const c = twilio(env.TWILIO_FRONT_SID, token || TOKEN);
  c.api.baseUrl = env.TWILIO_FRONT_URL; // neither TWILIO_EDGE nor TWILIO_REGION is set: they rewrite the host
  return c;
}

async function until(what, probe, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function readStdin() {
  return new Promise((resolve) => {
    let data = "";
    process.stdin.on("data", (chunk) => { data += chunk; });
    process.stdin.on("end", () => resolve(data));
  });
}

function paramsOf(body) {
  const params = {};
  for (const [key, value] of new URLSearchParams(body)) params[key] = value;
  return params;
}

async function validate() {
  const requests = JSON.parse(await readStdin());
  const verdicts = requests.map((r) => ({
    valid: twilio.validateRequest(TOKEN, r.signature, r.url, r.params),
    forged: twilio.validateRequest("someone-elses-auth-token", r.signature, r.url, r.params),
  }));
  process.stdout.write(JSON.stringify(verdicts));
}

async function run() {
  const received = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => { body += chunk; });
    req.on("end", () => {
      received.push({ url: `http://${req.headers.host}${req.url}`, signature: req.headers["x-twilio-signature"],
                      params: paramsOf(body) });
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = server.address().port;
  const c = client();
  const out = { channels: {}, errors: [] };
  try {
    for (const [label, from] of Object.entries(JSON.parse(env.TWILIO_FRONT_FROM))) {
      const created = await c.messages.create({ to: env.TWILIO_FRONT_TO, from, body: `node sdk via ${label}`,
                                                statusCallback: `http://127.0.0.1:${port}/status/${label}` });
      const done = await until(`${label} delivered`, async () => {
        const fetched = await c.messages(created.sid).fetch();
        return fetched.status === "delivered" ? fetched : null;
      });
      out.channels[label] = { sid: created.sid, createdStatus: created.status, status: done.status,
                              dateSent: done.dateSent instanceof Date, dateCreated: done.dateCreated instanceof Date,
                              numSegments: done.numSegments, direction: done.direction, body: done.body };
    }
    const listed = await c.messages.list({ limit: 5, pageSize: 2 });
    out.list = listed.map((m) => m.sid);
    const first = await c.messages.page({ pageSize: 2 });
    const second = await first.nextPage();
    out.pages = [first.instances.map((m) => m.sid), second ? second.instances.map((m) => m.sid) : null];
    out.toFilter = (await c.messages.list({ to: env.TWILIO_FRONT_TO, limit: 1000 })).length;
    try {
      await client("a-wrong-auth-token-0000").messages.create({ to: env.TWILIO_FRONT_TO, from: "+15005550006",
                                                                 body: "never sent" });
      out.wrongToken = null;
    } catch (error) {
      out.wrongToken = { status: error.status, code: error.code, name: error.constructor.name };
    }
    const labels = Object.keys(out.channels);
    await until("delivered callbacks", () => labels.every((label) => received.some(
      (r) => r.url.endsWith(`/status/${label}`) && r.params.MessageStatus === "delivered")));
    out.callbacks = received.map((r) => ({
      path: new URL(r.url).pathname, status: r.params.MessageStatus, sid: r.params.MessageSid,
      valid: twilio.validateRequest(TOKEN, r.signature, r.url, r.params),
      forged: twilio.validateRequest("someone-elses-auth-token", r.signature, r.url, r.params),
    }));
  } catch (error) {
    out.errors.push(String(error && error.stack ? error.stack : error));
  } finally {
    server.close();
  }
  process.stdout.write(JSON.stringify(out));
}

(process.argv[2] === "validate" ? validate() : run()).catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
