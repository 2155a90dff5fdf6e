// A hostile DNS server on loopback for tests: it misbehaves according to the first label of the
// question, so one server covers every case. Replies over UDP and TCP.
import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { Packet } from 'dns-packet';

export interface HostileDns {
  address: string; // host:port
  host: string;
  port: number;
  /** How many queries arrived (UDP and TCP). */
  queries: { udp: number; tcp: number };
  stop(): Promise<void>;
}

/**
 * Behaviours by first label: `ok` answers 192.0.2.1; `wrongid` replies with another id;
 * `wrongport` replies from another port; `spoofed` sends a spoof from another port, then the
 * real answer; `wrongquestion` echoes another name; `cut` sends a reply cut short; `random`
 * sends random bytes; `tiny` sends 1 byte; `big` sets TC over UDP and answers fully over TCP;
 * `tcpgarbage` sets TC and sends garbage over TCP; `servfail`, `nxdomain`; `silent` never answers;
 * `controlname` answers with a CNAME whose target carries terminal escapes (ESC ] … BEL, ESC [2J).
 * `version` (version.bind CH TXT) answers: the liveness question of the client's circuit breaker.
 * Broken rdata, with the AA flag as an authoritative server would send it: `rdlen0` is an A
 * record with RDLENGTH 0, `rdlen16` an A record with 16 bytes of rdata, `aaaa2` a 2-byte AAAA.
 */
export async function startHostileDns(host = '127.66.0.1', port = 5353): Promise<HostileDns> {
  const udp = dgram.createSocket('udp4');
  const other = dgram.createSocket('udp4');
  const queries = { udp: 0, tcp: 0 };

  const answer = (query: Packet, extra: Partial<Packet> = {}): Buffer =>
    dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.RECURSION_DESIRED,
      questions: query.questions,
      answers: [{ type: 'A', name: query.questions![0].name, ttl: 300, class: 'IN', data: '192.0.2.1' }],
      ...extra,
    });

  /** The answer of `answer(query)` with its one record's rdata replaced (RDLENGTH to match). */
  const brokenRdata = (query: Packet, type: 'A' | 'AAAA', rdata: Buffer): Buffer => {
    const name = query.questions![0].name;
    const good = dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      questions: query.questions,
      answers: [type === 'A' ? { type, name, ttl: 300, class: 'IN', data: '192.0.2.1' } : { type, name, ttl: 300, class: 'IN', data: '2001:db8::1' }],
    });
    // dns-packet does not compress: header, question, then the owner name, type, class, TTL, RDLENGTH.
    const nameLength = Buffer.byteLength(name) + 2;
    const rdlengthAt = 12 + nameLength + 4 + nameLength + 8;
    const head = Buffer.from(good.subarray(0, rdlengthAt + 2));
    head.writeUInt16BE(rdata.length, rdlengthAt);
    return Buffer.concat([head, rdata]);
  };

  udp.on('message', (msg, rinfo) => {
    queries.udp++;
    let query: Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const label = query.questions?.[0]?.name.split('.')[0] ?? '';
    const send = (buf: Buffer, from = udp) => from.send(buf, rinfo.port, rinfo.address);
    switch (label) {
      case 'ok':
        return send(answer(query));
      case 'wrongid':
        return send(answer({ ...query, id: (query.id! + 1) & 0xffff }));
      case 'wrongport':
        return send(answer(query), other);
      case 'spoofed':
        send(answer(query, { answers: [{ type: 'A', name: query.questions![0].name, ttl: 86400, class: 'IN', data: '203.0.113.66' }] }), other);
        return setTimeout(() => send(answer(query)), 50);
      case 'wrongquestion':
        return send(answer(query, { questions: [{ type: 'A', name: 'elsewhere.example', class: 'IN' }] }));
      case 'cut':
        return send(answer(query).subarray(0, 20));
      case 'random': {
        const junk = randomBytes(48);
        return send(junk);
      }
      case 'tiny':
        return send(Buffer.from([7]));
      case 'big':
      case 'tcpgarbage':
        return send(answer(query, { flags: dnsPacket.TRUNCATED_RESPONSE | dnsPacket.RECURSION_AVAILABLE, answers: [] }));
      case 'servfail':
        return send(answer(query, { flags: dnsPacket.RECURSION_AVAILABLE | 2, answers: [] } as Partial<Packet>));
      case 'controlname':
        return send(answer(query, { answers: [{ type: 'CNAME', name: query.questions![0].name, ttl: 300, class: 'IN', data: `evil\x1b]0;owned\x07\x1b[2J.example` }] }));
      case 'nxdomain':
        return send(answer(query, { flags: dnsPacket.RECURSION_AVAILABLE | 3, answers: [] } as Partial<Packet>));
      case 'version':
        // version.bind CH TXT: the server itself is up, whatever it does with other names.
        return send(answer(query, { flags: dnsPacket.AUTHORITATIVE_ANSWER, answers: [{ type: 'TXT', name: 'version.bind', ttl: 0, class: 'CH', data: 'hostile' }] } as Partial<Packet>));
      case 'rdlen0':
        return send(brokenRdata(query, 'A', Buffer.alloc(0)));
      case 'rdlen16':
        return send(brokenRdata(query, 'A', Buffer.alloc(16, 7)));
      case 'aaaa2':
        return send(brokenRdata(query, 'AAAA', Buffer.from([0x20, 0x01])));
      default:
        return; // silent
    }
  });

  const tcp = net.createServer((conn) => {
    let buf = Buffer.alloc(0);
    conn.on('error', () => {});
    conn.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < buf.readUInt16BE(0) + 2) return;
      queries.tcp++;
      const query = dnsPacket.decode(buf.subarray(2, buf.readUInt16BE(0) + 2));
      const label = query.questions?.[0]?.name.split('.')[0] ?? '';
      let reply: Buffer;
      if (label === 'tcpgarbage') reply = randomBytes(40);
      else {
        const many = Array.from({ length: 60 }, (_, i) => ({ type: 'A' as const, name: query.questions![0].name, ttl: 300, class: 'IN' as const, data: `192.0.2.${i + 1}` }));
        reply = answer(query, { answers: many });
      }
      const framed = Buffer.alloc(reply.length + 2);
      framed.writeUInt16BE(label === 'tcpgarbage' ? reply.length : reply.length, 0);
      reply.copy(framed, 2);
      conn.end(framed);
    });
  });

  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, host, () => resolve());
  });
  await new Promise<void>((resolve) => other.bind(0, host, () => resolve()));
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, host, () => resolve());
  });

  return {
    address: `${host}:${port}`,
    host,
    port,
    queries,
    async stop() {
      udp.close();
      other.close();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}
