# syntax=docker/dockerfile:1
# zia in a container: `docker build -t zia .`, then see docker-compose.yml or docs/operations.md.
ARG NODE_VERSION=24

# Build stage: the toolchain is here only so better-sqlite3 can compile when no prebuilt binary fits.
FROM node:${NODE_VERSION}-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Runtime stage: the same Node (so the compiled module's ABI matches), no compiler, not root.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    ZIA_DATA_DIR=/data \
    PORT=8000
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/templates ./templates
RUN mkdir -p /data && chown node:node /data
USER node
# The embedded SQLite database lives here; unused when DATABASE_URL points at PostgreSQL.
VOLUME ["/data"]
EXPOSE 8000
# The slim image has no curl: Node's own fetch asks /readyz, which checks the database too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself; zia drains on it and starts no child processes.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/zia"]
CMD ["serve"]
