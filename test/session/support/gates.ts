/**
 * Named gates that hold a request inside its handler until the test opens them: a race set up by
 * events rather than by sleeps. The handler calls `waitAtGate(name)` once its session is loaded; the
 * test waits for `gates.arrived(name, n)` (n requests are inside), does what must happen meanwhile (a
 * logout, Redis going away, another writer), then `gates.open(name)`. Shared by every app of the test
 * process, which is where the test apps run.
 */
interface Gate {
  waiting: number;
  watchers: { count: number; resolve: () => void }[];
  opened: Promise<void>;
  open: () => void;
}

const all = new Map<string, Gate>();

function gate(name: string): Gate {
  let found = all.get(name);
  if (!found) {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    found = { waiting: 0, watchers: [], opened, open };
    all.set(name, found);
  }
  return found;
}

/** The handler's side: counts itself in, and resolves once the test opens the gate. */
export function waitAtGate(name: string): Promise<void> {
  const found = gate(name);
  found.waiting++;
  for (const watcher of found.watchers.filter((w) => found.waiting >= w.count)) watcher.resolve();
  return found.opened;
}

let counter = 0;

export const gates = {
  /** A name no other test uses. */
  unique(label: string): string {
    return `${label}-${++counter}`;
  },
  /** Resolves once `count` requests wait at the gate. */
  arrived(name: string, count = 1): Promise<void> {
    const found = gate(name);
    if (found.waiting >= count) return Promise.resolve();
    return new Promise((resolve) => found.watchers.push({ count, resolve }));
  },
  /** Lets every request at the gate, and every later one, through. */
  open(name: string): void {
    gate(name).open();
  },
};
