# armlet in a container. ARM is reachable on the published port; the load balancers'
# frontends listen on loopback addresses inside the container, so traffic tests run there
# (or run armlet directly on the host).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bin armlet

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/armlet /usr/local/bin/armlet
VOLUME /data
EXPOSE 8443
ENTRYPOINT ["armlet", "serve", "--listen", "0.0.0.0:8443", "--allow-remote", "--data-dir", "/data"]
