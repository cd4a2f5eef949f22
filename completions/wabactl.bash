# bash completion for wabactl(1)                                   -*- shell-script -*-
#
# Adding a command: one line in _wabactl_spec (its subcommands and flags), plus a case in
# _wabactl_value or _wabactl_positional if its values can be completed.
# tests/unit/test_completions.cpp fails when a command or flag of the CLI is missing here.

# One line per command path: its subcommands (bare words), then its flags. A trailing "="
# marks a flag that takes a value (it is offered without the "=").
_wabactl_spec() {
    case "$1" in
        "") echo "key tenant config send history unread mark-read status media template hook token serve
                  --db= --key-file= --config= --color= --json -q --quiet -v --verbose --help
                  --version" ;;
        "key") echo "init rotate" ;;
        "key init") echo "--force" ;;
        "key rotate") echo "--new-key-file=" ;;
        "tenant") echo "add list remove" ;;
        "tenant add") echo "--name=" ;;
        "tenant list") echo "" ;;
        "tenant remove") echo "--yes" ;;
        "config") echo "set get list delete test" ;;
        "config set") echo "--tenant= --phone-number-id= --access-token-file= --access-token-stdin
                            --app-secret-file= --app-secret-stdin --business-account-id=
                            --verify-token= --api-version= --graph-url= --active --inactive
                            --no-test" ;;
        "config get") echo "--tenant= --show-secrets" ;;
        "config list") echo "" ;;
        "config delete") echo "--tenant=" ;;
        "config test") echo "--tenant=" ;;
        "send") echo "--tenant= --to= --reply-to= --contact-id= --idempotency-key=
                      --callback-data= --no-fallback --outside-window --no-template-check --text= --preview-url --template= --lang=
                      --header-text= --header-image= --header-video= --header-document=
                      --filename= --body-param= --button-param= --image= --caption= --video=
                      --audio= --document= --sticker= --reaction= --location= --name= --address=
                      --batch= --rate= --concurrency= --dry-run --resolve=" ;;
        "history") echo "--tenant= --phone= --contact= --direction= --limit= --before= --offset= --search= --since= --until= --format= --all" ;;
        "unread") echo "--tenant= --by-contact --watch" ;;
        "mark-read") echo "--tenant= --phone= --all --no-receipt --typing" ;;
        "status") echo "--tenant=" ;;
        "media") echo "get list prune" ;;
        "media get") echo "--tenant= -o --output= --force --media-max=" ;;
        "media list") echo "--tenant= --state= --limit=" ;;
        "media prune") echo "--tenant= --older-than=" ;;
        "template") echo "sync list show" ;;
        "template sync") echo "--tenant=" ;;
        "template list") echo "--tenant= --status=" ;;
        "template show") echo "--tenant= --lang=" ;;
        "hook") echo "add list remove test deliveries" ;;
        "hook add") echo "--tenant= --url= --events= --allow-private" ;;
        "hook list") echo "--tenant=" ;;
        "hook remove") echo "--tenant=" ;;
        "hook test") echo "--tenant=" ;;
        "hook deliveries") echo "--tenant= --failed --limit=" ;;
        "token") echo "create list revoke" ;;
        "token create") echo "--tenant= --label=" ;;
        "token list") echo "--tenant=" ;;
        "token revoke") echo "--tenant=" ;;
        "serve") echo "--listen= --ws-listen= --max-body= --threads= --max-streams= --max-connections-per-address= --head-timeout= --media-workers= --media-max=" ;;
    esac
}

# Tenant ids from the database the command line points at (--db), one per line.
_wabactl_tenants() {
    local -a args=()
    local i
    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
        if [[ ${COMP_WORDS[i]} == --db ]]; then
            args=(--db "${COMP_WORDS[i + 1]}")
        elif [[ ${COMP_WORDS[i]} == --db=* ]]; then
            args=("${COMP_WORDS[i]}")
        fi
    done
    "${COMP_WORDS[0]}" "${args[@]}" tenant list --json 2>/dev/null |
        sed -n 's/.*"id":"\([^"]*\)".*/\1/p'
}

_wabactl_files() {
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$1")
}

# Completes the value of flag $1 for the word $2; returns 1 when nothing can be offered.
_wabactl_value() {
    case "$1" in
        --db | --key-file | --config | --new-key-file | --access-token-file | --app-secret-file | \
            --batch | --header-image | --header-video | --header-document | --image | --video | \
            --audio | --document | --sticker | -o | --output)
            _wabactl_files "$2" ;;
        --tenant)
            mapfile -t COMPREPLY < <(compgen -W "$(_wabactl_tenants)" -- "$2") ;;
        --direction)
            mapfile -t COMPREPLY < <(compgen -W "in out" -- "$2") ;;
        --format)
            mapfile -t COMPREPLY < <(compgen -W "text json csv" -- "$2") ;;
        --state)
            mapfile -t COMPREPLY < <(compgen -W "pending stored failed" -- "$2") ;;
        --color)
            mapfile -t COMPREPLY < <(compgen -W "auto always never" -- "$2") ;;
        --api-version)
            mapfile -t COMPREPLY < <(compgen -W "v25.0" -- "$2") ;;
        *) return 1 ;;
    esac
}

# Completes a positional argument of command path $1.
_wabactl_positional() {
    case "$1" in
        "tenant remove")
            mapfile -t COMPREPLY < <(compgen -W "$(_wabactl_tenants)" -- "$2") ;;
    esac
}

_wabactl() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()

    # --flag=value: bash splits at "=", so the flag is two words back.
    if [[ $cur == "=" ]]; then
        cur=""
        prev=${COMP_WORDS[COMP_CWORD - 1]}
    elif [[ $prev == "=" ]]; then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    fi

    # Find the command path, skipping flag values (global flags may follow the subcommand).
    local path="" takes word i skip=0 child
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if ((skip > 0)); then
            skip=$((skip - 1))
            continue
        fi
        if [[ $word == -* ]]; then
            takes=" $(_wabactl_spec "") $(_wabactl_spec "$path") "
            if [[ ${COMP_WORDS[i + 1]} == "=" ]]; then
                skip=2
            elif [[ $takes == *" $word= "* ]]; then
                skip=1
            fi
            continue
        fi
        for child in $(_wabactl_spec "$path"); do
            if [[ $child != -* && $child == "$word" ]]; then
                path=${path:+$path }$word
                break
            fi
        done
    done

    takes=" $(_wabactl_spec "") $(_wabactl_spec "$path") "
    if [[ $prev == -* && $takes == *" $prev= "* ]]; then
        _wabactl_value "$prev" "$cur"
        return 0
    fi

    local spec offer=() item
    spec=$(_wabactl_spec "$path")
    if [[ $cur == -* ]]; then
        [[ -n $path ]] && spec+=" $(_wabactl_spec "")"
        for item in $spec; do
            [[ $item == -* ]] && offer+=("${item%=}")
        done
    else
        for item in $spec; do
            [[ $item != -* ]] && offer+=("$item")
        done
        if ((${#offer[@]} == 0)); then
            _wabactl_positional "$path" "$cur"
            return 0
        fi
    fi
    mapfile -t COMPREPLY < <(compgen -W "${offer[*]}" -- "$cur")
}

complete -F _wabactl wabactl
