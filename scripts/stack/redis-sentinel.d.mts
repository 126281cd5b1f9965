// Types of scripts/stack/redis-sentinel.mjs for the TypeScript tests.
export interface SentinelSetOptions {
  /** Folder of the set's configs, pid files and logs. */
  dir?: string;
  name?: string;
  host?: string;
  primaryPort?: number;
  replicaPort?: number;
  sentinelPorts?: readonly number[];
  quorum?: number;
  downAfterMs?: number;
  failoverTimeoutMs?: number;
}
export declare const SENTINEL_DEFAULTS: Readonly<Required<SentinelSetOptions>>;
export declare function redisNodeConf(
  node: { port: number; dir: string; pidfile: string; logfile: string },
  opts?: { host?: string; replicaOf?: number | null },
): string;
export declare function sentinelConf(node: { port: number; dir: string; pidfile: string; logfile: string }, opts?: SentinelSetOptions): string;
export declare function startRedisSentinel(
  opts?: SentinelSetOptions & { log?: (msg: string) => void },
): Promise<{ env: { REDIS_SENTINELS: string; REDIS_SENTINEL_NAME: string }; primary: string; started: boolean }>;
export declare function stopRedisSentinel(opts?: SentinelSetOptions & { log?: (msg: string) => void }): Promise<void>;
export declare function sentinelPrimary(opts?: SentinelSetOptions): Promise<{ host: string; port: number }>;
export declare function redisNodePid(port: number, opts?: SentinelSetOptions): number | null;
export declare function restartRedisNode(port: number, opts?: SentinelSetOptions): void;
export declare function waitForHealthySet(timeoutMs: number, opts?: SentinelSetOptions): Promise<string>;
