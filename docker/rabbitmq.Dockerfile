# RabbitMQ from Debian's packages on the shared base: the cloud's ingestion
# queue. The node name is fixed (rabbit@localhost) so its data, which RabbitMQ
# files under the node name, survives the container being recreated.
ARG BASE
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && mkdir -p /etc/rabbitmq /var/lib/rabbitmq \
 && printf 'listeners.tcp.default = 5672\nloopback_users = none\n' > /etc/rabbitmq/rabbitmq.conf \
 && echo '[].' > /etc/rabbitmq/enabled_plugins \
 && chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /etc/rabbitmq
ENV RABBITMQ_NODENAME=rabbit@localhost \
    RABBITMQ_LOGS=- \
    HOME=/var/lib/rabbitmq
USER rabbitmq
VOLUME /var/lib/rabbitmq
HEALTHCHECK --interval=5s --timeout=10s --start-period=20s --retries=20 CMD ["rabbitmq-diagnostics", "-q", "check_port_connectivity"]
ENTRYPOINT ["/usr/lib/rabbitmq/bin/rabbitmq-server"]
