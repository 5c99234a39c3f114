# fish completion for smtpsend(1). Profile and provider names come from
# `smtpsend config profiles --names` and `smtpsend config providers --names`.

function __smtpsend_profiles
    set -l tokens (commandline -opc)
    set -l config
    set -l i (contains -i -- --config $tokens)
    and set config --config $tokens[(math $i + 1)]
    $tokens[1] $config config profiles --names 2>/dev/null
end

function __smtpsend_providers
    set -l tokens (commandline -opc)
    $tokens[1] config providers --names 2>/dev/null
end

set -l subcommands check batch queue config explain
complete -c smtpsend -f
complete -c smtpsend -n "not __fish_seen_subcommand_from $subcommands" -a "$subcommands"

# Settings
complete -c smtpsend -l config -r -F -d 'Read settings from FILE'
complete -c smtpsend -l profile -x -a '(__smtpsend_profiles)' -d 'Use the named profile'
complete -c smtpsend -l provider -x -a '(__smtpsend_providers)' -d 'A provider preset'
complete -c smtpsend -l region -x -a 'us eu in au jp us-east-1 us-west-2 eu-west-1 eu-central-1' -d 'The provider region'
complete -c smtpsend -l server -x -d 'smtp://host[:port] or smtps://host[:port]'
complete -c smtpsend -l port -x -d 'The server port'
complete -c smtpsend -l tls -x -a 'starttls implicit none' -d 'The TLS mode'
complete -c smtpsend -l from-header -x -a 'keep envelope' -d 'Keep the From header or rewrite it to the envelope sender'
complete -c smtpsend -l user -x -d 'The login name'
complete -c smtpsend -l password-file -r -F -d 'Read the password from FILE'
complete -c smtpsend -l password-cmd -x -d 'A command that prints the password'
complete -c smtpsend -l password-env -x -d 'A variable that holds the password'
complete -c smtpsend -l auth -x -a 'auto plain login cram-md5 xoauth2 oauthbearer' -d 'The login mechanism'
complete -c smtpsend -l oauth2-token-cmd -x -d 'A command that prints an OAuth2 token'
complete -c smtpsend -l oauth2-token-env -x -d 'A variable that holds an OAuth2 token'
complete -c smtpsend -l from -x -d 'The sender address'
complete -c smtpsend -l cafile -r -F -d 'Trusted CA certificates (PEM)'
complete -c smtpsend -l tls-min -x -a '1.2 1.3' -d 'The oldest TLS version'
complete -c smtpsend -l pinned-pubkey -x -d 'Trusted server keys (sha256//BASE64)'
complete -c smtpsend -l client-cert -r -F -d 'A TLS client certificate (PEM)'
complete -c smtpsend -l client-key -r -F -d 'The client certificate key (PEM)'
complete -c smtpsend -l proxy -x -d 'A socks5h://, socks5:// or http:// proxy URL'
complete -c smtpsend -l proxy-user -x -d 'The proxy login name'
complete -c smtpsend -l proxy-password-file -r -F -d 'Read the proxy password from FILE'
complete -c smtpsend -l proxy-password-cmd -x -d 'A command that prints the proxy password'
complete -c smtpsend -l proxy-password-env -x -d 'A variable that holds the proxy password'
complete -c smtpsend -l source-address -x -d 'The local address to send from'
complete -c smtpsend -l ip-version -x -a 'any 4 6' -d 'The IP version'
complete -c smtpsend -s 4 -d 'IPv4 only'
complete -c smtpsend -s 6 -d 'IPv6 only'
complete -c smtpsend -l helo -x -d 'The EHLO name'
complete -c smtpsend -l timeout -x -d 'Seconds per wait'
complete -c smtpsend -l data-timeout -x -d 'Seconds for the reply after the message'
complete -c smtpsend -l max-time -x -d 'Seconds for the whole run'
complete -c smtpsend -l aliases -r -F -d 'An aliases file'
complete -c smtpsend -l domain -x -d 'Qualify local recipients'
complete -c smtpsend -l queue -d 'Queue on temporary failure'
complete -c smtpsend -l no-queue -d 'Do not queue'
complete -c smtpsend -l queue-dir -x -a '(__fish_complete_directories)' -d 'The queue folder'
complete -c smtpsend -l retries -x -d 'Extra attempts'
complete -c smtpsend -l connections -x -d 'Batch: connections at once'
complete -c smtpsend -l rate -x -d 'Batch: messages per second or minute (N/s, N/min)'
complete -c smtpsend -l max-per-connection -x -d 'Batch: reconnect after N messages'
complete -c smtpsend -l retry-wait -x -d 'Seconds before the first retry'
complete -c smtpsend -l max-age -x -d 'How long a queued message is tried'
complete -c smtpsend -l log -r -F -d 'Attempt log: FILE, syslog or none'

# Message
complete -c smtpsend -s s -l subject -x -d 'The subject'
complete -c smtpsend -l to -x -d 'A To recipient'
complete -c smtpsend -l cc -x -d 'A Cc recipient'
complete -c smtpsend -l bcc -x -d 'A hidden recipient'
complete -c smtpsend -l reply-to -x -d 'Where replies go'
complete -c smtpsend -s H -l header -x -d 'Add a header'
complete -c smtpsend -l body-file -r -F -d 'Read the body from FILE'
complete -c smtpsend -l attach -r -F -d 'Attach FILE'
complete -c smtpsend -l html -r -F -d 'An HTML body from FILE'
complete -c smtpsend -l inline -r -F -d 'An image for the HTML body'
complete -c smtpsend -s t -l read-recipients -d 'Stdin is a complete message'

# Output
complete -c smtpsend -s v -l verbose -d 'Print the SMTP dialogue'
complete -c smtpsend -l json -d 'Print JSON'
complete -c smtpsend -l dry-run -d 'Print the message; send nothing'
complete -c smtpsend -s h -l help -d 'Print help'
complete -c smtpsend -l version -d 'Print the versions'

# Subcommands
complete -c smtpsend -n '__fish_seen_subcommand_from check' -l rcpt -x -d 'Also try RCPT TO'
complete -c smtpsend -n '__fish_seen_subcommand_from batch' -l eml -F -d 'Complete messages'
complete -c smtpsend -n '__fish_seen_subcommand_from batch' -l limit -x -d 'Only the first N messages'
complete -c smtpsend -n '__fish_seen_subcommand_from explain' -l stage -x -a 'greeting ehlo starttls auth mail rcpt data end-of-data' -d 'The stage'
complete -c smtpsend -n '__fish_seen_subcommand_from queue; and not __fish_seen_subcommand_from list show flush drop' -a 'list show flush drop'
complete -c smtpsend -n '__fish_seen_subcommand_from flush' -l all -d 'Also the ones not yet due'
complete -c smtpsend -n '__fish_seen_subcommand_from config; and not __fish_seen_subcommand_from show profiles providers import' -a 'show profiles providers import'
complete -c smtpsend -n '__fish_seen_subcommand_from profiles providers' -l names -d 'Names only'
complete -c smtpsend -n '__fish_seen_subcommand_from import' -l name -x -d 'The profile name'
complete -c smtpsend -n '__fish_seen_subcommand_from import' -F
