# syntax=docker/dockerfile:1
# An OCI image that only carries WebAssembly plugins, for the Helm chart's
# plugins.source=image (mounted as an image volume, or copied by an init container).
#   docker build -f deploy/docker/plugins.Dockerfile -t registry.example.com/weft-plugins:1 DIR_WITH_WASM
# For the init-container method the image needs `cp`: build with
#   --build-arg BASE=busybox:1.37.0
ARG BASE=scratch
FROM ${BASE}
COPY *.wasm /plugins/
