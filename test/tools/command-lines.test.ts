// The tools' command lines, all on node:util's parseArgs: the bench flags, the dead-letter tool and the STOMP CLI.
import { describe, expect, it } from 'vitest';
import { Flags } from '../../bench/lib/flags.js';
import { parseCommandLine } from '../../scripts/dlt.js';
import { UsageError, parse } from '../../scripts/stomp/args.js';

describe('bench flags', () => {
  it('reads --name value and --name=value, numbers, lists and booleans without a value', () => {
    const f = new Flags(['--rates', '500,1000', '--seed=7', '--quick', '--transport', 'tcp'], ['rates', 'seed', 'transport', 'frames'], ['quick', 'stdout']);
    expect(f.list('rates', [1])).toEqual([500, 1000]);
    expect(f.int('seed', 1, 0)).toBe(7);
    expect(f.int('frames', 200)).toBe(200);
    expect(f.str('transport', 'ws')).toBe('tcp');
    expect([f.bool('quick'), f.bool('stdout')]).toEqual([true, false]);
  });

  it('refuses unknown flags (naming the known ones), positionals, missing values and bad numbers', () => {
    expect(() => new Flags(['--nope', '1'], ['seed'])).toThrow(/--nope.*known: --seed/s);
    expect(() => new Flags(['stray'], ['seed'])).toThrow(/stray/);
    expect(() => new Flags(['--seed'], ['seed'])).toThrow(/--seed/);
    expect(() => new Flags(['--seed', 'x'], ['seed']).int('seed', 1)).toThrow('--seed must be a number >= 1, got x');
    expect(() => new Flags(['--seed', '1.5'], ['seed']).int('seed', 1)).toThrow('--seed must be an integer');
    expect(() => new Flags(['--rates', '5,-1'], ['rates']).list('rates', [])).toThrow('comma-separated');
  });
});

describe('scripts/dlt.ts command line', () => {
  it('a command, then options', () => {
    expect(
      parseCommandLine(['replay', '--limit', '5', '--from-offset=12', '--group', 'chat-persist', '--all', '--dry-run', '--json', '--actor', 'ops:ann']),
    ).toEqual({
      command: 'replay',
      sel: { include: 'all', limit: 5, fromOffset: 12n, group: 'chat-persist' },
      json: true,
      dryRun: true,
      actor: 'ops:ann',
    });
    expect(parseCommandLine(['list'])).toMatchObject({ command: 'list', sel: { include: 'pending' }, json: false, dryRun: false });
  });

  it.each([
    [['purge'], 'unknown command purge'],
    [[], 'unknown command (none)'],
    [['list', '--limit', '0'], '--limit must be a positive integer'],
    [['list', '--from-offset', '-1'], '--from-offset'],
    [['discard', '--all'], '--all is for list and replay'],
    [['list', '--dry-run'], '--dry-run is for replay'],
    [['list', '--bogus'], 'bogus'],
    [['list', '--group'], 'group'],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCommandLine(argv)).toThrow(message);
  });
});

describe('scripts/stomp.ts command line', () => {
  it('reads the options into their types', () => {
    const { command, args, opts } = parse([
      'send',
      '42',
      'hello',
      '--tcp',
      '[::1]:61613',
      '--stomp-version',
      '1.1',
      '--heart-beat',
      '0,5000',
      '--limit',
      '7',
      '--url',
      'http://x:1',
    ]);
    expect([command, args]).toEqual(['send', ['42', 'hello']]);
    expect(opts).toMatchObject({
      tcp: { host: '::1', port: 61613 },
      version: '1.1',
      heartBeat: [0, 5000],
      limit: 7,
      url: 'http://x:1',
      ack: 'auto',
      raw: false,
    });
  });

  it.each([
    [['--stomp-version', '2.0'], '--stomp-version'],
    [['--tcp', 'nohost'], '--tcp must be HOST:PORT'],
    [['--heart-beat', '5'], '--heart-beat must be CX,CY'],
    [['--ack', 'maybe'], '--ack must be'],
    [['--limit', '101'], '--limit must be at most 100'],
    [['--since-seq', 'x'], '--since-seq must be a seq'],
    [['--url', 'not a url'], 'is not a URL'],
  ])('refuses %j with a UsageError', (argv, message) => {
    expect(() => parse(['connect', ...argv])).toThrow(UsageError);
    expect(() => parse(['connect', ...argv])).toThrow(message);
  });
});
