#!/usr/bin/env bash
# One-time (and repeatable) set-up for a checkout: npm dependencies, a WebGPU
# adapter for Node, Chromium for the browser tests, and the dist/ bundles.
#
# A CPU-only Linux box gets WebGPU from Mesa's lavapipe (Vulkan on the CPU).
# Dawn refuses Mesa older than 23, so Debian 12 takes mesa-vulkan-drivers from
# bookworm-backports. Safe to run again: every step checks before it acts.
#
# Environment:
#   SLEEVE_SKIP_BROWSER=1   do not install Chromium (the browser test then skips)
#   SLEEVE_FORCE_NPM=1      run `npm ci` even when node_modules is up to date
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
# playwright-core never downloads browsers by itself; make sure nothing else does.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

did=()
log() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

# ---- npm dependencies ---------------------------------------------------------
command -v node >/dev/null || die "Node.js 20 or newer is required (https://nodejs.org, or Debian: apt-get install nodejs npm)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js 20 or newer is required, found $(node -v)"

if [ -f package-lock.json ]; then
  # npm ci wipes node_modules; skip it when npm already installed exactly this lockfile.
  if [ -z "${SLEEVE_FORCE_NPM:-}" ] && [ -f node_modules/.package-lock.json ] \
     && [ node_modules/.package-lock.json -nt package-lock.json ] && [ node_modules/.package-lock.json -nt package.json ]; then
    log "node_modules is up to date with package-lock.json (npm ci skipped; SLEEVE_FORCE_NPM=1 forces it)"
  else
    log "npm ci"
    npm ci --no-audit --no-fund
    did+=("npm ci")
  fi
else
  log "no package-lock.json: npm install"
  npm install --no-audit --no-fund
  did+=("npm install")
fi

# esbuild's and webgpu's postinstall scripts are not needed on Linux (esbuild's
# JS API finds its platform binary package; webgpu's script only clears a macOS
# quarantine flag), so newer npm releases that hold back unapproved scripts
# still leave a working tree. Check rather than trust that.
node -e "require('esbuild').buildSync({ stdin: { contents: '' }, write: false })" \
  || die "esbuild does not run: try \`npm rebuild esbuild\`"

# ---- WebGPU adapter for Node --------------------------------------------------
# The probe runs in a child process with a timeout: a broken Vulkan stack can
# crash or hang the Dawn addon, and that must read as "no adapter", not kill setup.
probe() {
  local out
  if out=$(timeout 120 node --input-type=module -e "
    import { create, globals } from 'webgpu';
    Object.assign(globalThis, globals);
    const adapter = await create([]).requestAdapter();
    if (!adapter) { console.log('no adapter'); process.exit(1); }
    const device = await adapter.requestDevice();
    const i = adapter.info;
    console.log([i.vendor, i.architecture, i.description].filter(Boolean).join(' / '));
    device.destroy();
    process.exit(0);
  " 2>/tmp/sleeve-probe.$$.err); then
    adapter_desc=$out
    rm -f /tmp/sleeve-probe.$$.err
    return 0
  fi
  probe_error=$(printf '%s %s' "$out" "$(grep -v '^Warning:' /tmp/sleeve-probe.$$.err | tail -n 3)" | tr -s ' \n\t' ' ')
  rm -f /tmp/sleeve-probe.$$.err
  return 1
}

# root, or a sudo that does not ask for a password; else empty and no installs
as_root=""
can_install=0
if command -v apt-get >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then can_install=1
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as_root="sudo"; can_install=1
  fi
fi

os_id=""; os_version=""; os_codename=""
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  os_id=$(. /etc/os-release; echo "${ID:-}")
  os_version=$(. /etc/os-release; echo "${VERSION_ID:-}")
  os_codename=$(. /etc/os-release; echo "${VERSION_CODENAME:-}")
fi

apt_updated=0
apt_update() {
  [ "$apt_updated" -eq 1 ] && return 0
  log "apt-get update"
  # a single unreachable third-party source must not stop the install
  $as_root apt-get update -q || log "apt-get update reported errors; continuing"
  apt_updated=1
}

debian_backports() {
  local suite="${os_codename:-bookworm}-backports"
  if grep -rqs "$suite" /etc/apt/sources.list /etc/apt/sources.list.d/; then return 0; fi
  log "adding Debian $suite to apt sources"
  $as_root tee "/etc/apt/sources.list.d/$suite.sources" >/dev/null <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  did+=("added $suite")
  apt_updated=0
}

driver_help() {
  cat >&2 <<'EOF'
setup: no WebGPU adapter. Node's WebGPU (Dawn, npm package `webgpu`) needs a Vulkan driver:
  - a GPU's own Vulkan driver (NVIDIA proprietary, Mesa radv/anv), with the Vulkan loader libvulkan1; or
  - on a machine without a GPU, Mesa's CPU driver lavapipe, Mesa 23 or newer:
      Debian 12:  add bookworm-backports, then
                  apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1
      Debian 13, Ubuntu 24.04 and newer:
                  apt-get install mesa-vulkan-drivers libvulkan1
      Fedora:     dnf install mesa-vulkan-drivers vulkan-loader
  `vulkaninfo --summary` (package vulkan-tools) shows what the loader finds.
Run `npm run setup` again afterwards.
EOF
}

adapter_desc=""; probe_error=""
if probe; then
  log "WebGPU adapter: $adapter_desc"
else
  log "no WebGPU adapter yet (${probe_error:-no detail})"
  if [ "$can_install" -eq 1 ] && { [ "$os_id" = debian ] || [ "$os_id" = ubuntu ]; }; then
    if [ "$os_id" = debian ] && [ "$os_version" = 12 ]; then
      # Debian 12's own Mesa is 22.3, which Dawn refuses.
      debian_backports
      apt_update
      log "apt-get install -t ${os_codename:-bookworm}-backports mesa-vulkan-drivers libvulkan1"
      $as_root apt-get install -y -q -t "${os_codename:-bookworm}-backports" mesa-vulkan-drivers libvulkan1
    else
      apt_update
      log "apt-get install mesa-vulkan-drivers libvulkan1"
      $as_root apt-get install -y -q mesa-vulkan-drivers libvulkan1
    fi
    did+=("installed mesa-vulkan-drivers libvulkan1")
    if probe; then
      log "WebGPU adapter: $adapter_desc"
    else
      log "still no WebGPU adapter after installing the driver (${probe_error:-no detail})"
      driver_help
      exit 1
    fi
  else
    driver_help
    exit 1
  fi
fi

# ---- Chromium for the browser tests -------------------------------------------
if [ -n "${SLEEVE_SKIP_BROWSER:-}" ]; then
  log "SLEEVE_SKIP_BROWSER set: Chromium not checked (the browser test will skip)"
elif [ -x /usr/bin/chromium ]; then
  log "Chromium: /usr/bin/chromium is present"
elif [ "$can_install" -eq 1 ] && [ "$os_id" = debian ]; then
  apt_update
  log "apt-get install chromium (for the browser test)"
  $as_root apt-get install -y -q chromium
  did+=("installed chromium")
else
  # Ubuntu's chromium package is a snap wrapper; Playwright needs a real binary.
  log "no /usr/bin/chromium: the browser test will skip (Debian: apt-get install chromium)"
fi

# ---- bundles ------------------------------------------------------------------
log "building dist/"
node scripts/build.mjs

if [ ${#did[@]} -eq 0 ]; then
  log "done (nothing needed installing)"
else
  log "done: $(IFS=';'; echo "${did[*]}" | sed 's/;/; /g')"
fi
