#!/usr/bin/env bash
# Install or upgrade SecureStore on this machine (Amazon Linux 2023 or Debian 12), as root:
# Python 3.11, nginx and certbot; the package in /opt/securestore/venv, owned by root; the
# service user; /etc/securestore/securestore.env with a generated SECRET_KEY; the database
# schema; the systemd units and the backup sync timer; the nginx site and a TLS certificate.
#
# deploy/cloudformation.yaml runs it at first boot, from the release it installs; on an
# existing machine run it by hand (docs/deployment.md). Running it again converges: the
# package given is installed over the old one, the settings file keeps everything the options
# do not change (SECRET_KEY above all), and a missing Let's Encrypt certificate is tried again.
# With --dry-run it prints every command and every file it would write, and changes nothing.
#
# The files it installs are the shipped ones next to it: ../systemd, ../nginx and ../deploy
# of a checkout, or the same folders under share/securestore of the wheel (and of the venv).
set -euo pipefail
umask 022

readonly VENV=/opt/securestore/venv
readonly PYTHON=python3.11
readonly ETC=/etc/securestore
readonly ENV_FILE=$ETC/securestore.env
readonly LETSENCRYPT=/etc/letsencrypt/live
readonly UNITS="securestore.socket securestore.service securestore-backup-sync.service securestore-backup-sync.timer"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly HERE

dry_run=0 os="" package="" host=""
# Settings the options give, by variable name; everything else in the file is kept.
declare -A given=()

usage() {
    cat <<'EOF'
usage: user-data.sh [--dry-run] [options]        (as root; see docs/deployment.md)

The first run needs --package, --primary-bucket, --backup-bucket, --region and --host-name;
later runs read them from /etc/securestore/securestore.env and change only what is given.

  --package SRC            a wheel, a checkout, or any requirement pip installs
  --primary-bucket NAME    S3_PRIMARY_BUCKET
  --backup-bucket NAME     S3_BACKUP_BUCKET
  --region REGION          S3_REGION
  --host-name NAME         the site's DNS name, or its public IPv4 address (PUBLIC_URL)
  --lock-mode MODE         BACKUP_LOCK_MODE: off, governance or compliance
  --lock-days N            BACKUP_LOCK_DAYS
  --kms-key-id ARN         S3_KMS_KEY_ID (any KMS key sets S3_SSE=aws:kms, none AES256)
  --backup-kms-key-id ARN  S3_BACKUP_KMS_KEY_ID
  --registration MODE      REGISTRATION: open, invite or closed
  --database-url URL       DATABASE_URL (first run default: SQLite in /var/lib/securestore)
  --os al2023|debian12     the system, when /etc/os-release should not decide
  --dry-run                print the commands and files, change nothing
EOF
}

die() {
    printf 'user-data.sh: %s\n' "$*" >&2
    exit 1
}

say() { printf '%s\n' "$*"; }

step() { printf '\n==> %s\n' "$*"; }

# Print a command, then run it unless this is a dry run.
run() {
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    if [ "$dry_run" = 0 ]; then
        "$@"
    fi
}

# Hide the secret key and database passwords in what a dry run shows.
mask() {
    sed -E -e 's/^(SECRET_KEY=).+/\1<secret>/' -e 's#(://[^:/@]+:)[^@]+@#\1<password>@#'
}

# write PATH MODE: replace PATH atomically with stdin (a dry run prints it instead).
write() {
    local path=$1 mode=$2 content tmp
    content=$(cat)
    printf '+ write %s (mode %s)\n' "$path" "$mode"
    if [ "$dry_run" = 1 ]; then
        printf '%s\n' "$content" | mask | sed 's/^/    | /'
        return
    fi
    install -d -m 0755 "$(dirname "$path")"
    tmp=$(mktemp "$path.XXXXXX")
    printf '%s\n' "$content" >"$tmp"
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$path"
}

parse_options() {
    while [ $# -gt 0 ]; do
        case $1 in
        --dry-run) dry_run=1 && shift && continue ;;
        -h | --help) usage && exit 0 ;;
        esac
        [ $# -ge 2 ] || die "$1 needs a value (see --help)"
        case $1 in
        --package) package=$2 ;;
        --os) os=$2 ;;
        --host-name) host=${2,,} ;;
        --primary-bucket) given[S3_PRIMARY_BUCKET]=$2 ;;
        --backup-bucket) given[S3_BACKUP_BUCKET]=$2 ;;
        --region) given[S3_REGION]=$2 ;;
        --lock-mode) given[BACKUP_LOCK_MODE]=$2 ;;
        --lock-days) given[BACKUP_LOCK_DAYS]=$2 ;;
        --kms-key-id) given[S3_KMS_KEY_ID]=$2 ;;
        --backup-kms-key-id) given[S3_BACKUP_KMS_KEY_ID]=$2 ;;
        --registration) given[REGISTRATION]=$2 ;;
        --database-url) given[DATABASE_URL]=$2 ;;
        *) die "unknown option $1 (see --help)" ;;
        esac
        shift 2
    done
}

# Refuse values that could not work, or that would break the files they are written into.
check_options() {
    local name pattern
    declare -A patterns=(
        [S3_PRIMARY_BUCKET]='^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'
        [S3_BACKUP_BUCKET]='^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'
        [S3_REGION]='^[a-z]{2}(-[a-z]+)+-[0-9]$'
        [BACKUP_LOCK_MODE]='^(off|governance|compliance)$'
        [BACKUP_LOCK_DAYS]='^[1-9][0-9]{0,4}$'
        [S3_KMS_KEY_ID]='^(arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/[a-f0-9-]+)?$'
        [S3_BACKUP_KMS_KEY_ID]='^(arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/[a-f0-9-]+)?$'
        [REGISTRATION]='^(open|invite|closed)$'
        [DATABASE_URL]='^[a-z0-9+]+://[^[:space:]]+$'
    )
    for name in "${!given[@]}"; do
        pattern=${patterns[$name]}
        [[ ${given[$name]} =~ $pattern ]] || die "$name: '${given[$name]}' does not match $pattern"
    done
    if [ -n "$host" ]; then
        [[ $host =~ ^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$ || $host =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] ||
            die "--host-name: '$host' is neither a DNS name nor an IPv4 address"
    fi
    [ "$dry_run" = 1 ] || [ "$(id -u)" = 0 ] || die "run as root (or with --dry-run)"
}

detect_os() {
    if [ -z "$os" ]; then
        # shellcheck source=/dev/null
        os=$(. /etc/os-release && printf '%s:%s' "$ID" "$VERSION_ID")
        case $os in
        amzn:2023) os=al2023 ;;
        debian:12) os=debian12 ;;
        *) die "this script knows Amazon Linux 2023 and Debian 12, not $os (--os picks one)" ;;
        esac
    fi
    case $os in
    al2023)
        nginx_user=nginx site=/etc/nginx/conf.d/securestore.conf
        ca=/etc/pki/tls/certs/ca-bundle.crt ;;
    debian12)
        nginx_user=www-data site=/etc/nginx/sites-available/securestore
        ca=/etc/ssl/certs/ca-certificates.crt ;;
    *) die "--os must be al2023 or debian12, not $os" ;;
    esac
    say "System: $os; files from $HERE"
}

# The value of NAME in the current settings file (empty when unset or on a first run).
current() {
    [ -f "$ENV_FILE" ] || return 0
    sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1
}

# Fill in what a first run must know and what follows from the options.
complete_settings() {
    local key
    if [ ! -f "$ENV_FILE" ]; then
        for key in S3_PRIMARY_BUCKET S3_BACKUP_BUCKET S3_REGION; do
            [ -n "${given[$key]:-}" ] || die "first run: $key is needed (see --help)"
        done
        [ -n "$host" ] || die "first run: --host-name is needed"
        [ -n "$package" ] || die "first run: --package is needed"
        given[DATABASE_URL]=${given[DATABASE_URL]:-sqlite:////var/lib/securestore/securestore.db}
    fi
    if [ -n "$host" ]; then
        given[PUBLIC_URL]=https://$host
    else
        host=$(current PUBLIC_URL)
        host=${host#https://}
        host=${host%%/*}
        [ -n "$host" ] || die "--host-name is needed: $ENV_FILE has no PUBLIC_URL"
    fi
    if [ -n "${given[S3_KMS_KEY_ID]+set}${given[S3_BACKUP_KMS_KEY_ID]+set}" ]; then
        given[S3_SSE]=AES256
        for key in S3_KMS_KEY_ID S3_BACKUP_KMS_KEY_ID; do
            [ -z "${given[$key]-$(current "$key")}" ] || given[S3_SSE]=aws:kms
        done
    fi
}

# with_setting NAME VALUE: stdin with NAME=VALUE in place of its first line (later ones
# dropped), or appended.
with_setting() {
    NAME=$1 VALUE=$2 awk '
        index($0, ENVIRON["NAME"] "=") == 1 { if (!done) print ENVIRON["NAME"] "=" ENVIRON["VALUE"]; done = 1; next }
        { print }
        END { if (!done) print ENVIRON["NAME"] "=" ENVIRON["VALUE"] }'
}

# settings_text SECRET BASE: the settings file BASE (the current one, or the shipped template
# on a first run) with the given settings, and SECRET as SECRET_KEY when it has none.
settings_text() {
    local secret=$1 text name
    text=$(cat "$2")
    for name in $(printf '%s\n' "${!given[@]}" | sort); do
        text=$(printf '%s\n' "$text" | with_setting "$name" "${given[$name]}")
    done
    if ! printf '%s\n' "$text" | grep -q '^SECRET_KEY=.'; then
        text=$(printf '%s\n' "$text" | with_setting SECRET_KEY "$secret")
    fi
    printf '%s\n' "$text"
}

install_system_packages() {
    step "Install Python 3.11, nginx, certbot and openssl"
    local extra=""
    [[ $package != git+* ]] || extra=git
    if [ "$os" = al2023 ]; then
        # shellcheck disable=SC2086 # $extra is one word or none
        run dnf install -y -q $PYTHON nginx certbot python3-certbot-nginx openssl $extra
    else
        run apt-get update -qq
        # shellcheck disable=SC2086
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            $PYTHON-venv nginx certbot python3-certbot-nginx openssl curl $extra
    fi
}

create_service_user() {
    step "Create the service user"
    run install -m 0644 "$HERE/systemd/securestore.sysusers.conf" /etc/sysusers.d/securestore.conf
    run systemd-sysusers /etc/sysusers.d/securestore.conf
}

install_package() {
    step "Install the package"
    if [ -n "$package" ]; then
        [ -x "$VENV/bin/$PYTHON" ] || run "$PYTHON" -m venv "$VENV"
        run "$VENV/bin/pip" install --quiet --upgrade pip
        # --force-reinstall: the release given replaces the installed one even at the same version.
        run "$VENV/bin/pip" install --quiet --upgrade --force-reinstall "$package"
    else
        say "No --package: keeping the installed package."
    fi
    # nginx serves /static/ from this fixed path (nginx/securestore.conf).
    run ln -sfn "$VENV/lib/$PYTHON/site-packages/securestore/static" /opt/securestore/static
}

write_settings() {
    step "Write the settings"
    local secret="<generated>" base=$HERE/deploy/securestore.env.example
    [ "$dry_run" = 1 ] || secret=$(openssl rand -base64 48 | tr -d '\n/+=')
    [ ! -f "$ENV_FILE" ] || base=$ENV_FILE
    run install -d -m 0755 "$ETC"
    # Read by systemd as root before it drops privileges: root only.
    settings_text "$secret" "$base" | write "$ENV_FILE" 0600
}

migrate_database() {
    step "Create or upgrade the database schema"
    run systemd-run --wait --pipe --quiet --uid=securestore --gid=securestore \
        -p EnvironmentFile="$ENV_FILE" -p StateDirectory=securestore \
        -p WorkingDirectory=/var/lib/securestore -E SECURESTORE_INSTANCE_PATH=/var/lib/securestore \
        "$VENV/bin/flask" --app securestore db upgrade
}

install_units() {
    step "Install the systemd units"
    local unit
    for unit in $UNITS; do
        run install -m 0644 "$HERE/systemd/$unit" "/etc/systemd/system/$unit"
    done
    if [ "$nginx_user" != www-data ]; then
        write /etc/systemd/system/securestore.socket.d/nginx-user.conf 0644 <<EOF
# Written by deploy/user-data.sh: nginx runs as $nginx_user here, not as Debian's www-data.
[Socket]
SocketUser=$nginx_user
SocketGroup=$nginx_user
EOF
    fi
    run systemctl daemon-reload
}

self_signed_certificate() {
    step "TLS certificate"
    local dir=$ETC/tls/$host name=DNS
    if [ -f "$LETSENCRYPT/$host/fullchain.pem" ]; then
        say "Using the Let's Encrypt certificate in $LETSENCRYPT/$host."
    elif [ -f "$dir/fullchain.pem" ] && openssl x509 -checkend 2592000 -noout -in "$dir/fullchain.pem" >/dev/null; then
        say "Keeping the self-signed certificate in $dir."
    else
        [[ ! $host =~ ^[0-9.]+$ ]] || name=IP
        run install -d -m 0700 "$dir"
        run openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$host" \
            -addext "subjectAltName=$name:$host" -keyout "$dir/privkey.pem" -out "$dir/fullchain.pem"
    fi
}

# install_site DIR: the shipped site with this host name, the certificate in DIR and this
# system's CA bundle (which nginx checks S3's certificate against); nothing else changes.
install_site() {
    step "Install the nginx site"
    sed -e "s|^\([[:space:]]*server_name\) securestore\.example\.com;|\1 $host;|" \
        -e "s|/etc/letsencrypt/live/securestore\.example\.com/|$1/|" \
        -e "s|/etc/ssl/certs/ca-certificates\.crt;|$ca;|" \
        "$HERE/nginx/securestore.conf" | write "$site" 0644
    if [ "$os" = debian12 ]; then
        run ln -sfn "$site" /etc/nginx/sites-enabled/securestore
        run rm -f /etc/nginx/sites-enabled/default
    fi
    run nginx -t -q
}

start_services() {
    step "Start the app, the backup sync timer and nginx"
    run systemctl enable --now securestore.socket securestore-backup-sync.timer
    run systemctl enable securestore.service
    # A restart, not a reload: the settings file and gunicorn's config are read at start.
    run systemctl restart securestore.service
    run systemctl enable nginx
    run systemctl reload-or-restart nginx
}

# True when $host resolves to this instance's public address, or when that cannot be told.
dns_points_here() {
    local token address resolved
    token=$(curl -fsS -m 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
        http://169.254.169.254/latest/api/token) || return 0
    address=$(curl -fsS -m 2 -H "X-aws-ec2-metadata-token: $token" \
        http://169.254.169.254/latest/meta-data/public-ipv4) || return 0
    resolved=$(getent ahostsv4 "$host" | awk 'NR == 1 { print $1 }') || true
    [ "$resolved" = "$address" ] && return 0
    say "$host resolves to ${resolved:-nothing}, not to this machine ($address)."
    say "Point an A record for $host at $address, then run this script again:"
    say "  sudo bash $VENV/share/securestore/deploy/user-data.sh"
    return 1
}

letsencrypt_certificate() {
    step "Let's Encrypt certificate"
    if [[ $host =~ ^[0-9.]+$ ]]; then
        say "No host name, only the address $host: the certificate stays self-signed and browsers"
        say "will warn. Give a DNS name pointing here with --host-name to get a trusted one."
        return
    fi
    if [ -f "$LETSENCRYPT/$host/fullchain.pem" ]; then
        say "Already there; certbot's timer renews it."
        return
    fi
    if [ "$dry_run" = 0 ] && ! dns_points_here; then
        say "Until then the site uses a self-signed certificate and browsers will warn."
        return
    fi
    if run certbot certonly --nginx --non-interactive --agree-tos --register-unsafely-without-email \
        --deploy-hook "systemctl reload nginx" -d "$host"; then
        [ "$os" = debian12 ] || run systemctl enable --now certbot-renew.timer
        install_site "$LETSENCRYPT/$host"
        run systemctl reload nginx
    else
        say "certbot could not get a certificate for $host (its message is above); the site keeps"
        say "the self-signed one. Run this script again once that is fixed."
    fi
}

check_selinux() {
    step "SELinux"
    if [ "$os" = debian12 ]; then
        say "Debian 12 does not enable SELinux: nothing to do."
        return
    fi
    if [ "$dry_run" = 1 ]; then
        say "+ getenforce    (Enforcing: says how to allow nginx the socket; otherwise nothing to do)"
        return
    fi
    local mode
    mode=$(getenforce 2>/dev/null || echo Disabled)
    if [ "$mode" = Enforcing ]; then
        say "SELinux is enforcing: nginx may be refused the app's socket /run/securestore.sock."
        say "If the check below fails, allow exactly what was refused (docs/deployment.md, SELinux):"
        say "  ausearch -m AVC -c nginx --raw | audit2allow -M securestore-nginx && semodule -i securestore-nginx.pp"
    else
        say "SELinux is $mode (Amazon Linux 2023's default is permissive): nothing to label."
    fi
}

check_site() {
    step "Check the site"
    run curl -fsS -o /dev/null -k --retry 10 --retry-connrefused --retry-delay 3 \
        --resolve "$host:443:127.0.0.1" "https://$host/healthz"
    say "SecureStore answers at https://$host/ (logs: journalctl -u securestore)."
}

main() {
    parse_options "$@"
    check_options
    detect_os
    complete_settings
    install_system_packages
    create_service_user
    install_package
    write_settings
    migrate_database
    install_units
    self_signed_certificate
    if [ -f "$LETSENCRYPT/$host/fullchain.pem" ]; then
        install_site "$LETSENCRYPT/$host"
    else
        install_site "$ETC/tls/$host"
    fi
    start_services
    letsencrypt_certificate
    check_selinux
    check_site
}

# Sourced (by the tests), it only defines its functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main "$@"
fi
