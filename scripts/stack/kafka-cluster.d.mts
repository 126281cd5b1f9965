// Types of scripts/stack/kafka-cluster.mjs for the TypeScript tests.
export declare const DEFAULT_KAFKA_PORT: number;
export declare function clusterPorts(basePort: number, nodes: number): number[];
export declare function brokersOf(ports: number[], host?: string): string[];
export declare function startKafkaNodes(opts: {
  ports: number[];
  host?: string;
  version?: string;
  log?: (msg: string) => void;
  topics?: boolean;
  fresh?: boolean;
}): Promise<{ brokers: string[]; pids: Array<number | null>; started: number[]; version: string; ms: number }>;
export declare function stopKafkaNodes(opts: { ports: number[]; log?: (msg: string) => void }): Promise<void>;
export declare function killNode(port: number): Promise<void>;
export declare function restartNode(port: number, opts?: { version?: string; heap?: string }): { pid: number; alive(): boolean };
export declare function quorumLeader(brokers: string[], opts?: { version?: string }): number;
export declare function groupCoordinators(brokers: string[], groups: string[], opts?: { version?: string }): Record<string, number>;
