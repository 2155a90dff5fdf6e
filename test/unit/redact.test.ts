// Secrets in every encoding a server may echo them in (issue 12, "Secrets" rows).
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/config.ts';
import { excerpt, redact, smtpAuthBlobs } from '../../src/report/redact.ts';

const HOOK = new Secret('https://hooks.slack.com/services/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', 'env:SLACK');
const USER = new Secret('mailer@example.com', 'env:SMTP_USER');
const PASS = new Secret('Qm4z!T8w K1v/pass', 'env:SMTP_PASS');
const b64 = (s: string) => Buffer.from(s).toString('base64');
const hex = (s: string) => Buffer.from(s).toString('hex');

describe('redact', () => {
  const path = '/services/T0AAAAAAA/B0BBBBBBB/c2VjcmV0LXRva2VuLXZhbHVl';
  const token = 'c2VjcmV0LXRva2VuLXZhbHVl';
  const pass = PASS.reveal();
  const cases: [string, string][] = [
    ['the raw webhook URL', HOOK.reveal()],
    ['its path', path],
    ['its token segment', token],
    ['the path URL-encoded', encodeURIComponent(path)],
    ['the path URL-encoded twice', encodeURIComponent(encodeURIComponent(path))],
    ['the path in base64', b64(path)],
    ['the path in base64url without padding', Buffer.from(path).toString('base64url')],
    ['the token in hex', hex(token)],
    ['the token in upper-case hex', hex(token).toUpperCase()],
    ['the password', pass],
    ['the password URL-encoded', encodeURIComponent(pass)],
    ['the password in base64 (AUTH LOGIN)', b64(pass)],
    ['the AUTH PLAIN blob in base64', b64(`\0${USER.reveal()}\0${pass}`)],
    ['the AUTH PLAIN blob with authzid in base64', b64(`${USER.reveal()}\0${USER.reveal()}\0${pass}`)],
    ['the AUTH PLAIN blob in hex', hex(`\0${USER.reveal()}\0${pass}`)],
    ['HTTP Basic credentials', b64(`${USER.reveal()}:${pass}`)],
    ['the password inside a longer base64 text', b64(`a prefix, so the password is not aligned: ${pass}`)],
    ['a %-encoded URL holding the hook', encodeURIComponent(`https://proxy.example/?to=${HOOK.reveal()}`)],
  ];

  it.each(cases)('%s', (_name, echoed) => {
    // Prepare: a server reply quoting it.
    const reply = `535 5.7.8 nope: ${echoed} (see docs)`;
    // Act
    const clean = redact(reply, [HOOK, USER, PASS, ...smtpAuthBlobs(USER, PASS)]);
    // Assess: what is left of the echo (a proxy's address, a second [secret]) ends in [secret].
    expect(clean).toMatch(/^535 5\.7\.8 nope: \S*\[secret\] \(see docs\)$/);
    for (const piece of [pass, token, b64(pass), encodeURIComponent(path)]) expect(clean).not.toContain(piece);
  });

  it('leaves text that holds no secret as it is', () => {
    const text = 'HTTP 400: invalid_payload; request id 6f1c2a9be0d34a51 at dialer-audit.example.com (aGVsbG8gd29ybGQ=)';
    expect(redact(text, [HOOK, USER, PASS])).toBe(text);
  });

  it('cuts a reply only after redaction, so a cut never leaves part of a secret', () => {
    // Prepare: the secret straddles the excerpt's end.
    const reply = `${'x'.repeat(190)} ${b64(pass)} tail`;
    // Act
    const shown = excerpt(reply, [PASS], 200);
    // Assess
    expect(shown).not.toContain(b64(pass).slice(0, 8));
    expect(shown.length).toBeLessThanOrEqual(201);
  });
});
