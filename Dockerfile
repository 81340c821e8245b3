# syntax=docker/dockerfile:1
# Build stage: the same steps as .ci/run (npm ci, npm run build). Runtime stage: production dependencies
# only, the compiled dist/ and the migrations; .ci/run proves that tree starts without dev dependencies.

FROM node:22-bookworm-slim AS build
WORKDIR /app
# zstd-napi (backup compression) ships C sources, not binaries: its install script downloads a prebuilt
# binding or, failing that, compiles it with node-gyp against the image's own Node headers (nodedir).
ENV npm_config_nodedir=/usr/local
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The operator console, built by the same npm run build (Vite) into dist/console, which the runtime stage
# copies with the rest of dist/ and `tenantctl serve` serves at /console.
COPY console ./console
RUN npm run build

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# The embedded PostgreSQL of the quick start is an optional dependency; production never uses it. tsx stays:
# it compiles `.ts` tenant migrations when they are loaded.
# Install scripts stay off but esbuild's (tsx's compiler): zstd-napi's would need the build stage's compiler,
# so its binding comes from there instead (the same base image, and Node-API, so it loads here as is).
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund --ignore-scripts && npm rebuild esbuild \
 && npm cache clean --force
COPY --from=build /app/node_modules/zstd-napi/build/Release/binding.node ./node_modules/zstd-napi/build/Release/binding.node
COPY --from=build /app/dist ./dist
COPY control-migrations ./control-migrations
COPY tenant-migrations ./tenant-migrations
# Development state (only outside production: the compose stack's token issuer key). Owned by the runtime
# user so that a volume mounted here is writable.
RUN mkdir -p /app/.data && chown node:node /app/.data
# The image's `node` user (uid 1000); Kubernetes manifests pin runAsUser 1000 to match.
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve"]
