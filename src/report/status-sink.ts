// The status page as a reporter: after every notifying run (CLI --notify, the daemon, Lambda, the
// merge step of a sharded run) the page is rendered from the report, the history and the alert
// state, kept for the daemon's /status, and written where reporters.html says — a directory
// (atomically: readers see the old page or the new) or an S3 object. A failure is the run's, like
// any reporter's; reading the history never is (it becomes a note on the page).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { MetricsSink } from '../notify.ts';
import { writeFileAtomic } from '../state/atomic-write.ts';
import type { HistoryStore } from '../state/history-store.ts';
import { readStatusInputs } from '../state/status-inputs.ts';
import type { StateStore } from '../state/store.ts';
import type { Report } from '../types.ts';
import { renderStatusPage, STATUS_PAGE_FILE } from './status/page.ts';

/** Where a page goes; `where` names it in messages. */
export interface PagePublisher {
  where: string;
  publish(html: string): Promise<void>;
}

export function directoryPublisher(dir: string): PagePublisher {
  const file = path.join(dir, STATUS_PAGE_FILE);
  return {
    where: file,
    async publish(html) {
      try {
        await mkdir(dir, { recursive: true });
        await writeFileAtomic(file, html, 0o644);
      } catch (err) {
        throw new Error(`${file}: not written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
    },
  };
}

export interface StatusPageSinkOptions {
  stores: { stateStore?: StateStore; history?: HistoryStore };
  publishers: PagePublisher[];
  /** Called with every page rendered (the daemon serves the latest at /status). */
  keep?: (html: string) => void;
}

export function statusPageSink(opts: StatusPageSinkOptions): MetricsSink {
  return {
    name: 'html',
    async write(report: Report) {
      const inputs = await readStatusInputs(opts.stores, Date.parse(report.finishedAt));
      const html = renderStatusPage(report, inputs);
      opts.keep?.(html);
      const failures = (await Promise.allSettled(opts.publishers.map((p) => p.publish(html)))).flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
      if (failures.length) throw new Error(failures.join('; '));
    },
  };
}
