#!/bin/bash
# Loads the seed data into the LearnFlow database, as the seed Job does.
#
# Layout (the Job's ConfigMap mount): seed.sh  data/NN_name.sql
# Environment: PGHOST PGPORT PGDATABASE, PGPASSFILE (where the pgpass file goes), SCHEMA_VERSION (the migration
# the data needs), WAIT_TIMEOUT_SECONDS, SEED_TEST_USERS, CREDENTIALS_DIR with the files login-username (the
# application role's login in use: seeds are plain DML; the role or its twin after a rotation), login-password
# (its password) and, with SEED_TEST_USERS=true, the test
# users' admin-password teacher-password student-password. Those never reach the server: each is hashed
# here and passed to the SQL as SEED_<ROLE>_PASSWORD_HASH.
#
# Every file runs in one transaction and inserts only missing rows, so re-runs change nothing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${PGHOST:?}" "${PGPORT:?}" "${PGDATABASE:?}" "${SCHEMA_VERSION:?}"
wait_timeout="${WAIT_TIMEOUT_SECONDS:-300}"
export PGAPPNAME="${PGAPPNAME:-learnflow-seed}" PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

log() { echo "seed: $*"; }
fail() { echo "seed: error: $*" >&2; exit 1; }
# shellcheck source=credentials.sh
source "$here/credentials.sh"
require_password_files login-username
PGUSER="$(< "$CREDENTIALS_DIR/login-username")"
export PGUSER
write_pgpass

# Prints the bcrypt hash (cost 10) of the password in file $1, made with crypt(3): libxcrypt through
# perl-base, both in every Debian image. Hashed here, a password never reaches the server, so no statement
# that the server logs (log_statement, a slow or a failing statement) can carry it; SQL text cannot hide
# it, and the SET commands that silence the log are for superusers only. $2a$ is what pgcrypto's crypt()
# makes and verifies; for ASCII it equals $2b$.
bcrypt_file() {
  perl -e '
    my ($path) = @ARGV;
    open(my $file, "<", $path) or die "seed: error: cannot read $path: $!\n";
    my $password = do { local $/; <$file> };
    $password =~ s/\n+\z//;
    # Even a test account is reachable through port-forwards; bcrypt reads 72 bytes at most, and its
    # implementations disagree on 8-bit characters.
    $password =~ /\A[\x20-\x7e]{12,72}\z/
      or die "seed: error: $path must hold 12 to 72 printable ASCII characters (from the seed-users Secret)\n";
    open(my $random, "<:raw", "/dev/urandom") or die "seed: error: /dev/urandom: $!\n";
    read($random, my $bytes, 22) == 22 or die "seed: error: /dev/urandom: short read\n";
    my @alphabet = (".", "/", "A" .. "Z", "a" .. "z", "0" .. "9");
    # 128 random bits: 21 characters of 6 bits, then one of the 4 whose low 4 bits are zero.
    my $salt = join("", map { $alphabet[ord($_) % 64] } split(//, substr($bytes, 0, 21))) . (".", "O", "e", "u")[ord(substr($bytes, 21)) % 4];
    my $hash = crypt($password, "\$2a\$10\$$salt");
    defined($hash) && $hash =~ m{\A\$2a\$10\$[./A-Za-z0-9]{53}\z}
      or die "seed: error: crypt(3) of this image makes no bcrypt hashes\n";
    print $hash;
  ' "$1"
}

if [[ "${SEED_TEST_USERS:-false}" == true ]]; then
  for role in admin teacher student; do
    require_password_files "$role-password"
    hash="$(bcrypt_file "$CREDENTIALS_DIR/$role-password")" || exit 1
    export "SEED_${role^^}_PASSWORD_HASH=$hash"
  done
fi

# Applied with kubectl apply -f dist/, this Job starts alongside the migrations Job: it waits until
# the role can log in and the schema has reached the version its data was written for.
wait_for_schema() {
  local deadline=$((SECONDS + wait_timeout)) version problem
  while true; do
    if version="$(psql -X -qAt -c "SELECT coalesce(max(version), '') FROM public.schema_migrations" 2>&1)"; then
      [[ "$version" > "$SCHEMA_VERSION" || "$version" == "$SCHEMA_VERSION" ]] && return 0
      problem="schema is at version '${version:-none}', the seed needs $SCHEMA_VERSION"
    else
      # libpq adds a line naming the pgpass file when a password from it is refused: keep the reason.
      problem="${version##*FATAL:  }" problem="${problem%%$'\n'*}"
    fi
    if ((SECONDS >= deadline)); then
      fail "gave up after ${wait_timeout}s waiting for $PGDATABASE at $PGHOST:$PGPORT: $problem (has the migrations Job run?)"
    fi
    log "waiting: $problem"
    sleep 2
  done
}

shopt -s nullglob
files=("$here"/data/*.sql)
((${#files[@]} > 0)) || fail "no seed files found in $here/data"

wait_for_schema
for file in "${files[@]}"; do
  log "loading $(basename "$file")"
  psql -X -q -v ON_ERROR_STOP=1 --single-transaction --output=/dev/null -f "$file"
done
log "done"
