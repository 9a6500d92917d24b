
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'sipreg' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'sipreg'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'sipreg' {
            [CompletionResult]::new('--ws-path', '--ws-path', [CompletionResultType]::ParameterName, 'The path of the WebSocket upgrade (a ws:// or wss:// SERVER gives its own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'User part of the address of record sip:USER@DOMAIN')
            [CompletionResult]::new('--domain', '--domain', [CompletionResultType]::ParameterName, 'Domain of the address of record and Request-URI [default: the SERVER host]')
            [CompletionResult]::new('--auth-user', '--auth-user', [CompletionResultType]::ParameterName, 'Digest user name [default: --user]')
            [CompletionResult]::new('--password', '--password', [CompletionResultType]::ParameterName, 'Digest password. Visible to other local users in the process list: prefer SIPREG_PASSWORD or --password-file')
            [CompletionResult]::new('--password-file', '--password-file', [CompletionResultType]::ParameterName, 'Read the digest password from the first line of this file')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Requested registration lifetime in seconds')
            [CompletionResult]::new('--check-inbound', '--check-inbound', [CompletionResultType]::ParameterName, 'After registering, send an OPTIONS to our own AOR through the registrar and report whether it reaches us (can calls reach the phone?); a failed check exits 5. In `watch`, repeat it every INTERVAL (`--check-inbound=2m`; 1m when no interval is given)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up a TCP or TLS connect after this long (the phone''s "approximately thirty seconds")')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Timer F: give up a transaction without final response after this long [default: 64 × T1 = 32s]')
            [CompletionResult]::new('--t1', '--t1', [CompletionResultType]::ParameterName, 'RFC 3261 T1; scales Timer E, T2 (8 × T1) and the default Timer F')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Run up to this many more cycles after a failed one')
            [CompletionResult]::new('--retry-interval', '--retry-interval', [CompletionResultType]::ParameterName, 'Wait before the next cycle; doubles per failed cycle (the phone''s Register Retry)')
            [CompletionResult]::new('--retry-max', '--retry-max', [CompletionResultType]::ParameterName, 'Longest wait between cycles (the phone''s Register Max Retry)')
            [CompletionResult]::new('--tls-port', '--tls-port', [CompletionResultType]::ParameterName, 'TLS port when TLS is one of several transports')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust only the CA certificates in this PEM file instead of the bundled public roots')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Device certificate (PEM chain), sent only when the server asks for one')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key of the device certificate (PEM)')
            [CompletionResult]::new('--tls-server-name', '--tls-server-name', [CompletionResultType]::ParameterName, 'Verify the server certificate against this name instead of the SERVER host')
            [CompletionResult]::new('--dns-server', '--dns-server', [CompletionResultType]::ParameterName, 'Ask this DNS server (ADDR:PORT) instead of the system''s resolver')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)')
            [CompletionResult]::new('--warning', '--warning', [CompletionResultType]::ParameterName, '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, '--nagios: CRITICAL when the registration time (seconds) is outside this range')
            [CompletionResult]::new('--critical', '--critical', [CompletionResultType]::ParameterName, '--nagios: CRITICAL when the registration time (seconds) is outside this range')
            [CompletionResult]::new('--pcap', '--pcap', [CompletionResultType]::ParameterName, 'Write every SIP message sent and received (and keep-alives) to FILE as pcapng, for Wireshark; messages carried in TLS or WebSocket are written in clear, marked in their packet comment')
            [CompletionResult]::new('--hep', '--hep', [CompletionResultType]::ParameterName, 'Send every SIP message sent and received to a Homer (sipcapture) collector as HEPv3 over UDP, those carried in TLS or WebSocket in clear')
            [CompletionResult]::new('--hep-id', '--hep-id', [CompletionResultType]::ParameterName, 'The capture agent id in the HEP packets')
            [CompletionResult]::new('--hep-key', '--hep-key', [CompletionResultType]::ParameterName, 'The collector''s authentication key (HEP chunk 14)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the human output')
            [CompletionResult]::new('--expect-transport', '--expect-transport', [CompletionResultType]::ParameterName, 'Exit 5 unless the registration went over this transport (for example after an unexpected fallback)')
            [CompletionResult]::new('--max-time', '--max-time', [CompletionResultType]::ParameterName, 'Exit 5 when the registration took longer than this')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Register this many times, one line per run, then a summary; exit 0 only if every run registered')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Wait between runs of --count')
            [CompletionResult]::new('--udp', '--udp', [CompletionResultType]::ParameterName, 'Enable UDP (no transport flag means the phone''s default, UDP + TCP)')
            [CompletionResult]::new('--tcp', '--tcp', [CompletionResultType]::ParameterName, 'Enable TCP')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Enable TLS (tried first; UDP + TLS is refused, as the phone refuses it)')
            [CompletionResult]::new('--ws', '--ws', [CompletionResultType]::ParameterName, 'SIP over WebSocket (RFC 7118), as browser phones register; SERVER port 80 by default. Not with --udp, --tcp or --tls')
            [CompletionResult]::new('--wss', '--wss', [CompletionResultType]::ParameterName, 'SIP over secure WebSocket (TLS, port 443 by default); with --ws, WSS is tried first')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Keep the binding after a successful registration (by default sipreg removes its own contact)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the server certificate (shown loudly in every output)')
            [CompletionResult]::new('--strict-tls', '--strict-tls', [CompletionResultType]::ParameterName, 'A server certificate that fails verification ends the cycle instead of falling back to TCP')
            [CompletionResult]::new('--no-srv', '--no-srv', [CompletionResultType]::ParameterName, 'Skip the NAPTR and SRV lookups (RFC 3263): use the A/AAAA records of SERVER and the default ports')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 only')
            [CompletionResult]::new('--ipv4', '--ipv4', [CompletionResultType]::ParameterName, 'Use IPv4 only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 only')
            [CompletionResult]::new('--ipv6', '--ipv6', [CompletionResultType]::ParameterName, 'Use IPv6 only')
            [CompletionResult]::new('--nagios', '--nagios', [CompletionResultType]::ParameterName, 'Print one line for Nagios/Icinga (Monitoring Plugins format, with perfdata) and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors too)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the report as one JSON document')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Narrate on stderr; -vv adds the SIP messages')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Narrate on stderr; -vv adds the SIP messages')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only the verdict line')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only the verdict line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Start a registrar on loopback (TCP refused, UDP answering) and register at it with the phone''s default flags: shows a TCP to UDP fallback with nothing else installed')
            [CompletionResult]::new('resolve', 'resolve', [CompletionResultType]::ParameterValue, 'Print where the phone would go: the ordered candidates (transport, target, port, address) from NAPTR, SRV and A/AAAA, without sending any SIP')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'Stay registered like the phone: refresh before the granted lifetime runs out, keep-alives, answers to the network, recovery with the phone''s fallback, until --duration or a signal; then remove the binding and print a summary')
            [CompletionResult]::new('exporter', 'exporter', [CompletionResultType]::ParameterValue, 'Serve Prometheus probes: `GET /probe?target=HOST[:PORT]&module=NAME` runs one registration with the module''s flags and answers with `probe_*` metrics (as blackbox_exporter); `/metrics` has the exporter''s own metrics')
            [CompletionResult]::new('storm', 'storm', [CompletionResultType]::ParameterValue, 'Register many accounts at once, as every phone of a building does after a power cut, and measure the registrar: rates, latency percentiles, outcomes; every binding removed at the end')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script (bash, zsh, fish, elvish, powershell)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'sipreg;demo' {
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the report as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'sipreg;resolve' {
            [CompletionResult]::new('--ws-path', '--ws-path', [CompletionResultType]::ParameterName, 'The path of the WebSocket upgrade (a ws:// or wss:// SERVER gives its own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'User part of the address of record sip:USER@DOMAIN')
            [CompletionResult]::new('--domain', '--domain', [CompletionResultType]::ParameterName, 'Domain of the address of record and Request-URI [default: the SERVER host]')
            [CompletionResult]::new('--auth-user', '--auth-user', [CompletionResultType]::ParameterName, 'Digest user name [default: --user]')
            [CompletionResult]::new('--password', '--password', [CompletionResultType]::ParameterName, 'Digest password. Visible to other local users in the process list: prefer SIPREG_PASSWORD or --password-file')
            [CompletionResult]::new('--password-file', '--password-file', [CompletionResultType]::ParameterName, 'Read the digest password from the first line of this file')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Requested registration lifetime in seconds')
            [CompletionResult]::new('--check-inbound', '--check-inbound', [CompletionResultType]::ParameterName, 'After registering, send an OPTIONS to our own AOR through the registrar and report whether it reaches us (can calls reach the phone?); a failed check exits 5. In `watch`, repeat it every INTERVAL (`--check-inbound=2m`; 1m when no interval is given)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up a TCP or TLS connect after this long (the phone''s "approximately thirty seconds")')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Timer F: give up a transaction without final response after this long [default: 64 × T1 = 32s]')
            [CompletionResult]::new('--t1', '--t1', [CompletionResultType]::ParameterName, 'RFC 3261 T1; scales Timer E, T2 (8 × T1) and the default Timer F')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Run up to this many more cycles after a failed one')
            [CompletionResult]::new('--retry-interval', '--retry-interval', [CompletionResultType]::ParameterName, 'Wait before the next cycle; doubles per failed cycle (the phone''s Register Retry)')
            [CompletionResult]::new('--retry-max', '--retry-max', [CompletionResultType]::ParameterName, 'Longest wait between cycles (the phone''s Register Max Retry)')
            [CompletionResult]::new('--tls-port', '--tls-port', [CompletionResultType]::ParameterName, 'TLS port when TLS is one of several transports')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust only the CA certificates in this PEM file instead of the bundled public roots')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Device certificate (PEM chain), sent only when the server asks for one')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key of the device certificate (PEM)')
            [CompletionResult]::new('--tls-server-name', '--tls-server-name', [CompletionResultType]::ParameterName, 'Verify the server certificate against this name instead of the SERVER host')
            [CompletionResult]::new('--dns-server', '--dns-server', [CompletionResultType]::ParameterName, 'Ask this DNS server (ADDR:PORT) instead of the system''s resolver')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)')
            [CompletionResult]::new('--warning', '--warning', [CompletionResultType]::ParameterName, '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, '--nagios: CRITICAL when the registration time (seconds) is outside this range')
            [CompletionResult]::new('--critical', '--critical', [CompletionResultType]::ParameterName, '--nagios: CRITICAL when the registration time (seconds) is outside this range')
            [CompletionResult]::new('--pcap', '--pcap', [CompletionResultType]::ParameterName, 'Write every SIP message sent and received (and keep-alives) to FILE as pcapng, for Wireshark; messages carried in TLS or WebSocket are written in clear, marked in their packet comment')
            [CompletionResult]::new('--hep', '--hep', [CompletionResultType]::ParameterName, 'Send every SIP message sent and received to a Homer (sipcapture) collector as HEPv3 over UDP, those carried in TLS or WebSocket in clear')
            [CompletionResult]::new('--hep-id', '--hep-id', [CompletionResultType]::ParameterName, 'The capture agent id in the HEP packets')
            [CompletionResult]::new('--hep-key', '--hep-key', [CompletionResultType]::ParameterName, 'The collector''s authentication key (HEP chunk 14)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the human output')
            [CompletionResult]::new('--expect-transport', '--expect-transport', [CompletionResultType]::ParameterName, 'Exit 5 unless the registration went over this transport (for example after an unexpected fallback)')
            [CompletionResult]::new('--max-time', '--max-time', [CompletionResultType]::ParameterName, 'Exit 5 when the registration took longer than this')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Register this many times, one line per run, then a summary; exit 0 only if every run registered')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Wait between runs of --count')
            [CompletionResult]::new('--udp', '--udp', [CompletionResultType]::ParameterName, 'Enable UDP (no transport flag means the phone''s default, UDP + TCP)')
            [CompletionResult]::new('--tcp', '--tcp', [CompletionResultType]::ParameterName, 'Enable TCP')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Enable TLS (tried first; UDP + TLS is refused, as the phone refuses it)')
            [CompletionResult]::new('--ws', '--ws', [CompletionResultType]::ParameterName, 'SIP over WebSocket (RFC 7118), as browser phones register; SERVER port 80 by default. Not with --udp, --tcp or --tls')
            [CompletionResult]::new('--wss', '--wss', [CompletionResultType]::ParameterName, 'SIP over secure WebSocket (TLS, port 443 by default); with --ws, WSS is tried first')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Keep the binding after a successful registration (by default sipreg removes its own contact)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the server certificate (shown loudly in every output)')
            [CompletionResult]::new('--strict-tls', '--strict-tls', [CompletionResultType]::ParameterName, 'A server certificate that fails verification ends the cycle instead of falling back to TCP')
            [CompletionResult]::new('--no-srv', '--no-srv', [CompletionResultType]::ParameterName, 'Skip the NAPTR and SRV lookups (RFC 3263): use the A/AAAA records of SERVER and the default ports')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 only')
            [CompletionResult]::new('--ipv4', '--ipv4', [CompletionResultType]::ParameterName, 'Use IPv4 only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 only')
            [CompletionResult]::new('--ipv6', '--ipv6', [CompletionResultType]::ParameterName, 'Use IPv6 only')
            [CompletionResult]::new('--nagios', '--nagios', [CompletionResultType]::ParameterName, 'Print one line for Nagios/Icinga (Monitoring Plugins format, with perfdata) and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors too)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the report as one JSON document')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Narrate on stderr; -vv adds the SIP messages')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Narrate on stderr; -vv adds the SIP messages')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only the verdict line')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only the verdict line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'sipreg;watch' {
            [CompletionResult]::new('--pcap-ring', '--pcap-ring', [CompletionResultType]::ParameterName, 'With --pcap FILE: keep only the packets of the last DURATION, and write them to FILE-1, FILE-2… when the registration is lost, a refresh fails or an inbound check fails')
            [CompletionResult]::new('--keepalive', '--keepalive', [CompletionResultType]::ParameterName, 'Keep-alive interval (the phone''s CONN_KEEP_ALIVE); 0 turns keep-alives off. A Flow-Timer from the registrar overrides it')
            [CompletionResult]::new('--refresh', '--refresh', [CompletionResultType]::ParameterName, 'When to refresh: a share of the granted lifetime (`90%`, as baresip and linphone) or a time before it runs out (`5s`, as pjsip; never before half of it)')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Watch this long, then remove the binding and print the summary; without it, until SIGINT or SIGTERM')
            [CompletionResult]::new('--metrics-listen', '--metrics-listen', [CompletionResultType]::ParameterName, 'Serve `/metrics` for the registration being held on this address (Prometheus text format: sipreg_registered, drops, refreshes, keep-alive RTT, …)')
            [CompletionResult]::new('--ws-path', '--ws-path', [CompletionResultType]::ParameterName, 'The path of the WebSocket upgrade (a ws:// or wss:// SERVER gives its own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'User part of the address of record sip:USER@DOMAIN')
            [CompletionResult]::new('--domain', '--domain', [CompletionResultType]::ParameterName, 'Domain of the address of record and Request-URI [default: the SERVER host]')
            [CompletionResult]::new('--auth-user', '--auth-user', [CompletionResultType]::ParameterName, 'Digest user name [default: --user]')
            [CompletionResult]::new('--password', '--password', [CompletionResultType]::ParameterName, 'Digest password. Visible to other local users in the process list: prefer SIPREG_PASSWORD or --password-file')
            [CompletionResult]::new('--password-file', '--password-file', [CompletionResultType]::ParameterName, 'Read the digest password from the first line of this file')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Requested registration lifetime in seconds')
            [CompletionResult]::new('--check-inbound', '--check-inbound', [CompletionResultType]::ParameterName, 'After registering, send an OPTIONS to our own AOR through the registrar and report whether it reaches us (can calls reach the phone?); a failed check exits 5. In `watch`, repeat it every INTERVAL (`--check-inbound=2m`; 1m when no interval is given)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up a TCP or TLS connect after this long (the phone''s "approximately thirty seconds")')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Timer F: give up a transaction without final response after this long [default: 64 × T1 = 32s]')
            [CompletionResult]::new('--t1', '--t1', [CompletionResultType]::ParameterName, 'RFC 3261 T1; scales Timer E, T2 (8 × T1) and the default Timer F')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Run up to this many more cycles after a failed one')
            [CompletionResult]::new('--retry-interval', '--retry-interval', [CompletionResultType]::ParameterName, 'Wait before the next cycle; doubles per failed cycle (the phone''s Register Retry)')
            [CompletionResult]::new('--retry-max', '--retry-max', [CompletionResultType]::ParameterName, 'Longest wait between cycles (the phone''s Register Max Retry)')
            [CompletionResult]::new('--tls-port', '--tls-port', [CompletionResultType]::ParameterName, 'TLS port when TLS is one of several transports')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust only the CA certificates in this PEM file instead of the bundled public roots')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Device certificate (PEM chain), sent only when the server asks for one')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key of the device certificate (PEM)')
            [CompletionResult]::new('--tls-server-name', '--tls-server-name', [CompletionResultType]::ParameterName, 'Verify the server certificate against this name instead of the SERVER host')
            [CompletionResult]::new('--dns-server', '--dns-server', [CompletionResultType]::ParameterName, 'Ask this DNS server (ADDR:PORT) instead of the system''s resolver')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)')
            [CompletionResult]::new('--warning', '--warning', [CompletionResultType]::ParameterName, '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, '--nagios: CRITICAL when the registration time (seconds) is outside this range')
            [CompletionResult]::new('--critical', '--critical', [CompletionResultType]::ParameterName, '--nagios: CRITICAL when the registration time (seconds) is outside this range')
            [CompletionResult]::new('--pcap', '--pcap', [CompletionResultType]::ParameterName, 'Write every SIP message sent and received (and keep-alives) to FILE as pcapng, for Wireshark; messages carried in TLS or WebSocket are written in clear, marked in their packet comment')
            [CompletionResult]::new('--hep', '--hep', [CompletionResultType]::ParameterName, 'Send every SIP message sent and received to a Homer (sipcapture) collector as HEPv3 over UDP, those carried in TLS or WebSocket in clear')
            [CompletionResult]::new('--hep-id', '--hep-id', [CompletionResultType]::ParameterName, 'The capture agent id in the HEP packets')
            [CompletionResult]::new('--hep-key', '--hep-key', [CompletionResultType]::ParameterName, 'The collector''s authentication key (HEP chunk 14)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the human output')
            [CompletionResult]::new('--expect-transport', '--expect-transport', [CompletionResultType]::ParameterName, 'Exit 5 unless the registration went over this transport (for example after an unexpected fallback)')
            [CompletionResult]::new('--max-time', '--max-time', [CompletionResultType]::ParameterName, 'Exit 5 when the registration took longer than this')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Register this many times, one line per run, then a summary; exit 0 only if every run registered')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Wait between runs of --count')
            [CompletionResult]::new('--udp', '--udp', [CompletionResultType]::ParameterName, 'Enable UDP (no transport flag means the phone''s default, UDP + TCP)')
            [CompletionResult]::new('--tcp', '--tcp', [CompletionResultType]::ParameterName, 'Enable TCP')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Enable TLS (tried first; UDP + TLS is refused, as the phone refuses it)')
            [CompletionResult]::new('--ws', '--ws', [CompletionResultType]::ParameterName, 'SIP over WebSocket (RFC 7118), as browser phones register; SERVER port 80 by default. Not with --udp, --tcp or --tls')
            [CompletionResult]::new('--wss', '--wss', [CompletionResultType]::ParameterName, 'SIP over secure WebSocket (TLS, port 443 by default); with --ws, WSS is tried first')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Keep the binding after a successful registration (by default sipreg removes its own contact)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the server certificate (shown loudly in every output)')
            [CompletionResult]::new('--strict-tls', '--strict-tls', [CompletionResultType]::ParameterName, 'A server certificate that fails verification ends the cycle instead of falling back to TCP')
            [CompletionResult]::new('--no-srv', '--no-srv', [CompletionResultType]::ParameterName, 'Skip the NAPTR and SRV lookups (RFC 3263): use the A/AAAA records of SERVER and the default ports')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 only')
            [CompletionResult]::new('--ipv4', '--ipv4', [CompletionResultType]::ParameterName, 'Use IPv4 only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 only')
            [CompletionResult]::new('--ipv6', '--ipv6', [CompletionResultType]::ParameterName, 'Use IPv6 only')
            [CompletionResult]::new('--nagios', '--nagios', [CompletionResultType]::ParameterName, 'Print one line for Nagios/Icinga (Monitoring Plugins format, with perfdata) and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors too)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the report as one JSON document')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Narrate on stderr; -vv adds the SIP messages')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Narrate on stderr; -vv adds the SIP messages')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only the verdict line')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only the verdict line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'sipreg;exporter' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to serve HTTP on (port 0 picks a free one; the address is printed on stderr)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The modules: a TOML file of `[modules.NAME]` tables with the one-shot flags (see docs/monitoring.md)')
            [CompletionResult]::new('--max-concurrent', '--max-concurrent', [CompletionResultType]::ParameterName, 'Probes run at once; more wait for a slot until their scrape deadline (then 503)')
            [CompletionResult]::new('--timeout-offset', '--timeout-offset', [CompletionResultType]::ParameterName, 'A probe ends this long before Prometheus''s scrape timeout (X-Prometheus-Scrape-Timeout-Seconds), as blackbox_exporter''s --timeout-offset')
            [CompletionResult]::new('--hep', '--hep', [CompletionResultType]::ParameterName, 'Send every SIP message sent and received to a Homer (sipcapture) collector as HEPv3 over UDP, those carried in TLS or WebSocket in clear')
            [CompletionResult]::new('--hep-id', '--hep-id', [CompletionResultType]::ParameterName, 'The capture agent id in the HEP packets')
            [CompletionResult]::new('--hep-key', '--hep-key', [CompletionResultType]::ParameterName, 'The collector''s authentication key (HEP chunk 14)')
            [CompletionResult]::new('--check-config', '--check-config', [CompletionResultType]::ParameterName, 'Check the config file, print its modules and exit (0 valid, 2 not)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log one line per probe on stderr (module, target, result, time); -vv adds the SIP narration')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log one line per probe on stderr (module, target, result, time); -vv adds the SIP narration')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'sipreg;storm' {
            [CompletionResult]::new('--accounts', '--accounts', [CompletionResultType]::ParameterName, 'The accounts: CSV with a header, columns user,password and optionally auth_user,domain')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'Registrations started per second [default: all at once, within --concurrency]')
            [CompletionResult]::new('--burst', '--burst', [CompletionResultType]::ParameterName, 'Start the accounts in groups of N at once, the groups --rate apart (a switch''s worth of phones coming back together) [default: 1, one by one]')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Registrations under way at once')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Hold the bindings this long from the start, refreshing them as the phone does; then remove them')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'A socket or connection per account (as real phones), or one shared by all')
            [CompletionResult]::new('--threads', '--threads', [CompletionResultType]::ParameterName, 'Threads [default: one per core, half of them for a registrar on loopback; 1 with --socket shared]; each runs its share of the accounts (a shared socket: a runtime of N workers); 1 runs the storm on a single thread')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Take every N-th account, starting at K (0 ≤ K < N): N copies share one storm')
            [CompletionResult]::new('--ws-path', '--ws-path', [CompletionResultType]::ParameterName, 'The path of the WebSocket upgrade (a ws:// or wss:// SERVER gives its own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'User part of the address of record sip:USER@DOMAIN')
            [CompletionResult]::new('--domain', '--domain', [CompletionResultType]::ParameterName, 'Domain of the address of record and Request-URI [default: the SERVER host]')
            [CompletionResult]::new('--auth-user', '--auth-user', [CompletionResultType]::ParameterName, 'Digest user name [default: --user]')
            [CompletionResult]::new('--password', '--password', [CompletionResultType]::ParameterName, 'Digest password. Visible to other local users in the process list: prefer SIPREG_PASSWORD or --password-file')
            [CompletionResult]::new('--password-file', '--password-file', [CompletionResultType]::ParameterName, 'Read the digest password from the first line of this file')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Requested registration lifetime in seconds')
            [CompletionResult]::new('--check-inbound', '--check-inbound', [CompletionResultType]::ParameterName, 'After registering, send an OPTIONS to our own AOR through the registrar and report whether it reaches us (can calls reach the phone?); a failed check exits 5. In `watch`, repeat it every INTERVAL (`--check-inbound=2m`; 1m when no interval is given)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up a TCP or TLS connect after this long (the phone''s "approximately thirty seconds")')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Timer F: give up a transaction without final response after this long [default: 64 × T1 = 32s]')
            [CompletionResult]::new('--t1', '--t1', [CompletionResultType]::ParameterName, 'RFC 3261 T1; scales Timer E, T2 (8 × T1) and the default Timer F')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Run up to this many more cycles after a failed one')
            [CompletionResult]::new('--retry-interval', '--retry-interval', [CompletionResultType]::ParameterName, 'Wait before the next cycle; doubles per failed cycle (the phone''s Register Retry)')
            [CompletionResult]::new('--retry-max', '--retry-max', [CompletionResultType]::ParameterName, 'Longest wait between cycles (the phone''s Register Max Retry)')
            [CompletionResult]::new('--tls-port', '--tls-port', [CompletionResultType]::ParameterName, 'TLS port when TLS is one of several transports')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust only the CA certificates in this PEM file instead of the bundled public roots')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Device certificate (PEM chain), sent only when the server asks for one')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Private key of the device certificate (PEM)')
            [CompletionResult]::new('--tls-server-name', '--tls-server-name', [CompletionResultType]::ParameterName, 'Verify the server certificate against this name instead of the SERVER host')
            [CompletionResult]::new('--dns-server', '--dns-server', [CompletionResultType]::ParameterName, 'Ask this DNS server (ADDR:PORT) instead of the system''s resolver')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)')
            [CompletionResult]::new('--warning', '--warning', [CompletionResultType]::ParameterName, '--nagios: WARNING when the registration time (seconds) is outside this range (5, 5:, ~:5, 1:5, @1:5)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, '--nagios: CRITICAL when the registration time (seconds) is outside this range')
            [CompletionResult]::new('--critical', '--critical', [CompletionResultType]::ParameterName, '--nagios: CRITICAL when the registration time (seconds) is outside this range')
            [CompletionResult]::new('--pcap', '--pcap', [CompletionResultType]::ParameterName, 'Write every SIP message sent and received (and keep-alives) to FILE as pcapng, for Wireshark; messages carried in TLS or WebSocket are written in clear, marked in their packet comment')
            [CompletionResult]::new('--hep', '--hep', [CompletionResultType]::ParameterName, 'Send every SIP message sent and received to a Homer (sipcapture) collector as HEPv3 over UDP, those carried in TLS or WebSocket in clear')
            [CompletionResult]::new('--hep-id', '--hep-id', [CompletionResultType]::ParameterName, 'The capture agent id in the HEP packets')
            [CompletionResult]::new('--hep-key', '--hep-key', [CompletionResultType]::ParameterName, 'The collector''s authentication key (HEP chunk 14)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the human output')
            [CompletionResult]::new('--expect-transport', '--expect-transport', [CompletionResultType]::ParameterName, 'Exit 5 unless the registration went over this transport (for example after an unexpected fallback)')
            [CompletionResult]::new('--max-time', '--max-time', [CompletionResultType]::ParameterName, 'Exit 5 when the registration took longer than this')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Register this many times, one line per run, then a summary; exit 0 only if every run registered')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Wait between runs of --count')
            [CompletionResult]::new('--udp', '--udp', [CompletionResultType]::ParameterName, 'Enable UDP (no transport flag means the phone''s default, UDP + TCP)')
            [CompletionResult]::new('--tcp', '--tcp', [CompletionResultType]::ParameterName, 'Enable TCP')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Enable TLS (tried first; UDP + TLS is refused, as the phone refuses it)')
            [CompletionResult]::new('--ws', '--ws', [CompletionResultType]::ParameterName, 'SIP over WebSocket (RFC 7118), as browser phones register; SERVER port 80 by default. Not with --udp, --tcp or --tls')
            [CompletionResult]::new('--wss', '--wss', [CompletionResultType]::ParameterName, 'SIP over secure WebSocket (TLS, port 443 by default); with --ws, WSS is tried first')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Keep the binding after a successful registration (by default sipreg removes its own contact)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not verify the server certificate (shown loudly in every output)')
            [CompletionResult]::new('--strict-tls', '--strict-tls', [CompletionResultType]::ParameterName, 'A server certificate that fails verification ends the cycle instead of falling back to TCP')
            [CompletionResult]::new('--no-srv', '--no-srv', [CompletionResultType]::ParameterName, 'Skip the NAPTR and SRV lookups (RFC 3263): use the A/AAAA records of SERVER and the default ports')
            [CompletionResult]::new('-4', '-4', [CompletionResultType]::ParameterName, 'Use IPv4 only')
            [CompletionResult]::new('--ipv4', '--ipv4', [CompletionResultType]::ParameterName, 'Use IPv4 only')
            [CompletionResult]::new('-6', '-6', [CompletionResultType]::ParameterName, 'Use IPv6 only')
            [CompletionResult]::new('--ipv6', '--ipv6', [CompletionResultType]::ParameterName, 'Use IPv6 only')
            [CompletionResult]::new('--nagios', '--nagios', [CompletionResultType]::ParameterName, 'Print one line for Nagios/Icinga (Monitoring Plugins format, with perfdata) and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage errors too)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the report as one JSON document')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Narrate on stderr; -vv adds the SIP messages')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Narrate on stderr; -vv adds the SIP messages')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only the verdict line')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only the verdict line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('merge', 'merge', [CompletionResultType]::ParameterValue, 'Merge the `--json` results of shards into one: counts added, histograms merged exactly')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'sipreg;storm;merge' {
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the merged result as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'sipreg;storm;help' {
            [CompletionResult]::new('merge', 'merge', [CompletionResultType]::ParameterValue, 'Merge the `--json` results of shards into one: counts added, histograms merged exactly')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'sipreg;storm;help;merge' {
            break
        }
        'sipreg;storm;help;help' {
            break
        }
        'sipreg;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'sipreg;man' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'sipreg;help' {
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Start a registrar on loopback (TCP refused, UDP answering) and register at it with the phone''s default flags: shows a TCP to UDP fallback with nothing else installed')
            [CompletionResult]::new('resolve', 'resolve', [CompletionResultType]::ParameterValue, 'Print where the phone would go: the ordered candidates (transport, target, port, address) from NAPTR, SRV and A/AAAA, without sending any SIP')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'Stay registered like the phone: refresh before the granted lifetime runs out, keep-alives, answers to the network, recovery with the phone''s fallback, until --duration or a signal; then remove the binding and print a summary')
            [CompletionResult]::new('exporter', 'exporter', [CompletionResultType]::ParameterValue, 'Serve Prometheus probes: `GET /probe?target=HOST[:PORT]&module=NAME` runs one registration with the module''s flags and answers with `probe_*` metrics (as blackbox_exporter); `/metrics` has the exporter''s own metrics')
            [CompletionResult]::new('storm', 'storm', [CompletionResultType]::ParameterValue, 'Register many accounts at once, as every phone of a building does after a power cut, and measure the registrar: rates, latency percentiles, outcomes; every binding removed at the end')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script (bash, zsh, fish, elvish, powershell)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'sipreg;help;demo' {
            break
        }
        'sipreg;help;resolve' {
            break
        }
        'sipreg;help;watch' {
            break
        }
        'sipreg;help;exporter' {
            break
        }
        'sipreg;help;storm' {
            [CompletionResult]::new('merge', 'merge', [CompletionResultType]::ParameterValue, 'Merge the `--json` results of shards into one: counts added, histograms merged exactly')
            break
        }
        'sipreg;help;storm;merge' {
            break
        }
        'sipreg;help;completions' {
            break
        }
        'sipreg;help;man' {
            break
        }
        'sipreg;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
