// Shared pieces of the fuzz suite: how many inputs each decoder gets, and byte-level mutations of
// well-formed messages (the inputs that get past the first length check and reach deep code).
import fc from 'fast-check';

/**
 * Generated inputs per decoder: a few hundred in `npm test` (seconds), FUZZ_RUNS in the nightly-size
 * run (`npm run fuzz` sets 100,000). fast-check prints the seed of a failure; FUZZ_SEED replays it.
 */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS || 400);
export const FUZZ_SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;

export function fuzzParameters<T>(): fc.Parameters<T> {
  return { numRuns: FUZZ_RUNS, ...(FUZZ_SEED !== undefined ? { seed: FUZZ_SEED } : {}), endOnFailure: true };
}

/** "400 inputs" / "100,000 inputs", for test names. */
export const RUNS_LABEL = `${FUZZ_RUNS.toLocaleString('en-US')} inputs`;

export const randomBytes = (maxLength = 600) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));

export interface Mutation {
  /** [position, byte] pairs written over the message (positions wrap around its length). */
  flips: [number, number][];
  /** Cut the message to this length (wrapping). */
  cut: number | null;
  /** Bytes appended. */
  tail: Buffer | null;
}

/** Sometimes `arbitrary`, mostly null: a cut or a tail on every input would leave little to parse. */
const rarely = <T>(arbitrary: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });

export const mutation: fc.Arbitrary<Mutation> = fc.record({
  flips: fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }),
  cut: rarely(fc.nat()),
  tail: rarely(randomBytes(64)),
});

/** `message` with the mutation applied; the first `keep` bytes stay as they were. */
export function applyMutation(message: Buffer, m: Mutation, keep = 0): Buffer {
  let out = Buffer.from(message);
  for (const [at, byte] of m.flips) {
    if (out.length > keep) out[keep + (at % (out.length - keep))] = byte;
  }
  if (m.cut !== null && out.length > 0) out = out.subarray(0, m.cut % (out.length + 1));
  if (m.tail) out = Buffer.concat([out, m.tail]);
  return out;
}

/** Random bytes, the well-formed message, or (most often) the message mutated. */
export function hostile(wellFormed: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 1, arbitrary: randomBytes() },
    { weight: 2, arbitrary: wellFormed },
    { weight: 6, arbitrary: fc.tuple(wellFormed, mutation).map(([b, m]) => applyMutation(b, m)) },
  );
}

const nasty = new Map<number, fc.Arbitrary<string>>();
/** Text with the characters that break parsers: controls, NUL, CR/LF, quotes, long runs, non-BMP. */
export function nastyText(maxLength = 40): fc.Arbitrary<string> {
  let arbitrary = nasty.get(maxLength);
  if (!arbitrary) {
    arbitrary = fc.oneof(
      fc.string({ maxLength }),
      fc.string({ unit: 'binary', maxLength }),
      fc.stringMatching(/^[\x00-\x1f\x7f-\x9f"'\\<>;,=:@%\r\n\t ]{0,12}$/),
      fc.constantFrom('', ' ', '\r\n', '\0', '\x1b]0;owned\x07', '9'.repeat(400), '-1', '1e400', 'NaN', '__proto__', 'constructor', '💥'),
    );
    nasty.set(maxLength, arbitrary); // built once: a stringMatching arbitrary is costly to build
  }
  return arbitrary;
}

/** Counts what the inputs reached (decoded, parsed …), printed once per property: the suite's depth. */
export function tally(name: string): { count(outcome: string): void; print(): void } {
  const counts = new Map<string, number>();
  return {
    count: (outcome) => counts.set(outcome, (counts.get(outcome) ?? 0) + 1),
    print: () => console.log(`[fuzz] ${name}: ${[...counts].map(([k, v]) => `${v.toLocaleString('en-US')} ${k}`).join(', ')}`),
  };
}
