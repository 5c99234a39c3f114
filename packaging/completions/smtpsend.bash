# bash completion for smtpsend(1). Profile names come from the settings files
# (through `smtpsend config profiles --names`, honouring --config), provider
# names from `smtpsend config providers --names`.

_smtpsend_names() { # what: profiles | providers; $2: the command line so far
    local what=$1 config="" i
    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
        if [[ ${COMP_WORDS[i]} == --config ]]; then config=${COMP_WORDS[i + 1]}; fi
    done
    "${COMP_WORDS[0]}" ${config:+--config "$config"} config "$what" --names 2>/dev/null
}

_smtpsend() {
    local cur prev words cword
    _init_completion || return

    local settings="--config --profile --provider --region --server --port --tls --user
        --password-file --password-cmd --password-env --auth --oauth2-token-cmd
        --oauth2-token-env --from --from-header --cafile --tls-min --pinned-pubkey --client-cert --client-key --proxy --proxy-user --proxy-password-file
        --proxy-password-cmd --proxy-password-env --source-address --ip-version -4 -6 --helo --timeout --data-timeout --max-time --aliases --domain
        --queue --no-queue --queue-dir --retries --retry-wait --max-age --log --connections --rate --max-per-connection"
    local message="--subject -s --to --cc --bcc --reply-to --header -H --body-file --attach
        --html --inline --read-recipients -t"
    local output="--verbose -v --json --dry-run --help -h --version"

    case $prev in
        --profile) COMPREPLY=($(compgen -W "$(_smtpsend_names profiles)" -- "$cur")); return ;;
        --provider) COMPREPLY=($(compgen -W "$(_smtpsend_names providers)" -- "$cur")); return ;;
        --tls) COMPREPLY=($(compgen -W "starttls implicit none" -- "$cur")); return ;;
        --from-header) COMPREPLY=($(compgen -W "keep envelope" -- "$cur")); return ;;
        --auth) COMPREPLY=($(compgen -W "auto plain login cram-md5 xoauth2 oauthbearer" -- "$cur")); return ;;
        --region) COMPREPLY=($(compgen -W "us eu in au jp us-east-1 us-west-2 eu-west-1 eu-central-1" -- "$cur")); return ;;
        --stage) COMPREPLY=($(compgen -W "greeting ehlo starttls auth mail rcpt data end-of-data" -- "$cur")); return ;;
        --tls-min) COMPREPLY=($(compgen -W "1.2 1.3" -- "$cur")); return ;;
        --ip-version) COMPREPLY=($(compgen -W "any 4 6" -- "$cur")); return ;;
        --queue-dir) _filedir -d; return ;;
        --config | --password-file | --proxy-password-file | --cafile | --client-cert | --client-key | --aliases | --log | --body-file | --attach | \
            --html | --inline) _filedir; return ;;
        --server | --port | --user | --password-cmd | --password-env | --oauth2-token-cmd | \
            --oauth2-token-env | --from | --proxy | --proxy-user | --proxy-password-cmd | \
            --proxy-password-env | --helo | --timeout | --data-timeout | --max-time | --domain | --retries | --connections | --rate | --max-per-connection | \
            --retry-wait | --max-age | --subject | -s | --to | --cc | --bcc | --reply-to | \
            --header | -H | --rcpt | --name) return ;;
    esac

    # The subcommand, if one was given before the word being completed.
    local i sub="" subsub=""
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            check | batch | queue | config | explain) [[ -z $sub ]] && sub=${words[i]} ;;
            list | show | flush | drop | profiles | providers | import)
                [[ -n $sub && -z $subsub ]] && subsub=${words[i]} ;;
        esac
    done

    case $sub in
        "")
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$settings $message $output" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "check batch queue config explain" -- "$cur"))
            fi ;;
        check) COMPREPLY=($(compgen -W "--rcpt --json $settings --verbose" -- "$cur")) ;;
        batch)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--eml --json --limit $settings --verbose" -- "$cur"))
            else
                _filedir
            fi ;;
        explain) COMPREPLY=($(compgen -W "--stage --server --json" -- "$cur")) ;;
        queue)
            case $subsub in
                "") COMPREPLY=($(compgen -W "list show flush drop" -- "$cur")) ;;
                flush) COMPREPLY=($(compgen -W "--all --json $settings" -- "$cur")) ;;
                *) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
            esac ;;
        config)
            case $subsub in
                "") COMPREPLY=($(compgen -W "show profiles providers import" -- "$cur")) ;;
                show) COMPREPLY=($(compgen -W "--json --profile --config $settings" -- "$cur")) ;;
                profiles | providers) COMPREPLY=($(compgen -W "--json --names" -- "$cur")) ;;
                import)
                    if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "--name --json" -- "$cur"))
                    else
                        _filedir
                    fi ;;
            esac ;;
    esac
}
complete -F _smtpsend smtpsend
