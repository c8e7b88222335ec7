# Relaybox as a container: the static binary on scratch, nothing else but a CA bundle.
# Build it with `make image` (it stages bin/image/: the binary with CGO_ENABLED=0 and the
# version stamped, the build host's /etc/ssl/certs/ca-certificates.crt, an owner-only data/);
# no base image is pulled. See docs/lab.md.
FROM scratch
COPY bin/image/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY bin/image/relaybox /relaybox
# /data belongs to the user the appliance runs as and is owner-only (0700): the appliance
# refuses a data directory that another user owns or that group or others can write.
COPY --chown=10001:10001 bin/image/rootfs/ /
USER 10001:10001
# relaybox cli, health … find the data directory and the binary (docker exec box relaybox cli);
# a first start listens on every address of the container, not on its loopback only.
ENV PATH=/:/usr/local/bin:/usr/bin:/bin RELAYBOX_DATA=/data RELAYBOX_LISTEN=0.0.0.0
VOLUME /data
# SMTP IncomingMail, SMTP OutgoingMail, HTTPS GUI, SSH
EXPOSE 2525 2587 8443 2222
# serve drains its sessions and exits 0 on SIGTERM (docker stop)
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=15s --start-period=60s --retries=3 CMD ["/relaybox", "health", "--data", "/data"]
ENTRYPOINT ["/relaybox", "serve", "--data", "/data"]
