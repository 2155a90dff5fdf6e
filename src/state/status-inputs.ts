// What the status page needs besides the report, read from the stores: the last week of history
// and the alert state. Reading never fails the run: what cannot be read becomes a note on the page.
import { WEEK_MS, type StatusInputs } from '../report/status/model.ts';
import type { HistoryStore } from './history-store.ts';
import type { StateStore } from './store.ts';

export async function readStatusInputs(stores: { stateStore?: StateStore; history?: HistoryStore }, now: number): Promise<StatusInputs> {
  const notes: string[] = [];
  const [history, state] = await Promise.all([
    (async () => {
      if (!stores.history) {
        notes.push('No history store: uptime and trends show this run alone.');
        return [];
      }
      try {
        const read = await stores.history.read(now - WEEK_MS, now);
        for (const problem of read.problems) notes.push(`History: ${problem}`);
        return read.records;
      } catch (err) {
        notes.push(`The history could not be read (${(err as Error).message}): uptime and trends show this run alone.`);
        return [];
      }
    })(),
    (async () => {
      if (!stores.stateStore) return undefined;
      try {
        return (await stores.stateStore.load()).state;
      } catch (err) {
        notes.push(`The alert state could not be read (${(err as Error).message}): "failing since" is this run's start.`);
        return undefined;
      }
    })(),
  ]);
  return { history, ...(state ? { state } : {}), notes };
}
