#!/bin/bash
# The whole GPU bench in one call on a lent GPU machine (see bench/RESULTS.md):
# after `../shared/gpu/pack.sh` and `node bench/build.mjs --pack` here, run this
# there with carry [".gpu", "dist/bench"]. Everything lands in $OUT: the main
# run against tfjs-webgpu with per-kernel profiles, then each kernel variant
# forced in turn (the tuner picks one from a small probe; these show the rest).
set -u
out=${OUT:?set OUT to a folder}
ln -sfn dist/bench/node_modules node_modules # lets enter.sh's adapter probe find webgpu
card=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
slug=$(echo "${card:-gpu}" | tr 'A-Z' 'a-z' | sed -E 's/[^a-z0-9]+/-/g; s/^-|-$//g')
bench() { bash .gpu/enter.sh node dist/bench/bench.js "$@"; }
bench --quick --engines sleeve,tfjs-webgpu --profile --markdown --slug "$slug" --json "$out/results-$slug.json" > "$out/main.txt" 2>&1
# (few files: the device tool brings back only a handful)
for v in tiled tiled128 subgroup4 subgroup8; do
  bench --quick --engines sleeve --filter matmul --variant matmul=$v >> "$out/variants.txt" 2>&1
done
for v in conv=plain conv=subgroup conv=subgroup16 conv=rows16 conv-grad=direct conv-grad=direct16 conv-grad=rows conv-grad=tiled; do
  bench --quick --engines sleeve --filter conv,critic --variant $v >> "$out/variants.txt" 2>&1
done
for v in lane stride4 stride16; do
  bench --quick --engines sleeve --filter maxpool,batchnorm,features --variant grid=$v >> "$out/variants.txt" 2>&1
done
# submitting every 32 dispatches instead of 512: does the GPU gain by starting while the step is recorded?
bench --quick --engines sleeve --filter step,generator,op-chain --variant submit=32 >> "$out/variants.txt" 2>&1
# the training steps with kernels tuned per shape (tuneShapes), against the adapter-wide choice above
bench --quick --engines sleeve --filter step,generator --tune-shapes >> "$out/variants.txt" 2>&1
grep -h "^[a-z].* — \|sleeve  \|forced\|tuned" "$out/variants.txt" | cut -c1-200
tail -n 75 "$out/main.txt"
