#!/usr/bin/env bash
# Installs the omniloop store agent on Debian or Raspberry Pi OS (arm64, amd64) from a checkout of the
# project, as a hardened systemd service. Run as root; `scripts/install-agent.sh --help` for the options.
set -euo pipefail
shopt -s inherit_errexit
umask 022

readonly PROG=install-agent
readonly UNIT_NAME=omniloop-agent.service
readonly APP_DIR=/opt/omniloop
readonly BIN=/usr/local/bin/omniloop
readonly ETC_DIR=/etc/omniloop
readonly STATE_DIR=/var/lib/omniloop
readonly UNIT_DIR=/etc/systemd/system
readonly KEY_PATH=/etc/omniloop/tenant.key
readonly CONFIG_PATH=/etc/omniloop/agent.yaml
readonly SVC_USER=omniloop
# Copied with the app (scripts/); the unit runs it before every start (ExecStartPre=+).
readonly MONITOR_SCRIPT=$APP_DIR/scripts/monitor-interface.sh
readonly NAME_RE='^[a-z0-9][a-z0-9_-]{0,63}$'
readonly IFACE_RE='^[A-Za-z0-9][A-Za-z0-9_.:-]{0,31}$' # libpcap pseudo-interfaces (bluetooth-monitor) exceed IFNAMSIZ
readonly RADIO_RE='^[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}$' # a kernel interface or phy name (IFNAMSIZ)
readonly BROKER_RE='^(mqtts?|wss?|tcp|ssl)://[^[:space:]]+$'
readonly WRAPPER_MARK='# omniloop wrapper, written by scripts/install-agent.sh (--uninstall removes it).'
# What a build needs from the checkout (tsconfig.build.json compiles these folders).
readonly APP_ITEMS=(package.json package-lock.json tsconfig.json tsconfig.build.json app agents cloud shared scripts)
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly SRC

usage() {
  cat <<EOF
Usage: scripts/install-agent.sh [options]      (as root, from a checkout of omniloop)

Installs the omniloop store agent: system packages, the app in $APP_DIR with $BIN,
the system user $SVC_USER, $ETC_DIR (agent.yaml, tenant.key), $STATE_DIR (the outbox) and
the systemd service $UNIT_NAME (enabled and started).

The config, either
  --config FILE          an agent.yaml to install (keyFile: tenant.key, outbox.path under $STATE_DIR)
or generated from
  --tenant NAME --store NAME --agent NAME   a-z, 0-9, _ and -, up to 64 characters
  --timezone ZONE        the store's IANA time zone, e.g. Europe/Berlin
  --broker-url URL       e.g. mqtts://broker.example.com:8883
  --wifi IFACE           monitor-mode WiFi interface to capture on (e.g. mon0)
  --radio RADIO          with --wifi: the radio to make IFACE on, in monitor mode, before every start of
                         the service (after a reboot or a re-plugged USB adapter too): one of its WiFi
                         interfaces (wlan1) or its phy (phy0) (capture.wifi.radio). Without it IFACE
                         must exist whenever the service starts
  --ble IFACE            Bluetooth interface to capture on (e.g. bluetooth0); at least one of the two
  --control-key KEY      HQ's control public key for the tenant (44 characters of base64, as
                         \`omniloop key control\` prints it): the agent applies only the opt-out lists and
                         segments HQ signed with it (control.publicKeys). Without it, none

The tenant key (every agent of a tenant holds the same one), either
  --key FILE             the tenant's existing key file (32 bytes of base64 on one line)
  --new-key              make a new one with \`omniloop key init\` (first store of a new tenant only)
  (neither)              keep the key already installed

Other options
  --with-bluez           also install bluez (implied by --ble)
  --force                replace an existing, different agent.yaml or tenant.key
  --dry-run              print every action, change nothing
  --root DIR             write the file tree under DIR; no apt, user, owners or systemctl (tests, images)
  --skip-build           with --root: copy the checkout's built dist/ instead of npm ci + npm run build
  --uninstall            stop and remove the service, $APP_DIR and $BIN; keeps $ETC_DIR and
                         $STATE_DIR unless --purge (which also removes the $SVC_USER user)
  -h, --help             this text

Exit codes: 0 done, 1 a step failed, 2 bad usage or bad input.
EOF
}

# --- messages and exits -------------------------------------------------------------------------
say() { printf '%s\n' "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
fail() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }
bad_input() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 2; }
usage_error() { printf '%s: %s (see --help)\n' "$PROG" "$*" >&2; exit 2; }

# Anything not caught explicitly is a failed step: one line, exit 1. Subshells exit quietly and let
# the main shell report.
on_error() {
  if [[ $BASHPID == "$$" ]]; then printf '%s: failed at line %s: %s\n' "$PROG" "$2" "$3" >&2; fi
  exit 1
}
set -E
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR

TMP_FILES=()
STAGE='' STAGE_OWNED=0
cleanup() {
  local f
  for f in "${TMP_FILES[@]}"; do rm -f -- "$f"; done
  # A failed build leaves the installed app untouched; its half-made copy goes.
  if ((STAGE_OWNED)) && [[ -d $STAGE ]]; then rm -rf -- "$STAGE"; fi
}
trap cleanup EXIT

quote() {
  local out='' a
  for a in "$@"; do out+="${out:+ }$(printf '%q' "$a")"; done
  printf '%s' "$out"
}

# --- actions: every change goes through these, so --dry-run shows all of them --------------------
run() {
  if ((DRY)); then say "would run: $(quote "$@")"; return 0; fi
  say "+ $(quote "$@")"
  local rc=0
  "$@" || rc=$?
  if ((rc != 0)); then fail "$(quote "$@") failed (exit $rc)"; fi
}

run_in() {
  local dir=$1
  shift
  if ((DRY)); then say "would run: (in $dir) $(quote "$@")"; return 0; fi
  say "+ (in $dir) $(quote "$@")"
  local rc=0
  (cd "$dir" && "$@") || rc=$?
  if ((rc != 0)); then fail "$(quote "$@") in $dir failed (exit $rc)"; fi
}

# Owners only exist on the live system; under --root the target sets them (see the closing note).
set_owner() {
  if [[ -z $ROOT ]]; then chown "$2" "$1"; fi
}

# put_content DEST MODE OWNER:GROUP TEXT: written beside DEST with its final mode, then renamed, so
# a reader never sees a half-written file and a key is never readable by others, not even briefly.
put_content() {
  local dest=$1 mode=$2 owner=$3 text=$4 tmp
  if ((DRY)); then say "would write: $dest ($mode $owner)"; return 0; fi
  tmp=$(mktemp "$(dirname "$dest")/.install-agent.XXXXXX")
  TMP_FILES+=("$tmp")
  printf '%s\n' "$text" >"$tmp"
  chmod "$mode" "$tmp"
  set_owner "$tmp" "$owner"
  mv -f -- "$tmp" "$dest"
  say "wrote: $dest ($mode $owner)"
}

put_file() {
  local src=$1 dest=$2 mode=$3 owner=$4 tmp
  if ((DRY)); then say "would write: $dest ($mode $owner) from $src"; return 0; fi
  tmp=$(mktemp "$(dirname "$dest")/.install-agent.XXXXXX")
  TMP_FILES+=("$tmp")
  cat -- "$src" >"$tmp"
  chmod "$mode" "$tmp"
  set_owner "$tmp" "$owner"
  mv -f -- "$tmp" "$dest"
  say "wrote: $dest ($mode $owner)"
}

# Our own directories: created if missing, mode and owner enforced either way.
make_dir() {
  local dir=$1 mode=$2 owner=$3
  if ((DRY)); then say "would create: $dir ($mode $owner)"; return 0; fi
  mkdir -p -- "$dir"
  chmod "$mode" "$dir"
  set_owner "$dir" "$owner"
  say "created: $dir ($mode $owner)"
}

# System directories (/opt, /usr/local/bin, ...): only created when missing (under --root), never re-moded.
ensure_parent() {
  if [[ -d $1 ]]; then return 0; fi
  run mkdir -p -- "$1"
}

remove() {
  if ((DRY)); then say "would remove: $1"; return 0; fi
  rm -rf -- "$1"
  say "removed: $1"
}

# --- options ------------------------------------------------------------------------------------
MODE=install DRY=0 FORCE=0 PURGE=0 SKIP_BUILD=0 NEW_KEY=0 WITH_BLUEZ=0
ROOT='' CONFIG='' KEY='' TENANT='' STORE='' AGENT='' TIMEZONE='' BROKER='' WIFI='' RADIO='' BLE='' CONTROL_KEY=''

parse_args() {
  local opt val inline
  while (($# > 0)); do
    opt=$1 val='' inline=0
    if [[ $opt == --*=* ]]; then val=${opt#*=} opt=${opt%%=*} inline=1; fi
    case $opt in
      -h | --help | --dry-run | --force | --purge | --skip-build | --new-key | --with-bluez | --uninstall)
        if ((inline)); then usage_error "$opt takes no value"; fi
        case $opt in
          -h | --help) usage; exit 0 ;;
          --dry-run) DRY=1 ;;
          --force) FORCE=1 ;;
          --purge) PURGE=1 ;;
          --skip-build) SKIP_BUILD=1 ;;
          --new-key) NEW_KEY=1 ;;
          --with-bluez) WITH_BLUEZ=1 ;;
          --uninstall) MODE=uninstall ;;
        esac
        ;;
      --root | --config | --key | --tenant | --store | --agent | --timezone | --broker-url | --wifi | --radio | --ble | --control-key)
        if ((!inline)); then
          if (($# < 2)) || [[ $2 == -* ]]; then usage_error "$opt needs a value"; fi
          val=$2
          shift
        fi
        if [[ -z $val ]]; then usage_error "$opt needs a value"; fi
        case $opt in
          --root) ROOT=$val ;;
          --config) CONFIG=$val ;;
          --key) KEY=$val ;;
          --tenant) TENANT=$val ;;
          --store) STORE=$val ;;
          --agent) AGENT=$val ;;
          --timezone) TIMEZONE=$val ;;
          --broker-url) BROKER=$val ;;
          --wifi) WIFI=$val ;;
          --radio) RADIO=$val ;;
          --ble) BLE=$val ;;
          --control-key) CONTROL_KEY=$val ;;
        esac
        ;;
      *) usage_error "unknown option $opt" ;;
    esac
    shift
  done
}

check_usage() {
  if [[ -n $ROOT ]]; then
    if [[ ! -d $ROOT ]]; then usage_error "--root $ROOT is not a directory"; fi
    ROOT=$(cd "$ROOT" && pwd -P)
    if [[ $ROOT == / ]]; then usage_error "--root / is the live system: leave --root out"; fi
  fi
  if [[ $MODE == uninstall ]]; then
    if [[ -n "$CONFIG$KEY$TENANT$STORE$AGENT$TIMEZONE$BROKER$WIFI$RADIO$BLE$CONTROL_KEY" ]] || ((FORCE || SKIP_BUILD || NEW_KEY || WITH_BLUEZ)); then
      usage_error "--uninstall takes only --purge, --root and --dry-run"
    fi
    return 0
  fi
  if ((PURGE)); then usage_error "--purge goes with --uninstall"; fi
  if ((SKIP_BUILD)) && [[ -z $ROOT ]]; then usage_error "--skip-build goes with --root (the live system needs the app's node_modules built)"; fi
  if [[ -n $KEY ]] && ((NEW_KEY)); then usage_error "--key and --new-key are alternatives: give one"; fi
  if [[ -n $CONFIG ]]; then
    if [[ -n "$TENANT$STORE$AGENT$TIMEZONE$BROKER$WIFI$RADIO$BLE$CONTROL_KEY" ]]; then
      usage_error "--config and --tenant/--store/--agent/--timezone/--broker-url/--wifi/--radio/--ble/--control-key are alternatives: give one (capture.wifi.radio in the file)"
    fi
    if [[ ! -f $CONFIG || ! -r $CONFIG ]]; then bad_input "--config $CONFIG: no such readable file"; fi
    return 0
  fi
  local missing=() flag
  for flag in tenant store agent timezone broker-url; do
    case $flag in
      tenant) [[ -n $TENANT ]] || missing+=("--$flag") ;;
      store) [[ -n $STORE ]] || missing+=("--$flag") ;;
      agent) [[ -n $AGENT ]] || missing+=("--$flag") ;;
      timezone) [[ -n $TIMEZONE ]] || missing+=("--$flag") ;;
      broker-url) [[ -n $BROKER ]] || missing+=("--$flag") ;;
    esac
  done
  if ((${#missing[@]} > 0)); then usage_error "missing ${missing[*]} (or --config FILE)"; fi
  # The same rule as the agent config: these names become part of MQTT topics.
  local what val
  for what in tenant store agent; do
    case $what in
      tenant) val=$TENANT ;;
      store) val=$STORE ;;
      agent) val=$AGENT ;;
    esac
    if [[ ! $val =~ $NAME_RE ]]; then
      bad_input "--$what \"$val\" must be 1-64 characters of a-z, 0-9, _ and -, starting with a letter or digit (it becomes part of MQTT topics)"
    fi
  done
  if [[ ! $TIMEZONE =~ ^[A-Za-z0-9_+/-]+$ ]]; then bad_input "--timezone \"$TIMEZONE\" is not an IANA time zone (for example Europe/Berlin)"; fi
  if [[ ! $BROKER =~ $BROKER_RE ]]; then bad_input "--broker-url \"$BROKER\" must be a URL such as mqtts://broker.example.com:8883"; fi
  if [[ -z $WIFI && -z $BLE ]]; then usage_error "give --wifi IFACE and/or --ble IFACE: the agent needs something to capture on"; fi
  if [[ -n $WIFI && ! $WIFI =~ $IFACE_RE ]]; then bad_input "--wifi \"$WIFI\" is not a network interface name"; fi
  if [[ -n $BLE && ! $BLE =~ $IFACE_RE ]]; then bad_input "--ble \"$BLE\" is not a network interface name"; fi
  if [[ -n $RADIO && -z $WIFI ]]; then usage_error "--radio goes with --wifi IFACE (the monitor interface to make on it)"; fi
  if [[ -n $RADIO && ! $RADIO =~ $RADIO_RE ]]; then bad_input "--radio \"$RADIO\" is not a WiFi interface or radio name (such as wlan1 or phy0: see iw dev)"; fi
  if [[ -n $RADIO && ! $WIFI =~ $RADIO_RE ]]; then bad_input "--wifi \"$WIFI\" is too long for a monitor interface to make (1-15 characters, such as mon0)"; fi
  if [[ -n $CONTROL_KEY && ! $CONTROL_KEY =~ ^[A-Za-z0-9+/]{43}=$ ]]; then bad_input "--control-key must be 44 characters of base64, as \`omniloop key control\` prints it"; fi
  if [[ -n $BLE ]]; then WITH_BLUEZ=1; fi
}

# --- checks that change nothing ------------------------------------------------------------------
NODE=''
check_node() {
  NODE=$(command -v node || true)
  local fix='install Node.js 20 or newer system-wide, e.g. from NodeSource: curl -fsSL https://deb.nodesource.com/setup_20.x | bash - && apt-get install -y nodejs (Debian 12 / Raspberry Pi OS bookworm ship 18)'
  if [[ -z $NODE ]]; then fail "Node.js is not installed: $fix"; fi
  local major
  major=$("$NODE" -p 'process.versions.node.split(".")[0]' 2>/dev/null || true)
  if [[ ! $major =~ ^[0-9]+$ ]]; then fail "$NODE does not run: $fix"; fi
  if ((major < 20)); then fail "Node.js $("$NODE" --version) at $NODE is too old: $fix"; fi
  if [[ ! $NODE =~ ^/[A-Za-z0-9._/+-]+$ ]]; then fail "node at an unusual path ($NODE): $fix"; fi
  # The service runs with ProtectHome=yes: a node from nvm in a home folder is invisible to it.
  case $(readlink -f "$NODE") in
    /home/* | /root/* | /run/user/*)
      if [[ -z $ROOT ]]; then fail "$NODE is in a home folder, which the service cannot see (ProtectHome=yes): $fix"; fi
      warn "$NODE is in a home folder; the target needs node at that path outside /home and /root"
      ;;
  esac
  if [[ -n $TIMEZONE ]] && ! "$NODE" -e 'new Intl.DateTimeFormat("en-US", { timeZone: process.argv[1] })' "$TIMEZONE" 2>/dev/null; then
    bad_input "--timezone \"$TIMEZONE\" is not an IANA time zone (for example Europe/Berlin)"
  fi
}

check_host() {
  if [[ ! -f $SRC/package.json ]] || ! grep -q '"name": "omniloop"' "$SRC/package.json"; then
    fail "$SRC is not an omniloop checkout: run the script from one (scripts/install-agent.sh)"
  fi
  if [[ -n $ROOT ]]; then return 0; fi
  if ((!DRY)) && ((EUID != 0)); then fail "run as root (sudo $0 ...), or preview with --dry-run"; fi
  if ! command -v apt-get >/dev/null; then fail "apt-get not found: this installer is for Debian and Raspberry Pi OS"; fi
  if ! command -v systemctl >/dev/null; then fail "systemctl not found: the agent runs as a systemd service"; fi
}

# The key as the agent reads it: one line of base64 that decodes to exactly 32 bytes.
KEY_LINE=''
read_key() {
  local file=$1 text
  if [[ ! -f $file || ! -r $file ]]; then bad_input "--key $file: no such readable file"; fi
  if (($(wc -c <"$file") > 256)); then bad_input "--key $file is not a key file (32 bytes of base64 on one line, as \`omniloop key init\` writes it)"; fi
  text=$(<"$file")
  text=${text%"${text##*[![:space:]]}"}
  if [[ ! $text =~ ^[A-Za-z0-9+/]{43}=?$ ]] || (($(printf '%s' "$text" | base64 -d 2>/dev/null | wc -c) != 32)); then
    bad_input "--key $file does not hold 32 bytes of base64 on one line (as \`omniloop key init\` writes it)"
  fi
  KEY_LINE=$text
}

generated_config() {
  printf '%s\n' \
    "# Written by scripts/install-agent.sh; after editing: systemctl restart omniloop-agent" \
    "tenant: '$TENANT'" \
    "store: '$STORE'" \
    "agent: '$AGENT'" \
    "timezone: '$TIMEZONE'" \
    "keyFile: $KEY_PATH" \
    "capture:"
  if [[ -n $WIFI && -n $RADIO ]]; then
    printf '  wifi: { interface: %s, radio: %s }\n' "'$WIFI'" "'$RADIO'"
  elif [[ -n $WIFI ]]; then
    printf '  wifi: { interface: %s }\n' "'$WIFI'"
  fi
  if [[ -n $BLE ]]; then printf '  ble: { interface: %s }\n' "'$BLE'"; fi
  # Single-quoted YAML: a quote inside doubles.
  printf '%s\n' "broker:" "  url: '${BROKER//\'/\'\'}'" "outbox:" "  path: $STATE_DIR/outbox.db"
  if [[ -n $CONTROL_KEY ]]; then printf '%s\n' "control:" "  publicKeys: ['$CONTROL_KEY']"; fi
}

# Decided before anything changes, so a refusal leaves the machine as it was.
CONFIG_TEXT='' CONFIG_SAME=0 KEY_SAME=0 KEY_EXISTS=0
check_targets() {
  local cfg_dest=$ROOT$CONFIG_PATH key_dest=$ROOT$KEY_PATH
  if [[ -z $CONFIG ]]; then CONFIG_TEXT=$(generated_config); fi
  if [[ -e $cfg_dest ]]; then
    if [[ -n $CONFIG ]] && cmp -s -- "$CONFIG" "$cfg_dest"; then CONFIG_SAME=1; fi
    if [[ -z $CONFIG && $(<"$cfg_dest") == "$CONFIG_TEXT" ]]; then CONFIG_SAME=1; fi
    if ((!CONFIG_SAME && !FORCE)); then bad_input "$cfg_dest exists and differs: refusing to overwrite it without --force"; fi
  fi
  if [[ -n $KEY ]]; then read_key "$KEY"; fi
  if [[ -e $key_dest ]]; then
    KEY_EXISTS=1
    if [[ -n $KEY && $(<"$key_dest") == "$KEY_LINE" ]]; then KEY_SAME=1; fi
    if [[ -n $KEY ]] && ((!KEY_SAME && !FORCE)); then
      bad_input "$key_dest holds another key: refusing to overwrite a tenant key without --force (every Consumer-ID of this store depends on it)"
    fi
    if ((NEW_KEY && !FORCE)); then bad_input "$key_dest exists: refusing to replace the tenant key with a new one without --force"; fi
  elif [[ -z $KEY ]] && ((!NEW_KEY)); then
    usage_error "no tenant key yet: give --key FILE (the tenant's key, shared by all its agents) or --new-key (first store of a new tenant)"
  fi
}

# --- the install --------------------------------------------------------------------------------
install_packages() {
  if [[ -n $ROOT ]]; then return 0; fi
  # libpcap-dev brings the runtime library (libpcap0.8, libpcap0.8t64 on Debian 13) and the headers the
  # optional pcap module builds against; build-essential and python3 are node-gyp's toolchain.
  local pkgs=(libpcap-dev iw build-essential python3)
  if ((WITH_BLUEZ)); then pkgs+=(bluez); fi
  export DEBIAN_FRONTEND=noninteractive
  run apt-get update
  run apt-get install -y --no-install-recommends "${pkgs[@]}"
}

ensure_user() {
  if [[ -n $ROOT ]]; then return 0; fi
  if getent passwd "$SVC_USER" >/dev/null; then
    say "user $SVC_USER exists"
    return 0
  fi
  run useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin --comment 'omniloop store agent' "$SVC_USER"
}

# The app is built beside the installed one and swapped in only once it is complete.
APP_TREE=''
stage_app() {
  STAGE=$ROOT$APP_DIR.new
  ensure_parent "$(dirname "$STAGE")"
  if [[ -e $STAGE ]]; then remove "$STAGE"; fi
  if ((!DRY)); then STAGE_OWNED=1; fi
  run mkdir -p -- "$STAGE"
  local item
  for item in "${APP_ITEMS[@]}"; do run cp -R -- "$SRC/$item" "$STAGE/"; done
  if ((SKIP_BUILD)); then
    run cp -R -- "$SRC/dist" "$STAGE/"
    APP_TREE=$SRC # it has the node_modules that key init and the config check need
  else
    # Dev dependencies (typescript) are needed to build, then pruned; NODE_ENV=production would skip them.
    run_in "$STAGE" npm ci --include=dev --no-audit --no-fund
    run_in "$STAGE" npm run build
    run_in "$STAGE" npm prune --omit=dev --no-audit --no-fund
    APP_TREE=$STAGE
  fi
  if ((!DRY)) && [[ ! -f $STAGE/dist/app/cli/main.js ]]; then fail "the build left no $STAGE/dist/app/cli/main.js"; fi
}

# The agent's own loader judges the config; it prints what the installer must check beyond it.
VALIDATE_JS=$(
  cat <<'EOF'
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
const [dist, file, target] = process.argv.slice(1);
const { loadAgentConfig } = await import(pathToFileURL(join(dist, 'agents/config/agent-config.js')).href);
let c;
try {
  c = loadAgentConfig(file, {}); // no environment overrides: judge the file itself
} catch (e) {
  console.log(String(e.message).replace(/\s+/g, ' '));
  process.exit(3);
}
// Relative paths resolve against the file's folder: report them as they will resolve in the target.
const base = dirname(resolve(file)) + '/';
const at = (p) => (p.startsWith(base) ? join(target, p.slice(base.length)) : p);
const rows = [['tenant', c.tenant], ['keyFile', at(c.keyFile)], ['outbox', at(c.outbox.path)],
  ['captures', String(Number(Boolean(c.capture.wifi)) + Number(Boolean(c.capture.ble)))], ['broker', c.broker ? 'yes' : 'no'],
  ['wifi', c.capture.wifi?.interface ?? ''], ['radio', c.capture.wifi?.radio ?? ''], ['control', c.control ? 'yes' : 'no']];
for (const p of [c.optoutFile, c.broker?.passwordFile, c.broker?.caFile, c.broker?.certFile, c.broker?.keyFile]) if (p) rows.push(['file', at(p)]);
console.log(rows.map((r) => r.join('\t')).join('\n'));
EOF
)
readonly VALIDATE_JS

CFG_TENANT='' CFG_WIFI='' CFG_RADIO=''
check_config() {
  local file=$1 shown=$2 out rc=0 k v
  if ((DRY)); then
    say "would check: $shown with the agent's own config loader"
    return 0
  fi
  out=$("$NODE" --input-type=module -e "$VALIDATE_JS" "$APP_TREE/dist" "$file" "$ETC_DIR") || rc=$?
  if ((rc == 3)) && [[ -n $CONFIG ]]; then bad_input "$out"; fi
  if ((rc == 3)); then fail "the generated agent.yaml does not load (installer bug): $out"; fi
  if ((rc != 0)); then fail "cannot run the agent's config loader from $APP_TREE/dist (exit $rc)"; fi
  while IFS=$'\t' read -r k v; do
    case $k in
      tenant) CFG_TENANT=$v ;;
      keyFile) if [[ $v != "$KEY_PATH" ]]; then bad_input "$shown: keyFile resolves to $v; it must be $KEY_PATH (keyFile: tenant.key), where the installer puts the tenant key"; fi ;;
      outbox) if [[ $v != "$STATE_DIR"/* ]]; then bad_input "$shown: outbox.path resolves to $v; it must be in $STATE_DIR, the only place the service may write"; fi ;;
      captures) if ((v == 0)); then bad_input "$shown names no capture interface (capture.wifi.interface or capture.ble.interface)"; fi ;;
      broker) if [[ $v == no ]]; then warn "$shown names no broker: sightings stay in the outbox"; fi ;;
      control) if [[ $v == no ]]; then warn "$shown has no control.publicKeys: the agent will apply no opt-out list or segments from HQ"; fi ;;
      wifi) CFG_WIFI=$v ;;
      radio) CFG_RADIO=$v ;;
      file) if [[ ! -e $ROOT$v ]]; then warn "$shown names $v, which does not exist yet: put it there, readable by group $SVC_USER"; fi ;;
    esac
  done <<<"$out"
  say "checked: $shown loads (tenant $CFG_TENANT)"
}

install_key() {
  local dest=$ROOT$KEY_PATH stamp
  if ((KEY_SAME)); then say "unchanged: $dest"; return 0; fi
  if [[ -z $KEY ]] && ((!NEW_KEY)); then say "kept: $dest"; return 0; fi
  if ((KEY_EXISTS)); then
    # A replaced tenant key is kept: every Consumer-ID made with it depends on it.
    stamp=$(date +%Y%m%d%H%M%S)
    run mv -- "$dest" "$dest.replaced-$stamp"
  fi
  if [[ -n $KEY ]]; then
    put_content "$dest" 0600 "$SVC_USER:$SVC_USER" "$KEY_LINE"
    return 0
  fi
  run "$NODE" "$APP_TREE/dist/app/cli/main.js" key init --tenant "${CFG_TENANT:-${TENANT:-<tenant of agent.yaml>}}" --out "$dest"
  if ((DRY)); then
    say "would set: $dest (0600 $SVC_USER:$SVC_USER)"
  else
    chmod 0600 "$dest"
    set_owner "$dest" "$SVC_USER:$SVC_USER"
    say "set: $dest (0600 $SVC_USER:$SVC_USER): copy this file to every other agent of the tenant (--key)"
  fi
}

install_config() {
  local dest=$ROOT$CONFIG_PATH
  if ((CONFIG_SAME)); then say "unchanged: $dest"; return 0; fi
  if [[ -n $CONFIG ]]; then
    put_file "$CONFIG" "$dest" 0640 "root:$SVC_USER"
  else
    put_content "$dest" 0640 "root:$SVC_USER" "$CONFIG_TEXT"
  fi
}

swap_app() {
  local app=$ROOT$APP_DIR had_app=0
  # A stale .old (an interrupted run) would swallow the app as a subfolder on mv.
  if [[ -e $app.old ]]; then remove "$app.old"; fi
  if [[ -e $app ]]; then
    had_app=1
    run mv -- "$app" "$app.old"
  fi
  run mv -- "$STAGE" "$app"
  STAGE_OWNED=0
  if ((had_app)); then remove "$app.old"; fi
}

install_wrapper() {
  ensure_parent "$ROOT$(dirname "$BIN")"
  put_content "$ROOT$BIN" 0755 root:root "#!/bin/sh
$WRAPPER_MARK
exec $NODE $APP_DIR/dist/app/cli/main.js \"\$@\""
}

# The monitor interface: the unit's ExecStartPre makes it from capture.wifi.radio before every start.
# Said here, and on the live system done once now, so a missing radio is reported in its own words.
monitor_interface() {
  if [[ -z $CFG_WIFI ]]; then return 0; fi
  if [[ -z $CFG_RADIO ]]; then
    say "note: no radio (--radio or capture.wifi.radio): $CFG_WIFI must exist in monitor mode whenever the service starts, after a reboot or a re-plugged adapter too"
    return 0
  fi
  say "note: the service makes $CFG_WIFI in monitor mode on radio $CFG_RADIO before every start (ExecStartPre=+$MONITOR_SCRIPT --config $CONFIG_PATH)"
  if [[ -n $ROOT ]]; then return 0; fi
  if ((DRY)); then say "would run: $MONITOR_SCRIPT --config $CONFIG_PATH"; return 0; fi
  say "+ $MONITOR_SCRIPT --config $CONFIG_PATH"
  local rc=0
  OMNILOOP_NODE=$NODE "$MONITOR_SCRIPT" --config "$CONFIG_PATH" || rc=$?
  if ((rc != 0)); then
    fail "$CFG_WIFI could not be made on radio $CFG_RADIO (the line above says why): fix that and run the installer again"
  fi
}

install_unit() {
  ensure_parent "$ROOT$UNIT_DIR"
  put_file "$SRC/scripts/systemd/$UNIT_NAME" "$ROOT$UNIT_DIR/$UNIT_NAME" 0644 root:root
  monitor_interface
  if [[ -n $ROOT ]]; then return 0; fi
  run systemctl daemon-reload
  run systemctl enable "$UNIT_NAME"
  # restart, not start: a re-run (an upgrade) must put the new app to work.
  run systemctl restart "$UNIT_NAME"
}

do_install() {
  check_node
  if ((!SKIP_BUILD)) && ! command -v npm >/dev/null; then
    fail "npm is missing: NodeSource's nodejs package includes it; with Debian's nodejs: apt-get install npm"
  fi
  if ((SKIP_BUILD)) && [[ ! -f $SRC/dist/app/cli/main.js || ! -d $SRC/node_modules ]]; then
    fail "--skip-build needs a built checkout ($SRC/dist and node_modules): npm ci && npm run build there"
  fi
  check_targets
  if [[ -z $CONFIG ]]; then CFG_WIFI=$WIFI CFG_RADIO=$RADIO; fi

  install_packages
  ensure_user
  stage_app
  if [[ -n $CONFIG ]]; then
    check_config "$CONFIG" "$CONFIG"
  else
    local gen=''
    if ((!DRY)); then
      gen=$(mktemp)
      TMP_FILES+=("$gen")
      printf '%s\n' "$CONFIG_TEXT" >"$gen"
    fi
    check_config "$gen" "the generated agent.yaml"
  fi
  ensure_parent "$ROOT$(dirname "$ETC_DIR")"
  ensure_parent "$ROOT$(dirname "$STATE_DIR")"
  make_dir "$ROOT$ETC_DIR" 0750 "root:$SVC_USER"
  make_dir "$ROOT$STATE_DIR" 0750 "$SVC_USER:$SVC_USER"
  install_key
  install_config
  swap_app
  install_wrapper
  install_unit

  if ((DRY)); then say "dry run: nothing was changed"; return 0; fi
  if [[ -n $ROOT ]]; then
    say "installed under $ROOT. Left for the target (not done under --root): apt-get install libpcap-dev iw build-essential python3;" \
      "useradd --system --user-group --no-create-home --shell /usr/sbin/nologin $SVC_USER;" \
      "chown root:$SVC_USER $ETC_DIR $CONFIG_PATH; chown $SVC_USER:$SVC_USER $KEY_PATH $STATE_DIR; systemctl enable --now $UNIT_NAME"
    return 0
  fi
  say "installed: $UNIT_NAME is enabled and started. Check it: systemctl status omniloop-agent; journalctl -u omniloop-agent -f; omniloop status"
}

do_uninstall() {
  local unit=$ROOT$UNIT_DIR/$UNIT_NAME bin=$ROOT$BIN
  if [[ -e $unit ]]; then
    if [[ -z $ROOT ]]; then run systemctl disable --now "$UNIT_NAME"; fi
    remove "$unit"
    if [[ -z $ROOT ]]; then run systemctl daemon-reload; fi
  fi
  local dir
  for dir in "$ROOT$APP_DIR" "$ROOT$APP_DIR.new" "$ROOT$APP_DIR.old"; do
    if [[ -e $dir ]]; then remove "$dir"; fi
  done
  if [[ -e $bin || -L $bin ]]; then
    # Only our wrapper: an `npm link`ed or hand-made omniloop stays.
    if grep -qxF -- "$WRAPPER_MARK" "$bin" 2>/dev/null; then remove "$bin"; else warn "left $bin: it is not this installer's wrapper"; fi
  fi
  if ((PURGE)); then
    for dir in "$ROOT$ETC_DIR" "$ROOT$STATE_DIR"; do
      if [[ -e $dir ]]; then remove "$dir"; fi
    done
    if [[ -z $ROOT ]] && getent passwd "$SVC_USER" >/dev/null; then run userdel "$SVC_USER"; fi
  else
    say "kept: $ROOT$ETC_DIR and $ROOT$STATE_DIR (--purge removes them, the tenant key with them)"
  fi
  if ((DRY)); then say "dry run: nothing was changed"; fi
}

parse_args "$@"
check_usage
check_host
if [[ $MODE == uninstall ]]; then do_uninstall; else do_install; fi
