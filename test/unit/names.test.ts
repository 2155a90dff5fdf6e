// Names as Route 53 returns them, and the globs that select dialers, protect names and override TTLs.
import { describe, expect, it } from 'vitest';
import { bareId, didYouMean, isSelected, matchesGlob, normalizeRoute53Name } from '../../src/names.ts';

describe('normalizeRoute53Name', () => {
  it.each([
    ['acme.dialer.example.com.', 'acme.dialer.example.com'],
    ['\\052.dialer.example.com.', '*.dialer.example.com'],
    ['ACME.Dialer.Example.COM', 'acme.dialer.example.com'],
    ['a\\100b.example.com.', 'a@b.example.com'],
    ['_sip._udp.acme.example.com.', '_sip._udp.acme.example.com'],
  ])('%s → %s', (raw, expected) => {
    expect(normalizeRoute53Name(raw)).toBe(expected);
  });

  it('strips /hostedzone/ and /change/ from ids', () => {
    expect(bareId('/hostedzone/Z123')).toBe('Z123');
    expect(bareId('/change/C9')).toBe('C9');
    expect(bareId('Z123')).toBe('Z123');
  });
});

describe('name globs', () => {
  it.each([
    ['acme.dialer.example.com', '*.dialer.example.com', true],
    ['acme.dialer.example.com.', '*.dialer.example.com', true],
    ['ACME.dialer.example.com', '*.dialer.example.com', true],
    ['dialer.example.com', '*.dialer.example.com', false],
    ['_sip._udp.acme.dialer.example.com', '*.dialer.example.com', true],
    ['acme.dialer.example.com', '*', true],
    ['acme.dialer.example.com.evil.net', '*.dialer.example.com', false],
    ['\\052.dialer.example.com.', '*.dialer.example.com', true],
    ['acme.dialer.example.com', 'acme.dialer.example.com', true],
    ['acmeXdialer.example.com', 'acme.dialer.example.com', false],
    ['d7.dialer.example.com', 'd?.dialer.example.com', true],
    ['d77.dialer.example.com', 'd?.dialer.example.com', false],
    ['legacy-pbx.dialer.example.com', 'legacy-*.dialer.example.com', true],
    ['a+b.example.com', 'a+b.example.com', true],
  ])('%s against %s → %s', (name, glob, expected) => {
    expect(matchesGlob(name, glob)).toBe(expected);
  });

  it('selects by match and drops by exclude', () => {
    expect(isSelected('acme.dialer.example.com.', ['*.dialer.example.com'], ['test-*.dialer.example.com'])).toBe(true);
    expect(isSelected('test-1.dialer.example.com.', ['*.dialer.example.com'], ['test-*.dialer.example.com'])).toBe(false);
    expect(isSelected('www.example.com.', ['*.dialer.example.com'], [])).toBe(false);
  });
});

describe('didYouMean', () => {
  it('suggests close names, the full name for its first label, and the carrier of a finding target', () => {
    const known = ['acme.dialer.example.com', 'beta.dialer.example.com', 'twilio', 'telnyx'];
    expect(didYouMean('acme.dialer.exmaple.com', known)).toEqual(['acme.dialer.example.com']);
    expect(didYouMean('acme', known)).toEqual(['acme.dialer.example.com']);
    expect(didYouMean('twilio/udp', known)).toEqual(['twilio']);
    expect(didYouMean('nosuch.example.net', known)).toEqual([]);
  });
});
