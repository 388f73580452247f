// A REST client of the Emhana portal in JavaScript (docs/signing.md), signing with `jose`: log in, prepare
// a home call, sign the exact bytes as a compact JWS (ES256, the full chain in x5c), submit; then the same
// in one step with a document the client writes itself.
//
//   node examples/rest/sign_and_submit.mjs <portal> <iin> <password> <key.pem> <chain.pem> <clinic БИН>
import { readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { CompactSign, importPKCS8 } from "jose";

const [portal, iin, password, keyFile, chainFile, clinic] = process.argv.slice(2);
const key = await importPKCS8(readFileSync(keyFile, "utf8"), "ES256");
const x5c = readFileSync(chainFile, "utf8")
  .split("-----END CERTIFICATE-----")
  .filter((block) => block.includes("-----BEGIN CERTIFICATE-----"))
  .map((block) => block.split("-----BEGIN CERTIFICATE-----")[1].replace(/\s+/g, ""));

const sign = (bytes) => new CompactSign(bytes).setProtectedHeader({ alg: "ES256", x5c }).sign(key);

async function call(method, path, body, token) {
  const response = await fetch(portal + path, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function outcome(id, token) {
  for (let i = 0; i < 300; i++) {
    const request = await call("GET", `/api/v1/requests/${id}`, undefined, token);
    if (["completed", "refused", "failed"].includes(request.status)) return request.status;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`request ${id} has no outcome yet`);
}

// RFC 8785 for the documents' values (strings and objects): keys sorted, no spaces.
const canonical = (value) =>
  value !== null && typeof value === "object"
    ? `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`
    : JSON.stringify(value);

const { access_token: token } = await call("POST", "/api/v1/auth/login", { iin, password });
const fields = { address: "г. Астана, проспект Абая, 12", phone: "+77015550102", complaints: "головная боль" };

const prepared = await call("POST", "/api/v1/requests/prepare", { service: "home_call", fields }, token);
const jws = await sign(new TextEncoder().encode(prepared.document)); // the exact bytes, unchanged
const twoSteps = await call("POST", `/api/v1/requests/${prepared.draft_id}/sign`, { jws }, token);
console.log("two steps:", await outcome(twoSteps.id, token));

const document = {
  service: "home_call",
  iin,
  provider: clinic,
  fields: { ...fields, complaints: "головная боль, слабость" },
  // The time of signing; against a test mesh, whose clocks run at another time, the portal's time stands in.
  time: JSON.parse(prepared.document).time,
  nonce: randomUUID().replaceAll("-", ""),
};
const oneStep = await call("POST", "/api/v1/requests", { jws: await sign(new TextEncoder().encode(canonical(document))) }, token);
console.log("one step:", await outcome(oneStep.id, token));
