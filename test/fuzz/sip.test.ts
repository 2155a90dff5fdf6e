// Fuzz: the SIP message parser and what a probe does with a parsed reply — the summary (status,
// reason, Server, Allow, Via received/rport, Retry-After), transaction matching, and stream framing
// by Content-Length. Whatever arrives: no exception; a parse is a message or a reason in words.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameStream, headerList, matchesTransaction, parseSipMessage, printable, summarizeResponse, topVia, type Transaction } from '../../src/sip/message.ts';
import { fuzzParameters, hostile, nastyText, RUNS_LABEL, tally } from './inputs.ts';

const TRANSACTION: Transaction = { branch: 'z9hG4bKfuzz', callId: 'fuzz@dialer-audit', cseq: 1, method: 'OPTIONS' };

const headerName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('Via', 'v', 'From', 'f', 'To', 't', 'Call-ID', 'i', 'CSeq', 'Content-Length', 'l', 'Server', 'User-Agent', 'Allow', 'Retry-After', 'Contact', 'm') },
  { weight: 2, arbitrary: fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,20}$/) },
  { weight: 1, arbitrary: nastyText(10) },
);
const headerValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(
    `SIP/2.0/UDP 127.0.0.1:5060;branch=${TRANSACTION.branch};rport=5060;received=127.0.0.1`,
    'SIP/2.0/TCP [::1]:5060;branch=z9hG4bK;rport=99999999999;received=',
    TRANSACTION.callId,
    '1 OPTIONS',
    '0',
    '-1',
    '99999999999999999999',
    'INVITE, ACK, OPTIONS, "a,b", <sip:x,y>',
    '"unterminated, <also',
  ) },
  { weight: 2, arbitrary: fc.string({ maxLength: 60 }).map((s) => s.replace(/[\r\n]/g, ' ')) },
  { weight: 1, arbitrary: nastyText(120) },
);
const separator = fc.oneof({ weight: 8, arbitrary: fc.constant(': ') }, { weight: 1, arbitrary: fc.constantFrom(':', ' : ', '', ' ') });
const line = fc.tuple(headerName, separator, headerValue).map(([n, sep, v]) => `${n}${sep}${v}`);
const startLine = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.integer({ min: 100, max: 699 }), nastyText(60)).map(([status, reason]) => `SIP/2.0 ${status} ${reason}`) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('OPTIONS', 'INVITE', 'BYE', 'x'), fc.stringMatching(/^sip:[a-z0-9.@:;=]{1,30}$/)).map(([m, uri]) => `${m} ${uri} SIP/2.0`) },
  { weight: 1, arbitrary: nastyText(60) },
);
const wellFormed = fc
  .record({ start: startLine, lines: fc.array(line, { maxLength: 12 }), eol: fc.constantFrom('\r\n', '\n'), folded: fc.boolean(), body: nastyText(80) })
  .map(({ start, lines, eol, folded, body }) => Buffer.from([start, ...lines.map((l, i) => (folded && i % 3 === 2 ? ` ${l}` : l)), '', body].join(eol), 'utf8'));

describe('fuzz: SIP messages', () => {
  it(`parse, summary, transaction matching: ${RUNS_LABEL}, no exception`, () => {
    const seen = tally('SIP parse');
    fc.assert(
      fc.property(hostile(wellFormed), fc.boolean(), (buf, asText) => {
        const parsed = parseSipMessage(asText ? buf.toString('latin1') : buf);
        if (!parsed.ok) {
          expect(typeof parsed.error).toBe('string');
          seen.count('refused');
          return;
        }
        const m = parsed.message;
        seen.count(matchesTransaction(m, TRANSACTION) ? 'matched our transaction' : `parsed ${m.kind}s`);
        topVia(m);
        headerList(m, 'allow');
        if (m.kind === 'response') {
          const s = summarizeResponse(m);
          expect(Number.isInteger(s.status)).toBe(true);
          if (s.viaRport !== undefined) expect(s.viaRport).toBeGreaterThan(0);
          printable(s.reason);
        }
      }),
      fuzzParameters(),
    );
    seen.print();
  });

  it(`stream framing (TCP/TLS), message after message: ${RUNS_LABEL}, no exception`, () => {
    fc.assert(
      fc.property(fc.array(hostile(wellFormed), { minLength: 1, maxLength: 3 }), (parts) => {
        let rest: Buffer = Buffer.concat(parts);
        for (let i = 0; i < 10; i++) {
          const framing = frameStream(rest);
          for (const message of framing.messages) parseSipMessage(message);
          if (framing.error || framing.messages.length === 0) break;
          rest = framing.rest;
        }
      }),
      fuzzParameters(),
    );
  });
});
