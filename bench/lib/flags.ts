// Command-line flags of the bench scenarios on node:util's parseArgs: `--name value` and `--name=value`; a flag
// declared boolean takes no value (`--quick`). Unknown flags and positionals are errors that name the known ones.
import { parseArgs } from 'node:util';

export class Flags {
  private readonly values: Record<string, string | boolean | undefined>;

  /** `known`: flags with a value; `booleans`: flags without one. */
  constructor(args: readonly string[], known: readonly string[], booleans: readonly string[] = []) {
    const options = Object.fromEntries([...known.map((k) => [k, { type: 'string' as const }]), ...booleans.map((k) => [k, { type: 'boolean' as const }])]);
    try {
      this.values = parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
    } catch (err) {
      const names = [...known, ...booleans].map((k) => `--${k}`).join(' ');
      throw new Error(`${(err as Error).message} (known: ${names}; flags are --name value)`, { cause: err });
    }
  }

  private string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }

  num(name: string, fallback: number, min = 0): number {
    const v = this.string(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got ${v}`);
    return n;
  }

  int(name: string, fallback: number, min = 1): number {
    const n = this.num(name, fallback, min);
    if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer`);
    return n;
  }

  list(name: string, fallback: number[], min = 1): number[] {
    const v = this.string(name);
    if (v === undefined) return fallback;
    const out = v.split(',').map((s) => Number(s.trim()));
    if (out.length === 0 || out.some((n) => !Number.isFinite(n) || n < min)) throw new Error(`--${name} must be a comma-separated list of numbers >= ${min}`);
    return out;
  }

  str(name: string, fallback: string): string {
    return this.string(name) ?? fallback;
  }

  /** A boolean flag: true when given. */
  bool(name: string): boolean {
    return this.values[name] === true;
  }
}
