#!/usr/bin/env bash
# Proves that README.md's two commands work on a machine with nothing installed by hand: a minimal
# Debian 12 (debootstrap --variant=minbase, with bookworm-updates and bookworm-security as a stock Debian 12
# has them) gets a clean clone of this repository's HEAD at /root/lra-engine, no CUDA toolkit (so the
# build is CPU-only), and runs the commands of README.md's first ```bash block exactly as written there,
# as root in a chroot with a clean environment; the main job is shortened by appending MAIN_ARGS. A
# package that the build, the main job or the tests need but scripts/setup.sh does not install shows up
# as a failing stage with its output: the script stops at the first failing stage and exits non-zero.
#
#   sudo bash scripts/check_fresh_machine.sh          (root: debootstrap, chroot and mounts need it)
#
# Every stage is timed: the minimal root (debootstrapped once, then restored from a cached tarball) and
# the clone, each README command (setup + build + main job, then the tests), a check that /usr/bin/python3
# runs PyTorch, NumPy and matplotlib as installed, and the total. The caches lie outside the clone,
# shared by every clone on the machine (LRA_FRESH_CACHE, by default ~/.cache/lra-engine/fresh-machine):
#   bookworm-minbase-<recipe>.tar.gz  the debootstrapped root; made again when older than 30 days or
#                                     when LRA_FRESH_REFRESH=1
#   apt-archives/                     apt's downloaded .deb files, bind-mounted at /var/cache/apt/archives
#                                     so that python3-torch is downloaded once; the packages are still
#                                     installed afresh by scripts/setup.sh on every run
# The root is unpacked into .fresh-machine/root (git-ignored), made afresh on every run and deleted after
# a passing one (LRA_FRESH_KEEP=1 keeps it); the stages' logs stay in .fresh-machine/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cache=${LRA_FRESH_CACHE:-$HOME/.cache/lra-engine/fresh-machine}
state=$repo/.fresh-machine
root=$state/root
logs=$state/logs
mirror=http://deb.debian.org/debian
suite=bookworm
recipe=1  # bump when the way the root is made changes, so that no tarball of the old recipe is reused
tarball=$cache/$suite-minbase-$recipe.tar.gz
# The main job shortened to 100 steps (its warmup is 10% of the run, so any length works).
main_args=${MAIN_ARGS:---steps 100}
clean_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin  # root's PATH on a stock Debian 12

die() {
  echo "check_fresh_machine: $*" >&2
  exit 1
}

# --- mounts: each is recorded and undone on exit, whatever happened --------------------------------------
mounts=()
mounted_under() {  # the mount points at or below $1
  findmnt -rn -o TARGET | awk -v p="$1" '$0 == p || index($0, p "/") == 1'
}
unmount_all() {
  local i m
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    m=${mounts[$i]}
    # A process left behind by a killed stage can keep a mount busy: detach it lazily then, which still
    # takes it out of the tree, so that deleting the root never reaches through it.
    umount -R "$m" 2>/dev/null || umount -R -l "$m" || echo "check_fresh_machine: could not unmount $m" >&2
  done
  mounts=()
}
mount_in_root() {  # mount_in_root PATH-IN-ROOT MOUNT-ARGUMENTS...
  local target=$root$1
  shift
  mount "$@" "$target"
  mounts+=("$target")
}

# --- stages: each runs with errexit, is logged and timed; the timings are printed however the run ends ---
stage_names=()
stage_secs=()
stage_job=
t_start=$(date +%s)
timed() {  # timed NAME LOG COMMAND...
  local name=$1 log=$2 t0 rc
  shift 2
  echo
  echo "=== check_fresh_machine: $name ==="
  t0=$(date +%s)
  # A function called as `f || ...` runs with errexit off, even for a `set -e` inside it; a subshell that
  # is no operand of || or && keeps it on, so a stage stops at its first failing command. The stage runs
  # as a job in its own process group (set -m), which the exit trap can stop as a whole: bash runs a trap
  # only once the foreground command ends, but interrupts `wait` at once.
  set +e -m
  { (set -e; "$@") 2>&1 | tee "$log"; } </dev/null &
  stage_job=$!
  set +m
  wait "$stage_job"
  rc=$?  # pipefail: the stage's status, not tee's
  stage_job=
  set -e
  stage_names+=("$name")
  stage_secs+=($(($(date +%s) - t0)))
  if ((rc != 0)); then
    echo
    echo "=== check_fresh_machine: FAILED at '$name' (exit $rc); its log: $log ==="
    exit "$rc"
  fi
}
report() {
  local i total
  ((${#stage_names[@]})) || return 0
  echo
  echo "check_fresh_machine: stage timings (min:s)"
  for i in "${!stage_names[@]}"; do
    printf '  %-66s %3d:%02d\n' "${stage_names[$i]}" $((stage_secs[i] / 60)) $((stage_secs[i] % 60))
  done
  total=$(($(date +%s) - t_start))
  printf '  %-66s %3d:%02d\n' "total" $((total / 60)) $((total % 60))
}
on_exit() {
  local rc=$?
  if [[ -n $stage_job ]]; then  # interrupted in the middle of a stage: stop everything it started
    kill -TERM -- "-$stage_job" 2>/dev/null
    wait "$stage_job" 2>/dev/null
  fi
  unmount_all
  report
  if ((rc == 0)); then
    echo "check_fresh_machine: PASSED (logs in $logs)"
  else
    echo "check_fresh_machine: FAILED (exit $rc); logs in $logs, the root is kept in $root" >&2
  fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# --- prerequisites ---------------------------------------------------------------------------------------
(($(id -u) == 0)) || die "needs root (debootstrap, chroot, mounts): sudo bash scripts/check_fresh_machine.sh"
for tool in git tar gzip chroot mount findmnt flock; do
  command -v "$tool" >/dev/null || die "'$tool' not found"
done
if ! command -v debootstrap >/dev/null; then
  echo "check_fresh_machine: installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
head=$(git rev-parse HEAD)
if [[ -n $(git status --porcelain --untracked-files=no) ]]; then
  echo "check_fresh_machine: note: uncommitted changes are not checked; the fresh machine gets HEAD $head"
fi

# The README's commands, read from its first ```bash block so that this check cannot drift from them
# (each line without its comment).
readme_commands=()
while IFS= read -r line; do
  line=${line%%#*}
  line=$(sed -E 's/^[[:space:]]+|[[:space:]]+$//g' <<<"$line")
  [[ -n $line ]] && readme_commands+=("$line")
done < <(awk '/^```bash$/ && !seen {inside = 1; seen = 1; next} inside && /^```/ {exit} inside' README.md)
((${#readme_commands[@]})) || die "README.md has no \`\`\`bash block of commands"
[[ ${readme_commands[*]} == *scripts/run_main.sh* ]] || die "README.md's first bash block has no scripts/run_main.sh"

mkdir -p "$cache/apt-archives/partial" "$state"
exec 8>"$state/lock"
flock -n 8 || die "another check_fresh_machine.sh is running in $repo"

# --- stage 1: the minimal root and the clone -------------------------------------------------------------
make_tarball() {  # runs in the stage's subshell, whose trap removes the temporary root however it ends
  local tmp
  tmp=$(mktemp -d "$cache/debootstrap.XXXXXX")
  # debootstrap mounts /proc and /sys in the new root while it works: never delete through a mount.
  # shellcheck disable=SC2064  # $tmp is local: expand it now, while it is set
  trap "[[ -z \$(mounted_under '$tmp') ]] && rm -rf '$tmp'" EXIT
  debootstrap --variant=minbase "$suite" "$tmp" "$mirror"
  # The sources of a stock Debian 12 (as its container image has them): the release, its updates and
  # the security archive.
  rm -f "$tmp/etc/apt/sources.list"
  printf '%s\n' "Types: deb" "URIs: $mirror" "Suites: $suite $suite-updates" "Components: main" \
    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" "" \
    "Types: deb" "URIs: $mirror-security" "Suites: $suite-security" "Components: main" \
    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" >"$tmp/etc/apt/sources.list.d/debian.sources"
  # A fresh machine starts with no package lists and no downloaded packages.
  rm -rf "${tmp:?}"/var/cache/apt/archives/*.deb "${tmp:?}"/var/lib/apt/lists/*
  tar -C "$tmp" --numeric-owner -czf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
}
restore_root() {
  local m
  # Mounts left by a run that was killed (SIGKILL leaves no trap to run).
  while read -r m; do umount -R -l "$m" 2>/dev/null || true; done < <(mounted_under "$root" | sort -r)
  [[ -z $(mounted_under "$root") ]] || die "something is still mounted under $root; unmount it first"
  rm -rf "$root"
  if [[ -f $tarball && -z ${LRA_FRESH_REFRESH:-} && -z $(find "$tarball" -mtime +30) ]]; then
    echo "restoring the minimal root from $tarball"
  else
    echo "debootstrapping a minimal Debian 12 (once: later runs restore it from $tarball)"
    make_tarball
  fi
  mkdir -p "$root"
  tar -C "$root" --numeric-owner -xzf "$tarball"
  # The tarball's ./ has mktemp's mode 0700; as / that would keep apt's _apt user out of every path
  # (apt then downloads unsandboxed, with a warning a stock Debian never shows).
  chmod 755 "$root"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  [[ ! -e $root/usr/local/cuda ]] || die "the fresh root has a CUDA toolkit"
  # A clean clone of HEAD (not the working tree), as a user gets it.
  git clone -q --no-checkout "$repo" "$root/root/lra-engine"
  git -C "$root/root/lra-engine" fetch -q "$repo" "$head"
  git -C "$root/root/lra-engine" checkout -q --detach "$head"
  echo "cloned $head into /root/lra-engine"
}
rm -rf "$logs"
mkdir -p "$logs"
timed "minimal Debian 12 (debootstrap or restore) + clone of HEAD" "$logs/0-root.log" restore_root

mount_in_root /proc -t proc proc
mount_in_root /sys -t sysfs sysfs
# rslave: unmounting the copies of /dev's submounts must not unmount the host's.
mount_in_root /dev --rbind --make-rslave /dev
mount_in_root /var/cache/apt/archives --bind "$cache/apt-archives"

# --- stages 2..: the README's commands, in order -----------------------------------------------------
in_root() {  # in_root COMMAND-LINE: run as root in the fresh machine's clone with a clean environment
  env -i HOME=/root PATH="$clean_path" chroot "$root" /bin/bash -c "cd /root/lra-engine && $1" </dev/null
}
i=0
for cmd in "${readme_commands[@]}"; do
  i=$((i + 1))
  [[ $cmd == *scripts/run_main.sh* ]] && cmd="$cmd $main_args"
  timed "$cmd" "$logs/$i-$(sed -E 's|.*/||; s/\.sh.*//' <<<"$cmd").log" in_root "$cmd"
done

# What setup.sh installs for Python is not used by the suite yet (the PyTorch parity tests and the
# matplotlib curve plots are coming): check that it works without recommends, as those will use it.
python_check='
import matplotlib, numpy, torch
import matplotlib.pyplot as plt  # no display and no Tk: the default backend must fall back to Agg
x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
(x.softmax(-1) ** 2).sum().backward()
plt.plot(x.grad.numpy().ravel())
plt.savefig("/tmp/oracle.png")
print("torch", torch.__version__, "| numpy", numpy.__version__, "| matplotlib", matplotlib.__version__,
      matplotlib.get_backend())
'
python_in_root() {
  env -i HOME=/root PATH="$clean_path" chroot "$root" /usr/bin/python3 -c "$python_check" </dev/null
}
timed "/usr/bin/python3: torch, numpy, matplotlib" "$logs/$((i + 1))-python.log" python_in_root

# Forget the .debs that the archive no longer offers, so that the shared archive cache stays bounded.
env -i PATH="$clean_path" chroot "$root" apt-get autoclean -qq >/dev/null 2>&1 || true
unmount_all
if [[ -z ${LRA_FRESH_KEEP:-} && -z $(mounted_under "$root") ]]; then
  rm -rf "$root"
fi
