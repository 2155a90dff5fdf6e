// The static inventory: dialer names listed in the config.
import type { Config } from '../config.ts';
import type { Inventory } from '../types.ts';

export function staticInventory(config: Config): Inventory {
  return { dialers: [...new Set(config.targets.dialers)], zones: [] };
}
