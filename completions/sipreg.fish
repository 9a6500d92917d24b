# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sipreg_global_optspecs
    string join \n udp tcp tls ws wss ws-path= user= domain= auth-user= password= password-file= expires= keep check-inbound= connect-timeout= timeout= t1= retries= retry-interval= retry-max= tls-port= ca-file= cert= key= tls-server-name= insecure strict-tls no-srv dns-server= 4/ipv4 6/ipv6 nagios w/warning= c/critical= json pcap= hep= hep-id= hep-key= v/verbose q/quiet color= expect-transport= max-time= count= interval= h/help V/version
end

function __fish_sipreg_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sipreg_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sipreg_using_subcommand
    set -l cmd (__fish_sipreg_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sipreg -n "__fish_sipreg_needs_command" -l ws-path -d 'The path of the WebSocket upgrade (a ws:// or wss:// SERVER gives its own)' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l user -d 'User part of the address of record sip:USER@DOMAIN' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l domain -d 'Domain of the address of record and Request-URI [default: the SERVER host]' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l auth-user -d 'Digest user name [default: --user]' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l password -d 'Digest password. Visible to other local users in the process list: prefer SIPREG_PASSWORD or --password-file' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l password-file -d 'Read the digest password from the first line of this file' -r -F
complete -c sipreg -n "__fish_sipreg_needs_command" -l expires -d 'Requested registration lifetime in seconds' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l check-inbound -d 'After registering, send an OPTIONS to our own AOR through the registrar and report whether it reaches us (can calls reach the phone?); a failed check exits 5. In `watch`, repeat it every INTERVAL (`--check-inbound=2m`; 1m when no interval is given)' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l connect-timeout -d 'Give up a TCP or TLS connect after this long (the phone\'s "approximately thirty seconds")' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l timeout -d 'Timer F: give up a transaction without final response after this long [default: 64 × T1 = 32s]' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l t1 -d 'RFC 3261 T1; scales Timer E, T2 (8 × T1) and the default Timer F' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l retries -d 'Run up to this many more cycles after a failed one' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l retry-interval -d 'Wait before the next cycle; doubles per failed cycle (the phone\'s Register Retry)' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l retry-max -d 'Longest wait between cycles (the phone\'s Register Max Retry)' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l tls-port -d 'TLS port when TLS is one of several transports' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l ca-file -d 'Trust only the CA certificates in this PEM file instead of the bundled public roots' -r -F
complete -c sipreg -n "__fish_sipreg_needs_command" -l cert -d 'Device certificate (PEM chain), sent only when the server asks for one' -r -F
complete -c sipreg -n "__fish_sipreg_needs_command" -l key -d 'Private key of the device certificate (PEM)' -r -F
complete -c sipreg -n "__fish_sipreg_needs_command" -l tls-server-name -d 'Verify the server certificate against this name instead of the SERVER host' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l dns-server -d 'Ask this DNS server (ADDR:PORT) instead of the system\'s resolver' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -s w -l warning -d '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -s c -l critical -d '--nagios: CRITICAL when the registration time (seconds) is outside this range' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l pcap -d 'Write every SIP message sent and received (and keep-alives) to FILE as pcapng, for Wireshark; messages carried in TLS or WebSocket are written in clear, marked in their packet comment' -r -F
complete -c sipreg -n "__fish_sipreg_needs_command" -l hep -d 'Send every SIP message sent and received to a Homer (sipcapture) collector as HEPv3 over UDP, those carried in TLS or WebSocket in clear' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l hep-id -d 'The capture agent id in the HEP packets' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l hep-key -d 'The collector\'s authentication key (HEP chunk 14)' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l color -d 'Colour the human output' -r -f -a "auto\t'On a terminal, unless NO_COLOR is set or TERM=dumb'
always\t'Always'
never\t'Never'"
complete -c sipreg -n "__fish_sipreg_needs_command" -l expect-transport -d 'Exit 5 unless the registration went over this transport (for example after an unexpected fallback)' -r -f -a "udp\t'UDP'
tcp\t'TCP'
tls\t'TLS'
ws\t'WebSocket'
wss\t'Secure WebSocket'"
complete -c sipreg -n "__fish_sipreg_needs_command" -l max-time -d 'Exit 5 when the registration took longer than this' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l count -d 'Register this many times, one line per run, then a summary; exit 0 only if every run registered' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l interval -d 'Wait between runs of --count' -r
complete -c sipreg -n "__fish_sipreg_needs_command" -l udp -d 'Enable UDP (no transport flag means the phone\'s default, UDP + TCP)'
complete -c sipreg -n "__fish_sipreg_needs_command" -l tcp -d 'Enable TCP'
complete -c sipreg -n "__fish_sipreg_needs_command" -l tls -d 'Enable TLS (tried first; UDP + TLS is refused, as the phone refuses it)'
complete -c sipreg -n "__fish_sipreg_needs_command" -l ws -d 'SIP over WebSocket (RFC 7118), as browser phones register; SERVER port 80 by default. Not with --udp, --tcp or --tls'
complete -c sipreg -n "__fish_sipreg_needs_command" -l wss -d 'SIP over secure WebSocket (TLS, port 443 by default); with --ws, WSS is tried first'
complete -c sipreg -n "__fish_sipreg_needs_command" -l keep -d 'Keep the binding after a successful registration (by default sipreg removes its own contact)'
complete -c sipreg -n "__fish_sipreg_needs_command" -l insecure -d 'Do not verify the server certificate (shown loudly in every output)'
complete -c sipreg -n "__fish_sipreg_needs_command" -l strict-tls -d 'A server certificate that fails verification ends the cycle instead of falling back to TCP'
complete -c sipreg -n "__fish_sipreg_needs_command" -l no-srv -d 'Skip the NAPTR and SRV lookups (RFC 3263): use the A/AAAA records of SERVER and the default ports'
complete -c sipreg -n "__fish_sipreg_needs_command" -s 4 -l ipv4 -d 'Use IPv4 only'
complete -c sipreg -n "__fish_sipreg_needs_command" -s 6 -l ipv6 -d 'Use IPv6 only'
complete -c sipreg -n "__fish_sipreg_needs_command" -l nagios -d 'Print one line for Nagios/Icinga (Monitoring Plugins format, with perfdata) and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors too)'
complete -c sipreg -n "__fish_sipreg_needs_command" -l json -d 'Print the report as one JSON document'
complete -c sipreg -n "__fish_sipreg_needs_command" -s v -l verbose -d 'Narrate on stderr; -vv adds the SIP messages'
complete -c sipreg -n "__fish_sipreg_needs_command" -s q -l quiet -d 'Print only the verdict line'
complete -c sipreg -n "__fish_sipreg_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipreg -n "__fish_sipreg_needs_command" -s V -l version -d 'Print version'
complete -c sipreg -n "__fish_sipreg_needs_command" -a "demo" -d 'Start a registrar on loopback (TCP refused, UDP answering) and register at it with the phone\'s default flags: shows a TCP to UDP fallback with nothing else installed'
complete -c sipreg -n "__fish_sipreg_needs_command" -a "resolve" -d 'Print where the phone would go: the ordered candidates (transport, target, port, address) from NAPTR, SRV and A/AAAA, without sending any SIP'
complete -c sipreg -n "__fish_sipreg_needs_command" -a "watch" -d 'Stay registered like the phone: refresh before the granted lifetime runs out, keep-alives, answers to the network, recovery with the phone\'s fallback, until --duration or a signal; then remove the binding and print a summary'
complete -c sipreg -n "__fish_sipreg_needs_command" -a "exporter" -d 'Serve Prometheus probes: `GET /probe?target=HOST[:PORT]&module=NAME` runs one registration with the module\'s flags and answers with `probe_*` metrics (as blackbox_exporter); `/metrics` has the exporter\'s own metrics'
complete -c sipreg -n "__fish_sipreg_needs_command" -a "storm" -d 'Register many accounts at once, as every phone of a building does after a power cut, and measure the registrar: rates, latency percentiles, outcomes; every binding removed at the end'
complete -c sipreg -n "__fish_sipreg_needs_command" -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c sipreg -n "__fish_sipreg_needs_command" -a "man" -d 'Print the man page (roff)'
complete -c sipreg -n "__fish_sipreg_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sipreg -n "__fish_sipreg_using_subcommand demo" -l json -d 'Print the report as JSON'
complete -c sipreg -n "__fish_sipreg_using_subcommand demo" -s h -l help -d 'Print help'
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l ws-path -d 'The path of the WebSocket upgrade (a ws:// or wss:// SERVER gives its own)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l user -d 'User part of the address of record sip:USER@DOMAIN' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l domain -d 'Domain of the address of record and Request-URI [default: the SERVER host]' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l auth-user -d 'Digest user name [default: --user]' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l password -d 'Digest password. Visible to other local users in the process list: prefer SIPREG_PASSWORD or --password-file' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l password-file -d 'Read the digest password from the first line of this file' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l expires -d 'Requested registration lifetime in seconds' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l check-inbound -d 'After registering, send an OPTIONS to our own AOR through the registrar and report whether it reaches us (can calls reach the phone?); a failed check exits 5. In `watch`, repeat it every INTERVAL (`--check-inbound=2m`; 1m when no interval is given)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l connect-timeout -d 'Give up a TCP or TLS connect after this long (the phone\'s "approximately thirty seconds")' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l timeout -d 'Timer F: give up a transaction without final response after this long [default: 64 × T1 = 32s]' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l t1 -d 'RFC 3261 T1; scales Timer E, T2 (8 × T1) and the default Timer F' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l retries -d 'Run up to this many more cycles after a failed one' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l retry-interval -d 'Wait before the next cycle; doubles per failed cycle (the phone\'s Register Retry)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l retry-max -d 'Longest wait between cycles (the phone\'s Register Max Retry)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l tls-port -d 'TLS port when TLS is one of several transports' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l ca-file -d 'Trust only the CA certificates in this PEM file instead of the bundled public roots' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l cert -d 'Device certificate (PEM chain), sent only when the server asks for one' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l key -d 'Private key of the device certificate (PEM)' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l tls-server-name -d 'Verify the server certificate against this name instead of the SERVER host' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l dns-server -d 'Ask this DNS server (ADDR:PORT) instead of the system\'s resolver' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -s w -l warning -d '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -s c -l critical -d '--nagios: CRITICAL when the registration time (seconds) is outside this range' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l pcap -d 'Write every SIP message sent and received (and keep-alives) to FILE as pcapng, for Wireshark; messages carried in TLS or WebSocket are written in clear, marked in their packet comment' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l hep -d 'Send every SIP message sent and received to a Homer (sipcapture) collector as HEPv3 over UDP, those carried in TLS or WebSocket in clear' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l hep-id -d 'The capture agent id in the HEP packets' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l hep-key -d 'The collector\'s authentication key (HEP chunk 14)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l color -d 'Colour the human output' -r -f -a "auto\t'On a terminal, unless NO_COLOR is set or TERM=dumb'
always\t'Always'
never\t'Never'"
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l expect-transport -d 'Exit 5 unless the registration went over this transport (for example after an unexpected fallback)' -r -f -a "udp\t'UDP'
tcp\t'TCP'
tls\t'TLS'
ws\t'WebSocket'
wss\t'Secure WebSocket'"
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l max-time -d 'Exit 5 when the registration took longer than this' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l count -d 'Register this many times, one line per run, then a summary; exit 0 only if every run registered' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l interval -d 'Wait between runs of --count' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l udp -d 'Enable UDP (no transport flag means the phone\'s default, UDP + TCP)'
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l tcp -d 'Enable TCP'
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l tls -d 'Enable TLS (tried first; UDP + TLS is refused, as the phone refuses it)'
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l ws -d 'SIP over WebSocket (RFC 7118), as browser phones register; SERVER port 80 by default. Not with --udp, --tcp or --tls'
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l wss -d 'SIP over secure WebSocket (TLS, port 443 by default); with --ws, WSS is tried first'
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l keep -d 'Keep the binding after a successful registration (by default sipreg removes its own contact)'
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l insecure -d 'Do not verify the server certificate (shown loudly in every output)'
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l strict-tls -d 'A server certificate that fails verification ends the cycle instead of falling back to TCP'
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l no-srv -d 'Skip the NAPTR and SRV lookups (RFC 3263): use the A/AAAA records of SERVER and the default ports'
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -s 4 -l ipv4 -d 'Use IPv4 only'
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -s 6 -l ipv6 -d 'Use IPv6 only'
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l nagios -d 'Print one line for Nagios/Icinga (Monitoring Plugins format, with perfdata) and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors too)'
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -l json -d 'Print the report as one JSON document'
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -s v -l verbose -d 'Narrate on stderr; -vv adds the SIP messages'
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -s q -l quiet -d 'Print only the verdict line'
complete -c sipreg -n "__fish_sipreg_using_subcommand resolve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l pcap-ring -d 'With --pcap FILE: keep only the packets of the last DURATION, and write them to FILE-1, FILE-2… when the registration is lost, a refresh fails or an inbound check fails' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l keepalive -d 'Keep-alive interval (the phone\'s CONN_KEEP_ALIVE); 0 turns keep-alives off. A Flow-Timer from the registrar overrides it' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l refresh -d 'When to refresh: a share of the granted lifetime (`90%`, as baresip and linphone) or a time before it runs out (`5s`, as pjsip; never before half of it)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l duration -d 'Watch this long, then remove the binding and print the summary; without it, until SIGINT or SIGTERM' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l metrics-listen -d 'Serve `/metrics` for the registration being held on this address (Prometheus text format: sipreg_registered, drops, refreshes, keep-alive RTT, …)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l ws-path -d 'The path of the WebSocket upgrade (a ws:// or wss:// SERVER gives its own)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l user -d 'User part of the address of record sip:USER@DOMAIN' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l domain -d 'Domain of the address of record and Request-URI [default: the SERVER host]' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l auth-user -d 'Digest user name [default: --user]' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l password -d 'Digest password. Visible to other local users in the process list: prefer SIPREG_PASSWORD or --password-file' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l password-file -d 'Read the digest password from the first line of this file' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l expires -d 'Requested registration lifetime in seconds' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l check-inbound -d 'After registering, send an OPTIONS to our own AOR through the registrar and report whether it reaches us (can calls reach the phone?); a failed check exits 5. In `watch`, repeat it every INTERVAL (`--check-inbound=2m`; 1m when no interval is given)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l connect-timeout -d 'Give up a TCP or TLS connect after this long (the phone\'s "approximately thirty seconds")' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l timeout -d 'Timer F: give up a transaction without final response after this long [default: 64 × T1 = 32s]' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l t1 -d 'RFC 3261 T1; scales Timer E, T2 (8 × T1) and the default Timer F' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l retries -d 'Run up to this many more cycles after a failed one' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l retry-interval -d 'Wait before the next cycle; doubles per failed cycle (the phone\'s Register Retry)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l retry-max -d 'Longest wait between cycles (the phone\'s Register Max Retry)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l tls-port -d 'TLS port when TLS is one of several transports' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l ca-file -d 'Trust only the CA certificates in this PEM file instead of the bundled public roots' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l cert -d 'Device certificate (PEM chain), sent only when the server asks for one' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l key -d 'Private key of the device certificate (PEM)' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l tls-server-name -d 'Verify the server certificate against this name instead of the SERVER host' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l dns-server -d 'Ask this DNS server (ADDR:PORT) instead of the system\'s resolver' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -s w -l warning -d '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -s c -l critical -d '--nagios: CRITICAL when the registration time (seconds) is outside this range' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l pcap -d 'Write every SIP message sent and received (and keep-alives) to FILE as pcapng, for Wireshark; messages carried in TLS or WebSocket are written in clear, marked in their packet comment' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l hep -d 'Send every SIP message sent and received to a Homer (sipcapture) collector as HEPv3 over UDP, those carried in TLS or WebSocket in clear' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l hep-id -d 'The capture agent id in the HEP packets' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l hep-key -d 'The collector\'s authentication key (HEP chunk 14)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l color -d 'Colour the human output' -r -f -a "auto\t'On a terminal, unless NO_COLOR is set or TERM=dumb'
always\t'Always'
never\t'Never'"
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l expect-transport -d 'Exit 5 unless the registration went over this transport (for example after an unexpected fallback)' -r -f -a "udp\t'UDP'
tcp\t'TCP'
tls\t'TLS'
ws\t'WebSocket'
wss\t'Secure WebSocket'"
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l max-time -d 'Exit 5 when the registration took longer than this' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l count -d 'Register this many times, one line per run, then a summary; exit 0 only if every run registered' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l interval -d 'Wait between runs of --count' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l udp -d 'Enable UDP (no transport flag means the phone\'s default, UDP + TCP)'
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l tcp -d 'Enable TCP'
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l tls -d 'Enable TLS (tried first; UDP + TLS is refused, as the phone refuses it)'
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l ws -d 'SIP over WebSocket (RFC 7118), as browser phones register; SERVER port 80 by default. Not with --udp, --tcp or --tls'
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l wss -d 'SIP over secure WebSocket (TLS, port 443 by default); with --ws, WSS is tried first'
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l keep -d 'Keep the binding after a successful registration (by default sipreg removes its own contact)'
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l insecure -d 'Do not verify the server certificate (shown loudly in every output)'
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l strict-tls -d 'A server certificate that fails verification ends the cycle instead of falling back to TCP'
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l no-srv -d 'Skip the NAPTR and SRV lookups (RFC 3263): use the A/AAAA records of SERVER and the default ports'
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -s 4 -l ipv4 -d 'Use IPv4 only'
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -s 6 -l ipv6 -d 'Use IPv6 only'
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l nagios -d 'Print one line for Nagios/Icinga (Monitoring Plugins format, with perfdata) and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors too)'
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -l json -d 'Print the report as one JSON document'
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -s v -l verbose -d 'Narrate on stderr; -vv adds the SIP messages'
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -s q -l quiet -d 'Print only the verdict line'
complete -c sipreg -n "__fish_sipreg_using_subcommand watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipreg -n "__fish_sipreg_using_subcommand exporter" -l listen -d 'Address to serve HTTP on (port 0 picks a free one; the address is printed on stderr)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand exporter" -l config -d 'The modules: a TOML file of `[modules.NAME]` tables with the one-shot flags (see docs/monitoring.md)' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand exporter" -l max-concurrent -d 'Probes run at once; more wait for a slot until their scrape deadline (then 503)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand exporter" -l timeout-offset -d 'A probe ends this long before Prometheus\'s scrape timeout (X-Prometheus-Scrape-Timeout-Seconds), as blackbox_exporter\'s --timeout-offset' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand exporter" -l hep -d 'Send every SIP message sent and received to a Homer (sipcapture) collector as HEPv3 over UDP, those carried in TLS or WebSocket in clear' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand exporter" -l hep-id -d 'The capture agent id in the HEP packets' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand exporter" -l hep-key -d 'The collector\'s authentication key (HEP chunk 14)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand exporter" -l check-config -d 'Check the config file, print its modules and exit (0 valid, 2 not)'
complete -c sipreg -n "__fish_sipreg_using_subcommand exporter" -s v -l verbose -d 'Log one line per probe on stderr (module, target, result, time); -vv adds the SIP narration'
complete -c sipreg -n "__fish_sipreg_using_subcommand exporter" -s h -l help -d 'Print help'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l accounts -d 'The accounts: CSV with a header, columns user,password and optionally auth_user,domain' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l rate -d 'Registrations started per second [default: all at once, within --concurrency]' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l burst -d 'Start the accounts in groups of N at once, the groups --rate apart (a switch\'s worth of phones coming back together) [default: 1, one by one]' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l concurrency -d 'Registrations under way at once' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l duration -d 'Hold the bindings this long from the start, refreshing them as the phone does; then remove them' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l socket -d 'A socket or connection per account (as real phones), or one shared by all' -r -f -a "per-account\t'A UDP socket or TCP/TLS connection per account, as real phones have'
shared\t'One UDP socket or TCP connection for all accounts: the registrar\'s raw ceiling'"
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l threads -d 'Threads [default: one per core, half of them for a registrar on loopback; 1 with --socket shared]; each runs its share of the accounts (a shared socket: a runtime of N workers); 1 runs the storm on a single thread' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l shard -d 'Take every N-th account, starting at K (0 ≤ K < N): N copies share one storm' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l ws-path -d 'The path of the WebSocket upgrade (a ws:// or wss:// SERVER gives its own)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l user -d 'User part of the address of record sip:USER@DOMAIN' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l domain -d 'Domain of the address of record and Request-URI [default: the SERVER host]' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l auth-user -d 'Digest user name [default: --user]' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l password -d 'Digest password. Visible to other local users in the process list: prefer SIPREG_PASSWORD or --password-file' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l password-file -d 'Read the digest password from the first line of this file' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l expires -d 'Requested registration lifetime in seconds' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l check-inbound -d 'After registering, send an OPTIONS to our own AOR through the registrar and report whether it reaches us (can calls reach the phone?); a failed check exits 5. In `watch`, repeat it every INTERVAL (`--check-inbound=2m`; 1m when no interval is given)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l connect-timeout -d 'Give up a TCP or TLS connect after this long (the phone\'s "approximately thirty seconds")' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l timeout -d 'Timer F: give up a transaction without final response after this long [default: 64 × T1 = 32s]' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l t1 -d 'RFC 3261 T1; scales Timer E, T2 (8 × T1) and the default Timer F' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l retries -d 'Run up to this many more cycles after a failed one' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l retry-interval -d 'Wait before the next cycle; doubles per failed cycle (the phone\'s Register Retry)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l retry-max -d 'Longest wait between cycles (the phone\'s Register Max Retry)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l tls-port -d 'TLS port when TLS is one of several transports' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l ca-file -d 'Trust only the CA certificates in this PEM file instead of the bundled public roots' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l cert -d 'Device certificate (PEM chain), sent only when the server asks for one' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l key -d 'Private key of the device certificate (PEM)' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l tls-server-name -d 'Verify the server certificate against this name instead of the SERVER host' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l dns-server -d 'Ask this DNS server (ADDR:PORT) instead of the system\'s resolver' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -s w -l warning -d '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -s c -l critical -d '--nagios: CRITICAL when the registration time (seconds) is outside this range' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l pcap -d 'Write every SIP message sent and received (and keep-alives) to FILE as pcapng, for Wireshark; messages carried in TLS or WebSocket are written in clear, marked in their packet comment' -r -F
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l hep -d 'Send every SIP message sent and received to a Homer (sipcapture) collector as HEPv3 over UDP, those carried in TLS or WebSocket in clear' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l hep-id -d 'The capture agent id in the HEP packets' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l hep-key -d 'The collector\'s authentication key (HEP chunk 14)' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l color -d 'Colour the human output' -r -f -a "auto\t'On a terminal, unless NO_COLOR is set or TERM=dumb'
always\t'Always'
never\t'Never'"
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l expect-transport -d 'Exit 5 unless the registration went over this transport (for example after an unexpected fallback)' -r -f -a "udp\t'UDP'
tcp\t'TCP'
tls\t'TLS'
ws\t'WebSocket'
wss\t'Secure WebSocket'"
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l max-time -d 'Exit 5 when the registration took longer than this' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l count -d 'Register this many times, one line per run, then a summary; exit 0 only if every run registered' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l interval -d 'Wait between runs of --count' -r
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l udp -d 'Enable UDP (no transport flag means the phone\'s default, UDP + TCP)'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l tcp -d 'Enable TCP'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l tls -d 'Enable TLS (tried first; UDP + TLS is refused, as the phone refuses it)'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l ws -d 'SIP over WebSocket (RFC 7118), as browser phones register; SERVER port 80 by default. Not with --udp, --tcp or --tls'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l wss -d 'SIP over secure WebSocket (TLS, port 443 by default); with --ws, WSS is tried first'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l keep -d 'Keep the binding after a successful registration (by default sipreg removes its own contact)'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l insecure -d 'Do not verify the server certificate (shown loudly in every output)'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l strict-tls -d 'A server certificate that fails verification ends the cycle instead of falling back to TCP'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l no-srv -d 'Skip the NAPTR and SRV lookups (RFC 3263): use the A/AAAA records of SERVER and the default ports'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -s 4 -l ipv4 -d 'Use IPv4 only'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -s 6 -l ipv6 -d 'Use IPv6 only'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l nagios -d 'Print one line for Nagios/Icinga (Monitoring Plugins format, with perfdata) and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors too)'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -l json -d 'Print the report as one JSON document'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -s v -l verbose -d 'Narrate on stderr; -vv adds the SIP messages'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -s q -l quiet -d 'Print only the verdict line'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -a "merge" -d 'Merge the `--json` results of shards into one: counts added, histograms merged exactly'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and not __fish_seen_subcommand_from merge help" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and __fish_seen_subcommand_from merge" -l json -d 'Print the merged result as JSON'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and __fish_seen_subcommand_from merge" -s h -l help -d 'Print help'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and __fish_seen_subcommand_from help" -f -a "merge" -d 'Merge the `--json` results of shards into one: counts added, histograms merged exactly'
complete -c sipreg -n "__fish_sipreg_using_subcommand storm; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sipreg -n "__fish_sipreg_using_subcommand completions" -s h -l help -d 'Print help'
complete -c sipreg -n "__fish_sipreg_using_subcommand man" -s h -l help -d 'Print help'
complete -c sipreg -n "__fish_sipreg_using_subcommand help; and not __fish_seen_subcommand_from demo resolve watch exporter storm completions man help" -f -a "demo" -d 'Start a registrar on loopback (TCP refused, UDP answering) and register at it with the phone\'s default flags: shows a TCP to UDP fallback with nothing else installed'
complete -c sipreg -n "__fish_sipreg_using_subcommand help; and not __fish_seen_subcommand_from demo resolve watch exporter storm completions man help" -f -a "resolve" -d 'Print where the phone would go: the ordered candidates (transport, target, port, address) from NAPTR, SRV and A/AAAA, without sending any SIP'
complete -c sipreg -n "__fish_sipreg_using_subcommand help; and not __fish_seen_subcommand_from demo resolve watch exporter storm completions man help" -f -a "watch" -d 'Stay registered like the phone: refresh before the granted lifetime runs out, keep-alives, answers to the network, recovery with the phone\'s fallback, until --duration or a signal; then remove the binding and print a summary'
complete -c sipreg -n "__fish_sipreg_using_subcommand help; and not __fish_seen_subcommand_from demo resolve watch exporter storm completions man help" -f -a "exporter" -d 'Serve Prometheus probes: `GET /probe?target=HOST[:PORT]&module=NAME` runs one registration with the module\'s flags and answers with `probe_*` metrics (as blackbox_exporter); `/metrics` has the exporter\'s own metrics'
complete -c sipreg -n "__fish_sipreg_using_subcommand help; and not __fish_seen_subcommand_from demo resolve watch exporter storm completions man help" -f -a "storm" -d 'Register many accounts at once, as every phone of a building does after a power cut, and measure the registrar: rates, latency percentiles, outcomes; every binding removed at the end'
complete -c sipreg -n "__fish_sipreg_using_subcommand help; and not __fish_seen_subcommand_from demo resolve watch exporter storm completions man help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c sipreg -n "__fish_sipreg_using_subcommand help; and not __fish_seen_subcommand_from demo resolve watch exporter storm completions man help" -f -a "man" -d 'Print the man page (roff)'
complete -c sipreg -n "__fish_sipreg_using_subcommand help; and not __fish_seen_subcommand_from demo resolve watch exporter storm completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c sipreg -n "__fish_sipreg_using_subcommand help; and __fish_seen_subcommand_from storm" -f -a "merge" -d 'Merge the `--json` results of shards into one: counts added, histograms merged exactly'
