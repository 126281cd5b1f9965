// The web client at `/`: static files from web/, plus the libraries it loads (served from node_modules).
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { WEB_DIR } from '../paths.js';

const require = createRequire(import.meta.url);

export async function registerWebClient(app: FastifyInstance): Promise<void> {
  // The package's "require" entry is bundles/stomp.umd.js; the minified bundle sits beside it.
  const stompBundles = dirname(require.resolve('@stomp/stompjs'));
  await app.register(fastifyStatic, { root: WEB_DIR, prefix: '/', index: ['index.html'], decorateReply: false, cacheControl: false });
  await app.register(fastifyStatic, { root: stompBundles, prefix: '/vendor/stompjs/', decorateReply: false });
  // The operations console's charts (uPlot's browser bundle and stylesheet).
  await app.register(fastifyStatic, { root: dirname(require.resolve('uplot')), prefix: '/vendor/uplot/', decorateReply: false });
  // The console is a view of the web client: /ops opens it.
  app.get('/ops', (_req, reply) => reply.redirect('/#/ops'));
}
