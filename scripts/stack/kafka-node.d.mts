// Types of scripts/stack/kafka-node.mjs for the TypeScript tests.
export declare const DEFAULT_KAFKA_VERSION: string;
export declare const LEGACY_KAFKA_VERSION: string;
export declare function stopNode(port: number, opts?: { log?: (msg: string) => void; termWaitMs?: number }): Promise<string>;
export declare function kafkaServerProperties(opts?: {
  host?: string;
  port?: number;
  nodeId?: number;
  voters?: Array<{ id: number; host: string; port: number }>;
}): string;
