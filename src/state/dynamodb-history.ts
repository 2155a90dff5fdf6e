// The run history in the alert state's DynamoDB table, out of the state item (DynamoDB's 400 KB
// item limit): one item per UTC day, `<key>#history#2026-11-23` { day: gzip(JSON), version,
// expiresAt, updatedAt }. The table's TTL attribute `expiresAt` removes a day once it is past the
// retention (reads ignore such days before DynamoDB gets to them). An append is a read and a
// conditional PutItem on the day's version — GetItem and PutItem only, the rights the stack
// already grants for the state.
import { gunzipSync } from 'node:zlib';
import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { appendRun, dayExpiresAt, dayOf, daysBetween, emptyDay, parseDay, type AppendResult, type HistoryDay, type HistoryRecord } from '../history/record.ts';
import { describeAwsError, isConditionalFailure, PARTITION_KEY, versionCondition } from './dynamodb-store.ts';
import { recordsOf, type HistoryRead, type HistoryStore } from './history-store.ts';

const ATTEMPTS = 5;
/** Days read at once. */
const PARALLEL_READS = 4;


export class DynamoDbHistoryStore implements HistoryStore {
  readonly description: string;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly stateKey: string,
    private readonly retentionMs: number,
  ) {
    this.description = `DynamoDB table ${table} history items ${stateKey}#history#…`;
  }

  async append(record: HistoryRecord): Promise<AppendResult['outcome']> {
    const dayName = dayOf(Date.parse(record.finishedAt));
    const expiresAt = Math.ceil(dayExpiresAt(dayName, this.retentionMs) / 1000);
    for (let attempt = 1; ; attempt++) {
      // A day that cannot be read is started afresh (its version still guards the write).
      const stored = await this.#get(dayName, true);
      const appended = appendRun(stored.day ?? emptyDay(dayName), record);
      try {
        await this.client.send(
          new PutItemCommand({
            TableName: this.table,
            Item: {
              [PARTITION_KEY]: { S: this.#key(dayName) },
              version: { N: String(stored.version + 1) },
              day: { B: appended.bytes },
              expiresAt: { N: String(expiresAt) },
              updatedAt: { S: new Date().toISOString() },
            },
            ...versionCondition(stored.version),
          }),
        );
        return appended.outcome;
      } catch (err) {
        if (!isConditionalFailure(err)) throw new Error(`${this.description}: cannot write ${dayName} (${describeAwsError(err)})`);
        if (attempt >= ATTEMPTS) throw new Error(`${this.description}: gave up on ${dayName} after ${ATTEMPTS} conflicting writes`);
      }
    }
  }

  async read(since: number, now: number): Promise<HistoryRead> {
    const names = daysBetween(since, now);
    const days: { day?: HistoryDay; problem?: string }[] = new Array(names.length);
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const i = next++;
        try {
          const got = await this.#get(names[i], false);
          // Past the retention but not yet removed by DynamoDB's TTL (it may lag by days).
          days[i] = got.expired ? {} : got.broken ? { problem: `${names[i]}: ${got.broken}` } : { day: got.day };
        } catch (err) {
          days[i] = { problem: `${names[i]}: ${(err as Error).message}` };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, names.length) }, worker));
    return recordsOf(days, since, now);
  }

  #key(day: string): string {
    return `${this.stateKey}#history#${day}`;
  }

  /** The stored day and its version; `broken` says why a stored day could not be read. */
  async #get(dayName: string, consistent: boolean): Promise<{ day?: HistoryDay; version: number; expired?: boolean; broken?: string }> {
    let out;
    try {
      out = await this.client.send(new GetItemCommand({ TableName: this.table, Key: { [PARTITION_KEY]: { S: this.#key(dayName) } }, ConsistentRead: consistent }));
    } catch (err) {
      throw new Error(`${this.description}: cannot read ${dayName} (${describeAwsError(err)})`);
    }
    const item = out.Item;
    if (!item) return { version: 0 };
    const version = Number(item.version?.N ?? 0);
    const expired = Number(item.expiresAt?.N ?? Infinity) * 1000 < Date.now();
    const blob = item.day?.B;
    if (!blob) return { version, expired };
    try {
      return { day: parseDay(gunzipSync(blob).toString('utf8'), 'the stored day'), version, expired };
    } catch (err) {
      return { version, expired, broken: (err as Error).message.startsWith('the stored day') ? (err as Error).message : 'the stored day is not gzip' };
    }
  }
}
