// The cloud store for Lambda: one DynamoDB item per state key, { pk, version, state (gzipped
// JSON), updatedAt }, written with PutItem under `ConditionExpression: #v = :expected` (or
// attribute_not_exists for the first write). Two overlapping runs cannot lose each other's
// updates: the loser gets ConditionalCheckFailedException, reads again and re-applies its run
// per fingerprint (see updateState). Reads are strongly consistent, so a write never builds on
// a stale read.
import { gunzipSync, gzipSync } from 'node:zlib';
import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand, type DynamoDBClient, type PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import type { AlertState } from './policy.ts';
import { emptyState, parseState, serializeState, type StateStore, type Versioned } from './store.ts';

/** The table's partition key attribute (string). */
export const PARTITION_KEY = 'pk';
/** DynamoDB refuses items over 400 KB; stay clear of it with a message that says why. */
const MAX_STATE_BYTES = 380 * 1024;

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
    const conditional: Pick<PutItemCommandInput, 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> =
      revision === 0
        ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': PARTITION_KEY } }
        : { ConditionExpression: '#v = :expected', ExpressionAttributeNames: { '#v': 'version' }, ExpressionAttributeValues: { ':expected': { N: String(revision) } } };
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
      if (err instanceof ConditionalCheckFailedException || (err as Error).name === 'ConditionalCheckFailedException') return false;
      throw new Error(`${this.description}: write failed (${describeAwsError(err)})`);
    }
  }

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new Error(`${this.description}: ${what} failed (${describeAwsError(err)})`);
    }
  }
}

export function describeAwsError(err: unknown): string {
  const e = err as Error & { $metadata?: { httpStatusCode?: number } };
  return [e.name, e.message].filter(Boolean).join(': ') || String(err);
}
