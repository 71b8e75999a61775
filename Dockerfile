# The concbench image for `concbench k8s`: one static binary at /concbench.
#   docker build -t REGISTRY/concbench:$(git describe --always) --build-arg VERSION=$(git describe --always) .
FROM golang:1.26 AS build
WORKDIR /src
# Modules first: they change less often than the source, so this layer caches.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# Static (no cgo): the runtime image has no libc.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/concbench/concbench/cli.Version=${VERSION}" -o /concbench .

# distroless static: CA certificates and tzdata, no shell; runs as uid 65532,
# which satisfies the Job's runAsNonRoot.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /concbench /concbench
USER 65532:65532
ENTRYPOINT ["/concbench"]
