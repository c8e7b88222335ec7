package certstore

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRequestRoundTrip makes a request, has openssl check and sign it through
// two intermediates, attaches the signed certificate and has openssl verify
// the stored chain.
func TestRequestRoundTrip(t *testing.T) {
	p := newPKI(t)
	tests := []struct {
		typ     string
		bits    int
		keyType string
	}{
		{"rsa", 2048, "RSA 2048"},
		{"ecdsa", 256, "ECDSA P-256"},
		{"ecdsa", 384, "ECDSA P-384"},
	}
	for _, tt := range tests {
		t.Run(tt.keyType, func(t *testing.T) {
			p := p.with(t)
			ks := newTestKeyStore(t)
			r := Request{
				Name: "mail_cert", CommonName: "mail.example.test", Organization: "Example Corp", Unit: "Mail",
				Locality: "Chiyoda", State: "Tokyo", Country: "jp", Days: 365, KeyType: tt.typ, KeyBits: tt.bits,
				DNSNames: []string{"mx.example.test", "192.0.2.25"},
			}
			c, err := ks.NewRequest(r)
			require.NoError(t, err)
			require.Len(t, keyFiles(t, ks), 1)
			assert.Contains(t, c.CSR, "-----BEGIN CERTIFICATE REQUEST-----")

			// The self-signed certificate is usable at once.
			tc, err := ks.TLSCertificate(c)
			require.NoError(t, err)
			assert.Equal(t, []string{"mail.example.test", "mx.example.test"}, tc.Leaf.DNSNames)
			info, err := Inspect(c)
			require.NoError(t, err)
			assert.True(t, info.Pending)
			assert.True(t, info.SelfSigned)
			assert.Equal(t, tt.keyType, info.KeyType)

			// openssl checks the request's signature and reads the subject and SANs.
			csr := p.write(tt.typ+"-req.csr", c.CSR)
			out := p.ossl("req", "-in", csr, "-verify", "-noout")
			assert.Contains(t, out, "verify OK")
			out = p.ossl("req", "-in", csr, "-noout", "-subject", "-nameopt", "RFC2253")
			assert.Equal(t, "subject=CN=mail.example.test,OU=Mail,O=Example Corp,L=Chiyoda,ST=Tokyo,C=JP", strings.TrimSpace(out))
			out = p.ossl("req", "-in", csr, "-noout", "-text")
			assert.Contains(t, out, "DNS:mail.example.test, DNS:mx.example.test, IP Address:192.0.2.25")
			assert.Contains(t, out, "TLS Web Server Authentication, TLS Web Client Authentication")

			// The authority signs it; the pasted chain is out of order on purpose.
			p.sign(csr, tt.typ+"-signed.pem", "int2", "", "-copy_extensions", "copy")
			before := keyFiles(t, ks)
			signed, warnings, err := ks.AttachSigned(c, p.cat(tt.typ+"-signed.pem", "int1.pem", "int2.pem"))
			require.NoError(t, err)
			assert.Equal(t, before, keyFiles(t, ks), "attaching writes no key")
			assert.Empty(t, signed.CSR)
			assert.Equal(t, c.Key, signed.Key)
			assert.Equal(t, "mail_cert", signed.Name)
			assert.Equal(t, []string{"mail.example.test", "Relaybox Test Int 2", "Relaybox Test Int 1"}, subjects(t, signed.PEM))
			assert.Len(t, warnings, 1)
			assert.Contains(t, warnings[0], "out of order")

			tc, err = ks.TLSCertificate(signed)
			require.NoError(t, err)
			assert.Len(t, tc.Certificate, 3)
			p.verify(signed.PEM)
			info, err = Inspect(signed)
			require.NoError(t, err)
			assert.False(t, info.Pending)
			assert.False(t, info.SelfSigned)
			assert.Equal(t, "Relaybox Test Int 2", info.IssuedBy)
			assert.Equal(t, 3, info.ChainLength)
		})
	}
}

func TestAttachSignedRefusals(t *testing.T) {
	p := newPKI(t)
	ks := newTestKeyStore(t)
	c, err := ks.NewRequest(Request{Name: "pending", CommonName: "mail.example.test", Country: "DE", Days: 30, KeyType: "ecdsa", KeyBits: 256})
	require.NoError(t, err)
	p.leaf("other", "other.example.test", "int2")
	p.write("pending.csr", c.CSR)
	p.sign("pending.csr", "pending.pem", "int2", "")
	p.issue("fake2", "/O=Relaybox Tests/CN=Relaybox Test Int 2", "root", p.path("ca.ext"))
	p.leaf("stranger", "stranger.example.test", "root")

	tests := []struct {
		name, pem, want string
	}{
		{"certificate for another key", p.cat("other.pem", "int2.pem"), "the certificate does not match the request's key: it was not signed for this request"},
		{"junk", "hello", "no complete PEM CERTIFICATE block"},
		{"unrelated extra certificate", p.cat("pending.pem", "int2.pem", "stranger.pem"), "not in the chain of"},
		{"intermediate with the issuer's name but another key", p.cat("pending.pem", "fake2.pem"), "did not sign it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := keyFiles(t, ks)
			_, _, err := ks.AttachSigned(c, tt.pem)
			require.ErrorContains(t, err, tt.want)
			assert.Equal(t, before, keyFiles(t, ks))
		})
	}
	gone := c
	gone.Key = strings.Repeat("0", 64)
	_, _, err = ks.AttachSigned(gone, p.read("pending.pem"))
	require.ErrorContains(t, err, "make a new request")
}

func TestNewRequestRefusals(t *testing.T) {
	ks := newTestKeyStore(t)
	good := Request{Name: "good", CommonName: "mail.example.test", Country: "US", Days: 30, KeyType: "ecdsa", KeyBits: 256}
	tests := []struct {
		name string
		edit func(*Request)
		want string
	}{
		{"empty name", func(r *Request) { r.Name = "" }, "needs a name"},
		{"name starting with a digit", func(r *Request) { r.Name = "1cert" }, `certificate name "1cert" is not allowed`},
		{"name with a space", func(r *Request) { r.Name = "my cert" }, "start with a letter"},
		{"empty CN", func(r *Request) { r.CommonName = "  " }, "needs a Common Name"},
		{"CN too long", func(r *Request) { r.CommonName = strings.Repeat("a", 65) }, "at most 64"},
		{"country of one letter", func(r *Request) { r.Country = "U" }, "Country should be a ISO two character country code"},
		{"country of three letters", func(r *Request) { r.Country = "USA" }, "Country should be a ISO two character country code"},
		{"country with a digit", func(r *Request) { r.Country = "U1" }, "Country should be a ISO two character country code"},
		{"country not ASCII", func(r *Request) { r.Country = "ÜS" }, "Country should be a ISO two character country code"},
		{"empty country", func(r *Request) { r.Country = "" }, "Country should be a ISO two character country code"},
		{"zero days", func(r *Request) { r.Days = 0 }, "too short: use 1 to 36500 days"},
		{"too many days", func(r *Request) { r.Days = 36501 }, "too long: use 1 to 36500 days"},
		{"bad DNS name", func(r *Request) { r.DNSNames = []string{"mail example"} }, `DNS name "mail example" is neither a host name nor an IP address`},
		{"RSA 1024", func(r *Request) { r.KeyType, r.KeyBits = "rsa", 1024 }, "RSA key size 1024 is not offered"},
		{"DSA", func(r *Request) { r.KeyType = "dsa" }, "rsa or ecdsa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.edit(&r)
			_, err := ks.NewRequest(r)
			require.ErrorContains(t, err, tt.want)
			assert.Empty(t, keyFiles(t, ks), "a refused request stores no key")
		})
	}
	c, err := ks.NewRequest(good)
	require.NoError(t, err)
	assert.NotEmpty(t, c.CSR)
	assert.Len(t, keyFiles(t, ks), 1)
}

func TestLooksLikeHost(t *testing.T) {
	tests := []struct {
		cn   string
		want bool
	}{
		{"mail.example.test", true},
		{"*.example.test", true},
		{"localhost", true},
		{"192.0.2.1", true},
		{"2001:db8::1", true},
		{"Relaybox Demo", false},
		{"mailgw", false},
		{"-bad.example.test", false},
		{"a..b", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, looksLikeHost(tt.cn), tt.cn)
	}
}
