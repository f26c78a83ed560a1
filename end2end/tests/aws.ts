import { expect } from "@playwright/test";

/** Calls AWS WAF (the emulator) directly, as someone working outside Gatehouse would. */
export async function waf(action: string, body: object) {
  return call("wafv2", `AWSWAF_20190729.${action}`, "application/x-amz-json-1.1", body);
}

/** Calls DynamoDB (the emulator) directly. */
export async function dynamodb(action: string, body: object) {
  return call("dynamodb", `DynamoDB_20120810.${action}`, "application/x-amz-json-1.0", body);
}

/** Posts to the emulator's own API (`/moto-api/…`): queued results, state transitions. */
export async function motoApi(path: string, body: object) {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  expect(endpoint, "scripts/test.sh points AWS_ENDPOINT_URL at the emulator").toBeTruthy();
  const reply = await fetch(`${endpoint}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(reply.ok, `${path}: ${reply.status} ${await reply.clone().text()}`).toBeTruthy();
}

async function call(service: string, target: string, contentType: string, body: object) {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  expect(endpoint, "scripts/test.sh points AWS_ENDPOINT_URL at the emulator").toBeTruthy();
  const region = process.env.AWS_REGION ?? "us-east-1";
  const reply = await fetch(endpoint!, {
    method: "POST",
    headers: {
      "X-Amz-Target": target,
      "Content-Type": contentType,
      Authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(body),
  });
  expect(reply.ok, `${target}: ${reply.status}`).toBeTruthy();
  return reply.json();
}

