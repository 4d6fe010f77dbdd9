#!/usr/bin/env bash
# Build the image and run it on test/input as the platform does: no network, /input read-only,
# a non-root user, outputs in test/output. Written by `fracturelab gc build`.
set -euo pipefail
SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" &>/dev/null && pwd)"
VARIANT="${1:-cpu}"                       # cpu or cuda
DOCKER_IMAGE_TAG="${image_tag}-${VARIANT}"
DOCKER_NOOP_VOLUME="${DOCKER_IMAGE_TAG}-volume"
INPUT_DIR="${SCRIPT_DIR}/test/input"
OUTPUT_DIR="${SCRIPT_DIR}/test/output"
GPU_FLAGS=()
if [ "$VARIANT" = "cuda" ]; then GPU_FLAGS=(--gpus all); fi

echo "=+= Building ${DOCKER_IMAGE_TAG}"
docker build "$SCRIPT_DIR" --platform=linux/amd64 --file "$SCRIPT_DIR/Dockerfile.${VARIANT}" --tag "$DOCKER_IMAGE_TAG"

echo "=+= Cleaning up any earlier output"
rm -rf "$OUTPUT_DIR" && mkdir -p "$OUTPUT_DIR" && chmod 777 "$OUTPUT_DIR"

docker volume create "$DOCKER_NOOP_VOLUME" >/dev/null
echo "=+= Running the algorithm on ${INPUT_DIR}"
docker run --rm "${GPU_FLAGS[@]}" --platform=linux/amd64 --network none \
    --user 1000:1000 --memory 15g \
    --volume "$INPUT_DIR":/input:ro \
    --volume "$OUTPUT_DIR":/output \
    --volume "$DOCKER_NOOP_VOLUME":/tmp \
    "$DOCKER_IMAGE_TAG"
docker volume rm "$DOCKER_NOOP_VOLUME" >/dev/null

echo "=+= Outputs in ${OUTPUT_DIR}:"
find "$OUTPUT_DIR" -type f | sort
