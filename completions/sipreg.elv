
use builtin;
use str;

set edit:completion:arg-completer[sipreg] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'sipreg'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'sipreg'= {
            cand --ws-path 'The path of the WebSocket upgrade (a ws:// or wss:// SERVER gives its own)'
            cand --user 'User part of the address of record sip:USER@DOMAIN'
            cand --domain 'Domain of the address of record and Request-URI [default: the SERVER host]'
            cand --auth-user 'Digest user name [default: --user]'
            cand --password 'Digest password. Visible to other local users in the process list: prefer SIPREG_PASSWORD or --password-file'
            cand --password-file 'Read the digest password from the first line of this file'
            cand --expires 'Requested registration lifetime in seconds'
            cand --check-inbound 'After registering, send an OPTIONS to our own AOR through the registrar and report whether it reaches us (can calls reach the phone?); a failed check exits 5. In `watch`, repeat it every INTERVAL (`--check-inbound=2m`; 1m when no interval is given)'
            cand --connect-timeout 'Give up a TCP or TLS connect after this long (the phone''s "approximately thirty seconds")'
            cand --timeout 'Timer F: give up a transaction without final response after this long [default: 64 × T1 = 32s]'
            cand --t1 'RFC 3261 T1; scales Timer E, T2 (8 × T1) and the default Timer F'
            cand --retries 'Run up to this many more cycles after a failed one'
            cand --retry-interval 'Wait before the next cycle; doubles per failed cycle (the phone''s Register Retry)'
            cand --retry-max 'Longest wait between cycles (the phone''s Register Max Retry)'
            cand --tls-port 'TLS port when TLS is one of several transports'
            cand --ca-file 'Trust only the CA certificates in this PEM file instead of the bundled public roots'
            cand --cert 'Device certificate (PEM chain), sent only when the server asks for one'
            cand --key 'Private key of the device certificate (PEM)'
            cand --tls-server-name 'Verify the server certificate against this name instead of the SERVER host'
            cand --dns-server 'Ask this DNS server (ADDR:PORT) instead of the system''s resolver'
            cand -w '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)'
            cand --warning '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)'
            cand -c '--nagios: CRITICAL when the registration time (seconds) is outside this range'
            cand --critical '--nagios: CRITICAL when the registration time (seconds) is outside this range'
            cand --pcap 'Write every SIP message sent and received (and keep-alives) to FILE as pcapng, for Wireshark; messages carried in TLS or WebSocket are written in clear, marked in their packet comment'
            cand --color 'Colour the human output'
            cand --expect-transport 'Exit 5 unless the registration went over this transport (for example after an unexpected fallback)'
            cand --max-time 'Exit 5 when the registration took longer than this'
            cand --count 'Register this many times, one line per run, then a summary; exit 0 only if every run registered'
            cand --interval 'Wait between runs of --count'
            cand --udp 'Enable UDP (no transport flag means the phone''s default, UDP + TCP)'
            cand --tcp 'Enable TCP'
            cand --tls 'Enable TLS (tried first; UDP + TLS is refused, as the phone refuses it)'
            cand --ws 'SIP over WebSocket (RFC 7118), as browser phones register; SERVER port 80 by default. Not with --udp, --tcp or --tls'
            cand --wss 'SIP over secure WebSocket (TLS, port 443 by default); with --ws, WSS is tried first'
            cand --keep 'Keep the binding after a successful registration (by default sipreg removes its own contact)'
            cand --insecure 'Do not verify the server certificate (shown loudly in every output)'
            cand --strict-tls 'A server certificate that fails verification ends the cycle instead of falling back to TCP'
            cand --no-srv 'Skip the NAPTR and SRV lookups (RFC 3263): use the A/AAAA records of SERVER and the default ports'
            cand -4 'Use IPv4 only'
            cand --ipv4 'Use IPv4 only'
            cand -6 'Use IPv6 only'
            cand --ipv6 'Use IPv6 only'
            cand --nagios 'Print one line for Nagios/Icinga (Monitoring Plugins format, with perfdata) and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors too)'
            cand --json 'Print the report as one JSON document'
            cand -v 'Narrate on stderr; -vv adds the SIP messages'
            cand --verbose 'Narrate on stderr; -vv adds the SIP messages'
            cand -q 'Print only the verdict line'
            cand --quiet 'Print only the verdict line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand demo 'Start a registrar on loopback (TCP refused, UDP answering) and register at it with the phone''s default flags: shows a TCP to UDP fallback with nothing else installed'
            cand resolve 'Print where the phone would go: the ordered candidates (transport, target, port, address) from NAPTR, SRV and A/AAAA, without sending any SIP'
            cand watch 'Stay registered like the phone: refresh before the granted lifetime runs out, keep-alives, answers to the network, recovery with the phone''s fallback, until --duration or a signal; then remove the binding and print a summary'
            cand exporter 'Serve Prometheus probes: `GET /probe?target=HOST[:PORT]&module=NAME` runs one registration with the module''s flags and answers with `probe_*` metrics (as blackbox_exporter); `/metrics` has the exporter''s own metrics'
            cand storm 'Register many accounts at once, as every phone of a building does after a power cut, and measure the registrar: rates, latency percentiles, outcomes; every binding removed at the end'
            cand completions 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
            cand man 'Print the man page (roff)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'sipreg;demo'= {
            cand --json 'Print the report as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'sipreg;resolve'= {
            cand --ws-path 'The path of the WebSocket upgrade (a ws:// or wss:// SERVER gives its own)'
            cand --user 'User part of the address of record sip:USER@DOMAIN'
            cand --domain 'Domain of the address of record and Request-URI [default: the SERVER host]'
            cand --auth-user 'Digest user name [default: --user]'
            cand --password 'Digest password. Visible to other local users in the process list: prefer SIPREG_PASSWORD or --password-file'
            cand --password-file 'Read the digest password from the first line of this file'
            cand --expires 'Requested registration lifetime in seconds'
            cand --check-inbound 'After registering, send an OPTIONS to our own AOR through the registrar and report whether it reaches us (can calls reach the phone?); a failed check exits 5. In `watch`, repeat it every INTERVAL (`--check-inbound=2m`; 1m when no interval is given)'
            cand --connect-timeout 'Give up a TCP or TLS connect after this long (the phone''s "approximately thirty seconds")'
            cand --timeout 'Timer F: give up a transaction without final response after this long [default: 64 × T1 = 32s]'
            cand --t1 'RFC 3261 T1; scales Timer E, T2 (8 × T1) and the default Timer F'
            cand --retries 'Run up to this many more cycles after a failed one'
            cand --retry-interval 'Wait before the next cycle; doubles per failed cycle (the phone''s Register Retry)'
            cand --retry-max 'Longest wait between cycles (the phone''s Register Max Retry)'
            cand --tls-port 'TLS port when TLS is one of several transports'
            cand --ca-file 'Trust only the CA certificates in this PEM file instead of the bundled public roots'
            cand --cert 'Device certificate (PEM chain), sent only when the server asks for one'
            cand --key 'Private key of the device certificate (PEM)'
            cand --tls-server-name 'Verify the server certificate against this name instead of the SERVER host'
            cand --dns-server 'Ask this DNS server (ADDR:PORT) instead of the system''s resolver'
            cand -w '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)'
            cand --warning '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)'
            cand -c '--nagios: CRITICAL when the registration time (seconds) is outside this range'
            cand --critical '--nagios: CRITICAL when the registration time (seconds) is outside this range'
            cand --pcap 'Write every SIP message sent and received (and keep-alives) to FILE as pcapng, for Wireshark; messages carried in TLS or WebSocket are written in clear, marked in their packet comment'
            cand --color 'Colour the human output'
            cand --expect-transport 'Exit 5 unless the registration went over this transport (for example after an unexpected fallback)'
            cand --max-time 'Exit 5 when the registration took longer than this'
            cand --count 'Register this many times, one line per run, then a summary; exit 0 only if every run registered'
            cand --interval 'Wait between runs of --count'
            cand --udp 'Enable UDP (no transport flag means the phone''s default, UDP + TCP)'
            cand --tcp 'Enable TCP'
            cand --tls 'Enable TLS (tried first; UDP + TLS is refused, as the phone refuses it)'
            cand --ws 'SIP over WebSocket (RFC 7118), as browser phones register; SERVER port 80 by default. Not with --udp, --tcp or --tls'
            cand --wss 'SIP over secure WebSocket (TLS, port 443 by default); with --ws, WSS is tried first'
            cand --keep 'Keep the binding after a successful registration (by default sipreg removes its own contact)'
            cand --insecure 'Do not verify the server certificate (shown loudly in every output)'
            cand --strict-tls 'A server certificate that fails verification ends the cycle instead of falling back to TCP'
            cand --no-srv 'Skip the NAPTR and SRV lookups (RFC 3263): use the A/AAAA records of SERVER and the default ports'
            cand -4 'Use IPv4 only'
            cand --ipv4 'Use IPv4 only'
            cand -6 'Use IPv6 only'
            cand --ipv6 'Use IPv6 only'
            cand --nagios 'Print one line for Nagios/Icinga (Monitoring Plugins format, with perfdata) and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors too)'
            cand --json 'Print the report as one JSON document'
            cand -v 'Narrate on stderr; -vv adds the SIP messages'
            cand --verbose 'Narrate on stderr; -vv adds the SIP messages'
            cand -q 'Print only the verdict line'
            cand --quiet 'Print only the verdict line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'sipreg;watch'= {
            cand --keepalive 'Keep-alive interval (the phone''s CONN_KEEP_ALIVE); 0 turns keep-alives off. A Flow-Timer from the registrar overrides it'
            cand --refresh 'When to refresh: a share of the granted lifetime (`90%`, as baresip and linphone) or a time before it runs out (`5s`, as pjsip; never before half of it)'
            cand --duration 'Watch this long, then remove the binding and print the summary; without it, until SIGINT or SIGTERM'
            cand --metrics-listen 'Serve `/metrics` for the registration being held on this address (Prometheus text format: sipreg_registered, drops, refreshes, keep-alive RTT, …)'
            cand --ws-path 'The path of the WebSocket upgrade (a ws:// or wss:// SERVER gives its own)'
            cand --user 'User part of the address of record sip:USER@DOMAIN'
            cand --domain 'Domain of the address of record and Request-URI [default: the SERVER host]'
            cand --auth-user 'Digest user name [default: --user]'
            cand --password 'Digest password. Visible to other local users in the process list: prefer SIPREG_PASSWORD or --password-file'
            cand --password-file 'Read the digest password from the first line of this file'
            cand --expires 'Requested registration lifetime in seconds'
            cand --check-inbound 'After registering, send an OPTIONS to our own AOR through the registrar and report whether it reaches us (can calls reach the phone?); a failed check exits 5. In `watch`, repeat it every INTERVAL (`--check-inbound=2m`; 1m when no interval is given)'
            cand --connect-timeout 'Give up a TCP or TLS connect after this long (the phone''s "approximately thirty seconds")'
            cand --timeout 'Timer F: give up a transaction without final response after this long [default: 64 × T1 = 32s]'
            cand --t1 'RFC 3261 T1; scales Timer E, T2 (8 × T1) and the default Timer F'
            cand --retries 'Run up to this many more cycles after a failed one'
            cand --retry-interval 'Wait before the next cycle; doubles per failed cycle (the phone''s Register Retry)'
            cand --retry-max 'Longest wait between cycles (the phone''s Register Max Retry)'
            cand --tls-port 'TLS port when TLS is one of several transports'
            cand --ca-file 'Trust only the CA certificates in this PEM file instead of the bundled public roots'
            cand --cert 'Device certificate (PEM chain), sent only when the server asks for one'
            cand --key 'Private key of the device certificate (PEM)'
            cand --tls-server-name 'Verify the server certificate against this name instead of the SERVER host'
            cand --dns-server 'Ask this DNS server (ADDR:PORT) instead of the system''s resolver'
            cand -w '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)'
            cand --warning '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)'
            cand -c '--nagios: CRITICAL when the registration time (seconds) is outside this range'
            cand --critical '--nagios: CRITICAL when the registration time (seconds) is outside this range'
            cand --pcap 'Write every SIP message sent and received (and keep-alives) to FILE as pcapng, for Wireshark; messages carried in TLS or WebSocket are written in clear, marked in their packet comment'
            cand --color 'Colour the human output'
            cand --expect-transport 'Exit 5 unless the registration went over this transport (for example after an unexpected fallback)'
            cand --max-time 'Exit 5 when the registration took longer than this'
            cand --count 'Register this many times, one line per run, then a summary; exit 0 only if every run registered'
            cand --interval 'Wait between runs of --count'
            cand --udp 'Enable UDP (no transport flag means the phone''s default, UDP + TCP)'
            cand --tcp 'Enable TCP'
            cand --tls 'Enable TLS (tried first; UDP + TLS is refused, as the phone refuses it)'
            cand --ws 'SIP over WebSocket (RFC 7118), as browser phones register; SERVER port 80 by default. Not with --udp, --tcp or --tls'
            cand --wss 'SIP over secure WebSocket (TLS, port 443 by default); with --ws, WSS is tried first'
            cand --keep 'Keep the binding after a successful registration (by default sipreg removes its own contact)'
            cand --insecure 'Do not verify the server certificate (shown loudly in every output)'
            cand --strict-tls 'A server certificate that fails verification ends the cycle instead of falling back to TCP'
            cand --no-srv 'Skip the NAPTR and SRV lookups (RFC 3263): use the A/AAAA records of SERVER and the default ports'
            cand -4 'Use IPv4 only'
            cand --ipv4 'Use IPv4 only'
            cand -6 'Use IPv6 only'
            cand --ipv6 'Use IPv6 only'
            cand --nagios 'Print one line for Nagios/Icinga (Monitoring Plugins format, with perfdata) and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors too)'
            cand --json 'Print the report as one JSON document'
            cand -v 'Narrate on stderr; -vv adds the SIP messages'
            cand --verbose 'Narrate on stderr; -vv adds the SIP messages'
            cand -q 'Print only the verdict line'
            cand --quiet 'Print only the verdict line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'sipreg;exporter'= {
            cand --listen 'Address to serve HTTP on (port 0 picks a free one; the address is printed on stderr)'
            cand --config 'The modules: a TOML file of `[modules.NAME]` tables with the one-shot flags (see docs/monitoring.md)'
            cand --max-concurrent 'Probes run at once; more wait for a slot until their scrape deadline (then 503)'
            cand --timeout-offset 'A probe ends this long before Prometheus''s scrape timeout (X-Prometheus-Scrape-Timeout-Seconds), as blackbox_exporter''s --timeout-offset'
            cand --check-config 'Check the config file, print its modules and exit (0 valid, 2 not)'
            cand -v 'Log one line per probe on stderr (module, target, result, time); -vv adds the SIP narration'
            cand --verbose 'Log one line per probe on stderr (module, target, result, time); -vv adds the SIP narration'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'sipreg;storm'= {
            cand --accounts 'The accounts: CSV with a header, columns user,password and optionally auth_user,domain'
            cand --rate 'Registrations started per second [default: all at once, within --concurrency]'
            cand --burst 'Start the accounts in groups of N at once, the groups --rate apart (a switch''s worth of phones coming back together) [default: 1, one by one]'
            cand --concurrency 'Registrations under way at once'
            cand --duration 'Hold the bindings this long from the start, refreshing them as the phone does; then remove them'
            cand --socket 'A socket or connection per account (as real phones), or one shared by all'
            cand --threads 'Threads [default: one per core, half of them for a registrar on loopback; 1 with --socket shared]; each runs its share of the accounts (a shared socket: a runtime of N workers); 1 runs the storm on a single thread'
            cand --shard 'Take every N-th account, starting at K (0 ≤ K < N): N copies share one storm'
            cand --ws-path 'The path of the WebSocket upgrade (a ws:// or wss:// SERVER gives its own)'
            cand --user 'User part of the address of record sip:USER@DOMAIN'
            cand --domain 'Domain of the address of record and Request-URI [default: the SERVER host]'
            cand --auth-user 'Digest user name [default: --user]'
            cand --password 'Digest password. Visible to other local users in the process list: prefer SIPREG_PASSWORD or --password-file'
            cand --password-file 'Read the digest password from the first line of this file'
            cand --expires 'Requested registration lifetime in seconds'
            cand --check-inbound 'After registering, send an OPTIONS to our own AOR through the registrar and report whether it reaches us (can calls reach the phone?); a failed check exits 5. In `watch`, repeat it every INTERVAL (`--check-inbound=2m`; 1m when no interval is given)'
            cand --connect-timeout 'Give up a TCP or TLS connect after this long (the phone''s "approximately thirty seconds")'
            cand --timeout 'Timer F: give up a transaction without final response after this long [default: 64 × T1 = 32s]'
            cand --t1 'RFC 3261 T1; scales Timer E, T2 (8 × T1) and the default Timer F'
            cand --retries 'Run up to this many more cycles after a failed one'
            cand --retry-interval 'Wait before the next cycle; doubles per failed cycle (the phone''s Register Retry)'
            cand --retry-max 'Longest wait between cycles (the phone''s Register Max Retry)'
            cand --tls-port 'TLS port when TLS is one of several transports'
            cand --ca-file 'Trust only the CA certificates in this PEM file instead of the bundled public roots'
            cand --cert 'Device certificate (PEM chain), sent only when the server asks for one'
            cand --key 'Private key of the device certificate (PEM)'
            cand --tls-server-name 'Verify the server certificate against this name instead of the SERVER host'
            cand --dns-server 'Ask this DNS server (ADDR:PORT) instead of the system''s resolver'
            cand -w '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)'
            cand --warning '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)'
            cand -c '--nagios: CRITICAL when the registration time (seconds) is outside this range'
            cand --critical '--nagios: CRITICAL when the registration time (seconds) is outside this range'
            cand --pcap 'Write every SIP message sent and received (and keep-alives) to FILE as pcapng, for Wireshark; messages carried in TLS or WebSocket are written in clear, marked in their packet comment'
            cand --color 'Colour the human output'
            cand --expect-transport 'Exit 5 unless the registration went over this transport (for example after an unexpected fallback)'
            cand --max-time 'Exit 5 when the registration took longer than this'
            cand --count 'Register this many times, one line per run, then a summary; exit 0 only if every run registered'
            cand --interval 'Wait between runs of --count'
            cand --udp 'Enable UDP (no transport flag means the phone''s default, UDP + TCP)'
            cand --tcp 'Enable TCP'
            cand --tls 'Enable TLS (tried first; UDP + TLS is refused, as the phone refuses it)'
            cand --ws 'SIP over WebSocket (RFC 7118), as browser phones register; SERVER port 80 by default. Not with --udp, --tcp or --tls'
            cand --wss 'SIP over secure WebSocket (TLS, port 443 by default); with --ws, WSS is tried first'
            cand --keep 'Keep the binding after a successful registration (by default sipreg removes its own contact)'
            cand --insecure 'Do not verify the server certificate (shown loudly in every output)'
            cand --strict-tls 'A server certificate that fails verification ends the cycle instead of falling back to TCP'
            cand --no-srv 'Skip the NAPTR and SRV lookups (RFC 3263): use the A/AAAA records of SERVER and the default ports'
            cand -4 'Use IPv4 only'
            cand --ipv4 'Use IPv4 only'
            cand -6 'Use IPv6 only'
            cand --ipv6 'Use IPv6 only'
            cand --nagios 'Print one line for Nagios/Icinga (Monitoring Plugins format, with perfdata) and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors too)'
            cand --json 'Print the report as one JSON document'
            cand -v 'Narrate on stderr; -vv adds the SIP messages'
            cand --verbose 'Narrate on stderr; -vv adds the SIP messages'
            cand -q 'Print only the verdict line'
            cand --quiet 'Print only the verdict line'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand merge 'Merge the `--json` results of shards into one: counts added, histograms merged exactly'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'sipreg;storm;merge'= {
            cand --json 'Print the merged result as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'sipreg;storm;help'= {
            cand merge 'Merge the `--json` results of shards into one: counts added, histograms merged exactly'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'sipreg;storm;help;merge'= {
        }
        &'sipreg;storm;help;help'= {
        }
        &'sipreg;completions'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'sipreg;man'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'sipreg;help'= {
            cand demo 'Start a registrar on loopback (TCP refused, UDP answering) and register at it with the phone''s default flags: shows a TCP to UDP fallback with nothing else installed'
            cand resolve 'Print where the phone would go: the ordered candidates (transport, target, port, address) from NAPTR, SRV and A/AAAA, without sending any SIP'
            cand watch 'Stay registered like the phone: refresh before the granted lifetime runs out, keep-alives, answers to the network, recovery with the phone''s fallback, until --duration or a signal; then remove the binding and print a summary'
            cand exporter 'Serve Prometheus probes: `GET /probe?target=HOST[:PORT]&module=NAME` runs one registration with the module''s flags and answers with `probe_*` metrics (as blackbox_exporter); `/metrics` has the exporter''s own metrics'
            cand storm 'Register many accounts at once, as every phone of a building does after a power cut, and measure the registrar: rates, latency percentiles, outcomes; every binding removed at the end'
            cand completions 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
            cand man 'Print the man page (roff)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'sipreg;help;demo'= {
        }
        &'sipreg;help;resolve'= {
        }
        &'sipreg;help;watch'= {
        }
        &'sipreg;help;exporter'= {
        }
        &'sipreg;help;storm'= {
            cand merge 'Merge the `--json` results of shards into one: counts added, histograms merged exactly'
        }
        &'sipreg;help;storm;merge'= {
        }
        &'sipreg;help;completions'= {
        }
        &'sipreg;help;man'= {
        }
        &'sipreg;help;help'= {
        }
    ]
    $completions[$command]
}
