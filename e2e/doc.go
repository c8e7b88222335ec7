// Package e2e holds Relaybox's end-to-end tests. They build the relaybox
// binary once, start real daemons ("relaybox serve") on temporary data
// directories and free ports on 127.0.0.1, drive them with piped shell
// scripts ("relaybox cli") and probe them with real clients: Go's crypto/tls
// and the openssl command-line tool (install it with "make test-deps").
//
// The package has no non-test code; this file only documents it.
package e2e
