// Fuzz: the STUN/TURN codec and every reader a probe calls on a reply — decode, the Binding and
// TURN verdicts, addresses, ERROR-CODE, FINGERPRINT, MESSAGE-INTEGRITY, DATA indications, stream
// framing. Whatever the bytes: no exception, and a verdict that is data.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Attr,
  decodeMessage,
  encodeMessage,
  Method,
  looksLikeStun,
  longTermKey,
  readErrorCode,
  readPlainAddress,
  readText,
  readUint32,
  readXorAddress,
  streamFrameLength,
  verifyFingerprint,
  verifyIntegrity,
  xorAddressAttribute,
  errorCodeAttribute,
  textAttribute,
  uint32Attribute,
  type AttributeInput,
  type MessageClass,
  type TransportAddress,
} from '../../src/stun/codec.ts';
import { judgeBindingResponse, judgeTurnResponse, readAllocation, readDataIndication } from '../../src/stun/messages.ts';
import { fuzzParameters, hostile, nastyText, randomBytes, RUNS_LABEL, tally } from './inputs.ts';

const KEY = longTermKey('user', 'realm', 'pass');
const tid = fc.uint8Array({ minLength: 12, maxLength: 12 }).map((a) => Buffer.from(a));
const address = fc.oneof(
  fc.record({ family: fc.constant(4 as const), address: fc.ipV4(), port: fc.nat(0xffff) }),
  fc.record({ family: fc.constant(6 as const), address: fc.constantFrom('::1', '2001:db8::1', 'fe80::1'), port: fc.nat(0xffff) }),
);

/** An attribute to write, before the transaction id (the XOR addresses need it) is known. */
type AttributeSpec = { xor: number; address: TransportAddress } | { code: number; reason: string } | { text: number; value: string } | { u32: number; value: number } | AttributeInput;

const attributeSpec: fc.Arbitrary<AttributeSpec> = fc.oneof(
  fc.record({ xor: fc.constantFrom(Attr.XOR_MAPPED_ADDRESS, Attr.XOR_RELAYED_ADDRESS, Attr.XOR_PEER_ADDRESS), address }),
  fc.record({ code: fc.integer({ min: 300, max: 699 }), reason: nastyText(60) }),
  fc.record({ text: fc.constantFrom(Attr.REALM, Attr.NONCE, Attr.SOFTWARE, Attr.USERNAME), value: nastyText(80) }),
  fc.record({ u32: fc.constantFrom(Attr.LIFETIME, Attr.PRIORITY, Attr.REQUESTED_TRANSPORT), value: fc.nat(0xffffffff) }),
  fc.record({ type: fc.oneof(fc.constantFrom(...Object.values(Attr)), fc.nat(0xffff)), value: randomBytes(40) }),
);

function attribute(spec: AttributeSpec, transactionId: Buffer): AttributeInput {
  if ('xor' in spec) return xorAddressAttribute(spec.xor, spec.address, transactionId);
  if ('code' in spec) return errorCodeAttribute(spec.code, spec.reason);
  if ('text' in spec) return textAttribute(spec.text, spec.value);
  if ('u32' in spec) return uint32Attribute(spec.u32, spec.value);
  return spec;
}

const wellFormed = fc
  .record({
    method: fc.constantFrom(Method.BINDING, Method.ALLOCATE, Method.REFRESH, Method.CREATE_PERMISSION, Method.SEND, Method.DATA, 0x123),
    cls: fc.constantFrom<MessageClass>('request', 'indication', 'success', 'error'),
    transactionId: tid,
    attributes: fc.array(attributeSpec, { maxLength: 6 }),
    signed: fc.boolean(),
    fingerprint: fc.boolean(),
  })
  .map((m) =>
    encodeMessage(
      { method: m.method, cls: m.cls, transactionId: m.transactionId, attributes: m.attributes.map((a) => attribute(a, m.transactionId)) },
      { integrityKey: m.signed ? KEY : undefined, fingerprint: m.fingerprint },
    ),
  );

describe('fuzz: STUN/TURN replies', () => {
  it(`decode and every reader a probe uses: ${RUNS_LABEL}, no exception`, () => {
    const seen = tally('STUN');
    fc.assert(
      fc.property(hostile(wellFormed), (buf) => {
        looksLikeStun(buf);
        const frame = streamFrameLength(buf);
        if (frame && 'length' in frame) expect(Number.isInteger(frame.length)).toBe(true);
        const decoded = decodeMessage(buf);
        if (!decoded.ok) {
          expect(typeof decoded.problem).toBe('string');
          seen.count('undecodable');
          return;
        }
        const m = decoded.message;
        const binding = judgeBindingResponse(m);
        seen.count(binding.ok ? 'Binding successes' : `decoded (${binding.kind})`);
        if (binding.ok) expect(typeof binding.mapped.address).toBe('string');
        for (const method of [Method.ALLOCATE, Method.REFRESH, Method.CREATE_PERMISSION]) {
          judgeTurnResponse(m, method);
          judgeTurnResponse(m, method, KEY);
        }
        readAllocation(m);
        readDataIndication(m);
        readErrorCode(m);
        verifyFingerprint(m);
        verifyIntegrity(m, KEY);
        for (const type of [Attr.XOR_MAPPED_ADDRESS, Attr.XOR_RELAYED_ADDRESS, Attr.XOR_PEER_ADDRESS]) readXorAddress(m, type);
        for (const type of [Attr.MAPPED_ADDRESS, Attr.ALTERNATE_SERVER, Attr.RESPONSE_ORIGIN, Attr.OTHER_ADDRESS]) readPlainAddress(m, type);
        for (const type of [Attr.REALM, Attr.NONCE, Attr.SOFTWARE]) readText(m, type);
        readUint32(m, Attr.LIFETIME);
      }),
      fuzzParameters(),
    );
    seen.print();
  });
});
