package certstore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"software.sslmate.com/src/go-pkcs12"

	"relaybox/config"
)

// ImportPKCS12 reads a PKCS#12 (.p12/.pfx) file (certconfig IMPORT): both the
// OpenSSL 3 default AES kind and -legacy (RC2/3DES) files. go-pkcs12 takes the
// first certificate bag as the leaf whatever the key, so the leaf is picked
// here by matching the key, and the chain is ordered as in FromPEM;
// certificates outside the chain are dropped with a warning. The key is
// stored only when everything else succeeded.
//
// Before decoding, the file's size and every key-derivation iteration count
// in it are checked against maxPKCS12Size and maxPKCS12Iterations, so that no
// file can keep a core busy for minutes. The work honours ctx: when it is
// cancelled (the admin's session ended) ImportPKCS12 returns at once and
// stores nothing; the work finishes in the background, bounded by the caps.
func (k *KeyStore) ImportPKCS12(ctx context.Context, name string, data []byte, passphrase string) (config.Certificate, []string, error) {
	return k.importPKCS12(ctx, name, data, passphrase, pkcs12Limits{size: maxPKCS12Size, iterations: maxPKCS12Iterations})
}

// importPKCS12 is ImportPKCS12 with the caps given (the fuzz target uses lower ones).
func (k *KeyStore) importPKCS12(ctx context.Context, name string, data []byte, passphrase string, lim pkcs12Limits) (config.Certificate, []string, error) {
	if err := ValidateName(name); err != nil {
		return config.Certificate{}, nil, err
	}
	if len(data) == 0 {
		return config.Certificate{}, nil, fmt.Errorf("the PKCS#12 file for %q is empty: export the certificate again with its key", name)
	}
	if err := checkPKCS12Limits(name, data, lim); err != nil {
		return config.Certificate{}, nil, err
	}
	r, err := parsePKCS12Context(ctx, name, data, passphrase)
	if err != nil {
		return config.Certificate{}, nil, importCancelled(name, err)
	}
	if r.err != nil {
		return config.Certificate{}, nil, r.err
	}
	if ctx.Err() != nil {
		return config.Certificate{}, nil, importCancelled(name, context.Cause(ctx))
	}
	if _, err := k.Put(r.signer); err != nil {
		return config.Certificate{}, nil, err
	}
	return r.cert, r.warnings, nil
}

// parsedPKCS12 is a parsed PKCS#12 file: the key to store, the certificate and
// its warnings, or why the file is refused.
type parsedPKCS12 struct {
	signer   crypto.Signer
	cert     config.Certificate
	warnings []string
	err      error
}

// parsePKCS12Context runs parsePKCS12 in a goroutine and waits for it or for
// ctx. A cancelled ctx returns its cause at once; the goroutine then
// finishes on its own (its key derivations are bounded by checkPKCS12Limits)
// and its result is dropped. The file's own refusal is in parsedPKCS12.err.
func parsePKCS12Context(ctx context.Context, name string, data []byte, passphrase string) (parsedPKCS12, error) {
	if ctx.Err() != nil {
		return parsedPKCS12{}, context.Cause(ctx)
	}
	done := make(chan parsedPKCS12, 1) // buffered: an abandoned read must not block
	go func() { done <- parsePKCS12(name, data, passphrase) }()
	select {
	case r := <-done:
		return r, nil
	case <-ctx.Done():
		return parsedPKCS12{}, context.Cause(ctx)
	}
}

// parsePKCS12 decodes the file for name and builds its certificate: all the
// work of an import but storing the key.
func parsePKCS12(name string, data []byte, passphrase string) parsedPKCS12 {
	refuse := func(err error) parsedPKCS12 { return parsedPKCS12{err: err} }
	key, first, cas, err := decodePKCS12(data, passphrase)
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		return refuse(fmt.Errorf("wrong passphrase for the PKCS#12 file for %q: enter the passphrase it was exported with", name))
	case errors.Is(err, pkcs12.ErrDecryption):
		return refuse(fmt.Errorf("the PKCS#12 file for %q does not decrypt: the passphrase is wrong or the file is damaged (copy it again in binary mode)", name))
	case err != nil:
		return refuse(pkcs12Error(name, data, err))
	}
	signer, ok := key.(crypto.Signer)
	if !ok || first == nil {
		return refuse(fmt.Errorf("the PKCS#12 file for %q holds no usable private key and certificate: export the certificate together with its private key", name))
	}
	ref, err := KeyRef(signer.Public())
	if err != nil {
		return refuse(fmt.Errorf("the PKCS#12 file for %q: %w (use an RSA, ECDSA or Ed25519 key)", name, err))
	}
	certs := append([]*x509.Certificate{first}, cas...)
	leaf, others := pickLeaf(certs, ref)
	if leaf == nil {
		return refuse(fmt.Errorf("key does not sign certificate: the private key in the PKCS#12 file for %q belongs to none of its %d certificates (export the certificate together with its own key)", name, len(certs)))
	}
	c, warnings, err := chainCertificate(name, ref, leaf, others, true)
	if err != nil {
		return refuse(err)
	}
	return parsedPKCS12{signer: signer, cert: c, warnings: warnings}
}

// importCancelled says that the import for name stopped because its session
// went away (cause is the context's error), and that nothing was stored.
func importCancelled(name string, cause error) error {
	return fmt.Errorf("the import of the PKCS#12 file for %q was cancelled (%w): nothing was stored, import it again", name, cause)
}

// pkcs12Error explains why a file did not decode, and how to fix it.
func pkcs12Error(name string, data []byte, err error) error {
	const export = "export it again as .p12/.pfx holding one key and its certificates, e.g. with `openssl pkcs12 -export`"
	var notImpl pkcs12.NotImplementedError
	switch {
	case bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")):
		return fmt.Errorf("the file for %q is PEM text, not a PKCS#12 file: paste the certificate and key with PASTE instead, or %s", name, export)
	case strings.Contains(err.Error(), "private key missing"):
		return fmt.Errorf("the PKCS#12 file for %q holds certificates but no private key: %s", name, export)
	case errors.As(err, &notImpl):
		return fmt.Errorf("the PKCS#12 file for %q uses a layout this box does not read (%v): %s", name, err, export)
	case strings.Contains(err.Error(), "error reading P12 data"):
		return fmt.Errorf("the file for %q is not a PKCS#12 file, or it is damaged (its DER structure does not decode): copy it again in binary mode, or %s", name, export)
	}
	return fmt.Errorf("the file for %q is not a PKCS#12 file this box can read (%v): %s", name, err, export)
}

// decodePKCS12 is pkcs12.DecodeChain, with a panic on a malformed file turned
// into an error: the file comes from outside and must not stop the box.
func decodePKCS12(data []byte, passphrase string) (key any, leaf *x509.Certificate, cas []*x509.Certificate, err error) {
	defer func() {
		if p := recover(); p != nil {
			key, leaf, cas, err = nil, nil, nil, fmt.Errorf("malformed PKCS#12 data (%v)", p)
		}
	}()
	return pkcs12.DecodeChain(data, passphrase)
}

// ExportPKCS12 writes the key, leaf and intermediates of c as a PKCS#12 file
// encrypted with pkcs12.Modern2023 (PBKDF2-SHA-256, AES-256-CBC), which
// OpenSSL 3.0 and current Windows and Java read. An empty passphrase is refused.
func (k *KeyStore) ExportPKCS12(c config.Certificate, passphrase string) ([]byte, error) {
	if passphrase == "" {
		return nil, fmt.Errorf("exporting %q: an empty passphrase is refused because the file holds the private key; choose a passphrase", c.Name)
	}
	certs, err := ParseCertificates(c.PEM)
	if err != nil {
		return nil, fmt.Errorf("exporting %q: %w", c.Name, err)
	}
	key, err := k.Get(c.Key)
	if err != nil {
		return nil, fmt.Errorf("exporting %q: %w", c.Name, err)
	}
	if !keyMatches(key, certs[0]) {
		return nil, fmt.Errorf("exporting %q: the certificate does not match its private key; paste or import it again", c.Name)
	}
	data, err := pkcs12.Modern2023.Encode(key, certs[0], certs[1:], passphrase)
	if err != nil {
		return nil, fmt.Errorf("exporting %q as PKCS#12: %w", c.Name, err)
	}
	return data, nil
}
