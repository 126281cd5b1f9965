// kafkajs as this project runs it: the only module that loads the library (the architecture test keeps it so), with
// three fixes installed first. kafkajs 2.2.4 is unmaintained; each fix replaces one internal and has a test:
// - the producer's send (kafkajs-send-messages.ts): a partition whose leader moved between two attempts is sent
//   again instead of silently dropped, and never while an earlier request for it may still land;
// - the consumer's fetcher (kafkajs-fetcher.ts): its loop can spin on answers that need no I/O and freeze the process;
// - the request queue's 1 ms timer loop (kafkajs-request-queue-fix.ts);
// and one rule: a throughput group's fetch after an empty one waits for a single record (kafkajs-idle-fetch.ts).
// The first two are modules kafkajs takes when it loads, so they go into the module cache before kafkajs is loaded.
import { createRequire } from 'node:module';
import type * as KafkaJS from 'kafkajs';
import { createFetcher } from './kafkajs-fetcher.js';
import { installIdleFetch } from './kafkajs-idle-fetch.js';
import { fixKafkajsRequestQueue } from './kafkajs-request-queue-fix.js';
import { createSendMessages } from './kafkajs-send-messages.js';

const require = createRequire(import.meta.url);

/** Puts `exports` in the module cache as kafkajs' `internal` module, before kafkajs' own modules take it. */
function replaceInternal(internal: string, takenBy: string, exports: unknown): void {
  const path = require.resolve(`kafkajs/src/${internal}`);
  if (require.cache[path]?.exports === exports) return;
  if (require.cache[require.resolve(`kafkajs/src/${takenBy}`)]) {
    // Loaded before us: it would run the unfixed code. Fail loudly rather than lose records or freeze.
    throw new Error(`kafkajs was loaded before src/kafka/kafkajs.ts installed its fixes; import kafkajs only through that module`);
  }
  const Module = require('node:module') as { new (id: string): NodeJS.Module };
  const fixed = new Module(path);
  fixed.filename = path;
  fixed.loaded = true;
  fixed.exports = exports;
  require.cache[path] = fixed;
}

replaceInternal('producer/sendMessages.js', 'producer/messageProducer.js', createSendMessages);
replaceInternal('consumer/fetcher.js', 'consumer/fetchManager.js', createFetcher);
fixKafkajsRequestQueue();

const kafkajs = require('kafkajs') as typeof KafkaJS;
installIdleFetch();

export const { Kafka, Partitioners, logLevel } = kafkajs;
export type Kafka = KafkaJS.Kafka;
export type { Admin, Consumer, EachBatchPayload, IHeaders, logCreator, Producer, RecordMetadata } from 'kafkajs';
