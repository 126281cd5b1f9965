# Image for one chat instance (used by compose/docker-compose.yml for app-1, app-2 and the one-shot migrate).
# Build context: the repository root (see .dockerignore).   docker build -f compose/app.Dockerfile -t chat .
#
# Two stages: `build` compiles TypeScript (npm ci with dev dependencies, npm run build -> dist/); the runtime
# stage has production dependencies and compiled JavaScript only, runs as the unprivileged `node` user under
# tini (signals reach node, zombies are reaped), and reports health from /readyz without curl.
# The Node version equals package.json's devDependency "node" (the runtime every npm script uses; checked by
# test/ops/dockerfile.test.ts).

FROM node:24.21.0-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY protocol ./protocol
COPY src ./src
RUN npm run build

FROM node:24.21.0-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
# Read at run time next to dist/: SQL migrations (dist/src/store/migrate-cli.js) and the web client (GET /).
COPY migrations ./migrations
COPY web ./web
USER node
# 9464: /metrics (METRICS_PORT; NODE_ENV=production serves it only there, on METRICS_HOST: set 0.0.0.0 to scrape it
# from another container, as compose does, and do not publish it)
EXPOSE 8080 61613 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
# Migrations: `node dist/src/store/migrate-cli.js` (the compose service `migrate` runs it before the apps).
# --max-semi-space-size=16 as `npm start` (README, "Node's young generation"): idle connections cost less memory.
CMD ["node", "--max-semi-space-size=16", "dist/src/main.js"]
