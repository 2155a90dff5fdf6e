// The one retry policy for Route 53 calls: Throttling and PriorRequestNotComplete are retried with
// backoff, bounded by attempts and by the run's deadline; anything else fails at once with AWS's words.
import { describe, expect, it } from 'vitest';
import { callRoute53, Route53Error } from '../../src/net/route53.ts';

function awsError(code: string, message: string, status = 400): Error {
  return Object.assign(new Error(message), { name: code, $fault: 'client', $metadata: { httpStatusCode: status } });
}

function failing(errors: Error[], result = 'ok'): { send: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    send: async () => {
      const err = errors[calls++];
      if (err) throw err;
      return result;
    },
    calls: () => calls,
  };
}

describe('callRoute53', () => {
  it('retries Throttling and PriorRequestNotComplete, then returns the answer', async () => {
    // Prepare
    const api = failing([awsError('Throttling', 'Rate exceeded'), awsError('PriorRequestNotComplete', 'still processing'), awsError('ServiceUnavailable', 'x', 503)]);
    // Act
    const result = await callRoute53('test', api.send, { deadline: Date.now() + 10_000, baseDelayMs: 1 });
    // Assess
    expect(result).toBe('ok');
    expect(api.calls()).toBe(4);
  });

  it('fails at once, with the code and message, on an error that retrying cannot fix', async () => {
    // Prepare
    const api = failing([awsError('InvalidChangeBatch', '[Tried to delete resource record set but it was not found]')]);
    // Act
    const outcome = callRoute53('test', api.send, { deadline: Date.now() + 10_000, baseDelayMs: 1 });
    // Assess
    await expect(outcome).rejects.toMatchObject({ code: 'InvalidChangeBatch', awsMessage: '[Tried to delete resource record set but it was not found]', attempts: 1 });
    expect(api.calls()).toBe(1);
  });

  it('does not start a backoff that would end after the deadline', async () => {
    // Prepare: the next wait (≥ 500 ms) would end past a deadline 100 ms away.
    const api = failing(Array(10).fill(awsError('Throttling', 'Rate exceeded')));
    const started = Date.now();
    // Act
    const outcome = callRoute53('test', api.send, { deadline: started + 100, baseDelayMs: 1000 });
    // Assess
    await expect(outcome).rejects.toBeInstanceOf(Route53Error);
    await expect(outcome).rejects.toMatchObject({ code: 'Throttling', awsMessage: 'Rate exceeded (gave up after 1 attempt)' });
    expect(Date.now() - started).toBeLessThan(100);
  });

  it('stops when the run is aborted', async () => {
    // Prepare
    const controller = new AbortController();
    controller.abort();
    const api = failing([]);
    // Act
    const outcome = callRoute53('ListResourceRecordSets Z1', api.send, { deadline: Date.now() + 10_000, signal: controller.signal });
    // Assess
    await expect(outcome).rejects.toMatchObject({ code: 'RunBudgetSpent' });
    expect(api.calls()).toBe(0);
  });
});
