#!/usr/bin/env bash
# Save the image and the model as the tarballs grand-challenge.org takes. Written by
# `fracturelab gc build`.
set -euo pipefail
SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" &>/dev/null && pwd)"
VARIANT="${1:-cpu}"                       # cpu or cuda
DOCKER_IMAGE_TAG="${image_tag}-${VARIANT}"

docker build "$SCRIPT_DIR" --platform=linux/amd64 --file "$SCRIPT_DIR/Dockerfile.${VARIANT}" --tag "$DOCKER_IMAGE_TAG"
echo "=+= Saving ${DOCKER_IMAGE_TAG}.tar.gz (upload as the algorithm's container image)"
docker save "$DOCKER_IMAGE_TAG" | gzip -c > "${SCRIPT_DIR}/${DOCKER_IMAGE_TAG}.tar.gz"
echo "=+= Saving model.tar.gz (upload as the algorithm's model; extracted to /opt/ml/model)"
tar -czf "${SCRIPT_DIR}/model.tar.gz" -C "${SCRIPT_DIR}/model" .
ls -lh "${SCRIPT_DIR}/${DOCKER_IMAGE_TAG}.tar.gz" "${SCRIPT_DIR}/model.tar.gz"
