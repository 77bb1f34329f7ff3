# Every Outpost service: one multi-call binary, run with a different command
# per service (`api`, `hub`, …). Built on the shared Debian base so the base
# layer is stored once; the binary is a release build made on the host.
ARG BASE
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates >/dev/null \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && useradd --system --uid 10001 --home-dir /var/lib/outpost --create-home outpost \
 && install -d -o outpost -g outpost /var/lib/outpost/queue /var/lib/outpost/tls
COPY outpost /usr/local/bin/outpost
USER outpost
WORKDIR /var/lib/outpost
ENV OUTPOST__LOG__FORMAT=json \
    OUTPOST__SERVER__HOST=0.0.0.0 \
    OUTPOST__HUB__HOST=0.0.0.0
# The api's health by default; compose points other services at their own port.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=5 \
  CMD ["outpost", "probe", "http://127.0.0.1:8001/health"]
ENTRYPOINT ["outpost"]
CMD ["api"]
