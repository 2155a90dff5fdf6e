// Building the requests we send and judging the responses we get: pure, shared by the socket code
// (src/net/stun.ts) and the hostile test server, so both speak exactly the same bytes.
import {
  Attr,
  Method,
  TRANSPORT_UDP,
  describeType,
  encodeMessage,
  readErrorCode,
  readPlainAddress,
  readText,
  readUint32,
  readXorAddress,
  requestedTransport,
  textAttribute,
  uint32Attribute,
  verifyFingerprint,
  verifyIntegrity,
  xorAddressAttribute,
  type AttributeInput,
  type StunMessage,
  type TransportAddress,
} from './codec.ts';

export const SOFTWARE = 'dialer-audit';

export function bindingRequest(transactionId: Buffer): Buffer {
  return encodeMessage(
    { method: Method.BINDING, cls: 'request', transactionId, attributes: [textAttribute(Attr.SOFTWARE, SOFTWARE)] },
    { fingerprint: true },
  );
}

export type BindingVerdict =
  | { ok: true; mapped: TransportAddress; fingerprint: 'valid' | 'absent'; software?: string }
  | { ok: false; kind: 'error-response'; code?: number; reason: string; detail: string }
  | { ok: false; kind: 'bad-response'; problem: string };

/**
 * What a Binding response (already matched to our transaction id) says. A success must carry a
 * well-formed XOR-MAPPED-ADDRESS; a FINGERPRINT, when present, must be right.
 */
export function judgeBindingResponse(m: StunMessage): BindingVerdict {
  const fingerprint = verifyFingerprint(m);
  if (fingerprint === 'invalid') return { ok: false, kind: 'bad-response', problem: 'the FINGERPRINT does not match the message (corrupted in transit or a broken server)' };
  if (m.method !== Method.BINDING || (m.cls !== 'success' && m.cls !== 'error')) {
    return { ok: false, kind: 'bad-response', problem: `a ${describeType(m.method, m.cls)} came back for our Binding request` };
  }
  if (m.cls === 'error') {
    const err = readErrorCode(m);
    if (!err) return { ok: false, kind: 'bad-response', problem: 'an error response without an ERROR-CODE attribute' };
    if ('problem' in err) return { ok: false, kind: 'bad-response', problem: err.problem };
    return { ok: false, kind: 'error-response', code: err.code, reason: err.reason, detail: `${err.code} ${err.reason}`.trim() };
  }
  const xor = readXorAddress(m, Attr.XOR_MAPPED_ADDRESS);
  if (!xor) {
    const plain = readPlainAddress(m, Attr.MAPPED_ADDRESS);
    return {
      ok: false,
      kind: 'bad-response',
      problem: plain?.ok
        ? `no XOR-MAPPED-ADDRESS, only the RFC 3489 MAPPED-ADDRESS (${plain.address.address}:${plain.address.port}), which NATs rewrite`
        : 'no XOR-MAPPED-ADDRESS in the success response',
    };
  }
  if (!xor.ok) return { ok: false, kind: 'bad-response', problem: `malformed XOR-MAPPED-ADDRESS: ${xor.problem}` };
  return { ok: true, mapped: xor.address, fingerprint, software: readText(m, Attr.SOFTWARE)?.slice(0, 128) };
}

export interface LongTermAuth {
  username: string;
  realm: string;
  nonce: string;
  key: Buffer;
}

function withAuth(attributes: AttributeInput[], auth: LongTermAuth | undefined): AttributeInput[] {
  if (!auth) return attributes;
  return [...attributes, textAttribute(Attr.USERNAME, auth.username), textAttribute(Attr.REALM, auth.realm), textAttribute(Attr.NONCE, auth.nonce)];
}

function signed(method: number, transactionId: Buffer, attributes: AttributeInput[], auth: LongTermAuth | undefined): Buffer {
  return encodeMessage({ method, cls: 'request', transactionId, attributes: withAuth(attributes, auth) }, { integrityKey: auth?.key, fingerprint: true });
}

/** No LIFETIME: below the default 600 s the server uses the default anyway (RFC 8656 §7.2); we release at once. */
export function allocateRequest(transactionId: Buffer, auth?: LongTermAuth): Buffer {
  return signed(Method.ALLOCATE, transactionId, [requestedTransport(TRANSPORT_UDP), textAttribute(Attr.SOFTWARE, SOFTWARE)], auth);
}

export function createPermissionRequest(transactionId: Buffer, peer: TransportAddress, auth?: LongTermAuth): Buffer {
  return signed(Method.CREATE_PERMISSION, transactionId, [xorAddressAttribute(Attr.XOR_PEER_ADDRESS, peer, transactionId)], auth);
}

export function refreshRequest(transactionId: Buffer, lifetimeSeconds: number, auth?: LongTermAuth): Buffer {
  return signed(Method.REFRESH, transactionId, [uint32Attribute(Attr.LIFETIME, lifetimeSeconds)], auth);
}

/** Send indications carry no integrity (RFC 8656 §11.2): the 5-tuple is the authentication. */
export function sendIndication(transactionId: Buffer, peer: TransportAddress, data: Buffer): Buffer {
  return encodeMessage(
    { method: Method.SEND, cls: 'indication', transactionId, attributes: [xorAddressAttribute(Attr.XOR_PEER_ADDRESS, peer, transactionId), { type: Attr.DATA, value: data }] },
    { fingerprint: true },
  );
}

/** A Data indication's payload and the peer it came from, if it is one. */
export function readDataIndication(m: StunMessage): { peer?: TransportAddress; data: Buffer } | undefined {
  if (m.method !== Method.DATA || m.cls !== 'indication') return undefined;
  const data = m.attributes.find((a) => a.type === Attr.DATA)?.value;
  if (!data) return undefined;
  const peer = readXorAddress(m, Attr.XOR_PEER_ADDRESS);
  return { peer: peer?.ok ? peer.address : undefined, data: Buffer.from(data) };
}

export type TurnVerdict =
  | { kind: 'success' }
  | { kind: 'challenge'; realm: string; nonce: string; code: number }
  | { kind: 'stale-nonce'; nonce: string; realm?: string }
  | { kind: 'error'; code: number; reason: string }
  | { kind: 'bad'; problem: string };

/** Classify a TURN response: 401 with REALM/NONCE is a challenge, 438 a stale nonce (RFC 8656 §7, RFC 8489 §9.2.5). */
export function judgeTurnResponse(m: StunMessage, method: number, key?: Buffer): TurnVerdict {
  if (verifyFingerprint(m) === 'invalid') return { kind: 'bad', problem: 'the FINGERPRINT does not match the message' };
  if (m.method !== method || (m.cls !== 'success' && m.cls !== 'error')) {
    return { kind: 'bad', problem: `a ${describeType(m.method, m.cls)} came back for our ${describeType(method, 'request')}` };
  }
  if (m.cls === 'success') {
    // With long-term credentials the server signs its answers; an unsigned or mis-signed success is not
    // proof the server knows our password.
    if (key && verifyIntegrity(m, key) === 'invalid') return { kind: 'bad', problem: 'the MESSAGE-INTEGRITY of the success response does not verify with our key' };
    return { kind: 'success' };
  }
  const err = readErrorCode(m);
  if (!err) return { kind: 'bad', problem: 'an error response without an ERROR-CODE attribute' };
  if ('problem' in err) return { kind: 'bad', problem: err.problem };
  const realm = readText(m, Attr.REALM);
  const nonce = readText(m, Attr.NONCE);
  if (err.code === 438 && nonce) return { kind: 'stale-nonce', nonce, realm };
  if (err.code === 401 && realm !== undefined && nonce !== undefined && !key) return { kind: 'challenge', realm, nonce, code: err.code };
  return { kind: 'error', code: err.code, reason: err.reason };
}

export function readAllocation(m: StunMessage): { ok: true; relayed: TransportAddress; mapped?: TransportAddress; lifetime: number } | { ok: false; problem: string } {
  const relayed = readXorAddress(m, Attr.XOR_RELAYED_ADDRESS);
  if (!relayed) return { ok: false, problem: 'the Allocate success response has no XOR-RELAYED-ADDRESS' };
  if (!relayed.ok) return { ok: false, problem: `malformed XOR-RELAYED-ADDRESS: ${relayed.problem}` };
  const lifetime = readUint32(m, Attr.LIFETIME);
  if (lifetime === undefined) return { ok: false, problem: 'the Allocate success response has no LIFETIME' };
  if (lifetime === 0) return { ok: false, problem: 'the Allocate success response grants a LIFETIME of 0 s' };
  const mapped = readXorAddress(m, Attr.XOR_MAPPED_ADDRESS);
  return { ok: true, relayed: relayed.address, mapped: mapped?.ok ? mapped.address : undefined, lifetime };
}
