# sipreg in a container: the static binary (glibc linked statically, see .cargo/config.toml) on distroless's
# static base, which has no shell and no libc. For the exporter and for CI jobs:
#
#   docker build -t sipreg --build-arg SIPREG_COMMIT="$(git rev-parse --short=12 HEAD)" .
#   docker run --rm sipreg --udp --tcp pbx.example.com
#   docker run -d -p 9116:9116 -v "$PWD/exporter.toml:/etc/sipreg/exporter.toml:ro" -e SIPREG_PASSWORD \
#     sipreg exporter --listen 0.0.0.0:9116 --config /etc/sipreg/exporter.toml
#
# The build image's Rust is the version rust-toolchain.toml pins (tests/shipping.rs checks the tag).

FROM rust:1.95.0-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY .cargo/config.toml .cargo/config.toml
COPY src src
# The build context has no .git: the commit for `sipreg --version` comes in as a build argument.
ARG SIPREG_COMMIT=""
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    SIPREG_COMMIT="$SIPREG_COMMIT" cargo build --release --locked \
    && cp target/*/release/sipreg /usr/local/bin/sipreg

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /usr/local/bin/sipreg /usr/local/bin/sipreg
# The exporter's usual port (as in the README's Prometheus section).
EXPOSE 9116
ENTRYPOINT ["/usr/local/bin/sipreg"]
CMD ["--help"]
