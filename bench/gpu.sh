#!/bin/bash
# The whole GPU bench in one call on a lent GPU machine (see bench/RESULTS.md):
# after `../shared/gpu/pack.sh` and `node bench/build.mjs --pack` here, run this
# there with carry [".gpu", "dist/bench"]. Everything lands in $OUT (five files:
# the device tool brings back only a handful):
#   gpu.txt          the card, its clocks and multiprocessors (for the fp32 peak)
#   results-<card>.json/.html, main.txt
#                    sleeve against tfjs-webgpu and PyTorch on CUDA (IEEE fp32,
#                    cuDNN autotuned), kernels tuned per shape, per-kernel profiles
#   variants.txt     each kernel variant forced in turn (the tuner picks one from
#                    a small probe; these show the rest)
# Each stage has its own time limit, so a slow one cannot take the others' files.
set -u
out=${OUT:?set OUT to a folder}
ln -sfn dist/bench/node_modules node_modules # lets enter.sh's adapter probe find webgpu
card=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
slug=$(echo "${card:-gpu}" | tr 'A-Z' 'a-z' | sed -E 's/[^a-z0-9]+/-/g; s/^-|-$//g')
# The machine's python3 is the one with torch (bench/torch.ts would take /usr/bin/python3 first).
SLEEVE_PYTHON=$(command -v python3) && export SLEEVE_PYTHON
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.sm,clocks.max.mem --format=csv
  python3 -c "import torch; p = torch.cuda.get_device_properties(0); print('torch', torch.__version__, '|', p.name, '|', p.multi_processor_count, 'SMs |', p.total_memory >> 20, 'MiB')" 2>&1
} > "$out/gpu.txt"
bench() { bash .gpu/enter.sh node dist/bench/bench.js "$@"; }
t0=$(date +%s)
timeout -k 5 330 bash -c "$(declare -f bench); bench --quick --budget 280 --engines sleeve,tfjs-webgpu,torch-cuda --tune-shapes --profile --markdown --slug '$slug' --json '$out/results-$slug.json'" > "$out/main.txt" 2>&1
rc=$?
echo "main run: $(($(date +%s) - t0)) s (exit $rc)" >> "$out/gpu.txt"
for v in tiled tiled128 subgroup subgroup4 subgroup8; do
  timeout -k 5 40 bash -c "$(declare -f bench); bench --quick --engines sleeve --filter matmul --variant matmul=$v" >> "$out/variants.txt" 2>&1
done
for v in conv=plain conv=subgroup conv=subgroup16 conv=rows16 conv-grad=direct conv-grad=direct16 conv-grad=rows conv-grad=tiled; do
  [ $(($(date +%s) - t0)) -gt 500 ] && { echo "variants stopped at $v: time" >> "$out/variants.txt"; break; }
  timeout -k 5 40 bash -c "$(declare -f bench); bench --quick --engines sleeve --filter conv2d,conv-transpose,critic --variant $v" >> "$out/variants.txt" 2>&1
done
echo "all: $(($(date +%s) - t0)) s" >> "$out/gpu.txt"
cat "$out/gpu.txt"
grep -h "^[a-z].* — \|sleeve  \|forced\|tuned" "$out/variants.txt" | cut -c1-160
tail -n 80 "$out/main.txt"
