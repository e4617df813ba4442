# The naive single-stage Dockerfile, for contrast with berth's (figures only, see
# tests/e2e/docker.sh with BERTH_E2E_FIGURES=1): the toolchain, the sources and target/ all end
# up in the image, and every change rebuilds every dependency.
FROM rust:1.95-slim-bookworm
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p echo-daemon --bin echo-daemon
CMD ["/src/target/release/echo-daemon"]
