// Where a sharded run's pieces wait for the merge: each shard's partial report (gzip JSON, in
// items of the stack's state table, split when larger than an item may be) and the run lock that
// keeps two executions of the state machine from auditing at once. Step Functions passes at most
// 256 KB between states, so the states pass keys and the reports stay here. Items expire by
// themselves (the table's TTL attribute `expiresAt`), so a run that never merged leaves nothing.
import { gunzipSync, gzipSync } from 'node:zlib';
import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { reportSchema } from '../report/json.ts';
import type { Report } from '../types.ts';
import { describeAwsError as describe, isConditionalFailure, PARTITION_KEY } from './dynamodb-store.ts';

/** DynamoDB refuses items over 400 KB; each piece of a partial stays well below. */
const PIECE_BYTES = 350 * 1024;

export interface ShardRunStore {
  /** Takes the run lock until `expiresAt` (epoch ms); false while another run holds it. */
  begin(runId: string, expiresAt: number): Promise<boolean>;
  /** Lets the next run start (only the run that holds the lock can). */
  end(runId: string): Promise<void>;
  /** Stores a shard's partial report; returns the key the state machine passes on. */
  put(runId: string, index: number, report: Report, expiresAt: number): Promise<string>;
  get(key: string): Promise<Report>;
}

export class DynamoDbShardRunStore implements ShardRunStore {
  readonly #lockKey: string;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    /** The alert state's key: a stack's sharded runs and its state belong together. */
    private readonly stateKey: string,
  ) {
    this.#lockKey = `${stateKey}#sharded-run`;
  }

  async begin(runId: string, expiresAt: number): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { [PARTITION_KEY]: { S: this.#lockKey }, runId: { S: runId }, expiresAt: { N: String(Math.ceil(expiresAt / 1000)) } },
          ConditionExpression: 'attribute_not_exists(#pk) OR #exp < :now',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#exp': 'expiresAt' },
          ExpressionAttributeValues: { ':now': { N: String(Math.floor(Date.now() / 1000)) } },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionalFailure(err)) return false;
      throw new Error(`DynamoDB table ${this.table}: cannot take the run lock (${describe(err)})`);
    }
  }

  async end(runId: string): Promise<void> {
    try {
      // Expired rather than deleted: the role needs no DeleteItem.
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { [PARTITION_KEY]: { S: this.#lockKey }, runId: { S: runId }, expiresAt: { N: '0' } },
          ConditionExpression: '#run = :run',
          ExpressionAttributeNames: { '#run': 'runId' },
          ExpressionAttributeValues: { ':run': { S: runId } },
        }),
      );
    } catch (err) {
      if (isConditionalFailure(err)) return;
      throw new Error(`DynamoDB table ${this.table}: cannot release the run lock (${describe(err)})`);
    }
  }

  async put(runId: string, index: number, report: Report, expiresAt: number): Promise<string> {
    const key = `${this.stateKey}#partial#${runId}#${index}`;
    const blob = gzipSync(JSON.stringify(report));
    const pieces = Math.max(1, Math.ceil(blob.length / PIECE_BYTES));
    const ttl = { N: String(Math.ceil(expiresAt / 1000)) };
    for (let i = pieces - 1; i >= 0; i--) {
      const piece = blob.subarray(i * PIECE_BYTES, (i + 1) * PIECE_BYTES);
      const item = { [PARTITION_KEY]: { S: i === 0 ? key : `${key}#${i}` }, report: { B: piece }, expiresAt: ttl, ...(i === 0 ? { pieces: { N: String(pieces) } } : {}) };
      try {
        await this.client.send(new PutItemCommand({ TableName: this.table, Item: item }));
      } catch (err) {
        throw new Error(`DynamoDB table ${this.table}: cannot store shard ${index}'s report (${describe(err)})`);
      }
    }
    return key;
  }

  async get(key: string): Promise<Report> {
    const first = await this.#item(key);
    const pieces = Number(first.pieces?.N ?? 1);
    const parts = [first.report!.B!];
    for (let i = 1; i < pieces; i++) parts.push((await this.#item(`${key}#${i}`)).report!.B!);
    let parsed: unknown;
    try {
      parsed = JSON.parse(gunzipSync(Buffer.concat(parts)).toString('utf8'));
    } catch {
      throw new Error(`DynamoDB table ${this.table} item ${key}: not a gzip JSON report`);
    }
    const result = reportSchema.safeParse(parsed);
    if (!result.success) throw new Error(`DynamoDB table ${this.table} item ${key}: not a dialer-audit report (${result.error.issues[0].path.join('.')}: ${result.error.issues[0].message})`);
    return result.data as Report;
  }

  async #item(key: string) {
    let out;
    try {
      out = await this.client.send(new GetItemCommand({ TableName: this.table, Key: { [PARTITION_KEY]: { S: key } }, ConsistentRead: true }));
    } catch (err) {
      throw new Error(`DynamoDB table ${this.table}: cannot read ${key} (${describe(err)})`);
    }
    if (!out.Item?.report?.B) throw new Error(`DynamoDB table ${this.table}: no partial report at ${key} (expired, or the shard never stored it)`);
    return out.Item;
  }
}
