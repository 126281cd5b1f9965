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
/** The class path of `version`'s broker jars (.stack/kafka/jars/<version>/*). */
export declare function jarsClassPath(version: string): string;
/** The Kafka version asked for (KAFKA_VERSION), else the project's default. */
export declare function requestedKafkaVersion(env?: NodeJS.ProcessEnv): string;
/** Fetches the broker jars of `version` with Maven unless they are there; true when it fetched them. */
export declare function ensureKafkaJars(opts?: { version?: string; log?: (msg: string) => void }): boolean;
/** The java binary for `version` (JAVA_HOME or PATH), checked against the Java it needs. */
export declare function findJava(version: string): string;
