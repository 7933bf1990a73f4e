# A Signpost node in a container: docker build -t signpost . && docker run -p 7070:7070 -v signpost-data:/data signpost
# Every setting is a SIGNPOST_* environment variable (README "Configuration"); the node's identity and its
# LMDB store live in the /data volume, so a restarted container is the same node.

# ---- build: install everything, compile TypeScript, bundle the browser SDK, then drop the dev tools ----
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The lifecycle scripts wait for the sources (prepare builds); bun and deno (dev tools) are not needed here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY config ./config
COPY protocols ./protocols
COPY actors ./actors
COPY runtime ./runtime
COPY scripts ./scripts
COPY bench ./bench
COPY visualiser ./visualiser
RUN npm run build && npm prune --omit=dev --ignore-scripts

# ---- run: the built node, its runtime dependencies, a non-root user ----
FROM node:20-slim
ENV NODE_ENV=production \
    SIGNPOST_HOST=0.0.0.0 \
    SIGNPOST_PORT=7070 \
    SIGNPOST_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/visualiser ./visualiser
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 7070
# Ready once the node has joined the network (GET /healthz answers 200; 503 before).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.SIGNPOST_PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The node itself is PID 1: SIGTERM (docker stop) stops it cleanly, every acknowledged write on disk.
ENTRYPOINT ["node", "bin/signpost.mjs", "node", "start"]
