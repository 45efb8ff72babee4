# syntax=docker/dockerfile:1
# webdial: multi-stage build on Debian (glibc). @livekit/rtc-node ships a prebuilt native binary
# for linux-x64-gnu / linux-arm64-gnu only (no musl): an Alpine image cannot load it.

# --- build: all dependencies, compile TypeScript to dist/ ----------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# --- runtime: production dependencies and compiled code only, as a non-root user -----------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    WEBDIAL_DATA_DIR=/app/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
# The widget (loader, call client, bundled livekit-client) and the pages (/console, /dashboard,
# /history), built by Vite at `npm run build`.
COPY --from=build /app/dist/web ./dist/web
COPY bin ./bin
COPY public ./public
# The main number's spoken prompt (issue 23), read at run time by the LiveKit media adapter.
COPY assets ./assets
COPY schema.graphql ./
RUN mkdir -p /app/data && chown node:node /app/data
# The image's built-in unprivileged user (uid 1000).
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "bin/webdial.js", "serve"]
