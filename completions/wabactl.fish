# fish completion for wabactl(1)
#
# Adding a command: its name in __wabactl_children, its value-taking flags in
# __wabactl_value_flags, and one `complete` line per flag under `__wabactl_at PATH`.
# tests/unit/test_completions.cpp fails when a command or flag of the CLI is missing here.

# The subcommands of a command path.
function __wabactl_children
    switch "$argv"
        case ''
            echo key tenant config send history unread mark-read status media template hook token serve
        case key
            echo init rotate
        case tenant
            echo add list remove
        case config
            echo set get list delete test
        case media
            echo get list prune
        case template
            echo sync list show
        case hook
            echo add list remove test deliveries
        case token
            echo create list revoke
    end
end

# Flags whose value is the next word (skipped when finding the command path).
set -g __wabactl_value_flags -o --output --state --older-than --db --key-file --config --color --new-key-file --name --tenant \
    --phone-number-id --access-token-file --app-secret-file --business-account-id \
    --verify-token --api-version --graph-url --to --reply-to --contact-id --idempotency-key \
    --callback-data --text --template --lang --header-text --header-image --header-video \
    --header-document --filename --body-param --button-param --image --caption --video \
    --audio --document --sticker --reaction --location --address --batch --rate --concurrency --resolve --phone \
    --contact --direction --limit --before --offset --label --listen --ws-listen --max-body \
    --threads --max-streams --max-connections-per-address --head-timeout --media-workers --media-max --status --url --events

# The command path typed so far, e.g. "config set".
function __wabactl_path
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l path
    set -l skip 0
    for t in $tokens
        if test $skip -eq 1
            set skip 0
        else if contains -- $t $__wabactl_value_flags
            set skip 1
        else if string match -q -- '-*' $t
            continue
        else if contains -- $t (string split ' ' -- (__wabactl_children "$path"))
            set -a path $t
        end
    end
    echo "$path"
end

# True when the command path typed so far is exactly $argv.
function __wabactl_at
    test (__wabactl_path) = "$argv"
end

# Tenant ids from the database the command line points at (--db).
function __wabactl_tenants
    set -l tokens (commandline -opc)
    set -l db
    for i in (seq (count $tokens))
        if test "$tokens[$i]" = --db; and test $i -lt (count $tokens)
            set db --db $tokens[(math $i + 1)]
        else if string match -q -- '--db=*' $tokens[$i]
            set db $tokens[$i]
        end
    end
    $tokens[1] $db tenant list --json 2>/dev/null | string replace -rf '.*"id":"([^"]*)".*' '$1'
end

complete -c wabactl -f

# Global flags, accepted before or after any command.
complete -c wabactl -l db -r -F -d 'database file'
complete -c wabactl -l key-file -r -F -d 'master key file'
complete -c wabactl -l config -r -F -d 'read long options from an INI/TOML file'
complete -c wabactl -l color -x -a 'auto always never' -d 'colour the output'
complete -c wabactl -l json -d 'print JSON (JSON Lines for lists)'
complete -c wabactl -s q -l quiet -d 'print errors only'
complete -c wabactl -s v -l verbose -d 'print more (repeat for debug)'
complete -c wabactl -s h -l help -d 'show help'
complete -c wabactl -n '__wabactl_at' -l version -d 'print the version'

# Commands.
complete -c wabactl -n '__wabactl_at' -a key -d 'create or rotate the master key that seals secrets'
complete -c wabactl -n '__wabactl_at' -a tenant -d 'add, list and remove tenants'
complete -c wabactl -n '__wabactl_at' -a config -d 'set, show, test and delete WhatsApp configs'
complete -c wabactl -n '__wabactl_at' -a send -d 'send a message, or a batch from a file'
complete -c wabactl -n '__wabactl_at' -a history -d 'show a conversation or recent messages'
complete -c wabactl -n '__wabactl_at' -a unread -d 'count unread incoming messages'
complete -c wabactl -n '__wabactl_at' -a mark-read -d 'mark messages read and send read receipts'
complete -c wabactl -n '__wabactl_at' -a status -d "show a message's status history"
complete -c wabactl -n '__wabactl_at' -a token -d 'create, list and revoke API tokens'
complete -c wabactl -n '__wabactl_at' -a serve -d 'run the webhook and API daemon'

# key
complete -c wabactl -n '__wabactl_at key' -a init -d 'create a random 32-byte master key file'
complete -c wabactl -n '__wabactl_at key' -a rotate -d 're-seal every stored secret under a new key'
complete -c wabactl -n '__wabactl_at key init' -l force -d 'replace an existing key file'
complete -c wabactl -n '__wabactl_at key rotate' -l new-key-file -r -F -d 'the new key file (created if absent)'

# tenant
complete -c wabactl -n '__wabactl_at tenant' -a add -d 'add a tenant'
complete -c wabactl -n '__wabactl_at tenant' -a list -d 'list tenants'
complete -c wabactl -n '__wabactl_at tenant' -a remove -d 'remove a tenant and everything it owns'
complete -c wabactl -n '__wabactl_at tenant add' -l name -x -d 'display name'
complete -c wabactl -n '__wabactl_at tenant list'
complete -c wabactl -n '__wabactl_at tenant remove' -l yes -d 'confirm the removal'
complete -c wabactl -n '__wabactl_at tenant remove' -a '(__wabactl_tenants)' -d tenant

# config
complete -c wabactl -n '__wabactl_at config' -a set -d "create or replace a tenant's WhatsApp config"
complete -c wabactl -n '__wabactl_at config' -a get -d "show a tenant's config, secrets masked"
complete -c wabactl -n '__wabactl_at config' -a list -d "list every tenant's config"
complete -c wabactl -n '__wabactl_at config' -a delete -d "delete a tenant's config"
complete -c wabactl -n '__wabactl_at config' -a test -d "test a tenant's credentials against Meta"
complete -c wabactl -n '__wabactl_at config set' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at config set' -l phone-number-id -x -d "Meta's phone number id"
complete -c wabactl -n '__wabactl_at config set' -l access-token-file -r -F -d 'read the access token from a file'
complete -c wabactl -n '__wabactl_at config set' -l access-token-stdin -d 'read the access token from stdin'
complete -c wabactl -n '__wabactl_at config set' -l app-secret-file -r -F -d 'read the app secret from a file'
complete -c wabactl -n '__wabactl_at config set' -l app-secret-stdin -d 'read the app secret from stdin'
complete -c wabactl -n '__wabactl_at config set' -l business-account-id -x -d 'WhatsApp Business Account id'
complete -c wabactl -n '__wabactl_at config set' -l verify-token -x -d 'webhook verify token'
complete -c wabactl -n '__wabactl_at config set' -l api-version -x -a v25.0 -d 'Graph API version'
complete -c wabactl -n '__wabactl_at config set' -l graph-url -x -d 'Graph API base URL'
complete -c wabactl -n '__wabactl_at config set' -l active -d 'use this config (default)'
complete -c wabactl -n '__wabactl_at config set' -l inactive -d 'keep the config but do not use it'
complete -c wabactl -n '__wabactl_at config set' -l no-test -d 'save without testing the credentials'
complete -c wabactl -n '__wabactl_at config get' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at config get' -l show-secrets -d 'show secrets unmasked'
complete -c wabactl -n '__wabactl_at config list'
complete -c wabactl -n '__wabactl_at config delete' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at config test' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'

# send
complete -c wabactl -n '__wabactl_at send' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at send' -l to -x -d 'recipient: phone number or business-scoped user id'
complete -c wabactl -n '__wabactl_at send' -l reply-to -x -d 'reply to this message (wamid)'
complete -c wabactl -n '__wabactl_at send' -l contact-id -x -d 'your contact id, stored with the message'
complete -c wabactl -n '__wabactl_at send' -l idempotency-key -x -d 'send at most once per key'
complete -c wabactl -n '__wabactl_at send' -l callback-data -x -d 'string Meta echoes in status webhooks'
complete -c wabactl -n '__wabactl_at send' -l no-fallback -d 'exit 3 instead of printing a wa.me link'
complete -c wabactl -n '__wabactl_at send' -l outside-window -d 'send free-form content even when the 24-hour window is closed'
complete -c wabactl -n '__wabactl_at send' -l no-template-check -d 'send a template without checking the synced catalogue'
complete -c wabactl -n '__wabactl_at send' -l text -x -d 'text body'
complete -c wabactl -n '__wabactl_at send' -l preview-url -d 'render a preview of the first URL'
complete -c wabactl -n '__wabactl_at send' -l template -x -d 'template name'
complete -c wabactl -n '__wabactl_at send' -l lang -x -d 'template language code'
complete -c wabactl -n '__wabactl_at send' -l header-text -x -d 'template header text'
complete -c wabactl -n '__wabactl_at send' -l header-image -r -F -d 'template header image: URL or file'
complete -c wabactl -n '__wabactl_at send' -l header-video -r -F -d 'template header video: URL or file'
complete -c wabactl -n '__wabactl_at send' -l header-document -r -F -d 'template header document: URL or file'
complete -c wabactl -n '__wabactl_at send' -l filename -x -d 'file name shown for a document'
complete -c wabactl -n '__wabactl_at send' -l body-param -x -d 'template body parameter (repeatable)'
complete -c wabactl -n '__wabactl_at send' -l button-param -x -d 'template button parameter INDEX:VALUE'
complete -c wabactl -n '__wabactl_at send' -l image -r -F -d 'send an image: URL or file'
complete -c wabactl -n '__wabactl_at send' -l caption -x -d 'media caption'
complete -c wabactl -n '__wabactl_at send' -l video -r -F -d 'send a video: URL or file'
complete -c wabactl -n '__wabactl_at send' -l audio -r -F -d 'send audio: URL or file'
complete -c wabactl -n '__wabactl_at send' -l document -r -F -d 'send a document: URL or file'
complete -c wabactl -n '__wabactl_at send' -l sticker -r -F -d 'send a sticker (webp): URL or file'
complete -c wabactl -n '__wabactl_at send' -l reaction -x -d 'react with an emoji (with --reply-to)'
complete -c wabactl -n '__wabactl_at send' -l location -x -d 'send a location LAT,LON'
complete -c wabactl -n '__wabactl_at send' -l name -x -d 'location name'
complete -c wabactl -n '__wabactl_at send' -l address -x -d 'location address'
complete -c wabactl -n '__wabactl_at send' -l batch -r -F -d 'send every row of a CSV or JSON Lines file'
complete -c wabactl -n '__wabactl_at send' -l rate -x -d 'messages per second (default 80)'
complete -c wabactl -n '__wabactl_at send' -l concurrency -x -d 'requests in flight'
complete -c wabactl -n '__wabactl_at send' -l dry-run -d 'check the batch file without sending'
complete -c wabactl -n '__wabactl_at send' -l resolve -x -d 'settle an unknown send: KEY sent|failed'

# history
complete -c wabactl -n '__wabactl_at history' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at history' -l phone -x -d 'phone number or business-scoped user id'
complete -c wabactl -n '__wabactl_at history' -l contact -x -d 'contact id'
complete -c wabactl -n '__wabactl_at history' -l direction -x -a 'in out' -d 'only incoming or outgoing'
complete -c wabactl -n '__wabactl_at history' -l limit -x -d 'messages per page (default 50)'
complete -c wabactl -n '__wabactl_at history' -l before -x -d 'messages older than this one'
complete -c wabactl -n '__wabactl_at history' -l offset -x -d 'skip this many messages'
complete -c wabactl -n '__wabactl_at history' -l search -x -d 'only messages containing every word (word* is a prefix)'
complete -c wabactl -n '__wabactl_at history' -l since -x -d 'only messages at or after TIME (ISO 8601, 30m, 24h, 7d)'
complete -c wabactl -n '__wabactl_at history' -l until -x -d 'only messages at or before TIME (ISO 8601, 30m, 24h, 7d)'
complete -c wabactl -n '__wabactl_at history' -l format -x -a 'text json csv' -d 'output format'
complete -c wabactl -n '__wabactl_at history' -l all -d 'every matching message, page after page'

# unread
complete -c wabactl -n '__wabactl_at unread' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at unread' -l by-contact -d 'one row per conversation'
complete -c wabactl -n '__wabactl_at unread' -l watch -d 'keep printing as the count changes'

# mark-read
complete -c wabactl -n '__wabactl_at mark-read' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at mark-read' -l phone -x -d 'every message of this conversation'
complete -c wabactl -n '__wabactl_at mark-read' -l all -d 'every unread message of the tenant'
complete -c wabactl -n '__wabactl_at mark-read' -l no-receipt -d 'do not send Meta a read receipt'
complete -c wabactl -n '__wabactl_at mark-read' -l typing -d 'show the typing indicator with the read receipt'

# status
complete -c wabactl -n '__wabactl_at status' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'

# media
complete -c wabactl -n '__wabactl_at' -a media -d 'get, list and prune kept photos and documents'
complete -c wabactl -n '__wabactl_at media' -a get -d "write a message's media to a file or stdout"
complete -c wabactl -n '__wabactl_at media' -a list -d "list a tenant's messages with media"
complete -c wabactl -n '__wabactl_at media' -a prune -d 'remove the stored bytes of older messages'
complete -c wabactl -n '__wabactl_at media get' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at media get' -s o -l output -r -F -d 'the file to write, a folder, or - for stdout'
complete -c wabactl -n '__wabactl_at media get' -l force -d 'replace an existing file'
complete -c wabactl -n '__wabactl_at media get' -l media-max -x -d 'largest file fetched for a media type (TYPE=BYTES)'
complete -c wabactl -n '__wabactl_at media list' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at media list' -l state -x -a 'pending stored failed' -d 'only media in this state'
complete -c wabactl -n '__wabactl_at media list' -l limit -x -d 'at most N messages'
complete -c wabactl -n '__wabactl_at media prune' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at media prune' -l older-than -x -d 'messages older than this many days'

# template
complete -c wabactl -n '__wabactl_at' -a template -d 'sync, list and show message templates'
complete -c wabactl -n '__wabactl_at template' -a sync -d "pull the tenant's whole template catalogue from Meta"
complete -c wabactl -n '__wabactl_at template' -a list -d 'list the synced templates'
complete -c wabactl -n '__wabactl_at template' -a show -d "show a template's components and an example send"
complete -c wabactl -n '__wabactl_at template sync' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at template list' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at template list' -l status -x -a 'APPROVED PENDING REJECTED PAUSED DISABLED' -d 'only templates with this status'
complete -c wabactl -n '__wabactl_at template show' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at template show' -l lang -x -d 'the language code (en_US)'

# hook
complete -c wabactl -n '__wabactl_at' -a hook -d "forward a tenant's events to URLs, signed"
complete -c wabactl -n '__wabactl_at hook' -a add -d 'register a URL; prints its signing secret once'
complete -c wabactl -n '__wabactl_at hook' -a list -d "list the tenant's hooks"
complete -c wabactl -n '__wabactl_at hook' -a remove -d 'remove a hook and its deliveries'
complete -c wabactl -n '__wabactl_at hook' -a test -d 'send a hook.test event now and print the answer'
complete -c wabactl -n '__wabactl_at hook' -a deliveries -d "list a hook's deliveries, newest first"
complete -c wabactl -n '__wabactl_at hook add' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at hook add' -l url -x -d 'where to POST events (http or https)'
complete -c wabactl -n '__wabactl_at hook add' -l events -x -a 'message.received message.sent message.status message.edited message.revoked message.echoed unread.changed config.changed contact.merged media.stored template.changed hook.disabled' -d 'event types to forward, comma-separated'
complete -c wabactl -n '__wabactl_at hook add' -l allow-private -d 'allow a receiver on a loopback, private or link-local address'
complete -c wabactl -n '__wabactl_at hook list' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at hook remove' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at hook test' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at hook deliveries' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at hook deliveries' -l failed -d 'only deliveries given up'
complete -c wabactl -n '__wabactl_at hook deliveries' -l limit -x -d 'at most this many (default 50)'

# token
complete -c wabactl -n '__wabactl_at token' -a create -d 'create an API bearer token (printed once)'
complete -c wabactl -n '__wabactl_at token' -a list -d "list a tenant's tokens"
complete -c wabactl -n '__wabactl_at token' -a revoke -d 'revoke a token'
complete -c wabactl -n '__wabactl_at token create' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at token create' -l label -x -d label
complete -c wabactl -n '__wabactl_at token list' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'
complete -c wabactl -n '__wabactl_at token revoke' -l tenant -x -a '(__wabactl_tenants)' -d 'tenant id'

# serve
complete -c wabactl -n '__wabactl_at serve' -l listen -x -d 'HTTP listen HOST:PORT (default 127.0.0.1:8080)'
complete -c wabactl -n '__wabactl_at serve' -l ws-listen -x -d 'WebSocket listen HOST:PORT'
complete -c wabactl -n '__wabactl_at serve' -l max-body -x -d 'largest webhook body in bytes'
complete -c wabactl -n '__wabactl_at serve' -l threads -x -d 'HTTP worker threads'
complete -c wabactl -n '__wabactl_at serve' -l max-streams -x -d 'live SSE and WebSocket streams at once'
complete -c wabactl -n '__wabactl_at serve' -l max-connections-per-address -x -d 'open HTTP connections per client address'
complete -c wabactl -n '__wabactl_at serve' -l head-timeout -x -d 'seconds a request head may take to arrive'
complete -c wabactl -n '__wabactl_at serve' -l media-workers -x -d 'inbound media downloads at once'
complete -c wabactl -n '__wabactl_at serve' -l media-max -x -d 'largest file kept for a media type (TYPE=BYTES)'
