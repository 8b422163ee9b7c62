#!/usr/bin/env bash
# plot.sh - draw every curve-NAME.tsv in a directory (the scale figures'
# curves, bench/curve.h) as NAME.svg with gnuplot (Debian: gnuplot-nox).
#
#   bench/plot.sh DIR [OUT_DIR]      SVGs in OUT_DIR (default DIR/plots)
#
# The file: '#'-lines of metadata (title, x, y, log = none|x|y|xy, any number
# of notes), a tab-separated header row ("x" and the series' names), one row
# per point, "nan" where a series has no value. Every series is drawn on the
# same axes; one whose name starts with "floor:" or "peer:" is dashed (what
# contig is compared to); the notes are printed under the title. A series
# is drawn from its own points in x order, so a series that has values only
# at some rows is still one line; a series with no value at all (or none
# that a log axis can show) is listed in the key as "(no data)".
#
# Exits 0 when every file was drawn, 1 when one was not (the others still
# are), 2 when gnuplot is missing or no curve file is there.
set -euo pipefail

usage() { echo "usage: $0 DIR [OUT_DIR]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
dir=$1
out=${2:-$dir/plots}
command -v gnuplot >/dev/null 2>&1 || {
    echo "plot.sh: gnuplot not found; on Debian: apt-get install gnuplot-nox" >&2
    exit 2
}
shopt -s nullglob
files=("$dir"/curve-*.tsv)
[ ${#files[@]} -gt 0 ] || { echo "plot.sh: no curve-*.tsv in $dir" >&2; exit 2; }
mkdir -p "$out"
tmp=$(mktemp -d /tmp/contig-plot-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# One curve file: the series' points into $2/sN.dat (sorted by x) and the
# gnuplot script on stdout. Strings are put in gnuplot's double quotes with
# \ and " escaped, and text is not "enhanced", so a name with quotes,
# colons, underscores or carets is printed as it is.
script_of() {
    local file=$1 work=$2 svg=$3 logx=$4 logy=$5
    # Paths through the environment: awk -v would interpret backslashes.
    PLOT_WORK=$work PLOT_SVG=$svg awk -F '\t' -v logx="$logx" -v logy="$logy" '
    # Character by character: gsub replacement strings treat \ differently
    # in each awk.
    function q(s,   i, c, r) {
        r = ""
        for (i = 1; i <= length(s); i++) {
            c = substr(s, i, 1)
            r = r (c == "\\" || c == "\"" ? "\\" : "") c
        }
        return "\"" r "\""
    }
    BEGIN { work = ENVIRON["PLOT_WORK"]; svg = ENVIRON["PLOT_SVG"] }
    function num(s) { return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
    function meta(line,   k, v) {
        sub(/^#[ \t]*/, "", line)
        k = line; sub(/:.*/, "", k)
        v = line; if (!sub(/^[^:]*:[ \t]*/, "", v)) return
        if (k == "title") title = v
        else if (k == "x") xl = v
        else if (k == "y") yl = v
        else if (k == "log") logs = v
        else if (k == "note") notes[nnotes++] = v
    }
    /^#/ { if (!header) meta($0); next }
    !header { header = 1; ns = NF - 1; for (i = 2; i <= NF; i++) name[i - 1] = $i; next }
    {
        if (!num($1) || (logx && $1 + 0 <= 0)) next
        for (i = 2; i <= NF && i - 1 <= ns; i++) {
            if (!num($i) || (logy && $i + 0 <= 0)) continue
            print $1 "\t" $i > (work "/s" (i - 1) ".raw")
            npts[i - 1]++
            if (!nys++ || $i + 0 < ymin) ymin = $i + 0
        }
    }
    END {
        print "set terminal svg size 960,640 noenhanced font \"sans,11\" background \"white\""
        print "set output " q(svg)
        print "set encoding utf8"
        print "set xlabel " q(xl)
        print "set ylabel " q(yl)
        if (logs ~ /x/) print "set logscale x"
        if (logs ~ /y/) print "set logscale y"
        # A linear axis of sizes, counts or rates starts at 0, not at the
        # smallest value (which would magnify small differences).
        else if (nys && ymin >= 0) print "set yrange [0:*]"
        print "set grid"
        print "set key below left Left reverse"
        print "set datafile separator \"\\t\""
        # The title at the top, the notes under it one per line, small, and
        # the plot below them (the title of gnuplot sits just above the plot,
        # which would put it under the notes).
        printf "set label 100 %s at screen 0.5, 0.97 center font \",13\"\n", q(title)
        for (i = 0; i < nnotes; i++)
            printf "set label %d %s at screen 0.5, %.4f center font \",9\"\n", i + 1,
                q(notes[i]), 0.93 - 0.027 * i
        printf "set tmargin at screen %.4f\n", 0.92 - 0.027 * nnotes
        any = 0
        for (i = 1; i <= ns; i++) if (npts[i]) any = 1
        if (!any) {
            # Nothing to draw: empty axes, so the file is still a plot.
            print "set xrange " (logs ~ /x/ ? "[1:10]" : "[0:1]")
            print "set yrange " (logs ~ /y/ ? "[1:10]" : "[0:1]")
            print "set label 99 \"no data\" at graph 0.5, 0.5 center"
        }
        if (ns == 0) { print "plot NaN notitle"; exit }
        printf "plot "
        for (i = 1; i <= ns; i++) {
            dashed = name[i] ~ /^(floor|peer):/
            style = sprintf("lc %d dt %d lw %s", i, dashed ? 2 : 1, dashed ? "1.5" : "2")
            if (npts[i])
                printf "%s using 1:2 with linespoints %s pt 7 ps %s title %s", \
                    q(work "/s" i ".dat"), style, (npts[i] > 3 ? "0.4" : "0.9"), q(name[i])
            else
                printf "NaN with lines %s title %s", style, q(name[i] " (no data)")
            printf i < ns ? ", \\\n     " : "\n"
        }
    }' "$file"
}

# A first pass for the log axes: the points a log axis cannot show are
# dropped before drawing, so they neither stop gnuplot nor count as data.
log_of() {
    awk '/^# log:/ { sub(/^# log:[ \t]*/, ""); print; exit } !/^#/ { exit }' "$1"
}

status=0
for f in "${files[@]}"; do
    name=$(basename "$f" .tsv)
    name=${name#curve-}
    work=$tmp/$name
    mkdir -p "$work"
    logs=$(log_of "$f")
    logx=0 logy=0
    case "$logs" in *x*) logx=1 ;; esac
    case "$logs" in *y*) logy=1 ;; esac
    script_of "$f" "$work" "$out/$name.svg" $logx $logy >"$work/plot.gp" || { status=1; continue; }
    for raw in "$work"/s*.raw; do
        sort -s -g -k1,1 "$raw" >"${raw%.raw}.dat"
    done
    if gnuplot "$work/plot.gp" 2>"$work/err" && [ -s "$out/$name.svg" ]; then
        echo "plot.sh: $out/$name.svg"
    else
        echo "plot.sh: $f: gnuplot failed:" >&2
        cat "$work/err" >&2
        # No half-written plot may pass for one.
        rm -f "$out/$name.svg"
        status=1
    fi
done
exit $status
