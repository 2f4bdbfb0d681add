#!/usr/bin/env bash
# Lifeboat repository vs restic vs borg on one realistic disk image, in one run.
#
#   bash bench/repo-vs-restic.sh [--size 4G] [--work DIR] [--runs 3] [--tools "lifeboat restic borg"]
#                                [--keep] [--reuse-image] [--out DIR] [--wait-quiet SECONDS] [--keep-env]
#
# Builds a deterministic ext4 image (recipe: ../shared/research/baseline.md §1, random data from a seeded
# generator), applies a 2 % change set of 512 KiB blocks to a copy, then times every command whole-process with
# /usr/bin/time: full backup into a fresh repository (init + backup; init alone separately), incremental after the
# change (Lifeboat with the changed-block list and without it; restic and borg re-read everything), restore to a
# file (verified with sha256 against the source). Prints a table and writes it under bench/results/.
# See bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ARGS="$*"
SIZE_ARG=4G
WORK=$ROOT/bench/work/repo-vs-restic
RUNS=3
TOOLS="lifeboat restic borg"
KEEP=0
REUSE=0
OUT=$ROOT/bench/results
WAIT_QUIET=0

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --size) SIZE_ARG=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --tools) TOOLS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --reuse-image) REUSE=1; KEEP=1; shift ;;
    --out) OUT=$2; shift 2 ;;
    --wait-quiet) WAIT_QUIET=$2; shift 2 ;;
    --keep-env) KEEP_ENV=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

has_tool() { case " $TOOLS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
say() { printf '\n== %s\n' "$*"; }
die() { printf 'repo-vs-restic: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------------- preflight
missing=()
for t in mkfs.ext4:e2fsprogs /usr/bin/time:time openssl:openssl shuf:coreutils; do
  command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
done
has_tool restic && { command -v restic >/dev/null 2>&1 || missing+=(restic); }
has_tool borg && { command -v borg >/dev/null 2>&1 || missing+=(borgbackup); }
command -v node >/dev/null 2>&1 || die "node (>= 20) is not on the PATH"
if [ ${#missing[@]} -gt 0 ]; then
  die "missing tools; install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
fi
LB=$ROOT/packages/cli/bin/lifeboat.js
if has_tool lifeboat; then
  [ -f "$ROOT/packages/cli/dist/main.js" ] || die "Lifeboat is not built: run 'npm ci && npm run build' in $ROOT"
  newer=$(find "$ROOT/packages/cli/src" "$ROOT/packages/repository/src" -name '*.ts' -newer "$ROOT/packages/cli/dist/main.js" 2>/dev/null | head -1)
  [ -z "$newer" ] || echo "warning: $newer is newer than packages/cli/dist/main.js; run 'npm run build' to benchmark the current sources" >&2
fi

SIZE=$(numfmt --from=iec "${SIZE_ARG%iB}" 2>/dev/null) || die "bad --size $SIZE_ARG (use e.g. 4G, 256M)"
BS=$((512 * 1024))
[ $((SIZE % BS)) -eq 0 ] && [ "$SIZE" -ge $((64 * 1024 * 1024)) ] || die "--size must be a multiple of 512 KiB and >= 64M"
NBLOCKS=$((SIZE / BS))
NCHANGED=$(( (NBLOCKS * 164 + 4096) / 8192 )); [ "$NCHANGED" -ge 1 ] || NCHANGED=1   # 164 of 8192 blocks = 2 %
SIZE_LABEL=$(numfmt --to=iec "$SIZE")

export LIFEBOAT_PASSWORD=bench RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench
# A machine-wide NODE_EXTRA_CA_CERTS makes every Node process parse that bundle before running any code (0.04 s
# per process here, measured); a local repository needs no TLS, and the other tools pay nothing comparable at
# start, so the comparison runs without it (--keep-env keeps it: the figures then include that cost).
[ "${KEEP_ENV:-0}" = 1 ] || unset NODE_EXTRA_CA_CERTS
export XDG_CACHE_HOME=$WORK/rcache BORG_BASE_DIR=$WORK/bbase
# Lifeboat's local index cache gets the treatment restic's cache gets: its own folder, kept from the full backup
# and copied in before each incremental (without it, it followed XDG_CACHE_HOME and restic's runs wiped it).
export LIFEBOAT_CACHE=$WORK/lcache
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_CHECK_I_KNOW_WHAT_I_AM_DOING=NO
export LB W=$WORK
unset RESTIC_REPOSITORY BORG_REPO LIFEBOAT_REPO
export LC_ALL=C

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN=$OUT/repo-vs-restic-$SIZE_LABEL-$STAMP.tmp      # raw records and logs (gitignored)
mkdir -p "$RUN/logs" "$WORK"
TIMES=$RUN/times.tsv SIZES=$RUN/sizes.tsv CHECKS=$RUN/checks.tsv
printf 'tool\tstep\trun\twall\tuser\tsys\trss_kib\tother_cpu\tkthreads_cpu\tsteal\tload1\n' >"$TIMES"
: >"$SIZES"; : >"$CHECKS"

cleanup() {
  local rc=$?
  if [ "$KEEP" = 0 ]; then rm -rf "$WORK"; else echo "work files kept in $WORK" >&2; fi
  [ $rc -eq 0 ] || echo "repo-vs-restic: FAILED (rc=$rc); logs in $RUN/logs" >&2
}
trap cleanup EXIT

TCK=$(getconf CLK_TCK)
MYPG=$(ps -o pgid= $$ | tr -d ' ')
# CPU ticks used so far by processes outside this benchmark's process group (user space; the CPU of reaped
# children is in their parent's cutime/cstime) and by kernel threads (writeback, kswapd: partly caused by us).
other_ticks() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v pg="$MYPG" '{
    pid = $1; s = $0; sub(/^.*\) /, "", s); split(s, a, " ")
    t = a[12] + a[13] + a[14] + a[15]
    if (pid == 2 || a[2] == 2) k += t; else if (a[3] != pg) f += t
  } END { printf "%d %d\n", f, k }'
}
steal_ticks() { local _c u n s idle iow irq sirq steal; read -r _c u n s idle iow irq sirq steal _ </proc/stat; echo "$steal"; }

# --wait-quiet S: before each timed command, wait (at most S seconds) until other processes used < 5 % of one core
# over half a second. For machines shared with other jobs; the waits are not timed. Total waiting is reported.
WAITED=0
wait_quiet() {
  [ "$WAIT_QUIET" -gt 0 ] || return 0
  local start=$SECONDS a b
  while [ $((SECONDS - start)) -lt "$WAIT_QUIET" ]; do
    read -r a _ < <(other_ticks); sleep 0.5; read -r b _ < <(other_ticks)
    [ $(((b - a) * 1000 / TCK)) -lt 25 ] && break
  done
  WAITED=$((WAITED + SECONDS - start))
}

# timed TOOL STEP RUN CMD...: whole-process wall/user/sys/peak RSS with /usr/bin/time, plus the CPU time that other
# processes used meanwhile. Fails the benchmark on a non-zero exit.
timed() {
  local tool=$1 step=$2 run=$3; shift 3
  local log=$RUN/logs/$tool-$step-$run f0 k0 s0 f1 k1 s1 load1
  case $step in
    *+sync) ;;
    *) wait_quiet; [ ${#WARM[@]} -eq 0 ] || warm "${WARM[@]}"; WARM=(); sync ;;   # warm, then flush, untimed
  esac
  read -r load1 _ </proc/loadavg
  read -r f0 k0 < <(other_ticks); s0=$(steal_ticks)
  if ! /usr/bin/time -f '%e %U %S %M' -o "$log.time" "$@" >"$log.out" 2>"$log.err"; then
    echo "command failed: $*" >&2; tail -20 "$log.err" >&2; tail -3 "$log.time" >&2; exit 1
  fi
  read -r f1 k1 < <(other_ticks); s1=$(steal_ticks)
  local wall user sys rss other kthr steal
  read -r wall user sys rss < <(tail -1 "$log.time")
  read -r other kthr steal < <(awk -v t="$TCK" -v f="$((f1 - f0))" -v k="$((k1 - k0))" -v s="$((s1 - s0))" \
    'BEGIN { if (k < 0) k = 0; printf "%.2f %.2f %.2f\n", f / t, k / t, s / t }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$step" "$run" "$wall" "$user" "$sys" "$rss" "$other" "$kthr" "$steal" "$load1" >>"$TIMES"
  printf '  %-9s %-15s run %s: %7.2f s wall, %6.2f s cpu, %4d MiB peak; other processes %5.2f s cpu, kernel threads %4.2f s\n' \
    "$tool" "$step" "$run" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}')" $((rss / 1024)) "$other" "$kthr"
}
WARM=()   # files and directories that the next timed command reads: read right before it (see warm)
# synced TOOL STEP RUN: time the sync that follows a command: the dirty data it left to the kernel (Lifeboat fsyncs
# its packs; restores, of every tool, leave the image to the kernel's writeback unless asked otherwise).
synced() { timed "$1" "$2+sync" "$3" sync; }
# Page cache warm: all timed reads come from memory. This VM runs DAMON proactive reclaim (pageout of page cache
# left unaccessed for ~30 s), so what a command reads is read again right before it, not once per phase.
warm() { find "$@" -type f -exec cat {} + >/dev/null; }
repo_size() { # TOOL WHAT DIR: apparent and allocated bytes
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$(du -sb "$3" | cut -f1)" "$(du -s -B1 "$3" | cut -f1)" >>"$SIZES"
}
sha() { openssl dgst -sha256 -r "$1" | cut -d' ' -f1; }
verify() { # TOOL WHAT FILE EXPECTED_SHA
  local got; got=$(sha "$3")
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$got" "$([ "$got" = "$4" ] && echo ok || echo MISMATCH)" >>"$CHECKS"
  [ "$got" = "$4" ] || die "$1 $2: restored image sha256 $got differs from the source's $4: WRONG RESTORE"
  echo "  $1 $2: sha256 matches the source"
}
snapshot() { (cd "$1" && find . -type f -printf '%P %s %T@ %i\n' | sort); }
last_line() { grep -v '^[[:space:]]*$' "$1" | tail -1; }
lifeboat() { node "$LB" "$@"; }

# ---------------------------------------------------------------------------------------------------- the image
IMG=$WORK/img
gen() { { openssl enc -aes-256-ctr -pass "pass:$1" -nosalt -pbkdf2 </dev/zero 2>/dev/null || true; } | head -c "$2"; }
RECIPE="v1 size=$SIZE changed=$NCHANGED"
build_image() {
  say "building the $SIZE_LABEL image ($NBLOCKS blocks of 512 KiB; $NCHANGED changed for the incremental)"
  rm -rf "$IMG"; mkdir -p "$IMG"
  local src=$IMG/srcdir sysdirs="/usr/share /usr/bin /usr/include /usr/libexec /usr/sbin"
  mkdir -p "$src/data" "$src/dup"
  if [ "$SIZE" -ge $((4 << 30)) ]; then
    # shellcheck disable=SC2086
    cp -a $sysdirs "$src/"                                          # ~1.2 GiB text + binaries, as in baseline.md
  else
    # Smaller images: every k-th system file (sorted list, files up to 1/32 of the image) so that system files
    # stay ~30 % of the image.
    local total budget k
    budget=$((SIZE * 119 / 400))
    # shellcheck disable=SC2086
    find $sysdirs -type f -size -$((SIZE / 32 / 1024))k -printf '%s %p\n' | sort -t' ' -k2 >"$IMG/syslist.all"
    total=$(awk '{ s += $1 } END { print s }' "$IMG/syslist.all"); k=$(( (total + budget - 1) / budget ))
    awk -v k="$k" 'NR % k == 0 { sub(/^[0-9]+ \//, ""); print }' "$IMG/syslist.all" >"$IMG/syslist"
    tar -C / --no-recursion -cf - -T "$IMG/syslist" | tar -C "$src" -xf -
    mv "$src"/usr/* "$src"/ && rmdir "$src/usr"
  fi
  local each=$((SIZE / 32)) i                                       # 8 x 1/32 = 1/4 of the image, incompressible
  for i in 0 1 2 3 4 5 6 7; do gen "rand$i" "$each" >"$src/data/rand$i.bin"; done
  [ -d "$src/bin" ] && cp -a "$src/bin" "$src/dup/bin-copy"          # duplicates (whole files, ext4 decides where)
  cp "$src/data/rand0.bin" "$src/dup/rand0-copy.bin"
  [ -d "$src/include" ] && cp -a "$src/include" "$src/dup/include-copy"
  find "$src" -exec touch -h -d @1700000000 {} +                    # fixed atime/mtime (ctime cannot be fixed)
  CONTENT_BYTES=$(du -sb "$src" | cut -f1)
  truncate -s "$SIZE" "$IMG/disk-full.img"
  E2FSPROGS_FAKE_TIME=1700000000 mkfs.ext4 -q -F -U 6c1f0b4e-7a52-4c59-9d1e-5a3b2f0e8d41 \
    -E hash_seed=0f6a2c1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b -d "$src" "$IMG/disk-full.img"
  rm -rf "$src"
  # The 2 % change set of baseline.md §1: NCHANGED distinct random 512 KiB-aligned blocks, overwritten with
  # seeded random data, on a copy of the image.
  shuf -i 0-$((NBLOCKS - 1)) -n "$NCHANGED" --random-source=<(gen seed $((1 << 30))) >"$IMG/offsets.txt"
  gen changes $((NCHANGED * BS)) >"$IMG/changes.bin"
  cp --sparse=always "$IMG/disk-full.img" "$IMG/disk-inc.img"
  i=0
  while read -r k; do
    dd if="$IMG/changes.bin" of="$IMG/disk-inc.img" bs=512K skip=$i seek="$k" count=1 conv=notrunc status=none
    i=$((i + 1))
  done <"$IMG/offsets.txt"
  rm -f "$IMG/changes.bin"
  sort -n "$IMG/offsets.txt" >"$IMG/changed-blocks.txt"              # for Lifeboat: one block index per line
  echo "$CONTENT_BYTES" >"$IMG/content-bytes"
  echo "$RECIPE" >"$IMG/recipe"
}
if [ "$REUSE" = 1 ] && [ -f "$IMG/recipe" ] && [ "$(cat "$IMG/recipe")" = "$RECIPE" ]; then
  say "reusing the image in $IMG"
else
  t0=$(date +%s); build_image; echo "  built in $(($(date +%s) - t0)) s"
fi
CONTENT_BYTES=$(cat "$IMG/content-bytes")
find "$WORK" -mindepth 1 -maxdepth 1 ! -name img -exec rm -rf {} +   # repositories of an earlier run
say "image census"
SHA_FULL=$(sha "$IMG/disk-full.img"); SHA_INC=$(sha "$IMG/disk-inc.img")
node "$ROOT/bench/lib/census.mjs" "$IMG/disk-full.img" "$IMG/disk-inc.img" "$IMG/changed-blocks.txt" >"$RUN/census.json"
cat "$RUN/census.json"
CHANGED_IN=$IMG/changed-blocks.txt

# ---------------------------------------------------------------------------------------------------- metadata
{
  echo "{"
  echo "  \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo "  \"size\": $SIZE, \"sizeLabel\": \"$SIZE_LABEL\", \"blocks\": $NBLOCKS, \"changedBlocks\": $NCHANGED, \"runs\": $RUNS,"
  echo "  \"contentBytes\": $CONTENT_BYTES, \"allocatedFull\": $(du -B1 "$IMG/disk-full.img" | cut -f1),"
  echo "  \"sha256Full\": \"$SHA_FULL\", \"sha256Inc\": \"$SHA_INC\","
  echo "  \"tools\": \"$TOOLS\","
  echo "  \"nproc\": $(nproc), \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')\","
  echo "  \"memTotalKiB\": $(awk '/MemTotal/ { print $2 }' /proc/meminfo), \"kernel\": \"$(uname -r)\","
  echo "  \"os\": \"$(. /etc/os-release && echo "$PRETTY_NAME")\","
  echo "  \"node\": \"$(node -v)\","
  echo "  \"restic\": \"$(has_tool restic && restic version | head -1)\","
  echo "  \"borg\": \"$(has_tool borg && borg --version)\","
  echo "  \"e2fsprogs\": \"$(mkfs.ext4 -V 2>&1 | head -1)\","
  echo "  \"lifeboatCommit\": \"$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$( [ -n "$(git -C "$ROOT" --no-optional-locks status --porcelain --untracked-files=no -- packages 2>/dev/null)" ] && echo '+dirty')\","
  echo "  \"command\": \"bash bench/repo-vs-restic.sh${ARGS:+ $ARGS}\","
  echo "  \"loadBefore\": \"$(cat /proc/loadavg)\""
  echo "}"
} >"$RUN/meta.json"
T_START=$(date +%s)
read -r JF0 _ < <(other_ticks)

# ---------------------------------------------------------------------------------------------------- init alone
say "repository init alone (x$RUNS)"
for r in $(seq "$RUNS"); do
  if has_tool lifeboat; then
    rm -rf "$W/linit"
    timed lifeboat init "$r" sh -c 'node "$LB" repo init --repo "$W/linit"'
    timed lifeboat kdf+start "$r" sh -c 'node "$LB" points --repo "$W/linit" --json'
  fi
  if has_tool restic; then rm -rf "$W/rinit"; timed restic init "$r" sh -c 'restic -r "$W/rinit" init -q'; fi
  if has_tool borg; then rm -rf "$W/binit" "$BORG_BASE_DIR"; timed borg init "$r" sh -c 'borg init -e repokey "$W/binit"'; fi
done
rm -rf "$W/linit" "$W/rinit" "$W/binit"

# ---------------------------------------------------------------------------------------------------- full backup
say "full backup into a fresh repository, init included (x$RUNS)"
ln -f "$IMG/disk-full.img" "$IMG/disk.img"       # restic and borg back up the same path both times
for r in $(seq "$RUNS"); do
  if has_tool lifeboat; then
    rm -rf "$W/lrepo"; WARM=("$IMG/disk.img")
    timed lifeboat full "$r" sh -c 'node "$LB" repo init --repo "$W/lrepo" && node "$LB" image backup "$W/img/disk.img" --repo "$W/lrepo" --disk root'
    synced lifeboat full "$r"
  fi
  if has_tool restic; then
    rm -rf "$W/rrepo" "$XDG_CACHE_HOME"; WARM=("$IMG/disk.img")
    timed restic full "$r" sh -c 'restic -r "$W/rrepo" init -q && restic -r "$W/rrepo" backup -q "$W/img/disk.img"'
    synced restic full "$r"
  fi
  if has_tool borg; then
    rm -rf "$W/brepo" "$BORG_BASE_DIR"; WARM=("$IMG/disk.img")
    timed borg full "$r" sh -c 'borg init -e repokey "$W/brepo" && cd "$W/img" && borg create "$W/brepo::full" disk.img'
    synced borg full "$r"
  fi
done
if has_tool lifeboat; then
  POINT_FULL=$(last_line "$RUN/logs/lifeboat-full-$RUNS.out")
  [ -n "$POINT_FULL" ] || die "lifeboat image backup printed no restore point id"
  echo "  lifeboat full restore point: $POINT_FULL"
  mv "$W/lrepo" "$W/lrepo-base"; rm -rf "$W/lcache-base"; cp -a "$LIFEBOAT_CACHE" "$W/lcache-base"; repo_size lifeboat full "$W/lrepo-base"
fi
if has_tool restic; then mv "$W/rrepo" "$W/rrepo-base"; mv "$XDG_CACHE_HOME" "$W/rcache-base"; repo_size restic full "$W/rrepo-base"; fi
if has_tool borg; then mv "$W/brepo" "$W/brepo-base"; mv "$BORG_BASE_DIR" "$W/bbase-base"; repo_size borg full "$W/brepo-base"; fi

# ---------------------------------------------------------------------------------------------------- incremental
# Every incremental run starts from a hard-link copy of the base repository (none of the three rewrites an existing
# file in place: checked below) plus a plain copy of restic's / borg's cache; the copy is not timed.
say "incremental after rewriting $NCHANGED blocks (x$RUNS)"
for t in lifeboat restic borg; do has_tool "$t" && snapshot "$W/${t:0:1}repo-base" >"$RUN/base-$t.before"; done
ln -f "$IMG/disk-inc.img" "$IMG/disk.img"
for r in $(seq "$RUNS"); do
  if has_tool lifeboat; then
    export POINT_FULL CHANGED_IN
    rm -rf "$W/lrepo-cbt" "$LIFEBOAT_CACHE"; cp -al "$W/lrepo-base" "$W/lrepo-cbt"; cp -a "$W/lcache-base" "$LIFEBOAT_CACHE"; WARM=("$IMG/disk.img" "$W/lrepo-cbt" "$LIFEBOAT_CACHE")
    timed lifeboat inc-cbt "$r" sh -c 'node "$LB" image backup "$W/img/disk.img" --repo "$W/lrepo-cbt" --disk root --parent "$POINT_FULL" --changed-blocks "$CHANGED_IN"'
    synced lifeboat inc-cbt "$r"
    rm -rf "$W/lrepo-read" "$LIFEBOAT_CACHE"; cp -al "$W/lrepo-base" "$W/lrepo-read"; cp -a "$W/lcache-base" "$LIFEBOAT_CACHE"; WARM=("$IMG/disk.img" "$W/lrepo-read" "$LIFEBOAT_CACHE")
    timed lifeboat inc-read "$r" sh -c 'node "$LB" image backup "$W/img/disk.img" --repo "$W/lrepo-read" --disk root --parent "$POINT_FULL"'
    synced lifeboat inc-read "$r"
  fi
  if has_tool restic; then
    rm -rf "$W/rrepo" "$XDG_CACHE_HOME"; cp -al "$W/rrepo-base" "$W/rrepo"; cp -a "$W/rcache-base" "$XDG_CACHE_HOME"; WARM=("$IMG/disk.img" "$W/rrepo" "$XDG_CACHE_HOME")
    timed restic inc "$r" sh -c 'restic -r "$W/rrepo" backup -q "$W/img/disk.img"'
    synced restic inc "$r"
  fi
  if has_tool borg; then
    rm -rf "$W/brepo" "$BORG_BASE_DIR"; cp -al "$W/brepo-base" "$W/brepo"; cp -a "$W/bbase-base" "$BORG_BASE_DIR"; WARM=("$IMG/disk.img" "$W/brepo" "$BORG_BASE_DIR")
    timed borg inc "$r" sh -c 'cd "$W/img" && borg create "$W/brepo::inc" disk.img'
    synced borg inc "$r"
  fi
done
for t in lifeboat restic borg; do
  has_tool "$t" || continue
  snapshot "$W/${t:0:1}repo-base" >"$RUN/base-$t.after"
  cmp -s "$RUN/base-$t.before" "$RUN/base-$t.after" ||
    die "$t modified files of the base repository in place during the incremental (see $RUN/base-$t.*): the hard-link copy method is invalid for it"
done
if has_tool lifeboat; then
  POINT_CBT=$(last_line "$RUN/logs/lifeboat-inc-cbt-$RUNS.out"); POINT_READ=$(last_line "$RUN/logs/lifeboat-inc-read-$RUNS.out")
  echo "  lifeboat incremental restore points: $POINT_CBT (changed-block list), $POINT_READ (read everything)"
  repo_size lifeboat inc-cbt "$W/lrepo-cbt"; repo_size lifeboat inc-read "$W/lrepo-read"
fi
has_tool restic && repo_size restic inc "$W/rrepo"
has_tool borg && repo_size borg inc "$W/brepo"

# ---------------------------------------------------------------------------------------------------- restore
# Each tool restores its incremental restore point to a file; restic and borg write the whole image (their default),
# Lifeboat writes it sparse (restic 0.14 has no restore --sparse; it came in 0.15). None of them fsyncs it.
say "restore of the incremental restore point to a file (x$RUNS)"
export POINT_CBT
for r in $(seq "$RUNS"); do
  if has_tool lifeboat; then
    rm -f "$W/lout.img"; WARM=("$W/lrepo-cbt")
    timed lifeboat restore "$r" sh -c 'node "$LB" image restore "$POINT_CBT" "$W/lout.img" --repo "$W/lrepo-cbt"'
    synced lifeboat restore "$r"
    [ "$r" = "$RUNS" ] && verify lifeboat restore "$W/lout.img" "$SHA_INC"
    rm -f "$W/lout.img"
  fi
  if has_tool restic; then
    rm -rf "$W/rout"; WARM=("$W/rrepo" "$XDG_CACHE_HOME")
    timed restic restore "$r" sh -c 'restic -r "$W/rrepo" restore latest --target "$W/rout" -q'
    synced restic restore "$r"
    [ "$r" = "$RUNS" ] && verify restic restore "$(find "$W/rout" -type f -name disk.img)" "$SHA_INC"
    rm -rf "$W/rout"
  fi
  if has_tool borg; then
    rm -rf "$W/bout"; mkdir "$W/bout"; WARM=("$W/brepo" "$BORG_BASE_DIR")
    timed borg restore "$r" sh -c 'cd "$W/bout" && borg extract "$W/brepo::inc"'
    synced borg restore "$r"
    [ "$r" = "$RUNS" ] && verify borg restore "$(find "$W/bout" -type f -name disk.img)" "$SHA_INC"
    rm -rf "$W/bout"
  fi
done
T_END=$(date +%s)
read -r JF1 _ < <(other_ticks)
sync

if has_tool lifeboat; then
  say "lifeboat: restore the other two restore points once and verify them"
  rm -f "$W/lout.img"; export POINT_READ; WARM=("$W/lrepo-read")
  timed lifeboat restore-read 1 sh -c 'node "$LB" image restore "$POINT_READ" "$W/lout.img" --repo "$W/lrepo-read"'
  verify lifeboat restore-read "$W/lout.img" "$SHA_INC"
  rm -f "$W/lout.img"; WARM=("$W/lrepo-cbt")
  timed lifeboat restore-full 1 sh -c 'node "$LB" image restore "$POINT_FULL" "$W/lout.img" --repo "$W/lrepo-cbt"'
  verify lifeboat restore-full "$W/lout.img" "$SHA_FULL"
  rm -f "$W/lout.img"
fi
if has_tool lifeboat; then
  say "lifeboat repo check --read-data (once, on the incremental repository)"
  WARM=("$W/lrepo-cbt")
  timed lifeboat check-read-data 1 sh -c 'node "$LB" repo check --repo "$W/lrepo-cbt" --read-data'
fi

awk -v j="$((JF1 - JF0))" -v t="$TCK" -v s="$T_START" -v e="$T_END" \
  -v w="$WAITED" -v q="$WAIT_QUIET" \
  'BEGIN { printf "{\"timedSectionWall\": %d, \"timedSectionOtherCpu\": %.1f, \"waitQuiet\": %d, \"waitedForQuiet\": %d}\n", e - s, j / t, q, w }' >"$RUN/span.json"

# ---------------------------------------------------------------------------------------------------- report
say "results"
mkdir -p "$OUT"
node "$ROOT/bench/lib/report.mjs" "$RUN" "$OUT/repo-vs-restic-$SIZE_LABEL"
echo
echo "raw records: $RUN"
echo "table:       $OUT/repo-vs-restic-$SIZE_LABEL.md (and .json)"
