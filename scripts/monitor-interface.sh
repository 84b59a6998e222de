#!/usr/bin/env bash
# Creates the monitor-mode interface the agent captures on (capture.wifi.interface, e.g. mon0) on the
# configured radio (capture.wifi.radio: a WiFi interface such as wlan1, or a phy such as phy0), and
# brings it up. The agent's service runs it before every start (ExecStartPre=+, as root), so a reboot or
# a re-plugged USB adapter gets its monitor interface back. Idempotent: an interface that is already in
# monitor mode is left as it is. `scripts/monitor-interface.sh --help` for the options.
set -euo pipefail
shopt -s inherit_errexit

readonly PROG=monitor-interface
readonly NAME_RE='^[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}$' # a kernel interface or phy name (IFNAMSIZ)
readonly DEFAULT_CONFIG=/etc/omniloop/agent.yaml
readonly WRAPPER=/usr/local/bin/omniloop
APP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly APP

usage() {
  cat <<EOF
Usage: scripts/monitor-interface.sh --config FILE        (as root)
       scripts/monitor-interface.sh --radio RADIO [--interface NAME]

Makes the monitor-mode interface the omniloop agent captures on, if it is not there:
  iw phy PHY interface add NAME type monitor && ip link set NAME up

  --config FILE      take capture.wifi.interface and capture.wifi.radio from an agent.yaml
                     (read with the agent's own loader, from $APP/dist); without a radio
                     there is nothing to do (exit 0). The service passes $DEFAULT_CONFIG.
  --radio RADIO      a WiFi interface of the radio (wlan1: its phy is looked up with \`iw dev wlan1 info\`)
                     or the radio itself (phy0; its number changes when a USB adapter is re-plugged)
  --interface NAME   the monitor interface to make (default mon0)
  -h, --help         this text

An existing NAME in monitor mode is left as it is (brought up if down); an unconnected one in managed
mode is switched to monitor mode; any other (an access point, a connected station) is refused.
Exit codes: 0 done or nothing to do, 1 it could not be done, 2 bad usage or a bad config.
EOF
}

say() { printf '%s: %s\n' "$PROG" "$*"; }
fail() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_error() { printf '%s: %s (see --help)\n' "$PROG" "$*" >&2; exit 2; }

# Anything not caught explicitly: one line, exit 1 (subshells exit quietly and let the main shell report).
on_error() {
  if [[ $BASHPID == "$$" ]]; then printf '%s: failed at line %s: %s\n' "$PROG" "$1" "$2" >&2; fi
  exit 1
}
set -E
trap 'on_error $LINENO "$BASH_COMMAND"' ERR

first_line() {
  local text=$1
  text=${text%%$'\n'*}
  printf '%s' "${text:-no message}"
}

# --- options ------------------------------------------------------------------------------------
CONFIG='' RADIO='' IFACE=''
while (($# > 0)); do
  opt=$1 val='' inline=0
  if [[ $opt == --*=* ]]; then val=${opt#*=} opt=${opt%%=*} inline=1; fi
  case $opt in
    -h | --help)
      if ((inline)); then usage_error "$opt takes no value"; fi
      usage
      exit 0
      ;;
    --config | --radio | --interface)
      if ((!inline)); then
        if (($# < 2)) || [[ $2 == -* ]]; then usage_error "$opt needs a value"; fi
        val=$2
        shift
      fi
      if [[ -z $val ]]; then usage_error "$opt needs a value"; fi
      case $opt in
        --config) CONFIG=$val ;;
        --radio) RADIO=$val ;;
        --interface) IFACE=$val ;;
      esac
      ;;
    *) usage_error "unknown option $opt" ;;
  esac
  shift
done
if [[ -n $CONFIG && -n "$RADIO$IFACE" ]]; then usage_error "--config and --radio/--interface are alternatives: give one"; fi
if [[ -z $CONFIG && -z $RADIO ]]; then usage_error "give --config FILE or --radio RADIO"; fi

# --- the config, read by the agent's own loader -------------------------------------------------
READ_JS=$(
  cat <<'EOF'
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
const [dist, file] = process.argv.slice(1);
const { loadAgentConfig } = await import(pathToFileURL(join(dist, 'agents/config/agent-config.js')).href);
let c;
try {
  c = loadAgentConfig(file); // with the service's environment, as the agent reads it
} catch (e) {
  console.log(String(e.message).replace(/\s+/g, ' '));
  process.exit(3);
}
console.log(`${c.capture.wifi?.interface ?? ''}\t${c.capture.wifi?.radio ?? ''}`);
EOF
)
readonly READ_JS

# The node the installer checked: on PATH, or the one its wrapper runs.
find_node() {
  if [[ -n ${OMNILOOP_NODE:-} ]]; then printf '%s' "$OMNILOOP_NODE"; return 0; fi
  if command -v node; then return 0; fi
  if [[ -r $WRAPPER ]]; then sed -n 's/^exec \(\/[^ ]*node\) .*/\1/p' "$WRAPPER" | head -n 1; fi
}

read_config() {
  local node out rc=0
  if [[ ! -r $CONFIG ]]; then usage_error "--config $CONFIG: no such readable file"; fi
  node=$(find_node || true)
  if [[ -z $node ]]; then fail "node not found (on PATH or in $WRAPPER): it reads $CONFIG"; fi
  if [[ ! -f $APP/dist/agents/config/agent-config.js ]]; then fail "no built app in $APP (dist/agents/config/agent-config.js): it reads $CONFIG"; fi
  out=$("$node" --input-type=module -e "$READ_JS" "$APP/dist" "$CONFIG") || rc=$?
  if ((rc == 3)); then printf '%s: %s\n' "$PROG" "$out" >&2; exit 2; fi
  if ((rc != 0)); then fail "cannot run the agent's config loader from $APP/dist with $node (exit $rc)"; fi
  IFS=$'\t' read -r IFACE RADIO <<<"$out"
  if [[ -z $IFACE ]]; then say "$CONFIG captures no WiFi (no capture.wifi): nothing to set up"; exit 0; fi
  if [[ -z $RADIO ]]; then
    say "$CONFIG has no capture.wifi.radio: nothing to set up ($IFACE must exist in monitor mode when the agent starts)"
    exit 0
  fi
}

if [[ -n $CONFIG ]]; then read_config; fi
IFACE=${IFACE:-mon0}
if [[ ! $RADIO =~ $NAME_RE ]]; then usage_error "radio \"$RADIO\" is not an interface or phy name (wlan1, phy0: see \`iw dev\`)"; fi
if [[ ! $IFACE =~ $NAME_RE ]]; then usage_error "interface \"$IFACE\" is not an interface name (1-15 characters, such as mon0)"; fi

# --- the tools ----------------------------------------------------------------------------------
if ! command -v iw >/dev/null; then fail "iw is not installed: apt-get install iw"; fi
if ! command -v ip >/dev/null; then fail "ip is not installed: apt-get install iproute2"; fi

# OUT and RC of a command that may fail, its stderr included.
OUT='' RC=0
try() {
  RC=0
  OUT=$("$@" 2>&1) || RC=$?
}

# A change: said, run, and explained in one line if it fails.
change() {
  local what=$1
  shift
  say "+ $*"
  try "$@"
  if ((RC == 0)); then return 0; fi
  case $OUT in
    *"Operation not permitted"* | *"(-1)"*) fail "not permitted to $what ($*: $(first_line "$OUT")): run as root (the service does, with ExecStartPre=+)" ;;
    *"Operation not supported"* | *"(-95)"*) fail "cannot $what: the radio's driver does not support monitor mode ($*: $(first_line "$OUT"))" ;;
    *RF-kill*) fail "cannot $what: the radio is blocked by rfkill (rfkill unblock wifi)" ;;
    *) fail "cannot $what: $* failed (exit $RC): $(first_line "$OUT")" ;;
  esac
}

# The WiFi interfaces `iw dev` lists, for messages: "wlan0 (phy0, managed), mon0 (phy1, monitor)".
present() {
  local list
  try iw dev
  list=$(printf '%s\n' "$OUT" | awk '
    /^phy#[0-9]+/ { phy = "phy" substr($1, 5); name = ""; next }
    $1 == "Interface" { name = $2; next }
    $1 == "type" && name != "" { sub(/^[ \t]*type /, ""); printf "%s%s (%s, %s)", sep, name, phy, $0; sep = ", "; name = "" }')
  printf '%s' "${list:-none}"
}

# "type" and "wiphy" of `iw dev NAME info`; INFO_OK=0 when there is no such interface.
INFO_OK=0 INFO_TYPE='' INFO_PHY=''
dev_info() {
  try iw dev "$1" info
  INFO_OK=$((RC == 0)) INFO_TYPE='' INFO_PHY=''
  if ((!INFO_OK)); then return 0; fi
  INFO_TYPE=$(printf '%s\n' "$OUT" | sed -n 's/^[[:space:]]*type \(.*\)$/\1/p' | head -n 1)
  INFO_PHY=$(printf '%s\n' "$OUT" | sed -n 's/^[[:space:]]*wiphy \([0-9][0-9]*\)$/phy\1/p' | head -n 1)
}

is_up() {
  try ip -o link show dev "$1"
  ((RC == 0)) && [[ $OUT =~ \<([^>]*)\> && ,${BASH_REMATCH[1]}, == *,UP,* ]]
}

# --- an existing interface ----------------------------------------------------------------------
dev_info "$IFACE"
if ((INFO_OK)); then
  case $INFO_TYPE in
    monitor)
      if is_up "$IFACE"; then
        say "$IFACE is in monitor mode${INFO_PHY:+ on $INFO_PHY} and up: left as it is"
      else
        change "bring $IFACE up" ip link set "$IFACE" up
        say "$IFACE is in monitor mode${INFO_PHY:+ on $INFO_PHY}: brought it up"
      fi
      exit 0
      ;;
    managed)
      try iw dev "$IFACE" link
      if ((RC != 0)) || [[ $OUT != *"Not connected"* ]]; then
        fail "$IFACE exists in managed mode and is connected to a network: not switching it to monitor mode (set capture.wifi.interface to another name, such as mon0)"
      fi
      change "take $IFACE down" ip link set "$IFACE" down
      change "switch $IFACE to monitor mode" iw dev "$IFACE" set type monitor
      change "bring $IFACE up" ip link set "$IFACE" up
      say "switched $IFACE${INFO_PHY:+ on $INFO_PHY} from managed to monitor mode and brought it up"
      exit 0
      ;;
    *)
      fail "$IFACE exists in ${INFO_TYPE:-an unknown} mode: not switching it to monitor mode (delete it with iw dev $IFACE del, or set capture.wifi.interface to another name)"
      ;;
  esac
fi

# --- a new one on the radio ---------------------------------------------------------------------
PHY=''
if [[ $RADIO =~ ^phy[0-9]+$ ]]; then
  try iw phy "$RADIO" info
  if ((RC == 0)); then PHY=$RADIO; fi
else
  dev_info "$RADIO"
  if ((INFO_OK)); then PHY=$INFO_PHY; fi
  if ((INFO_OK)) && [[ -z $PHY ]]; then fail "iw dev $RADIO info names no wiphy: cannot tell which radio $RADIO is on"; fi
fi
if [[ -z $PHY ]]; then
  fail "no such radio $RADIO: no WiFi interface or phy of that name (WiFi interfaces here: $(present)); plug the adapter in, or name one that \`iw dev\` lists"
fi

change "add $IFACE on $PHY" iw phy "$PHY" interface add "$IFACE" type monitor
change "bring $IFACE up" ip link set "$IFACE" up
FROM=''
if [[ $RADIO != "$PHY" ]]; then FROM=" (the radio of $RADIO)"; fi
say "created $IFACE in monitor mode on $PHY$FROM and brought it up"
