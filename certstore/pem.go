package certstore

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
)

// pasteHint tells an administrator what a pasted certificate must look like.
const pasteHint = "paste from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----"

// keyPasteHint tells an administrator what a pasted private key must look like.
const keyPasteHint = "paste from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY-----"

// badCert words a certificate refusal the way certconfig does:
// "Invalid certificate: <reason> (<fix>)...discarding".
func badCert(format string, args ...any) error {
	return fmt.Errorf("Invalid certificate: "+format+"...discarding", args...)
}

// badKey words a private key refusal the way certconfig does.
func badKey(format string, args ...any) error {
	return fmt.Errorf("Invalid private key: "+format+"...discarding", args...)
}

// pemSegment is one "-----BEGIN" section of pasted text: its label and, when
// it decodes, the block.
type pemSegment struct {
	label string
	block *pem.Block
	line  int // the line of its -----BEGIN in the text, from 1
}

// TextError is a refusal of pasted PEM text that knows which of its lines is
// at fault (from 1), so the shell can point there.
type TextError struct {
	Line int
	Err  error
}

func (e *TextError) Error() string { return e.Err.Error() }
func (e *TextError) Unwrap() error { return e.Err }

// TextLine is the line of the text at fault.
func (e *TextError) TextLine() int { return e.Line }

// atLine puts a line on an error.
func atLine(line int, err error) error { return &TextError{Line: line, Err: err} }

// firstTextLine is the first line of text that holds anything.
func firstTextLine(text string) int {
	for i, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) != "" {
			return i + 1
		}
	}
	return 1
}

// splitPEM cuts text at every "-----BEGIN " line and decodes each section on
// its own, so that a damaged or truncated block is reported instead of being
// skipped silently the way pem.Decode skips it. Text outside blocks (such as
// the "subject=" and "Bag Attributes" lines openssl prints) is ignored.
func splitPEM(text string) []pemSegment {
	const begin = "-----BEGIN "
	data := []byte(text)
	var out []pemSegment
	line := 1
	for {
		i := bytes.Index(data, []byte(begin))
		if i < 0 {
			return out
		}
		line += bytes.Count(data[:i], []byte("\n"))
		data = data[i:]
		next := bytes.Index(data[len(begin):], []byte(begin))
		seg := data
		if next >= 0 {
			seg = data[:len(begin)+next]
		}
		label := string(seg[len(begin):])
		if j := strings.IndexAny(label, "\r\n"); j >= 0 {
			label = label[:j]
		}
		label = strings.TrimSuffix(strings.TrimSpace(label), "-----")
		block, _ := pem.Decode(seg)
		out = append(out, pemSegment{label: label, block: block, line: line})
		if next < 0 {
			return out
		}
		line += bytes.Count(data[:len(begin)+next], []byte("\n"))
		data = data[len(begin)+next:]
	}
}

// ParseCertificates reads PEM text holding one or more CERTIFICATE blocks.
// Junk, truncated PEM, a non-CERTIFICATE block, or no block at all gives an
// error saying which and how to fix it. Text around the blocks is ignored.
func ParseCertificates(text string) ([]*x509.Certificate, error) {
	if strings.TrimSpace(text) == "" {
		return nil, badCert("the text is empty (%s)", pasteHint)
	}
	segs := splitPEM(text)
	if len(segs) == 0 {
		return nil, atLine(firstTextLine(text), badCert("the text holds no complete PEM CERTIFICATE block (%s)", pasteHint))
	}
	certs := make([]*x509.Certificate, 0, len(segs))
	for i, s := range segs {
		n := i + 1
		if s.block == nil {
			return nil, atLine(s.line, badCert("PEM block %d (%.40q) is damaged or truncated: its base64 text or its -----END line is missing (%s)", n, s.label, pasteHint))
		}
		if s.block.Type != "CERTIFICATE" {
			return nil, atLine(s.line, badCert("PEM block %d is a %.40q block, not a CERTIFICATE (%s)", n, s.block.Type, wrongBlockHint(s.block.Type)))
		}
		c, err := x509.ParseCertificate(s.block.Bytes)
		if err != nil {
			return nil, atLine(s.line, badCert("PEM block %d is not an X.509 certificate (%v) (paste the certificate exactly as the authority issued it)", n, err))
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// wrongBlockHint says what to do with a PEM block that is not a certificate.
func wrongBlockHint(typ string) string {
	switch {
	case strings.Contains(typ, "PRIVATE KEY"):
		return "that is the private key: paste it at the private key prompt, and only certificates here"
	case typ == "CERTIFICATE REQUEST" || typ == "NEW CERTIFICATE REQUEST":
		return "that is the signing request: paste the certificate the authority signed from it"
	case typ == "PKCS7":
		return "convert it with `openssl pkcs7 -print_certs -in file.p7b` and paste the certificates"
	case typ == "TRUSTED CERTIFICATE":
		return "convert it with `openssl x509 -in file.pem` to drop the trust settings"
	}
	return pasteHint
}

// ParsePrivateKey reads a PEM private key: PKCS#8 ("PRIVATE KEY"), PKCS#1 RSA
// ("RSA PRIVATE KEY") or SEC1 EC ("EC PRIVATE KEY"); an "EC PARAMETERS" block
// before it is ignored. An encrypted key is refused with a request to paste
// the unencrypted key.
func ParsePrivateKey(text string) (crypto.Signer, error) {
	if strings.TrimSpace(text) == "" {
		return nil, badKey("the text is empty (%s)", keyPasteHint)
	}
	var found *pem.Block
	n, line := 0, 0
	for i, s := range splitPEM(text) {
		if s.block == nil {
			return nil, atLine(s.line, badKey("PEM block %d (%.40q) is damaged or truncated: its base64 text or its -----END line is missing (%s)", i+1, s.label, keyPasteHint))
		}
		if s.block.Type == "EC PARAMETERS" {
			continue
		}
		n++
		found, line = s.block, s.line
	}
	switch {
	case n == 0:
		return nil, atLine(firstTextLine(text), badKey("the text holds no complete PEM private key block (%s)", keyPasteHint))
	case n > 1:
		return nil, badKey("the text holds %d PEM blocks; paste exactly one private key (%s)", n, keyPasteHint)
	}
	signer, err := decodeKey(found)
	if err != nil {
		return nil, atLine(line, err)
	}
	return signer, nil
}

// decodeKey turns a private key PEM block into a signer.
func decodeKey(found *pem.Block) (crypto.Signer, error) {
	const decrypt = "the key is encrypted; paste the unencrypted key, made with `openssl pkey -in key.pem -out plain.pem`"
	var (
		key any
		err error
	)
	switch found.Type {
	case "ENCRYPTED PRIVATE KEY":
		return nil, badKey("%s", decrypt)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(found.Bytes)
	case "RSA PRIVATE KEY", "EC PRIVATE KEY":
		if strings.Contains(found.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, badKey("%s", decrypt)
		}
		if found.Type == "RSA PRIVATE KEY" {
			key, err = x509.ParsePKCS1PrivateKey(found.Bytes)
		} else {
			key, err = x509.ParseECPrivateKey(found.Bytes)
		}
	case "CERTIFICATE":
		return nil, badKey("the text is a CERTIFICATE, not a private key (paste the key that was made with the certificate's request)")
	default:
		return nil, badKey("the PEM block is a %.40q block, not a private key (%s)", found.Type, keyPasteHint)
	}
	if err != nil {
		return nil, badKey("the %s block does not decode (%v) (paste the key exactly as written by the tool that made it)", found.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, badKey("a %T key cannot sign (use an RSA, ECDSA or Ed25519 key)", key)
	}
	return signer, nil
}

// encodeChain writes certificates as PEM, in the order given.
func encodeChain(certs []*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return b.String()
}
