// The cloud store for Lambda: one DynamoDB item per state key, { pk, version, state (gzipped
// JSON), updatedAt }, written with PutItem under `ConditionExpression: #v = :expected` (or
// attribute_not_exists for the first write). Two overlapping runs cannot lose each other's
// updates: the loser gets ConditionalCheckFailedException, reads again and re-applies its run
// per fingerprint (see updateState). Reads are strongly consistent, so a write never builds on
// a stale read. A notifying run also holds the lock item `<key>#lock` from reading to writing: a
// lease taken with a conditional PutItem (free, released, or its lease ran out), renewed and
// released only by its holder (condition on the owner token) — GetItem and PutItem only, as before.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand, type DynamoDBClient, type PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import type { AlertState } from './policy.ts';
import { emptyState, parseState, serializeState, type LockRequest, type StateLock, type StateStore, type Versioned } from './store.ts';

/** The table's partition key attribute (string). */
export const PARTITION_KEY = 'pk';
/** DynamoDB refuses items over 400 KB; stay clear of it with a message that says why. */
const MAX_STATE_BYTES = 380 * 1024;
/** A Lambda that dies holding the lock (timeout, crash) blocks others at most this long. */
export const DYNAMODB_LEASE_MS = 60_000;

/** The condition of a conditional write did not hold (another writer was first). */
export const isConditionalFailure = (err: unknown) => err instanceof ConditionalCheckFailedException || (err as Error).name === 'ConditionalCheckFailedException';

export class DynamoDbStateStore implements StateStore {
  readonly description: string;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly key: string,
  ) {
    this.description = `DynamoDB table ${table} item ${key}`;
  }

  async load(): Promise<Versioned> {
    const out = await this.#call('read', () =>
      this.client.send(new GetItemCommand({ TableName: this.table, Key: { [PARTITION_KEY]: { S: this.key } }, ConsistentRead: true })),
    );
    const item = out.Item;
    if (!item) return { state: emptyState(), revision: 0 };
    const revision = Number(item.version?.N ?? 0);
    const blob = item.state?.B;
    if (!blob) return { state: emptyState(), revision };
    let json: string;
    try {
      json = gunzipSync(blob).toString('utf8');
    } catch {
      throw new Error(`${this.description}: the stored alert state is not gzip`);
    }
    return { state: parseState(json, this.description), revision };
  }

  async save(state: AlertState, revision: number): Promise<boolean> {
    const blob = gzipSync(serializeState(state));
    if (blob.length > MAX_STATE_BYTES) {
      throw new Error(`${this.description}: the alert state is ${Math.round(blob.length / 1024)} KB compressed, over DynamoDB's item limit; raise alerting.notifyOn or split the fleet over several state keys`);
    }
    const conditional = versionCondition(revision);
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            [PARTITION_KEY]: { S: this.key },
            version: { N: String(revision + 1) },
            state: { B: blob },
            updatedAt: { S: new Date().toISOString() },
          },
          ...conditional,
        }),
      );
      return true;
    } catch (err) {
      if (isConditionalFailure(err)) return false;
      throw new Error(`${this.description}: write failed (${describeAwsError(err)})`);
    }
  }

  async lock(request: LockRequest): Promise<StateLock> {
    const key = { [PARTITION_KEY]: { S: `${this.key}#lock` } };
    const token = randomBytes(8).toString('hex');
    const giveUpAt = Date.now() + request.waitMs;
    let acquired = Date.now();
    const item = (expiresAt: number) => ({
      ...key,
      owner: { S: token },
      run: { S: request.owner },
      host: { S: os.hostname() },
      pid: { N: String(process.pid) },
      acquiredAt: { S: new Date(acquired).toISOString() },
      expiresAt: { N: String(expiresAt) },
    });
    const mine = { ConditionExpression: '#owner = :token', ExpressionAttributeNames: { '#owner': 'owner' }, ExpressionAttributeValues: { ':token': { S: token } } };
    for (let round = 0; ; round++) {
      const now = Date.now();
      acquired = now;
      try {
        const out = await this.client.send(
          new PutItemCommand({
            TableName: this.table,
            Item: item(now + DYNAMODB_LEASE_MS),
            ConditionExpression: 'attribute_not_exists(#pk) OR #exp < :now',
            ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#exp': 'expiresAt' },
            ExpressionAttributeValues: { ':now': { N: String(now) } },
            ReturnValues: 'ALL_OLD',
          }),
        );
        const old = out.Attributes;
        if (old && Number(old.expiresAt?.N ?? 0) > 0) {
          request.log?.warn('taking over a stale state lock', { lock: `${this.description}#lock`, heldBy: `run ${old.run?.S} (pid ${old.pid?.N} on ${old.host?.S}, since ${old.acquiredAt?.S})`, reason: `its lease ran out at ${new Date(Number(old.expiresAt?.N)).toISOString()}` });
        }
        break;
      } catch (err) {
        if (!isConditionalFailure(err)) throw new Error(`${this.description}: cannot take the lock (${describeAwsError(err)})`);
      }
      if (Date.now() >= giveUpAt || request.signal?.aborted) {
        const held = await this.#call('read the lock', () => this.client.send(new GetItemCommand({ TableName: this.table, Key: key, ConsistentRead: true })));
        const h = held.Item;
        throw new Error(`${this.description}: the lock is held by run ${h?.run?.S ?? '?'} (pid ${h?.pid?.N ?? '?'} on ${h?.host?.S ?? '?'}, since ${h?.acquiredAt?.S ?? '?'}); gave up waiting after ${Math.round(request.waitMs / 1000)} s`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 + Math.random() * 200 + round * 20, 1000)));
    }
    let ours = true;
    const renew = async (): Promise<boolean> => {
      if (!ours) return false;
      const now = Date.now();
      try {
        await this.client.send(new PutItemCommand({ TableName: this.table, Item: item(now + DYNAMODB_LEASE_MS), ...mine }));
        return true;
      } catch (err) {
        if (isConditionalFailure(err)) {
          ours = false;
          request.log?.error('the state lock was taken over while this run held it', { lock: `${this.description}#lock` });
        }
        return !isConditionalFailure(err);
      }
    };
    const timer = setInterval(() => void renew(), DYNAMODB_LEASE_MS / 3);
    timer.unref();
    return {
      renew,
      release: async () => {
        clearInterval(timer);
        if (!ours) return;
        ours = false;
        // Released, not deleted: expiresAt 0 lets the next run take it (PutItem only, no DeleteItem in IAM).
        await this.client.send(new PutItemCommand({ TableName: this.table, Item: item(0), ...mine })).catch(() => {});
      },
    };
  }

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new Error(`${this.description}: ${what} failed (${describeAwsError(err)})`);
    }
  }
}

/** A PutItem's condition that the item's `version` is still `revision` (0: that there is no item yet). */
export function versionCondition(revision: number): Pick<PutItemCommandInput, 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> {
  return revision === 0
    ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': PARTITION_KEY } }
    : { ConditionExpression: '#v = :expected', ExpressionAttributeNames: { '#v': 'version' }, ExpressionAttributeValues: { ':expected': { N: String(revision) } } };
}

export function describeAwsError(err: unknown): string {
  const e = err as Error & { $metadata?: { httpStatusCode?: number } };
  return [e.name, e.message].filter(Boolean).join(': ') || String(err);
}
