#!/usr/bin/env bash
# Bash completion for harness (commands, then each command's options) or
# imager (options), read from the programs' own --help:
#   scripts/gen-completion.sh BINDIR PROG OUT
# Installed as PREFIX/share/bash-completion/completions/PROG.
set -euo pipefail
bindir=$1 prog=$2 out=$3
opts_of() { "$@" --help | grep -oE '^  (-h, )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+' | tr '\n' ' '; }
{
    echo "# bash completion for $prog (imbench), generated from its --help"
    if [ "$prog" = harness ]; then
        cmds=$("$bindir/harness" help --commands | tr '\n' ' ')
        echo "_imbench_harness() {"
        echo '    local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} opts'
        echo '    if [ "$COMP_CWORD" -eq 1 ]; then'
        echo "        COMPREPLY=(\$(compgen -W \"help $cmds--help --version\" -- \"\$cur\"))"
        echo '        return'
        echo '    fi'
        echo '    case $cmd in'
        echo "    help) opts=\"$cmds\" ;;"
        for c in $cmds; do
            echo "    $c) opts=\"$(opts_of "$bindir/harness" "$c")\" ;;"
        done
        echo '    *) opts= ;;'
        echo '    esac'
        echo '    if [[ $cur == -* || $cmd == help ]]; then'
        echo '        COMPREPLY=($(compgen -W "$opts" -- "$cur"))'
        echo '    else'
        echo '        COMPREPLY=($(compgen -f -- "$cur"))'
        echo '    fi'
        echo "}"
        echo "complete -o filenames -F _imbench_harness harness"
    else
        echo "_imbench_imager() {"
        echo '    local cur=${COMP_WORDS[COMP_CWORD]}'
        echo '    if [[ $cur == -* ]]; then'
        echo "        COMPREPLY=(\$(compgen -W \"$(opts_of "$bindir/imager")--version\" -- \"\$cur\"))"
        echo '    else'
        echo '        COMPREPLY=($(compgen -f -- "$cur"))'
        echo '    fi'
        echo "}"
        echo "complete -o filenames -F _imbench_imager imager"
    fi
} >"$out.tmp"
bash -n "$out.tmp"
mv "$out.tmp" "$out"
