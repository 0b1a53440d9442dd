# Sourced by benchmark scripts that add rows to the benchmark table (`make
# bench`'s CSV, long format: one row per measured series; net-client's
# `stats --csv` writes the same header).
bench_csv_header=benchmark,system,case,tenants,metric,unit,samples,min,median,p99

# Appends the rows on stdin to the CSV file $1, the header first when the
# file is new or empty.
bench_csv_append() {
    local rows
    rows="$(cat)"
    mkdir -p "$(dirname "$1")"
    if [ ! -s "$1" ]; then echo "$bench_csv_header" >"$1"; fi
    if [ -n "$rows" ]; then printf '%s\n' "$rows" >>"$1"; fi
}
