# Image for one chat instance (used twice by compose/docker-compose.yml). Build context: the repository root.
FROM node:20
WORKDIR /app
COPY package.json package-lock.json ./
# Dev dependencies included: `npm start` runs TypeScript through tsx.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY protocol ./protocol
COPY migrations ./migrations
EXPOSE 8080 61613
CMD ["npm", "start"]
