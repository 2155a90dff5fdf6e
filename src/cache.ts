// The per-run memo of answers: a question asked again while its name is still being audited is
// answered from here. Each entry belongs to the name whose task touched it last and is dropped
// when that name is done, so answers live about as long as one target — short enough to die
// young in the garbage collector — while zone-wide answers, touched by every name, stay. A
// bound on the entries is the backstop for checks that ask much about one name.

/** What a check's context sees: get and set, scoped to the target it is auditing. */
export interface AnswerCache<V> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
}

export class RunCache<V> {
  private readonly entries = new Map<string, { value: V; owner: string }>();
  private readonly byOwner = new Map<string, Set<string>>();

  constructor(private readonly maxEntries: number) {}

  /** The view a task on `owner` (a target name) uses. */
  for(owner: string): AnswerCache<V> {
    return { get: (key) => this.get(key, owner), set: (key, value) => this.set(key, value, owner) };
  }

  /** Every task on this name has finished: its answers go, unless another name touched them since. */
  done(owner: string): void {
    const keys = this.byOwner.get(owner);
    if (!keys) return;
    for (const key of keys) this.entries.delete(key);
    this.byOwner.delete(owner);
  }

  get size(): number {
    return this.entries.size;
  }

  private get(key: string, owner: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    // Re-inserted: a Map iterates in insertion order, so the first key is the least recently used.
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.own(key, entry, owner);
    return entry.value;
  }

  private set(key: string, value: V, owner: string): void {
    const old = this.entries.get(key);
    if (old) this.byOwner.get(old.owner)?.delete(key);
    this.entries.delete(key);
    const entry = { value, owner };
    this.entries.set(key, entry);
    this.own(key, entry, owner, true);
    if (this.entries.size > this.maxEntries) {
      const [oldest, e] = this.entries.entries().next().value as [string, { owner: string }];
      this.entries.delete(oldest);
      this.byOwner.get(e.owner)?.delete(oldest);
    }
  }

  private own(key: string, entry: { owner: string }, owner: string, fresh = false): void {
    if (!fresh && entry.owner === owner) return;
    if (!fresh) this.byOwner.get(entry.owner)?.delete(key);
    entry.owner = owner;
    let keys = this.byOwner.get(owner);
    if (!keys) this.byOwner.set(owner, (keys = new Set()));
    keys.add(key);
  }
}
