# Two images from one file (no Docker engine runs in CI; `make build` builds
# the same static binaries the same way):
#   docker build --target orchestrator -t mcp-orchestrator .   webhook, sidecar, gateway, mcpctl
#   docker build --target mcp-base     -t mcp-base .           runs "base image + command" servers

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=v0.1.0-dev
RUN for b in mcp-webhook mcp-transport mcp-gateway mcpctl; do \
      CGO_ENABLED=0 go build -trimpath \
        -ldflags "-s -w -X github.com/archestra-ai/mcp-orchestrator/internal/version.Version=${VERSION}" \
        -o /out/$b ./cmd/$b || exit 1; \
    done

# All binaries, static, on distroless as the nonroot user (65532), the uid
# the injected sidecar runs as.
FROM gcr.io/distroless/static-debian12:nonroot AS orchestrator
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/mcp-webhook"]

# The MCP server base image: Node.js with npx and Python with uvx, a
# non-root user with a writable HOME (the webhook also mounts an emptyDir
# there, so caches work under a read-only root).
FROM node:22-bookworm-slim AS mcp-base
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates git \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --create-home --home-dir /home/mcp mcp
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /uvx /usr/local/bin/
ENV HOME=/home/mcp \
    NPM_CONFIG_CACHE=/home/mcp/.npm \
    UV_CACHE_DIR=/home/mcp/.cache/uv \
    NPM_CONFIG_UPDATE_NOTIFIER=false
USER 10001:10001
WORKDIR /home/mcp
