/**
 * A hostile STUN server on 127.34.0.50 (node dgram/net): one UDP and one TCP port per misbehaviour,
 * ephemeral, so parallel test files do not collide.
 *
 *   garbage            answers with bytes that are not STUN
 *   wrong-transaction  a well-formed Binding success for a transaction id we never sent
 *   no-xor-mapped      a success with only the RFC 3489 MAPPED-ADDRESS
 *   bad-fingerprint    a success whose FINGERPRINT is wrong
 *   error-401          a Binding error response 401 Unauthorized (decoded as 401, not 404)
 *   reflect            sends our own request back
 *   slow               a correct answer after `slowMs`
 *   drop-first         ignores the first request of each transaction (UDP: the retransmission is answered)
 *   space-padding      a correct answer whose padding bytes are spaces (legal; RFC 5769 pads that way)
 *   turn-stale-nonce   a tiny TURN server: 401, then 438 Stale Nonce once, then a signed allocation,
 *                      permission, a Data indication echoing the Send indication, and Refresh
 *
 * It answers with the project's own codec, so the bytes are exactly what the tests mean.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  Attr,
  Method,
  decodeMessage,
  encodeMessage,
  errorCodeAttribute,
  getAttribute,
  longTermKey,
  readText,
  readXorAddress,
  streamFrameLength,
  textAttribute,
  uint32Attribute,
  verifyIntegrity,
  xorAddressAttribute,
  type StunMessage,
  type TransportAddress,
} from '../../src/stun/codec.ts';

export const BEHAVIOURS = [
  'garbage',
  'wrong-transaction',
  'no-xor-mapped',
  'bad-fingerprint',
  'error-401',
  'reflect',
  'slow',
  'drop-first',
  'space-padding',
  'turn-stale-nonce',
] as const;
export type Behaviour = (typeof BEHAVIOURS)[number];

export const HOSTILE_TURN = { user: 'mallory', password: 'hostile-password', realm: 'hostile.test' };

export interface HostileStun {
  host: string;
  udp: Record<Behaviour, number>;
  tcp: Record<Behaviour, number>;
  /** What the mini TURN server saw. */
  turn: { allocations: number; staleNoncesSent: number; released: number; dataEchoed: number };
  stop(): Promise<void>;
}

function plainAddress(type: number, a: TransportAddress): { type: number; value: Buffer } {
  const value = Buffer.alloc(8);
  value[1] = 0x01;
  value.writeUInt16BE(a.port, 2);
  Buffer.from(a.address.split('.').map(Number)).copy(value, 4);
  return { type, value };
}

function success(req: StunMessage, from: TransportAddress, opts: { padByte?: number; fingerprint?: boolean } = {}): Buffer {
  return encodeMessage(
    { method: Method.BINDING, cls: 'success', transactionId: req.transactionId, attributes: [textAttribute(Attr.SOFTWARE, 'hostile'), xorAddressAttribute(Attr.XOR_MAPPED_ADDRESS, from, req.transactionId)] },
    { fingerprint: opts.fingerprint ?? true, padByte: opts.padByte },
  );
}

interface TurnState {
  nonce: string;
  staleSent: boolean;
}

export async function startHostileStun(opts: { host?: string; slowMs?: number } = {}): Promise<HostileStun> {
  const host = opts.host ?? '127.34.0.50';
  const slowMs = opts.slowMs ?? 300;
  const turnStats = { allocations: 0, staleNoncesSent: 0, released: 0, dataEchoed: 0 };
  const turnStates = new Map<string, TurnState>();
  const seen = new Set<string>();
  const key = longTermKey(HOSTILE_TURN.user, HOSTILE_TURN.realm, HOSTILE_TURN.password);

  /** The reply (or replies) to one request; undefined: stay silent. */
  function answer(behaviour: Behaviour, bytes: Buffer, from: TransportAddress, localPort: number): Buffer | undefined {
    const decoded = decodeMessage(bytes);
    if (!decoded.ok) return undefined;
    const req = decoded.message;
    const tidKey = `${from.address}:${from.port}|${req.transactionId.toString('hex')}`;
    switch (behaviour) {
      case 'garbage':
        return Buffer.concat([Buffer.from([0xff, 0xfe]), randomBytes(30)]);
      case 'wrong-transaction':
        return success({ ...req, transactionId: randomBytes(12) }, from);
      case 'no-xor-mapped':
        return encodeMessage({ method: Method.BINDING, cls: 'success', transactionId: req.transactionId, attributes: [plainAddress(Attr.MAPPED_ADDRESS, from)] }, { fingerprint: true });
      case 'bad-fingerprint': {
        const good = success(req, from);
        good.writeUInt32BE((good.readUInt32BE(good.length - 4) ^ 0x00ff00ff) >>> 0, good.length - 4);
        return good;
      }
      case 'error-401':
        return encodeMessage({ method: Method.BINDING, cls: 'error', transactionId: req.transactionId, attributes: [errorCodeAttribute(401, 'Unauthorized')] }, { fingerprint: true });
      case 'reflect':
        return bytes;
      case 'slow':
      case 'space-padding':
        return success(req, from, { padByte: behaviour === 'space-padding' ? 0x20 : 0 });
      case 'drop-first':
        if (!seen.has(tidKey)) {
          seen.add(tidKey);
          return undefined;
        }
        return success(req, from);
      case 'turn-stale-nonce':
        return turn(req, from, localPort);
    }
  }

  function turn(req: StunMessage, from: TransportAddress, localPort: number): Buffer | undefined {
    const client = `${from.address}:${from.port}`;
    const state = turnStates.get(client) ?? { nonce: randomBytes(8).toString('hex'), staleSent: false };
    turnStates.set(client, state);
    const relayed: TransportAddress = { family: 4, address: host, port: localPort };
    const reply = (cls: 'success' | 'error', attributes: { type: number; value: Buffer }[], signed: boolean) =>
      encodeMessage({ method: req.method, cls, transactionId: req.transactionId, attributes }, { integrityKey: signed ? key : undefined, fingerprint: true });
    if (req.cls === 'indication' && req.method === Method.SEND) {
      const data = getAttribute(req, Attr.DATA)?.value ?? Buffer.alloc(0);
      turnStats.dataEchoed++;
      const tid = randomBytes(12);
      return encodeMessage({ method: Method.DATA, cls: 'indication', transactionId: tid, attributes: [xorAddressAttribute(Attr.XOR_PEER_ADDRESS, relayed, tid), { type: Attr.DATA, value: Buffer.from(data) }] });
    }
    if (req.cls !== 'request') return undefined;
    if (!getAttribute(req, Attr.MESSAGE_INTEGRITY)) {
      return reply('error', [errorCodeAttribute(401, 'Unauthorized'), textAttribute(Attr.REALM, HOSTILE_TURN.realm), textAttribute(Attr.NONCE, state.nonce)], false);
    }
    if (verifyIntegrity(req, key) !== 'valid' || readText(req, Attr.USERNAME) !== HOSTILE_TURN.user) {
      return reply('error', [errorCodeAttribute(401, 'Unauthorized'), textAttribute(Attr.REALM, HOSTILE_TURN.realm), textAttribute(Attr.NONCE, state.nonce)], false);
    }
    // The first signed request meets a stale nonce, once per client.
    if (!state.staleSent || readText(req, Attr.NONCE) !== state.nonce) {
      state.staleSent = true;
      state.nonce = randomBytes(8).toString('hex');
      turnStats.staleNoncesSent++;
      return reply('error', [errorCodeAttribute(438, 'Stale Nonce'), textAttribute(Attr.REALM, HOSTILE_TURN.realm), textAttribute(Attr.NONCE, state.nonce)], false);
    }
    switch (req.method) {
      case Method.ALLOCATE:
        turnStats.allocations++;
        return reply('success', [xorAddressAttribute(Attr.XOR_RELAYED_ADDRESS, relayed, req.transactionId), xorAddressAttribute(Attr.XOR_MAPPED_ADDRESS, from, req.transactionId), uint32Attribute(Attr.LIFETIME, 600)], true);
      case Method.CREATE_PERMISSION:
        return readXorAddress(req, Attr.XOR_PEER_ADDRESS)?.ok ? reply('success', [], true) : reply('error', [errorCodeAttribute(400, 'Bad Request')], true);
      case Method.REFRESH:
        turnStats.released++;
        return reply('success', [uint32Attribute(Attr.LIFETIME, 0)], true);
      default:
        return reply('error', [errorCodeAttribute(400, 'Bad Request')], true);
    }
  }

  const closers: (() => Promise<void>)[] = [];
  const udp = {} as Record<Behaviour, number>;
  const tcp = {} as Record<Behaviour, number>;

  for (const behaviour of BEHAVIOURS) {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (bytes, rinfo) => {
      const from: TransportAddress = { family: 4, address: rinfo.address, port: rinfo.port };
      const out = answer(behaviour, bytes, from, socket.address().port);
      if (!out) return;
      const send = () => socket.send(out, rinfo.port, rinfo.address);
      if (behaviour === 'slow') setTimeout(send, slowMs);
      else send();
    });
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    udp[behaviour] = socket.address().port;
    closers.push(() => new Promise((resolve) => socket.close(() => resolve())));

    const sockets = new Set<net.Socket>();
    const server = net.createServer((conn) => {
      sockets.add(conn);
      conn.on('close', () => sockets.delete(conn));
      conn.on('error', () => {});
      let buffered: Buffer = Buffer.alloc(0);
      conn.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        for (;;) {
          const frame = streamFrameLength(buffered);
          if (!frame || 'problem' in frame || buffered.length < frame.length) return;
          const bytes = buffered.subarray(0, frame.length);
          buffered = buffered.subarray(frame.length);
          const from: TransportAddress = { family: 4, address: conn.remoteAddress ?? '127.0.0.1', port: conn.remotePort ?? 0 };
          // Over TCP nothing is retransmitted, so "drop-first" would only be a timeout: answer at once.
          const out = answer(behaviour === 'drop-first' ? 'space-padding' : behaviour, bytes, from, (server.address() as net.AddressInfo).port);
          if (!out) continue;
          if (behaviour === 'slow') setTimeout(() => conn.writable && conn.write(out), slowMs);
          else conn.write(out);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    tcp[behaviour] = (server.address() as net.AddressInfo).port;
    closers.push(
      () =>
        new Promise((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    );
  }

  return {
    host,
    udp,
    tcp,
    turn: turnStats,
    async stop() {
      await Promise.all(closers.map((c) => c()));
    },
  };
}
