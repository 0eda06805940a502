#!/usr/bin/env bash
# Format squib's C sources with clang-format and the repository's
# .clang-format (STYLE.md section 11).
#
#   scripts/reformat.sh            rewrite the files in place (make format)
#   scripts/reformat.sh --check    change nothing; list each file that differs
#                                  and fail if any does (make format-check)
#   scripts/reformat.sh --list     print the files it covers
#
# It covers every *.c and *.h under src/, tests/, tools/ and bench/, except:
#   - the generated code-point tables (src/config/alnum_table.h,
#     src/util/json_debug_table.h): packed by their generator, several ranges
#     a line, which clang-format would spread one per line;
#   - *.inc fragments (tests/unit/*.inc): rows of an initializer included in
#     the middle of a table, which clang-format cannot parse on their own.
# Run from anywhere; it works at the top of the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
EXCLUDE=(
    src/config/alnum_table.h
    src/util/json_debug_table.h
)

mode=fix
case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    --list) mode=list ;;
    *) echo "usage: $0 [--check|--list]" >&2; exit 2 ;;
esac

files=()
while IFS= read -r f; do
    skip=0
    for x in "${EXCLUDE[@]}"; do
        [ "$f" = "$x" ] && skip=1
    done
    [ $skip -eq 1 ] || files+=("$f")
done < <(find src tests tools bench -type f \( -name '*.c' -o -name '*.h' \) \
             2>/dev/null | LC_ALL=C sort)

case $mode in
list)
    printf '%s\n' "${files[@]}"
    ;;
fix)
    "$CLANG_FORMAT" -i "${files[@]}"
    ;;
check)
    # One clang-format run over all files; each difference is reported as
    # "file:line:col: error: code should be clang-formatted".
    out=$("$CLANG_FORMAT" --dry-run -Werror "${files[@]}" 2>&1) && rc=0 || rc=$?
    bad=$(printf '%s\n' "$out" | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: .*/\1/p' | uniq)
    if [ $rc -ne 0 ] || [ -n "$bad" ]; then
        if [ -z "$bad" ]; then
            printf '%s\n' "$out" >&2     # clang-format itself failed
        else
            printf '  %s\n' $bad >&2
        fi
        echo "format-check: $(printf '%s\n' $bad | grep -c .) of ${#files[@]}" \
             "files differ from .clang-format; run 'make format'" \
             "(clang-format -i) and review the diff" >&2
        exit 1
    fi
    echo "format-check: ${#files[@]} files clean"
    ;;
esac
