{% autoescape off %}#!/bin/sh
# Download the HETDEX fplane file valid at a date from Beamtime ({{ server }}),
# as the FPlane service's get_fplane.sh does. Needs only sh and curl.
#
#   get_fplane.sh                      now → fplaneYYYYMMDD.txt
#   get_fplane.sh 20180715             midnight of that night → fplane20180715.txt
#   get_fplane.sh 20180715T03:04:05    a FITS DATE-OBS (UTC) → fplane20180715T03:04:05.txt
#   get_fplane.sh -o fplane.txt -s -p  another file name; short file; measured positions
#
# BEAMTIME_URL overrides the server.
usage() { echo "usage: get_fplane.sh [-o FILE] [-s] [-p] [DATE]"; }
url="${BEAMTIME_URL:-{{ server }}}"
out="" full=1 actual=0 date=""
while [ $# -gt 0 ]; do  # options before or after the date
  case $1 in
    -o) [ $# -ge 2 ] || { usage >&2; exit 2; }; out=$2; shift 2 ;;
    -s) full=0; shift ;;
    -p) actual=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *) [ -z "$date" ] || { usage >&2; exit 2; }; date=$1; shift ;;
  esac
done
case "$date" in
  *[!0-9A-Za-z:.+-]*) echo "get_fplane.sh: cannot read the date '$date'" >&2; exit 2 ;;
esac
[ -n "$out" ] || out="fplane${date:-$(TZ={{ timezone }} date +%Y%m%d)}.txt"
tmp=$(mktemp) || exit 1
code=$(curl -sS -o "$tmp" -w '%{http_code}' \
  "${url%/}/fplane/$date?actual_pos=$actual&full_fplane=$full") || { rm -f "$tmp"; exit 1; }
if [ "$code" != 200 ]; then
  printf 'get_fplane.sh: the server responded with %s: ' "$code" >&2
  cat "$tmp" >&2
  rm -f "$tmp"
  exit 1
fi
mv "$tmp" "$out" && echo "wrote $out"
{% endautoescape %}