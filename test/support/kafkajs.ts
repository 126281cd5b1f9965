// Installed in every test worker (vitest setupFiles): the kafkajs request-queue fix the app installs itself.
import { fixKafkajsRequestQueue } from '../../src/kafka/kafkajs-request-queue-fix.js';

fixKafkajsRequestQueue();
