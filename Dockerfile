# Builds the invsync binary into a small image. Used by docker-compose.yml.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/invsync ./cmd/invsync && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/invsync /usr/local/bin/invsync
# A named volume mounted at /data starts with this directory's ownership.
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/invsync"]
CMD ["serve", "--http-addr", "0.0.0.0:8080", "--data-dir", "/data"]
