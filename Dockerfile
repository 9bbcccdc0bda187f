# syntax=docker/dockerfile:1
#
# Homeward's one binary (cmd/homeward) in a small, non-root image. The same image runs
# every role; docker-compose.yml picks it with the command: `api`, `worker`, `simulator`
# or `migrate`. (`dev` needs the pinned Temporal CLI from tools/, which is not in this
# image: it is for one machine, not for containers.)
#
#   docker build -t homeward .
#   docker run --rm homeward migrate

# ---- build ------------------------------------------------------------------------
FROM golang:1.26-bookworm AS build
WORKDIR /src

# Static binary: SQLite comes from modernc.org/sqlite (pure Go) and Postgres from pgx,
# so nothing needs cgo, and the result runs on distroless/static without a libc.
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly

# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY . .
# -trimpath: no build machine paths in the binary (reproducible, nothing leaked);
# -s -w: no symbol table or DWARF, about a third smaller. Panics still print stacks.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w" -o /out/homeward ./cmd/homeward

# ---- run --------------------------------------------------------------------------
# distroless/static: CA certificates (HTTPS to partners), tzdata and /etc/passwd with the
# "nonroot" user (65532), and no shell or package manager. The lack of a shell is also
# why docker-compose.yml has no curl/wget healthcheck for the api: there is nothing in
# the image to run one with.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/homeward /homeward
USER nonroot:nonroot
# 8080: the API (http.address); 8090: the simulator (dev.simulator_address).
EXPOSE 8080 8090
ENTRYPOINT ["/homeward"]
CMD ["api"]
