// Types of scripts/stack/kafka-admin.mjs for the TypeScript tests.
export interface PartitionState {
  topic: string;
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
}
export declare const TOPICS: ReadonlyArray<{ topic: string; numPartitions: number }>;
export declare function partitionStates(brokers: string[], topics: string[]): Promise<PartitionState[]>;
export declare function withAdmin<T>(brokers: string[], fn: (admin: import('kafkajs').Admin) => Promise<T>): Promise<T>;
